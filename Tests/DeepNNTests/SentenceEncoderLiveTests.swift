import DeepCore
import DeepNN
import Foundation
import XCTest

/// The pretrained all-MiniLM-L6-v2, when `DEEPSTITCH_MINILM_DIR` names its folder (as
/// `scripts/check-minilm.sh` does; skipped otherwise — the model is not committed): loads it, checks
/// what needs no reference, and writes the embeddings of `Tests/Fixtures/minilm_sentences.txt`
/// (at most 64 tokens) to `MINILM_EMBEDDINGS_OUT` for `check_minilm.py` to compare with
/// sentence-transformers'.
final class SentenceEncoderLiveTests: XCTestCase {
    func testPretrainedMiniLM() throws {
        guard let path = ProcessInfo.processInfo.environment["DEEPSTITCH_MINILM_DIR"] else {
            throw XCTSkip("DEEPSTITCH_MINILM_DIR is not set (bash scripts/check-minilm.sh sets it)")
        }
        let loaded = try SentenceEncoder.load(directory: URL(fileURLWithPath: path))
        XCTAssertEqual(loaded.dimension, 384)
        XCTAssertEqual(loaded.pooling, .mean)
        XCTAssertTrue(loaded.normalizes)
        XCTAssertEqual(loaded.maxSequenceLength, 256)
        let encoder = SentenceEncoder(tokenizer: loaded.tokenizer, model: loaded.model, pooling: loaded.pooling,
                                      normalizes: loaded.normalizes, maxSequenceLength: 64)
        let text = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/minilm_sentences.txt"), encoding: .utf8)
        let sentences = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(sentences.count, 50)
        let embeddings = encoder.encode(sentences, batchSize: 32)
        XCTAssertEqual(embeddings.shape, [50, 384])
        let similarity = matmul(embeddings, embeddings.mT).scalars
        // A sneaker is closer to shoes than to the capital of Japan.
        XCTAssertGreaterThan(similarity[7 * 50 + 9], similarity[7 * 50 + 32])
        if let out = ProcessInfo.processInfo.environment["MINILM_EMBEDDINGS_OUT"] {
            try embeddings.writeNpy(to: URL(fileURLWithPath: out))
        }
    }
}
