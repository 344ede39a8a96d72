// Attention computed in blocks (flash attention on the CPU) over `AttentionKernels`: the public
// `scaledDotProductAttention`, and the core that multi-head attention also calls with its heads
// where its projections lay them.

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
///     0 = masked out, like PyTorch's boolean `attn_mask` (True = take part); a key-padding
///     mask is one of shape (N, 1, 1, Lk). Not differentiated.
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
    require(dropout >= 0 && dropout < 1, "\(op): dropout \(dropout) is not in [0, 1)")
    let scoreShape = lead + [lq, lk], outShape = lead + [lq, dv]
    for (name, m) in [("mask", mask), ("additiveMask", additiveMask)] {
        guard let m else { continue }
        guard shapeCheck(m.rank <= scoreShape.count && Shape.broadcast(m.shape, scoreShape, op: op) == scoreShape,
                         "\(op): \(name) of shape \(m.shape) does not broadcast to the scores' shape \(scoreShape)")
        else { return .shapeFailure }
    }
    let trailing = { (t: Tensor) in HeadLayout(batchAxes: Array(0..<(r - 2)), rowAxis: r - 2, heads: 1, column: 0, width: t.shape[r - 1]) }
    return attentionCore(q, k, v, layouts: (trailing(q), trailing(k), trailing(v)), outShape: outShape,
                         outLayout: trailing(v), scoreShape: scoreShape, mask: mask, additiveMask: additiveMask,
                         isCausal: isCausal, dropout: dropout, scale: scale ?? 1 / Float(d).squareRoot(), op: op)
}

/// Where the G = (batch…, head) matrices of an attention operand live in a tensor: the axes
/// enumerating the batch (row-major), the axis along the matrix rows, and `heads` consecutive
/// column ranges of `width` on the last axis starting at `column`. SDPA's (…, L, D) is one head
/// over the trailing axes; MultiheadAttention's projections (N, L, heads·D) hold every head.
public struct HeadLayout {
    /// The axes enumerating the batch, outermost first.
    public let batchAxes: [Int]
    /// The axis along the matrices' rows (the sequence).
    public let rowAxis: Int
    /// Matrices side by side on the last axis.
    public let heads: Int
    /// Where the first head's columns start on the last axis.
    public let column: Int
    /// Columns of each head (D).
    public let width: Int

    /// Describes the layout; see the type's description.
    public init(batchAxes: [Int], rowAxis: Int, heads: Int, column: Int, width: Int) {
        (self.batchAxes, self.rowAxis, self.heads, self.column, self.width) = (batchAxes, rowAxis, heads, column, width)
    }

    /// Whether BLAS can read `t`'s matrices where they are (unit column stride, rows at least
    /// `width` apart).
    func fits(_ t: Tensor) -> Bool {
        let last = t.rank - 1
        return (t.strides[last] == 1 || t.shape[last] == 1)
            && (t.shape[rowAxis] <= 1 || t.strides[rowAxis] >= Swift.max(width, 1))
    }

    /// The matrices of `t` for the kernels, group g = batch index · heads + head.
    func matrices(_ t: Tensor) -> AttentionKernels.Matrices {
        var offsets = [t.offset]
        for axis in batchAxes {
            offsets = offsets.flatMap { base in (0..<t.shape[axis]).map { base + $0 * t.strides[axis] } }
        }
        let columnStride = t.strides[t.rank - 1]
        offsets = offsets.flatMap { base in (0..<heads).map { base + (column + $0 * width) * columnStride } }
        let rowStride = t.shape[rowAxis] <= 1 ? Swift.max(t.shape[t.rank - 1], 1) : t.strides[rowAxis]
        return .init(base: t.storage.pointer, groupOffsets: offsets, rowStride: rowStride)
    }
}

/// Differentiable blocked attention, softmax(scale·Q Kᵀ + masks) V, over operands laid out as
/// `layouts` say (the G = (batch…, head) matrices Q (Lq, D), K (Lk, D), V (Lk, Dv) of each
/// group), writing a new contiguous output of `outShape` laid out as `outLayout` ((Lq, Dv) per
/// group). Inputs that are the same tensor (q, k, v sliced from one projection) get one
/// gradient, written in place by the kernel. The forward keeps each row's log-sum-exp for the
/// backward, which recomputes the attention weights block by block.
///
/// - Parameters:
///   - q, k, v: the operands, any shapes that `layouts` describe.
///   - outShape: the result's shape.
///   - scoreShape: (G…, Lq, Lk), whose leading axes enumerate the groups in the layouts' order.
///   - mask, additiveMask: as in ``scaledDotProductAttention(_:_:_:mask:additiveMask:isCausal:dropout:scale:)``,
///     broadcastable to `scoreShape`.
///   - isCausal, dropout: as there; `scale` multiplies Q Kᵀ.
///   - op: the name errors and the graph give the op.
/// - Returns: `outShape`.
public func attentionCore(_ q: Tensor, _ k: Tensor, _ v: Tensor, layouts: (HeadLayout, HeadLayout, HeadLayout),
                          outShape: [Int], outLayout: HeadLayout, scoreShape: [Int], mask: Tensor?, additiveMask: Tensor?,
                          isCausal: Bool, dropout: Float, scale: Float, op: String) -> Tensor {
    let (lq, lk) = (scoreShape[scoreShape.count - 2], scoreShape[scoreShape.count - 1])
    let (d, dv) = (layouts.0.width, layouts.2.width)
    let groups = Shape.count(Array(scoreShape.dropLast(2)))
    // One gradient per distinct operand, in the slot of its first occurrence (nil in the others).
    let operands = [q, k, v], shapes = [q.shape, k.shape, v.shape]
    let firsts = operands.map { t in operands.firstIndex { $0 === t }! }
    let maskNeedsGrad = additiveMask?.requiresGrad ?? false
    let maskShape = additiveMask?.shape
    return Tensor.op(op, inputs: [q, k, v, mask, additiveMask], shape: outShape, flops: 2 * groups * lq * lk * (d + dv)) {
        let call = AttentionCall(q: q, k: k, v: v, layouts: layouts, mask: mask, additiveMask: additiveMask,
                                 scoreShape: scoreShape, problem: AttentionKernels.Problem(
                                    queryLength: lq, keyLength: lk, headDim: d, valueDim: dv, scale: scale,
                                    isCausal: isCausal, dropout: dropout,
                                    dropoutSeed: dropout > 0 ? DefaultRandom.generator.next() : 0))
        let out = Tensor(storage: TensorStorage(uninitializedCount: Shape.count(outShape)), shape: outShape)
        let logSumExp = TensorStorage(uninitializedCount: groups * lq)
        call.run { p, qm, km, vm in
            AttentionKernels.forward(p, q: qm, k: km, v: vm, out: outLayout.matrices(out), logSumExp: logSumExp.pointer)
        }
        return (out, (call, logSumExp))
    } pullback: { g, output, saved in
        let (call, logSumExp) = saved
        let gc = g.contiguous()
        let grads = (0..<3).map { i in firsts[i] == i ? Tensor(zeros: shapes[i]) : nil }
        let dMask = maskNeedsGrad ? Tensor(storage: TensorStorage(uninitializedCount: groups * lq * lk), shape: scoreShape) : nil
        call.run { p, qm, km, vm in
            withExtendedLifetime((output, gc, grads)) {
                AttentionKernels.backward(p, q: qm, k: km, v: vm, out: outLayout.matrices(output),
                                          gradOut: outLayout.matrices(gc), logSumExp: logSumExp.pointer,
                                          dq: layouts.0.matrices(grads[firsts[0]]!), dk: layouts.1.matrices(grads[firsts[1]]!),
                                          dv: layouts.2.matrices(grads[firsts[2]]!), dMask: dMask?.storage.pointer)
            }
        }
        return grads + [nil, dMask.map { $0.summed(toShape: maskShape!) }]
    }
}

/// The operands of one attention call in the kernels' layout, kept alive for the backward.
private struct AttentionCall {
    let q: Tensor, k: Tensor, v: Tensor
    let layouts: (HeadLayout, HeadLayout, HeadLayout)
    let keep: Tensor?, additive: Tensor?
    let problem: AttentionKernels.Problem

    init(q: Tensor, k: Tensor, v: Tensor, layouts: (HeadLayout, HeadLayout, HeadLayout), mask: Tensor?,
         additiveMask: Tensor?, scoreShape: [Int], problem: AttentionKernels.Problem) {
        // Operands BLAS cannot read in place are copied (no autograd: gradients go to the inputs).
        func prepared(_ t: Tensor, _ layout: HeadLayout) -> Tensor {
            layout.fits(t) ? t.detached() : withoutGrad { t.copied() }
        }
        self.q = prepared(q, layouts.0)
        self.k = k === q ? self.q : prepared(k, layouts.1)
        self.v = v === q ? self.q : v === k ? self.k : prepared(v, layouts.2)
        self.layouts = layouts
        keep = mask.map { $0.detached().expanded(to: scoreShape) }
        additive = additiveMask.map { $0.detached().expanded(to: scoreShape) }
        self.problem = problem
    }

    /// A (G…, Lq, Lk) mask read in place with its (broadcast) strides.
    static func mask(_ t: Tensor) -> AttentionKernels.Mask {
        let r = t.rank
        let m = HeadLayout(batchAxes: Array(0..<(r - 2)), rowAxis: r - 2, heads: 1, column: 0, width: 1).matrices(t)
        return .init(base: t.storage.pointer, groupOffsets: m.groupOffsets, rowStride: t.strides[r - 2],
                     columnStride: t.strides[r - 1])
    }

    /// Calls `body` with the problem and the operands, keeping their memory alive meanwhile.
    func run(_ body: (AttentionKernels.Problem, AttentionKernels.Matrices, AttentionKernels.Matrices,
                      AttentionKernels.Matrices) -> Void) {
        var p = problem
        p.keepMask = keep.map(Self.mask)
        p.additiveMask = additive.map(Self.mask)
        withExtendedLifetime((q, k, v, keep, additive)) {
            body(p, layouts.0.matrices(q), layouts.1.matrices(k), layouts.2.matrices(v))
        }
    }
}
