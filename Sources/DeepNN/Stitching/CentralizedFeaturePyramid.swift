import DeepCore

// CFPNet's explicit visual center (Quan et al. 2023, "Centralized Feature Pyramid for Object
// Detection"): a block that fuses a learned-codebook encoding of the whole map (LVC, global
// context) with a light MLP (long-range dependencies), for a detector's feature pyramid.
// Names follow the CFPNet code (`lvc.LVC.3.codewords`, `l_MLP.dw.dconv.conv.weight`, …) so its
// checkpoints load.

/// The explicit visual center block (`EVCBlock(c, c)` of CFPNet):
///
///     x1  = MaxPool3×3,s1,p1(ReLU(BN(Conv7×7(x))))
///     out = Conv1×1(2C → C)(concat[LVC(x1), LightMLP(x1)])
///
/// Children: `conv1` (7×7, no bias), `bn1`, `lvc` (``LVCBlock``), `l_MLP` (``LightMLPBlock``),
/// `cnv1` (1×1, 2C → C, bias).
/// Shape: (N, C, H, W) → (N, C, H, W). C must be divisible by 4 (the bottleneck).
public final class EVCBlock: Module {
    /// 7×7 stem convolution, C → C.
    public let conv1: Conv2d
    /// Stem normalisation.
    public let bn1: BatchNorm2d
    /// Learnable visual center: global context by codebook encoding.
    public let lvc: LVCBlock
    /// Light MLP branch.
    @Child public var lightMLP: LightMLPBlock
    /// Fuses the two branches, 2C → C.
    public let cnv1: Conv2d

    /// Creates the block for `channels` channels.
    /// - Parameter positionLinear: whether to create the `Linear(C, C)` that CFPNet's LightMLP
    ///   constructs and never uses, so that CFPNet checkpoints load strictly (C² + C parameters).
    public init(channels: Int, positionLinear: Bool = false) {
        conv1 = Conv2d(channels, channels, kernelSize: 7, padding: 3, bias: false)
        bn1 = BatchNorm2d(channels)
        lvc = LVCBlock(channels: channels)
        _lightMLP = Child(wrappedValue: LightMLPBlock(channels: channels, positionLinear: positionLinear), key: "l_MLP")
        cnv1 = Conv2d(2 * channels, channels, kernelSize: 1)
        super.init()
    }

    /// (N, C, H, W) → (N, C, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        let x1 = maxPool2d(relu(bn1(conv1(x))), kernelSize: 3, stride: 1, padding: 1)
        return cnv1(Tensor.concatenate([lvc(x1), lightMLP(x1)], axis: 1))
    }
}

/// CFPNet's learnable visual center:
///
///     t   = ConvBlock(x)                                   // bottleneck with a projected residual
///     e   = mean_k ReLU(BN1d(Encoding(ReLU(BN(Conv1×1(t))))))   // (N, C)
///     out = ReLU(t + t ⊙ sigmoid(Linear(e)))
///
/// Children: `conv_1` (``LVCBottleneck``), `LVC` (`0` conv, `1` BN, `3` ``CodebookEncoding``,
/// `4` BatchNorm1d over the codes), `fc.0` (Linear C → C).
/// Shape: (N, C, H, W) → (N, C, H, W).
public final class LVCBlock: Module {
    /// The bottleneck that produces t.
    @Child public var bottleneck: LVCBottleneck
    /// Conv, BN, ReLU, encoding, BN1d, ReLU, mean over codes: t → e (N, C).
    @Child public var encoder: Sequential
    /// Linear, sigmoid: e → channel gate γ.
    public let fc: Sequential

    /// Creates the block with CFPNet's 64 codewords.
    public init(channels: Int, codes: Int = 64) {
        _bottleneck = Child(wrappedValue: LVCBottleneck(channels: channels), key: "conv_1")
        _encoder = Child(wrappedValue: Sequential(Conv2d(channels, channels, kernelSize: 1, bias: false), BatchNorm2d(channels), ReLU(),
                                                  CodebookEncoding(channels: channels, codes: codes), BatchNorm1d(codes), ReLU(),
                                                  AxisMean(axis: 1)), key: "LVC")
        fc = Sequential(Linear(channels, channels), Sigmoid())
        super.init()
    }

    /// (N, C, H, W) → (N, C, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        let t = bottleneck(x)
        let gamma = fc(encoder(t))
        return relu(t + t * gamma.unsqueezed(axis: 2).unsqueezed(axis: 3))
    }
}

/// The bottleneck of CFPNet's LVC (its `ConvBlock` with `res_conv=True`), BN eps 1e-6:
/// relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + residual_bn(residual_conv(x))),
/// convs 1×1 C → C/4, 3×3 C/4 → C/4, 1×1 C/4 → C and the 1×1 C → C residual, all without bias.
/// Shape: (N, C, H, W) → (N, C, H, W).
public final class LVCBottleneck: Module {
    /// 1×1 reduction C → C/4 and its normalisation.
    public let conv1: Conv2d, bn1: BatchNorm2d
    /// 3×3 conv C/4 → C/4 and its normalisation.
    public let conv2: Conv2d, bn2: BatchNorm2d
    /// 1×1 expansion C/4 → C and its normalisation.
    public let conv3: Conv2d, bn3: BatchNorm2d
    /// The projected residual, 1×1 C → C (`residual_conv`, `residual_bn`).
    public let residualConv: Conv2d, residualBn: BatchNorm2d

    /// Creates the bottleneck for `channels` (a multiple of 4) channels.
    public init(channels: Int) {
        require(channels % 4 == 0 && channels > 0, "LVCBottleneck: channels \(channels) should be a positive multiple of 4")
        let c = channels / 4
        conv1 = Conv2d(channels, c, kernelSize: 1, bias: false)
        bn1 = BatchNorm2d(c, eps: 1e-6)
        conv2 = Conv2d(c, c, kernelSize: 3, padding: 1, bias: false)
        bn2 = BatchNorm2d(c, eps: 1e-6)
        conv3 = Conv2d(c, channels, kernelSize: 1, bias: false)
        bn3 = BatchNorm2d(channels, eps: 1e-6)
        residualConv = Conv2d(channels, channels, kernelSize: 1, bias: false)
        residualBn = BatchNorm2d(channels, eps: 1e-6)
        super.init()
    }

    /// (N, C, H, W) → (N, C, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        let y = bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))))
        return relu(y + residualBn(residualConv(x)))
    }
}

/// Codebook encoding (Zhang et al. 2018's Encoding layer, as CFPNet uses it): soft-assigns each
/// pixel feature xᵢ (of N = H·W) to K learned codewords b_k with smoothing factors s_k and sums
/// the residuals,
///
///     w_ik = softmax_k(s_k·‖xᵢ − b_k‖²),   e_k = Σᵢ w_ik·(xᵢ − b_k).
///
/// Computed without the (N, K, C) residual tensor: ‖xᵢ − b_k‖² = ‖xᵢ‖² − 2xᵢ·b_k + ‖b_k‖² and
/// e_k = Σᵢ w_ik·xᵢ − (Σᵢ w_ik)·b_k, both as matrix products.
///
/// Parameters: `codewords` (K, C) uniform in ±1/√(K·C), `scale` (K) uniform in [−1, 0).
/// Shape: (B, C, H, W) → (B, K, C).
public final class CodebookEncoding: Module {
    /// (K, C) codewords.
    public let codewords: Tensor
    /// (K) smoothing factors.
    public let scale: Tensor

    /// Creates the layer for `channels`-dimensional features and `codes` codewords.
    public init(channels: Int, codes: Int) {
        let bound = 1 / Float(codes * channels).squareRoot()
        codewords = Tensor.rand([codes, channels], low: -bound, high: bound)
        scale = Tensor.rand([codes], low: -1, high: 0)
        super.init()
    }

    /// (B, C, H, W) → (B, K, C).
    public override func forward(_ x: Tensor) -> Tensor {
        let c = codewords.shape[1]
        guard shapeCheck(x.rank == 4 && x.shape[1] == c,
                         "CodebookEncoding: input of shape \(x.shape), expected (B, \(c), H, W) for codewords \(codewords.shape)")
        else { return .shapeFailure }
        let features = x.flattened(from: 2).transposed(1, 2)                                       // (B, N, C)
        let squaredDistances = (features * features).sum(axis: 2, keepingDims: true)              // (B, N, 1)
            - 2 * matmul(features, codewords.mT)                                                  // (B, N, K)
            + (codewords * codewords).sum(axis: 1)                                                // (K)
        let weights = softmax(scale * squaredDistances, axis: -1)                                 // (B, N, K)
        let weightSums = weights.sum(axis: 1).unsqueezed(axis: 2)                                   // (B, K, 1)
        return matmul(weights.mT, features) - weightSums * codewords                              // (B, K, C)
    }
}

/// CFPNet's light MLP branch (a PoolFormer/MetaFormer block with a depthwise-separable token
/// mixer), GroupNorm with one group, layer scales initialised to 1e-5:
///
///     y = x + ls1 ⊙ DWConv(GN(x))     // dw 1×1 conv (groups C) + BN + SiLU, then 1×1 conv + BN + SiLU
///     y = y + ls2 ⊙ Mlp(GN(y))        // 1×1 conv C → 4C, GELU, 1×1 conv 4C → C (trunc-normal .02)
///
/// Children: `dw.dconv`, `dw.pconv` (each `conv`, `bn`), `norm1`, `norm2`, `mlp.fc1`, `mlp.fc2`;
/// parameters `layer_scale_1`, `layer_scale_2`; `linear` only with `positionLinear`.
/// Shape: (N, C, H, W) → (N, C, H, W).
public final class LightMLPBlock: Module {
    /// Depthwise-separable token mixer.
    public let dw: DepthwiseSeparableConv
    /// The unused "position embedding" Linear of CFPNet, kept only to load its checkpoints.
    public let linear: Linear?
    /// GroupNorm(1, C) before each residual branch.
    public let norm1: GroupNorm, norm2: GroupNorm
    /// Channel MLP of 1×1 convolutions.
    public let mlp: ConvMlp
    /// (C) per-channel scale of the token-mixer branch (`layer_scale_1`).
    @Parameter public var layerScale1: Tensor
    /// (C) per-channel scale of the MLP branch (`layer_scale_2`).
    @Parameter public var layerScale2: Tensor

    /// Creates the block; see ``EVCBlock/init(channels:positionLinear:)`` for `positionLinear`.
    public init(channels: Int, mlpRatio: Int = 4, layerScale: Float = 1e-5, positionLinear: Bool = false) {
        dw = DepthwiseSeparableConv(channels, channels)
        linear = positionLinear ? Linear(channels, channels) : nil
        norm1 = GroupNorm(1, channels)
        norm2 = GroupNorm(1, channels)
        mlp = ConvMlp(channels, hidden: channels * mlpRatio)
        _layerScale1 = Parameter(wrappedValue: Tensor(repeating: layerScale, shape: [channels]), key: "layer_scale_1")
        _layerScale2 = Parameter(wrappedValue: Tensor(repeating: layerScale, shape: [channels]), key: "layer_scale_2")
        super.init()
    }

    /// (N, C, H, W) → (N, C, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        let c = layerScale1.count
        let y = x + layerScale1.reshaped([c, 1, 1]) * dw(norm1(x))
        return y + layerScale2.reshaped([c, 1, 1]) * mlp(norm2(y))
    }
}

/// YOLOX's depthwise-separable convolution (`DWConv`): `dconv` (depthwise k×k conv, BN, SiLU),
/// then `pconv` (pointwise 1×1 conv, BN, SiLU). CFPNet uses it with k = 1.
/// Shape: (N, in, H, W) → (N, out, H', W').
public final class DepthwiseSeparableConv: Module {
    /// Depthwise stage, in → in with `in` groups.
    public let dconv: ConvBatchNormSiLU
    /// Pointwise stage, in → out.
    public let pconv: ConvBatchNormSiLU

    /// Creates the unit.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int = 1, stride: Int = 1) {
        dconv = ConvBatchNormSiLU(inChannels, inChannels, kernelSize: kernelSize, stride: stride, groups: inChannels)
        pconv = ConvBatchNormSiLU(inChannels, outChannels)
        super.init()
    }

    /// pconv(dconv(x)).
    public override func forward(_ x: Tensor) -> Tensor { pconv(dconv(x)) }
}

/// A YOLOX `BaseConv`: convolution without bias, batch normalisation, SiLU; children `conv`, `bn`.
/// Shape: (N, in, H, W) → (N, out, H', W').
public final class ConvBatchNormSiLU: Module {
    /// The convolution (no bias).
    public let conv: Conv2d
    /// The normalisation.
    public let bn: BatchNorm2d

    /// Creates the unit.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int = 1, stride: Int = 1, groups: Int = 1) {
        conv = Conv2d(inChannels, outChannels, kernelSize: kernelSize, stride: stride, padding: (kernelSize - 1) / 2,
                      groups: groups, bias: false)
        bn = BatchNorm2d(outChannels)
        super.init()
    }

    /// silu(bn(conv(x))).
    public override func forward(_ x: Tensor) -> Tensor { silu(bn(conv(x))) }
}

/// An MLP of 1×1 convolutions: fc2(GELU(fc1(x))), weights trunc-normal with std 0.02 and zero
/// biases (CFPNet's and PoolFormer's `Mlp`).
/// Shape: (N, C, H, W) → (N, C, H, W).
public final class ConvMlp: Module {
    /// C → hidden.
    public let fc1: Conv2d
    /// hidden → C.
    public let fc2: Conv2d

    /// Creates the MLP.
    public init(_ channels: Int, hidden: Int) {
        fc1 = Conv2d(channels, hidden, kernelSize: 1)
        fc2 = Conv2d(hidden, channels, kernelSize: 1)
        super.init()
        for conv in [fc1, fc2] { initializeTruncatedNormal(conv.weight, conv.bias, std: 0.02) }
    }

    /// (N, C, H, W) → (N, C, H, W).
    public override func forward(_ x: Tensor) -> Tensor { fc2(gelu(fc1(x))) }
}

/// The mean over one axis, as a layer (CFPNet's `Mean`).
final class AxisMean: Module {
    let axis: Int
    init(axis: Int) {
        self.axis = axis
        super.init()
    }
    override func forward(_ x: Tensor) -> Tensor { x.mean(axis: axis) }
}
