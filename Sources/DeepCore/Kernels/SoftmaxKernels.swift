#if canImport(Glibc)
import Glibc
#endif

/// Forward and backward kernels of softmax and log-softmax over a contiguous (outer, n, inner)
/// block (the normalised axis of length n in the middle); `log` selects log-softmax. Lines along
/// the last axis (inner = 1) run as contiguous rows; any other axis runs column-wise over the
/// inner positions so the loops stay unit-stride.
enum SoftmaxKernels {
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
