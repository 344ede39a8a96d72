import DeepCore

// The parts of ``BertModel``, each named as Hugging Face's `modeling_bert.py` names its modules,
// so that state-dict keys are the same (`encoder.layer.0.attention.self.query.weight`,
// `embeddings.LayerNorm.bias`). Shapes: N batch, L length, H hidden size.

/// Word, position and token-type embeddings summed, then LayerNorm and dropout
/// (`BertEmbeddings`). Positions are 0..<L; token types default to 0.
public final class BertEmbeddings: Module {
    /// (V, H), the padding row zero.
    public let wordEmbeddings: Embedding
    /// (maxPositionEmbeddings, H).
    public let positionEmbeddings: Embedding
    /// (typeVocabSize, H).
    public let tokenTypeEmbeddings: Embedding
    /// Normalises the sum (state-dict key `LayerNorm`).
    @Child public var layerNorm: LayerNorm
    let dropout: Dropout

    /// Creates the tables for `config`.
    public init(config: BertConfig) {
        wordEmbeddings = Embedding(config.vocabSize, config.hiddenSize, paddingIdx: config.padTokenId)
        positionEmbeddings = Embedding(config.maxPositionEmbeddings, config.hiddenSize)
        tokenTypeEmbeddings = Embedding(config.typeVocabSize, config.hiddenSize)
        _layerNorm = Child(wrappedValue: LayerNorm(config.hiddenSize, eps: config.layerNormEps), key: "LayerNorm")
        dropout = Dropout(config.hiddenDropoutProb)
        super.init()
    }

    /// Embeds ids (N, L) with token types (N, L), or type 0 when nil: → (N, L, H).
    public func callAsFunction(_ inputIds: Tensor, tokenTypeIds: Tensor?) -> Tensor {
        traced(inputs: [inputIds] + (tokenTypeIds.map { [$0] } ?? [])) {
            let length = inputIds.shape[1]
            let types = tokenTypeIds.map { tokenTypeEmbeddings($0) }
                ?? tokenTypeEmbeddings.weight.narrowed(axis: 0, start: 0, length: 1)
            // Position ids 0..<L select the table's first L rows: a view, no lookup.
            let positions = positionEmbeddings.weight.narrowed(axis: 0, start: 0, length: length)
            return dropout(layerNorm(wordEmbeddings(inputIds) + types + positions))
        }
    }
}

/// Multi-head self-attention over the hidden states with separate `query`, `key` and `value`
/// projections (`BertSelfAttention`), computed as one (N, L, 3H) projection and the library's
/// blocked attention over the heads where they lie.
public final class BertSelfAttention: Module {
    /// H → H projections.
    public let query: Linear, key: Linear, value: Linear
    /// Number of heads.
    public let numHeads: Int
    let attentionDropout: Float

    /// Creates the projections for `config`.
    public init(config: BertConfig) {
        let h = config.hiddenSize
        (query, key, value) = (Linear(h, h), Linear(h, h), Linear(h, h))
        numHeads = config.numAttentionHeads
        attentionDropout = config.attentionProbsDropoutProb
        super.init()
    }

    /// softmax(Q Kᵀ/√d + mask) V per head: (N, L, H) with an additive mask broadcastable to
    /// (N, heads, L, L) (0 to attend, a large negative number to ignore a key) → (N, L, H).
    public func callAsFunction(_ x: Tensor, additiveMask: Tensor?) -> Tensor {
        traced(inputs: [x]) {
            let hidden = query.weight.shape[0], width = hidden / numHeads
            guard shapeCheck(x.rank == 3 && x.shape[2] == query.weight.shape[1],
                             "BertSelfAttention: input of shape \(x.shape) is not (N, L, H = \(query.weight.shape[1]))")
            else { return .shapeFailure }
            let (n, l) = (x.shape[0], x.shape[1])
            let weight = Tensor.concatenate([query.weight, key.weight, value.weight], axis: 0)
            let bias = Tensor.concatenate([query.bias!, key.bias!, value.bias!], axis: 0)
            let qkv = linear(x, weight: weight, bias: bias)
            let heads = numHeads
            let layout = { (column: Int) in HeadLayout(batchAxes: [0], rowAxis: 1, heads: heads, column: column, width: width) }
            return attentionCore(qkv, qkv, qkv, layouts: (layout(0), layout(hidden), layout(2 * hidden)),
                                 outShape: [n, l, hidden], outLayout: layout(0), scoreShape: [n, numHeads, l, l],
                                 mask: nil, additiveMask: additiveMask, isCausal: false,
                                 dropout: isTraining ? attentionDropout : 0, scale: 1 / Float(width).squareRoot(),
                                 op: "BertSelfAttention")
        }
    }
}

/// A dense layer, dropout, then LayerNorm of the sum with the block's input: the closing step of
/// the attention block (`BertSelfOutput`, `dense` H → H) and of the feed-forward block
/// (`BertOutput`, `dense` intermediate → H).
public final class BertResidualOutput: Module {
    /// The projection back to H.
    public let dense: Linear
    /// Normalises the residual sum (state-dict key `LayerNorm`).
    @Child public var layerNorm: LayerNorm
    let dropout: Dropout

    /// Creates the step from `inputSize` features to the hidden size of `config`.
    public init(inputSize: Int, config: BertConfig) {
        dense = Linear(inputSize, config.hiddenSize)
        _layerNorm = Child(wrappedValue: LayerNorm(config.hiddenSize, eps: config.layerNormEps), key: "LayerNorm")
        dropout = Dropout(config.hiddenDropoutProb)
        super.init()
    }

    /// LayerNorm(dropout(dense(x)) + residual): (N, L, inputSize), (N, L, H) → (N, L, H).
    public func callAsFunction(_ x: Tensor, residual: Tensor) -> Tensor {
        traced(inputs: [x, residual]) { layerNorm(dropout(dense(x)) + residual) }
    }
}

/// Self-attention and its residual output (`BertAttention`: children `self` and `output`).
public final class BertAttention: Module {
    /// The attention (state-dict key `self`).
    @Child public var selfAttention: BertSelfAttention
    /// Dense H → H, dropout, residual LayerNorm.
    public let output: BertResidualOutput

    /// Creates the block for `config`.
    public init(config: BertConfig) {
        _selfAttention = Child(wrappedValue: BertSelfAttention(config: config), key: "self")
        output = BertResidualOutput(inputSize: config.hiddenSize, config: config)
        super.init()
    }

    /// (N, L, H) → (N, L, H); see ``BertSelfAttention``.
    public func callAsFunction(_ x: Tensor, additiveMask: Tensor?) -> Tensor {
        traced(inputs: [x]) { output(selfAttention(x, additiveMask: additiveMask), residual: x) }
    }
}

/// The feed-forward block's first half, dense H → intermediate and the activation
/// (`BertIntermediate`). Shape: (N, L, H) → (N, L, intermediate).
public final class BertIntermediate: Module {
    /// H → intermediate.
    public let dense: Linear
    /// `hidden_act`.
    public let activation: BertActivation

    /// Creates the block for `config`.
    public init(config: BertConfig) {
        dense = Linear(config.hiddenSize, config.intermediateSize)
        activation = config.hiddenAct
        super.init()
    }

    public override func forward(_ x: Tensor) -> Tensor { activation(dense(x)) }
}

/// One encoder layer (`BertLayer`): attention, then the feed-forward block with its residual
/// output. Shape: (N, L, H) → (N, L, H).
public final class BertLayer: Module {
    /// Self-attention with its residual output.
    public let attention: BertAttention
    /// Dense H → intermediate and the activation.
    public let intermediate: BertIntermediate
    /// Dense intermediate → H, dropout, residual LayerNorm.
    public let output: BertResidualOutput

    /// Creates the layer for `config`.
    public init(config: BertConfig) {
        attention = BertAttention(config: config)
        intermediate = BertIntermediate(config: config)
        output = BertResidualOutput(inputSize: config.intermediateSize, config: config)
        super.init()
    }

    /// (N, L, H) with an additive key mask (see ``BertSelfAttention``) → (N, L, H).
    public func callAsFunction(_ x: Tensor, additiveMask: Tensor?) -> Tensor {
        traced(inputs: [x]) {
            let attended = attention(x, additiveMask: additiveMask)
            return output(intermediate(attended), residual: attended)
        }
    }
}

/// The stack of encoder layers (`BertEncoder`, child list `layer`). Shape: (N, L, H) → (N, L, H).
public final class BertEncoder: Module {
    /// The layers, `layer.0` … (Hugging Face's singular name).
    public let layer: [BertLayer]

    /// Creates `config.numHiddenLayers` layers.
    public init(config: BertConfig) {
        layer = (0..<config.numHiddenLayers).map { _ in BertLayer(config: config) }
        super.init()
    }

    /// Runs every layer with the same additive key mask: (N, L, H) → (N, L, H).
    public func callAsFunction(_ x: Tensor, additiveMask: Tensor?) -> Tensor {
        traced(inputs: [x]) { layer.reduce(x) { $1($0, additiveMask: additiveMask) } }
    }
}

/// tanh(dense(first token's hidden state)) (`BertPooler`). Shape: (N, L, H) → (N, H).
public final class BertPooler: Module {
    /// H → H.
    public let dense: Linear

    /// Creates the pooler for `config`.
    public init(config: BertConfig) {
        dense = Linear(config.hiddenSize, config.hiddenSize)
        super.init()
    }

    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 3 && x.shape[1] > 0, "BertPooler: input of shape \(x.shape) is not (N, L ≥ 1, H)")
        else { return .shapeFailure }
        return tanh(dense(x.narrowed(axis: 1, start: 0, length: 1).squeezed(axis: 1)))
    }
}
