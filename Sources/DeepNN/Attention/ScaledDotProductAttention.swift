import DeepCore

/// softmax(scale·Q Kᵀ + masks) V, like `F.scaled_dot_product_attention`, computed in blocks
/// (flash attention on the CPU): the (Lq, Lk) score matrix is never stored. The forward keeps
/// only the output and each row's log-sum-exp; the backward recomputes the attention weights
/// block by block.
///
///     scaledDotProductAttention(q, k, v, isCausal: true)   // (N, H, L, D) → (N, H, L, D)
///
/// - Parameters:
///   - q: (…, Lq, D) queries; k: (…, Lk, D) keys; v: (…, Lk, Dv) values. The leading axes
///     (batch, heads) are equal in all three (expand a tensor to share keys among heads).
///   - mask: which keys each query may see, broadcastable to (…, Lq, Lk): nonzero (1) = attend,
///     0 = masked out, like PyTorch's boolean `attn_mask` (True = take part). Not differentiated.
///   - additiveMask: added to the scaled scores, broadcastable to (…, Lq, Lk), like a float
///     `attn_mask` (−∞ masks out); differentiable.
///   - isCausal: query i sees keys j ≤ i only (top-left aligned when Lq ≠ Lk, as PyTorch).
///   - dropout: probability of dropping each attention weight (the rest scaled by 1/(1 − p)),
///     applied whenever it is nonzero, as `dropout_p`; the mask is drawn from a seed taken from
///     ``DefaultRandom`` and regenerated in the backward.
///   - scale: multiplies Q Kᵀ; 1/√D when nil.
/// - Returns: (…, Lq, Dv). A query whose keys are all masked out gets 0 (and no gradient), as
///   PyTorch's CPU kernel gives.
public func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil,
                                      additiveMask: Tensor? = nil, isCausal: Bool = false,
                                      dropout: Float = 0, scale: Float? = nil) -> Tensor {
    let op = "scaledDotProductAttention"
    guard shapeCheck(q.rank >= 2 && k.rank == q.rank && v.rank == q.rank,
                     "\(op): q \(q.shape), k \(k.shape), v \(v.shape) must share a rank of at least 2") else { return .shapeFailure }
    let r = q.rank
    let lead = Array(q.shape.dropLast(2))
    let (lq, d, lk, dv) = (q.shape[r - 2], q.shape[r - 1], k.shape[r - 2], v.shape[r - 1])
    guard shapeCheck(Array(k.shape.dropLast(2)) == lead && Array(v.shape.dropLast(2)) == lead
                     && k.shape[r - 1] == d && v.shape[r - 2] == lk,
                     "\(op): q \(q.shape), k \(k.shape), v \(v.shape) do not fit (…, Lq, D), (…, Lk, D), (…, Lk, Dv)")
    else { return .shapeFailure }
    precondition(dropout >= 0 && dropout < 1, "\(op): dropout \(dropout) is not in [0, 1)")
    let scoreShape = lead + [lq, lk], outShape = lead + [lq, dv]
    for (name, m) in [("mask", mask), ("additiveMask", additiveMask)] {
        guard let m else { continue }
        guard shapeCheck(m.rank <= scoreShape.count && Shape.broadcast(m.shape, scoreShape, op: op) == scoreShape,
                         "\(op): \(name) of shape \(m.shape) does not broadcast to the scores' shape \(scoreShape)")
        else { return .shapeFailure }
    }
    if let meta = Tensor.metaResult(outShape, q, k, v, mask, additiveMask) {
        FlopCounter.add(2 * Shape.count(lead) * lq * lk * (d + dv))
        return meta
    }
    let call = AttentionCall(q: q, k: k, v: v, mask: mask, additiveMask: additiveMask, scoreShape: scoreShape,
                             scale: scale ?? 1 / Float(d).squareRoot(), isCausal: isCausal, dropout: dropout,
                             seed: dropout > 0 ? DefaultRandom.generator.next() : 0)
    let groups = Shape.count(lead)
    let out = Tensor(storage: TensorStorage(uninitializedCount: groups * lq * dv), shape: outShape)
    let logSumExp = TensorStorage(uninitializedCount: groups * lq)
    call.run { p, qm, km, vm in
        AttentionKernels.forward(p, q: qm, k: km, v: vm, out: out.storage.pointer, logSumExp: logSumExp.pointer)
    }
    let maskNeedsGrad = additiveMask?.requiresGrad ?? false
    let inputs = [q, k, v] + (maskNeedsGrad ? [additiveMask!] : [])
    let output = out.detached()
    return out.recording(op, inputs: inputs) { g in
        let gc = g.contiguous()
        let dq = Tensor(storage: TensorStorage(uninitializedCount: groups * lq * d), shape: lead + [lq, d])
        let dk = Tensor(storage: TensorStorage(uninitializedCount: groups * lk * d), shape: lead + [lk, d])
        let dvt = Tensor(storage: TensorStorage(uninitializedCount: groups * lk * dv), shape: lead + [lk, dv])
        let dMask = maskNeedsGrad ? Tensor(storage: TensorStorage(uninitializedCount: groups * lq * lk), shape: scoreShape) : nil
        call.run { p, qm, km, vm in
            withExtendedLifetime((output, gc)) {
                AttentionKernels.backward(p, q: qm, k: km, v: vm,
                                          out: output.storage.pointer + output.offset,
                                          gradOut: gc.storage.pointer + gc.offset, logSumExp: logSumExp.pointer,
                                          dq: dq.storage.pointer, dk: dk.storage.pointer, dv: dvt.storage.pointer,
                                          dMask: dMask?.storage.pointer)
            }
        }
        return [dq, dk, dvt] + (maskNeedsGrad ? [dMask!.summed(toShape: call.additiveMaskShape)] : [])
    }
}

/// The operands of one attention call in the kernels' layout, kept alive for the backward.
private struct AttentionCall {
    let q: Tensor, k: Tensor, v: Tensor
    let keep: Tensor?, additive: Tensor?
    let additiveMaskShape: [Int]
    let problem: AttentionKernels.Problem

    init(q: Tensor, k: Tensor, v: Tensor, mask: Tensor?, additiveMask: Tensor?, scoreShape: [Int],
         scale: Float, isCausal: Bool, dropout: Float, seed: UInt64) {
        self.q = Self.matrixLayout(q)
        self.k = Self.matrixLayout(k)
        self.v = Self.matrixLayout(v)
        keep = mask.map { $0.detached().expanded(to: scoreShape) }
        additive = additiveMask.map { $0.detached().expanded(to: scoreShape) }
        additiveMaskShape = additiveMask?.shape ?? []
        let r = q.rank
        problem = AttentionKernels.Problem(
            queryLength: q.shape[r - 2], keyLength: k.shape[r - 2], headDim: q.shape[r - 1], valueDim: v.shape[r - 1],
            scale: scale, isCausal: isCausal, dropout: dropout, dropoutSeed: seed)
    }

    /// `t` itself when its rows can go to BLAS as they are (unit column stride, rows at least a
    /// row apart), else a contiguous copy; no autograd.
    static func matrixLayout(_ t: Tensor) -> Tensor {
        let r = t.rank, rows = t.shape[r - 2], cols = t.shape[r - 1]
        let columnsOK = cols <= 1 || t.strides[r - 1] == 1
        let rowsOK = rows <= 1 || t.strides[r - 2] >= Swift.max(cols, 1)
        if columnsOK && rowsOK { return t.detached() }
        return withoutGrad { t.copied() }
    }

    /// Element offsets of each (…) index of `t`'s leading axes, in row-major order.
    static func groupOffsets(_ t: Tensor) -> [Int] {
        let lead = Array(t.shape.dropLast(2))
        var offsets = [t.offset]
        for (size, stride) in zip(lead, t.strides) {
            offsets = offsets.flatMap { base in (0..<size).map { base + $0 * stride } }
        }
        return offsets
    }

    static func matrices(_ t: Tensor) -> AttentionKernels.Matrices {
        let r = t.rank
        let rowStride = t.shape[r - 2] <= 1 ? Swift.max(t.shape[r - 1], 1) : t.strides[r - 2]
        return .init(base: t.storage.pointer, groupOffsets: groupOffsets(t), rowStride: rowStride)
    }

    static func mask(_ t: Tensor) -> AttentionKernels.Mask {
        let r = t.rank
        return .init(base: t.storage.pointer, groupOffsets: groupOffsets(t), rowStride: t.strides[r - 2],
                     columnStride: t.strides[r - 1])
    }

    /// Calls `body` with the problem and the operands, keeping their memory alive meanwhile.
    func run(_ body: (AttentionKernels.Problem, AttentionKernels.Matrices, AttentionKernels.Matrices,
                      AttentionKernels.Matrices) -> Void) {
        var p = problem
        p.keepMask = keep.map(Self.mask)
        p.additiveMask = additive.map(Self.mask)
        withExtendedLifetime((q, k, v, keep, additive)) {
            body(p, Self.matrices(q), Self.matrices(k), Self.matrices(v))
        }
    }
}
