import DeepCore

// Building blocks that merge two streams of features (modalities): attention from one token
// stream to another, a learned gate between two aligned streams, and concatenation + projection.

/// Tokens of stream A attend to the tokens of stream B, with a residual connection and
/// LayerNorm: `norm(a + dropout(attention(a, b, b)))`. Children `attention`
/// (batch-first ``MultiheadAttention``, keys and values of width `contextDim`), `dropout`, `norm`.
///
/// Shape: a (N, La, dModel), b (N, Lb, contextDim) → (N, La, dModel).
public final class CrossAttentionFusion: Module {
    /// Queries from A, keys and values from B.
    public let attention: MultiheadAttention
    /// Dropout on the attended features.
    public let dropout: Dropout
    /// LayerNorm after the residual sum.
    public let norm: LayerNorm

    /// Creates the block; `contextDim` is B's width (dModel when nil).
    public init(dModel: Int, numHeads: Int, contextDim: Int? = nil, dropout: Float = 0) {
        attention = MultiheadAttention(embedDim: dModel, numHeads: numHeads, dropout: dropout, kdim: contextDim,
                                       vdim: contextDim, batchFirst: true)
        self.dropout = Dropout(dropout)
        norm = LayerNorm(dModel)
        super.init()
    }

    /// Fuses `b` into `a`.
    ///
    /// - Parameters:
    ///   - a: (N, La, dModel), the stream that is updated.
    ///   - b: (N, Lb, contextDim), the stream attended to.
    ///   - keyPaddingMask: (N, Lb), 1 = padding in B.
    /// - Returns: (N, La, dModel).
    public func callAsFunction(_ a: Tensor, _ b: Tensor, keyPaddingMask: Tensor? = nil) -> Tensor {
        traced(inputs: [a, b]) {
            let attended = attention(query: a, key: b, value: b, keyPaddingMask: keyPaddingMask, needWeights: false).output
            return norm(a + dropout(attended))
        }
    }
}

/// A learned, per-feature gate between two aligned streams: g = σ(W·[a; b] + c),
/// output g·a + (1 − g)·b. Child `gate` (Linear 2·dModel → dModel).
///
/// Shape: a, b (…, dModel) → (…, dModel).
public final class GatedFusion: Module {
    /// [a; b] → gate logits.
    public let gate: Linear

    /// Creates the block.
    public init(dModel: Int) {
        gate = Linear(2 * dModel, dModel)
        super.init()
    }

    /// Blends `a` and `b` feature by feature.
    public func callAsFunction(_ a: Tensor, _ b: Tensor) -> Tensor {
        traced(inputs: [a, b]) { blend(a, b) }
    }

    /// The computation of the call.
    private func blend(_ a: Tensor, _ b: Tensor) -> Tensor {
        guard shapeCheck(a.shape == b.shape && a.shape.last == gate.weight.shape[0],
                         "GatedFusion: streams of shapes \(a.shape) and \(b.shape), expected equal shapes ending in \(gate.weight.shape[0])")
        else { return .shapeFailure }
        let g = sigmoid(gate(Tensor.concatenate([a, b], axis: -1)))
        return b + g * (a - b)
    }
}

/// Concatenation of two feature vectors followed by a projection: `proj([a; b])`. Child `proj`
/// (Linear dimA + dimB → outDim).
///
/// Shape: a (…, dimA), b (…, dimB) → (…, outDim).
public final class ConcatFusion: Module {
    /// [a; b] → output.
    public let proj: Linear

    /// Creates the block.
    public init(dimA: Int, dimB: Int, outDim: Int, bias: Bool = true) {
        proj = Linear(dimA + dimB, outDim, bias: bias)
        super.init()
    }

    /// Joins and projects the two streams.
    public func callAsFunction(_ a: Tensor, _ b: Tensor) -> Tensor {
        traced(inputs: [a, b]) { join(a, b) }
    }

    /// The computation of the call.
    private func join(_ a: Tensor, _ b: Tensor) -> Tensor {
        guard shapeCheck(a.rank == b.rank && a.shape.dropLast() == b.shape.dropLast()
                         && (a.shape.last ?? 0) + (b.shape.last ?? 0) == proj.weight.shape[1],
                         "ConcatFusion: streams of shapes \(a.shape) and \(b.shape) do not share leading axes or do not add up to \(proj.weight.shape[1]) features")
        else { return .shapeFailure }
        return proj(Tensor.concatenate([a, b], axis: -1))
    }
}
