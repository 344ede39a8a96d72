#if canImport(Glibc)
import Glibc
#endif
import DeepCore

/// How a ``VisionTransformer`` tells token positions apart.
public enum PositionalEmbedding: Sendable {
    /// A trained (1, L, hidden) table drawn from N(0, 0.02²), as torchvision.
    case learned
    /// The fixed sine/cosine table of "Attention is all you need" (not trained; kept under the
    /// same state-dict name).
    case sinusoidal
}

/// The Vision Transformer of "An image is worth 16×16 words" with torchvision's layout, names
/// and initialisation (`torchvision.models.VisionTransformer`), so its state dicts load as they
/// are: `conv_proj`, `class_token`, `encoder.pos_embedding`,
/// `encoder.layers.encoder_layer_N.{ln_1, self_attention, ln_2, mlp.0, mlp.3}`, `encoder.ln`,
/// `heads.head` (and `heads.pre_logits` with a representation layer).
///
/// Shape: (N, inChannels, imageSize, imageSize) → (N, numClasses).
public final class VisionTransformer: Module {
    /// Cuts the image into patches and projects each to `hiddenDim`.
    public let convProj: PatchEmbedding
    /// (1, 1, hiddenDim) token prepended to the patches, whose final state is classified; zeros.
    public let classToken: Tensor
    /// Positional embedding, encoder blocks and final LayerNorm.
    public let encoder: ViTEncoder
    /// `head` (and `pre_logits`, `act`): hidden → classes.
    public let heads: ModuleDict
    /// Side of the (square) input image and of a patch.
    public let imageSize: Int, patchSize: Int

    /// Creates the model with torchvision's initialisation from the default generator.
    ///
    /// - Parameters:
    ///   - imageSize, patchSize: the image's side, divisible by the patch's side.
    ///   - numLayers, numHeads, hiddenDim, mlpDim: encoder depth, heads, width, MLP width.
    ///   - dropout: after the positional embedding, attention and MLP layers; attentionDropout:
    ///     on the attention weights.
    ///   - representationSize: adds a `pre_logits` Linear + Tanh before the head.
    ///   - inChannels: image channels (3 in torchvision).
    ///   - positionalEmbedding: learned (torchvision) or fixed sinusoidal.
    public init(imageSize: Int, patchSize: Int, numLayers: Int, numHeads: Int, hiddenDim: Int, mlpDim: Int,
                numClasses: Int = 1000, dropout: Float = 0, attentionDropout: Float = 0, representationSize: Int? = nil,
                inChannels: Int = 3, positionalEmbedding: PositionalEmbedding = .learned) {
        require(patchSize > 0 && imageSize % patchSize == 0,
                "VisionTransformer: image size \(imageSize) is not divisible by patch size \(patchSize)")
        self.imageSize = imageSize
        self.patchSize = patchSize
        convProj = PatchEmbedding(inChannels: inChannels, hiddenDim: hiddenDim, patchSize: patchSize)
        classToken = Tensor(zeros: [1, 1, hiddenDim])
        let seqLength = (imageSize / patchSize) * (imageSize / patchSize) + 1
        encoder = ViTEncoder(seqLength: seqLength, numLayers: numLayers, numHeads: numHeads, hiddenDim: hiddenDim,
                             mlpDim: mlpDim, dropout: dropout, attentionDropout: attentionDropout,
                             positionalEmbedding: positionalEmbedding)
        var headLayers: [(String, Module)] = []
        var width = hiddenDim
        if let representationSize {
            let preLogits = Linear(hiddenDim, representationSize)
            preLogits.weight.assign(Initializer.truncatedNormal(preLogits.weight.shape, std: (1 / Float(hiddenDim)).squareRoot(), generator: &DefaultRandom.generator))
            preLogits.bias?.assign(Tensor(zeros: [representationSize]))
            headLayers += [("pre_logits", preLogits), ("act", Tanh())]
            width = representationSize
        }
        let head = Linear(width, numClasses)
        head.weight.assign(Tensor(zeros: head.weight.shape))
        head.bias?.assign(Tensor(zeros: [numClasses]))
        heads = ModuleDict(headLayers + [("head", head)])
        super.init()
    }

    /// (N, C, H, W) → (N, numClasses).
    public override func forward(_ x: Tensor) -> Tensor {
        let channels = convProj.weight.shape[1]
        guard shapeCheck(x.rank == 4 && x.shape[1] == channels && x.shape[2] == imageSize && x.shape[3] == imageSize,
                         "VisionTransformer: input of shape \(x.shape), expected (N, \(channels), \(imageSize), \(imageSize))")
        else { return .shapeFailure }
        let patches = convProj(x)
        let n = x.shape[0], hidden = classToken.shape[2]
        let tokens = Tensor.concatenate([classToken.expanded(to: [n, 1, hidden]), patches], axis: 1)
        var y = encoder(tokens).narrowed(axis: 1, start: 0, length: 1).squeezed(axis: 1)
        for name in heads.keys { y = heads[name]!(y) }
        return y
    }
}

/// Non-overlapping patches projected to tokens: a convolution whose stride equals its kernel,
/// computed as one matrix product over the patches (no im2col copy beyond the patch gather).
/// Parameters `weight` (hidden, C, p, p), truncated normal with std √(1/fan_in), and `bias`
/// (hidden) zeros, as torchvision's `conv_proj`.
///
/// Shape: (N, C, H, W) → (N, (H/p)·(W/p), hidden), patches in row-major order.
public final class PatchEmbedding: Module {
    /// (hidden, C, p, p).
    public let weight: Tensor
    /// (hidden).
    public let bias: Tensor?
    let patchSize: Int

    /// Creates the layer.
    public init(inChannels: Int, hiddenDim: Int, patchSize: Int, bias: Bool = true) {
        self.patchSize = patchSize
        let fanIn = inChannels * patchSize * patchSize
        weight = Initializer.truncatedNormal([hiddenDim, inChannels, patchSize, patchSize], std: (1 / Float(fanIn)).squareRoot(),
                                              generator: &DefaultRandom.generator)
        self.bias = bias ? Tensor(zeros: [hiddenDim]) : nil
        super.init()
    }

    /// (N, C, H, W) → (N, (H/p)·(W/p), hidden).
    public override func forward(_ x: Tensor) -> Tensor {
        let (hidden, c, p) = (weight.shape[0], weight.shape[1], patchSize)
        guard shapeCheck(x.rank == 4 && x.shape[1] == c && x.shape[2] % p == 0 && x.shape[3] % p == 0,
                         "PatchEmbedding: input of shape \(x.shape), expected (N, \(c), H, W) with H and W divisible by \(p)")
        else { return .shapeFailure }
        let (n, rows, cols) = (x.shape[0], x.shape[2] / p, x.shape[3] / p)
        // (N, C, rows·p, cols·p) → (N, rows·cols, C·p·p), each patch flattened like the weight.
        let patches = x.reshaped([n, c, rows, p, cols, p]).permuted([0, 2, 4, 1, 3, 5]).reshaped([n, rows * cols, c * p * p])
        return linear(patches, weight: weight.reshaped([hidden, c * p * p]), bias: bias)
    }
}

/// torchvision's ViT `Encoder`: adds `pos_embedding` (1, L, hidden), applies `dropout`, the
/// blocks `layers.encoder_layer_N` and the final LayerNorm `ln` (eps 1e-6).
public final class ViTEncoder: Module {
    /// (1, L, hidden).
    public let posEmbedding: Tensor
    /// Dropout after the positional embedding.
    public let dropout: Dropout
    /// `encoder_layer_0`, `encoder_layer_1`, … (each a ``ViTEncoderBlock``).
    public let layers: ModuleDict
    /// Final LayerNorm.
    public let ln: LayerNorm

    init(seqLength: Int, numLayers: Int, numHeads: Int, hiddenDim: Int, mlpDim: Int, dropout: Float,
         attentionDropout: Float, positionalEmbedding: PositionalEmbedding) {
        switch positionalEmbedding {
        case .learned: posEmbedding = Tensor.randn([1, seqLength, hiddenDim], std: 0.02)
        case .sinusoidal: posEmbedding = sinusoidalPositions(seqLength, hiddenDim).reshaped([1, seqLength, hiddenDim])
        }
        self.dropout = Dropout(dropout)
        layers = ModuleDict((0..<numLayers).map {
            ("encoder_layer_\($0)", ViTEncoderBlock(numHeads: numHeads, hiddenDim: hiddenDim, mlpDim: mlpDim,
                                                    dropout: dropout, attentionDropout: attentionDropout))
        })
        ln = LayerNorm(hiddenDim, eps: 1e-6)
        super.init()
        if positionalEmbedding == .sinusoidal { posEmbedding.requiresGrad = false }
    }

    /// (N, L, hidden) → (N, L, hidden).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 3 && Array(x.shape.dropFirst()) == Array(posEmbedding.shape.dropFirst()),
                         "ViTEncoder: input of shape \(x.shape), expected (N, \(posEmbedding.shape[1]), \(posEmbedding.shape[2]))")
        else { return .shapeFailure }
        var y = dropout(x + posEmbedding)
        for name in layers.keys { y = layers[name]!(y) }
        return ln(y)
    }
}

/// torchvision's ViT `EncoderBlock`: pre-norm self-attention (`ln_1`, `self_attention`,
/// `dropout`) and MLP (`ln_2`, `mlp` = Linear, GELU, Dropout, Linear, Dropout), each residual.
public final class ViTEncoderBlock: Module {
    /// LayerNorm (eps 1e-6) before the attention (`ln_1`).
    @Child public var ln1: LayerNorm
    /// Batch-first multi-head self-attention.
    public let selfAttention: MultiheadAttention
    /// Dropout after the attention.
    public let dropout: Dropout
    /// LayerNorm before the MLP (`ln_2`).
    @Child public var ln2: LayerNorm
    /// hidden → mlpDim → hidden, Linear weights xavier-uniform, biases N(0, 1e-6²); replaceable
    /// (e.g. by a mixture of experts: `replace(path: "encoder.layers.encoder_layer_0.mlp", with: moe)`).
    @Child public var mlp: Module

    init(numHeads: Int, hiddenDim: Int, mlpDim: Int, dropout: Float, attentionDropout: Float) {
        _ln1 = Child(wrappedValue: LayerNorm(hiddenDim, eps: 1e-6), key: "ln_1")
        selfAttention = MultiheadAttention(embedDim: hiddenDim, numHeads: numHeads, dropout: attentionDropout, batchFirst: true)
        self.dropout = Dropout(dropout)
        _ln2 = Child(wrappedValue: LayerNorm(hiddenDim, eps: 1e-6), key: "ln_2")
        let fc1 = Linear(hiddenDim, mlpDim), fc2 = Linear(mlpDim, hiddenDim)
        for fc in [fc1, fc2] {
            fc.weight.assign(Initializer.xavierUniform(fc.weight.shape, generator: &DefaultRandom.generator))
            fc.bias?.assign(Tensor.randn([fc.weight.shape[0]], std: 1e-6))
        }
        _mlp = Child(wrappedValue: Sequential(fc1, GELU(), Dropout(dropout), fc2, Dropout(dropout)))
        super.init()
    }

    /// (N, L, hidden) → (N, L, hidden).
    public override func forward(_ x: Tensor) -> Tensor {
        let normed = ln1(x)
        let attended = x + dropout(selfAttention(query: normed, key: normed, value: normed, needWeights: false).output)
        return attended + mlp(ln2(attended))
    }
}

/// The (length, dim) sine/cosine table: sin(pos / 10000^(2i/dim)) at 2i, cos at 2i + 1.
func sinusoidalPositions(_ length: Int, _ dim: Int) -> Tensor {
    Tensor.make(shape: [length, dim]) { table in
        for pos in 0..<length {
            for i in stride(from: 0, to: dim, by: 2) {
                let angle = Double(pos) / pow(10_000, Double(i) / Double(dim))
                table[pos * dim + i] = Float(sin(angle))
                if i + 1 < dim { table[pos * dim + i + 1] = Float(cos(angle)) }
            }
        }
    }
}
