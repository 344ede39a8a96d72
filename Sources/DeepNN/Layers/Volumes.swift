import DeepCore

// Layers over volumes (N, C, D, H, W): 3-D pooling, adaptive pooling and normalisation, thin
// shells over DeepCore's ops with PyTorch's names and defaults. (`Upsample` resamples volumes
// through `interpolate`, which hands 5-D input to `interpolate3d`.)

/// `nn.MaxPool3d`: the maximum of each window. Shape: (N, C, D, H, W) → (N, C, D', H', W').
public final class MaxPool3d: Module {
    let kernelSize: [Int], stride: [Int], padding: [Int], dilation: [Int], ceilMode: Bool
    /// Creates the layer; the stride defaults to the kernel size.
    public init(kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0, 0], dilation: [Int] = [1, 1, 1],
                ceilMode: Bool = false) {
        (self.kernelSize, self.stride, self.padding, self.dilation, self.ceilMode) = (kernelSize, stride ?? kernelSize, padding, dilation, ceilMode)
        super.init()
    }
    /// Creates the layer with cubic windows.
    public convenience init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0, dilation: Int = 1, ceilMode: Bool = false) {
        self.init(kernelSize: [kernelSize, kernelSize, kernelSize], stride: stride.map { [$0, $0, $0] },
                  padding: [padding, padding, padding], dilation: [dilation, dilation, dilation], ceilMode: ceilMode)
    }
    public override func forward(_ x: Tensor) -> Tensor {
        maxPool3d(x, kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
    }
}

/// `nn.AvgPool3d`: the mean of each window (padding counted unless `countIncludePad` is false;
/// every sum divided by `divisorOverride` when given). Shape: (N, C, D, H, W) → (N, C, D', H', W').
public final class AvgPool3d: Module {
    let kernelSize: [Int], stride: [Int], padding: [Int], ceilMode: Bool, countIncludePad: Bool, divisorOverride: Int?
    /// Creates the layer; the stride defaults to the kernel size.
    public init(kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0, 0], ceilMode: Bool = false,
                countIncludePad: Bool = true, divisorOverride: Int? = nil) {
        (self.kernelSize, self.stride, self.padding) = (kernelSize, stride ?? kernelSize, padding)
        (self.ceilMode, self.countIncludePad, self.divisorOverride) = (ceilMode, countIncludePad, divisorOverride)
        super.init()
    }
    /// Creates the layer with cubic windows.
    public convenience init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false,
                            countIncludePad: Bool = true, divisorOverride: Int? = nil) {
        self.init(kernelSize: [kernelSize, kernelSize, kernelSize], stride: stride.map { [$0, $0, $0] },
                  padding: [padding, padding, padding], ceilMode: ceilMode, countIncludePad: countIncludePad,
                  divisorOverride: divisorOverride)
    }
    public override func forward(_ x: Tensor) -> Tensor {
        avgPool3d(x, kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode,
                  countIncludePad: countIncludePad, divisorOverride: divisorOverride)
    }
}

/// `nn.AdaptiveAvgPool3d`: averages over PyTorch's adaptive bins to a fixed output size.
/// Shape: (N, C, D, H, W) → (N, C, outD, outH, outW).
public final class AdaptiveAvgPool3d: Module {
    let outputSize: [Int]
    /// Creates the layer.
    public init(_ outputSize: [Int]) {
        self.outputSize = outputSize
        super.init()
    }
    /// Creates the layer with a cubic output.
    public convenience init(_ outputSize: Int) { self.init([outputSize, outputSize, outputSize]) }
    public override func forward(_ x: Tensor) -> Tensor { adaptiveAvgPool3d(x, outputSize: outputSize) }
}

/// `nn.AdaptiveMaxPool3d`: the maximum over PyTorch's adaptive bins.
/// Shape: (N, C, D, H, W) → (N, C, outD, outH, outW).
public final class AdaptiveMaxPool3d: Module {
    let outputSize: [Int]
    /// Creates the layer.
    public init(_ outputSize: [Int]) {
        self.outputSize = outputSize
        super.init()
    }
    /// Creates the layer with a cubic output.
    public convenience init(_ outputSize: Int) { self.init([outputSize, outputSize, outputSize]) }
    public override func forward(_ x: Tensor) -> Tensor { adaptiveMaxPool3d(x, outputSize: outputSize) }
}

/// Batch normalisation of (N, C, D, H, W) (`nn.BatchNorm3d`): each channel normalised over the
/// batch and the volume. State as ``BatchNorm2d``: `weight`, `bias`, `running_mean`,
/// `running_var`, `num_batches_tracked`.
public final class BatchNorm3d: BatchNorm {
    /// Creates the layer for `numFeatures` channels.
    public init(_ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) {
        super.init(numFeatures, eps: eps, momentum: momentum, affine: affine, trackRunningStats: trackRunningStats, ranks: [5])
    }
}

/// Instance normalisation of (N, C, D, H, W) (`nn.InstanceNorm3d`): each sample's channel
/// normalised over its volume; without affine parameters by default, as PyTorch.
public final class InstanceNorm3d: InstanceNorm {
    /// Creates the layer.
    public init(_ numFeatures: Int, eps: Float = 1e-5, affine: Bool = false) {
        super.init(numFeatures, eps: eps, affine: affine, rank: 5, layout: "(N, C, D, H, W)")
    }
}
