import DeepCore

// The whole Inception Transformer (Si et al. 2022, "Inception Transformer"; sail-sg/iFormer,
// models/inception_transformer.py): a two-conv stem, four stages of ``InceptionTransformerBlock``
// separated by stride-2 patch embeddings, a learned positional table per stage, LayerNorm,
// mean over the tokens and a linear head. Layout and state-dict names are the official ones, so
// its checkpoints load as they are. The blocks run on (N, C, H, W) maps; the official code keeps
// (N, H, W, C) between them, which changes no weight.

/// iFormer's classifier.
///
///     x = patch_embed(image)                         // conv 3×3 s2 → C₁/2, BN, GELU, conv 3×3 s2 → C₁, BN
///     x = blocks1(x + pos_embed1)                    // (N, C₁, H/4, W/4)
///     x = blocks2(patch_embed2(x) + pos_embed2)      // conv 3×3 s2 + BN; (N, C₂, H/8, W/8)
///     x = blocks3(patch_embed3(x) + pos_embed3)      // (N, C₃, H/16, W/16)
///     x = blocks4(patch_embed4(x) + pos_embed4)      // (N, C₄, H/32, W/32)
///     logits = head(mean over pixels of norm(x))     // LayerNorm over C₄ (eps 1e-6)
///
/// Children and parameters (official names): `patch_embed` (`proj1`, `norm1`, `proj2`, `norm2`),
/// `pos_embed1`…`pos_embed4` ((1, n, n, Cᵢ) with n = imageSize/4, /8, /16, /32, rounded down
/// stage by stage), `blocks1`…`blocks4` (``Sequential`` of blocks `0`, `1`, …),
/// `patch_embed2`…`patch_embed4` (`proj`, `norm`), `norm`, `head`. An input whose maps differ
/// from the tables' sides gets the tables resized bilinearly, as the official model does (at
/// 384² with 224² weights, say).
///
/// Initialisation as the official: convolutions, linear layers and positional tables
/// truncated normal with std 0.02, zero biases, unit norms; layer scales (stages 3–4) 1e-6.
/// Stochastic depth as the official `drop_path_rate` (0 by default): block i of all the blocks
/// drops its branches with probability rate·i/(blocks − 1) in training (the official linspace).
///
/// Shape: (N, inChannels, H, W) → (N, numClasses), H and W divisible by 32 (the stages' average
/// pooling halves 2-divisible maps).
public final class InceptionTransformer: Module {
    /// An iFormer's stages: depths, widths, heads and each block's split between attention and
    /// the convolution and max-pool branches.
    public struct Configuration: Sendable, Equatable {
        /// Blocks per stage (4 stages).
        public var depths: [Int]
        /// Channels per stage.
        public var embedDims: [Int]
        /// Heads per stage; the head width of stage i is embedDims[i] / numHeads[i].
        public var numHeads: [Int]
        /// Attention heads of every block, in order (depths.sum() entries): block b of stage i
        /// gives attentionHeads[b]·embedDims[i]/numHeads[i] channels to attention and the rest
        /// (even, positive) to the high-frequency branches. The official splits grow with depth.
        public var attentionHeads: [Int]
        /// Hidden width of the blocks' MLPs over their width.
        public var mlpRatio: Int
        /// Average pooling before attention, per stage (official: 2, 2, 1, 1).
        public var poolSizes: [Int]
        /// Initial layer-scale value of the blocks of stages 3 and 4 (official: 1e-6), or nil
        /// for none; stages 1 and 2 have none, as in the official code.
        public var layerScale: Float?

        /// A configuration; see the properties.
        public init(depths: [Int], embedDims: [Int], numHeads: [Int], attentionHeads: [Int], mlpRatio: Int = 4,
                    poolSizes: [Int] = [2, 2, 1, 1], layerScale: Float? = 1e-6) {
            (self.depths, self.embedDims, self.numHeads, self.attentionHeads) = (depths, embedDims, numHeads, attentionHeads)
            (self.mlpRatio, self.poolSizes, self.layerScale) = (mlpRatio, poolSizes, layerScale)
        }

        /// iFormer-S (`iformer_small`): 19,866,344 parameters with 1000 classes.
        public static let small = Configuration(
            depths: [3, 3, 9, 3], embedDims: [96, 192, 320, 384], numHeads: [3, 6, 10, 12],
            attentionHeads: repeated([(1, 3), (3, 3), (7, 4), (9, 5), (11, 3)]))
        /// iFormer-B (`iformer_base`): 47,866,216 parameters with 1000 classes.
        public static let base = Configuration(
            depths: [4, 6, 14, 6], embedDims: [96, 192, 384, 512], numHeads: [3, 6, 12, 16],
            attentionHeads: repeated([(1, 4), (3, 6), (8, 7), (10, 7), (15, 6)]))
        /// iFormer-L (`iformer_large`): 86,637,096 parameters with 1000 classes.
        public static let large = Configuration(
            depths: [4, 6, 18, 8], embedDims: [96, 192, 448, 640], numHeads: [3, 6, 14, 20],
            attentionHeads: repeated([(1, 4), (3, 6), (10, 9), (12, 9), (19, 8)]))

        /// `[a, a, a, b, b, …]` from `[(a, 3), (b, 2), …]`, as the official lists are written.
        private static func repeated(_ runs: [(Int, Int)]) -> [Int] {
            runs.flatMap { Array(repeating: $0.0, count: $0.1) }
        }
    }

    /// The stem: two 3×3 stride-2 convolutions with BatchNorm, GELU between (`FirstPatchEmbed`).
    public let patchEmbed: InceptionStemEmbedding
    /// (1, n, n, C₁) positional table of stage 1, n = imageSize/4.
    public let posEmbed1: Tensor
    /// (1, n, n, C₂) positional table of stage 2, n = imageSize/4/2.
    public let posEmbed2: Tensor
    /// (1, n, n, C₃) positional table of stage 3.
    public let posEmbed3: Tensor
    /// (1, n, n, C₄) positional table of stage 4.
    public let posEmbed4: Tensor
    /// Stage 1 blocks.
    public let blocks1: Sequential
    /// Stride-2 embedding C₁ → C₂.
    public let patchEmbed2: InceptionPatchEmbedding
    /// Stage 2 blocks.
    public let blocks2: Sequential
    /// Stride-2 embedding C₂ → C₃.
    public let patchEmbed3: InceptionPatchEmbedding
    /// Stage 3 blocks.
    public let blocks3: Sequential
    /// Stride-2 embedding C₃ → C₄.
    public let patchEmbed4: InceptionPatchEmbedding
    /// Stage 4 blocks.
    public let blocks4: Sequential
    /// LayerNorm (eps 1e-6) over the last stage's channels.
    public let norm: LayerNorm
    /// C₄ → classes.
    public let head: Linear
    /// The stages' layout.
    public let configuration: Configuration
    /// The image side the positional tables are made for.
    public let imageSize: Int

    /// Creates the model with the official initialisation from the default generator.
    ///
    ///     let model = InceptionTransformer(.small)                  // iFormer-S, 1000 classes, 224²
    ///
    /// - Parameters:
    ///   - configuration: ``Configuration/small``, ``Configuration/base``, ``Configuration/large``
    ///     or a custom one.
    ///   - inChannels: image channels (3).
    ///   - numClasses: outputs of the head (1000).
    ///   - imageSize: the side the positional tables are made for (224), at least 32.
    ///   - dropPathRate: stochastic depth of the last block (the official `drop_path_rate`;
    ///     the paper trains iFormer-S/B/L with 0.2/0.3/0.4).
    public init(_ configuration: Configuration, inChannels: Int = 3, numClasses: Int = 1000, imageSize: Int = 224,
                dropPathRate: Float = 0) {
        let c = configuration
        require(c.depths.count == 4 && c.embedDims.count == 4 && c.numHeads.count == 4 && c.poolSizes.count == 4,
                "InceptionTransformer: depths \(c.depths), embedDims \(c.embedDims), numHeads \(c.numHeads) and poolSizes \(c.poolSizes) need 4 stages each")
        require(c.depths.allSatisfy { $0 > 0 } && c.attentionHeads.count == c.depths.reduce(0, +),
                "InceptionTransformer: \(c.attentionHeads.count) attention-head counts for depths \(c.depths)")
        require(inChannels > 0 && numClasses > 0 && imageSize >= 32,
                "InceptionTransformer: inChannels \(inChannels), numClasses \(numClasses) and imageSize \(imageSize) (at least 32)")
        require(dropPathRate >= 0 && dropPathRate <= 1, "InceptionTransformer: dropPathRate \(dropPathRate) is not in [0, 1]")
        let blockCount = c.depths.reduce(0, +)
        // torch.linspace(0, rate, blocks).
        let rates = (0..<blockCount).map { blockCount == 1 ? 0 : dropPathRate * Float($0) / Float(blockCount - 1) }
        (self.configuration, self.imageSize) = (c, imageSize)
        let dims = c.embedDims
        var sides = [imageSize / 4]
        for _ in 1..<4 { sides.append(sides[sides.count - 1] / 2) }
        let tables = (0..<4).map { Initializer.truncatedNormal([1, sides[$0], sides[$0], dims[$0]], std: 0.02, generator: &DefaultRandom.generator) }
        (posEmbed1, posEmbed2, posEmbed3, posEmbed4) = (tables[0], tables[1], tables[2], tables[3])
        patchEmbed = InceptionStemEmbedding(inChannels: inChannels, embedDim: dims[0])
        patchEmbed2 = InceptionPatchEmbedding(inChannels: dims[0], embedDim: dims[1])
        patchEmbed3 = InceptionPatchEmbedding(inChannels: dims[1], embedDim: dims[2])
        patchEmbed4 = InceptionPatchEmbedding(inChannels: dims[2], embedDim: dims[3])
        var first = 0
        let stages = (0..<4).map { stage -> Sequential in
            defer { first += c.depths[stage] }
            return Sequential((first..<first + c.depths[stage]).map { block in
                InceptionTransformerBlock(dim: dims[stage], numHeads: c.numHeads[stage], attentionHeads: c.attentionHeads[block],
                                          poolSize: c.poolSizes[stage], mlpRatio: c.mlpRatio, layerScale: stage >= 2 ? c.layerScale : nil,
                                          dropPath: rates[block])
            })
        }
        (blocks1, blocks2, blocks3, blocks4) = (stages[0], stages[1], stages[2], stages[3])
        norm = LayerNorm(dims[3], eps: 1e-6)
        head = Linear(dims[3], numClasses)
        super.init()
        initializeTruncatedNormal(head.weight, head.bias, std: 0.02)
    }

    /// The stages in order: embedding, positional table, blocks.
    private var stages: [(embed: Module, position: Tensor, blocks: Sequential)] {
        [(patchEmbed, posEmbed1, blocks1), (patchEmbed2, posEmbed2, blocks2),
         (patchEmbed3, posEmbed3, blocks3), (patchEmbed4, posEmbed4, blocks4)]
    }

    /// The pooled features before the head: (N, inChannels, H, W) → (N, C₄).
    public func forwardFeatures(_ x: Tensor) -> Tensor {
        let channels = patchEmbed.proj1.weight.shape[1]
        guard shapeCheck(x.rank == 4 && x.shape[1] == channels && x.shape[2] % 32 == 0 && x.shape[3] % 32 == 0,
                         "InceptionTransformer: input of shape \(x.shape), expected (N, \(channels), H, W) with H and W divisible by 32")
        else { return .shapeFailure }
        var y = x
        for stage in stages {
            y = stage.embed(y)
            y = stage.blocks(y + positions(stage.position, height: y.shape[2], width: y.shape[3]))
        }
        return norm(y.flattened(from: 2).transposed(1, 2)).mean(axis: 1)
    }

    /// (N, inChannels, H, W) → (N, numClasses).
    public override func forward(_ x: Tensor) -> Tensor { head(forwardFeatures(x)) }

    /// A (1, n, n, C) table as a (1, C, height, width) map, resized bilinearly when its side
    /// differs (the official `_get_pos_embed`).
    private func positions(_ table: Tensor, height: Int, width: Int) -> Tensor {
        let map = table.permuted([0, 3, 1, 2])
        return table.shape[1] == height && table.shape[2] == width ? map : interpolate(map, size: [height, width], mode: .bilinear)
    }
}

/// iFormer's stem (`FirstPatchEmbed`): conv 3×3 stride 2 to embedDim/2, BatchNorm, GELU, conv
/// 3×3 stride 2 to embedDim, BatchNorm (both convs padded by 1, with bias).
/// Children: `proj1`, `norm1`, `proj2`, `norm2`.
/// Shape: (N, inChannels, H, W) → (N, embedDim, ⌈H/4⌉, ⌈W/4⌉) for even H, W.
public final class InceptionStemEmbedding: Module {
    /// inChannels → embedDim/2, stride 2.
    public let proj1: Conv2d
    /// BatchNorm of embedDim/2.
    public let norm1: BatchNorm2d
    /// embedDim/2 → embedDim, stride 2.
    public let proj2: Conv2d
    /// BatchNorm of embedDim.
    public let norm2: BatchNorm2d

    /// Creates the stem with trunc-normal (std 0.02) weights and zero biases.
    public init(inChannels: Int, embedDim: Int) {
        proj1 = Conv2d(inChannels, embedDim / 2, kernelSize: 3, stride: 2, padding: 1)
        norm1 = BatchNorm2d(embedDim / 2)
        proj2 = Conv2d(embedDim / 2, embedDim, kernelSize: 3, stride: 2, padding: 1)
        norm2 = BatchNorm2d(embedDim)
        super.init()
        for conv in [proj1, proj2] { initializeTruncatedNormal(conv.weight, conv.bias, std: 0.02) }
    }

    /// (N, inChannels, H, W) → (N, embedDim, H/4, W/4).
    public override func forward(_ x: Tensor) -> Tensor { norm2(proj2(gelu(norm1(proj1(x))))) }
}

/// iFormer's down-sampling between stages (`PatchEmbed`): conv 3×3 stride 2 padded by 1, then
/// BatchNorm. Children: `proj`, `norm`.
/// Shape: (N, inChannels, H, W) → (N, embedDim, ⌈H/2⌉, ⌈W/2⌉).
public final class InceptionPatchEmbedding: Module {
    /// inChannels → embedDim, stride 2.
    public let proj: Conv2d
    /// BatchNorm of embedDim.
    public let norm: BatchNorm2d

    /// Creates the layer with a trunc-normal (std 0.02) weight and zero bias.
    public init(inChannels: Int, embedDim: Int) {
        proj = Conv2d(inChannels, embedDim, kernelSize: 3, stride: 2, padding: 1)
        norm = BatchNorm2d(embedDim)
        super.init()
        initializeTruncatedNormal(proj.weight, proj.bias, std: 0.02)
    }

    /// (N, inChannels, H, W) → (N, embedDim, ⌈H/2⌉, ⌈W/2⌉).
    public override func forward(_ x: Tensor) -> Tensor { norm(proj(x)) }
}
