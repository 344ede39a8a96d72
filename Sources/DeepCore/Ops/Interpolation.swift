// Resampling of images (PyTorch's `interpolate`): nearest and bilinear. Both are separable; each
// axis is described by its taps (InterpolationAxis) and the loops are in
// Kernels/InterpolationKernels.swift.

/// How ``interpolate(_:size:scale:mode:alignCorners:)`` computes an output pixel.
public enum InterpolationMode {
    /// The input pixel at ⌊dst·in/out⌋ (PyTorch's `"nearest"`).
    case nearest
    /// The two-by-two weighted average around the source position (PyTorch's `"bilinear"`),
    /// for (N, C, H, W) input.
    case bilinear
    /// The two-by-two-by-two weighted average around the source position (PyTorch's
    /// `"trilinear"`), for (N, C, D, H, W) input.
    case trilinear
}

/// Resizes a batch of images (PyTorch's `interpolate` for 4-D input), to `size` or by `scale`;
/// a batch of volumes (5-D input) goes to ``interpolate3d(_:size:scale:mode:alignCorners:)``.
///
///     interpolate(x, scale: 2)                                          // (N, C, H, W) → (N, C, 2H, 2W)
///     interpolate(x, size: [224, 224], mode: .bilinear, alignCorners: true)
///
/// With a scale the output size is ⌊H·scale⌋ × ⌊W·scale⌋ and source positions use 1/scale, as
/// PyTorch does by default (`recompute_scale_factor` unset); with a size they use H/H'.
/// - Parameters:
///   - x: (N, C, H, W).
///   - size: (H', W'); give exactly one of `size` and `scale`.
///   - scale: the same factor for both axes.
///   - mode: `.nearest` (source ⌊dst·H/H'⌋) or `.bilinear`.
///   - alignCorners: bilinear only: map the corner pixel centres onto each other, so source
///     position = dst·(H − 1)/(H' − 1), instead of (dst + ½)·H/H' − ½.
/// - Returns: (N, C, H', W').
public func interpolate(_ x: Tensor, size: [Int]? = nil, scale: Float? = nil, mode: InterpolationMode = .nearest,
                        alignCorners: Bool = false) -> Tensor {
    let op = "interpolate"
    if x.rank == 5 { return interpolate3d(x, size: size, scale: scale, mode: mode, alignCorners: alignCorners) }
    require(mode != .trilinear, "\(op): trilinear mode needs (N, C, D, H, W) input, x is \(x.shape)")
    guard shapeCheck(x.rank == 4, "\(op): x of shape \(x.shape) should be (N, C, H, W)") else { return .shapeFailure }
    require((size == nil) != (scale == nil), "\(op): give exactly one of size (\(String(describing: size))) and scale (\(String(describing: scale)))")
    require(mode == .bilinear || !alignCorners, "\(op): alignCorners applies to bilinear mode only")
    let input = [x.shape[2], x.shape[3]]
    let output = size ?? input.map { Int((Double($0) * Double(scale!)).rounded(.down)) }
    require(output.count == 2 && output.allSatisfy { $0 > 0 } && input.allSatisfy { $0 > 0 },
            "\(op): output size \(output) from x of shape \(x.shape) (size \(String(describing: size)), scale \(String(describing: scale))) is empty or not 2-D")
    // Both axes get the same number of taps, which the kernels rely on.
    let axes = (0..<2).map { a in
        mode == .nearest ? InterpolationAxis(nearestInput: input[a], output: output[a], scale: scale)
                         : InterpolationAxis(linearInput: input[a], output: output[a], scale: scale, alignCorners: alignCorners)
    }
    let (rows, columns) = (axes[0], axes[1])
    let x = x.contiguous()
    let outputShape = [x.shape[0], x.shape[1], output[0], output[1]], inputShape = x.shape
    let planes = x.shape[0] * x.shape[1]
    return Tensor.op(op, inputs: [x], shape: outputShape,
                     export: .resize(mode: mode, alignCorners: alignCorners, scale: scale, outputShape: outputShape)) {
        let y = Tensor.uninitialized(outputShape)
        InterpolationKernel.forward(x.basePointer, planes: planes, height: input[0], width: input[1], rows: rows, columns: columns,
                                    into: y.basePointer)
        return y
    } pullback: { grad, _ in
        let dy = grad.contiguous()
        let dx = Tensor(zeros: inputShape)
        InterpolationKernel.backward(dy.basePointer, planes: planes, height: input[0], width: input[1], rows: rows,
                                     columns: columns, into: dx.basePointer)
        return [dx]
    }
}

extension OpExport {
    /// ONNX `Resize` as PyTorch's `interpolate`: nearest reads ⌊dst / scale⌋ (asymmetric, floor),
    /// bilinear maps pixel centres (`pytorch_half_pixel`) or corners; by the given `scale`, else
    /// to the sizes of `outputShape`.
    static func resize(mode: InterpolationMode, alignCorners: Bool, scale: Float?, outputShape: [Int]) -> OpExport {
        let coordinates = mode == .nearest ? "asymmetric" : (alignCorners ? "align_corners" : "pytorch_half_pixel")
        var attributes: [String: Attribute] = ["mode": .string(mode == .nearest ? "nearest" : "linear"),
                                               "coordinate_transformation_mode": .string(coordinates)]
        if mode == .nearest { attributes["nearest_mode"] = .string("floor") }
        let target: [Value] = scale.map { [.tensor(Tensor([1, 1, $0, $0])), .absent] } ?? [.absent, .shape(outputShape)]
        return OpExport("Resize", inputs: [.input(0), .absent] + target, attributes: attributes)
    }
}
