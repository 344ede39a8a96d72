import DeepCore
import DeepNN
import Foundation
import TestSupport
import XCTest

/// SentenceEncoder against sentence-transformers on a tiny model it saved
/// (`Tests/Fixtures/make_sentence_encoder.py`: a 1-layer BERT, hidden 16, a 100-token vocabulary,
/// max_seq_length 12): every pooling mode, with and without normalisation, and the folder's errors.
final class SentenceEncoderTests: XCTestCase {
    struct Expected: Decodable {
        let sentences: [String]
        let max_seq_length: Int
        let dimension: Int
        let embeddings: [String: [[Float]]]
    }

    let folder = fixtureURL("sentence_encoder_tiny")

    func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: fixtureURL("sentence_encoder_tiny.json")))
    }

    func testFolderGivesSentenceTransformersEmbeddings() throws {
        let reference = try expected()
        let encoder = try SentenceEncoder.load(directory: folder)
        XCTAssertEqual(encoder.pooling, .mean)
        XCTAssertTrue(encoder.normalizes)
        XCTAssertEqual(encoder.maxSequenceLength, reference.max_seq_length)
        XCTAssertEqual(encoder.dimension, reference.dimension)
        let embeddings = encoder.encode(reference.sentences, batchSize: 3)
        XCTAssertEqual(embeddings.shape, [reference.sentences.count, reference.dimension])
        assertClose(embeddings.scalars, reference.embeddings["mean_normalized"]!.flatMap { $0 }, atol: 1e-5, rtol: 1e-4)
    }

    func testEveryPoolingMode() throws {
        let reference = try expected()
        let loaded = try SentenceEncoder.load(directory: folder)
        let modes: [(String, SentenceEncoder.Pooling)] = [("mean", .mean), ("cls", .cls), ("max", .max), ("mean_sqrt_len_tokens", .meanSquareRootLength)]
        for (name, mode) in modes {
            for normalizes in [false, true] {
                let encoder = SentenceEncoder(tokenizer: loaded.tokenizer, model: loaded.model, pooling: mode, normalizes: normalizes,
                                              maxSequenceLength: reference.max_seq_length)
                let key = name + (normalizes ? "_normalized" : "")
                // Batches of 3 and of all: padding must not change any embedding.
                for batchSize in [3, reference.sentences.count] {
                    assertClose(encoder.encode(reference.sentences, batchSize: batchSize).scalars,
                                reference.embeddings[key]!.flatMap { $0 }, atol: 1e-5, rtol: 1e-4)
                }
            }
        }
        XCTAssertEqual(loaded.encode([]).shape, [0, reference.dimension])
    }

    /// A copy of the fixture folder with `modules.json` or the pooling config replaced.
    func folderWith(_ file: String, _ contents: String) throws -> URL {
        let copy = try makeTemporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(at: folder, to: copy)
        try Data(contents.utf8).write(to: copy.appendingPathComponent(file))
        return copy
    }

    func testFolderErrorsNameTheFileAndWhatIsWrong() throws {
        func refused(_ url: URL, _ expected: String, line: UInt = #line) {
            XCTAssertThrowsError(try SentenceEncoder.load(directory: url), line: line) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)", line: line)
            }
        }
        refused(try makeTemporaryDirectory(), "modules.json: cannot be read")
        refused(try folderWith("modules.json", "{\"a\": 1}"), "modules.json: is not a list of modules")
        refused(try folderWith("modules.json", #"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Dense"}]"#),
                "module 0 of type sentence_transformers.models.Dense is not supported")
        refused(try folderWith("modules.json", #"[{"idx": 0, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#),
                "no sentence_transformers.models.Transformer module")
        refused(try folderWith("1_Pooling/config.json", #"{"pooling_mode": "weightedmean"}"#), "pooling_mode \"weightedmean\" is not supported")
        refused(try folderWith("1_Pooling/config.json", #"{"pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true}"#),
                "is not supported (one of mean, cls, max, mean_sqrt_len)")
        refused(try folderWith("sentence_bert_config.json", #"{"max_seq_length": "long"}"#), "max_seq_length is not a whole number")
    }
}
