// Multimodal fusion of two inputs: does a four-word caption name the quadrant where an image's
// bright square is? Neither input alone answers it. Each pixel token of the image attends to the
// caption's words (cross-attention fusion), and a classifier reads the fused tokens.
//
//     swift run -c release example-fusion
import DeepNN
import ExampleSupport

manualSeed(0)

// MARK: Data

/// `count` pairs of an 8×8 image (a bright square in quadrant q) and a caption of 4 word ids:
/// one of the quadrant words 0…3 at a random place among filler words 4…11. Half of the
/// captions name q (label 1, a match), half another quadrant (label 0).
func imageCaptionPairs(count: Int, seed: UInt64) -> (images: Tensor, captions: Tensor, labels: [Int]) {
    let images = squareImages(count: count, side: 8, label: .quadrant, seed: seed)
    var generator = RandomGenerator(seed: seed + 100)
    var words: [Float] = [], labels: [Int] = []
    for quadrant in images.labels {
        let match = Int.random(in: 0...1, using: &generator)
        let named = match == 1 ? quadrant : (quadrant + Int.random(in: 1...3, using: &generator)) % 4
        var caption = (0..<4).map { _ in Float(Int.random(in: 4...11, using: &generator)) }
        caption[Int.random(in: 0...3, using: &generator)] = Float(named)
        words += caption
        labels.append(match)
    }
    return (images.inputs, Tensor(words, shape: [count, 4]), labels)
}
let train = imageCaptionPairs(count: 1024, seed: 1), test = imageCaptionPairs(count: 256, seed: 2)

// MARK: Model

/// image (N, 1, 8, 8) and caption (N, 4) word ids → (N, 2) logits (no match, match).
final class ImageCaptionMatcher: Module {
    let imageEncoder = Sequential(Conv2d(1, 16, kernelSize: 3, padding: 1), ReLU(), MaxPool2d(2))   // (N, 16, 4, 4)
    let toTokens = Rearrange("b d h w -> b (h w) d")                                             // (N, 16 pixels, 16)
    let wordEmbedding = Embedding(12, 16)                                                         // (N, 4 words, 16)
    let fusion = CrossAttentionFusion(dModel: 16, numHeads: 2)        // pixel tokens attend to the words
    let perToken = Sequential(Linear(16, 16), ReLU())
    let classifier = Sequential(Flatten(), Linear(16 * 16, 2))         // reads every token, in place

    func callAsFunction(image: Tensor, caption: Tensor) -> Tensor {
        // Traced as one call of the model: summaries list it, and shape errors name its path.
        traced(inputs: [image, caption]) {
            let pixels = toTokens(imageEncoder(image))
            let words = wordEmbedding(caption)
            return classifier(perToken(fusion(pixels, words)))
        }
    }
}

let model = ImageCaptionMatcher()
let summary = try model.summary(inputs: ["image": [1, 1, 8, 8], "caption": [1, 4]]) { x in
    model(image: x["image"]!, caption: x["caption"]!)
}
print(summary)
let fusionRow = summary.rows.first { $0.path == "fusion" }!
check(fusionRow.inputShapes == [[1, 16, 16], [1, 4, 16]] && fusionRow.outputShape == [1, 16, 16],
      "the fusion takes 16 pixel tokens and 4 word tokens and gives 16 fused tokens")

// MARK: Training

let optimizer = Adam(model.parameters, learningRate: 3e-3)
let batchSize = 32
var epochLosses: [Float] = []
for epoch in 1...8 {
    var lossSum: Float = 0
    for start in stride(from: 0, to: train.labels.count, by: batchSize) {
        let rows = start..<(start + batchSize)
        optimizer.zeroGrad()
        let logits = model(image: train.images[rows], caption: train.captions[rows])
        let loss = crossEntropy(logits, Array(train.labels[rows]))
        loss.backward()
        optimizer.step()
        lossSum += loss.item()
    }
    epochLosses.append(lossSum / Float(train.labels.count / batchSize))
    print("epoch \(epoch)  loss \(fmt(epochLosses.last!))")
}

// MARK: Evaluation

/// Predictions and scores on `images` with `captions` (in evaluation mode, without recording).
func evaluate(_ images: Tensor, _ captions: Tensor) -> ConfusionMatrix {
    model.eval()
    defer { model.train() }
    let logits = withoutGrad { model(image: images, caption: captions) }
    return ConfusionMatrix(predictions: predictedClasses(logits), labels: test.labels, classCount: 2)
}
let scores = evaluate(test.images, test.captions)
print("test accuracy \(fmt(scores.accuracy)), precision of 'match' \(fmt(scores.precision[1])), recall \(fmt(scores.recall[1])), F1 \(fmt(scores.f1[1]))")
// Give each image the caption of the next pair: if the model reads both inputs, it must fail.
let shiftedCaptions = test.captions.rolled(shift: -1, axis: 0)   // torch.roll(captions, -1, dims=0): row i gets row i + 1
let shifted = evaluate(test.images, shiftedCaptions)
print("with each caption moved to the next image: accuracy \(fmt(shifted.accuracy))")

check(epochLosses.last! < epochLosses.first! / 3,
      "the loss fell more than 3×: \(fmt(epochLosses.first!)) → \(fmt(epochLosses.last!))")
check(scores.accuracy > 0.9, "test accuracy \(fmt(scores.accuracy)) > 0.9 (chance: 0.5)")
check(shifted.accuracy < scores.accuracy - 0.25,
      "captions of other images drop the accuracy to \(fmt(shifted.accuracy)): the model uses both inputs")
