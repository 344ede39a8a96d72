import DeepCore

/// Multi-head attention (`nn.MultiheadAttention`): queries, keys and values projected to
/// `numHeads` heads of `embedDim / numHeads`, attended with ``scaledDotProductAttention(_:_:_:mask:additiveMask:isCausal:dropout:scale:)``,
/// concatenated and projected by `out_proj`.
///
/// Parameters, named as PyTorch names them:
/// - `in_proj_weight` (3E, E), xavier-uniform, when keys and values have width E; otherwise
///   `q_proj_weight` (E, E), `k_proj_weight` (E, kdim), `v_proj_weight` (E, vdim), each
///   xavier-uniform;
/// - `in_proj_bias` (3E), zeros (when `bias`);
/// - `out_proj.weight` (E, E) with Linear's initialisation, `out_proj.bias` (E) zeros.
///
/// Shapes (L queries, S keys, N batch): query (L, N, E), key (S, N, kdim), value (S, N, vdim),
/// or batch first (N, L, E) …; unbatched (L, E) … also works. Output like the query.
public final class MultiheadAttention: Module {
    /// (3E, E) packed query/key/value projection, or nil when kdim or vdim differ from E.
    public let inProjWeight: Tensor?
    /// (E, E), (E, kdim), (E, vdim) separate projections when kdim or vdim differ from E.
    public let qProjWeight: Tensor?, kProjWeight: Tensor?, vProjWeight: Tensor?
    /// (3E) projection bias, or nil.
    public let inProjBias: Tensor?
    /// The output projection E → E.
    public let outProj: Linear
    /// E, the number of heads, and the widths of keys and values.
    public let embedDim: Int, numHeads: Int, kdim: Int, vdim: Int
    /// Probability of dropping an attention weight in training.
    public let dropout: Float
    /// Whether inputs are (N, L, E) rather than (L, N, E).
    public let batchFirst: Bool

    /// Creates the layer with PyTorch's initialisation from the default generator.
    public init(embedDim: Int, numHeads: Int, dropout: Float = 0, bias: Bool = true, kdim: Int? = nil,
                vdim: Int? = nil, batchFirst: Bool = false) {
        require(numHeads > 0 && embedDim % numHeads == 0,
                "MultiheadAttention: embedDim \(embedDim) is not divisible by numHeads \(numHeads)")
        self.embedDim = embedDim
        self.numHeads = numHeads
        self.kdim = kdim ?? embedDim
        self.vdim = vdim ?? embedDim
        self.dropout = dropout
        self.batchFirst = batchFirst
        outProj = Linear(embedDim, embedDim, bias: bias)
        if self.kdim == embedDim && self.vdim == embedDim {
            inProjWeight = Initializer.xavierUniform([3 * embedDim, embedDim], generator: &DefaultRandom.generator)
            (qProjWeight, kProjWeight, vProjWeight) = (nil, nil, nil)
        } else {
            inProjWeight = nil
            qProjWeight = Initializer.xavierUniform([embedDim, embedDim], generator: &DefaultRandom.generator)
            kProjWeight = Initializer.xavierUniform([embedDim, self.kdim], generator: &DefaultRandom.generator)
            vProjWeight = Initializer.xavierUniform([embedDim, self.vdim], generator: &DefaultRandom.generator)
        }
        inProjBias = bias ? Tensor(zeros: [3 * embedDim]) : nil
        outProj.bias?.assign(Tensor(zeros: [embedDim]))
        super.init()
    }

    /// Self-attention without masks or weights: `x` attends to itself.
    public override func forward(_ x: Tensor) -> Tensor {
        self(query: x, key: x, value: x, needWeights: false).output
    }

    /// Attends from `query` to `key`/`value`.
    ///
    /// - Parameters:
    ///   - query: (L, N, E), or (N, L, E) when `batchFirst`, or unbatched (L, E).
    ///   - key: (S, N, kdim) …; value: (S, N, vdim) ….
    ///   - keyPaddingMask: (N, S) (or (S) unbatched), 1 = padding to ignore, 0 = a real key
    ///     (PyTorch's boolean `key_padding_mask`).
    ///   - attnMask: (L, S) or (N·numHeads, L, S), 1 = not allowed to attend, 0 = allowed
    ///     (PyTorch's boolean `attn_mask` for this module).
    ///   - additiveAttnMask: (L, S) or (N·numHeads, L, S) added to the scores (PyTorch's float
    ///     `attn_mask`, e.g. 0 / −∞).
    ///   - needWeights: also return the attention weights; this takes the path that stores the
    ///     whole (L, S) weights, as PyTorch does.
    ///   - averageAttnWeights: average the returned weights over heads.
    ///   - isCausal: query i attends to keys j ≤ i only (applied in addition to the masks).
    /// - Returns: the output shaped like the query, and with `needWeights` the weights
    ///   (N, L, S), or (N, numHeads, L, S) without averaging (no N when unbatched).
    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, keyPaddingMask: Tensor? = nil,
                               attnMask: Tensor? = nil, additiveAttnMask: Tensor? = nil, needWeights: Bool = true,
                               averageAttnWeights: Bool = true, isCausal: Bool = false) -> (output: Tensor, weights: Tensor?) {
        var weights: Tensor? = nil
        let output = traced(inputs: [query, key, value]) {
            let result = attend(query: query, key: key, value: value, keyPaddingMask: keyPaddingMask, attnMask: attnMask,
                                additiveAttnMask: additiveAttnMask, needWeights: needWeights,
                                averageAttnWeights: averageAttnWeights, isCausal: isCausal)
            weights = result.weights
            return result.output
        }
        return (output, weights)
    }

    /// The computation of ``callAsFunction(query:key:value:keyPaddingMask:attnMask:additiveAttnMask:needWeights:averageAttnWeights:isCausal:)``.
    private func attend(query: Tensor, key: Tensor, value: Tensor, keyPaddingMask: Tensor?, attnMask: Tensor?,
                        additiveAttnMask: Tensor?, needWeights: Bool, averageAttnWeights: Bool,
                        isCausal: Bool) -> (output: Tensor, weights: Tensor?) {
        let name = "MultiheadAttention"
        if query.rank == 2 {
            guard shapeCheck(key.rank == 2 && value.rank == 2,
                             "\(name): unbatched query \(query.shape) with key \(key.shape), value \(value.shape)")
            else { return (.shapeFailure, nil) }
            let axis = batchFirst ? 0 : 1
            let (out, weights) = attend(query: query.unsqueezed(axis: axis), key: key.unsqueezed(axis: axis),
                                        value: value.unsqueezed(axis: axis),
                                        keyPaddingMask: keyPaddingMask?.unsqueezed(axis: 0), attnMask: attnMask,
                                        additiveAttnMask: additiveAttnMask, needWeights: needWeights,
                                        averageAttnWeights: averageAttnWeights, isCausal: isCausal)
            return (out.squeezed(axis: axis), weights?.squeezed(axis: 0))
        }
        let (e, h) = (embedDim, numHeads)
        guard shapeCheck(query.rank == 3 && key.rank == 3 && value.rank == 3
                         && query.shape[2] == e && key.shape[2] == kdim && value.shape[2] == vdim,
                         "\(name): query \(query.shape), key \(key.shape), value \(value.shape) do not end in E \(e), kdim \(kdim), vdim \(vdim)")
        else { return (.shapeFailure, nil) }
        let batchAxis = batchFirst ? 0 : 1, lengthAxis = batchFirst ? 1 : 0
        let n = query.shape[batchAxis], l = query.shape[lengthAxis], s = key.shape[lengthAxis]
        guard shapeCheck(key.shape[batchAxis] == n && value.shape[batchAxis] == n && value.shape[lengthAxis] == s,
                         "\(name): batch or length of query \(query.shape), key \(key.shape), value \(value.shape) differ")
        else { return (.shapeFailure, nil) }
        // Project (one GEMM for self-attention), then attend over the heads where they lie.
        let (q, k, v) = projections(query: query, key: key, value: value)
        guard let masks = attentionMasks(n: n, l: l, s: s, keyPaddingMask: keyPaddingMask, attnMask: attnMask,
                                         additiveAttnMask: additiveAttnMask) else { return (.shapeFailure, nil) }
        let p = isTraining ? dropout : 0
        let outShape = batchFirst ? [n, l, e] : [l, n, e]
        // ONNX export takes this path too: its ops (matmul, softmax, views) each have an ONNX form.
        if needWeights || ExportTrace.isRecording {
            // Heads as (N, H, length, E/H) views for the path that keeps whole score matrices.
            func split(_ t: (Tensor, Int)) -> Tensor {
                let (x, column) = t
                let perHead = x.reshaped(Array(x.shape.dropLast()) + [x.shape[2] / e, h, e / h])
                    .narrowed(axis: 2, start: column / e, length: 1).squeezed(axis: 2)
                return perHead.permuted(batchFirst ? [0, 2, 1, 3] : [1, 2, 0, 3])
            }
            var (attended, weights) = attentionWithWeights(split(q), split(k), split(v), keep: masks.keep,
                                                           additive: masks.additive, isCausal: isCausal, dropout: p)
            if needWeights && averageAttnWeights { weights = weights.mean(axis: 1) }
            attended = attended.permuted(batchFirst ? [0, 2, 1, 3] : [2, 0, 1, 3]).reshaped(outShape)
            return (outProj(attended), needWeights ? weights : nil)
        }
        let layout = { (column: Int) in
            HeadLayout(batchAxes: [batchAxis], rowAxis: lengthAxis, heads: h, column: column, width: e / h)
        }
        let attended = attentionCore(q.0, k.0, v.0, layouts: (layout(q.1), layout(k.1), layout(v.1)), outShape: outShape,
                                     outLayout: layout(0), scoreShape: [n, h, l, s], mask: masks.keep,
                                     additiveMask: masks.additive, isCausal: isCausal, dropout: p,
                                     scale: 1 / Float(e / h).squareRoot(), op: name)
        return (outProj(attended), nil)
    }

    /// The projected queries, keys and values, each as (tensor, first column): (…, E) slices of
    /// one (…, 3E) projection for self-attention, of one (…, 2E) for keys and values that are
    /// the same tensor, else three projections.
    private func projections(query: Tensor, key: Tensor, value: Tensor) -> ((Tensor, Int), (Tensor, Int), (Tensor, Int)) {
        let e = embedDim
        func project(_ x: Tensor, rows start: Int, count: Int, weight: Tensor? = nil) -> Tensor {
            let w = weight ?? inProjWeight!.narrowed(axis: 0, start: start, length: count)
            // `linear` writes the bias into the output and accumulates the product onto it.
            return linear(x, weight: w, bias: inProjBias?.narrowed(axis: 0, start: start, length: count))
        }
        if inProjWeight != nil && query === key && key === value {
            let qkv = project(query, rows: 0, count: 3 * e)
            return ((qkv, 0), (qkv, e), (qkv, 2 * e))
        }
        if inProjWeight != nil && key === value {
            let kv = project(key, rows: e, count: 2 * e)
            return ((project(query, rows: 0, count: e), 0), (kv, 0), (kv, e))
        }
        return ((project(query, rows: 0, count: e, weight: qProjWeight), 0),
                (project(key, rows: e, count: e, weight: kProjWeight), 0),
                (project(value, rows: 2 * e, count: e, weight: vProjWeight), 0))
    }

    /// The masks in ``scaledDotProductAttention(_:_:_:mask:additiveMask:isCausal:dropout:scale:)``'s
    /// convention (1 = attend; additive), broadcastable to (N, H, L, S); nil after a recorded
    /// shape failure.
    private func attentionMasks(n: Int, l: Int, s: Int, keyPaddingMask: Tensor?, attnMask: Tensor?,
                                additiveAttnMask: Tensor?) -> (keep: Tensor?, additive: Tensor?)? {
        let name = "MultiheadAttention"
        func perHead(_ m: Tensor, _ label: String) -> Tensor? {
            if m.rank == 2 && m.shape == [l, s] { return m }
            guard shapeCheck(m.rank == 3 && m.shape == [n * numHeads, l, s],
                             "\(name): \(label) of shape \(m.shape) is neither (L, S) = \([l, s]) nor (N·heads, L, S) = \([n * numHeads, l, s])")
            else { return nil }
            return m.reshaped([n, numHeads, l, s])
        }
        var keep: Tensor? = nil
        if let attnMask {
            guard let m = perHead(attnMask.detached(), "attnMask") else { return nil }
            keep = 1 - m
        }
        if let keyPaddingMask {
            guard shapeCheck(keyPaddingMask.shape == [n, s],
                             "\(name): keyPaddingMask of shape \(keyPaddingMask.shape), expected (N, S) = \([n, s])")
            else { return nil }
            let padding = (1 - keyPaddingMask.detached()).reshaped([n, 1, 1, s])
            keep = keep.map { $0 * padding } ?? padding
        }
        var additive: Tensor? = nil
        if let additiveAttnMask {
            guard let m = perHead(additiveAttnMask, "additiveAttnMask") else { return nil }
            additive = m
        }
        return (keep, additive)
    }
}

/// Attention that also returns its weights (N, H, L, S), computed with whole score matrices
/// (PyTorch's `need_weights` path); the weights are returned after dropout, as PyTorch does.
private func attentionWithWeights(_ q: Tensor, _ k: Tensor, _ v: Tensor, keep: Tensor?, additive: Tensor?,
                                  isCausal: Bool, dropout p: Float) -> (Tensor, Tensor) {
    let (l, s) = (q.shape[2], k.shape[2])
    var scores = matmul(q, k.mT) * (1 / Float(q.shape[3]).squareRoot())
    if let additive { scores = scores + additive }
    if let keep { scores = scores.filled(where: 1 - keep, with: -.infinity) }
    if isCausal {
        let future = Tensor.make(shape: [l, s]) { m in
            for i in 0..<l { for j in 0..<s { m[i * s + j] = j > i ? 1 : 0 } }
        }
        scores = scores.filled(where: future, with: -.infinity)
    }
    var weights = softmax(scores, axis: -1)
    if p > 0 { weights = dropout(weights, p: p, generator: &DefaultRandom.generator) }
    return (matmul(weights, v), weights)
}
