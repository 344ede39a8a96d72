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

/// Separable resampling loops over one plane.
enum InterpolationKernel {
    /// y[oh, ow] = Σ_taps wr·wc·x[rows, columns].
    ///
    /// - Parameters: x: H×W (row length `width`); y: H'×W'.
    static func forward(_ x: UnsafePointer<Float>, width: Int, rows: InterpolationAxis, columns: InterpolationAxis,
                        into y: UnsafeMutablePointer<Float>) {
        let (outH, outW) = (rows.outputSize, columns.outputSize)
        for oh in 0..<outH {
            for ow in 0..<outW {
                var sum: Float = 0
                for a in 0..<rows.taps {
                    let wr = rows.weights[a * outH + oh], r = x + rows.indices[a * outH + oh] * width
                    var inner: Float = 0
                    for b in 0..<columns.taps {
                        inner += columns.weights[b * outW + ow] * r[columns.indices[b * outW + ow]]
                    }
                    sum += wr * inner
                }
                y[oh * outW + ow] = sum
            }
        }
    }

    /// The adjoint of ``forward(_:width:rows:columns:into:)``: dx[rows, columns] += wr·wc·dy[oh, ow].
    ///
    /// - Parameters: dy: H'×W'; dx: H×W (row length `width`), accumulated into.
    static func backward(_ dy: UnsafePointer<Float>, width: Int, rows: InterpolationAxis, columns: InterpolationAxis,
                         into dx: UnsafeMutablePointer<Float>) {
        let (outH, outW) = (rows.outputSize, columns.outputSize)
        for oh in 0..<outH {
            for a in 0..<rows.taps {
                let wr = rows.weights[a * outH + oh], r = dx + rows.indices[a * outH + oh] * width
                for ow in 0..<outW {
                    let g = wr * dy[oh * outW + ow]
                    for b in 0..<columns.taps {
                        r[columns.indices[b * outW + ow]] += columns.weights[b * outW + ow] * g
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
    precondition(x.rank == 4, "\(op): x of shape \(x.shape) should be (N, C, H, W)")
    precondition((size == nil) != (scale == nil), "\(op): give exactly one of size (\(String(describing: size))) and scale (\(String(describing: scale)))")
    precondition(mode == .bilinear || !alignCorners, "\(op): alignCorners applies to bilinear mode only")
    let input = [x.shape[2], x.shape[3]]
    let output = size ?? input.map { Int((Double($0) * Double(scale!)).rounded(.down)) }
    precondition(output.count == 2 && output.allSatisfy { $0 > 0 } && input.allSatisfy { $0 > 0 },
                 "\(op): output size \(output) from x of shape \(x.shape) (size \(String(describing: size)), scale \(String(describing: scale))) is empty or not 2-D")
    let axes = (0..<2).map { a in
        mode == .nearest ? InterpolationAxis(nearestInput: input[a], output: output[a], scale: scale)
                         : InterpolationAxis(linearInput: input[a], output: output[a], scale: scale, alignCorners: alignCorners)
    }
    let (rows, columns) = (axes[0], axes[1])
    let x = x.contiguous()
    let planes = x.shape[0] * x.shape[1], inPlane = input[0] * input[1], outPlane = output[0] * output[1]
    let work = planes * outPlane * rows.taps * columns.taps
    let forEachPlane = { (body: (Int) -> Void) in
        Parallel.forEachChunk(count: planes, workers: Parallel.workers(items: planes, work: work)) { _, range in
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
