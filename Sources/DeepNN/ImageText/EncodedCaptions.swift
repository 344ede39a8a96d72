import DeepCore

/// Captions encoded once by a frozen text encoder: what image–text models compare images with.
/// Holds both what a sentence encoder gives per caption (the pooled, normalised embedding) and per
/// token (the last hidden states, padded to the longest caption, with their mask).
public struct EncodedCaptions {
    /// The class of each caption (K).
    public let classes: [Int]
    /// Classes (at least one more than the largest of ``classes``).
    public let classCount: Int
    /// The sentence embeddings. Shape: (K, D).
    public let embeddings: Tensor
    /// The encoder's last hidden states. Shape: (K, L, D), L the longest caption's tokens.
    public let tokenStates: Tensor
    /// 1 for a token, 0 for padding. Shape: (K, L).
    public let tokenMask: Tensor

    /// Captions already encoded; shapes as the properties say.
    public init(classes: [Int], classCount: Int, embeddings: Tensor, tokenStates: Tensor, tokenMask: Tensor) {
        let k = classes.count
        require(classes.allSatisfy { (0..<classCount).contains($0) } && Set(classes).count == classCount,
                "EncodedCaptions: caption classes \(classes) must cover the \(classCount) classes, each at least once")
        require(embeddings.rank == 2 && embeddings.shape[0] == k && tokenStates.rank == 3 && tokenStates.shape[0] == k
                    && tokenStates.shape[2] == embeddings.shape[1] && tokenMask.shape == Array(tokenStates.shape.prefix(2)),
                "EncodedCaptions: embeddings \(embeddings.shape), token states \(tokenStates.shape) and mask \(tokenMask.shape) for \(k) captions; expected (K, D), (K, L, D), (K, L)")
        self.classes = classes
        self.classCount = classCount
        self.embeddings = embeddings.detached()
        self.tokenStates = tokenStates.detached()
        self.tokenMask = tokenMask.detached()
    }

    /// The captions of `captions` encoded by `encoder` (in evaluation mode, without gradients).
    public init(_ captions: ClassCaptions, encoder: SentenceEncoder) {
        let (states, mask) = encoder.tokenStates(captions.texts)
        self.init(classes: captions.classes, classCount: captions.classCount, embeddings: encoder.pooled(states, mask: mask),
                  tokenStates: states, tokenMask: mask)
    }

    /// Zeros of the given sizes, standing in for captions not yet encoded: a model built on them
    /// has its final shapes (for a summary, or to load weights that hold the real ones).
    public static func placeholder(classCount: Int, captionsPerClass: Int, length: Int, dimension: Int) -> EncodedCaptions {
        let k = classCount * captionsPerClass
        return EncodedCaptions(classes: (0..<classCount).flatMap { [Int](repeating: $0, count: captionsPerClass) }, classCount: classCount,
                               embeddings: Tensor(zeros: [k, dimension]), tokenStates: Tensor(zeros: [k, length, dimension]),
                               tokenMask: Tensor(ones: [k, length]))
    }

    /// Captions K.
    public var count: Int { classes.count }
    /// Width of an embedding and of a token state (D).
    public var dimension: Int { embeddings.shape[1] }
    /// Tokens per caption, padding included (L).
    public var length: Int { tokenStates.shape[1] }
}
