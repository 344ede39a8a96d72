import DeepCore
import DeepNN
import Foundation
import XCTest

/// `stitch export --format onnx`: the model named in the weights' metadata is written as an ONNX
/// file; an existing output is kept unless `--overwrite`; wrong options are refused before any work.
final class StitchExportTests: StitchTestCase {
    /// Weights of the `mlp` model as `stitch train` saves them (the model named in the metadata).
    private func writeWeights() throws -> URL {
        let url = folder.appendingPathComponent("model.safetensors")
        let model = Sequential(Flatten(), Linear(784, 256), ReLU(), Linear(256, 10))
        try model.save(to: url, metadata: ["stitch.model": "mlp"])
        return url
    }

    func testExportWritesONNXOfTheSavedModel() throws {
        let weights = try writeWeights()
        let run = try succeeds("export", "--format", "onnx", "--weights", weights.path, "--output", "mlp.onnx")
        XCTAssertTrue(run.stdout.contains("model mlp"), run.stdout)
        let data = try Data(contentsOf: folder.appendingPathComponent("mlp.onnx"))
        // A protobuf ModelProto naming the producer and the state-dict names.
        for text in ["DeepStitch", "1.weight", "3.bias", "batch"] {
            XCTAssertNotNil(data.range(of: Data(text.utf8)), "\(text) not in the ONNX file")
        }
    }

    func testExistingOutputNeedsOverwrite() throws {
        let weights = try writeWeights()
        let output = folder.appendingPathComponent("taken.onnx")
        try Data("keep".utf8).write(to: output)
        let refused = try stitch("export", "--weights", weights.path, "--output", output.path)
        XCTAssertEqual(refused.status, 64, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--overwrite"), refused.stderr)
        XCTAssertEqual(try Data(contentsOf: output), Data("keep".utf8))
        _ = try succeeds("export", "--weights", weights.path, "--output", output.path, "--overwrite")
        XCTAssertNotEqual(try Data(contentsOf: output), Data("keep".utf8))
    }

    func testWrongOptionsAreRefused() throws {
        let weights = try writeWeights()
        let format = try stitch("export", "--format", "tflite", "--weights", weights.path)
        XCTAssertEqual(format.status, 64, format.stderr)
        XCTAssertTrue(format.stderr.contains("--format"), format.stderr)
        let missing = try stitch("export", "--weights", "nothing.safetensors")
        XCTAssertEqual(missing.status, 64, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("nothing.safetensors"), missing.stderr)
    }
}
