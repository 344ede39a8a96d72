// Resampling kernels over raw volumes (PyTorch's `interpolate` for 5-D input): nearest and
// trilinear. Both are separable, as in 2-D (Kernels/InterpolationKernels.swift): an output index
// along each axis reads one or two input indices with weights (an InterpolationAxis), so one
// kernel computes either mode, forward and backward.
//
// Legend: P volumes (N·C), D×H×W input volume, D'×H'×W' output volume.

/// The three axes of a 3-D resampling: depth, rows (height) and columns (width), all with the
/// same number of taps (1 nearest, 2 trilinear).
struct InterpolationVolume {
    var depths: InterpolationAxis, rows: InterpolationAxis, columns: InterpolationAxis

    /// Output elements D'·H'·W'.
    var outputCount: Int { depths.outputSize * rows.outputSize * columns.outputSize }
    /// Input elements read per output (1 or 8).
    var tapsPerOutput: Int { depths.taps * rows.taps * columns.taps }
}

/// Separable resampling loops over one volume, and over P volumes split among threads.
enum Interpolation3dKernel {
    /// y[od, oh, ow] = Σ_t wd_t · (Σ_a wr_a · (Σ_b wc_b · x[d_t, r_a, c_b])), PyTorch's order of
    /// operations for trilinear; a gather for nearest.
    ///
    /// - Parameters: x: D×H×W; y: D'×H'×W'.
    static func forward(_ x: UnsafePointer<Float>, height: Int, width: Int, axes: InterpolationVolume,
                        into y: UnsafeMutablePointer<Float>) {
        let plane = height * width
        let (outD, outH, outW) = (axes.depths.outputSize, axes.rows.outputSize, axes.columns.outputSize)
        axes.depths.withTaps { di, dw in
            axes.rows.withTaps { ri, rw in
                axes.columns.withTaps { ci, cw in
                    var out = y
                    for od in 0..<outD {
                        let s0 = x + di[od] * plane
                        if axes.depths.taps == 1 {
                            for oh in 0..<outH {
                                let row = s0 + ri[oh] * width
                                for ow in 0..<outW { out[ow] = row[ci[ow]] }
                                out += outW
                            }
                            continue
                        }
                        let s1 = x + di[outD + od] * plane, (u0, u1) = (dw[od], dw[outD + od])
                        for oh in 0..<outH {
                            let (h0, h1) = (ri[oh] * width, ri[outH + oh] * width), (w0, w1) = (rw[oh], rw[outH + oh])
                            let (r00, r01, r10, r11) = (s0 + h0, s0 + h1, s1 + h0, s1 + h1)
                            for ow in 0..<outW {
                                let (c0, c1, v0, v1) = (ci[ow], ci[outW + ow], cw[ow], cw[outW + ow])
                                out[ow] = u0 * (w0 * (v0 * r00[c0] + v1 * r00[c1]) + w1 * (v0 * r01[c0] + v1 * r01[c1]))
                                        + u1 * (w0 * (v0 * r10[c0] + v1 * r10[c1]) + w1 * (v0 * r11[c0] + v1 * r11[c1]))
                            }
                            out += outW
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of ``forward(_:height:width:axes:into:)``: each input tap of output
    /// (od, oh, ow) gets its weight times dy[od, oh, ow].
    ///
    /// - Parameters: dy: D'×H'×W'; dx: D×H×W, accumulated into.
    static func backward(_ dy: UnsafePointer<Float>, height: Int, width: Int, axes: InterpolationVolume,
                         into dx: UnsafeMutablePointer<Float>) {
        let plane = height * width
        let (outD, outH, outW) = (axes.depths.outputSize, axes.rows.outputSize, axes.columns.outputSize)
        axes.depths.withTaps { di, dw in
            axes.rows.withTaps { ri, rw in
                axes.columns.withTaps { ci, cw in
                    var g = dy
                    for od in 0..<outD {
                        let s0 = dx + di[od] * plane
                        if axes.depths.taps == 1 {
                            for oh in 0..<outH {
                                let row = s0 + ri[oh] * width
                                for ow in 0..<outW { row[ci[ow]] += g[ow] }
                                g += outW
                            }
                            continue
                        }
                        let s1 = dx + di[outD + od] * plane, (u0, u1) = (dw[od], dw[outD + od])
                        for oh in 0..<outH {
                            let (h0, h1) = (ri[oh] * width, ri[outH + oh] * width), (w0, w1) = (rw[oh], rw[outH + oh])
                            let (r00, r01, r10, r11) = (s0 + h0, s0 + h1, s1 + h0, s1 + h1)
                            for ow in 0..<outW {
                                let (c0, c1, v0, v1) = (ci[ow], ci[outW + ow], cw[ow], cw[outW + ow])
                                let (g0, g1) = (u0 * g[ow], u1 * g[ow])
                                r00[c0] += g0 * w0 * v0; r00[c1] += g0 * w0 * v1
                                r01[c0] += g0 * w1 * v0; r01[c1] += g0 * w1 * v1
                                r10[c0] += g1 * w0 * v0; r10[c1] += g1 * w0 * v1
                                r11[c0] += g1 * w1 * v0; r11[c1] += g1 * w1 * v1
                            }
                            g += outW
                        }
                    }
                }
            }
        }
    }

    /// ``forward(_:height:width:axes:into:)`` for P volumes, split among threads.
    ///
    /// - Parameters: x: P × D×H×W; y: P × D'×H'×W'.
    static func forward(_ x: UnsafePointer<Float>, volumes: Int, depth: Int, height: Int, width: Int,
                        axes: InterpolationVolume, into y: UnsafeMutablePointer<Float>) {
        let inVolume = depth * height * width, outVolume = axes.outputCount
        forEachVolume(volumes, axes: axes) { p in
            forward(x + p * inVolume, height: height, width: width, axes: axes, into: y + p * outVolume)
        }
    }

    /// ``backward(_:height:width:axes:into:)`` for P volumes, split among threads.
    ///
    /// - Parameters: dy: P × D'×H'×W'; dx: P × D×H×W, zeroed by the caller, accumulated into.
    static func backward(_ dy: UnsafePointer<Float>, volumes: Int, depth: Int, height: Int, width: Int,
                         axes: InterpolationVolume, into dx: UnsafeMutablePointer<Float>) {
        let inVolume = depth * height * width, outVolume = axes.outputCount
        forEachVolume(volumes, axes: axes) { p in
            backward(dy + p * outVolume, height: height, width: width, axes: axes, into: dx + p * inVolume)
        }
    }

    /// Runs `body(volume)` for `count` volumes, split among threads when the taps read are many.
    private static func forEachVolume(_ count: Int, axes: InterpolationVolume, _ body: (Int) -> Void) {
        Parallel.forEach(count: count, work: count * axes.outputCount * axes.tapsPerOutput) { range in
            for p in range { body(p) }
        }
    }
}
