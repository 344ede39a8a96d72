import DeepCore
import DeepNN
import Foundation
import XCTest

/// The `iformer` catalogue model (a small Inception Transformer) through the built `stitch`.
final class StitchIFormerTests: StitchTestCase {
    func testIFormerTrainsEvaluatesAndSummarizes() throws {
        let trained = try succeeds("train", "--model", "iformer", "--epochs", "1", "--output", "iformer")
        let accuracy = try XCTUnwrap(line("test accuracy:", in: trained.stdout), trained.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("iformer/model.safetensors").path))
        let evaluated = try succeeds("evaluate", "--weights", "iformer/model.safetensors")
        XCTAssertEqual(line("test accuracy:", in: evaluated.stdout), accuracy)
        let summary = try succeeds("summary", "--model", "iformer", "--input", "2,1,28,28").stdout
        XCTAssertTrue(summary.contains("InceptionTransformer") && summary.contains("blocks3") && summary.contains("[2, 10]"), summary)
    }
}
