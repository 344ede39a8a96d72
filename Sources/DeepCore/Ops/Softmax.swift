#if canImport(Glibc)
import Glibc
#endif

// Softmax and log-softmax along one axis: fused, numerically stable kernels (shift by the
// maximum) with hand-written backward. The input is read as a contiguous (outer, n, inner) block
// around the axis: lines along the last axis (inner = 1) run as contiguous rows; any other axis
// runs column-wise over the inner positions so the loops stay unit-stride.

/// exp(xᵢ − max) / Σⱼ exp(xⱼ − max) along `axis`, like `torch.softmax`. Finite for any finite
/// input (the maximum is subtracted first).
///
///     softmax(logits, axis: -1)   // (N, K) → (N, K), each row sums to 1
///
/// - Parameter x: any shape; the result has the same shape.
/// - Parameter axis: the axis that sums to 1 (negative counts from the end).
public func softmax(_ x: Tensor, axis: Int = -1) -> Tensor {
    SoftmaxKernels.apply(x, axis: axis, log: false, op: "softmax")
}

/// xᵢ − max − log Σⱼ exp(xⱼ − max) along `axis`, like `torch.log_softmax`: the logarithm of
/// ``softmax(_:axis:)`` without its underflow.
///
///     logSoftmax(logits, axis: 1)   // (N, K) → (N, K)
///
/// - Parameter x: any shape; the result has the same shape.
/// - Parameter axis: the normalised axis (negative counts from the end).
public func logSoftmax(_ x: Tensor, axis: Int = -1) -> Tensor {
    SoftmaxKernels.apply(x, axis: axis, log: true, op: "logSoftmax")
}

/// Forward and backward kernels of softmax and log-softmax over a contiguous (outer, n, inner)
/// block; `log` selects log-softmax.
enum SoftmaxKernels {
    /// Runs the forward kernel and records the backward one.
    static func apply(_ x: Tensor, axis: Int, log: Bool, op: String) -> Tensor {
        if x.rank == 0 { return apply(x.reshaped([1]), axis: 0, log: log, op: op).reshaped([]) }
        let a = Shape.normalize(axis: axis, rank: x.rank, op: op)
        let n = x.shape[a]
        let outer = x.shape[..<a].reduce(1, *), inner = x.shape[(a + 1)...].reduce(1, *)
        if let meta = Tensor.metaResult(x.shape, x) { return meta }
        let source = withoutGrad { x.contiguous() }
        let out = Tensor.make(shape: x.shape) { y in
            guard let base = y.baseAddress else { return }
            forward(source.storage.pointer + source.offset, base, outer: outer, n: n, inner: inner, log: log)
        }
        let y = out.detached()
        return out.recording(op, inputs: [x]) { g in
            let gc = g.contiguous()
            return [Tensor.make(shape: y.shape) { dx in
                guard let base = dx.baseAddress else { return }
                backward(y: y.storage.pointer + y.offset, g: gc.storage.pointer + gc.offset, dx: base,
                         outer: outer, n: n, inner: inner, log: log)
            }]
        }
    }

    /// y = softmax(x) or log-softmax(x) along n for each (outer, inner) line.
    static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        outer: Int, n: Int, inner: Int, log: Bool) {
        if inner == 1 {
            for o in 0..<outer {
                let src = x + o * n, dst = y + o * n
                var m = -Float.infinity
                for i in 0..<n { m = Swift.max(m, src[i]) }
                var s: Float = 0
                if log {
                    for i in 0..<n { s += expf(src[i] - m) }
                    let shift = m + logf(s)
                    for i in 0..<n { dst[i] = src[i] - shift }
                } else {
                    for i in 0..<n { let e = expf(src[i] - m); dst[i] = e; s += e }
                    let scale = 1 / s
                    for i in 0..<n { dst[i] *= scale }
                }
            }
            return
        }
        // Column-wise: per-inner-position running max and sum.
        let m = UnsafeMutablePointer<Float>.allocate(capacity: inner)
        let s = UnsafeMutablePointer<Float>.allocate(capacity: inner)
        defer { m.deallocate(); s.deallocate() }
        for o in 0..<outer {
            let src = x + o * n * inner, dst = y + o * n * inner
            m.initialize(repeating: -.infinity, count: inner)
            s.initialize(repeating: 0, count: inner)
            for k in 0..<n {
                let row = src + k * inner
                for j in 0..<inner { m[j] = Swift.max(m[j], row[j]) }
            }
            for k in 0..<n {
                let row = src + k * inner, out = dst + k * inner
                for j in 0..<inner { let e = expf(row[j] - m[j]); out[j] = e; s[j] += e }
            }
            if log {
                for j in 0..<inner { s[j] = m[j] + logf(s[j]) }
                for k in 0..<n {
                    let row = src + k * inner, out = dst + k * inner
                    for j in 0..<inner { out[j] = row[j] - s[j] }
                }
            } else {
                for j in 0..<inner { s[j] = 1 / s[j] }
                for k in 0..<n {
                    let out = dst + k * inner
                    for j in 0..<inner { out[j] *= s[j] }
                }
            }
        }
    }

    /// dx from the output y and its gradient g: softmax y·(g − Σ g·y); log-softmax
    /// g − exp(y)·Σ g.
    static func backward(y: UnsafePointer<Float>, g: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                         outer: Int, n: Int, inner: Int, log: Bool) {
        if inner == 1 {
            for o in 0..<outer {
                let yr = y + o * n, gr = g + o * n, dr = dx + o * n
                var dot: Float = 0
                if log {
                    for i in 0..<n { dot += gr[i] }
                    for i in 0..<n { dr[i] = gr[i] - expf(yr[i]) * dot }
                } else {
                    for i in 0..<n { dot += gr[i] * yr[i] }
                    for i in 0..<n { dr[i] = yr[i] * (gr[i] - dot) }
                }
            }
            return
        }
        let dot = UnsafeMutablePointer<Float>.allocate(capacity: inner)
        defer { dot.deallocate() }
        for o in 0..<outer {
            let base = o * n * inner
            dot.initialize(repeating: 0, count: inner)
            for k in 0..<n {
                let yr = y + base + k * inner, gr = g + base + k * inner
                if log {
                    for j in 0..<inner { dot[j] += gr[j] }
                } else {
                    for j in 0..<inner { dot[j] += gr[j] * yr[j] }
                }
            }
            for k in 0..<n {
                let yr = y + base + k * inner, gr = g + base + k * inner, dr = dx + base + k * inner
                if log {
                    for j in 0..<inner { dr[j] = gr[j] - expf(yr[j]) * dot[j] }
                } else {
                    for j in 0..<inner { dr[j] = yr[j] * (gr[j] - dot[j]) }
                }
            }
        }
    }
}
