import DeepCore

/// An image–caption matching classifier: a caption's token states (from a frozen text encoder)
/// attend to an image's patch tokens through ``CrossAttentionFusion``, and the fused caption,
/// averaged over its tokens, gives one logit: does the caption describe the image? An image is
/// classified by the class caption it matches best.
///
/// Children `patches` (images → (N, dModel, h, w)), `text_projection` (Linear D → dModel),
/// `fusion` (``CrossAttentionFusion``, queries from the caption), `head` (Linear, ReLU, Linear → 1);
/// parameter `patch_positions` (1, h·w, dModel); buffers `caption_states` (K, L, D) and
/// `caption_mask` (K, L), the captions' token states and mask, and `class_captions` (C), the
/// caption each class is scored by (its first) — so the saved weights classify without the text
/// encoder.
///
///     let matcher = CaptionMatcher(captions: EncodedCaptions(.fashionMNIST, encoder: miniLM))
///     let logits = matcher(images)                               // (N, 1, 28, 28) → (N, 10): match logits of the class captions
///     let match = matcher(images, states, captionMask: mask)     // (N, 1, 28, 28), (N, L, 384), (N, L) → (N)
///
/// Shape: images (N, 1, 28, 28) → (N, C).
public final class CaptionMatcher: Module {
    /// Images → patch features (N, dModel, h, w).
    @Child public var patches: Module
    /// Learned position of each patch token. Shape: (1, h·w, dModel).
    public let patchPositions: Tensor
    /// Caption token states → dModel.
    public let textProjection: Linear
    /// Caption tokens (queries) attend to the patch tokens.
    public let fusion: CrossAttentionFusion
    /// The fused caption, averaged over its tokens → a match logit.
    public let head: Sequential
    /// The captions' token states. Shape: (K, L, D).
    @Buffer public var captionStates: Tensor
    /// 1 for a token, 0 for padding. Shape: (K, L).
    @Buffer public var captionMask: Tensor
    /// The caption scoring each class, as a float index into the captions. Shape: (C).
    @Buffer public var classCaptions: Tensor
    /// The class of each caption (K).
    public let captionClasses: [Int]

    /// Creates the matcher over `captions` for 28×28 grey images: two conv–BatchNorm–ReLU–max-pool
    /// stages make 7×7 patch tokens of width `dModel`, fused by `numHeads` heads.
    public init(captions: EncodedCaptions, dModel: Int = 64, numHeads: Int = 4) {
        func stage(_ cin: Int, _ cout: Int) -> [Module] {
            [Conv2d(cin, cout, kernelSize: 3, padding: 1, bias: false), BatchNorm2d(cout), ReLU(), MaxPool2d(2)]
        }
        patches = Sequential(stage(1, 32) + stage(32, dModel))
        patchPositions = Tensor.randn([1, 49, dModel], std: 0.02)
        textProjection = Linear(captions.dimension, dModel)
        fusion = CrossAttentionFusion(dModel: dModel, numHeads: numHeads)
        head = Sequential(Linear(dModel, dModel), ReLU(), Linear(dModel, 1))
        captionStates = captions.tokenStates
        captionMask = captions.tokenMask
        let firsts = (0..<captions.classCount).map { c in captions.classes.firstIndex(of: c)! }
        classCaptions = Tensor(firsts.map(Float.init), shape: [firsts.count])
        captionClasses = captions.classes
        super.init()
    }

    /// The caption index scoring each class.
    public var classCaptionIndices: [Int] { classCaptions.scalars.map { Int($0) } }

    /// Match logits of each image against the caption of each class. Shape: (N, 1, 28, 28) → (N, C).
    public override func forward(_ images: Tensor) -> Tensor {
        let n = images.shape[0], classes = classCaptionIndices
        return matchLogits(images: images, captions: (0..<n).flatMap { _ in classes })
    }

    /// The match logit of each image with its own caption.
    ///
    /// - Parameters:
    ///   - images: (N, 1, 28, 28).
    ///   - captionStates: (N, L, D), the text encoder's token states of image i's caption in row i.
    ///   - captionMask: (N, L), 1 for a token and 0 for padding; nil: no padding.
    /// - Returns: (N).
    public func callAsFunction(_ images: Tensor, _ captionStates: Tensor, captionMask: Tensor? = nil) -> Tensor {
        traced(inputs: [images, captionStates] + (captionMask.map { [$0] } ?? [])) {
            guard shapeCheck(captionStates.rank == 3 && captionStates.shape[0] == images.shape.first
                                && captionStates.shape[2] == textProjection.weight.shape[1]
                                && (captionMask == nil || captionMask!.shape == Array(captionStates.shape.prefix(2))),
                             "CaptionMatcher: images \(images.shape), caption states \(captionStates.shape) and mask \(captionMask?.shape ?? []); "
                                + "expected (N, 1, 28, 28), (N, L, \(textProjection.weight.shape[1])) and (N, L)")
            else { return .shapeFailure }
            return fused(imageTokens(images), textProjection(captionStates), mask: captionMask).reshaped([-1])
        }
    }

    /// The match logits of each image against several captions: image i against
    /// `captions[i·M ..< (i+1)·M]` (indices into the captions). Shape: (N, …) → (N, M).
    public func matchLogits(images: Tensor, captions: [Int]) -> Tensor {
        let n = images.shape[0]
        require(n > 0 && captions.count % n == 0 && captions.allSatisfy { captionClasses.indices.contains($0) },
                "CaptionMatcher.matchLogits: \(captions.count) caption indices for \(n) images; expected a multiple, each below \(captionClasses.count)")
        let m = captions.count / n
        let tokens = imageTokens(images).repeatedInterleave(m, axis: 0)                      // (N·M, h·w, d)
        let text = textProjection(captionStates).indexSelected(axis: 0, indices: captions)     // (N·M, L, d)
        let mask = captionMask.indexSelected(axis: 0, indices: captions)
        return fused(tokens, text, mask: mask).reshaped([n, m])
    }

    /// Patch tokens with their positions. Shape: (N, 1, 28, 28) → (N, h·w, dModel).
    private func imageTokens(_ images: Tensor) -> Tensor {
        let features = patches(images)                                                         // (N, d, h, w)
        let (n, d) = (features.shape[0], features.shape[1])
        return features.reshaped([n, d, -1]).mT + patchPositions
    }

    /// Caption tokens (N, L, d) attending to image tokens (N, P, d), averaged over the caption's
    /// tokens (`mask` (N, L)), through the head → (N, 1).
    private func fused(_ imageTokens: Tensor, _ captionTokens: Tensor, mask: Tensor?) -> Tensor {
        let attended = fusion(captionTokens, imageTokens)
        let weights = (mask ?? Tensor(ones: Array(captionTokens.shape.prefix(2)))).unsqueezed(axis: 2)
        let pooled = (attended * weights).sum(axis: 1) / weights.sum(axis: 1).clamped(min: 1)
        return head(pooled)
    }

    /// The matching loss of a batch: each image scored against one caption of every class (a
    /// template drawn at random per image and class from `templateChoices`), as a binary
    /// cross-entropy in which the matching caption, the captions of the image's confusable classes
    /// (hard negatives) and the other captions weigh a third each.
    ///
    /// - Parameters:
    ///   - images: (N, 1, 28, 28).
    ///   - labels: the images' classes (N).
    ///   - captions: for image i and class c, `captions[i][c]` is the caption index scored.
    ///   - confusableClasses: for each class, the classes taken as its hard negatives.
    /// - Returns: the loss (a scalar) and the match logits (N, C), detached, for accuracy.
    public func matchingLoss(images: Tensor, labels: [Int], captions: [[Int]], confusableClasses: [[Int]]) -> (loss: Tensor, classLogits: Tensor) {
        let n = labels.count, c = classCaptions.count
        require(captions.count == n && captions.allSatisfy { $0.count == c } && confusableClasses.count == c,
                "CaptionMatcher.matchingLoss: \(captions.count) caption rows for \(n) images; expected one of \(c) per image, and \(c) lists of confusable classes")
        let logits = matchLogits(images: images, captions: captions.flatMap { $0 })
        var targets = [Float](repeating: 0, count: n * c), weights = [Float](repeating: 0, count: n * c)
        for (i, label) in labels.enumerated() {
            let hard = Set(confusableClasses[label]).subtracting([label])
            let easyCount = c - 1 - hard.count
            for k in 0..<c {
                let share: Float = k == label ? 1 : hard.contains(k) ? 1 / Float(hard.count) : 1 / Float(max(easyCount, 1))
                weights[i * c + k] = share / 3
            }
            targets[i * c + label] = 1
        }
        let loss = binaryCrossEntropyWithLogits(logits, Tensor(targets, shape: [n, c]), weight: Tensor(weights, shape: [n, c]),
                                                reduction: .sum) / Float(n)
        return (loss, logits.detached())
    }
}
