import DeepCore
import DeepNN
import Foundation
import TestSupport
import XCTest

/// The image–text models: CLIPClassifier (contrastive, nearest class caption) and CaptionMatcher
/// (cross-attention matching), over captions made by ClassCaptions and EncodedCaptions.
final class ImageTextTests: XCTestCase {
    /// Synthetic captions: `perClass` captions of each of 10 classes, embeddings near a random
    /// direction per class, token states (L = 3, the last of every second caption padding).
    func syntheticCaptions(perClass: Int = 2, dimension: Int = 8) -> EncodedCaptions {
        manualSeed(3)
        let classes = (0..<10).flatMap { [Int](repeating: $0, count: perClass) }
        let directions = Tensor.randn([10, dimension])
        let embeddings = directions.indexSelected(axis: 0, indices: classes) + Tensor.randn([classes.count, dimension]) * 0.1
        let states = embeddings.unsqueezed(axis: 1).expanded(to: [classes.count, 3, dimension]) + Tensor.randn([classes.count, 3, dimension]) * 0.1
        let mask = Tensor((0..<classes.count).flatMap { k in [1, 1, k % 2 == 0 ? 1 : 0] as [Float] }, shape: [classes.count, 3])
        return EncodedCaptions(classes: classes, classCount: 10, embeddings: embeddings, tokenStates: states, tokenMask: mask)
    }

    /// Images of class c: a bright 5×5 block at one of ten places, on noise. Shape (n, 1, 28, 28).
    func toyImages(_ labels: [Int]) -> Tensor {
        var pixels = (0..<(labels.count * 784)).map { _ in Float.random(in: 0..<0.3, using: &DefaultRandom.generator) }
        for (i, c) in labels.enumerated() {
            let top = (c / 5) * 14 + 4, left = (c % 5) * 5 + 1
            for y in top..<(top + 5) { for x in left..<(left + 5) { pixels[i * 784 + y * 28 + x] = 1 } }
        }
        return Tensor(pixels, shape: [labels.count, 1, 28, 28])
    }

    func testFashionMNISTCaptions() {
        let captions = ClassCaptions.fashionMNIST
        XCTAssertEqual(captions.count, 80)
        XCTAssertEqual(captions.texts.count, 80)
        XCTAssertEqual(captions.texts[captions.index(ofClass: 7, template: 0)], "a photo of a sneaker.")
        XCTAssertEqual(captions.texts[captions.index(ofClass: 9, template: 1)], "an ankle boot on a plain background.")
        XCTAssertEqual(captions.classes[captions.index(ofClass: 4, template: 5)], 4)
        XCTAssertEqual(Set(captions.texts).count, 80, "every caption differs")
        XCTAssertTrue(captions.confusableClasses[5].contains(7) && captions.confusableClasses[6].contains(0))
    }

    func testEncodedCaptionsAreTheEncodersEmbeddingsAndStates() throws {
        let encoder = try SentenceEncoder.load(directory: fixtureURL("sentence_encoder_tiny"))
        let captions = ClassCaptions.fashionMNIST
        let encoded = EncodedCaptions(captions, encoder: encoder)
        XCTAssertEqual(encoded.embeddings.shape, [80, encoder.dimension])
        XCTAssertEqual(encoded.tokenStates.shape, [80, encoded.length, encoder.dimension])
        XCTAssertEqual(encoded.classes, captions.classes)
        // One batch of all captions pooled = the encoder's own embeddings, batch by batch.
        assertClose(encoded.embeddings, encoder.encode(captions.texts, batchSize: 7), atol: 1e-5)
        // The mask counts each caption's tokens, [CLS] and [SEP] included.
        let counts = encoded.tokenMask.sum(axis: 1).scalars.map(Int.init)
        XCTAssertEqual(counts, captions.texts.map { encoder.tokenizer.encode($0, maxLength: encoder.maxSequenceLength).count })
    }

    func testCLIPClassifierNamesShapesAndLoss() {
        let captions = syntheticCaptions()
        let clip = CLIPClassifier(visual: Sequential(Flatten(), Linear(784, 12)), featureCount: 12, captions: captions)
        XCTAssertEqual(clip.stateDict().keys.sorted(),
                       ["caption_embeddings", "class_embeddings", "logit_scale", "projection.weight", "visual.1.bias", "visual.1.weight"])
        XCTAssertEqual(clip.logitScale.shape, [])
        XCTAssertEqual(clip.logitScale.item(), Float(log(1 / 0.07)), accuracy: 1e-6)
        XCTAssertEqual(clip.parameterCount, 784 * 12 + 12 + 12 * 8 + 1)
        // Each class's direction: the mean of its two normalised captions, normalised.
        let unit = SentenceEncoder.normalized(captions.embeddings)
        let mean = (unit.indexSelected(axis: 0, indices: [6]) + unit.indexSelected(axis: 0, indices: [7])) * 0.5
        assertClose(clip.classEmbeddings.indexSelected(axis: 0, indices: [3]), SentenceEncoder.normalized(mean))
        let images = Tensor.randn([5, 1, 28, 28])
        XCTAssertEqual(clip(images).shape, [5, 10])
        XCTAssertEqual(clip(images, unit).shape, [5, 20])
        // The loss is CLIP's over the chosen captions, every caption of the same class matching.
        let labels = [0, 3, 0, 9, 3], chosen = [1, 6, 0, 18, 7]
        let (loss, logits) = clip.contrastiveLoss(images: images, labels: labels, captions: chosen)
        var targets = [Float](repeating: 0, count: 25)
        for i in 0..<5 { let same = (0..<5).filter { labels[$0] == labels[i] }; for j in same { targets[i * 5 + j] = 1 / Float(same.count) } }
        let expected = clipLoss(imageEmbeddings: clip.embedImages(images), textEmbeddings: unit.indexSelected(axis: 0, indices: chosen),
                                logitScale: clip.logitScale, targets: Tensor(targets, shape: [5, 5]))
        XCTAssertEqual(loss.item(), expected.item(), accuracy: 1e-5)
        assertClose(logits, clip(images))
        loss.backward()
        XCTAssertNotNil(clip.logitScale.grad)
        XCTAssertGreaterThan(clip.projection.weight.grad!.abs().sum().item(), 0)
        // The scale is used clamped at 100, as CLIP clamps it.
        withoutGrad { clip.logitScale.assign(Tensor([8], shape: [])) }
        XCTAssertEqual(clip.scale.item(), 100, accuracy: 1e-3)
    }

    func testCLIPClassifierLearnsToyClassesFromCaptions() {
        let captions = syntheticCaptions()
        let clip = CLIPClassifier(visual: Sequential(Conv2d(1, 8, kernelSize: 5, stride: 4), ReLU(), Flatten(), Linear(8 * 6 * 6, 32)),
                                  featureCount: 32, captions: captions)
        let optimizer = Adam(clip.parameters, learningRate: 3e-3)
        for _ in 0..<80 {
            let labels = (0..<32).map { _ in Int.random(in: 0..<10, using: &DefaultRandom.generator) }
            let chosen = labels.map { $0 * 2 + Int.random(in: 0..<2, using: &DefaultRandom.generator) }
            optimizer.zeroGrad()
            clip.contrastiveLoss(images: toyImages(labels), labels: labels, captions: chosen).loss.backward()
            optimizer.step()
        }
        let labels = (0..<200).map { $0 % 10 }
        let predicted = clip.evaluating { predictedClasses(clip(toyImages(labels))) }
        XCTAssertGreaterThan(zip(predicted, labels).filter { $0 == $1 }.count, 190)
    }

    func testCaptionMatcherNamesShapesAndPaths() {
        let captions = syntheticCaptions()
        let matcher = CaptionMatcher(captions: captions, dModel: 16, numHeads: 2)
        let keys = matcher.stateDict().keys
        for key in ["patch_positions", "text_projection.weight", "fusion.attention.in_proj_weight", "fusion.attention.out_proj.weight",
                    "fusion.norm.weight", "head.0.weight", "head.2.bias", "patches.0.weight", "patches.1.running_mean",
                    "caption_states", "caption_mask", "class_captions"] {
            XCTAssertTrue(keys.contains(key), "\(key) not in \(keys.sorted())")
        }
        XCTAssertEqual(matcher.classCaptionIndices, (0..<10).map { $0 * 2 })
        matcher.eval()
        let images = Tensor.randn([3, 1, 28, 28])
        let logits = matcher(images)
        XCTAssertEqual(logits.shape, [3, 10])
        // The two-input call on the same captions gives the same logits as matchLogits.
        let chosen = [4, 13, 19]
        let pairs = matcher(images, captions.tokenStates.indexSelected(axis: 0, indices: chosen),
                            captionMask: captions.tokenMask.indexSelected(axis: 0, indices: chosen))
        assertClose(pairs, matcher.matchLogits(images: images, captions: [4, 13, 19, 4, 13, 19, 4, 13, 19]).reshaped([3, 3]).diagonal(), atol: 1e-5)
        // Padding is ignored: caption 1 (its last token padding) scores as its first two tokens alone.
        let two = matcher(images.indexSelected(axis: 0, indices: [0]), captions.tokenStates[1...1, 0..<2])
        let padded = matcher(images.indexSelected(axis: 0, indices: [0]), captions.tokenStates[1...1], captionMask: captions.tokenMask[1...1])
        assertClose(padded, two, atol: 1e-5)
        XCTAssertEqual(logits.scalars[1], matcher.matchLogits(images: images, captions: Array(repeating: 2, count: 3)).scalars[0], accuracy: 1e-5)
    }

    func testCaptionMatcherLossWeighsMatchesHardAndOtherNegativesByThirds() {
        let matcher = CaptionMatcher(captions: syntheticCaptions(), dModel: 16, numHeads: 2)
        matcher.eval()
        let images = Tensor.randn([2, 1, 28, 28]), labels = [5, 1]
        let chosen = [(0..<10).map { $0 * 2 }, (0..<10).map { $0 * 2 + 1 }]
        let confusable = ClassCaptions.fashionMNIST.confusableClasses
        let (loss, logits) = matcher.matchingLoss(images: images, labels: labels, captions: chosen, confusableClasses: confusable)
        let z = logits.scalars
        func bce(_ x: Float, _ y: Float) -> Float { max(x, 0) - x * y + log(1 + exp(-abs(x))) }
        var expected: Float = 0
        for (i, label) in labels.enumerated() {
            let hard = confusable[label]
            for k in 0..<10 {
                let share: Float = k == label ? 1 : hard.contains(k) ? 1 / Float(hard.count) : 1 / Float(9 - hard.count)
                expected += share / 3 * bce(z[i * 10 + k], k == label ? 1 : 0)
            }
        }
        XCTAssertEqual(loss.item(), expected / 2, accuracy: 1e-5)
        XCTAssertEqual(logits.shape, [2, 10])
    }

    func testCaptionMatcherLearnsToMatchToyClasses() {
        let captions = syntheticCaptions()
        let matcher = CaptionMatcher(captions: captions, dModel: 16, numHeads: 2)
        let optimizer = Adam(matcher.parameters, learningRate: 3e-3)
        let confusable = (0..<10).map { [($0 + 1) % 10] }
        for _ in 0..<120 {
            let labels = (0..<16).map { _ in Int.random(in: 0..<10, using: &DefaultRandom.generator) }
            let chosen = labels.map { _ in (0..<10).map { $0 * 2 + Int.random(in: 0..<2, using: &DefaultRandom.generator) } }
            optimizer.zeroGrad()
            matcher.matchingLoss(images: toyImages(labels), labels: labels, captions: chosen, confusableClasses: confusable).loss.backward()
            optimizer.step()
        }
        let labels = (0..<100).map { $0 % 10 }
        let logits = matcher.evaluating { matcher(toyImages(labels)) }
        let predicted = predictedClasses(logits)
        XCTAssertGreaterThan(zip(predicted, labels).filter { $0 == $1 }.count, 90)
        let matches = labels.enumerated().filter { i, c in logits.scalars[i * 10 + c] > 0 }.count
        XCTAssertGreaterThan(matches, 80)
    }

    func testSummariesTakeImagesAndCaptions() throws {
        let captions = syntheticCaptions()
        let clip = CLIPClassifier(visual: Sequential(Flatten(), Linear(784, 12)), featureCount: 12, captions: captions)
        let summary = try clip.summary(inputs: ["images": [2, 1, 28, 28], "captions": [3, 8]]) { clip($0["images"]!, $0["captions"]!) }
        XCTAssertEqual(summary.totalParameters, clip.parameterCount)
        XCTAssertEqual(summary.rows.first?.outputShape, [2, 3])
        let matcher = CaptionMatcher(captions: captions, dModel: 16, numHeads: 2)
        let fused = try matcher.summary(inputs: ["images": [2, 1, 28, 28], "caption tokens": [2, 5, 8]]) { matcher($0["images"]!, $0["caption tokens"]!) }
        XCTAssertEqual(fused.totalParameters, matcher.parameterCount)
        XCTAssertEqual(fused.rows.first?.outputShape, [2])
    }

    func testTrainerObjectiveReplacesTheForwardPass() {
        let captions = syntheticCaptions()
        let clip = CLIPClassifier(visual: Sequential(Flatten(), Linear(784, 12)), featureCount: 12, captions: captions)
        let trainer = Trainer(model: clip, optimizer: SGD(clip.parameters, learningRate: 0.1), classCount: 10)
        var calls = 0
        trainer.objective = { batch in
            calls += 1
            return clip.contrastiveLoss(images: batch.inputs, labels: batch.labels, captions: batch.labels.map { $0 * 2 })
        }
        let labels = [1, 2, 3, 1]
        let before = clip.projection.weight.copied()
        let (loss, logits) = trainer.trainStep(Batch(inputs: toyImages(labels), labels: labels))
        XCTAssertEqual(calls, 1)
        XCTAssertTrue(loss.isFinite)
        XCTAssertEqual(logits.shape, [4, 10])
        XCTAssertGreaterThan((clip.projection.weight - before).abs().sum().item(), 0)
    }
}
