import DeepCore
import Foundation

/// The hyperparameters of a BERT encoder, read from a Hugging Face `config.json` with the same
/// field names and defaults as `transformers.BertConfig` (`vocab_size`, `hidden_size`, …).
///
///     let config = try BertConfig(contentsOf: folder.appendingPathComponent("config.json"))
///     let model = BertModel(config: config)
///
/// Reading a file, the five size fields (`vocab_size`, `hidden_size`, `num_hidden_layers`,
/// `num_attention_heads`, `intermediate_size`) must be present, since a file without them does
/// not describe a BERT model; every other field takes Hugging Face's default, and fields this
/// type does not use are ignored.
public struct BertConfig: Decodable, Equatable, Sendable {
    /// Rows of the word-embedding table (V).
    public var vocabSize: Int
    /// Width of every hidden state (H).
    public var hiddenSize: Int
    /// Number of encoder layers.
    public var numHiddenLayers: Int
    /// Attention heads per layer; divides `hiddenSize`.
    public var numAttentionHeads: Int
    /// Width of the feed-forward block's hidden layer.
    public var intermediateSize: Int
    /// The feed-forward activation (`hidden_act`).
    public var hiddenAct: BertActivation
    /// Dropout on the embeddings and after each dense output.
    public var hiddenDropoutProb: Float
    /// Dropout on the attention weights.
    public var attentionProbsDropoutProb: Float
    /// Rows of the position-embedding table: the longest input.
    public var maxPositionEmbeddings: Int
    /// Rows of the token-type (segment) embedding table.
    public var typeVocabSize: Int
    /// Standard deviation of the normal initialisation of a fresh model.
    public var initializerRange: Float
    /// The epsilon of every LayerNorm.
    public var layerNormEps: Float
    /// The padding id, whose word embedding is zero and gets no gradient; nil for none.
    public var padTokenId: Int?
    /// How positions are embedded; only `"absolute"` (learned, one row per position) exists here.
    public var positionEmbeddingType: String

    /// A configuration with Hugging Face's defaults (BERT-base) for every field not given.
    public init(vocabSize: Int = 30522, hiddenSize: Int = 768, numHiddenLayers: Int = 12, numAttentionHeads: Int = 12,
                intermediateSize: Int = 3072, hiddenAct: BertActivation = .gelu, hiddenDropoutProb: Float = 0.1,
                attentionProbsDropoutProb: Float = 0.1, maxPositionEmbeddings: Int = 512, typeVocabSize: Int = 2,
                initializerRange: Float = 0.02, layerNormEps: Float = 1e-12, padTokenId: Int? = 0,
                positionEmbeddingType: String = "absolute") {
        (self.vocabSize, self.hiddenSize, self.numHiddenLayers, self.numAttentionHeads, self.intermediateSize)
            = (vocabSize, hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize)
        (self.hiddenAct, self.hiddenDropoutProb, self.attentionProbsDropoutProb) = (hiddenAct, hiddenDropoutProb, attentionProbsDropoutProb)
        (self.maxPositionEmbeddings, self.typeVocabSize, self.initializerRange, self.layerNormEps)
            = (maxPositionEmbeddings, typeVocabSize, initializerRange, layerNormEps)
        (self.padTokenId, self.positionEmbeddingType) = (padTokenId, positionEmbeddingType)
    }

    /// Reads a Hugging Face `config.json` and checks it (``validate()``).
    ///
    /// - Throws: ``BertConfigError`` naming the file and the field: unreadable or malformed JSON,
    ///   a missing size field, a value of the wrong type, an unknown `hidden_act`, or an
    ///   impossible value (non-positive sizes, heads not dividing the hidden size, …).
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw BertConfigError(source: url.path, field: nil, reason: "cannot be read: \(error.localizedDescription)")
        }
        do {
            self = try JSONDecoder().decode(BertConfig.self, from: data)
        } catch let error as BertConfigError {
            throw BertConfigError(source: url.path, field: error.field, reason: error.reason)
        } catch let error as DecodingError {
            throw BertConfigError(source: url.path, decoding: error)
        }
        do { try validate() } catch let error as BertConfigError {
            throw BertConfigError(source: url.path, field: error.field, reason: error.reason)
        }
    }

    private enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
        case hiddenDropoutProb = "hidden_dropout_prob", attentionProbsDropoutProb = "attention_probs_dropout_prob"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case initializerRange = "initializer_range", layerNormEps = "layer_norm_eps", padTokenId = "pad_token_id"
        case positionEmbeddingType = "position_embedding_type", modelType = "model_type"
    }

    /// Decodes the fields by their Hugging Face names (see the type's description); does not
    /// validate values.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = BertConfig()
        func optional<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        if let type = try c.decodeIfPresent(String.self, forKey: .modelType), type != "bert" {
            throw BertConfigError(source: "", field: "model_type", reason: "is \"\(type)\", not \"bert\"")
        }
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        let act = try optional(.hiddenAct, defaults.hiddenAct.huggingFaceName)
        guard let activation = BertActivation(huggingFaceName: act) else {
            throw BertConfigError(source: "", field: "hidden_act", reason: "\"\(act)\" is not one of "
                                  + BertActivation.huggingFaceNames.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        hiddenAct = activation
        hiddenDropoutProb = try optional(.hiddenDropoutProb, defaults.hiddenDropoutProb)
        attentionProbsDropoutProb = try optional(.attentionProbsDropoutProb, defaults.attentionProbsDropoutProb)
        maxPositionEmbeddings = try optional(.maxPositionEmbeddings, defaults.maxPositionEmbeddings)
        typeVocabSize = try optional(.typeVocabSize, defaults.typeVocabSize)
        initializerRange = try optional(.initializerRange, defaults.initializerRange)
        layerNormEps = try optional(.layerNormEps, defaults.layerNormEps)
        // `null` means no padding id, as in Hugging Face; an absent field means the default 0.
        padTokenId = try c.contains(.padTokenId) ? c.decodeIfPresent(Int.self, forKey: .padTokenId) : defaults.padTokenId
        positionEmbeddingType = try optional(.positionEmbeddingType, defaults.positionEmbeddingType)
    }

    /// Checks that the values describe a model that can be built.
    ///
    /// - Throws: ``BertConfigError`` (without a source) naming the first impossible field.
    public func validate() throws {
        func fail(_ field: String, _ reason: String) -> BertConfigError { BertConfigError(source: "", field: field, reason: reason) }
        for (field, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                               ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize),
                               ("max_position_embeddings", maxPositionEmbeddings), ("type_vocab_size", typeVocabSize)]
        where value <= 0 {
            throw fail(field, "is \(value), not a positive size")
        }
        if hiddenSize % numAttentionHeads != 0 {
            throw fail("num_attention_heads", "\(numAttentionHeads) heads do not divide hidden_size \(hiddenSize)")
        }
        for (field, rows) in [("vocab_size", vocabSize), ("max_position_embeddings", maxPositionEmbeddings),
                              ("intermediate_size", intermediateSize)]
        where rows.multipliedReportingOverflow(by: hiddenSize).overflow {
            throw fail(field, "\(rows) × hidden_size \(hiddenSize) overflows")
        }
        for (field, p) in [("hidden_dropout_prob", hiddenDropoutProb), ("attention_probs_dropout_prob", attentionProbsDropoutProb)]
        where !(p >= 0 && p < 1) {
            throw fail(field, "is \(p), not a probability in [0, 1)")
        }
        if !(layerNormEps > 0) { throw fail("layer_norm_eps", "is \(layerNormEps), not positive") }
        if !(initializerRange >= 0) { throw fail("initializer_range", "is \(initializerRange), not a standard deviation") }
        if let pad = padTokenId, !(0..<vocabSize).contains(pad) {
            throw fail("pad_token_id", "is \(pad), not an id in 0..<vocab_size \(vocabSize)")
        }
        if positionEmbeddingType != "absolute" {
            throw fail("position_embedding_type", "\"\(positionEmbeddingType)\" is not supported (only \"absolute\")")
        }
    }
}

/// The activation of BERT's feed-forward block, by its Hugging Face `hidden_act` name.
public enum BertActivation: Equatable, Sendable {
    /// `"gelu"`: the exact GELU, x·Φ(x) with Φ from erf.
    case gelu
    /// `"gelu_new"`, `"gelu_pytorch_tanh"`: GELU's tanh approximation.
    case geluTanh
    /// `"relu"`.
    case relu
    /// `"silu"`, `"swish"`: x·σ(x).
    case silu

    /// The names `hidden_act` may hold.
    public static let huggingFaceNames = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish"]

    /// The activation named `name` in a Hugging Face config, or nil for a name not supported.
    public init?(huggingFaceName name: String) {
        switch name {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh": self = .geluTanh
        case "relu": self = .relu
        case "silu", "swish": self = .silu
        default: return nil
        }
    }

    /// The activation's Hugging Face name (`"gelu_new"` for the tanh approximation).
    public var huggingFaceName: String {
        switch self {
        case .gelu: return "gelu"
        case .geluTanh: return "gelu_new"
        case .relu: return "relu"
        case .silu: return "silu"
        }
    }

    /// Applies the activation elementwise: any shape → same.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: return DeepCore.gelu(x)
        case .geluTanh: return DeepCore.gelu(x, approximation: .tanh)
        case .relu: return DeepCore.relu(x)
        case .silu: return DeepCore.silu(x)
        }
    }
}

/// A BERT `config.json` that cannot be used: the file, the field and what is wrong with it.
public struct BertConfigError: Error, CustomStringConvertible, Equatable {
    /// The file's path ("" when the configuration did not come from a file).
    public let source: String
    /// The field's Hugging Face name (`num_attention_heads`), or nil for the whole file.
    public let field: String?
    /// What is wrong.
    public let reason: String

    /// Describes the problem.
    public init(source: String, field: String?, reason: String) {
        (self.source, self.field, self.reason) = (source, field, reason)
    }

    /// The error for a JSON decoding failure in `source`.
    init(source: String, decoding error: DecodingError) {
        func named(_ path: [CodingKey]) -> String? { path.isEmpty ? nil : path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case .keyNotFound(let key, let context):
            self.init(source: source, field: named(context.codingPath + [key]), reason: "is missing")
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            self.init(source: source, field: named(context.codingPath), reason: "is not a valid \(type)")
        case .dataCorrupted(let context):
            self.init(source: source, field: named(context.codingPath),
                      reason: "is not valid JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)")
        @unknown default:
            self.init(source: source, field: nil, reason: "\(error)")
        }
    }

    public var description: String {
        let place = source.isEmpty ? "BERT config" : "BERT config \(source)"
        return place + (field.map { ": field \"\($0)\"" } ?? "") + ": " + reason
    }
}
