// Pooling ops: max and average over windows of each (N, C) plane, with PyTorch's window rules.
// Sliding windows and adaptive bins are both described per axis by a PoolingAxis; the loops are
// in Kernels/PoolingKernels.swift.

/// Checks that `x` is (N, C, H, W) or (C, H, W) and returns it as (N, C, H, W), with a function
/// that gives a result the batch rank of `x` back.
private func batched(_ x: Tensor, op: String) -> (Tensor, (Tensor) -> Tensor) {
    guard shapeCheck(x.rank == 4 || x.rank == 3, "\(op): x of shape \(x.shape) should be (N, C, H, W) or (C, H, W)")
    else { return (Tensor(metaShape: [1, 1, 1, 1]), { _ in .shapeFailure }) }
    return x.rank == 4 ? (x, { $0 }) : (x.unsqueezed(axis: 0), { $0.squeezed(axis: 0) })
}

/// Max pooling of (N, C, H, W) `x` over the windows `rows` × `columns`; the pullback routes each
/// output gradient to the element that was the maximum.
private func maxPooling(_ x: Tensor, rows: PoolingAxis, columns: PoolingAxis, op: String,
                        export: @autoclosure () -> OpExport?) -> Tensor {
    let x = x.contiguous()
    let (planes, height, width) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
    let inPlane = height * width, outPlane = rows.outputSize * columns.outputSize
    return indexedMaxPooling(x, outputShape: [x.shape[0], x.shape[1], rows.outputSize, columns.outputSize], planes: planes,
                             inputPlane: inPlane, outputPlane: outPlane, op: op, export: export()) { x, y, indices in
        PoolingKernel.maxForward(x, planes: planes, height: height, width: width, rows: rows, columns: columns, into: y, indices: indices)
    }
}

/// The max-pooling op of a contiguous `x` of `planes` (N·C) planes or volumes, `inputPlane`
/// elements each, to `outputShape` (`outputPlane` elements per plane): `forward(x, y, indices)`
/// writes the maxima and, when `indices` is given, each one's position in its input plane —
/// asked for only when a pullback will run, which then routes each output gradient there.
func indexedMaxPooling(_ x: Tensor, outputShape: [Int], planes: Int, inputPlane: Int, outputPlane: Int, op: String,
                       export: @autoclosure () -> OpExport?,
                       forward: @escaping (UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>?) -> Void)
    -> Tensor {
    let recording = GradMode.isEnabled && x.requiresGrad
    let inputShape = x.shape
    return Tensor.op(op, inputs: [x], shape: outputShape, export: export()) {
        let y = Tensor.uninitialized(outputShape)
        // The kernel writes the index of every output (no zeroing first).
        let indices = [Int32](unsafeUninitializedCapacity: recording ? planes * outputPlane : 0) { idx, count in
            forward(x.basePointer, y.basePointer, recording ? idx.baseAddress : nil)
            count = idx.count
        }
        return (y, indices)
    } pullback: { grad, _, indices in
        let dy = grad.contiguous()
        guard !indices.isEmpty else { return [Tensor(zeros: inputShape)] }   // an empty output
        let dx = Tensor.uninitialized(inputShape)
        indices.withUnsafeBufferPointer { idx in
            PoolingKernel.maxBackward(dy.basePointer, indices: idx.baseAddress!, planes: planes, inputPlane: inputPlane,
                                      outputPlane: outputPlane, into: dx.basePointer)
        }
        return [dx]
    }
}

/// Average pooling of (N, C, H, W) `x` over the windows `rows` × `columns`, dividing by the
/// window size counted with or without padding, or by `divisorOverride`.
private func averagePooling(_ x: Tensor, rows: PoolingAxis, columns: PoolingAxis, countIncludePad: Bool,
                            divisorOverride: Int?, op: String, export: @autoclosure () -> OpExport?) -> Tensor {
    let x = x.contiguous()
    let (planes, height, width) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
    let inputShape = x.shape, outputShape = [x.shape[0], x.shape[1], rows.outputSize, columns.outputSize]
    let scales = PoolingKernel.averageScales(rows: rows, columns: columns, countIncludePad: countIncludePad,
                                             divisorOverride: divisorOverride)
    return Tensor.op(op, inputs: [x], shape: outputShape, export: export()) {
        let y = Tensor.uninitialized(outputShape)
        PoolingKernel.averageForward(x.basePointer, planes: planes, height: height, width: width, rows: rows, columns: columns,
                                     scales: scales, into: y.basePointer)
        return y
    } pullback: { grad, _ in
        let dy = grad.contiguous()
        let dx = Tensor(zeros: inputShape)
        PoolingKernel.averageBackward(dy.basePointer, planes: planes, height: height, width: width, rows: rows, columns: columns,
                                      scales: scales, into: dx.basePointer)
        return [dx]
    }
}

/// The sliding windows of a 2-D pooling of an (N, C, H, W) tensor of `shape` along height and
/// width; throws a ``ShapeCheckFailure`` naming `op` when the settings do not fit.
func slidingWindows(_ shape: [Int], op: String, kernelSize: [Int], stride: [Int]?, padding: [Int],
                    dilation: [Int], ceilMode: Bool) throws -> (PoolingAxis, PoolingAxis) {
    let stride = stride ?? kernelSize
    try ShapeCheckFailure.require([kernelSize, stride, padding, dilation].allSatisfy { $0.count == 2 },
        "\(op): kernelSize \(kernelSize), stride \(stride), padding \(padding) and dilation \(dilation) need 2 entries each")
    try ShapeCheckFailure.require(kernelSize.allSatisfy { $0 > 0 } && stride.allSatisfy { $0 > 0 } && dilation.allSatisfy { $0 > 0 },
        "\(op): kernelSize \(kernelSize), stride \(stride) and dilation \(dilation) must be positive")
    try ShapeCheckFailure.require((0..<2).allSatisfy { padding[$0] >= 0 && padding[$0] <= kernelSize[$0] / 2 },
        "\(op): padding \(padding) should be at most half of kernelSize \(kernelSize)")
    let size = Array(shape.suffix(2))
    let axes = try (0..<2).map { a -> PoolingAxis in
        let out = ConvGeometry.outputSize(input: size[a], kernel: kernelSize[a], stride: stride[a], padding: padding[a],
                                          dilation: dilation[a], ceilMode: ceilMode)
        try ShapeCheckFailure.require(out > 0, "\(op): kernelSize \(kernelSize) with dilation \(dilation) is larger than the input \(size) padded by \(padding) (x \(shape))")
        return PoolingAxis(input: size[a], output: out, kernel: kernelSize[a], stride: stride[a], padding: padding[a], dilation: dilation[a])
    }
    return (axes[0], axes[1])
}

/// 2-D max pooling (PyTorch's `max_pool2d`): the maximum of each window; the gradient goes to
/// the (first) maximal element of each window.
///
///     maxPool2d(x, kernelSize: [2, 2])   // (N, C, H, W) → (N, C, H/2, W/2)
///
/// H' = ⌊(H + 2·padding[0] − dilation[0]·(kH − 1) − 1) / stride[0]⌋ + 1 (⌈·⌉ with `ceilMode`,
/// dropping a last window that would start in the padding), likewise W'.
/// - Parameters:
///   - x: (N, C, H, W) or (C, H, W).
///   - kernelSize: window (kH, kW).
///   - stride: window step, the kernel size when nil.
///   - padding: implicit -∞ on both sides, at most half the kernel.
///   - dilation: spacing of the window taps.
///   - ceilMode: round the output size up, so that a partial last window counts.
/// - Returns: (N, C, H', W') or (C, H', W').
public func maxPool2d(_ x: Tensor, kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0],
                      dilation: [Int] = [1, 1], ceilMode: Bool = false) -> Tensor {
    let (x4, restore) = batched(x, op: "maxPool2d")
    guard let (rows, columns) = ShapeCheckFailure.checked({
        try slidingWindows(x4.shape, op: "maxPool2d", kernelSize: kernelSize, stride: stride, padding: padding,
                           dilation: dilation, ceilMode: ceilMode)
    }) else { return .shapeFailure }
    return restore(maxPooling(x4, rows: rows, columns: columns, op: "maxPool2d",
                              export: .pooling("MaxPool", kernelSize: kernelSize, stride: stride, padding: padding,
                                               ceilMode: ceilMode, extra: ["dilations": .ints(dilation)])))
}

/// 2-D max pooling with square windows (see the overload taking `[Int]` pairs).
///
///     maxPool2d(x, kernelSize: 2)   // (N, C, H, W) → (N, C, H/2, W/2)
@_disfavoredOverload
public func maxPool2d(_ x: Tensor, kernelSize: Int, stride: Int? = nil, padding: Int = 0, dilation: Int = 1,
                      ceilMode: Bool = false) -> Tensor {
    maxPool2d(x, kernelSize: [kernelSize, kernelSize], stride: stride.map { [$0, $0] }, padding: [padding, padding],
              dilation: [dilation, dilation], ceilMode: ceilMode)
}

/// 2-D average pooling (PyTorch's `avg_pool2d`): the mean of each window.
///
///     avgPool2d(x, kernelSize: [3, 3], stride: [2, 2], padding: [1, 1])   // (N, C, H, W) → (N, C, H', W')
///
/// Output size as in `maxPool2d`, with dilation 1.
/// - Parameters:
///   - x: (N, C, H, W) or (C, H, W).
///   - kernelSize: window (kH, kW).
///   - stride: window step, the kernel size when nil.
///   - padding: implicit zeros on both sides, at most half the kernel.
///   - ceilMode: round the output size up, so that a partial last window counts.
///   - countIncludePad: divide by the window size including padding (PyTorch's default), or
///     by the number of input elements in the window.
///   - divisorOverride: divide every window's sum by this instead.
/// - Returns: (N, C, H', W') or (C, H', W').
public func avgPool2d(_ x: Tensor, kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0],
                      ceilMode: Bool = false, countIncludePad: Bool = true, divisorOverride: Int? = nil) -> Tensor {
    require(divisorOverride.map { $0 != 0 } ?? true, "avgPool2d: divisorOverride must not be zero")
    let (x4, restore) = batched(x, op: "avgPool2d")
    guard let (rows, columns) = ShapeCheckFailure.checked({
        try slidingWindows(x4.shape, op: "avgPool2d", kernelSize: kernelSize, stride: stride, padding: padding,
                           dilation: [1, 1], ceilMode: ceilMode)
    }) else { return .shapeFailure }
    return restore(averagePooling(x4, rows: rows, columns: columns, countIncludePad: countIncludePad,
                                  divisorOverride: divisorOverride, op: "avgPool2d",
                                  export: divisorOverride != nil ? nil
                                      : .pooling("AveragePool", kernelSize: kernelSize, stride: stride, padding: padding,
                                                 ceilMode: ceilMode, extra: ["count_include_pad": .int(countIncludePad ? 1 : 0)])))
}

/// 2-D average pooling with square windows (see the overload taking `[Int]` pairs).
///
///     avgPool2d(x, kernelSize: 2)   // (N, C, H, W) → (N, C, H/2, W/2)
@_disfavoredOverload
public func avgPool2d(_ x: Tensor, kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false,
                      countIncludePad: Bool = true, divisorOverride: Int? = nil) -> Tensor {
    avgPool2d(x, kernelSize: [kernelSize, kernelSize], stride: stride.map { [$0, $0] }, padding: [padding, padding],
              ceilMode: ceilMode, countIncludePad: countIncludePad, divisorOverride: divisorOverride)
}

/// The adaptive bins of a pooling to `outputSize`, after checking it.
private func adaptiveWindows(_ x: Tensor, outputSize: [Int], op: String) -> (PoolingAxis, PoolingAxis) {
    require(outputSize.count == 2 && outputSize.allSatisfy { $0 > 0 },
            "\(op): outputSize \(outputSize) should be two positive sizes (x \(x.shape))")
    let size = Array(x.shape.suffix(2))
    require(size.allSatisfy { $0 > 0 }, "\(op): x of shape \(x.shape) has an empty plane")
    return (PoolingAxis(adaptiveInput: size[0], output: outputSize[0]), PoolingAxis(adaptiveInput: size[1], output: outputSize[1]))
}

/// Adaptive 2-D average pooling (PyTorch's `adaptive_avg_pool2d`): the mean over bins that
/// split the plane into `outputSize` parts; bin i along an axis of size n covers
/// ⌊i·n/out⌋ ..< ⌈(i+1)·n/out⌉.
///
///     adaptiveAvgPool2d(x, outputSize: [1, 1])   // (N, C, H, W) → (N, C, 1, 1), global average
/// - Parameters:
///   - x: (N, C, H, W) or (C, H, W).
///   - outputSize: (H', W').
/// - Returns: (N, C, H', W') or (C, H', W').
public func adaptiveAvgPool2d(_ x: Tensor, outputSize: [Int]) -> Tensor {
    let (x4, restore) = batched(x, op: "adaptiveAvgPool2d")
    let (rows, columns) = adaptiveWindows(x4, outputSize: outputSize, op: "adaptiveAvgPool2d")
    return restore(averagePooling(x4, rows: rows, columns: columns, countIncludePad: false, divisorOverride: nil,
                                  op: "adaptiveAvgPool2d", export: .adaptivePooling("AveragePool", input: x4.shape, outputSize: outputSize)))
}

/// Adaptive average pooling to a square `outputSize` × `outputSize`.
public func adaptiveAvgPool2d(_ x: Tensor, outputSize: Int) -> Tensor {
    adaptiveAvgPool2d(x, outputSize: [outputSize, outputSize])
}

/// Adaptive 2-D max pooling (PyTorch's `adaptive_max_pool2d`): the maximum over the bins of
/// `adaptiveAvgPool2d`; the gradient goes to the (first) maximal element.
///
///     adaptiveMaxPool2d(x, outputSize: [7, 7])   // (N, C, H, W) → (N, C, 7, 7)
/// - Parameters:
///   - x: (N, C, H, W) or (C, H, W).
///   - outputSize: (H', W').
/// - Returns: (N, C, H', W') or (C, H', W').
public func adaptiveMaxPool2d(_ x: Tensor, outputSize: [Int]) -> Tensor {
    let (x4, restore) = batched(x, op: "adaptiveMaxPool2d")
    let (rows, columns) = adaptiveWindows(x4, outputSize: outputSize, op: "adaptiveMaxPool2d")
    return restore(maxPooling(x4, rows: rows, columns: columns, op: "adaptiveMaxPool2d",
                              export: .adaptivePooling("MaxPool", input: x4.shape, outputSize: outputSize)))
}

/// Adaptive max pooling to a square `outputSize` × `outputSize`.
public func adaptiveMaxPool2d(_ x: Tensor, outputSize: Int) -> Tensor {
    adaptiveMaxPool2d(x, outputSize: [outputSize, outputSize])
}

extension OpExport {
    /// An ONNX `MaxPool` or `AveragePool` with PyTorch's window settings (symmetric padding).
    static func pooling(_ opType: String, kernelSize: [Int], stride: [Int]?, padding: [Int], ceilMode: Bool,
                        extra: [String: Attribute]) -> OpExport {
        OpExport(opType, attributes: extra.merging(["kernel_shape": .ints(kernelSize), "strides": .ints(stride ?? kernelSize),
                                                    "pads": .ints(padding + padding), "ceil_mode": .int(ceilMode ? 1 : 0)]) { $1 })
    }

    /// Adaptive pooling of an (N, C, H, W) `input` as global pooling (output 1×1) or as fixed
    /// windows when each output size divides the input's; nil (not exportable) otherwise.
    static func adaptivePooling(_ opType: String, input: [Int], outputSize: [Int]) -> OpExport? {
        let size = Array(input.suffix(2))
        if outputSize == [1, 1] { return OpExport("Global" + opType) }
        guard (0..<2).allSatisfy({ size[$0] % outputSize[$0] == 0 }) else { return nil }
        let window = (0..<2).map { size[$0] / outputSize[$0] }
        return .pooling(opType, kernelSize: window, stride: window, padding: [0, 0], ceilMode: false,
                        extra: opType == "MaxPool" ? [:] : ["count_include_pad": .int(0)])
    }
}
