// Scatter-add of rows (`index_add` along axis 0), whose pullback is a gather of rows.

/// Adds row r of `source` into row `rows[r]` of a zero (count, D) tensor, like
/// `torch.zeros(count, D).index_add_(0, rows, source)` (repeated rows accumulate). The gradient
/// of `source` is the output gradient's rows `rows` (a gather).
///
///     scatterAddRows(expertOutputs, rows: tokenRows, count: tokens)   // (n, D) → (count, D)
///
/// - Parameters:
///   - source: (n, D).
///   - rows: n target rows, each in 0..<count.
///   - count: rows of the result.
/// - Returns: (count, D).
public func scatterAddRows(_ source: Tensor, rows: [Int], count: Int) -> Tensor {
    guard shapeCheck(source.rank == 2 && rows.count == source.shape[0],
                     "scatterAddRows: \(rows.count) row indices for source of shape \(source.shape)")
    else { return .shapeFailure }
    for row in rows { require(row >= 0 && row < count, "scatterAddRows: row \(row) out of range 0..<\(count)") }
    let d = source.shape[1]
    return Tensor.op("scatterAddRows", inputs: [source], shape: [count, d]) {
        let src = source.contiguous()
        let out = Tensor(zeros: [count, d])
        withExtendedLifetime(src) {
            RowScatterKernels.addRows(src.storage.pointer + src.offset, rows: rows, width: d, into: out.storage.pointer)
        }
        return out
    } pullback: { g, _ in [g.indexSelected(axis: 0, indices: rows)] }
}
