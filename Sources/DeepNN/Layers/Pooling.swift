import DeepCore

/// `nn.MaxPool2d`: the maximum of each window. Shape: (N, C, H, W) → (N, C, H', W').
public final class MaxPool2d: Module {
    let kernelSize: [Int], stride: [Int], padding: [Int], dilation: [Int], ceilMode: Bool
    /// Creates the layer; the stride defaults to the kernel size.
    public init(kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0], dilation: [Int] = [1, 1], ceilMode: Bool = false) {
        (self.kernelSize, self.stride, self.padding, self.dilation, self.ceilMode) = (kernelSize, stride ?? kernelSize, padding, dilation, ceilMode)
        super.init()
    }
    /// Creates the layer with square windows.
    public convenience init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0, dilation: Int = 1, ceilMode: Bool = false) {
        self.init(kernelSize: [kernelSize, kernelSize], stride: stride.map { [$0, $0] }, padding: [padding, padding],
                  dilation: [dilation, dilation], ceilMode: ceilMode)
    }
    public override func forward(_ x: Tensor) -> Tensor {
        maxPool2d(x, kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
    }
}

/// `nn.AvgPool2d`: the mean of each window (padding counted unless `countIncludePad` is false).
/// Shape: (N, C, H, W) → (N, C, H', W').
public final class AvgPool2d: Module {
    let kernelSize: [Int], stride: [Int], padding: [Int], ceilMode: Bool, countIncludePad: Bool
    /// Creates the layer; the stride defaults to the kernel size.
    public init(kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0], ceilMode: Bool = false, countIncludePad: Bool = true) {
        (self.kernelSize, self.stride, self.padding, self.ceilMode, self.countIncludePad) = (kernelSize, stride ?? kernelSize, padding, ceilMode, countIncludePad)
        super.init()
    }
    /// Creates the layer with square windows.
    public convenience init(_ kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
        self.init(kernelSize: [kernelSize, kernelSize], stride: stride.map { [$0, $0] }, padding: [padding, padding],
                  ceilMode: ceilMode, countIncludePad: countIncludePad)
    }
    public override func forward(_ x: Tensor) -> Tensor {
        avgPool2d(x, kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad)
    }
}

/// `nn.AdaptiveAvgPool2d`: averages over PyTorch's adaptive bins to a fixed output size.
/// Shape: (N, C, H, W) → (N, C, outH, outW).
public final class AdaptiveAvgPool2d: Module {
    let outputSize: [Int]
    /// Creates the layer.
    public init(_ outputSize: [Int]) {
        self.outputSize = outputSize
        super.init()
    }
    /// Creates the layer with a square output.
    public convenience init(_ outputSize: Int) { self.init([outputSize, outputSize]) }
    public override func forward(_ x: Tensor) -> Tensor { adaptiveAvgPool2d(x, outputSize: outputSize) }
}

/// `nn.AdaptiveMaxPool2d`. Shape: (N, C, H, W) → (N, C, outH, outW).
public final class AdaptiveMaxPool2d: Module {
    let outputSize: [Int]
    /// Creates the layer.
    public init(_ outputSize: [Int]) {
        self.outputSize = outputSize
        super.init()
    }
    /// Creates the layer with a square output.
    public convenience init(_ outputSize: Int) { self.init([outputSize, outputSize]) }
    public override func forward(_ x: Tensor) -> Tensor { adaptiveMaxPool2d(x, outputSize: outputSize) }
}

/// `nn.Upsample`: nearest, bilinear or trilinear resampling by a scale factor or to a size.
/// Shape: (N, C, H, W) → (N, C, H', W'), or (N, C, D, H, W) → (N, C, D', H', W') (nearest or trilinear).
public final class Upsample: Module {
    let size: [Int]?, scale: Float?, mode: InterpolationMode, alignCorners: Bool
    /// Creates the layer; give exactly one of `size` and `scale`.
    public init(size: [Int]? = nil, scale: Float? = nil, mode: InterpolationMode = .nearest, alignCorners: Bool = false) {
        require((size == nil) != (scale == nil), "Upsample: give exactly one of size and scale")
        (self.size, self.scale, self.mode, self.alignCorners) = (size, scale, mode, alignCorners)
        super.init()
    }
    public override func forward(_ x: Tensor) -> Tensor {
        interpolate(x, size: size, scale: scale, mode: mode, alignCorners: alignCorners)
    }
}
