import DeepCore
import Foundation

/// The outputs of ``BertModel``.
public struct BertOutput {
    /// (N, L, H): every token's hidden state after the last layer.
    public let lastHiddenState: Tensor
    /// (N, H): tanh(dense(first token)), or nil for a model without pooler.
    public let poolerOutput: Tensor?
}

/// The BERT encoder (`transformers.BertModel`): embeddings, `numHiddenLayers` post-norm
/// transformer layers, and an optional pooler, with Hugging Face's state-dict keys
/// (`embeddings.word_embeddings.weight`, `encoder.layer.0.attention.self.query.weight`,
/// `encoder.layer.0.attention.output.LayerNorm.bias`, `pooler.dense.weight`, …), so that its
/// checkpoints load as they are (``loadHuggingFaceStateDict(_:strict:)``).
///
///     let model = try BertModel.load(directory: folder)          // config.json + model.safetensors
///     let out = model.evaluating { model(inputIds: ids, attentionMask: mask) }
///     out.lastHiddenState   // (N, L, H)
///
/// A fresh model is initialised as Hugging Face does: every Linear and Embedding weight normal
/// with std `initializerRange`, the padding row zero, biases zero, LayerNorm ones and zeros.
/// The ids Hugging Face keeps as non-persistent buffers (`embeddings.position_ids`,
/// `embeddings.token_type_ids`) are not in the state dict: positions are 0..<L.
public final class BertModel: Module {
    /// The hyperparameters.
    public let config: BertConfig
    /// Word, position and token-type embeddings.
    public let embeddings: BertEmbeddings
    /// The transformer layers.
    public let encoder: BertEncoder
    /// The pooler, or nil when built without it.
    public let pooler: BertPooler?

    /// Creates a model with Hugging Face's initialisation from the default generator.
    ///
    /// - Parameters:
    ///   - config: the hyperparameters; must pass ``BertConfig/validate()``.
    ///   - addPoolingLayer: whether to build the pooler (`add_pooling_layer`).
    public init(config: BertConfig, addPoolingLayer: Bool = true) {
        do { try config.validate() } catch { require(false, "BertModel: \(error)") }
        self.config = config
        embeddings = BertEmbeddings(config: config)
        encoder = BertEncoder(config: config)
        pooler = addPoolingLayer ? BertPooler(config: config) : nil
        super.init()
        resetParameters(generator: &DefaultRandom.generator)
    }

    /// Reads a Hugging Face model folder: `config.json` and the weights in `model.safetensors`
    /// or `pytorch_model.bin`, loaded by ``loadHuggingFaceStateDict(_:strict:)``.
    ///
    /// - Throws: ``BertConfigError`` for the config, a file error for the weights,
    ///   ``StateDictError`` (naming the file) when they do not fit the config.
    public static func load(directory: URL, addPoolingLayer: Bool = true, strict: Bool = true) throws -> BertModel {
        let config = try BertConfig(contentsOf: directory.appendingPathComponent("config.json"))
        // model.safetensors, else pytorch_model.bin (whose reader names the file when neither exists).
        let safetensors = directory.appendingPathComponent("model.safetensors")
        let weights = FileManager.default.fileExists(atPath: safetensors.path)
            ? safetensors : directory.appendingPathComponent("pytorch_model.bin")
        let model = BertModel(config: config, addPoolingLayer: addPoolingLayer)
        try model.loadHuggingFace(from: weights, strict: strict)
        return model
    }

    /// Draws fresh weights as Hugging Face's `_init_weights` does: Linear and Embedding weights
    /// normal with std `config.initializerRange`, the padding row zero, biases zero, LayerNorm
    /// weight one and bias zero.
    public func resetParameters(generator: inout RandomGenerator) {
        let std = config.initializerRange
        withoutGrad {
            for (_, module) in namedModules() {
                if let linear = module as? Linear {
                    linear.weight.assign(Tensor.randn(linear.weight.shape, std: std, generator: &generator))
                    linear.bias?.assign(Tensor(zeros: linear.bias!.shape))
                } else if let table = module as? Embedding {
                    table.weight.assign(Tensor.randn(table.weight.shape, std: std, generator: &generator))
                    if let pad = table.paddingIdx { table.weight[pad].assign(Tensor(zeros: [table.weight.shape[1]])) }
                } else if let norm = module as? LayerNorm {
                    norm.weight?.assign(Tensor(ones: norm.weight!.shape))
                    norm.bias?.assign(Tensor(zeros: norm.bias!.shape))
                }
            }
        }
    }

    /// Encodes ids without mask or token types: (N, L) → last hidden state (N, L, H).
    public override func forward(_ inputIds: Tensor) -> Tensor {
        self(inputIds: inputIds).lastHiddenState
    }

    /// Encodes a batch of token ids.
    ///
    /// - Parameters:
    ///   - inputIds: (N, L) ids in 0..<vocabSize stored as Float; L ≤ maxPositionEmbeddings.
    ///   - attentionMask: (N, L), 1 for a real token, 0 for padding, whose keys no token attends
    ///     to (Hugging Face's `attention_mask`); nil attends everywhere.
    ///   - tokenTypeIds: (N, L) segment ids in 0..<typeVocabSize; nil means all 0.
    /// - Returns: the last hidden state (N, L, H) and the pooled output (N, H) when the model
    ///   has a pooler. Hidden states at padding positions are computed too (as Hugging Face's).
    public func callAsFunction(inputIds: Tensor, attentionMask: Tensor? = nil, tokenTypeIds: Tensor? = nil) -> BertOutput {
        var pooled: Tensor? = nil
        let inputs = [inputIds] + [attentionMask, tokenTypeIds].compactMap { $0 }
        let last = traced(inputs: inputs) { () -> Tensor in
            guard inputsFit(inputIds: inputIds, attentionMask: attentionMask, tokenTypeIds: tokenTypeIds)
            else { return .shapeFailure }
            let hidden = encoder(embeddings(inputIds, tokenTypeIds: tokenTypeIds), additiveMask: attentionMask.flatMap(Self.additiveMask))
            pooled = pooler.map { $0(hidden) }
            return hidden
        }
        return BertOutput(lastHiddenState: last, poolerOutput: pooled)
    }

    /// Whether ids are (N, L) with 1 ≤ L ≤ maxPositionEmbeddings and the mask and token types
    /// have their shape; records a shape failure when not.
    private func inputsFit(inputIds: Tensor, attentionMask: Tensor?, tokenTypeIds: Tensor?) -> Bool {
        guard shapeCheck(inputIds.rank == 2 && inputIds.shape[1] >= 1 && inputIds.shape[1] <= config.maxPositionEmbeddings,
                         "BertModel: inputIds of shape \(inputIds.shape) is not (N, L) with 1 ≤ L ≤ maxPositionEmbeddings \(config.maxPositionEmbeddings)")
        else { return false }
        for (name, t) in [("attentionMask", attentionMask), ("tokenTypeIds", tokenTypeIds)] {
            guard let t else { continue }
            guard shapeCheck(t.shape == inputIds.shape, "BertModel: \(name) of shape \(t.shape) differs from inputIds \(inputIds.shape)")
            else { return false }
        }
        return true
    }

    /// The additive key mask Hugging Face builds from an (N, L) attention mask: (N, 1, 1, L), 0
    /// where the mask is 1 and Float's lowest value (`torch.finfo.min`) where it is 0; nil when
    /// every token is real (nothing to mask).
    private static func additiveMask(_ attentionMask: Tensor) -> Tensor? {
        if !attentionMask.isMeta && attentionMask.scalars.allSatisfy({ $0 != 0 }) { return nil }
        let (n, l) = (attentionMask.shape[0], attentionMask.shape[1])
        return withoutGrad { ((1 - attentionMask.detached()) * -Float.greatestFiniteMagnitude).reshaped([n, 1, 1, l]) }
    }

    /// The keys of Hugging Face checkpoints that this model computes instead of storing: the
    /// position and token-type id buffers (persistent in transformers before 4.31).
    public static let computedBufferKeys: Set<String> = ["embeddings.position_ids", "embeddings.token_type_ids"]

    /// Loads a Hugging Face BERT state dict: drops ``computedBufferKeys``, and when the
    /// weights are those of a `BertFor…` model (keys `bert.embeddings…`), takes the `bert.` keys
    /// without the prefix (the heads' keys, such as `cls.…`, are then unexpected).
    ///
    /// - Parameter strict: as ``Module/loadStateDict(_:strict:)``: missing or unexpected keys
    ///   throw; with false they are returned.
    /// - Throws: ``StateDictError``; the model is left unchanged on error.
    @discardableResult
    public func loadHuggingFaceStateDict(_ dict: [String: Tensor], strict: Bool = true) throws -> (missing: [String], unexpected: [String]) {
        var weights: [String: Tensor] = [:]
        let prefixed = dict["embeddings.word_embeddings.weight"] == nil && dict["bert.embeddings.word_embeddings.weight"] != nil
        for (key, tensor) in dict {
            let name = prefixed && key.hasPrefix("bert.") ? String(key.dropFirst(5)) : key
            if !Self.computedBufferKeys.contains(name) { weights[name] = tensor }
        }
        return try loadStateDict(weights, strict: strict)
    }

    /// Loads a Hugging Face checkpoint file (safetensors or `torch.save`, as
    /// ``Module/load(from:strict:)`` reads) with ``loadHuggingFaceStateDict(_:strict:)``.
    ///
    /// - Throws: a file error, or ``StateDictError`` naming the file.
    public func loadHuggingFace(from url: URL, strict: Bool = true) throws {
        try withStateDict(from: url) { try loadHuggingFaceStateDict($0, strict: strict) }
    }
}
