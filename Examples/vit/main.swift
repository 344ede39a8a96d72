// A Vision Transformer from patches, built as a tutorial builds it: cut the image into patches
// (einops), embed each, prepend a learned [CLS] token, add learned positions, run a transformer
// encoder, and classify the [CLS] token's final state. It learns where a bright square is.
//
//     swift run -c release example-vit
import DeepNN
import ExampleSupport

manualSeed(0)

/// (N, channels, imageSize, imageSize) → (N, classes).
final class TinyViT: Module {
    /// (N, C, H, W) → (N, L, p·p·C): the image's L = (H/p)·(W/p) patches, each flattened.
    let toPatches: Rearrange
    /// One token of `dim` per patch.
    let patchEmbedding: Linear
    /// (1, 1, dim): the learned [CLS] token put before the patches.
    let classToken: Tensor
    /// (1, 1 + L, dim): a learned position for each token.
    let positions: Tensor
    let encoder: TransformerEncoder
    let norm: LayerNorm
    let head: Linear

    init(imageSize: Int, patchSize p: Int, channels: Int, dim: Int, depth: Int, heads: Int, classes: Int) {
        let patchCount = (imageSize / p) * (imageSize / p)
        toPatches = Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", ["p1": p, "p2": p])
        patchEmbedding = Linear(p * p * channels, dim)
        classToken = Tensor.randn([1, 1, dim])                 // torch.randn, as lucidrains' vit-pytorch
        positions = Tensor.randn([1, 1 + patchCount, dim])
        encoder = TransformerEncoder({
            TransformerEncoderLayer(dModel: dim, numHeads: heads, dimFeedforward: 2 * dim, dropout: 0,
                                    activation: .gelu, batchFirst: true, normFirst: true)
        }, numLayers: depth)
        norm = LayerNorm(dim)
        head = Linear(dim, classes)
        super.init()                                           // classToken and positions become parameters
    }

    override func forward(_ x: Tensor) -> Tensor {
        let tokens = patchEmbedding(toPatches(x))              // (N, L, dim)
        let (n, dim) = (x.shape[0], classToken.shape[2])
        let sequence = Tensor.concatenate([classToken.expanded(to: [n, 1, dim]), tokens], axis: 1) + positions
        let encoded = encoder(sequence)                        // (N, 1 + L, dim)
        let cls = encoded[.all, 0]                             // h[:, 0], the [CLS] token: (N, dim)
        return head(norm(cls))
    }
}

let model = TinyViT(imageSize: 16, patchSize: 4, channels: 1, dim: 32, depth: 2, heads: 4, classes: 4)
let summary = try model.summary(input: [8, 1, 16, 16])
print(summary)
let patchRow = summary.rows.first { $0.path == "to_patches" }!
check(patchRow.outputShape == [8, 16, 16], "a 16×16 image is 16 patches of 4·4·1 = 16 values")
check(summary.rows.first { $0.path == "encoder" }!.outputShape == [8, 17, 32], "the encoder sees 1 + 16 tokens of 32")
check(summary.outputShape == [8, 4], "the head gives 4 logits per image")

// MARK: Training

// Which quadrant of the noisy image holds the bright square? The library's Trainer runs the loop
// (Support/SquareClassification.swift).
try trainSquareClassifier(model, optimizer: AdamW(model.parameters, learningRate: 3e-3, weightDecay: 0.01), label: .quadrant,
                          side: 16, trainCount: 512, epochs: 6)
