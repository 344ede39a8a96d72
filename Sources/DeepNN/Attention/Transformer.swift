import DeepCore

/// The nonlinearity between a Transformer layer's two feed-forward Linears.
public enum TransformerActivation: Sendable {
    /// max(x, 0), PyTorch's default.
    case relu
    /// Exact GELU, x·Φ(x).
    case gelu

    func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: return DeepCore.relu(x)
        case .gelu: return DeepCore.gelu(x)
        }
    }
}

/// Self-attention then a feed-forward block, each with a residual connection and LayerNorm
/// (`nn.TransformerEncoderLayer`): post-norm `x = norm1(x + sa(x)); x = norm2(x + ff(x))`, or
/// with `normFirst` pre-norm `x = x + sa(norm1(x)); x = x + ff(norm2(x))`, where
/// ff(x) = linear2(dropout(activation(linear1(x)))).
///
/// Children named as PyTorch names them: `self_attn`, `linear1`, `dropout`, `linear2`, `norm1`,
/// `norm2`, `dropout1`, `dropout2`. Shape: (L, N, E), or (N, L, E) with `batchFirst` → same.
public final class TransformerEncoderLayer: Module {
    /// Multi-head self-attention.
    public let selfAttn: MultiheadAttention
    /// E → dimFeedforward and back.
    public let linear1: Linear, linear2: Linear
    /// Dropout inside the feed-forward block.
    public let dropout: Dropout
    /// Norms of the attention and feed-forward blocks.
    public let norm1: LayerNorm, norm2: LayerNorm
    /// Dropout on the attention and feed-forward outputs.
    public let dropout1: Dropout, dropout2: Dropout
    let activation: TransformerActivation
    let normFirst: Bool

    /// Creates the layer with PyTorch's defaults and initialisation (`numHeads` is PyTorch's `nhead`).
    public init(dModel: Int, numHeads: Int, dimFeedforward: Int = 2048, dropout: Float = 0.1,
                activation: TransformerActivation = .relu, layerNormEps: Float = 1e-5, batchFirst: Bool = false,
                normFirst: Bool = false, bias: Bool = true) {
        selfAttn = MultiheadAttention(embedDim: dModel, numHeads: numHeads, dropout: dropout, bias: bias, batchFirst: batchFirst)
        linear1 = Linear(dModel, dimFeedforward, bias: bias)
        self.dropout = Dropout(dropout)
        linear2 = Linear(dimFeedforward, dModel, bias: bias)
        norm1 = LayerNorm(dModel, eps: layerNormEps, bias: bias)
        norm2 = LayerNorm(dModel, eps: layerNormEps, bias: bias)
        dropout1 = Dropout(dropout)
        dropout2 = Dropout(dropout)
        self.activation = activation
        self.normFirst = normFirst
        super.init()
    }

    /// Encodes `src` without masks.
    public override func forward(_ x: Tensor) -> Tensor { self(x, srcMask: nil) }

    /// Encodes `src`.
    ///
    /// - Parameters:
    ///   - src: (L, N, E), or (N, L, E) with `batchFirst`.
    ///   - srcMask: (L, L) or (N·numHeads, L, L), 1 = not allowed to attend (PyTorch's boolean mask).
    ///   - srcKeyPaddingMask: (N, L), 1 = padding.
    ///   - isCausal: position i attends to positions ≤ i only.
    public func callAsFunction(_ src: Tensor, srcMask: Tensor?, srcKeyPaddingMask: Tensor? = nil,
                               isCausal: Bool = false) -> Tensor {
        traced(inputs: [src]) { encode(src, srcMask: srcMask, srcKeyPaddingMask: srcKeyPaddingMask, isCausal: isCausal) }
    }

    /// The computation of the call.
    private func encode(_ src: Tensor, srcMask: Tensor?, srcKeyPaddingMask: Tensor?, isCausal: Bool) -> Tensor {
        func attention(_ x: Tensor) -> Tensor {
            dropout1(selfAttn(query: x, key: x, value: x, keyPaddingMask: srcKeyPaddingMask, attnMask: srcMask,
                              needWeights: false, isCausal: isCausal).output)
        }
        func feedForward(_ x: Tensor) -> Tensor {
            dropout2(linear2(dropout(activation(linear1(x)))))
        }
        var x = src
        if normFirst {
            x = x + attention(norm1(x))
            x = x + feedForward(norm2(x))
        } else {
            x = norm1(x + attention(x))
            x = norm2(x + feedForward(x))
        }
        return x
    }
}

/// A stack of encoder layers and an optional final norm (`nn.TransformerEncoder`); children
/// `layers.N.*` and `norm`. Shape: like its layers'.
public final class TransformerEncoder: Module {
    /// The layers, each with its own weights.
    public let layers: [TransformerEncoderLayer]
    /// Applied after the last layer, or nil.
    public let norm: LayerNorm?

    /// Stacks `numLayers` layers made by `makeLayer` (PyTorch deep-copies one layer, so its
    /// copies start equal; here each is initialised afresh).
    public init(_ makeLayer: () -> TransformerEncoderLayer, numLayers: Int, norm: LayerNorm? = nil) {
        layers = (0..<numLayers).map { _ in makeLayer() }
        self.norm = norm
        super.init()
    }

    /// Encodes `x` without masks.
    public override func forward(_ x: Tensor) -> Tensor { self(x, mask: nil) }

    /// Runs every layer with the same masks (see ``TransformerEncoderLayer``), then the norm.
    public func callAsFunction(_ src: Tensor, mask: Tensor?, srcKeyPaddingMask: Tensor? = nil,
                               isCausal: Bool = false) -> Tensor {
        traced(inputs: [src]) {
            var x = src
            for layer in layers {
                x = layer(x, srcMask: mask, srcKeyPaddingMask: srcKeyPaddingMask, isCausal: isCausal)
            }
            return norm.map { $0(x) } ?? x
        }
    }
}

/// Self-attention, cross-attention to an encoder's memory, and a feed-forward block, each with a
/// residual connection and LayerNorm (`nn.TransformerDecoderLayer`), post-norm or pre-norm.
///
/// Children: `self_attn`, `multihead_attn`, `linear1`, `dropout`, `linear2`, `norm1`–`norm3`,
/// `dropout1`–`dropout3`. Shape: target (T, N, E) and memory (S, N, E), or batch first → like
/// the target.
public final class TransformerDecoderLayer: Module {
    /// Self-attention over the target.
    public let selfAttn: MultiheadAttention
    /// Attention from the target to the memory.
    public let multiheadAttn: MultiheadAttention
    /// E → dimFeedforward and back.
    public let linear1: Linear, linear2: Linear
    /// Dropout inside the feed-forward block.
    public let dropout: Dropout
    /// Norms of the three blocks.
    public let norm1: LayerNorm, norm2: LayerNorm, norm3: LayerNorm
    /// Dropout on the three blocks' outputs.
    public let dropout1: Dropout, dropout2: Dropout, dropout3: Dropout
    let activation: TransformerActivation
    let normFirst: Bool

    /// Creates the layer with PyTorch's defaults and initialisation (`numHeads` is PyTorch's `nhead`).
    public init(dModel: Int, numHeads: Int, dimFeedforward: Int = 2048, dropout: Float = 0.1,
                activation: TransformerActivation = .relu, layerNormEps: Float = 1e-5, batchFirst: Bool = false,
                normFirst: Bool = false, bias: Bool = true) {
        selfAttn = MultiheadAttention(embedDim: dModel, numHeads: numHeads, dropout: dropout, bias: bias, batchFirst: batchFirst)
        multiheadAttn = MultiheadAttention(embedDim: dModel, numHeads: numHeads, dropout: dropout, bias: bias, batchFirst: batchFirst)
        linear1 = Linear(dModel, dimFeedforward, bias: bias)
        self.dropout = Dropout(dropout)
        linear2 = Linear(dimFeedforward, dModel, bias: bias)
        norm1 = LayerNorm(dModel, eps: layerNormEps, bias: bias)
        norm2 = LayerNorm(dModel, eps: layerNormEps, bias: bias)
        norm3 = LayerNorm(dModel, eps: layerNormEps, bias: bias)
        dropout1 = Dropout(dropout)
        dropout2 = Dropout(dropout)
        dropout3 = Dropout(dropout)
        self.activation = activation
        self.normFirst = normFirst
        super.init()
    }

    /// Decodes `tgt` against `memory`.
    ///
    /// - Parameters:
    ///   - tgt: (T, N, E) or (N, T, E); memory: (S, N, E) or (N, S, E).
    ///   - tgtMask / memoryMask: (T, T) / (T, S), 1 = not allowed (or per head, N·numHeads first).
    ///   - tgtKeyPaddingMask / memoryKeyPaddingMask: (N, T) / (N, S), 1 = padding.
    ///   - tgtIsCausal / memoryIsCausal: causal masking of either attention.
    public func callAsFunction(_ tgt: Tensor, memory: Tensor, tgtMask: Tensor? = nil, memoryMask: Tensor? = nil,
                               tgtKeyPaddingMask: Tensor? = nil, memoryKeyPaddingMask: Tensor? = nil,
                               tgtIsCausal: Bool = false, memoryIsCausal: Bool = false) -> Tensor {
        traced(inputs: [tgt, memory]) {
            decode(tgt, memory: memory, tgtMask: tgtMask, memoryMask: memoryMask, tgtKeyPaddingMask: tgtKeyPaddingMask,
                   memoryKeyPaddingMask: memoryKeyPaddingMask, tgtIsCausal: tgtIsCausal, memoryIsCausal: memoryIsCausal)
        }
    }

    /// The computation of the call.
    private func decode(_ tgt: Tensor, memory: Tensor, tgtMask: Tensor?, memoryMask: Tensor?, tgtKeyPaddingMask: Tensor?,
                        memoryKeyPaddingMask: Tensor?, tgtIsCausal: Bool, memoryIsCausal: Bool) -> Tensor {
        func selfAttention(_ x: Tensor) -> Tensor {
            dropout1(selfAttn(query: x, key: x, value: x, keyPaddingMask: tgtKeyPaddingMask, attnMask: tgtMask,
                              needWeights: false, isCausal: tgtIsCausal).output)
        }
        func crossAttention(_ x: Tensor) -> Tensor {
            dropout2(multiheadAttn(query: x, key: memory, value: memory, keyPaddingMask: memoryKeyPaddingMask,
                                   attnMask: memoryMask, needWeights: false, isCausal: memoryIsCausal).output)
        }
        func feedForward(_ x: Tensor) -> Tensor {
            dropout3(linear2(dropout(activation(linear1(x)))))
        }
        var x = tgt
        if normFirst {
            x = x + selfAttention(norm1(x))
            x = x + crossAttention(norm2(x))
            x = x + feedForward(norm3(x))
        } else {
            x = norm1(x + selfAttention(x))
            x = norm2(x + crossAttention(x))
            x = norm3(x + feedForward(x))
        }
        return x
    }
}
