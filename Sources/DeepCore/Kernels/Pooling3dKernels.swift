// 3-D pooling kernels over raw buffers: max and average over the windows of each (N, C) volume,
// with PyTorch's window rules.
//
// As in 2-D (Kernels/PoolingKernels.swift) every pooling is separable in where it reads: output
// (od, oh, ow) reads input depths `depths.ranges[od]`, rows `rows.ranges[oh]` and columns
// `columns.ranges[ow]`, each every `step`-th. Sliding windows and adaptive bins only differ in
// how those ranges are built (PoolingAxis), so one max and one average kernel serve both.
//
// Legend: P volumes (N·C), D×H×W input volume, D'×H'×W' output volume.

/// The three axes of a 3-D pooling: depth, rows (height) and columns (width).
struct PoolingVolume {
    var depths: PoolingAxis, rows: PoolingAxis, columns: PoolingAxis

    /// Output elements D'·H'·W'.
    var outputCount: Int { depths.outputSize * rows.outputSize * columns.outputSize }
    /// Input elements read by the first window, at least 1 (a measure of the work per output).
    var firstWindowTaps: Int { Swift.max(1, depths.taps(0) * rows.taps(0) * columns.taps(0)) }

    /// 1 / divisor of each output position (D'×H'×W'): the window size counted with padding
    /// (`countIncludePad`) or without, or `divisorOverride`.
    func averageScales(countIncludePad: Bool, divisorOverride: Int?) -> [Float] {
        let sizes = [depths, rows, columns].map { countIncludePad ? $0.paddedSizes : $0.ranges.map(\.count) }
        let (outH, outW) = (rows.outputSize, columns.outputSize)
        return (0..<outputCount).map { o in
            1 / Float(divisorOverride ?? sizes[0][o / (outH * outW)] * sizes[1][o / outW % outH] * sizes[2][o % outW])
        }
    }
}

/// Window loops over one D×H×W volume, and over P volumes split among threads.
enum Pooling3dKernel {
    /// Maximum of each window, and, when `indices` is given, the flat index in the volume
    /// (d·H·W + h·W + w) of its first maximal element in (d, h, w) order; a NaN counts as maximal,
    /// so it propagates; an empty window gives -∞ and index -1.
    ///
    /// - Parameters: x: D×H×W; y and indices: D'×H'×W'.
    static func maxForward(_ x: UnsafePointer<Float>, height: Int, width: Int, windows: PoolingVolume,
                           into y: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>?) {
        let (depths, rows, columns) = (windows.depths, windows.rows, windows.columns)
        let plane = height * width
        var o = 0
        for depthRange in depths.ranges {
            for rowRange in rows.ranges {
                for columnRange in columns.ranges {
                    var best = -Float.infinity, index = -1
                    var d = depthRange.lowerBound
                    // Each depth slice's first maximum; a later slice wins only when larger (or the
                    // first NaN), which keeps the first maximum in (d, h, w) order.
                    while d < depthRange.upperBound {
                        let (value, at) = PoolingKernel.windowMaximum(x + d * plane, width: width, rows: rowRange, rowStep: rows.step,
                                                                      columns: columnRange, columnStep: columns.step)
                        if at >= 0 && (index < 0 || value > best || (value.isNaN && !best.isNaN)) {
                            (best, index) = (value, d * plane + at)
                        }
                        d += depths.step
                    }
                    y[o] = best
                    indices?[o] = Int32(index)
                    o += 1
                }
            }
        }
    }

    /// Sum of each window times its scale.
    ///
    /// - Parameters: x: D×H×W; scales, y: D'×H'×W'.
    static func averageForward(_ x: UnsafePointer<Float>, height: Int, width: Int, windows: PoolingVolume,
                               scales: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let plane = height * width
        var o = 0
        for depthRange in windows.depths.ranges {
            for rowRange in windows.rows.ranges {
                for columnRange in windows.columns.ranges {
                    var sum: Float = 0
                    for d in depthRange {
                        for h in rowRange {
                            let row = x + d * plane + h * width
                            for w in columnRange { sum += row[w] }
                        }
                    }
                    y[o] = sum * scales[o]
                    o += 1
                }
            }
        }
    }

    /// The adjoint of ``averageForward(_:height:width:windows:scales:into:)``: adds dy times the
    /// window's scale to each element of the window.
    ///
    /// - Parameters: dy, scales: D'×H'×W'; dx: D×H×W, accumulated into.
    static func averageBackward(_ dy: UnsafePointer<Float>, height: Int, width: Int, windows: PoolingVolume,
                                scales: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let plane = height * width
        var o = 0
        for depthRange in windows.depths.ranges {
            for rowRange in windows.rows.ranges {
                for columnRange in windows.columns.ranges {
                    let g = dy[o] * scales[o]
                    for d in depthRange {
                        for h in rowRange {
                            let row = dx + d * plane + h * width
                            for w in columnRange { row[w] += g }
                        }
                    }
                    o += 1
                }
            }
        }
    }

    /// Max pooling of P volumes, and, when `indices` is given, the position in its volume of each
    /// window's maximum (for ``PoolingKernel/maxBackward(_:indices:planes:inputPlane:outputPlane:into:)``).
    ///
    /// - Parameters: x: P × D×H×W; y and indices: P × D'×H'×W'.
    static func maxForward(_ x: UnsafePointer<Float>, volumes: Int, depth: Int, height: Int, width: Int,
                           windows: PoolingVolume, into y: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>?) {
        let inVolume = depth * height * width, outVolume = windows.outputCount
        forEachVolume(volumes, work: volumes * outVolume * windows.firstWindowTaps) { p in
            maxForward(x + p * inVolume, height: height, width: width, windows: windows, into: y + p * outVolume,
                       indices: indices.map { $0 + p * outVolume })
        }
    }

    /// Average pooling of P volumes: each window's sum times its scale.
    ///
    /// - Parameters: x: P × D×H×W; scales: D'×H'×W' (``PoolingVolume/averageScales(countIncludePad:divisorOverride:)``);
    ///   y: P × D'×H'×W'.
    static func averageForward(_ x: UnsafePointer<Float>, volumes: Int, depth: Int, height: Int, width: Int,
                               windows: PoolingVolume, scales: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let inVolume = depth * height * width, outVolume = windows.outputCount
        forEachVolume(volumes, work: volumes * outVolume * windows.firstWindowTaps) { p in
            averageForward(x + p * inVolume, height: height, width: width, windows: windows, scales: scales, into: y + p * outVolume)
        }
    }

    /// The adjoint of ``averageForward(_:volumes:depth:height:width:windows:scales:into:)``.
    ///
    /// - Parameters: dy: P × D'×H'×W'; dx: P × D×H×W, zeroed by the caller, accumulated into.
    static func averageBackward(_ dy: UnsafePointer<Float>, volumes: Int, depth: Int, height: Int, width: Int,
                                windows: PoolingVolume, scales: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let inVolume = depth * height * width, outVolume = windows.outputCount
        forEachVolume(volumes, work: volumes * outVolume * windows.firstWindowTaps) { p in
            averageBackward(dy + p * outVolume, height: height, width: width, windows: windows, scales: scales, into: dx + p * inVolume)
        }
    }

    /// Runs `body(volume)` for `count` volumes, split among threads when the work is large.
    private static func forEachVolume(_ count: Int, work: Int, _ body: (Int) -> Void) {
        Parallel.forEach(count: count, work: work) { volumes in
            for volume in volumes { body(volume) }
        }
    }
}
