/// Matrix product with PyTorch's `matmul` rules.
///
/// - 2-D: (m, k) · (k, n) → (m, n).
/// - Batched: (..., m, k) · (..., k, n) → (..., m, n), batch axes broadcast.
/// - A 1-D operand is a row (left) or column (right) vector, its axis dropped from the result.
///
/// Transposed views go to `cblas_sgemm` as flags, never copied. A batched left operand times a
/// matrix (a `Linear` on a sequence) runs as one GEMM over the merged batch.
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    guard shapeCheck(a.rank >= 1 && b.rank >= 1, "matmul: 0-D operand (shapes \(a.shape) and \(b.shape))") else { return .shapeFailure }
    if a.rank == 1 { return matmul(a.unsqueezed(axis: 0), b).squeezed(axis: -2) }
    if b.rank == 1 { return matmul(a, b.unsqueezed(axis: 1)).squeezed(axis: -1) }
    let (m, k) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (k2, n) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    guard shapeCheck(k == k2, "matmul: inner sizes differ: \(a.shape) · \(b.shape)") else { return .shapeFailure }
    if b.rank == 2 && a.rank > 2 {
        // Fold the batch into the rows: one GEMM, one weight gradient.
        let batch = Array(a.shape.dropLast(2))
        return matmul(a.reshaped([-1, k]), b).reshaped(batch + [m, n])
    }
    guard let batch = Shape.broadcast(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)), op: "matmul") else { return .shapeFailure }
    let ea = a.expanded(to: batch + [m, k]), eb = b.expanded(to: batch + [k, n])
    let (da, db) = (ea.detached(), eb.detached())
    return Tensor.op("matmul", inputs: [ea, eb], shape: batch + [m, n], flops: 2 * Shape.count(batch) * m * n * k, export: OpExport("MatMul")) {
        batchedProduct(ea, eb)
    } pullback: { g, _ in
        // An operand that is a transposed view (a `Linear` weight as `weight.mT`) gets its
        // gradient as the transpose of a contiguous product, so that it reaches the weight
        // without a copy.
        [ea.requiresGrad ? (isTransposedLayout(ea) ? batchedProduct(db, g.mT).mT : batchedProduct(g, db.mT)) : nil,
         eb.requiresGrad ? (isTransposedLayout(eb) ? batchedProduct(g.mT, da).mT : batchedProduct(da.mT, g)) : nil]
    }
}

/// Whether the matrices of `t` are stored column by column (unit stride between rows).
private func isTransposedLayout(_ t: Tensor) -> Bool {
    let r = t.rank
    return t.shape[r - 2] > 1 && t.shape[r - 1] > 1 && t.strides[r - 2] == 1 && t.strides[r - 1] >= t.shape[r - 2]
}

/// (..., m, k) · (..., k, n) for operands with equal batch shapes (any strides), without autograd:
/// the product that `matmul`, `linear` and their pullbacks run. Transposed operands go to BLAS as
/// flags; others are copied contiguous.
func batchedProduct(_ a: Tensor, _ b: Tensor, pieceWork: Int? = nil) -> Tensor {
    let r = a.rank
    let (m, k, n) = (a.shape[r - 2], a.shape[r - 1], b.shape[r - 1])
    let batch = Array(a.shape.dropLast(2))
    return Tensor.op("batchedProduct", inputs: [a, b], shape: batch + [m, n], flops: 2 * Shape.count(batch) * m * n * k,
                     export: OpExport("MatMul")) {
        let out = Tensor.uninitialized(batch + [m, n])
        func prepared(_ t: Tensor) -> (Tensor, Gemm.Operand) {
            let rows = t.shape[r - 2], cols = t.shape[r - 1]
            if let op = Gemm.operand(rows: rows, cols: cols, rowStride: t.strides[r - 2], colStride: t.strides[r - 1]) {
                return (t, op)
            }
            let c = t.contiguous()
            return (c, Gemm.operand(rows: rows, cols: cols, rowStride: c.strides[r - 2], colStride: c.strides[r - 1])!)
        }
        let (pa, opA) = prepared(a), (pb, opB) = prepared(b)
        let c = out.basePointer
        if batch.isEmpty {
            Gemm.multiply(m: m, n: n, k: k, a: pa.basePointer, opA, b: pb.basePointer, opB, c: c, ldc: n, pieceWork: pieceWork)
            return out
        }
        if Shape.count(batch) == 0 { return out }
        let (baseA, baseB) = (pa.storage.pointer, pb.storage.pointer)
        var index = 0
        StridedLoop.forEachRow(shape: batch, strides: [Array(pa.strides.dropLast(2)), Array(pb.strides.dropLast(2))],
                               offsets: [pa.offset, pb.offset]) { rowLength, off, rs in
            for i in 0..<rowLength {
                Gemm.multiply(m: m, n: n, k: k, a: baseA + off[0] + i * rs[0], opA, b: baseB + off[1] + i * rs[1], opB,
                              c: c + index * m * n, ldc: n, pieceWork: pieceWork)
                index += 1
            }
        }
        return out
    }
}

/// y = x·Wᵀ + b (`F.linear`). The bias is written into the output rows first and one GEMM
/// accumulates the product onto it, so the bias costs no extra pass over the output.
///
/// - Parameters:
///   - x: (…, inFeatures).
///   - weight: (outFeatures, inFeatures).
///   - bias: (outFeatures), or nil.
/// - Returns: (…, outFeatures).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    guard shapeCheck(weight.rank == 2 && x.rank >= 1 && x.shape.last == weight.shape[1],
                     "linear: input of shape \(x.shape) does not end in inFeatures of weight \(weight.shape)")
    else { return .shapeFailure }
    guard let bias else { return matmul(x, weight.mT) }
    let (inFeatures, outFeatures) = (weight.shape[1], weight.shape[0])
    guard shapeCheck(bias.shape == [outFeatures], "linear: bias of shape \(bias.shape) for weight \(weight.shape)")
    else { return .shapeFailure }
    let outShape = Array(x.shape.dropLast()) + [outFeatures]
    let rows = Shape.count(Array(x.shape.dropLast()))
    let (x2, w, b) = (x.reshaped([rows, inFeatures]).contiguous(), weight.contiguous(), bias.contiguous())
    // A small batch makes thin products, faster in pieces (see `Gemm.multiply`'s pieceWork).
    let pieceWork = rows <= 64 ? 1 << 20 : nil
    let (xd, wd) = (x2.detached(), w.detached())
    // The bias is not counted, as for `+`.
    return Tensor.op("linear", inputs: [x2, w, b], shape: [rows, outFeatures], flops: 2 * rows * outFeatures * inFeatures,
                     export: OpExport("Gemm", attributes: ["transB": .int(1)])) {
        Tensor.make(shape: [rows, outFeatures]) { y in
            ChannelPlanes.fillRows(y.baseAddress!, with: b.basePointer, rows: rows, length: outFeatures)
            Gemm.multiply(m: rows, n: outFeatures, k: inFeatures,
                          a: x2.basePointer, .init(transposed: false, leadingDimension: inFeatures),
                          b: w.basePointer, .init(transposed: true, leadingDimension: inFeatures),
                          beta: 1, c: y.baseAddress!, ldc: outFeatures, pieceWork: pieceWork)
        }
    } pullback: { g, _ in
        [x2.requiresGrad ? batchedProduct(g, wd, pieceWork: pieceWork) : nil,
         w.requiresGrad ? batchedProduct(g.mT, xd, pieceWork: pieceWork) : nil,
         b.requiresGrad ? g.sum(axes: [0]) : nil]
    }.reshaped(outShape)
}
