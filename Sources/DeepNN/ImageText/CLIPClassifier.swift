import DeepCore
import Foundation

/// An image encoder trained against a frozen text encoder's caption embeddings with CLIP's
/// contrastive loss (Radford et al. 2021), classifying an image by its nearest class caption.
///
/// Children `visual` (images → (N, F)) and `projection` (Linear F → D without bias, CLIP's
/// `visual.proj`); parameter `logit_scale`, the log of the inverse temperature (a scalar, log(1/0.07)
/// at start, used clamped at log 100 as CLIP clamps it); buffers `caption_embeddings` (K, D), the
/// captions' embeddings, and `class_embeddings` (C, D), each class's caption embeddings averaged
/// and normalised again (CLIP's prompt ensembling) — so the saved weights classify without the
/// text encoder.
///
///     let clip = CLIPClassifier(visual: encoder, featureCount: 256, captions: EncodedCaptions(.fashionMNIST, encoder: miniLM))
///     let logits = clip(images)                                // (N, 1, 28, 28) → (N, 10): scaled cosines to the classes
///     let perImage = clip(images, captionEmbeddings)           // (N, 1, 28, 28), (M, 384) → (N, M)
///     let (loss, _) = clip.contrastiveLoss(images: images, labels: labels, captions: chosen)
///
/// Shape: images (N, …) → (N, C).
public final class CLIPClassifier: Module {
    /// The image encoder: images → features (N, F).
    @Child public var visual: Module
    /// Features → the text encoder's embedding space.
    public let projection: Linear
    /// log(1 / temperature), a scalar.
    public let logitScale: Tensor
    /// The captions' embeddings, rows of length 1. Shape: (K, D).
    @Buffer public var captionEmbeddings: Tensor
    /// Each class's direction: its captions' embeddings averaged, rows of length 1. Shape: (C, D).
    @Buffer public var classEmbeddings: Tensor
    /// The class of each caption (K).
    public let captionClasses: [Int]

    /// The largest logit scale, log 100, as CLIP's.
    public static let largestLogitScale = Float(log(100.0))

    /// Creates the model over `visual`, whose output has `featureCount` features, and `captions`.
    public init(visual: Module, featureCount: Int, captions: EncodedCaptions) {
        self.visual = visual
        projection = Linear(featureCount, captions.dimension, bias: false)
        logitScale = Tensor([Float(log(1 / 0.07))], shape: [])
        let captionEmbeddings = SentenceEncoder.normalized(captions.embeddings)
        self.captionEmbeddings = captionEmbeddings
        var members = [Float](repeating: 0, count: captions.classCount * captions.count)
        for (k, c) in captions.classes.enumerated() { members[c * captions.count + k] = 1 }
        classEmbeddings = SentenceEncoder.normalized(matmul(Tensor(members, shape: [captions.classCount, captions.count]), captionEmbeddings))
        captionClasses = captions.classes
        super.init()
    }

    /// The images' embeddings, rows of length 1. Shape: (N, …) → (N, D).
    public func embedImages(_ images: Tensor) -> Tensor {
        SentenceEncoder.normalized(projection(visual(images)))
    }

    /// exp(logit scale), clamped as CLIP clamps it. Shape: a scalar.
    public var scale: Tensor { logitScale.clamped(max: Self.largestLogitScale).exp() }

    /// Scaled cosines of the images to every class (classification by the nearest class caption).
    /// Shape: (N, …) → (N, C).
    public override func forward(_ images: Tensor) -> Tensor {
        matmul(embedImages(images), classEmbeddings.mT) * scale
    }

    /// CLIP's `logits_per_image`: scaled cosines of each image to each text embedding.
    ///
    /// - Parameters:
    ///   - images: (N, …), what ``visual`` takes.
    ///   - textEmbeddings: (M, D), rows of length 1.
    /// - Returns: (N, M).
    public func callAsFunction(_ images: Tensor, _ textEmbeddings: Tensor) -> Tensor {
        traced(inputs: [images, textEmbeddings]) {
            guard shapeCheck(textEmbeddings.rank == 2 && textEmbeddings.shape[1] == projection.weight.shape[0],
                             "CLIPClassifier: text embeddings \(textEmbeddings.shape), expected (M, \(projection.weight.shape[0]))")
            else { return .shapeFailure }
            return matmul(embedImages(images), textEmbeddings.mT) * scale
        }
    }

    /// CLIP's contrastive loss over a batch in which image i comes with caption `captions[i]` (an
    /// index into the captions): every caption of an image's class counts as matching it, with
    /// equal shares (``clipLoss(imageEmbeddings:textEmbeddings:logitScale:targets:)``).
    ///
    /// - Parameters:
    ///   - images: (N, …).
    ///   - labels: the images' classes (N).
    ///   - captions: one caption index per image, of the image's class.
    /// - Returns: the loss (a scalar) and the images' class logits (N, C) for accuracy, detached.
    public func contrastiveLoss(images: Tensor, labels: [Int], captions: [Int]) -> (loss: Tensor, classLogits: Tensor) {
        let n = labels.count
        require(captions.count == n && zip(captions, labels).allSatisfy { captionClasses.indices.contains($0) && captionClasses[$0] == $1 },
                "CLIPClassifier.contrastiveLoss: \(captions.count) captions for \(n) images; each must be a caption of its image's class")
        let imageEmbeddings = embedImages(images)
        var targets = [Float](repeating: 0, count: n * n)
        for i in 0..<n {
            let same = (0..<n).filter { labels[$0] == labels[i] }
            for j in same { targets[i * n + j] = 1 / Float(same.count) }
        }
        let loss = clipLoss(imageEmbeddings: imageEmbeddings, textEmbeddings: captionEmbeddings.indexSelected(axis: 0, indices: captions),
                            logitScale: logitScale.clamped(max: Self.largestLogitScale), targets: Tensor(targets, shape: [n, n]))
        let classLogits = withoutGrad { matmul(imageEmbeddings, classEmbeddings.mT) * scale }
        return (loss, classLogits)
    }
}
