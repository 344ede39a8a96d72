import ArgumentParser
import DeepCore
import DeepNN
import Foundation

/// The text side of an image–text run (`--task image-text`): Fashion-MNIST's class captions
/// (``ClassCaptions/fashionMNIST``) encoded once by the frozen sentence encoder of
/// `--text-encoder`, the training objective of each model, and the figures added to the test's.
struct ImageTextRun {
    /// The captions' texts, classes and hard negatives.
    let captions = ClassCaptions.fashionMNIST
    /// The captions as the text encoder gave them.
    let encoded: EncodedCaptions

    /// Where `scripts/fetch-minilm.sh` unpacks all-MiniLM-L6-v2: `$DEEPSTITCH_MINILM_DIR`, else
    /// `${XDG_CACHE_HOME:-~/.cache}/deepstitch/all-MiniLM-L6-v2`.
    static var defaultTextEncoder: String {
        let environment = ProcessInfo.processInfo.environment
        if let folder = environment["DEEPSTITCH_MINILM_DIR"], !folder.isEmpty { return folder }
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.cache"
        return cache + "/deepstitch/all-MiniLM-L6-v2"
    }

    /// Reads the sentence encoder in `folder` and encodes the captions.
    /// - Throws: `ValidationError` when `folder` is not a folder (saying how to fetch MiniLM); the
    ///   encoder's errors naming the file when it cannot be read.
    init(textEncoder folder: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("--text-encoder \(folder) is not a folder; fetch all-MiniLM-L6-v2 there with `bash scripts/fetch-minilm.sh`, "
                + "or give a sentence-transformers folder")
        }
        let encoder = try SentenceEncoder.load(directory: URL(fileURLWithPath: folder))
        encoded = EncodedCaptions(captions, encoder: encoder)
        print("text encoder (frozen): \(folder), \(encoded.dimension) dimensions; captions: \(captions.classCount) classes × "
              + "\(captions.templates.count) templates (\"\(captions.texts[0])\", \"\(captions.texts[1])\", …)")
    }

    /// Zeros of the shapes of the captions that `tensors` (a saved image–text model) holds, or of
    /// all-MiniLM-L6-v2's captions when it holds none: a model built on them loads those weights.
    static func placeholder(shapedLike tensors: [String: Tensor] = [:]) -> EncodedCaptions {
        let classes = ClassCaptions.fashionMNIST.classCount
        let shape = tensors["caption_states"]?.shape ?? tensors["caption_embeddings"].map { [$0.shape[0], 1, $0.shape.last ?? 1] }
        guard let shape, shape.count == 3, shape[0] >= classes, shape[0] % classes == 0 else {
            return .placeholder(classCount: classes, captionsPerClass: ClassCaptions.fashionMNIST.templates.count, length: 16, dimension: 384)
        }
        return .placeholder(classCount: classes, captionsPerClass: shape[0] / classes, length: shape[1], dimension: shape[2])
    }

    /// The loss of a training step of `model` (``CLIPClassifier``: the contrastive loss with a
    /// caption of its class drawn at random per image; ``CaptionMatcher``: the matching loss
    /// against a caption of every class, templates drawn at random) and its class logits.
    func objective(for model: Module) -> (Batch) -> (loss: Tensor, classLogits: Tensor) {
        let captions = captions, templates = captions.templates.count
        func template() -> Int { Int.random(in: 0..<templates, using: &DefaultRandom.generator) }
        if let clip = model as? CLIPClassifier {
            return { batch in
                clip.contrastiveLoss(images: batch.inputs, labels: batch.labels,
                                     captions: batch.labels.map { captions.index(ofClass: $0, template: template()) })
            }
        }
        let matcher = model as! CaptionMatcher
        return { batch in
            let chosen = batch.labels.map { _ in (0..<captions.classCount).map { captions.index(ofClass: $0, template: template()) } }
            return matcher.matchingLoss(images: batch.inputs, labels: batch.labels, captions: chosen,
                                        confusableClasses: captions.confusableClasses)
        }
    }

    /// Prints what image–text adds to the test figures: with classes held out of training, their
    /// zero-shot accuracy among all classes, what they were taken for, and their accuracy among
    /// the held-out classes alone; for ``CaptionMatcher``, its matching accuracy on `test`.
    func report(_ result: Evaluation, model: Module, test: DataLoader, heldOut: [Int], group: ProcessGroup?) {
        if !heldOut.isEmpty { reportZeroShot(result.confusion, model: model, test: test, heldOut: heldOut, group: group) }
        if let matcher = model as? CaptionMatcher { reportMatching(matcher, test: test, group: group) }
    }

    /// The zero-shot figures of the `heldOut` classes (see ``report(_:model:test:heldOut:group:)``).
    private func reportZeroShot(_ cm: ConfusionMatrix, model: Module, test: DataLoader, heldOut: [Int], group: ProcessGroup?) {
        let names = FashionMNIST.classNames
        let unseen = heldOut.reduce(0) { $0 + cm.truePositives[$1] }, unseenCount = heldOut.reduce(0) { $0 + cm.support[$1] }
        let seen = cm.truePositives.reduce(0, +) - unseen, seenCount = cm.total - unseenCount
        print(String(format: "zero-shot accuracy on the classes held out of training (%@): %.4f of %d test images; "
                     + "seen classes: %.4f of %d", heldOut.map { names[$0] }.joined(separator: ", "),
                     Double(unseen) / Double(max(unseenCount, 1)), unseenCount, Double(seen) / Double(max(seenCount, 1)), seenCount))
        let taken = heldOut.map { c -> String in
            let row = cm.matrix[c], top = row.indices.max { row[$0] < row[$1] }!
            return String(format: "%@ as %@ (%.0f%%)", names[c], names[top], 100 * Double(row[top]) / Double(max(cm.support[c], 1)))
        }
        // Among the held-out classes alone: the captions of the seen classes left out.
        var counts = [0.0, 0.0]
        if heldOut.count > 1 { model.evaluating {
            for batch in test {
                let logits = model(batch.inputs).indexSelected(axis: 1, indices: heldOut)
                for (predicted, label) in zip(predictedClasses(logits), batch.labels) where heldOut.contains(label) {
                    counts[0] += heldOut[predicted] == label ? 1 : 0
                    counts[1] += 1
                }
            }
        } }
        if let group, group.worldSize > 1 { counts = group.allReduce(counts) }
        print("held-out images most often taken for: " + taken.joined(separator: ", ")
              + (heldOut.count < 2 ? "" : String(format: "; accuracy among the held-out classes' captions alone: %.4f", counts[0] / max(counts[1], 1))))
    }

    /// Matching accuracy of `matcher` on `test`: each image with its class's caption (a match)
    /// and with the caption of one of its confusable classes (a hard negative, chosen by the
    /// image's position), a logit above 0 read as a match; and the rejection of every other
    /// class's caption.
    private func reportMatching(_ matcher: CaptionMatcher, test: DataLoader, group: ProcessGroup?) {
        var counts = [Double](repeating: 0, count: 5)   // matches found, hard negatives rejected, images, other rejected, others
        var position = 0
        matcher.evaluating {
            for batch in test {
                let logits = matcher(batch.inputs).scalars, c = captions.classCount
                for (i, label) in batch.labels.enumerated() {
                    let row = Array(logits[i * c ..< (i + 1) * c])
                    let hard = captions.confusableClasses[label][(position + i) % captions.confusableClasses[label].count]
                    counts[0] += row[label] > 0 ? 1 : 0
                    counts[1] += row[hard] <= 0 ? 1 : 0
                    counts[2] += 1
                    for k in 0..<c where k != label && k != hard { counts[3] += row[k] <= 0 ? 1 : 0; counts[4] += 1 }
                }
                position += batch.labels.count
            }
        }
        if let group, group.worldSize > 1 { counts = group.allReduce(counts) }
        let images = max(counts[2], 1)
        print(String(format: "matching accuracy (each test image with its caption and a hard negative): %.4f; matching captions "
                     + "recognised %.4f, hard negatives rejected %.4f, other classes' captions rejected %.4f",
                     (counts[0] + counts[1]) / (2 * images), counts[0] / images, counts[1] / images, counts[3] / max(counts[4], 1)))
    }

    /// The shape-only summary of image–text `model` on images of shape `image` and a caption
    /// each: an embedding (CLIP) or token states (the matcher), of the text encoder's size;
    /// preceded by a line naming the two inputs and their shapes.
    static func summary(_ model: Module, image: [Int]) throws -> String {
        let n = image.first ?? 1
        let caption: (name: String, shape: [Int])
        let summary: Summary
        if let clip = model as? CLIPClassifier {
            caption = ("caption embeddings", [n, clip.captionEmbeddings.shape[1]])
            summary = try clip.summary(inputs: ["images": image, caption.name: caption.shape]) { clip($0["images"]!, $0[caption.name]!) }
        } else {
            let matcher = model as! CaptionMatcher, states = matcher.captionStates.shape
            caption = ("caption tokens", [n, states[1], states[2]])
            summary = try matcher.summary(inputs: ["images": image, caption.name: caption.shape]) { matcher($0["images"]!, $0[caption.name]!) }
        }
        return "inputs: images \(image), \(caption.name) \(caption.shape) (all-MiniLM-L6-v2's width; the text encoder is not counted)\n\(summary)"
    }
}
