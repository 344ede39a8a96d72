// Adding rows of a matrix into chosen rows of another (`index_add` along axis 0): the forward of
// a scatter and the pullback of a lookup (embedding).

/// Row scatter-add over raw rows.
enum RowScatterKernels {
    /// Adds row r of `source` (rows.count, width) into row `rows[r]` of `out`, in order (repeated
    /// rows accumulate), skipping every r whose target is `skipping`. Both contiguous; every
    /// target row is in `out`.
    static func addRows(_ source: UnsafePointer<Float>, rows: [Int], width: Int, skipping: Int? = nil,
                        into out: UnsafeMutablePointer<Float>) {
        for (r, row) in rows.enumerated() where row != skipping {
            let from = source + r * width, to = out + row * width
            for c in 0..<width { to[c] += from[c] }
        }
    }
}
