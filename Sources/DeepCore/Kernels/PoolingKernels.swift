import CVectorKernels
// Pooling kernels over raw buffers: max and average over windows of each (N, C) plane, with
// PyTorch's window rules.
//
// Every pooling here is separable in where it reads: output row oh reads input rows
// `rows.ranges[oh]` (every `rows.step`-th), output column ow the columns `columns.ranges[ow]`.
// Sliding windows (kernel, stride, padding, dilation, ceil mode) and adaptive bins only differ
// in how those ranges are built, so one max kernel and one average kernel serve both.
//
// Legend: P planes (N·C), H×W input plane, H'×W' output plane.

/// The input indices read by each output index along one axis.
struct PoolingAxis {
    /// Input indices `ranges[o]` (every `step`-th, clipped to the input) read by output o.
    var ranges: [Range<Int>]
    var step: Int
    /// Window size of output o counting padding (PyTorch's `count_include_pad` divisor).
    var paddedSizes: [Int]
    /// Sliding windows' rule (window o's taps are `o·stride − padding + t·step`, t < kernel, those
    /// inside the input); nil for adaptive bins.
    var sliding: (stride: Int, padding: Int, kernel: Int)?

    var outputSize: Int { ranges.count }

    /// Sliding windows: window o starts at `o·stride − padding` and has `kernel` taps
    /// `dilation` apart; taps outside the input are skipped. The padded size of a window counts
    /// the positions up to the end of the padding (dilation 1).
    init(input: Int, output: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) {
        step = dilation
        sliding = (stride, padding, kernel)
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

/// Window loops over one H×W plane, and over P planes split among threads.
enum PoolingKernel {
    /// Max pooling of one plane over the 2×2, stride-2 windows of an unpadded plane (the pooling
    /// of nearly every CNN), without index arithmetic in the loop: rows `2·oh` and `2·oh + 1`,
    /// columns `2·ow`, `2·ow + 1`; the rule of
    /// ``maxForwardSeparable(_:height:width:rows:columns:plan:into:indices:rowMaxima:rowColumns:paddedRow:)``.
    ///
    /// - Parameters: x: H×W (row length `width`); y and indices: H'×W'.
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

    /// The largest value of one window (NaN when the window holds one) and its position in the
    /// plane, the first in row-major order; an empty window (no tap inside the input) gives -∞
    /// and index -1.
    @inline(__always)
    static func windowMaximum(_ x: UnsafePointer<Float>, width: Int, rows r: Range<Int>, rowStep: Int, columns c: Range<Int>,
                              columnStep: Int) -> (value: Float, index: Int) {
        var best = -Float.infinity
        var index = r.isEmpty || c.isEmpty ? -1 : r.lowerBound * width + c.lowerBound
        var sawNaN = false
        var ih = r.lowerBound
        // Branch-free updates: with random data a compare-and-branch mispredicts half the time.
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
        return (sawNaN ? .nan : best, index)
    }

    /// Sum of each window times its scale.
    ///
    /// - Parameters: x: H×W (row length `width`); scales, y: H'×W'.
    @inline(__always)
    static func averageForward(_ x: UnsafePointer<Float>, width: Int, rows: PoolingAxis, columns: PoolingAxis,
                               scales: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        for (oh, rowRange) in rows.ranges.enumerated() {
            for (ow, columnRange) in columns.ranges.enumerated() {
                var sum: Float = 0
                for ih in rowRange { for iw in columnRange { sum += x[ih * width + iw] } }
                y[oh * columns.outputSize + ow] = sum * scales[oh * columns.outputSize + ow]
            }
        }
    }

    /// Adds `dy(oh, ow)` times the scale of window (oh, ow) to each of its elements in `dx`.
    ///
    /// - Parameters: dy, scales: H'×W'; dx: H×W (row length `width`), accumulated into.
    @inline(__always)
    static func averageBackward(_ dy: UnsafePointer<Float>, width: Int, rows: PoolingAxis, columns: PoolingAxis,
                                scales: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        for (oh, rowRange) in rows.ranges.enumerated() {
            for (ow, columnRange) in columns.ranges.enumerated() {
                let g = dy[oh * columns.outputSize + ow] * scales[oh * columns.outputSize + ow]
                for ih in rowRange { for iw in columnRange { dx[ih * width + iw] += g } }
            }
        }
    }

    /// Max pooling of P planes, and, when `indices` is given, the position in its plane of each
    /// window's maximum (for ``maxBackward(_:indices:planes:inputPlane:outputPlane:into:)``): plain
    /// 2×2 stride-2 windows by ``maxForward2x2(_:width:outH:outW:into:indices:)``, every other
    /// shape by rows of column maxima (MaxPoolingSeparable.swift), or, for sliding windows
    /// without indices, by column windows of each output row's maxima over its rows.
    ///
    /// - Parameters: x: P × H×W (row length `width`); y and indices: P × H'×W'.
    static func maxForward(_ x: UnsafePointer<Float>, planes: Int, height: Int, width: Int, rows: PoolingAxis,
                           columns: PoolingAxis, into y: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>?) {
        let inPlane = height * width, outPlane = rows.outputSize * columns.outputSize
        let work = planes * outPlane * Swift.max(1, rows.taps(0) * columns.taps(0))
        if rows.isPlain2x2(input: height) && columns.isPlain2x2(input: width) {
            forEachPlane(count: planes, work: work) { p in
                maxForward2x2(x + p * inPlane, width: width, outH: rows.outputSize, outW: columns.outputSize,
                              into: y + p * outPlane, indices: indices.map { $0 + p * outPlane })
            }
            return
        }
        let plan = MaxPoolingColumns(columns, width: width)
        if indices == nil, let margin = plan.margin, rows.sliding != nil, let window = columns.sliding,
           rows.ranges.allSatisfy({ !$0.isEmpty }) {
            // The C kernel (AVX-512 or AVX2) where the CPU has one, else the Swift loops.
            let firstRows = rows.ranges.map(\.lowerBound)
            let rowCounts = rows.ranges.map { ($0.count + rows.step - 1) / rows.step }
            let native = Elementwise.usesVectorExtensions && VectorKernels.width > 0
            Parallel.forEach(count: planes, work: work) { range in
                let paddedRow = UnsafeMutablePointer<Float>.allocate(capacity: plan.paddedWidth)
                paddedRow.initialize(repeating: -.infinity, count: plan.paddedWidth)
                defer { paddedRow.deallocate() }
                for p in range {
                    if native {
                        _ = ds_max_pool_rows_first(x + p * inPlane, width, rows.outputSize, firstRows, rowCounts, rows.step,
                                                   paddedRow, margin, plan.paddedWidth, window.stride, window.kernel,
                                                   columns.step, columns.outputSize, y + p * outPlane)
                    } else {
                        maxForwardRowsFirst(x + p * inPlane, width: width, rows: rows, columns: columns, plan: plan,
                                            into: y + p * outPlane, paddedRow: paddedRow)
                    }
                }
            }
            return
        }
        let scratch = height * plan.firstColumns.count
        Parallel.forEach(count: planes, work: work) { range in
            let rowMaxima = UnsafeMutablePointer<Float>.allocate(capacity: scratch)
            let rowColumns = indices == nil ? nil : UnsafeMutablePointer<Int32>.allocate(capacity: scratch)
            let paddedRow = UnsafeMutablePointer<Float>.allocate(capacity: plan.paddedWidth)
            rowMaxima.initialize(repeating: 0, count: scratch)
            rowColumns?.initialize(repeating: 0, count: scratch)
            paddedRow.initialize(repeating: -.infinity, count: plan.paddedWidth)
            defer { rowMaxima.deallocate(); rowColumns?.deallocate(); paddedRow.deallocate() }
            for p in range {
                maxForwardSeparable(x + p * inPlane, height: height, width: width, rows: rows, columns: columns, plan: plan,
                                    into: y + p * outPlane, indices: indices.map { $0 + p * outPlane },
                                    rowMaxima: rowMaxima, rowColumns: rowColumns, paddedRow: paddedRow)
            }
        }
    }

    /// Routes each output gradient to the position of its window's maximum (index -1: nowhere).
    ///
    /// - Parameters: dy and indices: P × H'·W'; dx: P × H·W, overwritten.
    static func maxBackward(_ dy: UnsafePointer<Float>, indices: UnsafePointer<Int32>, planes: Int, inputPlane: Int,
                            outputPlane: Int, into dx: UnsafeMutablePointer<Float>) {
        forEachPlane(count: planes, work: planes * (outputPlane + inputPlane)) { p in
            let (g, d, at) = (dy + p * outputPlane, dx + p * inputPlane, indices + p * outputPlane)
            // Zeroed plane by plane, in the thread that adds into it (while it is in cache).
            d.update(repeating: 0, count: inputPlane)
            for o in 0..<outputPlane where at[o] >= 0 { d[Int(at[o])] += g[o] }
        }
    }

    /// 1 / divisor of each output position: the window size counted with padding
    /// (`countIncludePad`) or without, or `divisorOverride`.
    static func averageScales(rows: PoolingAxis, columns: PoolingAxis, countIncludePad: Bool, divisorOverride: Int?) -> [Float] {
        let rowSizes = countIncludePad ? rows.paddedSizes : rows.ranges.map(\.count)
        let columnSizes = countIncludePad ? columns.paddedSizes : columns.ranges.map(\.count)
        return (0..<rows.outputSize * columns.outputSize).map { o in
            1 / Float(divisorOverride ?? rowSizes[o / columns.outputSize] * columnSizes[o % columns.outputSize])
        }
    }

    /// Average pooling of P planes: each window's sum times its scale.
    ///
    /// - Parameters: x: P × H×W (row length `width`); scales: H'×W' (see
    ///   ``averageScales(rows:columns:countIncludePad:divisorOverride:)``); y: P × H'×W'.
    static func averageForward(_ x: UnsafePointer<Float>, planes: Int, height: Int, width: Int, rows: PoolingAxis,
                               columns: PoolingAxis, scales: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        forEachAveragedPlane(planes, height: height, width: width, rows: rows, columns: columns) { input, output in
            averageForward(x + input, width: width, rows: rows, columns: columns, scales: scales, into: y + output)
        }
    }

    /// The adjoint of ``averageForward(_:planes:height:width:rows:columns:scales:into:)``.
    ///
    /// - Parameters: dy: P × H'×W'; dx: P × H×W, zeroed by the caller, accumulated into.
    static func averageBackward(_ dy: UnsafePointer<Float>, planes: Int, height: Int, width: Int, rows: PoolingAxis,
                                columns: PoolingAxis, scales: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        forEachAveragedPlane(planes, height: height, width: width, rows: rows, columns: columns) { input, output in
            averageBackward(dy + output, width: width, rows: rows, columns: columns, scales: scales, into: dx + input)
        }
    }

    /// Calls `body(inputOffset, outputOffset)` for each of `planes` planes of an average pooling,
    /// split among threads when the element visits are many.
    private static func forEachAveragedPlane(_ planes: Int, height: Int, width: Int, rows: PoolingAxis, columns: PoolingAxis,
                                             _ body: (Int, Int) -> Void) {
        let inPlane = height * width, outPlane = rows.outputSize * columns.outputSize
        let work = planes * outPlane * Swift.max(1, rows.taps(0) * columns.taps(0))
        forEachPlane(count: planes, work: work) { p in body(p * inPlane, p * outPlane) }
    }

    /// Runs `body(plane)` for `count` planes, split among threads when the work is large.
    private static func forEachPlane(count: Int, work: Int, _ body: (Int) -> Void) {
        Parallel.forEach(count: count, work: work) { planes in
            for plane in planes { body(plane) }
        }
    }
}
