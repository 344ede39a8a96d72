/// Pointer loops of the structural ops (Ops/Structural.swift).
enum StructuralKernels {
    /// Writes zeros, in each of `matrices` contiguous row-major (rows, cols) matrices at `p`,
    /// over the elements outside a triangle: with `lower`, those above diagonal `diagonal`
    /// (column j > row i + diagonal, `torch.tril`), else those below it (j < i + diagonal,
    /// `torch.triu`). Diagonal 0 is the main one, positive ones lie above it.
    static func zeroOutsideTriangle(_ p: UnsafeMutablePointer<Float>, matrices: Int, rows: Int, cols: Int,
                                    diagonal: Int, lower: Bool) {
        // Diagonals beyond the matrix keep or zero everything: clamp so i + k cannot overflow.
        let k = Swift.min(Swift.max(diagonal, -rows - 1), cols + 1)
        for m in 0..<matrices {
            let matrix = p + m * rows * cols
            for i in 0..<rows {
                let row = matrix + i * cols
                if lower {
                    let first = Swift.min(Swift.max(i + k + 1, 0), cols)
                    (row + first).update(repeating: 0, count: cols - first)
                } else {
                    row.update(repeating: 0, count: Swift.min(Swift.max(i + k, 0), cols))
                }
            }
        }
    }
}
