// A Mamba block on image tokens: the image is cut into 4×4 patches, embedded with learned
// positions (as Vision Mamba does), read as a sequence in row-major order by two Mamba blocks (a
// selective state-space scan, linear in the sequence length), averaged and classified. Each
// token's output depends only on the tokens before it.
//
//     swift run -c release example-mamba
import DeepNN
import ExampleSupport

manualSeed(0)

/// (N, 1, 16, 16) → (N, 4): 16 patch tokens of 4·4 pixels, embedded to 32 with a learned
/// position each, two residual Mamba blocks, RMSNorm, the mean over tokens, a linear head.
final class MambaImageClassifier: Module {
    let toTokens = Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", ["p1": 4, "p2": 4])   // (N, 16, 16)
    let embedding = Linear(16, 32)
    let positions = Tensor.randn([1, 16, 32])                       // a learned vector per token
    let blocks = Sequential(MambaBlock(dModel: 32, dState: 8), MambaBlock(dModel: 32, dState: 8))   // x + Mamba(norm(x))
    let norm = RMSNorm(32)
    let head = Linear(32, 4)

    /// (N, 1, 16, 16) → (N, 16, 32): the tokens after the Mamba blocks.
    func features(_ x: Tensor) -> Tensor { norm(blocks(embedding(toTokens(x)) + positions)) }

    override func forward(_ x: Tensor) -> Tensor { head(features(x).mean(axis: 1)) }
}

let model = MambaImageClassifier()
let summary = try model.summary(input: [8, 1, 16, 16])
print(summary)
check(summary.rows.first { $0.path == "blocks" }!.outputShape == [8, 16, 32], "the Mamba blocks map 16 tokens of 32 to 16 tokens of 32")

// MARK: Causality

// Change the last row of patches of an image: the features of the 12 tokens before it must not move.
let image = Tensor.randn([1, 1, 16, 16])
let changed = image.copied()
changed[0, 0, 12..<16] = Tensor.randn([4, 16])            // pixel rows 12–15: patch tokens 12–15
let (original, perturbed) = withoutGrad { (model.features(image), model.features(changed)) }
let earlier = maxDifference(original[.all, ..<12], perturbed[.all, ..<12])   // the first 12 tokens: x[:, :12]
let later = maxDifference(original[.all, 12...], perturbed[.all, 12...])
print("largest change of the tokens before the changed row \(earlier), of the changed row's tokens \(fmt(later))")
check(earlier < 1e-6 && later > 1e-3, "the scan is causal: changing the last row of patches leaves the 12 tokens before it as they were")

// MARK: Training

// Which quadrant holds the bright square? The library's Trainer runs the loop (Support/SquareClassification.swift).
try trainSquareClassifier(model, optimizer: AdamW(model.parameters, learningRate: 3e-3), label: .quadrant, side: 16,
                          trainCount: 512, epochs: 5)
