// Running sums and products along the middle axis of contiguous buffers laid out as
// (outer, n, inner), and the running product's gradient. The innermost loops run over the
// `inner` contiguous elements of a slice, so a scan along any axis but the last vectorises
// across its neighbours. Blocks of `outer` run on several threads.

/// Scans (cumulative sums and products) over raw buffers.
enum CumulativeKernels {
    /// `out[o, j, i] = x[o, 0, i] ⊕ … ⊕ x[o, j, i]` with ⊕ = `combine`, or
    /// `x[o, j, i] ⊕ … ⊕ x[o, n - 1, i]` when `reversed`. `out` may not alias `x`.
    @inline(__always)
    static func scan(_ x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int, reversed: Bool,
                     into out: UnsafeMutablePointer<Float>, _ combine: (Float, Float) -> Float) {
        guard n > 0 && inner > 0 else { return }
        let step = reversed ? -inner : inner
        Parallel.forEach(count: outer, work: outer * n * inner) { range in
            for o in range {
                var row = o * n * inner + (reversed ? (n - 1) * inner : 0)
                (out + row).update(from: x + row, count: inner)
                for _ in 1..<n {
                    let previous = row
                    row += step
                    for i in 0..<inner { out[row + i] = combine(out[previous + i], x[row + i]) }
                }
            }
        }
    }

    /// The gradient of `y = cumprod(x)` along the middle axis given the output's gradient `g`:
    /// `dx[j] = (x[0] ⋯ x[j-1]) · s[j]` with `s[n-1] = g[n-1]`, `s[j] = g[j] + x[j+1] · s[j+1]`
    /// (the sum over k ≥ j of `g[k]` times the product of x[j+1…k]). No division, so zeros in
    /// `x` need no special case. `dx` may not alias the inputs.
    static func productGradient(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, outer: Int, n: Int, inner: Int,
                                into dx: UnsafeMutablePointer<Float>) {
        guard n > 0 && inner > 0 else { return }
        Parallel.forEach(count: outer, work: 3 * outer * n * inner) { range in
            let prefix = UnsafeMutablePointer<Float>.allocate(capacity: inner)
            defer { prefix.deallocate() }
            for o in range {
                let base = o * n * inner
                let last = base + (n - 1) * inner
                (dx + last).update(from: g + last, count: inner)
                for j in stride(from: n - 2, through: 0, by: -1) {
                    let row = base + j * inner, next = row + inner
                    for i in 0..<inner { dx[row + i] = g[row + i] + x[next + i] * dx[next + i] }
                }
                prefix.update(repeating: 1, count: inner)
                for j in 0..<n {
                    let row = base + j * inner
                    for i in 0..<inner {
                        dx[row + i] *= prefix[i]
                        prefix[i] *= x[row + i]
                    }
                }
            }
        }
    }
}
