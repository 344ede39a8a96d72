// Pooling: max and average over windows of each (N, C) plane, with PyTorch's window rules.
//
// Every pooling here is separable in where it reads: output row oh reads input rows
// `rows.ranges[oh]` (every `rows.step`-th), output column ow the columns `columns.ranges[ow]`.
// Sliding windows (kernel, stride, padding, dilation, ceil mode) and adaptive bins only differ
// in how those ranges are built, so one max kernel and one average kernel serve both.

/// The input indices read by each output index along one axis.
struct PoolingAxis {
    /// Input indices `ranges[o]` (every `step`-th, clipped to the input) read by output o.
    var ranges: [Range<Int>]
    var step: Int
    /// Window size of output o counting padding (PyTorch's `count_include_pad` divisor).
    var paddedSizes: [Int]

    var outputSize: Int { ranges.count }

    /// Sliding windows: window o starts at `o·stride − padding` and has `kernel` taps
    /// `dilation` apart; taps outside the input are skipped. The padded size of a window counts
    /// the positions up to the end of the padding (dilation 1).
    init(input: Int, output: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) {
        step = dilation
        ranges = []
        paddedSizes = []
        for o in 0..<output {
            let start = o * stride - padding
            var first = start
            while first < 0 { first += dilation }
            let end = Swift.min(start + (kernel - 1) * dilation + 1, input)
            ranges.append(first..<Swift.max(first, end))
            paddedSizes.append(Swift.min(start + kernel, input + padding) - start)
        }
    }

    /// Adaptive bins: output o reads `⌊o·input/output⌋ ..< ⌈(o+1)·input/output⌉`.
    init(adaptiveInput input: Int, output: Int) {
        step = 1
        ranges = (0..<output).map { o in (o * input / output)..<(((o + 1) * input + output - 1) / output) }
        paddedSizes = ranges.map(\.count)
    }

    /// Whether window o is exactly `2o..<2o+2` for every output (2×2, stride 2, no padding or
    /// dilation, windows inside the input).
    func isPlain2x2(input: Int) -> Bool {
        step == 1 && 2 * outputSize <= input && ranges.enumerated().allSatisfy { $0.element == (2 * $0.offset)..<(2 * $0.offset + 2) }
    }

    /// Number of taps of output o inside the input.
    func taps(_ o: Int) -> Int { (ranges[o].count + step - 1) / step }
}

/// Window loops over one H×W plane.
enum PoolingKernel {
    /// Maximum of each window, and, when `indices` is given, the flat index in the plane of its
    /// first maximal element (a NaN counts as maximal, so it propagates).
    ///
    /// - Parameters: x: H×W (row length `width`); y and indices: H'×W'.
    /// The 2×2, stride-2 windows of an unpadded plane (the pooling of nearly every CNN),
    /// without index arithmetic in the loop: rows `2·oh` and `2·oh + 1`, columns `2·ow`, `2·ow + 1`.
    @inline(__always)
    static func maxForward2x2(_ x: UnsafePointer<Float>, width: Int, outH: Int, outW: Int,
                              into y: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>?) {
        for oh in 0..<outH {
            let r0 = x + 2 * oh * width, r1 = r0 + width, out = y + oh * outW
            var ow = 0
            if let indices {
                let at = indices + oh * outW, base = Int32(2 * oh * width)
                let w = Int32(width)
                // Four windows at a time with SIMD selects: compare-and-branch code mispredicts
                // half the time on real activations.
                while ow + 4 <= outW {
                    let top = UnsafeRawPointer(r0 + 2 * ow).loadUnaligned(as: SIMD8<Float>.self)
                    let bottom = UnsafeRawPointer(r1 + 2 * ow).loadUnaligned(as: SIMD8<Float>.self)
                    let (a, b, c, d) = (top.evenHalf, top.oddHalf, bottom.evenHalf, bottom.oddHalf)
                    let sum = a + b + c + d
                    if any(sum .!= sum) { break }   // NaN or ±∞: finish the row with the scalar loop
                    // Maxima by compare-and-blend (the generic `pointwiseMax` is not specialised).
                    let ab = a.replacing(with: b, where: b .> a), cd = c.replacing(with: d, where: d .> c)
                    let m = ab.replacing(with: cd, where: cd .> ab)
                    var k = SIMD4<Int32>(repeating: w + 1)
                    k.replace(with: w, where: c .== m)
                    k.replace(with: 1, where: b .== m)
                    k.replace(with: 0, where: a .== m)
                    UnsafeMutableRawPointer(out + ow).storeBytes(of: m, as: SIMD4<Float>.self)
                    let start = SIMD4<Int32>(0, 2, 4, 6) &+ (base + 2 * Int32(ow))
                    UnsafeMutableRawPointer(at + ow).storeBytes(of: start &+ k, as: SIMD4<Int32>.self)
                    ow += 4
                }
                while ow < outW {
                    let (a, b, c, d) = (r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1])
                    // First maximum in row-major order; the first NaN wins.
                    var best = a, first = 0
                    if !best.isNaN && (b > best || b.isNaN) { best = b; first = 1 }
                    if !best.isNaN && (c > best || c.isNaN) { best = c; first = width }
                    if !best.isNaN && (d > best || d.isNaN) { best = d; first = width + 1 }
                    out[ow] = best
                    at[ow] = base + Int32(2 * ow + first)
                    ow += 1
                }
            } else {
                while ow < outW {
                    let (a, b, c, d) = (r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1])
                    let m = Swift.max(Swift.max(a, b), Swift.max(c, d))
                    out[ow] = (a + b + c + d).isNaN && (a.isNaN || b.isNaN || c.isNaN || d.isNaN) ? .nan : m
                    ow += 1
                }
            }
        }
    }

    static func maxForward(_ x: UnsafePointer<Float>, width: Int, rows: PoolingAxis, columns: PoolingAxis,
                           into y: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>?) {
        let (rowStep, columnStep, outH, outW) = (rows.step, columns.step, rows.outputSize, columns.outputSize)
        rows.ranges.withUnsafeBufferPointer { rowRanges in
            columns.ranges.withUnsafeBufferPointer { columnRanges in
                var oh = 0
                while oh < outH {
                    let r = rowRanges[oh]
                    var ow = 0
                    while ow < outW {
                        let c = columnRanges[ow]
                        var best = -Float.infinity
                        // An empty window (no tap inside the input) gives -∞ and index -1.
                        var index = r.isEmpty || c.isEmpty ? -1 : r.lowerBound * width + c.lowerBound
                        var sawNaN = false
                        var ih = r.lowerBound
                        // Branch-free updates: with random data a compare-and-branch mispredicts
                        // half the time.
                        while ih < r.upperBound {
                            let row = x + ih * width
                            var iw = c.lowerBound
                            while iw < c.upperBound {
                                let v = row[iw]
                                let better = v > best || (v.isNaN && !sawNaN)
                                best = better ? v : best
                                index = better ? ih * width + iw : index
                                sawNaN = sawNaN || v.isNaN
                                iw += columnStep
                            }
                            ih += rowStep
                        }
                        if sawNaN { best = .nan }
                        y[oh * outW + ow] = best
                        indices?[oh * outW + ow] = Int32(index)
                        ow += 1
                    }
                    oh += 1
                }
            }
        }
    }

    /// Sum of each window times `scale(oh, ow)`.
    ///
    /// - Parameters: x: H×W (row length `width`); y: H'×W'.
    @inline(__always)
    static func averageForward(_ x: UnsafePointer<Float>, width: Int, rows: PoolingAxis, columns: PoolingAxis,
                               scale: (Int, Int) -> Float, into y: UnsafeMutablePointer<Float>) {
        for (oh, rowRange) in rows.ranges.enumerated() {
            for (ow, columnRange) in columns.ranges.enumerated() {
                var sum: Float = 0
                for ih in rowRange { for iw in columnRange { sum += x[ih * width + iw] } }
                y[oh * columns.outputSize + ow] = sum * scale(oh, ow)
            }
        }
    }

    /// Adds `dy(oh, ow)·scale(oh, ow)` to every element of window (oh, ow) of `dx`.
    ///
    /// - Parameters: dy: H'×W'; dx: H×W (row length `width`), accumulated into.
    @inline(__always)
    static func averageBackward(_ dy: UnsafePointer<Float>, width: Int, rows: PoolingAxis, columns: PoolingAxis,
                                scale: (Int, Int) -> Float, into dx: UnsafeMutablePointer<Float>) {
        for (oh, rowRange) in rows.ranges.enumerated() {
            for (ow, columnRange) in columns.ranges.enumerated() {
                let g = dy[oh * columns.outputSize + ow] * scale(oh, ow)
                for ih in rowRange { for iw in columnRange { dx[ih * width + iw] += g } }
            }
        }
    }
}

/// Runs `body(plane)` for `count` planes, split among threads when the work is large.
private func forEachPlane(count: Int, work: Int, _ body: (Int) -> Void) {
    Parallel.forEach(count: count, work: work) { planes in
        for plane in planes { body(plane) }
    }
}

/// Checks that `x` is (N, C, H, W) or (C, H, W) and returns it as (N, C, H, W), with a function
/// that gives a result the batch rank of `x` back.
private func batched(_ x: Tensor, op: String) -> (Tensor, (Tensor) -> Tensor) {
    guard shapeCheck(x.rank == 4 || x.rank == 3, "\(op): x of shape \(x.shape) should be (N, C, H, W) or (C, H, W)")
    else { return (Tensor(metaShape: [1, 1, 1, 1]), { _ in .shapeFailure }) }
    return x.rank == 4 ? (x, { $0 }) : (x.unsqueezed(axis: 0), { $0.squeezed(axis: 0) })
}

/// Max pooling of (N, C, H, W) `x` over the windows `rows` × `columns`; the pullback routes each
/// output gradient to the element that was the maximum.
private func maxPooling(_ x: Tensor, rows: PoolingAxis, columns: PoolingAxis, op: String) -> Tensor {
    if let meta = Tensor.metaResult([x.shape[0], x.shape[1], rows.outputSize, columns.outputSize], x) { return meta }
    let x = x.contiguous()
    let (planes, height, width) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
    let inPlane = height * width, outPlane = rows.outputSize * columns.outputSize
    let y = Tensor.uninitialized([x.shape[0], x.shape[1], rows.outputSize, columns.outputSize])
    // The positions of the maxima, kept for the pullback only when one will run.
    let recording = GradMode.isEnabled && x.requiresGrad
    var indices = [Int32](repeating: 0, count: recording ? planes * outPlane : 0)
    let work = planes * outPlane * Swift.max(1, rows.taps(0) * columns.taps(0))
    let simple2x2 = rows.isPlain2x2(input: height) && columns.isPlain2x2(input: width)
    indices.withUnsafeMutableBufferPointer { idx in
        let (src, dst, positions) = (UnsafePointer(x.basePointer), y.basePointer, idx.baseAddress)
        forEachPlane(count: planes, work: work) { p in
                if simple2x2 {
                PoolingKernel.maxForward2x2(src + p * inPlane, width: width, outH: rows.outputSize, outW: columns.outputSize,
                                            into: dst + p * outPlane, indices: recording ? positions! + p * outPlane : nil)
            } else {
                PoolingKernel.maxForward(src + p * inPlane, width: width, rows: rows, columns: columns,
                                         into: dst + p * outPlane, indices: recording ? positions! + p * outPlane : nil)
            }
        }
    }
    let inputShape = x.shape
    return y.recording(op, inputs: [x]) { grad in
        let dy = grad.contiguous()
        let dx = Tensor(zeros: inputShape)
        let (src, dst) = (UnsafePointer(dy.basePointer), dx.basePointer)
        indices.withUnsafeBufferPointer { idx in
            forEachPlane(count: planes, work: planes * outPlane) { p in
                let (g, d, at) = (src + p * outPlane, dst + p * inPlane, idx.baseAddress! + p * outPlane)
                for o in 0..<outPlane where at[o] >= 0 { d[Int(at[o])] += g[o] }
            }
        }
        return [dx]
    }
}

/// Average pooling of (N, C, H, W) `x` over the windows `rows` × `columns`, dividing by the
/// window size counted with or without padding, or by `divisorOverride`.
private func averagePooling(_ x: Tensor, rows: PoolingAxis, columns: PoolingAxis, countIncludePad: Bool,
                            divisorOverride: Int?, op: String) -> Tensor {
    if let meta = Tensor.metaResult([x.shape[0], x.shape[1], rows.outputSize, columns.outputSize], x) { return meta }
    let x = x.contiguous()
    let (planes, height, width) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
    let inPlane = height * width, outPlane = rows.outputSize * columns.outputSize
    // 1 / divisor for each output, a product of per-axis sizes unless overridden.
    let rowSizes = countIncludePad ? rows.paddedSizes : rows.ranges.map(\.count)
    let columnSizes = countIncludePad ? columns.paddedSizes : columns.ranges.map(\.count)
    let scales: [Float] = (0..<outPlane).map { o in
        1 / Float(divisorOverride ?? rowSizes[o / columns.outputSize] * columnSizes[o % columns.outputSize])
    }
    let scale = { (oh: Int, ow: Int) in scales[oh * columns.outputSize + ow] }
    let work = planes * outPlane * Swift.max(1, rows.taps(0) * columns.taps(0))
    let y = Tensor.uninitialized([x.shape[0], x.shape[1], rows.outputSize, columns.outputSize])
    let (src, dst) = (UnsafePointer(x.basePointer), y.basePointer)
    forEachPlane(count: planes, work: work) { p in
        PoolingKernel.averageForward(src + p * inPlane, width: width, rows: rows, columns: columns, scale: scale,
                                     into: dst + p * outPlane)
    }
    let inputShape = x.shape
    return y.recording(op, inputs: [x]) { grad in
        let dy = grad.contiguous()
        let dx = Tensor(zeros: inputShape)
        let (gsrc, gdst) = (UnsafePointer(dy.basePointer), dx.basePointer)
        forEachPlane(count: planes, work: work) { p in
            PoolingKernel.averageBackward(gsrc + p * outPlane, width: width, rows: rows, columns: columns, scale: scale,
                                          into: gdst + p * inPlane)
        }
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
    return restore(maxPooling(x4, rows: rows, columns: columns, op: "maxPool2d"))
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
                                  divisorOverride: divisorOverride, op: "avgPool2d"))
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
                                  op: "adaptiveAvgPool2d"))
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
    return restore(maxPooling(x4, rows: rows, columns: columns, op: "adaptiveMaxPool2d"))
}

/// Adaptive max pooling to a square `outputSize` × `outputSize`.
public func adaptiveMaxPool2d(_ x: Tensor, outputSize: Int) -> Tensor {
    adaptiveMaxPool2d(x, outputSize: [outputSize, outputSize])
}
