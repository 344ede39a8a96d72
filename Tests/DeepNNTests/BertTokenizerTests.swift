import Foundation
import XCTest
import DeepCore
import DeepNN
import TestSupport

/// BertTokenizer against Hugging Face `tokenizers` (Tests/Fixtures/make_tokenizer.py: a reduced
/// MiniLM vocabulary, 48 texts in two modes, truncation, a padded batch; the real MiniLM ids when
/// DEEPSTITCH_MINILM_DIR names the model folder), the files it reads and the errors they raise.
final class BertTokenizerTests: XCTestCase {
    private struct Mode: Decodable {
        let ids: [[Int]], ids32: [[Int]], ids128: [[Int]], tokens: [[String]]
        let batch_ids: [[Int]], batch_mask: [[Int]]
    }
    private struct Cases: Decodable {
        let texts: [String]
        let batch: [Int]
        let batch_max_length: Int
        let modes: [String: Mode]
        let real_ids: [[Int]]
    }

    private static let cases: Cases = {
        let url = fixtureURL("tokenizer_cases.json")
        guard let data = try? Data(contentsOf: url), let cases = try? JSONDecoder().decode(Cases.self, from: data) else {
            fatalError("fixture \(url.path) is missing or malformed: run Tests/Fixtures/make_tokenizer.py")
        }
        return cases
    }()

    private let vocabURL = fixtureURL("tokenizer_vocab.txt")

    private func makeTokenizer(mode: String) throws -> BertTokenizer {
        mode == "lower" ? try BertTokenizer(vocabularyFile: vocabURL)
            : try BertTokenizer(vocabularyFile: vocabURL, lowercase: false, stripAccents: false)
    }

    // MARK: Ids against tokenizers

    func testIdsMatchHuggingFaceTokenizers() throws {
        let cases = Self.cases
        XCTAssertGreaterThanOrEqual(cases.texts.count, 40)
        for (name, expected) in cases.modes {
            let tokenizer = try makeTokenizer(mode: name)
            for (i, text) in cases.texts.enumerated() {
                let ids = tokenizer.encode(text)
                XCTAssertEqual(ids, expected.ids[i], "\(name) text \(i) \(text.debugDescription): "
                               + "\(tokenizer.tokenize(text)) vs \(expected.tokens[i])")
                XCTAssertEqual(tokenizer.tokenize(text), Array(expected.tokens[i].dropFirst().dropLast()), "\(name) text \(i)")
                XCTAssertEqual(tokenizer.encode(text, maxLength: 32), expected.ids32[i], "\(name) text \(i), maxLength 32")
                XCTAssertEqual(tokenizer.encode(text, maxLength: 128), expected.ids128[i], "\(name) text \(i), maxLength 128")
            }
        }
    }

    func testPaddedBatchMatchesHuggingFaceTokenizers() throws {
        let cases = Self.cases
        let texts = cases.batch.map { cases.texts[$0] }
        for (name, expected) in cases.modes {
            let batch = try makeTokenizer(mode: name).encode(batch: texts, padding: .longest, maxLength: cases.batch_max_length)
            XCTAssertEqual(batch.inputIds, expected.batch_ids, name)
            XCTAssertEqual(batch.attentionMask, expected.batch_mask, name)
            let length = expected.batch_ids[0].count
            XCTAssertEqual(batch.tokenTypeIds, Array(repeating: Array(repeating: 0, count: length), count: texts.count))
            XCTAssertEqual(batch.inputIdsTensor.shape, [texts.count, length])
            XCTAssertEqual(batch.inputIdsTensor.scalars, expected.batch_ids.flatMap { $0.map(Float.init) })
            XCTAssertEqual(batch.attentionMaskTensor.scalars, expected.batch_mask.flatMap { $0.map(Float.init) })
            XCTAssertEqual(batch.tokenTypeIdsTensor.shape, [texts.count, length])
        }
        let tokenizer = try makeTokenizer(mode: "lower")
        let short = tokenizer.encode(batch: ["Hello, world!", "a"], padding: .longest)
        XCTAssertEqual(short.inputIds[1], tokenizer.encode("a") + Array(repeating: tokenizer.padId, count: 3))
        XCTAssertEqual(short.attentionMask, [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
        let fixed = tokenizer.encode(batch: ["Hello, world!", "a"], padding: .maxLength, maxLength: 10)
        XCTAssertEqual(fixed.inputIds.map(\.count), [10, 10])
        XCTAssertEqual(fixed.attentionMask[0], [1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
    }

    /// The real all-MiniLM-L6-v2 folder (vocab.txt, tokenizer_config.json, tokenizer.json): the
    /// ids of `AutoTokenizer`, and the speed on its 30 522-token vocabulary.
    func testRealMiniLMTokenizerWhenInstalled() throws {
        guard let folder = ProcessInfo.processInfo.environment["DEEPSTITCH_MINILM_DIR"] else {
            throw XCTSkip("DEEPSTITCH_MINILM_DIR is not set (the folder of sentence-transformers/all-MiniLM-L6-v2)")
        }
        let tokenizer = try BertTokenizer(directory: URL(fileURLWithPath: folder))
        XCTAssertEqual(tokenizer.vocabulary.count, 30522)
        XCTAssertEqual(tokenizer.maxLength, 512)
        for (i, text) in Self.cases.texts.enumerated() {
            XCTAssertEqual(tokenizer.encode(text), Self.cases.real_ids[i], "text \(i) \(text.debugDescription): \(tokenizer.tokenize(text))")
        }
        assertFast(tokenizer)
    }

    func testSpeedOnTheCorpus() throws {
        assertFast(try makeTokenizer(mode: "lower"))
    }

    /// 50 sentences of the corpus in one batch: well under a millisecond per sentence.
    private func assertFast(_ tokenizer: BertTokenizer, file: StaticString = #filePath, line: UInt = #line) {
        let texts = Array((Self.cases.texts + Self.cases.texts).prefix(50))
        var tokens = 0
        let start = DispatchTime.now().uptimeNanoseconds
        let rounds = 10
        for _ in 0..<rounds { tokens += tokenizer.encode(batch: texts).attentionMask.joined().reduce(0, +) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let perSentence = seconds / Double(rounds * texts.count)
        XCTAssertLessThan(perSentence, 1e-3, "\(perSentence * 1e6) µs per sentence", file: file, line: line)
        print("BertTokenizer (\(tokenizer.vocabulary.count) tokens): \(Int(perSentence * 1e6)) µs per sentence, "
              + "\(Int(Double(tokens) / seconds)) tokens/s")
    }

    // MARK: Rules

    private func small() throws -> BertTokenizer {
        try BertTokenizer(vocabulary: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "una", "##ff", "##able",
                                       "!", "a", "##a", "ab", "##b", "中", "cafe"])
    }

    func testWordPiecesAndUnknownWords() throws {
        let t = try small()
        XCTAssertEqual(t.tokenize("Unaffable!"), ["una", "##ff", "##able", "!"], "greedy longest match first")
        XCTAssertEqual(t.tokenize("unx ab"), ["[UNK]", "ab"], "a word with no split is one [UNK]")
        XCTAssertEqual(t.tokenize("中中x"), ["中", "中", "[UNK]"], "one token per CJK ideograph")
        XCTAssertEqual(t.tokenize("CAFÉ cafe\u{301}"), ["cafe", "cafe"], "lower-cased, accents stripped")
        XCTAssertEqual(t.tokenize(String(repeating: "a", count: 100)), ["a"] + Array(repeating: "##a", count: 99))
        XCTAssertEqual(t.tokenize(String(repeating: "a", count: 101)), ["[UNK]"], "longer than 100 scalars")
        XCTAssertEqual(t.tokenize("a[MASK]a [mask]"), ["a", "[MASK]", "a", "[UNK]", "[UNK]", "[UNK]"],
                       "special tokens kept whole in the raw text only; '[' and ']' are not in this vocabulary")
        let cased = try BertTokenizer(vocabulary: t.vocabulary, lowercase: false)
        XCTAssertFalse(cased.stripsAccents, "stripAccents follows lowercase by default")
        XCTAssertEqual(cased.tokenize("cafe Cafe"), ["cafe", "[UNK]"])
        XCTAssertEqual(try BertTokenizer(vocabulary: t.vocabulary, stripAccents: false).tokenize("café"), ["[UNK]"])
    }

    func testSpecialTokensAndTruncation() throws {
        let t = try small()
        XCTAssertEqual([t.padId, t.unknownId, t.classifierId, t.separatorId, t.maskId], [0, 1, 2, 3, 4])
        XCTAssertEqual(t.id(of: "##able"), 8)
        XCTAssertNil(t.id(of: "able"))
        let pieces = t.encode("a a a a a", addSpecialTokens: false)
        XCTAssertEqual(pieces, [10, 10, 10, 10, 10])
        XCTAssertEqual(t.encode("a a a a a"), [2] + pieces + [3])
        XCTAssertEqual(t.encode("a a a a a", maxLength: 4), [2, 10, 10, 3], "[SEP] kept last")
        XCTAssertEqual(t.encode("a a a a a", maxLength: 2), [2, 3])
        XCTAssertEqual(t.encode("a a a a a", addSpecialTokens: false, maxLength: 3), [10, 10, 10])
        XCTAssertEqual(t.encode(""), [2, 3])
        let limited = try BertTokenizer(vocabulary: t.vocabulary, maxLength: 5)
        XCTAssertEqual(limited.encode("a a a a a"), [2, 10, 10, 10, 3], "the tokenizer's maxLength by default")
        XCTAssertEqual(limited.encode(batch: ["a", "a a a a a"], padding: .maxLength).inputIds, [[2, 10, 3, 0, 0], [2, 10, 10, 10, 3]])
    }

    // MARK: Files

    private func write(_ text: String, _ name: String, in folder: URL) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent(name))
    }

    func testDirectoryReadsTokenizerConfigAndTokenizerJSON() throws {
        let folder = try makeTemporaryDirectory()
        try FileManager.default.copyItem(at: vocabURL, to: folder.appendingPathComponent("vocab.txt"))
        let plain = try BertTokenizer(directory: folder)
        XCTAssertTrue(plain.lowercase && plain.stripsAccents && plain.splitsChineseCharacters && plain.cleansText)
        XCTAssertEqual(plain.maxLength, 512)
        XCTAssertEqual(plain.vocabulary, try String(contentsOf: vocabURL, encoding: .utf8).split(separator: "\n").map(String.init))

        try write(#"{"do_lower_case": false, "strip_accents": null, "tokenize_chinese_chars": false, "model_max_length": 1000000000000000019884624838656, "tokenizer_class": "BertTokenizer"}"#,
                  "tokenizer_config.json", in: folder)
        let config = try BertTokenizer(directory: folder)
        XCTAssertFalse(config.lowercase || config.stripsAccents || config.splitsChineseCharacters)
        XCTAssertEqual(config.maxLength, Int.max, "1e30 means no limit")

        let ids = Dictionary(uniqueKeysWithValues: plain.vocabulary.enumerated().map { ($0.element, $0.offset) })
        let vocab = try XCTUnwrap(String(data: try JSONEncoder().encode(ids), encoding: .utf8))
        let fast = ###"{"truncation": {"max_length": 128}, "normalizer": {"type": "BertNormalizer", "clean_text": false, "handle_chinese_chars": true, "strip_accents": true, "lowercase": true}, "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 5, "vocab": "###
            + vocab + "}}"
        try write(fast, "tokenizer.json", in: folder)
        let both = try BertTokenizer(directory: folder)
        XCTAssertTrue(both.lowercase && both.stripsAccents && both.splitsChineseCharacters)
        XCTAssertFalse(both.cleansText)
        XCTAssertEqual(both.maxLength, Int.max, "tokenizer_config.json's model_max_length wins over the truncation")
        XCTAssertEqual(both.tokenize("the abcdef"), ["the", "[UNK]"], "max_input_chars_per_word 5")

        try FileManager.default.removeItem(at: folder.appendingPathComponent("vocab.txt"))
        try FileManager.default.removeItem(at: folder.appendingPathComponent("tokenizer_config.json"))
        let fastOnly = try BertTokenizer(directory: folder)
        XCTAssertEqual(fastOnly.vocabulary, plain.vocabulary, "the vocab of tokenizer.json without vocab.txt")
        XCTAssertEqual(fastOnly.maxLength, 128)
    }

    /// `body` throws a `TokenizerError` whose description holds every one of `words`.
    private func assertThrows(_ words: [String], file: StaticString = #filePath, line: UInt = #line,
                              _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("no error; expected one naming \(words)", file: file, line: line)
        } catch let error as TokenizerError {
            for word in words { XCTAssertTrue(error.description.contains(word), "\"\(word)\" not in: \(error)", file: file, line: line) }
        } catch {
            XCTFail("expected a TokenizerError, got \(error)", file: file, line: line)
        }
    }

    func testMalformedFilesThrowNamingFileAndLineOrField() throws {
        let folder = try makeTemporaryDirectory()
        let vocab = folder.appendingPathComponent("vocab.txt")
        let good = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n"
        assertThrows(["missing.txt"]) { _ = try BertTokenizer(vocabularyFile: folder.appendingPathComponent("missing.txt")) }
        try write(good + "a\n\nb\n", "vocab.txt", in: folder)
        assertThrows([vocab.path, "line 7", "empty"]) { _ = try BertTokenizer(vocabularyFile: vocab) }
        try write(good + "world\nhello\n", "vocab.txt", in: folder)
        assertThrows([vocab.path, "line 7", "duplicate", "\"hello\"", "line 5"]) { _ = try BertTokenizer(vocabularyFile: vocab) }
        try write("[PAD]\n[UNK]\n[SEP]\n", "vocab.txt", in: folder)
        assertThrows(["[CLS]", vocab.path]) { _ = try BertTokenizer(vocabularyFile: vocab) }
        try Data([0x5B, 0xFF, 0xFE, 0x0A]).write(to: vocab)
        assertThrows([vocab.path, "UTF-8"]) { _ = try BertTokenizer(vocabularyFile: vocab) }
        assertThrows(["vocabulary", "line 2", "duplicate"]) { _ = try BertTokenizer(vocabulary: ["[PAD]", "[PAD]"]) }
        assertThrows(["[UNK]", "vocabulary"]) { _ = try BertTokenizer(vocabulary: ["[PAD]", "[CLS]", "[SEP]"]) }

        try write(good, "vocab.txt", in: folder)
        let config = folder.appendingPathComponent("tokenizer_config.json").path
        try write(#"{"do_lower_case": "yes"}"#, "tokenizer_config.json", in: folder)
        assertThrows([config, "do_lower_case"]) { _ = try BertTokenizer(directory: folder) }
        try write(#"{"model_max_length": 12.5}"#, "tokenizer_config.json", in: folder)
        assertThrows([config, "model_max_length"]) { _ = try BertTokenizer(directory: folder) }
        try write(#"{"do_lower_case": true,"#, "tokenizer_config.json", in: folder)
        assertThrows([config, "(document)"]) { _ = try BertTokenizer(directory: folder) }
        try write("{}", "tokenizer_config.json", in: folder)

        let fast = folder.appendingPathComponent("tokenizer.json").path
        try write(#"{"normalizer": {"type": "Lowercase"}}"#, "tokenizer.json", in: folder)
        assertThrows([fast, "normalizer.type", "Lowercase"]) { _ = try BertTokenizer(directory: folder) }
        try write(#"{"normalizer": {"type": "BertNormalizer", "lowercase": 1}}"#, "tokenizer.json", in: folder)
        assertThrows([fast, "normalizer.lowercase"]) { _ = try BertTokenizer(directory: folder) }
        try write(#"{"model": {"type": "WordPiece", "continuing_subword_prefix": "@@"}}"#, "tokenizer.json", in: folder)
        assertThrows([fast, "model.continuing_subword_prefix", "@@"]) { _ = try BertTokenizer(directory: folder) }
        try FileManager.default.removeItem(at: vocab)
        try write(#"{"model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "[UNK]": 5}}}"#, "tokenizer.json", in: folder)
        assertThrows([fast, "model.vocab.[UNK]", "5"]) { _ = try BertTokenizer(directory: folder) }
        try write("{}", "tokenizer.json", in: folder)
        assertThrows(["vocab.txt"]) { _ = try BertTokenizer(directory: folder) }
    }
}
