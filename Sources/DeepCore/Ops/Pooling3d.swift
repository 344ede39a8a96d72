// 3-D pooling ops: max and average over windows of each (N, C) volume, with PyTorch's window
// rules. Sliding windows and adaptive bins are described per axis by a PoolingAxis, as in 2-D
// (Ops/Pooling.swift); the loops are in Kernels/Pooling3dKernels.swift.

/// Checks that `x` is (N, C, D, H, W) or (C, D, H, W) and returns it as (N, C, D, H, W), with a
/// function that gives a result the batch rank of `x` back.
private func batchedVolumes(_ x: Tensor, op: String) -> (Tensor, (Tensor) -> Tensor) {
    guard shapeCheck(x.rank == 5 || x.rank == 4, "\(op): x of shape \(x.shape) should be (N, C, D, H, W) or (C, D, H, W)")
    else { return (Tensor(metaShape: [1, 1, 1, 1, 1]), { _ in .shapeFailure }) }
    return x.rank == 5 ? (x, { $0 }) : (x.unsqueezed(axis: 0), { $0.squeezed(axis: 0) })
}

/// The (N, C, D', H', W') shape of a pooling of (N, C, D, H, W) `shape` over `windows`.
private func pooledShape(_ shape: [Int], _ windows: PoolingVolume) -> [Int] {
    [shape[0], shape[1], windows.depths.outputSize, windows.rows.outputSize, windows.columns.outputSize]
}

/// Max pooling of (N, C, D, H, W) `x` over `windows`; the pullback routes each output gradient
/// to the element that was the maximum.
private func maxPooling3d(_ x: Tensor, windows: PoolingVolume, op: String, export: @autoclosure () -> OpExport?) -> Tensor {
    let x = x.contiguous()
    let (volumes, depth, height, width) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3], x.shape[4])
    let inVolume = depth * height * width, outVolume = windows.outputCount
    require(inVolume <= Int(Int32.max), "\(op): x of shape \(x.shape) has volumes too large for 32-bit indices")
    return indexedMaxPooling(x, outputShape: pooledShape(x.shape, windows), planes: volumes, inputPlane: inVolume,
                             outputPlane: outVolume, op: op, export: export()) { x, y, indices in
        Pooling3dKernel.maxForward(x, volumes: volumes, depth: depth, height: height, width: width, windows: windows,
                                   into: y, indices: indices)
    }
}

/// Average pooling of (N, C, D, H, W) `x` over `windows`, dividing by the window size counted
/// with or without padding, or by `divisorOverride`.
private func averagePooling3d(_ x: Tensor, windows: PoolingVolume, countIncludePad: Bool, divisorOverride: Int?,
                              op: String, export: @autoclosure () -> OpExport?) -> Tensor {
    let x = x.contiguous()
    let (volumes, depth, height, width) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3], x.shape[4])
    let inputShape = x.shape, outputShape = pooledShape(x.shape, windows)
    let scales = windows.averageScales(countIncludePad: countIncludePad, divisorOverride: divisorOverride)
    return Tensor.op(op, inputs: [x], shape: outputShape, export: export()) {
        let y = Tensor.uninitialized(outputShape)
        Pooling3dKernel.averageForward(x.basePointer, volumes: volumes, depth: depth, height: height, width: width,
                                       windows: windows, scales: scales, into: y.basePointer)
        return y
    } pullback: { grad, _ in
        let dy = grad.contiguous()
        let dx = Tensor(zeros: inputShape)
        Pooling3dKernel.averageBackward(dy.basePointer, volumes: volumes, depth: depth, height: height, width: width,
                                        windows: windows, scales: scales, into: dx.basePointer)
        return [dx]
    }
}

/// The sliding windows of a pooling along the trailing `count` axes of a tensor of `shape` (any
/// number of spatial axes: 2-D and 3-D pooling share it); throws a ``ShapeCheckFailure`` naming
/// `op` when the settings do not fit.
func slidingPoolingAxes(_ shape: [Int], count: Int, op: String, kernelSize: [Int], stride: [Int]?, padding: [Int],
                        dilation: [Int], ceilMode: Bool) throws -> [PoolingAxis] {
    let stride = stride ?? kernelSize
    try ShapeCheckFailure.require([kernelSize, stride, padding, dilation].allSatisfy { $0.count == count },
        "\(op): kernelSize \(kernelSize), stride \(stride), padding \(padding) and dilation \(dilation) need \(count) entries each")
    try ShapeCheckFailure.require(kernelSize.allSatisfy { $0 > 0 } && stride.allSatisfy { $0 > 0 } && dilation.allSatisfy { $0 > 0 },
        "\(op): kernelSize \(kernelSize), stride \(stride) and dilation \(dilation) must be positive")
    try ShapeCheckFailure.require((0..<count).allSatisfy { padding[$0] >= 0 && padding[$0] <= kernelSize[$0] / 2 },
        "\(op): padding \(padding) should be at most half of kernelSize \(kernelSize)")
    let size = Array(shape.suffix(count))
    return try (0..<count).map { a -> PoolingAxis in
        let out = ConvGeometry.outputSize(input: size[a], kernel: kernelSize[a], stride: stride[a], padding: padding[a],
                                          dilation: dilation[a], ceilMode: ceilMode)
        try ShapeCheckFailure.require(out > 0, "\(op): kernelSize \(kernelSize) with dilation \(dilation) is larger than the input \(size) padded by \(padding) (x \(shape))")
        return PoolingAxis(input: size[a], output: out, kernel: kernelSize[a], stride: stride[a], padding: padding[a], dilation: dilation[a])
    }
}

/// The sliding windows of a 3-D pooling of an (N, C, D, H, W) tensor of `shape`.
private func slidingVolumeWindows(_ shape: [Int], op: String, kernelSize: [Int], stride: [Int]?, padding: [Int],
                                  dilation: [Int], ceilMode: Bool) throws -> PoolingVolume {
    let axes = try slidingPoolingAxes(shape, count: 3, op: op, kernelSize: kernelSize, stride: stride, padding: padding,
                                      dilation: dilation, ceilMode: ceilMode)
    return PoolingVolume(depths: axes[0], rows: axes[1], columns: axes[2])
}

/// 3-D max pooling (PyTorch's `max_pool3d`): the maximum of each window; the gradient goes to
/// the (first, in (d, h, w) order) maximal element of each window.
///
///     maxPool3d(x, kernelSize: [2, 2, 2])   // (N, C, D, H, W) → (N, C, D/2, H/2, W/2)
///
/// D' = ⌊(D + 2·padding[0] − dilation[0]·(kD − 1) − 1) / stride[0]⌋ + 1 (⌈·⌉ with `ceilMode`,
/// dropping a last window that would start in the padding), likewise H' and W'.
/// - Parameters:
///   - x: (N, C, D, H, W) or (C, D, H, W).
///   - kernelSize: window (kD, kH, kW).
///   - stride: window step, the kernel size when nil.
///   - padding: implicit -∞ on both sides, at most half the kernel.
///   - dilation: spacing of the window taps.
///   - ceilMode: round the output size up, so that a partial last window counts.
/// - Returns: (N, C, D', H', W') or (C, D', H', W').
public func maxPool3d(_ x: Tensor, kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0, 0],
                      dilation: [Int] = [1, 1, 1], ceilMode: Bool = false) -> Tensor {
    let (x5, restore) = batchedVolumes(x, op: "maxPool3d")
    guard let windows = ShapeCheckFailure.checked({
        try slidingVolumeWindows(x5.shape, op: "maxPool3d", kernelSize: kernelSize, stride: stride, padding: padding,
                                 dilation: dilation, ceilMode: ceilMode)
    }) else { return .shapeFailure }
    return restore(maxPooling3d(x5, windows: windows, op: "maxPool3d",
                                export: .pooling("MaxPool", kernelSize: kernelSize, stride: stride, padding: padding,
                                                 ceilMode: ceilMode, extra: ["dilations": .ints(dilation)])))
}

/// 3-D max pooling with cubic windows (see the overload taking `[Int]` triples).
///
///     maxPool3d(x, kernelSize: 2)   // (N, C, D, H, W) → (N, C, D/2, H/2, W/2)
@_disfavoredOverload
public func maxPool3d(_ x: Tensor, kernelSize: Int, stride: Int? = nil, padding: Int = 0, dilation: Int = 1,
                      ceilMode: Bool = false) -> Tensor {
    maxPool3d(x, kernelSize: [Int](repeating: kernelSize, count: 3), stride: stride.map { [$0, $0, $0] },
              padding: [padding, padding, padding], dilation: [dilation, dilation, dilation], ceilMode: ceilMode)
}

/// 3-D average pooling (PyTorch's `avg_pool3d`): the mean of each window.
///
///     avgPool3d(x, kernelSize: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1])   // (N, C, D, H, W) → (N, C, D', H', W')
///
/// Output size as in `maxPool3d`, with dilation 1.
/// - Parameters:
///   - x: (N, C, D, H, W) or (C, D, H, W).
///   - kernelSize: window (kD, kH, kW).
///   - stride: window step, the kernel size when nil.
///   - padding: implicit zeros on both sides, at most half the kernel.
///   - ceilMode: round the output size up, so that a partial last window counts.
///   - countIncludePad: divide by the window size including padding (PyTorch's default), or
///     by the number of input elements in the window.
///   - divisorOverride: divide every window's sum by this instead.
/// - Returns: (N, C, D', H', W') or (C, D', H', W').
public func avgPool3d(_ x: Tensor, kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0, 0],
                      ceilMode: Bool = false, countIncludePad: Bool = true, divisorOverride: Int? = nil) -> Tensor {
    require(divisorOverride.map { $0 != 0 } ?? true, "avgPool3d: divisorOverride must not be zero")
    let (x5, restore) = batchedVolumes(x, op: "avgPool3d")
    guard let windows = ShapeCheckFailure.checked({
        try slidingVolumeWindows(x5.shape, op: "avgPool3d", kernelSize: kernelSize, stride: stride, padding: padding,
                                 dilation: [1, 1, 1], ceilMode: ceilMode)
    }) else { return .shapeFailure }
    return restore(averagePooling3d(x5, windows: windows, countIncludePad: countIncludePad, divisorOverride: divisorOverride,
                                    op: "avgPool3d",
                                    export: .averagePooling(kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode,
                                                            countIncludePad: countIncludePad, divisorOverride: divisorOverride)))
}

/// 3-D average pooling with cubic windows (see the overload taking `[Int]` triples).
///
///     avgPool3d(x, kernelSize: 2)   // (N, C, D, H, W) → (N, C, D/2, H/2, W/2)
@_disfavoredOverload
public func avgPool3d(_ x: Tensor, kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false,
                      countIncludePad: Bool = true, divisorOverride: Int? = nil) -> Tensor {
    avgPool3d(x, kernelSize: [Int](repeating: kernelSize, count: 3), stride: stride.map { [$0, $0, $0] },
              padding: [padding, padding, padding], ceilMode: ceilMode, countIncludePad: countIncludePad,
              divisorOverride: divisorOverride)
}

/// The adaptive bins of a 3-D pooling to `outputSize`, or nil after a failed shape check.
private func adaptiveVolumeWindows(_ x: Tensor, outputSize: [Int], op: String) -> PoolingVolume? {
    guard shapeCheck(outputSize.count == 3 && outputSize.allSatisfy { $0 > 0 },
                     "\(op): outputSize \(outputSize) should be three positive sizes (x \(x.shape))") else { return nil }
    let size = Array(x.shape.suffix(3))
    guard shapeCheck(size.allSatisfy { $0 > 0 }, "\(op): x of shape \(x.shape) has an empty volume") else { return nil }
    let axes = (0..<3).map { PoolingAxis(adaptiveInput: size[$0], output: outputSize[$0]) }
    return PoolingVolume(depths: axes[0], rows: axes[1], columns: axes[2])
}

/// Adaptive 3-D average pooling (PyTorch's `adaptive_avg_pool3d`): the mean over bins that
/// split the volume into `outputSize` parts; bin i along an axis of size n covers
/// ⌊i·n/out⌋ ..< ⌈(i+1)·n/out⌉.
///
///     adaptiveAvgPool3d(x, outputSize: [1, 1, 1])   // (N, C, D, H, W) → (N, C, 1, 1, 1), global average
/// - Parameters:
///   - x: (N, C, D, H, W) or (C, D, H, W).
///   - outputSize: (D', H', W').
/// - Returns: (N, C, D', H', W') or (C, D', H', W').
public func adaptiveAvgPool3d(_ x: Tensor, outputSize: [Int]) -> Tensor {
    let (x5, restore) = batchedVolumes(x, op: "adaptiveAvgPool3d")
    guard let windows = adaptiveVolumeWindows(x5, outputSize: outputSize, op: "adaptiveAvgPool3d") else { return .shapeFailure }
    return restore(averagePooling3d(x5, windows: windows, countIncludePad: false, divisorOverride: nil, op: "adaptiveAvgPool3d",
                                    export: .adaptiveVolumePooling("AveragePool", input: x5.shape, outputSize: outputSize)))
}

/// Adaptive 3-D average pooling to a cube `outputSize` × `outputSize` × `outputSize`.
public func adaptiveAvgPool3d(_ x: Tensor, outputSize: Int) -> Tensor {
    adaptiveAvgPool3d(x, outputSize: [outputSize, outputSize, outputSize])
}

/// Adaptive 3-D max pooling (PyTorch's `adaptive_max_pool3d`): the maximum over the bins of
/// `adaptiveAvgPool3d`; the gradient goes to the (first) maximal element.
///
///     adaptiveMaxPool3d(x, outputSize: [2, 3, 4])   // (N, C, D, H, W) → (N, C, 2, 3, 4)
/// - Parameters:
///   - x: (N, C, D, H, W) or (C, D, H, W).
///   - outputSize: (D', H', W').
/// - Returns: (N, C, D', H', W') or (C, D', H', W').
public func adaptiveMaxPool3d(_ x: Tensor, outputSize: [Int]) -> Tensor {
    let (x5, restore) = batchedVolumes(x, op: "adaptiveMaxPool3d")
    guard let windows = adaptiveVolumeWindows(x5, outputSize: outputSize, op: "adaptiveMaxPool3d") else { return .shapeFailure }
    return restore(maxPooling3d(x5, windows: windows, op: "adaptiveMaxPool3d",
                                export: .adaptiveVolumePooling("MaxPool", input: x5.shape, outputSize: outputSize)))
}

/// Adaptive 3-D max pooling to a cube `outputSize` × `outputSize` × `outputSize`.
public func adaptiveMaxPool3d(_ x: Tensor, outputSize: Int) -> Tensor {
    adaptiveMaxPool3d(x, outputSize: [outputSize, outputSize, outputSize])
}

extension OpExport {
    /// An ONNX `AveragePool` with PyTorch's window settings (any number of spatial axes); nil
    /// (not exportable) with a divisor override, which ONNX lacks.
    static func averagePooling(kernelSize: [Int], stride: [Int]?, padding: [Int], ceilMode: Bool, countIncludePad: Bool,
                               divisorOverride: Int?) -> OpExport? {
        guard divisorOverride == nil else { return nil }
        return .pooling("AveragePool", kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode,
                        extra: ["count_include_pad": .int(countIncludePad ? 1 : 0)])
    }

    /// Adaptive pooling of an (N, C, D, H, W) `input` as global pooling (output 1×1×1) or as
    /// fixed windows when each output size divides the input's; nil (not exportable) otherwise.
    static func adaptiveVolumePooling(_ opType: String, input: [Int], outputSize: [Int]) -> OpExport? {
        let size = Array(input.suffix(3))
        if outputSize == [1, 1, 1] { return OpExport("Global" + opType) }
        guard (0..<3).allSatisfy({ size[$0] % outputSize[$0] == 0 }) else { return nil }
        let window = (0..<3).map { size[$0] / outputSize[$0] }
        return .pooling(opType, kernelSize: window, stride: window, padding: [0, 0, 0], ceilMode: false,
                        extra: opType == "MaxPool" ? [:] : ["count_include_pad": .int(0)])
    }
}
