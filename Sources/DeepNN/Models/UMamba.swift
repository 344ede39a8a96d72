import DeepCore

// U-Mamba (bowang-lab/U-Mamba, 2-D): an nnU-Net-style residual U-Net with Mamba layers over
// the flattened feature maps, either at the bottleneck only (U-Mamba_Bot) or after encoder
// stages (U-Mamba_Enc). Module and parameter names follow the PyTorch code
// (`encoder.stem`, `encoder.stages.s.b`, `encoder.mamba_layers.s`, `mamba_layer`,
// `decoder.stages`, `decoder.upsample_layers`, `decoder.seg_layers`), except that the blocks'
// `all_modules` aliases are not duplicated.

/// Flattens a feature map into a sequence, normalises it and runs a ``Mamba`` block over it,
/// then restores the map (U-Mamba's `MambaLayer`; no residual around it, as in the original).
///
/// - Pixel tokens: (B, C, H, W) → (B, H·W, C), LayerNorm(C), Mamba(dModel: C) → (B, C, H, W).
/// - Channel tokens (`channelTokens`, for maps with H·W ≤ C): (B, C, H, W) → (B, C, H·W),
///   LayerNorm(H·W), Mamba(dModel: H·W) over the C channels → (B, C, H, W).
public final class MambaLayer: Module {
    /// LayerNorm over the token features.
    public let norm: LayerNorm
    /// The Mamba block.
    public let mamba: Mamba
    /// Whether the channels are the tokens.
    public let channelTokens: Bool

    /// Creates the layer for token features of size `dim` (C, or H·W with channel tokens).
    public init(dim: Int, dState: Int = 16, dConv: Int = 4, expand: Int = 2, channelTokens: Bool = false) {
        norm = LayerNorm(dim)
        mamba = Mamba(dModel: dim, dState: dState, dConv: dConv, expand: expand)
        self.channelTokens = channelTokens
        super.init()
    }

    /// (B, C, H, W) → (B, C, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank >= 3, "MambaLayer: input \(x.shape) is not (B, C, spatial…)") else { return .shapeFailure }
        let tokens = x.flattened(from: 2)                                      // (B, C, T)
        if channelTokens { return mamba(norm(tokens)).reshaped(x.shape) }
        return mamba(norm(tokens.transposed(1, 2))).transposed(1, 2).reshaped(x.shape)
    }
}

/// nnU-Net's residual block with a projected skip (U-Mamba's `BasicResBlock`):
/// act2(norm2(conv2(act1(norm1(conv1(x))))) + conv3(x)), conv1 and the 1×1 conv3 carrying the
/// stride; InstanceNorm (affine) and LeakyReLU(0.01).
final class BasicResBlock: Module {
    let conv1: Conv2d, norm1: InstanceNorm2d, act1: LeakyReLU
    let conv2: Conv2d, norm2: InstanceNorm2d, act2: LeakyReLU
    let conv3: Conv2d

    init(_ cin: Int, _ cout: Int, kernelSize: Int, stride: Int) {
        conv1 = Conv2d(cin, cout, kernelSize: kernelSize, stride: stride, padding: kernelSize / 2)
        norm1 = InstanceNorm2d(cout, eps: 1e-5, affine: true)
        act1 = LeakyReLU(negativeSlope: 0.01)
        conv2 = Conv2d(cout, cout, kernelSize: kernelSize, padding: kernelSize / 2)
        norm2 = InstanceNorm2d(cout, eps: 1e-5, affine: true)
        act2 = LeakyReLU(negativeSlope: 0.01)
        conv3 = Conv2d(cin, cout, kernelSize: 1, stride: stride)
        super.init()
    }

    override func forward(_ x: Tensor) -> Tensor {
        let y = norm2(conv2(act1(norm1(conv1(x)))))
        return act2(y + conv3(x))
    }
}

/// Convolution, instance norm and optionally LeakyReLU (dynamic-network-architectures'
/// `ConvDropoutNormReLU` without dropout): children `conv`, `norm`, `nonlin`.
final class ConvNormActivation: Module {
    let conv: Conv2d, norm: InstanceNorm2d, nonlin: LeakyReLU?

    init(_ channels: Int, kernelSize: Int, bias: Bool, activation: Bool) {
        conv = Conv2d(channels, channels, kernelSize: kernelSize, padding: kernelSize / 2, bias: bias)
        norm = InstanceNorm2d(channels, eps: 1e-5, affine: true)
        nonlin = activation ? LeakyReLU(negativeSlope: 0.01) : nil
        super.init()
    }

    override func forward(_ x: Tensor) -> Tensor {
        let y = norm(conv(x))
        return nonlin.map { $0(y) } ?? y
    }
}

/// ResNet-D basic block at stride 1 and constant width (`BasicBlockD` as U-Mamba uses it):
/// nonlin2(conv2(conv1(x)) + x).
final class BasicBlockD: Module {
    let conv1: ConvNormActivation, conv2: ConvNormActivation, nonlin2: LeakyReLU

    init(_ channels: Int, kernelSize: Int) {
        conv1 = ConvNormActivation(channels, kernelSize: kernelSize, bias: true, activation: true)
        conv2 = ConvNormActivation(channels, kernelSize: kernelSize, bias: true, activation: false)
        nonlin2 = LeakyReLU(negativeSlope: 0.01)
        super.init()
    }

    override func forward(_ x: Tensor) -> Tensor { nonlin2(conv2(conv1(x)) + x) }
}

/// Nearest upsampling by the stage stride, then a 1×1 convolution to the skip's width.
final class UpsampleLayer: Module {
    let conv: Conv2d
    let scale: Int

    init(_ cin: Int, _ cout: Int, scale: Int) {
        conv = Conv2d(cin, cout, kernelSize: 1)
        self.scale = scale
        super.init()
    }

    override func forward(_ x: Tensor) -> Tensor {
        conv(scale == 1 ? x : interpolate(x, scale: Float(scale), mode: .nearest))
    }
}

/// The residual encoder: a stem at full resolution, then stages of one strided `BasicResBlock`
/// and (blocks − 1) `BasicBlockD`, each stage optionally followed by a ``MambaLayer``.
final class UMambaEncoder: Module {
    let stem: Sequential
    let stages: ModuleList
    /// One per stage (Identity where there is none), U-Mamba_Enc only.
    let mambaLayers: ModuleList?

    init(inChannels: Int, features: [Int], strides: [Int], blocks: [Int], kernelSize: Int, mambaLayers: [Module]?) {
        func stage(_ cin: Int, _ cout: Int, stride: Int, blocks: Int) -> Sequential {
            Sequential([BasicResBlock(cin, cout, kernelSize: kernelSize, stride: stride)]
                       + (1..<Swift.max(1, blocks)).map { _ in BasicBlockD(cout, kernelSize: kernelSize) as Module })
        }
        stem = stage(inChannels, features[0], stride: 1, blocks: blocks[0])
        stages = ModuleList(features.indices.map { s in
            stage(s == 0 ? features[0] : features[s - 1], features[s], stride: strides[s], blocks: blocks[s])
        })
        self.mambaLayers = mambaLayers.map { ModuleList($0) }
        super.init()
    }

    /// Every stage's output (after its Mamba layer, if any), highest resolution first.
    func skips(_ x: Tensor) -> [Tensor] {
        var h = stem(x)
        var out: [Tensor] = []
        for (s, stage) in stages.modules.enumerated() {
            h = stage(h)
            if let layers = mambaLayers { h = layers.modules[s](h) }
            out.append(h)
        }
        return out
    }
}

/// The decoder: per stage (lowest resolution first) upsample, concatenate the skip (except at
/// the last stage, as in U-Mamba), residual blocks, and a 1×1 segmentation head.
final class UMambaDecoder: Module {
    let stages: ModuleList
    let upsampleLayers: ModuleList
    let segLayers: ModuleList

    init(features: [Int], strides: [Int], convs: [Int], numClasses: Int, kernelSize: Int) {
        let n = features.count
        var stageModules: [Module] = [], upsample: [Module] = [], heads: [Module] = []
        for s in 1..<n {
            let below = features[n - s], skip = features[n - s - 1]
            upsample.append(UpsampleLayer(below, skip, scale: strides[n - s]))
            let cin = s < n - 1 ? 2 * skip : skip
            stageModules.append(Sequential([BasicResBlock(cin, skip, kernelSize: kernelSize, stride: 1)]
                                           + (1..<Swift.max(1, convs[s - 1])).map { _ in BasicBlockD(skip, kernelSize: kernelSize) as Module }))
            heads.append(Conv2d(skip, numClasses, kernelSize: 1))
        }
        stages = ModuleList(stageModules)
        upsampleLayers = ModuleList(upsample)
        segLayers = ModuleList(heads)
        super.init()
    }

    /// Segmentation logits of every decoder stage, highest resolution first.
    func outputs(_ skips: [Tensor], all: Bool) -> [Tensor] {
        var h = skips[skips.count - 1]
        var seg: [Tensor] = []
        let count = stages.modules.count
        for s in 0..<count {
            h = upsampleLayers.modules[s](h)
            if s < count - 1 { h = Tensor.concatenate([h, skips[skips.count - s - 2]], axis: 1) }
            h = stages.modules[s](h)
            if all || s == count - 1 { seg.append(segLayers.modules[s](h)) }
        }
        return seg.reversed()
    }
}

/// U-Mamba for 2-D segmentation: U-Mamba_Bot (a ``MambaLayer`` on the bottleneck features) or
/// U-Mamba_Enc (a ``MambaLayer`` after encoder stage s when (s odd) XOR (stage count odd), so
/// the last stage always has one; channel tokens where a stage's map has H·W ≤ C).
///
/// As in U-Mamba: encoder stages from ⌈n/2⌉ on have one block and decoder stages
/// ⌈(n−1)/2 + ½⌉ … n−2 one convolution block; InstanceNorm (affine), LeakyReLU(0.01), conv bias;
/// every Conv2d is initialised kaiming-normal with a = 0.01 and zero bias (`InitWeights_He`),
/// the Mamba layers keep their own initialisation.
///
/// Shape: (N, inChannels, H, W) → (N, numClasses, H, W) for H, W divisible by the product of
/// the strides. ``deepSupervisionOutputs(_:)`` returns every decoder stage's logits.
public final class UMamba: Module {
    /// Where the Mamba layers go.
    public enum Variant {
        /// U-Mamba_Bot: one Mamba layer at the bottleneck.
        case bottleneck
        /// U-Mamba_Enc: Mamba layers after alternate encoder stages, the last included.
        case encoder
    }

    let encoder: UMambaEncoder
    /// The bottleneck Mamba layer (U-Mamba_Bot only).
    let mambaLayer: MambaLayer?
    let decoder: UMambaDecoder

    /// Creates the network.
    ///
    /// - Parameters:
    ///   - featuresPerStage: channels per encoder stage, n ≥ 2 stages.
    ///   - strides: downsampling per stage, default 1 then 2s.
    ///   - blocksPerStage: residual blocks per encoder stage before the U-Mamba rule, default 2.
    ///   - decoderBlocksPerStage: blocks per decoder stage (n − 1, lowest resolution first) before
    ///     the U-Mamba rule, default 2.
    ///   - imageSize: (H, W) of the inputs; U-Mamba_Enc needs it to choose channel tokens.
    public init(inChannels: Int, numClasses: Int, variant: Variant = .bottleneck,
                featuresPerStage: [Int] = [32, 64, 128, 256], strides: [Int]? = nil, kernelSize: Int = 3,
                blocksPerStage: [Int]? = nil, decoderBlocksPerStage: [Int]? = nil, imageSize: [Int]? = nil,
                dState: Int = 16, dConv: Int = 4, expand: Int = 2) {
        let n = featuresPerStage.count
        require(n >= 2, "UMamba: needs at least 2 stages, got \(featuresPerStage)")
        let strides = strides ?? [1] + Array(repeating: 2, count: n - 1)
        require(strides.count == n, "UMamba: \(strides.count) strides for \(n) stages")
        let (blocks, decoderBlocks) = UMamba.blockCounts(stages: n, encoder: blocksPerStage, decoder: decoderBlocksPerStage)
        var layers: [Module]? = nil
        if variant == .encoder {
            guard let imageSize, imageSize.count == 2 else { ShapeErrors.stop("UMamba: the encoder variant needs imageSize (H, W)") }
            var size = imageSize
            layers = (0..<n).map { s in
                size = size.map { $0 / strides[s] }
                guard UMamba.hasEncoderMambaLayer(stage: s, stages: n) else { return Identity() }
                let tokens = size[0] * size[1]
                let channelTokens = tokens <= featuresPerStage[s]
                return MambaLayer(dim: channelTokens ? tokens : featuresPerStage[s], dState: dState, dConv: dConv,
                                  expand: expand, channelTokens: channelTokens)
            }
        }
        encoder = UMambaEncoder(inChannels: inChannels, features: featuresPerStage, strides: strides, blocks: blocks,
                                kernelSize: kernelSize, mambaLayers: layers)
        mambaLayer = variant == .bottleneck
            ? MambaLayer(dim: featuresPerStage[n - 1], dState: dState, dConv: dConv, expand: expand) : nil
        decoder = UMambaDecoder(features: featuresPerStage, strides: strides, convs: decoderBlocks, numClasses: numClasses,
                                kernelSize: kernelSize)
        super.init()
        initializeConvolutions(generator: &DefaultRandom.generator)
    }

    /// Blocks per encoder stage and per decoder stage after U-Mamba's rule: encoder stages
    /// ⌈n/2⌉ … n−1 and decoder entries ⌈(n−1)/2 + ½⌉ … n−2 get one block.
    static func blockCounts(stages n: Int, encoder: [Int]?, decoder: [Int]?) -> (encoder: [Int], decoder: [Int]) {
        var blocks = encoder ?? Array(repeating: 2, count: n)
        var decoderBlocks = decoder ?? Array(repeating: 2, count: n - 1)
        require(blocks.count == n && decoderBlocks.count == n - 1,
                "UMamba: \(blocks.count) encoder and \(decoderBlocks.count) decoder block counts for \(n) stages")
        for s in ((n + 1) / 2)..<n { blocks[s] = 1 }
        let first = Int((Double(n - 1) / 2 + 0.5).rounded(.up))
        if first < n - 1 { for s in first..<(n - 1) { decoderBlocks[s] = 1 } }
        return (blocks, decoderBlocks)
    }

    /// Whether U-Mamba_Enc (2-D) puts a Mamba layer after encoder stage `s` of `n`.
    static func hasEncoderMambaLayer(stage s: Int, stages n: Int) -> Bool {
        (s % 2 == 1) != (n % 2 == 1)
    }

    /// `InitWeights_He(1e-2)`: kaiming-normal (a = 0.01) weights and zero bias for every Conv2d.
    private func initializeConvolutions(generator: inout RandomGenerator) {
        for case let conv as Conv2d in namedModules().map(\.1) {
            conv.weight.assign(Initializer.kaimingNormal(conv.weight.shape, nonlinearity: .leakyRelu(negativeSlope: 1e-2),
                                                         generator: &generator))
            conv.bias?.assign(Tensor(zeros: conv.bias!.shape))
        }
    }

    /// (N, inChannels, H, W) → (N, numClasses, H, W): the last decoder stage's logits.
    public override func forward(_ x: Tensor) -> Tensor {
        decoder.outputs(skips(x), all: false)[0]
    }

    /// The logits of every decoder stage, highest resolution first (deep supervision).
    public func deepSupervisionOutputs(_ x: Tensor) -> [Tensor] {
        decoder.outputs(skips(x), all: true)
    }

    private func skips(_ x: Tensor) -> [Tensor] {
        var skips = encoder.skips(x)
        if let mambaLayer { skips[skips.count - 1] = mambaLayer(skips[skips.count - 1]) }
        return skips
    }
}
