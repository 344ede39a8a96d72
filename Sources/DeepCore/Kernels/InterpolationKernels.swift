// Resampling kernels over raw buffers (PyTorch's `interpolate`): nearest and bilinear. Both are
// separable: an output row reads one or two input rows with weights, an output column one or two
// columns, so each axis is described by its taps and one kernel computes any mode, forward and
// backward.
//
// Legend: P planes (N·C), H×W input plane, H'×W' output plane.

/// The input indices and weights that each output index along one axis reads.
struct InterpolationAxis {
    /// Taps per output: 1 (nearest) or 2 (linear).
    var taps: Int
    /// Input index of tap t for output o at `t·outputSize + o`.
    var indices: [Int]
    /// Weight of tap t for output o at `t·outputSize + o`.
    var weights: [Float]
    var outputSize: Int

    /// PyTorch's source-to-destination scale: (in−1)/(out−1) with aligned corners, else
    /// 1/scale when a scale factor was given, else in/out.
    private static func ratio(input: Int, output: Int, scale: Float?, alignCorners: Bool) -> Float {
        if alignCorners { return output > 1 ? Float(input - 1) / Float(output - 1) : 0 }
        if let scale, scale > 0 { return Float(1.0 / Double(scale)) }
        return Float(input) / Float(output)
    }

    /// Nearest neighbour: output o reads input min(⌊o·ratio⌋, in − 1).
    init(nearestInput input: Int, output: Int, scale: Float?) {
        let ratio = Self.ratio(input: input, output: output, scale: scale, alignCorners: false)
        taps = 1
        outputSize = output
        weights = [Float](repeating: 1, count: output)
        indices = (0..<output).map { o in
            output == input ? o : Swift.min(Int((Float(o) * ratio).rounded(.down)), input - 1)
        }
    }

    /// Linear: output o reads the two inputs around its source position
    /// `ratio·o` (aligned corners) or `ratio·(o + ½) − ½` clamped at 0.
    init(linearInput input: Int, output: Int, scale: Float?, alignCorners: Bool) {
        let ratio = Self.ratio(input: input, output: output, scale: scale, alignCorners: alignCorners)
        taps = 2
        outputSize = output
        indices = [Int](repeating: 0, count: 2 * output)
        weights = [Float](repeating: 0, count: 2 * output)
        for o in 0..<output {
            var i0 = o, lambda: Float = 0
            if output != input {
                let source = alignCorners ? ratio * Float(o) : Swift.max(ratio * (Float(o) + 0.5) - 0.5, 0)
                i0 = Swift.min(Int(source.rounded(.down)), input - 1)
                lambda = Swift.min(Swift.max(source - Float(i0), 0), 1)
            }
            indices[o] = i0
            indices[output + o] = i0 + (i0 < input - 1 ? 1 : 0)
            weights[o] = 1 - lambda
            weights[output + o] = lambda
        }
    }
}

extension InterpolationAxis {
    /// Calls `body` with the indices and weights as buffers (tap t of output o at t·outputSize + o).
    @inline(__always)
    func withTaps<R>(_ body: (UnsafeBufferPointer<Int>, UnsafeBufferPointer<Float>) -> R) -> R {
        indices.withUnsafeBufferPointer { i in weights.withUnsafeBufferPointer { w in body(i, w) } }
    }
}

/// Separable resampling loops over one plane, and over P planes. Both axes have the same number of taps: 1
/// (nearest, a gather) or 2 (bilinear, PyTorch's order of operations).
enum InterpolationKernel {
    /// y[oh, ow] = Σ_a wr_a · (Σ_b wc_b · x[r_a, c_b]).
    ///
    /// - Parameters: x: H×W (row length `width`); y: H'×W'.
    static func forward(_ x: UnsafePointer<Float>, width: Int, rows: InterpolationAxis, columns: InterpolationAxis,
                        into y: UnsafeMutablePointer<Float>) {
        let (outH, outW) = (rows.outputSize, columns.outputSize)
        rows.withTaps { ri, rw in
            columns.withTaps { ci, cw in
                for oh in 0..<outH {
                    let out = y + oh * outW, r0 = x + ri[oh] * width
                    if rows.taps == 1 {
                        for ow in 0..<outW { out[ow] = r0[ci[ow]] }
                        continue
                    }
                    let r1 = x + ri[outH + oh] * width, (w0, w1) = (rw[oh], rw[outH + oh])
                    for ow in 0..<outW {
                        let (c0, c1, v0, v1) = (ci[ow], ci[outW + ow], cw[ow], cw[outW + ow])
                        out[ow] = w0 * (v0 * r0[c0] + v1 * r0[c1]) + w1 * (v0 * r1[c0] + v1 * r1[c1])
                    }
                }
            }
        }
    }

    /// The adjoint of ``forward(_:width:rows:columns:into:)``: dx[r_a, c_b] += wr_a·wc_b·dy[oh, ow].
    ///
    /// - Parameters: dy: H'×W'; dx: H×W (row length `width`), accumulated into.
    static func backward(_ dy: UnsafePointer<Float>, width: Int, rows: InterpolationAxis, columns: InterpolationAxis,
                         into dx: UnsafeMutablePointer<Float>) {
        let (outH, outW) = (rows.outputSize, columns.outputSize)
        rows.withTaps { ri, rw in
            columns.withTaps { ci, cw in
                for oh in 0..<outH {
                    let g = dy + oh * outW, r0 = dx + ri[oh] * width
                    if rows.taps == 1 {
                        for ow in 0..<outW { r0[ci[ow]] += g[ow] }
                        continue
                    }
                    let r1 = dx + ri[outH + oh] * width, (w0, w1) = (rw[oh], rw[outH + oh])
                    for ow in 0..<outW {
                        let (c0, c1, v0, v1) = (ci[ow], ci[outW + ow], cw[ow], cw[outW + ow])
                        r0[c0] += w0 * v0 * g[ow]; r0[c1] += w0 * v1 * g[ow]
                        r1[c0] += w1 * v0 * g[ow]; r1[c1] += w1 * v1 * g[ow]
                    }
                }
            }
        }
    }
    /// ``forward(_:width:rows:columns:into:)`` for P planes, split among threads.
    ///
    /// - Parameters: x: P × H×W (row length `width`); y: P × H'×W'.
    static func forward(_ x: UnsafePointer<Float>, planes: Int, height: Int, width: Int, rows: InterpolationAxis,
                        columns: InterpolationAxis, into y: UnsafeMutablePointer<Float>) {
        let inPlane = height * width, outPlane = rows.outputSize * columns.outputSize
        forEachPlane(planes, rows: rows, columns: columns) { p in
            forward(x + p * inPlane, width: width, rows: rows, columns: columns, into: y + p * outPlane)
        }
    }

    /// ``backward(_:width:rows:columns:into:)`` for P planes, split among threads.
    ///
    /// - Parameters: dy: P × H'×W'; dx: P × H×W (row length `width`), zeroed by the caller,
    ///   accumulated into.
    static func backward(_ dy: UnsafePointer<Float>, planes: Int, height: Int, width: Int, rows: InterpolationAxis,
                         columns: InterpolationAxis, into dx: UnsafeMutablePointer<Float>) {
        let inPlane = height * width, outPlane = rows.outputSize * columns.outputSize
        forEachPlane(planes, rows: rows, columns: columns) { p in
            backward(dy + p * outPlane, width: width, rows: rows, columns: columns, into: dx + p * inPlane)
        }
    }

    /// Runs `body(plane)` for `count` planes, split among threads when the taps visited are many.
    private static func forEachPlane(_ count: Int, rows: InterpolationAxis, columns: InterpolationAxis,
                                     _ body: (Int) -> Void) {
        let work = count * rows.outputSize * columns.outputSize * rows.taps * columns.taps
        Parallel.forEach(count: count, work: work) { range in
            for p in range { body(p) }
        }
    }
}
