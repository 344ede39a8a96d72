import DeepCore

// The Inception Transformer's token mixer (Si et al. 2022, "Inception Transformer", iFormer):
// the channels are split; a high-frequency part goes through convolution and max-pooling
// branches, a low-frequency part through self-attention on a pooled map; a depthwise conv fuses
// them. Names follow sail-sg/iFormer (`high_mixer.conv1`, `low_mixer.qkv`, `conv_fuse`, `proj`).
// Unlike the original, which works channels-last (B, H, W, C), these modules take and return
// (B, C, H, W) so they stitch into CNNs; weights are the same.

/// iFormer's high-frequency mixer on `dim` channels (even), split in halves of c = dim/2:
///
///     cx = GELU(DWConv3×3(Conv1×1(c → 2c)(x[:c])))         // conv1 (no bias), proj1 (depthwise, no bias)
///     px = GELU(Conv1×1(c → 2c)(MaxPool3×3,s1,p1(x[c:])))  // proj2 (bias)
///     out = concat(cx, px)
///
/// Shape: (B, dim, H, W) → (B, 2·dim, H, W).
public final class HighFrequencyMixer: Module {
    /// 1×1 conv c → 2c of the convolution branch (no bias).
    public let conv1: Conv2d
    /// Depthwise 3×3 conv of the convolution branch (no bias).
    public let proj1: Conv2d
    /// 1×1 conv c → 2c of the pooling branch.
    public let proj2: Conv2d

    /// Creates the mixer for an even `dim`.
    public init(dim: Int) {
        require(dim > 0 && dim % 2 == 0, "HighFrequencyMixer: dim \(dim) should be positive and even")
        let c = dim / 2
        conv1 = Conv2d(c, 2 * c, kernelSize: 1, bias: false)
        proj1 = Conv2d(2 * c, 2 * c, kernelSize: 3, padding: 1, groups: 2 * c, bias: false)
        proj2 = Conv2d(c, 2 * c, kernelSize: 1)
        super.init()
    }

    /// (B, dim, H, W) → (B, 2·dim, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        let c = conv1.weight.shape[1]
        guard shapeCheck(x.rank == 4 && x.shape[1] == 2 * c,
                         "HighFrequencyMixer: input of shape \(x.shape), expected (B, \(2 * c), H, W)")
        else { return .shapeFailure }
        let halves = x.split(sizes: [c, c], axis: 1)
        let cx = gelu(proj1(conv1(halves[0])))
        let px = gelu(proj2(maxPool2d(halves[1], kernelSize: 3, stride: 1, padding: 1)))
        return Tensor.concatenate([cx, px], axis: 1)
    }
}

/// iFormer's low-frequency mixer: multi-head self-attention over the tokens of an average-pooled
/// map, upsampled back (nearest) to the input size:
///
///     t = tokens(AvgPool(p, stride p)(x))        // (B, N, dim), N = (H/p)·(W/p)
///     q, k, v = split(qkv(t)) into numHeads heads of dim/numHeads
///     out = upsample×p(image(softmax(q·kᵀ/√d)·v))
///
/// Plain matmul + softmax attention, computed here (no fused kernel). Output channels are ordered
/// head by head, as in iFormer.
/// Parameter: `qkv` (Linear dim → 3·dim, with bias).
/// Shape: (B, dim, H, W) → (B, dim, H, W), H and W divisible by the pool size.
public final class LowFrequencyMixer: Module {
    /// Query, key and value projection.
    public let qkv: Linear
    /// Attention heads.
    public let numHeads: Int
    /// Side of the average pooling before attention (1: none).
    public let poolSize: Int

    /// Creates the mixer.
    public init(dim: Int, numHeads: Int, poolSize: Int = 2, qkvBias: Bool = true) {
        require(numHeads > 0 && dim % numHeads == 0, "LowFrequencyMixer: dim \(dim) is not divisible by \(numHeads) heads")
        require(poolSize >= 1, "LowFrequencyMixer: pool size \(poolSize) should be at least 1")
        qkv = Linear(dim, 3 * dim, bias: qkvBias)
        (self.numHeads, self.poolSize) = (numHeads, poolSize)
        super.init()
    }

    /// (B, dim, H, W) → (B, dim, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        let dim = qkv.weight.shape[1], p = poolSize
        guard shapeCheck(x.rank == 4 && x.shape[1] == dim && x.shape[2] % p == 0 && x.shape[3] % p == 0,
                         "LowFrequencyMixer: input of shape \(x.shape), expected (B, \(dim), H, W) with H and W divisible by the pool size \(p)")
        else { return .shapeFailure }
        let pooled = p > 1 ? avgPool2d(x, kernelSize: p, stride: p, countIncludePad: false) : x
        let (b, h, w) = (x.shape[0], pooled.shape[2], pooled.shape[3])
        let n = h * w, headDim = dim / numHeads
        let tokens = pooled.flattened(from: 2).transposed(1, 2)                                  // (B, N, dim)
        let qkvHeads = qkv(tokens).reshaped([b, n, 3, numHeads, headDim]).permuted([2, 0, 3, 1, 4])   // (3, B, h, N, d)
        let (q, k, v) = (qkvHeads[0], qkvHeads[1], qkvHeads[2])
        let attention = softmax(matmul(q, k.mT) * (1 / Float(headDim).squareRoot()), axis: -1)    // (B, h, N, N)
        let mixed = matmul(attention, v).transposed(2, 3).reshaped([b, dim, h, w])                // (B, dim, h, w)
        return p > 1 ? interpolate(mixed, scale: Float(p), mode: .nearest) : mixed
    }
}

/// iFormer's inception token mixer. With hd = dim/numHeads, low = attentionHeads·hd channels go to
/// a ``LowFrequencyMixer`` and high = dim − low to a ``HighFrequencyMixer``; then
///
///     y = concat(high_mixer(x[:high]), low_mixer(x[high:]))   // F = low + 2·high channels
///     out = proj(y + conv_fuse(y))                           // depthwise 3×3 (no bias), 1×1 F → dim
///
/// Weights trunc-normal (std 0.02) with zero biases, as iFormer initialises them.
/// Children: `high_mixer`, `low_mixer`, `conv_fuse`, `proj`.
/// Shape: (B, dim, H, W) → (B, dim, H, W).
public final class InceptionMixer: Module {
    /// Convolution and max-pool branches on the first `highChannels` channels.
    public let highMixer: HighFrequencyMixer
    /// Attention on the last `lowChannels` channels.
    public let lowMixer: LowFrequencyMixer
    /// Depthwise 3×3 fusion (residual).
    public let convFuse: Conv2d
    /// 1×1 projection back to dim.
    public let proj: Conv2d
    /// Channels of the high- and low-frequency parts.
    public let highChannels: Int, lowChannels: Int

    /// Creates the mixer.
    /// - Parameters:
    ///   - dim: channels.
    ///   - numHeads: heads the stage would use for full attention; sets the head dim dim/numHeads.
    ///   - attentionHeads: heads given to the low-frequency part (its width is attentionHeads·hd).
    ///   - poolSize: pooling before attention (iFormer: 2 in stages 1–2, 1 later).
    public init(dim: Int, numHeads: Int, attentionHeads: Int, poolSize: Int = 2, qkvBias: Bool = true) {
        require(numHeads > 0 && dim % numHeads == 0, "InceptionMixer: dim \(dim) is not divisible by \(numHeads) heads")
        let low = attentionHeads * (dim / numHeads), high = dim - low
        require(attentionHeads > 0 && high > 0 && high % 2 == 0,
                "InceptionMixer: \(attentionHeads) attention heads of \(dim / numHeads) leave \(high) high-frequency channels of \(dim); need a positive even number")
        highMixer = HighFrequencyMixer(dim: high)
        lowMixer = LowFrequencyMixer(dim: low, numHeads: attentionHeads, poolSize: poolSize, qkvBias: qkvBias)
        let fused = low + 2 * high
        convFuse = Conv2d(fused, fused, kernelSize: 3, padding: 1, groups: fused, bias: false)
        proj = Conv2d(fused, dim, kernelSize: 1)
        (highChannels, lowChannels) = (high, low)
        super.init()
        initializeTransformerWeights(self)
    }

    /// (B, dim, H, W) → (B, dim, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 4 && x.shape[1] == highChannels + lowChannels,
                         "InceptionMixer: input of shape \(x.shape), expected (B, \(highChannels + lowChannels), H, W)")
        else { return .shapeFailure }
        let parts = x.split(sizes: [highChannels, lowChannels], axis: 1)
        let y = Tensor.concatenate([highMixer(parts[0]), lowMixer(parts[1])], axis: 1)
        return proj(y + convFuse(y))
    }
}

/// An iFormer block on images: pre-norm residual branches around the ``InceptionMixer`` and an
/// MLP, LayerNorm (eps 1e-6) over the channels, optional layer scales (iFormer: stages 3–4,
/// initialised to 1e-6):
///
///     x = x + ls1 ⊙ attn(norm1(x))
///     x = x + ls2 ⊙ mlp(norm2(x))        // Linear C → 4C, GELU, Linear 4C → C, per pixel
///
/// Children (iFormer's names): `norm1`, `attn`, `norm2`, `mlp` (`fc1`, `fc2`), `drop_path`
/// (stochastic depth on both branches, no parameters); parameters `layer_scale_1`,
/// `layer_scale_2` with layer scale.
/// Shape: (B, dim, H, W) → (B, dim, H, W).
public final class InceptionTransformerBlock: Module {
    /// Norm before the mixer.
    public let norm1: LayerNorm
    /// The token mixer.
    @Child public var attn: Module
    /// Norm before the MLP.
    public let norm2: LayerNorm
    /// Per-pixel MLP: `fc1`, GELU, `fc2`.
    public let mlp: TokenMlp
    /// (dim) scale of the mixer branch, or nil without layer scale (named for iFormer's key
    /// `layer_scale_1`).
    public let layerScale_1: Tensor?
    /// (dim) scale of the MLP branch, or nil (`layer_scale_2`).
    public let layerScale_2: Tensor?
    /// Stochastic depth of both residual branches (the identity at rate 0 and in evaluation).
    public let dropPath: DropPath

    /// Creates the block; see ``InceptionMixer/init(dim:numHeads:attentionHeads:poolSize:qkvBias:)``.
    /// - Parameters:
    ///   - layerScale: initial layer-scale value, or nil for none.
    ///   - dropPath: the probability of dropping a sample's branch in training (iFormer's
    ///     `drop_path`).
    public init(dim: Int, numHeads: Int, attentionHeads: Int, poolSize: Int = 2, mlpRatio: Int = 4, layerScale: Float? = nil,
                dropPath: Float = 0) {
        self.dropPath = DropPath(dropPath)
        norm1 = LayerNorm(dim, eps: 1e-6)
        _attn = Child(wrappedValue: InceptionMixer(dim: dim, numHeads: numHeads, attentionHeads: attentionHeads, poolSize: poolSize))
        norm2 = LayerNorm(dim, eps: 1e-6)
        mlp = TokenMlp(dim, hidden: dim * mlpRatio)
        layerScale_1 = layerScale.map { Tensor(repeating: $0, shape: [dim]) }
        layerScale_2 = layerScale.map { Tensor(repeating: $0, shape: [dim]) }
        super.init()
        initializeTransformerWeights(mlp)
    }

    /// (B, dim, H, W) → (B, dim, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 4, "InceptionTransformerBlock: input of shape \(x.shape) should be (B, C, H, W)")
        else { return .shapeFailure }
        let pixels = x.permuted([0, 2, 3, 1])                                                  // (B, H, W, C)
        let mixed = attn(norm1(pixels).permuted([0, 3, 1, 2])).permuted([0, 2, 3, 1])
        let y = pixels + dropPath(layerScale_1.map { $0 * mixed } ?? mixed)
        let fed = mlp(norm2(y))
        return (y + dropPath(layerScale_2.map { $0 * fed } ?? fed)).permuted([0, 3, 1, 2])
    }
}

/// timm's `Mlp` on channels-last tokens: fc2(GELU(fc1(x))).
/// Shape: (…, C) → (…, C).
public final class TokenMlp: Module {
    /// C → hidden.
    public let fc1: Linear
    /// hidden → C.
    public let fc2: Linear

    /// Creates the MLP.
    public init(_ features: Int, hidden: Int) {
        fc1 = Linear(features, hidden)
        fc2 = Linear(hidden, features)
        super.init()
    }

    /// (…, C) → (…, C).
    public override func forward(_ x: Tensor) -> Tensor { fc2(gelu(fc1(x))) }
}

/// iFormer's `_init_weights` applied to every Linear and Conv2d in `module`: trunc-normal
/// weights with std 0.02, zero biases.
private func initializeTransformerWeights(_ module: Module) {
    module.apply { m in
        if let l = m as? Linear { initializeTruncatedNormal(l.weight, l.bias, std: 0.02) }
        if let c = m as? Conv2d { initializeTruncatedNormal(c.weight, c.bias, std: 0.02) }
    }
}
