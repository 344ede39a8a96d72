import DeepCore

// Multi-branch and multi-scale blocks: the GoogLeNet Inception block and a feature pyramid
// neck (FPN), with torchvision's layouts and parameter names so its weights load unchanged.

/// Convolution without bias, batch normalisation (eps 0.001) and ReLU: torchvision GoogLeNet's
/// `BasicConv2d`, with children `conv` and `bn`.
/// Shape: (N, in, H, W) → (N, out, H', W').
public final class BasicConv2d: Module {
    /// The convolution (no bias).
    public let conv: Conv2d
    /// The normalisation (eps 0.001).
    public let bn: BatchNorm2d

    /// Creates the unit.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0) {
        conv = Conv2d(inChannels, outChannels, kernelSize: kernelSize, stride: stride, padding: padding, bias: false)
        bn = BatchNorm2d(outChannels, eps: 1e-3)
        super.init()
    }

    /// relu(bn(conv(x))).
    public override func forward(_ x: Tensor) -> Tensor { relu(bn(conv(x))) }
}

/// The Inception block of GoogLeNet (torchvision's `Inception`): four branches on the same input,
/// concatenated along the channels:
/// - `branch1`: 1×1 conv;
/// - `branch2`: 1×1 reduction, then 3×3 conv;
/// - `branch3`: 1×1 reduction, then a `branch3KernelSize` conv (3, as torchvision builds it, so its
///   weights load; the paper's 5×5 with `branch3KernelSize: 5`);
/// - `branch4`: 3×3 max pool (stride 1, padding 1, ceil mode), then 1×1 projection.
///
/// Every conv is a ``BasicConv2d`` (conv without bias, BN eps 0.001, ReLU); names are
/// torchvision's (`branch2.1.conv.weight`, …).
/// Shape: (N, inChannels, H, W) → (N, ch1x1 + ch3x3 + ch5x5 + poolProj, H, W).
public final class Inception: Module {
    /// 1×1 branch.
    @Child public var branch1: Module
    /// 1×1 → 3×3 branch.
    @Child public var branch2: Module
    /// 1×1 → 3×3 (or 5×5) branch.
    @Child public var branch3: Module
    /// Max pool → 1×1 branch.
    @Child public var branch4: Module

    /// Creates the block with torchvision's argument order.
    public init(inChannels: Int, ch1x1: Int, ch3x3Reduce: Int, ch3x3: Int, ch5x5Reduce: Int, ch5x5: Int, poolProj: Int,
                branch3KernelSize: Int = 3) {
        _branch1 = Child(wrappedValue: BasicConv2d(inChannels, ch1x1, kernelSize: 1))
        _branch2 = Child(wrappedValue: Sequential(BasicConv2d(inChannels, ch3x3Reduce, kernelSize: 1),
                                                  BasicConv2d(ch3x3Reduce, ch3x3, kernelSize: 3, padding: 1)))
        _branch3 = Child(wrappedValue: Sequential(BasicConv2d(inChannels, ch5x5Reduce, kernelSize: 1),
                                                  BasicConv2d(ch5x5Reduce, ch5x5, kernelSize: branch3KernelSize,
                                                              padding: branch3KernelSize / 2)))
        _branch4 = Child(wrappedValue: Sequential(MaxPool2d(3, stride: 1, padding: 1, ceilMode: true),
                                                  BasicConv2d(inChannels, poolProj, kernelSize: 1)))
        super.init()
    }

    /// (N, C, H, W) → the four branches concatenated along the channels.
    public override func forward(_ x: Tensor) -> Tensor {
        Tensor.concatenate([branch1(x), branch2(x), branch3(x), branch4(x)], axis: 1)
    }
}

/// A feature pyramid network neck (Lin et al. 2017; torchvision's `FeaturePyramidNetwork`):
/// lateral 1×1 convs bring each backbone level to `outChannels`; from the coarsest level down,
/// Pᵢ = lateralᵢ(Cᵢ) + nearest-upsample(Pᵢ₊₁ before smoothing, to Cᵢ's size); a 3×3 conv
/// smooths each level.
///
/// Parameters (torchvision's names): `inner_blocks.i.0` (1×1 conv, Cᵢ → out) and
/// `layer_blocks.i.0` (3×3 conv, out → out), weights kaiming-uniform with a = 1, biases zero.
///
///     let fpn = FPN(inChannels: [64, 128, 256], outChannels: 96)
///     let pyramid = fpn([c3, c4, c5])   // finest first; each (N, 96, Hᵢ, Wᵢ)
public final class FPN: Module {
    /// Lateral 1×1 convolutions, finest level first.
    public let innerBlocks: ModuleList
    /// Smoothing 3×3 convolutions, finest level first.
    public let layerBlocks: ModuleList
    /// Whether a last level is added by 1×1 max pooling with stride 2 of the coarsest output
    /// (torchvision's `LastLevelMaxPool`).
    public let lastLevelMaxPool: Bool

    /// Creates the neck for backbone levels with `inChannels` channels, finest first.
    public init(inChannels: [Int], outChannels: Int, lastLevelMaxPool: Bool = false) {
        require(!inChannels.isEmpty && inChannels.allSatisfy { $0 > 0 },
                "FPN: inChannels \(inChannels) should list at least one positive channel count")
        func conv(_ cin: Int, _ k: Int) -> Module {
            let c = Conv2d(cin, outChannels, kernelSize: k, padding: k / 2)
            c.weight.assign(Initializer.kaimingUniform(c.weight.shape, nonlinearity: .leakyRelu(negativeSlope: 1),
                                                       generator: &DefaultRandom.generator))
            c.bias?.assign(Tensor(zeros: [outChannels]))
            return Sequential(c)
        }
        innerBlocks = ModuleList(inChannels.map { conv($0, 1) })
        layerBlocks = ModuleList(inChannels.map { _ in conv(outChannels, 3) })
        self.lastLevelMaxPool = lastLevelMaxPool
        super.init()
    }

    /// The pyramid of `features`, finest level first, one output per input level (plus the pooled
    /// level with `lastLevelMaxPool`).
    /// - Parameter features: backbone levels (N, Cᵢ, Hᵢ, Wᵢ), finest first, Cᵢ = `inChannels[i]`.
    /// - Returns: (N, outChannels, Hᵢ, Wᵢ) for each level.
    public func callAsFunction(_ features: [Tensor]) -> [Tensor] {
        traced(inputs: features) { pyramid(features) }
    }

    /// The computation of the call.
    private func pyramid(_ features: [Tensor]) -> [Tensor] {
        let levels = innerBlocks.count
        guard shapeCheck(features.count == levels,
                         "FPN: \(features.count) feature maps of shapes \(features.map(\.shape)) for \(levels) levels")
        else { return [.shapeFailure] }
        var lastInner = innerBlocks[levels - 1](features[levels - 1])
        var results = [layerBlocks[levels - 1](lastInner)]
        for i in stride(from: levels - 2, through: 0, by: -1) {
            let lateral = innerBlocks[i](features[i])
            guard shapeCheck(lateral.rank == 4, "FPN: level \(i) of shape \(features[i].shape) should be (N, C, H, W)")
            else { return [.shapeFailure] }
            lastInner = lateral + interpolate(lastInner, size: Array(lateral.shape[2...]), mode: .nearest)
            results.insert(layerBlocks[i](lastInner), at: 0)
        }
        if lastLevelMaxPool, let coarsest = results.last {
            results.append(maxPool2d(coarsest, kernelSize: 1, stride: 2))
        }
        return results
    }
}

/// Fills `weight` with normal samples of standard deviation `std` redrawn until they lie in
/// [−2, 2] (timm's `trunc_normal_(std=std)`), and `bias` with zeros: the initialisation of the
/// transformer-style blocks (iFormer, CFPNet's MLP).
func initializeTruncatedNormal(_ weight: Tensor, _ bias: Tensor?, std: Float) {
    weight.assign(Initializer.truncatedNormal(weight.shape, std: std, generator: &DefaultRandom.generator))
    if let bias { bias.assign(Tensor(zeros: bias.shape)) }
}
