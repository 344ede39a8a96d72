// Affine resampling of images as torchvision's `rotate`/`affine` do on tensors: its affine grid
// sampled by PyTorch's `grid_sample` (zeros padding, align_corners false) with its fill mask. The
// loops are in Kernels/AffineKernels.swift. Not differentiable (a data transform).

/// Samples images (…, H, W) through an affine map (torchvision's `_apply_grid_transform` of
/// `_affine_grid`).
///
///     // torchvision's inverse matrix of a rotation by 30° about the centre:
///     let m: [Float] = [cos(a), sin(a), 0, -sin(a), cos(a), 0]   // a = −30° in radians
///     affineWarp(image, matrix: m, size: [13, 17], interpolation: .bilinear)
///
/// - Parameters:
///   - x: (…, H, W), at least 2-D; every leading index is one plane.
///   - matrix: [a, b, c, d, e, f]: output pixel (x, y), measured from the output's centre, reads
///     the input at (a·x + b·y + c, d·x + e·y + f) from the input's centre (torchvision's inverse
///     affine matrix).
///   - size: (H', W').
///   - interpolation: `.nearest` (ties to even) or `.bilinear`.
///   - fill: the value where the map leaves the image, blended by how much of each sample fell
///     outside as torchvision does; nil keeps grid_sample's zeros.
///   - pixels: with `.uint8`, results are rounded (ties to even) as torchvision's uint8 path does.
/// - Returns: (…, H', W').
public func affineWarp(_ x: Tensor, matrix: [Float], size: [Int], interpolation: ResizeInterpolation = .nearest,
                       fill: Float? = 0, pixels: PixelValues = .float) -> Tensor {
    let op = "affineWarp"
    guard shapeCheck(x.rank >= 2, "\(op): x of shape \(x.shape) should be (…, H, W)") else { return .shapeFailure }
    require(matrix.count == 6, "\(op): matrix has \(matrix.count) entries, expected 6")
    require(interpolation == .nearest || interpolation == .bilinear, "\(op): interpolation \(interpolation) should be nearest or bilinear")
    let (height, width) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
    require(size.count == 2 && size.allSatisfy { $0 > 0 } && height > 0 && width > 0,
            "\(op): size \(size) for x of shape \(x.shape) should be two positive sizes of a non-empty image")
    let outputShape = Array(x.shape.dropLast(2)) + size
    let planes = x.shape.dropLast(2).reduce(1, *)
    let taps = interpolation == .nearest ? 1 : 4
    return Tensor.op(op, inputs: [x], shape: outputShape, flops: planes * size[0] * size[1] * 2 * taps) {
        let x = x.contiguous()
        let y = Tensor.uninitialized(outputShape)
        let taps = AffineTaps(matrix: matrix, height: height, width: width, outputHeight: size[0], outputWidth: size[1],
                              nearest: interpolation == .nearest)
        AffineKernel.warp(x.basePointer, planes: planes, planeSize: height * width, taps: taps, fill: fill,
                          bytes: pixels == .uint8, into: y.basePointer)
        return y
    }
}
