// Image resizing as torchvision's `transforms.v2.functional.resize` does it on tensors: nearest,
// nearest-exact, bilinear and bicubic, with PyTorch's antialiased kernels when asked; the loops
// are in Kernels/ResizeKernels.swift. Not differentiable (a data transform).

/// How ``resize(_:size:interpolation:antialias:pixels:)`` computes an output pixel
/// (torchvision's `InterpolationMode`).
public enum ResizeInterpolation: Sendable {
    /// The input pixel at ⌊o·in/out⌋ (`NEAREST`).
    case nearest
    /// The input pixel at ⌊(o + ½)·in/out⌋ (`NEAREST_EXACT`).
    case nearestExact
    /// Linear along each axis (`BILINEAR`).
    case bilinear
    /// Cubic convolution along each axis, a = −0.75 (`BICUBIC`; the antialiased kernel uses
    /// a = −0.5, as PyTorch's does).
    case bicubic
}

/// What an image's values stand for, which decides how torchvision computes on them: its dtype.
/// Tensors here hold Floats; `.uint8` marks values 0…255 that torchvision would hold as `uint8`,
/// so results are rounded and clamped as its uint8 path does.
public enum PixelValues: Sendable {
    /// Floating-point values (typically 0…1), kept as computed.
    case float
    /// Whole numbers 0…255 (torchvision's `uint8` images).
    case uint8

    /// The largest value of a pixel: 1 for floats, 255 for bytes (torchvision's `_max_value`).
    public var maxValue: Float { self == .uint8 ? 255 : 1 }
}

/// Resizes images to `size` = (H', W') as torchvision's `resize` does on tensors (with PyTorch's
/// `interpolate`, align_corners false).
///
///     resize(image, size: [224, 224])                                      // (3, H, W) → (3, 224, 224)
///     resize(batch, size: [64, 48], interpolation: .nearest)               // (N, C, H, W) → (N, C, 64, 48)
///     resize(bytes, size: [32, 32], interpolation: .bicubic, pixels: .uint8)
///
/// - Parameters:
///   - x: (…, H, W), at least 2-D; every leading index is one plane.
///   - size: (H', W').
///   - interpolation: see ``ResizeInterpolation``.
///   - antialias: bilinear and bicubic only (ignored otherwise, as torchvision does): use PyTorch's
///     antialiased kernels (`_upsample_bilinear2d_aa`, `_upsample_bicubic2d_aa`), whose filter is
///     widened by in/out when down-scaling. torchvision's default is true.
///   - pixels: with `.uint8`, each separable pass rounds and clamps to 0…255, as PyTorch's uint8
///     kernels do (within 1 of them).
/// - Returns: (…, H', W'); `x` itself when the size is unchanged.
public func resize(_ x: Tensor, size: [Int], interpolation: ResizeInterpolation = .bilinear, antialias: Bool = true,
                   pixels: PixelValues = .float) -> Tensor {
    let op = "resize"
    guard shapeCheck(x.rank >= 2, "\(op): x of shape \(x.shape) should be (…, H, W)") else { return .shapeFailure }
    let (height, width) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
    require(size.count == 2 && size.allSatisfy { $0 > 0 } && height > 0 && width > 0,
            "\(op): size \(size) for x of shape \(x.shape) should be two positive sizes of a non-empty image")
    if size == [height, width] { return x }
    let outputShape = Array(x.shape.dropLast(2)) + size
    let planes = x.shape.dropLast(2).reduce(1, *)
    let rows = height == size[0] ? nil : resampleAxis(input: height, output: size[0], interpolation, antialias: antialias)
    let columns = width == size[1] ? nil : resampleAxis(input: width, output: size[1], interpolation, antialias: antialias)
    let flops = planes * 2 * (height * size[1] * (columns?.taps ?? 0) + size[0] * size[1] * (rows?.taps ?? 0))
    return Tensor.op(op, inputs: [x], shape: outputShape, flops: flops) {
        let x = x.contiguous()
        let y = Tensor.uninitialized(outputShape)
        ResampleKernel.resample(x.basePointer, planes: planes, height: height, width: width, rows: rows, columns: columns,
                                bytes: pixels == .uint8, into: y.basePointer)
        return y
    }
}

/// The taps of one axis for `interpolation`.
private func resampleAxis(input: Int, output: Int, _ interpolation: ResizeInterpolation, antialias: Bool) -> ResampleAxis {
    switch interpolation {
    case .nearest: return ResampleAxis(nearestInput: input, output: output, exact: false)
    case .nearestExact: return ResampleAxis(nearestInput: input, output: output, exact: true)
    case .bilinear:
        return antialias ? ResampleAxis(antialiasedInput: input, output: output, cubic: false)
                         : ResampleAxis(linearInput: input, output: output)
    case .bicubic:
        return antialias ? ResampleAxis(antialiasedInput: input, output: output, cubic: true)
                         : ResampleAxis(cubicInput: input, output: output)
    }
}
