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

    /// Looks up `ids`, integers in 0..<numEmbeddings stored as Float: (…) → (…, embeddingDim).
    public override func forward(_ ids: Tensor) -> Tensor {
        if let meta = Tensor.metaResult(ids.shape + [weight.shape[1]], ids) { return meta }
        let rows = ids.scalars.map { value -> Int in
            require(value >= 0 && value < Float(weight.shape[0]) && value == value.rounded(),
                    "Embedding: id \(value) is not an integer in 0..<\(weight.shape[0])")
            return Int(value)
        }
        return lookup(rows).reshaped(ids.shape + [weight.shape[1]])
    }

    /// Looks up a list of ids: (count) → (count, embeddingDim).
    public func callAsFunction(_ ids: [Int]) -> Tensor {
        self(Tensor(ids.map(Float.init), shape: [ids.count]))
    }

    /// The rows `ids` of the table, the padding row cut off from the gradient.
    private func lookup(_ ids: [Int]) -> Tensor {
        let rows = weight.indexSelected(axis: 0, indices: ids)
        guard let paddingIdx, ids.contains(paddingIdx) else { return rows }
        // Same values; the padding rows' gradient goes to a detached copy instead of the table.
        let isPadding = Tensor(ids.map { $0 == paddingIdx ? 1 : 0 }, shape: [ids.count, 1])
        return rows * (1 - isPadding) + rows.detached() * isPadding
    }
}
