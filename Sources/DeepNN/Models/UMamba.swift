import DeepCore

// U-Mamba (bowang-lab/U-Mamba, UMambaBot_2d/3d and UMambaEnc_2d/3d): an nnU-Net-style residual
// U-Net with Mamba layers over the flattened feature maps, either at the bottleneck only
// (U-Mamba_Bot) or after encoder stages (U-Mamba_Enc), on images (Conv2d, InstanceNorm2d) or
// volumes (Conv3d, InstanceNorm3d). Module and parameter names follow the PyTorch code
// (`encoder.stem`, `encoder.stages.s.b`, `encoder.mamba_layers.s`, `mamba_layer`,
// `decoder.stages`, `decoder.upsample_layers`, `decoder.seg_layers`), except that the blocks'
// `all_modules` aliases are not duplicated.

/// The layers of a U-Mamba's spatial rank: 2 (images) or 3 (volumes), with per-axis kernel sizes
/// and strides as nnU-Net plans give them.
struct SpatialLayers {
    /// 2 or 3.
    let rank: Int

    /// Conv2d or Conv3d, padded by ⌊k/2⌋ per axis (nnU-Net's `conv_pad_sizes`).
    func convolution(_ cin: Int, _ cout: Int, kernel: [Int], stride: [Int], bias: Bool = true) -> Module {
        let padding = kernel.map { $0 / 2 }
        return rank == 3 ? Conv3d(cin, cout, kernelSize: kernel, stride: stride, padding: padding, bias: bias)
            : Conv2d(cin, cout, kernelSize: kernel, stride: stride, padding: padding, bias: bias)
    }

    /// A 1×1(×1) convolution.
    func pointwise(_ cin: Int, _ cout: Int, stride: [Int]? = nil) -> Module {
        convolution(cin, cout, kernel: ones, stride: stride ?? ones)
    }

    /// InstanceNorm2d or InstanceNorm3d with affine parameters, eps 1e-5 (U-Mamba's plans).
    func instanceNorm(_ channels: Int) -> Module {
        rank == 3 ? InstanceNorm3d(channels, eps: 1e-5, affine: true) : InstanceNorm2d(channels, eps: 1e-5, affine: true)
    }

    /// [1, 1] or [1, 1, 1].
    var ones: [Int] { Array(repeating: 1, count: rank) }
}

/// Flattens a feature map into a sequence, normalises it and runs a ``Mamba`` block over it,
/// then restores the map (U-Mamba's `MambaLayer`; no residual around it, as in the original).
///
/// - Pixel tokens: (B, C, H, W) → (B, H·W, C), LayerNorm(C), Mamba(dModel: C) → (B, C, H, W).
/// - Channel tokens (`channelTokens`, for maps with H·W ≤ C): (B, C, H, W) → (B, C, H·W),
///   LayerNorm(H·W), Mamba(dModel: H·W) over the C channels → (B, C, H, W).
public final class MambaLayer: Module {
    /// LayerNorm over the token features.
    public let norm: LayerNorm
    /// The Mamba block.
    public let mamba: Mamba
    /// Whether the channels are the tokens.
    public let channelTokens: Bool

    /// Creates the layer for token features of size `dim` (C, or H·W with channel tokens).
    public init(dim: Int, dState: Int = 16, dConv: Int = 4, expand: Int = 2, channelTokens: Bool = false) {
        norm = LayerNorm(dim)
        mamba = Mamba(dModel: dim, dState: dState, dConv: dConv, expand: expand)
        self.channelTokens = channelTokens
        super.init()
    }

    /// (B, C, H, W) → (B, C, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank >= 3, "MambaLayer: input \(x.shape) is not (B, C, spatial…)") else { return .shapeFailure }
        let tokens = x.flattened(from: 2)                                      // (B, C, T)
        if channelTokens { return mamba(norm(tokens)).reshaped(x.shape) }
        return mamba(norm(tokens.transposed(1, 2))).transposed(1, 2).reshaped(x.shape)
    }
}

/// nnU-Net's residual block with a projected skip (U-Mamba's `BasicResBlock`):
/// act2(norm2(conv2(act1(norm1(conv1(x))))) + conv3(x)), conv1 and the 1×1 conv3 carrying the
/// stride; InstanceNorm (affine) and LeakyReLU(0.01).
final class BasicResBlock: Module {
    let conv1: Module, norm1: Module, act1: LeakyReLU
    let conv2: Module, norm2: Module, act2: LeakyReLU
    let conv3: Module

    init(_ layers: SpatialLayers, _ cin: Int, _ cout: Int, kernel: [Int], stride: [Int]) {
        conv1 = layers.convolution(cin, cout, kernel: kernel, stride: stride)
        norm1 = layers.instanceNorm(cout)
        act1 = LeakyReLU(negativeSlope: 0.01)
        conv2 = layers.convolution(cout, cout, kernel: kernel, stride: layers.ones)
        norm2 = layers.instanceNorm(cout)
        act2 = LeakyReLU(negativeSlope: 0.01)
        conv3 = layers.pointwise(cin, cout, stride: stride)
        super.init()
    }

    override func forward(_ x: Tensor) -> Tensor {
        let y = norm2(conv2(act1(norm1(conv1(x)))))
        return act2(y + conv3(x))
    }
}

/// Convolution, instance norm and optionally LeakyReLU (dynamic-network-architectures'
/// `ConvDropoutNormReLU` without dropout): children `conv`, `norm`, `nonlin`.
final class ConvNormActivation: Module {
    let conv: Module, norm: Module, nonlin: LeakyReLU?

    init(_ layers: SpatialLayers, _ channels: Int, kernel: [Int], bias: Bool, activation: Bool) {
        conv = layers.convolution(channels, channels, kernel: kernel, stride: layers.ones, bias: bias)
        norm = layers.instanceNorm(channels)
        nonlin = activation ? LeakyReLU(negativeSlope: 0.01) : nil
        super.init()
    }

    override func forward(_ x: Tensor) -> Tensor {
        let y = norm(conv(x))
        return nonlin.map { $0(y) } ?? y
    }
}

/// ResNet-D basic block at stride 1 and constant width (`BasicBlockD` as U-Mamba uses it):
/// nonlin2(conv2(conv1(x)) + x).
final class BasicBlockD: Module {
    let conv1: ConvNormActivation, conv2: ConvNormActivation, nonlin2: LeakyReLU

    init(_ layers: SpatialLayers, _ channels: Int, kernel: [Int]) {
        conv1 = ConvNormActivation(layers, channels, kernel: kernel, bias: true, activation: true)
        conv2 = ConvNormActivation(layers, channels, kernel: kernel, bias: true, activation: false)
        nonlin2 = LeakyReLU(negativeSlope: 0.01)
        super.init()
    }

    override func forward(_ x: Tensor) -> Tensor { nonlin2(conv2(conv1(x)) + x) }
}

/// Nearest upsampling by the stage stride (per axis), then a 1×1 convolution to the skip's width.
final class UpsampleLayer: Module {
    let conv: Module
    let scale: [Int]

    init(_ layers: SpatialLayers, _ cin: Int, _ cout: Int, scale: [Int]) {
        conv = layers.pointwise(cin, cout)
        self.scale = scale
        super.init()
    }

    override func forward(_ x: Tensor) -> Tensor {
        guard scale.contains(where: { $0 != 1 }) else { return conv(x) }
        let size = zip(x.shape.dropFirst(2), scale).map { $0 * $1 }
        return conv(interpolate(x, size: size, mode: .nearest))
    }
}

/// The residual encoder: a stem at full resolution, then stages of one strided `BasicResBlock`
/// and (blocks − 1) `BasicBlockD`, each stage optionally followed by a ``MambaLayer``.
final class UMambaEncoder: Module {
    let stem: Sequential
    /// One per stage (Identity where there is none), U-Mamba_Enc only; declared before the
    /// stages, as the official encoder registers them (the state dict's order).
    let mambaLayers: ModuleList?
    let stages: ModuleList

    init(_ layers: SpatialLayers, inChannels: Int, features: [Int], strides: [[Int]], blocks: [Int], kernels: [[Int]],
         mambaLayers: [Module]?) {
        func stage(_ cin: Int, _ cout: Int, kernel: [Int], stride: [Int], blocks: Int) -> Sequential {
            Sequential([BasicResBlock(layers, cin, cout, kernel: kernel, stride: stride)]
                       + (1..<Swift.max(1, blocks)).map { _ in BasicBlockD(layers, cout, kernel: kernel) as Module })
        }
        stem = stage(inChannels, features[0], kernel: kernels[0], stride: layers.ones, blocks: blocks[0])
        stages = ModuleList(features.indices.map { s in
            stage(s == 0 ? features[0] : features[s - 1], features[s], kernel: kernels[s], stride: strides[s], blocks: blocks[s])
        })
        self.mambaLayers = mambaLayers.map { ModuleList($0) }
        super.init()
    }

    /// Every stage's output (after its Mamba layer, if any), highest resolution first.
    func skips(_ x: Tensor) -> [Tensor] {
        var h = stem(x)
        var out: [Tensor] = []
        for (s, stage) in stages.modules.enumerated() {
            h = stage(h)
            if let layers = mambaLayers { h = layers.modules[s](h) }
            out.append(h)
        }
        return out
    }
}

/// The decoder: per stage (lowest resolution first) upsample, concatenate the skip (in 2-D
/// except at the last stage, in 3-D at every stage, as U-Mamba's files do), residual blocks, and
/// a 1×1 segmentation head.
final class UMambaDecoder: Module {
    let stages: ModuleList
    let upsampleLayers: ModuleList
    let segLayers: ModuleList
    /// Whether the last stage also concatenates its skip (U-Mamba's 3-D files).
    let concatenatesLastSkip: Bool

    init(_ layers: SpatialLayers, features: [Int], strides: [[Int]], convs: [Int], numClasses: Int, kernels: [[Int]]) {
        let n = features.count
        concatenatesLastSkip = layers.rank == 3
        var stageModules: [Module] = [], upsample: [Module] = [], heads: [Module] = []
        for s in 1..<n {
            let below = features[n - s], skip = features[n - s - 1], kernel = kernels[n - s - 1]
            upsample.append(UpsampleLayer(layers, below, skip, scale: strides[n - s]))
            let cin = s < n - 1 || concatenatesLastSkip ? 2 * skip : skip
            stageModules.append(Sequential([BasicResBlock(layers, cin, skip, kernel: kernel, stride: layers.ones)]
                                           + (1..<Swift.max(1, convs[s - 1])).map { _ in BasicBlockD(layers, skip, kernel: kernel) as Module }))
            heads.append(layers.pointwise(skip, numClasses))
        }
        stages = ModuleList(stageModules)
        upsampleLayers = ModuleList(upsample)
        segLayers = ModuleList(heads)
        super.init()
    }

    /// Segmentation logits of every decoder stage, highest resolution first.
    func outputs(_ skips: [Tensor], all: Bool) -> [Tensor] {
        var h = skips[skips.count - 1]
        var seg: [Tensor] = []
        let count = stages.modules.count
        for s in 0..<count {
            h = upsampleLayers.modules[s](h)
            if s < count - 1 || concatenatesLastSkip { h = Tensor.concatenate([h, skips[skips.count - s - 2]], axis: 1) }
            h = stages.modules[s](h)
            if all || s == count - 1 { seg.append(segLayers.modules[s](h)) }
        }
        return seg.reversed()
    }
}

/// U-Mamba for 2-D or 3-D segmentation: U-Mamba_Bot (a ``MambaLayer`` on the bottleneck
/// features) or U-Mamba_Enc (a ``MambaLayer`` after encoder stages — in 2-D after stage s when
/// (s odd) XOR (stage count odd), so the last stage always has one; in 3-D after every stage —
/// with channel tokens where a stage's map has no more positions than channels).
///
/// As in U-Mamba: encoder stages from ⌈n/2⌉ on have one block and decoder stages
/// ⌈(n−1)/2 + ½⌉ … n−2 one convolution block; InstanceNorm (affine), LeakyReLU(0.01), conv bias;
/// every convolution is initialised kaiming-normal with a = 0.01 and zero bias (`InitWeights_He`),
/// the Mamba layers keep their own initialisation. In 3-D the last decoder stage also
/// concatenates its skip (UMambaBot_3d/UMambaEnc_3d do, the 2-D files do not).
///
/// Shape: (N, inChannels, H, W) → (N, numClasses, H, W), or (N, inChannels, D, H, W) →
/// (N, numClasses, D, H, W), each spatial size divisible by the product of its strides.
/// ``deepSupervisionOutputs(_:)`` returns every decoder stage's logits.
public final class UMamba: Module {
    /// Where the Mamba layers go.
    public enum Variant {
        /// U-Mamba_Bot: one Mamba layer at the bottleneck.
        case bottleneck
        /// U-Mamba_Enc: Mamba layers after encoder stages (alternate ones in 2-D, all in 3-D).
        case encoder
    }

    let encoder: UMambaEncoder
    /// The bottleneck Mamba layer (U-Mamba_Bot only).
    let mambaLayer: MambaLayer?
    let decoder: UMambaDecoder

    /// Creates the 2-D network with square kernels and strides.
    ///
    /// - Parameters:
    ///   - featuresPerStage: channels per encoder stage, n ≥ 2 stages.
    ///   - strides: downsampling per stage, default 1 then 2s.
    ///   - blocksPerStage: residual blocks per encoder stage before the U-Mamba rule, default 2.
    ///   - decoderBlocksPerStage: blocks per decoder stage (n − 1, lowest resolution first) before
    ///     the U-Mamba rule, default 2.
    ///   - imageSize: (H, W) of the inputs; U-Mamba_Enc needs it to choose channel tokens.
    public convenience init(inChannels: Int, numClasses: Int, variant: Variant = .bottleneck,
                            featuresPerStage: [Int] = [32, 64, 128, 256], strides: [Int]? = nil, kernelSize: Int = 3,
                            blocksPerStage: [Int]? = nil, decoderBlocksPerStage: [Int]? = nil, imageSize: [Int]? = nil,
                            dState: Int = 16, dConv: Int = 4, expand: Int = 2) {
        let n = featuresPerStage.count
        let strides = strides ?? [1] + Array(repeating: 2, count: Swift.max(0, n - 1))
        require(strides.count == n, "UMamba: \(strides.count) strides for \(n) stages")
        self.init(inChannels: inChannels, numClasses: numClasses, variant: variant, featuresPerStage: featuresPerStage,
                  strides: strides.map { [$0, $0] }, kernelSizes: Array(repeating: [kernelSize, kernelSize], count: n),
                  blocksPerStage: blocksPerStage, decoderBlocksPerStage: decoderBlocksPerStage, inputSize: imageSize,
                  dState: dState, dConv: dConv, expand: expand)
    }

    /// Creates the network from per-axis kernel sizes and strides, as nnU-Net plans give them:
    /// 2-D with pairs, 3-D (volumes) with triples.
    ///
    ///     UMamba(inChannels: 1, numClasses: 3, variant: .encoder, featuresPerStage: [32, 64, 128, 256],
    ///            strides: [[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 2]],
    ///            kernelSizes: [[1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]], inputSize: [16, 128, 128])
    ///
    /// - Parameters:
    ///   - strides: per stage, the downsampling along each axis (the first stage usually all 1s).
    ///   - kernelSizes: per stage, the kernel along each axis (odd sizes).
    ///   - inputSize: the spatial size of the inputs; U-Mamba_Enc needs it to size its Mamba
    ///     layers and choose channel tokens.
    ///   - the others: as the 2-D initialiser.
    public init(inChannels: Int, numClasses: Int, variant: Variant = .bottleneck, featuresPerStage: [Int],
                strides: [[Int]], kernelSizes: [[Int]], blocksPerStage: [Int]? = nil, decoderBlocksPerStage: [Int]? = nil,
                inputSize: [Int]? = nil, dState: Int = 16, dConv: Int = 4, expand: Int = 2) {
        let n = featuresPerStage.count
        require(n >= 2, "UMamba: needs at least 2 stages, got \(featuresPerStage)")
        require(strides.count == n && kernelSizes.count == n,
                "UMamba: \(strides.count) strides and \(kernelSizes.count) kernel sizes for \(n) stages")
        let rank = kernelSizes[0].count
        require((rank == 2 || rank == 3) && (strides + kernelSizes).allSatisfy { $0.count == rank },
                "UMamba: strides \(strides) and kernel sizes \(kernelSizes) should all be pairs (images) or all triples (volumes)")
        let layers = SpatialLayers(rank: rank)
        let (blocks, decoderBlocks) = UMamba.blockCounts(stages: n, encoder: blocksPerStage, decoder: decoderBlocksPerStage)
        var mambaLayers: [Module]? = nil
        if variant == .encoder {
            guard let inputSize, inputSize.count == rank else {
                ShapeErrors.stop("UMamba: the encoder variant needs inputSize, the inputs' \(rank == 3 ? "(D, H, W)" : "(H, W)")")
            }
            var size = inputSize
            mambaLayers = (0..<n).map { s in
                size = zip(size, strides[s]).map { $0 / $1 }
                guard UMamba.hasEncoderMambaLayer(stage: s, stages: n, rank: rank) else { return Identity() }
                let tokens = size.reduce(1, *)
                let channelTokens = tokens <= featuresPerStage[s]
                return MambaLayer(dim: channelTokens ? tokens : featuresPerStage[s], dState: dState, dConv: dConv,
                                  expand: expand, channelTokens: channelTokens)
            }
        }
        encoder = UMambaEncoder(layers, inChannels: inChannels, features: featuresPerStage, strides: strides, blocks: blocks,
                                kernels: kernelSizes, mambaLayers: mambaLayers)
        mambaLayer = variant == .bottleneck
            ? MambaLayer(dim: featuresPerStage[n - 1], dState: dState, dConv: dConv, expand: expand) : nil
        decoder = UMambaDecoder(layers, features: featuresPerStage, strides: strides, convs: decoderBlocks, numClasses: numClasses,
                                kernels: kernelSizes)
        super.init()
        initializeConvolutions(generator: &DefaultRandom.generator)
    }

    /// Blocks per encoder stage and per decoder stage after U-Mamba's rule: encoder stages
    /// ⌈n/2⌉ … n−1 and decoder entries ⌈(n−1)/2 + ½⌉ … n−2 get one block.
    static func blockCounts(stages n: Int, encoder: [Int]?, decoder: [Int]?) -> (encoder: [Int], decoder: [Int]) {
        var blocks = encoder ?? Array(repeating: 2, count: n)
        var decoderBlocks = decoder ?? Array(repeating: 2, count: n - 1)
        require(blocks.count == n && decoderBlocks.count == n - 1,
                "UMamba: \(blocks.count) encoder and \(decoderBlocks.count) decoder block counts for \(n) stages")
        for s in ((n + 1) / 2)..<n { blocks[s] = 1 }
        let first = Int((Double(n - 1) / 2 + 0.5).rounded(.up))
        if first < n - 1 { for s in first..<(n - 1) { decoderBlocks[s] = 1 } }
        return (blocks, decoderBlocks)
    }

    /// Whether U-Mamba_Enc puts a Mamba layer after encoder stage `s` of `n`: in 2-D when
    /// (s odd) XOR (n odd), in 3-D after every stage.
    static func hasEncoderMambaLayer(stage s: Int, stages n: Int, rank: Int = 2) -> Bool {
        rank == 3 || (s % 2 == 1) != (n % 2 == 1)
    }

    /// `InitWeights_He(1e-2)`: kaiming-normal (a = 0.01) weights and zero bias for every Conv2d
    /// and Conv3d.
    private func initializeConvolutions(generator: inout RandomGenerator) {
        for (_, module) in namedModules() {
            let parameters: (weight: Tensor, bias: Tensor?)
            if let conv = module as? Conv2d { parameters = (conv.weight, conv.bias) }
            else if let conv = module as? Conv3d { parameters = (conv.weight, conv.bias) }
            else { continue }
            parameters.weight.assign(Initializer.kaimingNormal(parameters.weight.shape, nonlinearity: .leakyRelu(negativeSlope: 1e-2),
                                                               generator: &generator))
            parameters.bias?.assign(Tensor(zeros: parameters.bias!.shape))
        }
    }

    /// (N, inChannels, H, W) → (N, numClasses, H, W): the last decoder stage's logits.
    public override func forward(_ x: Tensor) -> Tensor {
        decoder.outputs(skips(x), all: false)[0]
    }

    /// The logits of every decoder stage, highest resolution first (deep supervision).
    public func deepSupervisionOutputs(_ x: Tensor) -> [Tensor] {
        decoder.outputs(skips(x), all: true)
    }

    private func skips(_ x: Tensor) -> [Tensor] {
        var skips = encoder.skips(x)
        if let mambaLayer { skips[skips.count - 1] = mambaLayer(skips[skips.count - 1]) }
        return skips
    }
}
