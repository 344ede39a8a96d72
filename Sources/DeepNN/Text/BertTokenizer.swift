// BERT's WordPiece tokenizer, giving the ids of Hugging Face `BertTokenizerFast` (`tokenizers`'
// BertNormalizer + BertPreTokenizer + WordPiece + the [CLS] … [SEP] template). The pieces live in
// WordPiece.swift; the files (vocab.txt, tokenizer_config.json, tokenizer.json) are read below.

import Foundation

/// A tokenizer file or vocabulary that cannot be used: names the file (or `vocabulary`), the line
/// or JSON field, and the problem.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// The file cannot be read or decoded.
    case unreadableFile(path: String, reason: String)
    /// An entry of a vocabulary (line `line`, counting from 1) is empty or a duplicate.
    case invalidVocabularyEntry(source: String, line: Int, reason: String)
    /// A JSON file is malformed or a field has a value the tokenizer cannot use.
    case invalidField(path: String, field: String, reason: String)
    /// A special token the tokenizer needs is not in the vocabulary.
    case missingSpecialToken(token: String, source: String)

    /// A sentence naming the source, the position and the problem.
    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "BertTokenizer: cannot read \(path): \(reason)"
        case let .invalidVocabularyEntry(source, line, reason):
            return "BertTokenizer: \(source), line \(line): \(reason)"
        case let .invalidField(path, field, reason):
            return "BertTokenizer: \(path), field \(field): \(reason)"
        case let .missingSpecialToken(token, source):
            return "BertTokenizer: the special token \(token) is not in the vocabulary (\(source))"
        }
    }
}

/// How `BertTokenizer.encode(batch:padding:maxLength:)` pads the rows of a batch.
public enum Padding: Sendable {
    /// To the longest row of the batch (after truncation): Hugging Face's `padding="longest"`.
    case longest
    /// To the length limit (`maxLength`, else the tokenizer's): `padding="max_length"`.
    case maxLength
}

/// The ids of a batch of texts, padded to one length L, as Hugging Face's `BatchEncoding`.
public struct TokenizedBatch: Sendable, Equatable {
    /// Token ids, N rows of L, padded with the `[PAD]` id.
    public var inputIds: [[Int]]
    /// 1 for a real token, 0 for padding: N rows of L.
    public var attentionMask: [[Int]]
    /// Segment ids, all 0 for single texts: N rows of L.
    public var tokenTypeIds: [[Int]]

    /// `inputIds` as a (N, L) Float tensor (the library's convention for indices).
    public var inputIdsTensor: Tensor { Self.tensor(inputIds) }
    /// `attentionMask` as a (N, L) Float tensor of 0 and 1.
    public var attentionMaskTensor: Tensor { Self.tensor(attentionMask) }
    /// `tokenTypeIds` as a (N, L) Float tensor.
    public var tokenTypeIdsTensor: Tensor { Self.tensor(tokenTypeIds) }

    private static func tensor(_ rows: [[Int]]) -> Tensor {
        Tensor(rows.flatMap { $0.map(Float.init) }, shape: [rows.count, rows.first?.count ?? 0])
    }
}

/// BERT's WordPiece tokenizer (Hugging Face `BertTokenizer` / `BertTokenizerFast`, same ids as
/// `tokenizers`): normalise (clean control characters and whitespace, space out CJK ideographs,
/// strip accents, lower-case), split at whitespace and punctuation, then cut every word into the
/// greedy longest-match-first pieces of the vocabulary (`##` marks a continuation; a word with no
/// split or longer than 100 scalars is `[UNK]`). Special tokens written in the text (`[SEP]`,
/// exactly as in the vocabulary) are kept whole, as Hugging Face's added tokens are.
///
///     let tokenizer = try BertTokenizer(directory: modelFolder)
///     let batch = tokenizer.encode(batch: ["a photo of a shoe", "a bag"])   // (2, 7) ids and mask
///
/// Immutable after initialisation, so one tokenizer can serve several threads.
public final class BertTokenizer: Sendable {
    /// The tokens, id = index (vocab.txt's line number from 0).
    public let vocabulary: [String]
    /// Whether the text is lower-cased (`do_lower_case`).
    public let lowercase: Bool
    /// Whether accents are stripped (NFD, then no non-spacing marks); by default as `lowercase`.
    public let stripsAccents: Bool
    /// Whether CJK ideographs become one token each (`tokenize_chinese_chars`).
    public let splitsChineseCharacters: Bool
    /// Whether control characters are dropped and whitespace becomes a space (`clean_text`).
    public let cleansText: Bool
    /// The default length limit of `encode`, special tokens included (`model_max_length`).
    public let maxLength: Int
    /// Ids of `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, and of `[MASK]` when the vocabulary has it.
    public let padId: Int, unknownId: Int, classifierId: Int, separatorId: Int, maskId: Int?

    private let ids: [String: Int]
    private let normalization: BertNormalization
    private let model: WordPieceModel
    /// The special tokens matched in the raw text, as scalars, with their ids.
    private let specialTokens: [(scalars: [Unicode.Scalar], id: Int)]

    /// A tokenizer over `vocabulary` (token `i` has id `i`).
    /// - Parameters:
    ///   - lowercase: lower-case the text (uncased models).
    ///   - stripAccents: strip accents; nil follows `lowercase` (Hugging Face's default).
    ///   - splitsChineseCharacters: one token per CJK ideograph.
    ///   - maxLength: default length limit of `encode`, special tokens included.
    ///   - cleansText: drop control characters, whitespace → space.
    ///   - maxInputCharsPerWord: longer words (in Unicode scalars) are `[UNK]`.
    /// - Throws: `TokenizerError` for an empty or duplicate token, or a missing `[PAD]`, `[UNK]`,
    ///   `[CLS]` or `[SEP]`.
    public convenience init(vocabulary: [String], lowercase: Bool = true, stripAccents: Bool? = nil,
                            splitsChineseCharacters: Bool = true, maxLength: Int = 512,
                            cleansText: Bool = true, maxInputCharsPerWord: Int = 100) throws {
        try self.init(vocabulary: vocabulary, source: "vocabulary", lowercase: lowercase,
                      stripAccents: stripAccents, splitsChineseCharacters: splitsChineseCharacters,
                      maxLength: maxLength, cleansText: cleansText, maxInputCharsPerWord: maxInputCharsPerWord)
    }

    init(vocabulary: [String], source: String, lowercase: Bool, stripAccents: Bool?,
         splitsChineseCharacters: Bool, maxLength: Int, cleansText: Bool, maxInputCharsPerWord: Int) throws {
        require(maxLength >= 2, "BertTokenizer: maxLength \(maxLength) leaves no room for [CLS] and [SEP]")
        require(maxInputCharsPerWord >= 1, "BertTokenizer: maxInputCharsPerWord \(maxInputCharsPerWord) is not positive")
        var ids: [String: Int] = [:]
        ids.reserveCapacity(vocabulary.count)
        for (i, token) in vocabulary.enumerated() {
            if token.isEmpty { throw TokenizerError.invalidVocabularyEntry(source: source, line: i + 1, reason: "empty token") }
            if let first = ids[token] {
                throw TokenizerError.invalidVocabularyEntry(source: source, line: i + 1,
                                                            reason: "duplicate token \"\(token)\" (first on line \(first + 1))")
            }
            ids[token] = i
        }
        func special(_ token: String) throws -> Int {
            guard let id = ids[token] else { throw TokenizerError.missingSpecialToken(token: token, source: source) }
            return id
        }
        padId = try special("[PAD]")
        unknownId = try special("[UNK]")
        classifierId = try special("[CLS]")
        separatorId = try special("[SEP]")
        maskId = ids["[MASK]"]
        self.vocabulary = vocabulary
        self.ids = ids
        self.lowercase = lowercase
        stripsAccents = stripAccents ?? lowercase
        self.splitsChineseCharacters = splitsChineseCharacters
        self.cleansText = cleansText
        self.maxLength = maxLength
        normalization = BertNormalization(cleansText: cleansText, splitsChineseCharacters: splitsChineseCharacters,
                                          stripsAccents: stripAccents ?? lowercase, lowercases: lowercase)
        model = WordPieceModel(vocabulary: vocabulary, unknownId: unknownId, maxInputCharsPerWord: maxInputCharsPerWord)
        specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { token in
            ids[token].map { (scalars: Array(token.unicodeScalars), id: $0) }
        }
    }

    /// The id of `token`, or nil when it is not in the vocabulary.
    public func id(of token: String) -> Int? { ids[token] }

    /// The word pieces of `text`, without special tokens: `"Unaffable!"` → `["una", "##ff", "##able", "!"]`.
    public func tokenize(_ text: String) -> [String] {
        pieceIds(text).map { vocabulary[$0] }
    }

    /// The ids of `text`: `[CLS] pieces [SEP]` (or the pieces alone), truncated to `maxLength`
    /// (nil: the tokenizer's `maxLength`) keeping `[SEP]` last, as `tokenizer(text, truncation=True)`.
    public func encode(_ text: String, addSpecialTokens: Bool = true, maxLength: Int? = nil) -> [Int] {
        let limit = maxLength ?? self.maxLength
        require(limit >= (addSpecialTokens ? 2 : 0),
                "BertTokenizer.encode: maxLength \(limit) leaves no room for [CLS] and [SEP]")
        var pieces = pieceIds(text)
        let room = addSpecialTokens ? limit - 2 : limit
        if pieces.count > room { pieces.removeSubrange(room...) }
        return addSpecialTokens ? [classifierId] + pieces + [separatorId] : pieces
    }

    /// The ids of N texts with special tokens, truncated to `maxLength` (nil: the tokenizer's),
    /// padded with `[PAD]` to one length L as `padding` says, with their attention masks.
    /// - Returns: (N, L) ids, mask (1 real, 0 padding) and token types (0).
    public func encode(batch texts: [String], padding: Padding = .longest, maxLength: Int? = nil) -> TokenizedBatch {
        let limit = maxLength ?? self.maxLength
        require(padding == .longest || limit < 1 << 24,
                "BertTokenizer.encode(batch:): padding to maxLength needs a finite maxLength, got \(limit)")
        let rows = texts.map { encode($0, maxLength: limit) }
        let length = padding == .maxLength ? limit : rows.map(\.count).max() ?? 0
        return TokenizedBatch(
            inputIds: rows.map { $0 + Array(repeating: padId, count: length - $0.count) },
            attentionMask: rows.map { Array(repeating: 1, count: $0.count) + Array(repeating: 0, count: length - $0.count) },
            tokenTypeIds: rows.map { _ in Array(repeating: 0, count: length) })
    }

    /// The piece ids of `text`: special tokens written in it are matched first (in the raw text),
    /// the stretches between them normalised, split and cut into word pieces.
    private func pieceIds(_ text: String) -> [Int] {
        let raw = Array(text.unicodeScalars)
        var normalized: [Unicode.Scalar] = []
        normalized.reserveCapacity(raw.count + raw.count / 4 + 8)
        var result: [Int] = []
        result.reserveCapacity(raw.count / 3 + 4)
        var stretchStart = 0
        var i = 0
        while i < raw.count {
            if raw[i] == "[", let special = specialToken(in: raw, at: i) {
                appendPieces(of: raw[stretchStart..<i], buffer: &normalized, to: &result)
                result.append(special.id)
                i += special.length
                stretchStart = i
            } else {
                i += 1
            }
        }
        appendPieces(of: raw[stretchStart...], buffer: &normalized, to: &result)
        return result
    }

    private func appendPieces(of stretch: ArraySlice<Unicode.Scalar>, buffer: inout [Unicode.Scalar], to result: inout [Int]) {
        if stretch.isEmpty { return }
        buffer.removeAll(keepingCapacity: true)
        normalization.normalize(stretch, into: &buffer)
        model.appendIds(ofNormalized: buffer, from: 0, to: &result)
    }

    /// The longest special token spelled at `raw[i...]`, if any.
    private func specialToken(in raw: [Unicode.Scalar], at i: Int) -> (id: Int, length: Int)? {
        var best: (id: Int, length: Int)?
        for (scalars, id) in specialTokens where scalars.count <= raw.count - i && scalars.count > (best?.length ?? 0) {
            if raw[i..<(i + scalars.count)].elementsEqual(scalars) { best = (id, scalars.count) }
        }
        return best
    }
}

// MARK: - Files

extension BertTokenizer {
    /// A tokenizer over a `vocab.txt` (one token per line, id = line number from 0; trailing
    /// whitespace of a line is ignored, as `tokenizers` does) and the options of the memberwise init.
    /// - Throws: `TokenizerError` naming the file (and line) when it is unreadable, not UTF-8, or
    ///   has an empty or duplicate token, or lacks a special token.
    public convenience init(vocabularyFile: URL, lowercase: Bool = true, stripAccents: Bool? = nil,
                            splitsChineseCharacters: Bool = true, maxLength: Int = 512,
                            cleansText: Bool = true, maxInputCharsPerWord: Int = 100) throws {
        try self.init(vocabulary: BertTokenizer.readVocabulary(vocabularyFile), source: vocabularyFile.path,
                      lowercase: lowercase, stripAccents: stripAccents, splitsChineseCharacters: splitsChineseCharacters,
                      maxLength: maxLength, cleansText: cleansText, maxInputCharsPerWord: maxInputCharsPerWord)
    }

    /// The tokenizer of a Hugging Face model folder: `vocab.txt` (else the vocabulary of
    /// `tokenizer.json`'s WordPiece model), the options of `tokenizer_config.json` (`do_lower_case`,
    /// `strip_accents`, `tokenize_chinese_chars`, `model_max_length`) and, when present,
    /// `tokenizer.json`'s `BertNormalizer` (`lowercase`, `strip_accents`, `handle_chinese_chars`,
    /// `clean_text`), which the fast tokenizer follows, and its `max_input_chars_per_word`.
    /// - Throws: `TokenizerError` naming the file and the line or field at fault.
    public convenience init(directory: URL) throws {
        var lowercase = true, stripAccents: Bool? = nil, chinese = true, clean = true
        var maxLength = 512, maxWord = 100
        var vocabulary: [String]?
        var source = ""
        let vocabURL = directory.appendingPathComponent("vocab.txt")
        if FileManager.default.fileExists(atPath: vocabURL.path) {
            vocabulary = try BertTokenizer.readVocabulary(vocabURL)
            source = vocabURL.path
        }
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        var hasConfigLength = false
        if FileManager.default.fileExists(atPath: configURL.path) {
            let config = try BertTokenizer.decode(TokenizerConfigFile.self, from: configURL)
            lowercase = config.doLowerCase ?? lowercase
            stripAccents = config.stripAccents ?? stripAccents
            chinese = config.tokenizeChineseChars ?? chinese
            if let length = config.modelMaxLength {
                maxLength = try BertTokenizer.length(length, file: configURL, field: "model_max_length")
                hasConfigLength = true
            }
        }
        let fastURL = directory.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: fastURL.path) {
            let fast = try BertTokenizer.decode(FastTokenizerFile.self, from: fastURL)
            if let normalizer = fast.normalizer {
                try BertTokenizer.expect(normalizer.type, "BertNormalizer", file: fastURL, field: "normalizer.type")
                lowercase = normalizer.lowercase ?? lowercase
                stripAccents = normalizer.stripAccents ?? stripAccents
                chinese = normalizer.handleChineseChars ?? chinese
                clean = normalizer.cleanText ?? clean
            }
            if let model = fast.model {
                try BertTokenizer.expect(model.type, "WordPiece", file: fastURL, field: "model.type")
                try BertTokenizer.expect(model.continuingSubwordPrefix, "##", file: fastURL, field: "model.continuing_subword_prefix")
                try BertTokenizer.expect(model.unkToken, "[UNK]", file: fastURL, field: "model.unk_token")
                if let words = model.maxInputCharsPerWord {
                    guard words >= 1 else {
                        throw TokenizerError.invalidField(path: fastURL.path, field: "model.max_input_chars_per_word",
                                                          reason: "\(words) is not positive")
                    }
                    maxWord = words
                }
                if vocabulary == nil, let vocab = model.vocab {
                    vocabulary = try BertTokenizer.tokens(of: vocab, file: fastURL)
                    source = fastURL.path
                }
            }
            if !hasConfigLength, let length = fast.truncation?.maxLength {
                maxLength = try BertTokenizer.length(Double(length), file: fastURL, field: "truncation.max_length")
            }
        }
        guard let vocabulary else {
            throw TokenizerError.unreadableFile(path: vocabURL.path, reason: "no vocab.txt, and no tokenizer.json with a WordPiece vocab")
        }
        try self.init(vocabulary: vocabulary, source: source, lowercase: lowercase, stripAccents: stripAccents,
                      splitsChineseCharacters: chinese, maxLength: maxLength, cleansText: clean,
                      maxInputCharsPerWord: maxWord)
    }

    /// The lines of a vocab.txt, trailing whitespace dropped; a final newline ends the last line.
    static func readVocabulary(_ url: URL) throws -> [String] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: "\(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TokenizerError.unreadableFile(path: url.path, reason: "not UTF-8 text")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { line in
            var end = line.unicodeScalars.endIndex
            while end > line.unicodeScalars.startIndex,
                  line.unicodeScalars[line.unicodeScalars.index(before: end)].properties.isWhitespace {
                end = line.unicodeScalars.index(before: end)
            }
            return String(line.unicodeScalars[..<end])
        }
    }
}

/// `tokenizer_config.json`: the slow tokenizer's options (other fields are ignored).
private struct TokenizerConfigFile: Decodable {
    var doLowerCase: Bool?
    var stripAccents: Bool?
    var tokenizeChineseChars: Bool?
    /// A float: Hugging Face writes 1e30 for "no limit".
    var modelMaxLength: Double?

    enum CodingKeys: String, CodingKey {
        case doLowerCase = "do_lower_case", stripAccents = "strip_accents"
        case tokenizeChineseChars = "tokenize_chinese_chars", modelMaxLength = "model_max_length"
    }
}

/// `tokenizer.json`: the fast tokenizer's normaliser, model and truncation (other fields ignored).
private struct FastTokenizerFile: Decodable {
    struct Normalizer: Decodable {
        var type: String
        var lowercase: Bool?
        var stripAccents: Bool?
        var handleChineseChars: Bool?
        var cleanText: Bool?
        enum CodingKeys: String, CodingKey {
            case type, lowercase, stripAccents = "strip_accents"
            case handleChineseChars = "handle_chinese_chars", cleanText = "clean_text"
        }
    }
    struct Model: Decodable {
        var type: String
        var vocab: [String: Int]?
        var unkToken: String?
        var continuingSubwordPrefix: String?
        var maxInputCharsPerWord: Int?
        enum CodingKeys: String, CodingKey {
            case type, vocab, unkToken = "unk_token", continuingSubwordPrefix = "continuing_subword_prefix"
            case maxInputCharsPerWord = "max_input_chars_per_word"
        }
    }
    struct Truncation: Decodable {
        var maxLength: Int?
        enum CodingKeys: String, CodingKey { case maxLength = "max_length" }
    }
    var normalizer: Normalizer?
    var model: Model?
    var truncation: Truncation?
}

extension BertTokenizer {
    /// Decodes `url` as `T`; a failure names the file and the dotted path of the field.
    fileprivate static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DecodingError {
            let (path, reason): ([CodingKey], String) = {
                switch error {
                case let .typeMismatch(type, context): return (context.codingPath, "expected \(type): \(context.debugDescription)")
                case let .valueNotFound(type, context): return (context.codingPath, "expected \(type), found null")
                case let .keyNotFound(key, context): return (context.codingPath + [key], "missing")
                case let .dataCorrupted(context): return (context.codingPath, context.debugDescription)
                @unknown default: return ([], "\(error)")
                }
            }()
            let field = path.isEmpty ? "(document)" : path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            throw TokenizerError.invalidField(path: url.path, field: field, reason: reason)
        } catch {
            throw TokenizerError.invalidField(path: url.path, field: "(document)", reason: "\(error)")
        }
    }

    /// A length limit from a file: positive; 1e30 and other huge values mean no limit (`Int.max`).
    fileprivate static func length(_ value: Double, file: URL, field: String) throws -> Int {
        if value >= 9.2e18 { return Int.max }
        guard value >= 2, value == value.rounded(.towardZero) else {
            throw TokenizerError.invalidField(path: file.path, field: field, reason: "\(value) is not an integer >= 2")
        }
        return Int(value)
    }

    /// Throws unless `value` is nil or `expected`.
    fileprivate static func expect(_ value: String?, _ expected: String, file: URL, field: String) throws {
        if let value, value != expected {
            throw TokenizerError.invalidField(path: file.path, field: field, reason: "\"\(value)\" is not supported (only \"\(expected)\")")
        }
    }

    /// A WordPiece vocab `{token: id}` as the token list by id; ids must be 0..<count, distinct.
    fileprivate static func tokens(of vocab: [String: Int], file: URL) throws -> [String] {
        var tokens = [String?](repeating: nil, count: vocab.count)
        for (token, id) in vocab {
            guard id >= 0, id < vocab.count, tokens[id] == nil else {
                throw TokenizerError.invalidField(path: file.path, field: "model.vocab.\(token)",
                                                  reason: "id \(id) is not a distinct id in 0..<\(vocab.count)")
            }
            tokens[id] = token
        }
        return tokens.map { $0! }
    }
}
