// Embedding lookup: rows of a table chosen by integer ids, whose pullback adds each row's gradient
// back into the row it came from.

/// The rows of `weight` named by `ids`, like `F.embedding(ids, weight, padding_idx)`: out[…, :] =
/// weight[ids[…], :]. The pullback adds each output row's gradient into its table row (repeated
/// ids accumulate), except into `paddingIdx`, whose gradient stays zero.
///
///     embedding(ids: tokens, weight: table)   // (N, L) ids, (V, D) → (N, L, D)
///
/// - Parameters:
///   - ids: (…) integers in 0..<V stored as Float; not differentiated.
///   - weight: (V, D), the table.
///   - paddingIdx: a row in 0..<V that gets no gradient, or nil.
/// - Returns: (…, D).
public func embedding(ids: Tensor, weight: Tensor, paddingIdx: Int? = nil) -> Tensor {
    guard shapeCheck(weight.rank == 2, "embedding: weight \(weight.shape) is not (V, D)") else { return .shapeFailure }
    let (count, width) = (weight.shape[0], weight.shape[1])
    return Tensor.op("embedding", inputs: [ids, weight], shape: ids.shape + [width]) {
        let rows = ids.scalars.map { value -> Int in
            require(value >= 0 && value < Float(count) && value == value.rounded(),
                    "embedding: id \(value) is not an integer in 0..<\(count)")
            return Int(value)
        }
        return (weight.indexSelected(axis: 0, indices: rows).reshaped(ids.shape + [width]), rows)
    } pullback: { g, _, rows in
        let gc = g.contiguous()
        let dWeight = Tensor(zeros: [count, width])
        withExtendedLifetime(gc) {
            RowScatterKernels.addRows(gc.storage.pointer + gc.offset, rows: rows, width: width, skipping: paddingIdx,
                                      into: dWeight.storage.pointer)
        }
        return [nil, dWeight]
    }
}
