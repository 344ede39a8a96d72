// Resampling of volumes (PyTorch's `interpolate` for 5-D input): nearest and trilinear, each axis
// described by its taps (InterpolationAxis, as in 2-D); the loops are in
// Kernels/Interpolation3dKernels.swift.

/// Resizes a batch of volumes (PyTorch's `interpolate` for 5-D input), to `size` or by `scale`.
///
///     interpolate3d(x, scale: 2)                                      // (N, C, D, H, W) → (N, C, 2D, 2H, 2W)
///     interpolate3d(x, size: [8, 16, 16], mode: .trilinear, alignCorners: true)
///
/// With a scale the output size is ⌊D·scale⌋ × ⌊H·scale⌋ × ⌊W·scale⌋ and source positions use
/// 1/scale, as PyTorch does by default (`recompute_scale_factor` unset); with a size they use
/// D/D' (and H/H', W/W').
/// - Parameters:
///   - x: (N, C, D, H, W).
///   - size: (D', H', W'); give exactly one of `size` and `scale`.
///   - scale: the same factor for the three axes.
///   - mode: `.nearest` (source ⌊dst·D/D'⌋, PyTorch's legacy `"nearest"`) or a linear mode,
///     which on volumes is PyTorch's `"trilinear"`: the weighted average of the 2×2×2 inputs
///     around the source position.
///   - alignCorners: linear only: map the corner voxel centres onto each other, so source
///     position = dst·(D − 1)/(D' − 1), instead of (dst + ½)·D/D' − ½ (clamped at 0).
/// - Returns: (N, C, D', H', W').
public func interpolate3d(_ x: Tensor, size: [Int]? = nil, scale: Float? = nil, mode: InterpolationMode = .nearest,
                          alignCorners: Bool = false) -> Tensor {
    let op = "interpolate"
    guard shapeCheck(x.rank == 5, "\(op): x of shape \(x.shape) should be (N, C, D, H, W)") else { return .shapeFailure }
    require((size == nil) != (scale == nil), "\(op): give exactly one of size (\(String(describing: size))) and scale (\(String(describing: scale)))")
    require(mode != .bilinear, "\(op): bilinear mode needs (N, C, H, W) input, x is \(x.shape); use .trilinear")
    let linear = mode == .trilinear
    require(linear || !alignCorners, "\(op): alignCorners applies to trilinear mode only")
    let input = Array(x.shape.suffix(3))
    let output = size ?? input.map { Int((Double($0) * Double(scale!)).rounded(.down)) }
    guard shapeCheck(output.count == 3 && output.allSatisfy { $0 > 0 } && input.allSatisfy { $0 > 0 },
                     "\(op): output size \(output) from x of shape \(x.shape) (size \(String(describing: size)), scale \(String(describing: scale))) is empty or not 3-D")
    else { return .shapeFailure }
    // The three axes get the same number of taps, which the kernels rely on.
    let taps = (0..<3).map { a in
        linear ? InterpolationAxis(linearInput: input[a], output: output[a], scale: scale, alignCorners: alignCorners)
               : InterpolationAxis(nearestInput: input[a], output: output[a], scale: scale)
    }
    let axes = InterpolationVolume(depths: taps[0], rows: taps[1], columns: taps[2])
    let x = x.contiguous()
    let outputShape = [x.shape[0], x.shape[1]] + output, inputShape = x.shape
    let volumes = x.shape[0] * x.shape[1]
    // ONNX's Resize takes a 4-entry scale in the 2-D export; sizes say the same exactly when the
    // scale gives whole output sizes (or when a size was given).
    let exactSizes = scale.map { s in input.allSatisfy { Double($0) * Double(s) == Double(Int(Double($0) * Double(s))) } } ?? true
    return Tensor.op(op, inputs: [x], shape: outputShape,
                     export: exactSizes ? .resize(mode: mode, alignCorners: alignCorners, scale: nil, outputShape: outputShape) : nil) {
        let y = Tensor.uninitialized(outputShape)
        Interpolation3dKernel.forward(x.basePointer, volumes: volumes, depth: input[0], height: input[1], width: input[2],
                                      axes: axes, into: y.basePointer)
        return y
    } pullback: { grad, _ in
        let dy = grad.contiguous()
        let dx = Tensor(zeros: inputShape)
        Interpolation3dKernel.backward(dy.basePointer, volumes: volumes, depth: input[0], height: input[1], width: input[2],
                                       axes: axes, into: dx.basePointer)
        return [dx]
    }
}
