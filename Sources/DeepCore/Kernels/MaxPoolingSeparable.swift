// Max pooling of one plane by rows of column maxima: the maximum over a window is the maximum
// over its rows of the maxima over its columns. Every window shape but the plain 2×2 stride 2
// (PoolingKernel.maxForward2x2) runs here, with or without the argmax indices.
//
// Legend: H×W input plane (row length `width`), H'×W' output plane, W'ᵖ = W' rounded up to 8.

/// How the column pass of a max pooling reads one input row: for sliding windows that all reach
/// into the input, through a copy of the row between −∞ margins, where every window has the same
/// taps at the same spacing, so eight windows at a time fill SIMD lanes; else window by window.
struct MaxPoolingColumns {
    /// Margin before the row in the copy (the left padding), or nil: window by window.
    let margin: Int?
    /// Floats of the padded copy: margin, row, and −∞ up to the last tap of the last vector.
    let paddedWidth: Int
    /// The first input column of each window (its index when nothing in it is larger), W'ᵖ.
    let firstColumns: [Int32]

    init(_ columns: PoolingAxis, width: Int) {
        let vectorWidth = (columns.outputSize + 7) / 8 * 8
        firstColumns = (0..<vectorWidth).map { Int32($0 < columns.outputSize ? columns.ranges[$0].lowerBound : 0) }
        if let window = columns.sliding, columns.ranges.allSatisfy({ !$0.isEmpty }) {
            margin = window.padding
            let lastTap = (vectorWidth - 1) * window.stride + (window.kernel - 1) * columns.step
            paddedWidth = Swift.max(window.padding + width, lastTap + 1)
        } else {
            (margin, paddedWidth) = (nil, 0)
        }
    }
}

extension PoolingKernel {
    /// Whether `v` replaces the running maximum `best` of the lanes: strictly larger, or the first
    /// NaN (a NaN is maximal and, once taken, kept).
    @inline(__always)
    static func replaces(_ v: FloatVector, _ best: FloatVector) -> SIMDMask<SIMD8<Int32>> {
        (v .> best) .| ((v .!= v) .& (best .== best))
    }

    /// Eight floats of `row` starting at `at`, `spacing` apart; reads nothing past the last.
    @inline(__always)
    static func spacedLanes(_ row: UnsafePointer<Float>, at: Int, spacing: Int) -> FloatVector {
        switch spacing {
        case 1: return UnsafeRawPointer(row + at).loadUnaligned(as: FloatVector.self)
        case 2: return VectorMath.loadEveryOther(row + at)
        default:
            var v = FloatVector()
            for i in 0..<8 { v[i] = row[at + i * spacing] }
            return v
        }
    }

    /// Max pooling of one plane, and, when `indices` is given, the flat index in the plane of each
    /// window's first maximal element in row-major order (a NaN counts as maximal, the first one
    /// wins and propagates; an empty window gives −∞ and index −1), the rule of
    /// ``windowMaximum(_:width:rows:rowStep:columns:columnStep:)``.
    ///
    /// The column pass writes, for every input row, the maximum over each window's columns and
    /// (with indices) its column; the row pass combines them down each window's rows, eight
    /// output columns per vector. Both keep a value only when strictly larger, scanning left to
    /// right and top to bottom, so the index found is the first in row-major order (a −∞ margin
    /// is never larger than the first tap inside the input, where each window's index starts).
    ///
    /// - Parameters: x: H×W; y and indices: H'×W'; rowMaxima and rowColumns: H × W'ᵖ of scratch
    ///   (rowColumns only with indices); paddedRow: `plan.paddedWidth` floats, −∞ outside
    ///   `margin ..< margin + W` (written here).
    static func maxForwardSeparable(_ x: UnsafePointer<Float>, height: Int, width: Int, rows: PoolingAxis, columns: PoolingAxis,
                                    plan: MaxPoolingColumns, into y: UnsafeMutablePointer<Float>,
                                    indices: UnsafeMutablePointer<Int32>?, rowMaxima h: UnsafeMutablePointer<Float>,
                                    rowColumns hc: UnsafeMutablePointer<Int32>?, paddedRow: UnsafeMutablePointer<Float>) {
        let outW = columns.outputSize, stride = (outW + 7) / 8 * 8
        plan.firstColumns.withUnsafeBufferPointer { firstColumns in
            for ih in 0..<height {
                let row = x + ih * width, out = h + ih * stride, outColumns = hc.map { $0 + ih * stride }
                guard let margin = plan.margin, let window = columns.sliding else {
                    for ow in 0..<outW {
                        let (value, column) = windowMaximum(row, width: width, rows: 0..<1, rowStep: 1, columns: columns.ranges[ow],
                                                            columnStep: columns.step)
                        out[ow] = value
                        outColumns?[ow] = Int32(column)
                    }
                    continue
                }
                (paddedRow + margin).update(from: row, count: width)
                slidingMaxima(paddedRow, margin: margin, window: window, step: columns.step, outputs: outW, into: out,
                              columns: outColumns, firstColumns: firstColumns.baseAddress!)
            }
        }
        rows.ranges.withUnsafeBufferPointer { rowRanges in
            for oh in 0..<rows.outputSize {
                let r = rowRanges[oh]
                for ow in Swift.stride(from: 0, to: outW, by: 8) {
                    var best = FloatVector(repeating: -.infinity)
                    var at = SIMD8<Int32>(repeating: -1)
                    if let hc, !r.isEmpty {
                        let first = UnsafeRawPointer(hc + r.lowerBound * stride + ow).loadUnaligned(as: SIMD8<Int32>.self)
                        at = first &+ Int32(r.lowerBound * width)
                        at.replace(with: -1, where: first .< 0)
                    }
                    var ih = r.lowerBound
                    while ih < r.upperBound {
                        let v = UnsafeRawPointer(h + ih * stride + ow).loadUnaligned(as: FloatVector.self)
                        let taken = replaces(v, best)
                        best.replace(with: v, where: taken)
                        if let hc {
                            let column = UnsafeRawPointer(hc + ih * stride + ow).loadUnaligned(as: SIMD8<Int32>.self)
                            at.replace(with: column &+ Int32(ih * width), where: taken)
                        }
                        ih += rows.step
                    }
                    let count = Swift.min(8, outW - ow)
                    VectorMath.store(best, y + oh * outW + ow, count: count)
                    if let indices { for i in 0..<count { indices[oh * outW + ow + i] = at[i] } }
                }
            }
        }
    }

    /// The maxima of the sliding windows over a padded row (`margin` floats of −∞ before the
    /// row, −∞ after it), eight windows per vector, into `out` and, when `columns` is given, each window's column of its first maximum in the row,
    /// starting from `firstColumns` (W'ᵖ): `out` gets W' floats, `columns` W'ᵖ.
    @inline(__always)
    static func slidingMaxima(_ paddedRow: UnsafePointer<Float>, margin: Int, window: (stride: Int, padding: Int, kernel: Int),
                              step: Int, outputs: Int, into out: UnsafeMutablePointer<Float>,
                              columns: UnsafeMutablePointer<Int32>?, firstColumns: UnsafePointer<Int32>) {
        let lanes = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &* Int32(window.stride) &- Int32(margin)
        for ow in Swift.stride(from: 0, to: outputs, by: 8) {
            var best = FloatVector(repeating: -.infinity)
            var at = UnsafeRawPointer(firstColumns + ow).loadUnaligned(as: SIMD8<Int32>.self)
            for t in 0..<window.kernel {
                let tap = ow * window.stride + t * step
                let v = spacedLanes(paddedRow, at: tap, spacing: window.stride)
                let taken = replaces(v, best)
                best.replace(with: v, where: taken)
                if columns != nil { at.replace(with: lanes &+ Int32(tap), where: taken) }
            }
            VectorMath.store(best, out + ow, count: Swift.min(8, outputs - ow))
            if let columns { UnsafeMutableRawPointer(columns + ow).storeBytes(of: at, as: SIMD8<Int32>.self) }
        }
    }

    /// Max pooling of one plane without indices, rows first: the rows of each output row's window
    /// are combined into the padded row (eight columns per vector, a NaN kept), whose sliding
    /// windows then give the output row — one column pass per output row instead of one per
    /// input row (half as many at stride 2).
    ///
    /// - Parameters: x: H×W; y: H'×W'; paddedRow: `plan.paddedWidth` floats, −∞ outside
    ///   `margin ..< margin + W`; `plan.margin` non-nil, every row window non-empty.
    static func maxForwardRowsFirst(_ x: UnsafePointer<Float>, width: Int, rows: PoolingAxis, columns: PoolingAxis,
                                    plan: MaxPoolingColumns, into y: UnsafeMutablePointer<Float>,
                                    paddedRow: UnsafeMutablePointer<Float>) {
        guard let margin = plan.margin, let window = columns.sliding else { return }
        let outW = columns.outputSize, combined = paddedRow + margin
        plan.firstColumns.withUnsafeBufferPointer { firstColumns in
            rows.ranges.withUnsafeBufferPointer { rowRanges in
                for oh in 0..<rows.outputSize {
                    let r = rowRanges[oh]
                    for j in Swift.stride(from: 0, to: width, by: 8) {
                        let count = Swift.min(8, width - j)
                        var best = VectorMath.load(x + r.lowerBound * width + j, count: count)
                        for ih in Swift.stride(from: r.lowerBound + rows.step, to: r.upperBound, by: rows.step) {
                            let v = VectorMath.load(x + ih * width + j, count: count)
                            best.replace(with: v, where: replaces(v, best))
                        }
                        VectorMath.store(best, combined + j, count: count)
                    }
                    slidingMaxima(paddedRow, margin: margin, window: window, step: columns.step, outputs: outW,
                                  into: y + oh * outW, columns: nil, firstColumns: firstColumns.baseAddress!)
                }
            }
        }
    }
}
