// Resampling of images (PyTorch's `interpolate`): nearest and bilinear. Both are separable: an
// output row reads one or two input rows with weights, an output column one or two columns, so
// each axis is described by its taps and one kernel computes any mode, forward and backward.

/// How ``interpolate(_:size:scale:mode:alignCorners:)`` computes an output pixel.
public enum InterpolationMode {
    /// The input pixel at ⌊dst·in/out⌋ (PyTorch's `"nearest"`).
    case nearest
    /// The two-by-two weighted average around the source position (PyTorch's `"bilinear"`).
    case bilinear
}

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

/// Separable resampling loops over one plane. Both axes have the same number of taps: 1
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
}

/// Resizes a batch of images (PyTorch's `interpolate` for 4-D input), to `size` or by `scale`.
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
    if let meta = Tensor.metaResult([x.shape[0], x.shape[1], output[0], output[1]], x) { return meta }
    let x = x.contiguous()
    let planes = x.shape[0] * x.shape[1], inPlane = input[0] * input[1], outPlane = output[0] * output[1]
    let work = planes * outPlane * rows.taps * columns.taps
    let forEachPlane = { (body: (Int) -> Void) in
        Parallel.forEach(count: planes, work: work) { range in
            for p in range { body(p) }
        }
    }
    let y = Tensor.uninitialized([x.shape[0], x.shape[1], output[0], output[1]])
    let (src, dst) = (UnsafePointer(x.basePointer), y.basePointer)
    forEachPlane { p in
        InterpolationKernel.forward(src + p * inPlane, width: input[1], rows: rows, columns: columns, into: dst + p * outPlane)
    }
    let inputShape = x.shape
    return y.recording(op, inputs: [x]) { grad in
        let dy = grad.contiguous()
        let dx = Tensor(zeros: inputShape)
        let (gsrc, gdst) = (UnsafePointer(dy.basePointer), dx.basePointer)
        forEachPlane { p in
            InterpolationKernel.backward(gsrc + p * outPlane, width: input[1], rows: rows, columns: columns, into: gdst + p * inPlane)
        }
        return [dx]
    }
}
