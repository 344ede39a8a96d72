import DeepCore

/// A lookup table of `numEmbeddings` vectors of `embeddingDim` (`nn.Embedding`): `weight`
/// (numEmbeddings, embeddingDim) drawn from N(0, 1), the `paddingIdx` row (if any) zeros and
/// never updated by gradients. The backward adds each output row's gradient into the row it
/// came from (repeated ids accumulate).
///
/// Shape: ids of any shape (…) → (…, embeddingDim).
public final class Embedding: Module {
    /// (numEmbeddings, embeddingDim).
    public let weight: Tensor
    /// The row whose gradient is always zero, or nil.
    public let paddingIdx: Int?

    /// Creates the table with PyTorch's initialisation from the default generator.
    public init(_ numEmbeddings: Int, _ embeddingDim: Int, paddingIdx: Int? = nil) {
        let padding = paddingIdx.map { $0 < 0 ? $0 + numEmbeddings : $0 }
        if let padding {
            require(padding >= 0 && padding < numEmbeddings,
                    "Embedding: paddingIdx \(paddingIdx!) out of range for \(numEmbeddings) embeddings")
        }
        weight = Tensor.randn([numEmbeddings, embeddingDim])
        if let padding { weight[padding].assign(Tensor(zeros: [embeddingDim])) }
        self.paddingIdx = padding
        super.init()
    }

    /// Looks up `ids`, integers in 0..<numEmbeddings stored as Float: (…) → (…, embeddingDim); see
    /// ``embedding(ids:weight:paddingIdx:)``.
    public override func forward(_ ids: Tensor) -> Tensor {
        embedding(ids: ids, weight: weight, paddingIdx: paddingIdx)
    }

    /// Looks up a list of ids: (count) → (count, embeddingDim).
    public func callAsFunction(_ ids: [Int]) -> Tensor {
        self(Tensor(ids.map(Float.init), shape: [ids.count]))
    }
}
