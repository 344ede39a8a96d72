import DeepCore
import DeepNN
import Foundation
import TestSupport
import XCTest

/// `stitch evaluate --weights x.pth` (issue 20): a torch.save state dict of the "mlp" model
/// (Tests/Fixtures/make_torchsave.py) evaluates as the same weights in safetensors do; a legacy
/// or mismatched .pth is refused with an error naming the file.
final class StitchTorchWeightsTests: StitchTestCase {
    func testEvaluateFromPthMatchesTheSameWeightsInSafetensors() throws {
        try FileManager.default.copyItem(at: fixtureURL("torch/mlp.pth"), to: path("mlp.pth"))
        try Safetensors.write(TorchFile.readStateDict(from: path("mlp.pth")), metadata: ["stitch.model": "mlp"],
                              to: path("mlp.safetensors"))
        let fromTorch = try succeeds("evaluate", "--weights", "mlp.pth", "--model", "mlp")
        let fromSafetensors = try succeeds("evaluate", "--weights", "mlp.safetensors")
        XCTAssertEqual(line("model ", in: fromTorch.stdout), "model mlp: mlp.pth")
        for prefix in ["test loss:", "test accuracy:"] {
            XCTAssertNotNil(line(prefix, in: fromTorch.stdout), fromTorch.stdout)
            XCTAssertEqual(line(prefix, in: fromTorch.stdout), line(prefix, in: fromSafetensors.stdout), prefix)
        }
    }

    func testLegacyOrMismatchedPthIsRefusedNamingTheFile() throws {
        try FileManager.default.copyItem(at: fixtureURL("torch/legacy.pth"), to: path("legacy.pth"))
        let legacy = try stitch("evaluate", "--weights", "legacy.pth", "--model", "mlp")
        XCTAssertEqual(legacy.reason, .exit)
        XCTAssertNotEqual(legacy.status, 0)
        XCTAssertTrue(legacy.stderr.contains("legacy.pth") && legacy.stderr.contains("legacy torch.save format"), legacy.stderr)
        try FileManager.default.copyItem(at: fixtureURL("torch/checkpoint.pth"), to: path("checkpoint.pth"))
        let mismatched = try stitch("evaluate", "--weights", "checkpoint.pth", "--model", "mlp")
        XCTAssertNotEqual(mismatched.status, 0)
        XCTAssertTrue(mismatched.stderr.contains("checkpoint.pth (into model mlp)"), mismatched.stderr)
    }

    func testTrainFineTunesFromPth() throws {
        try FileManager.default.copyItem(at: fixtureURL("torch/mlp.pth"), to: path("mlp.pth"))
        let before = try succeeds("evaluate", "--weights", "mlp.pth", "--model", "mlp", "--limit", "500")
        let tuned = try succeeds("train", "--model", "mlp", "--initial-weights", "mlp.pth", "--epochs", "1", "--limit", "600",
                                 "--validation-size", "0", "--output", "tuned")
        XCTAssertTrue(tuned.stdout.contains("initial weights: mlp.pth"), tuned.stdout)
        let after = try succeeds("evaluate", "--weights", "tuned/model.safetensors", "--limit", "500")
        XCTAssertNotNil(line("test loss:", in: after.stdout))
        XCTAssertNotEqual(line("test loss:", in: after.stdout), line("test loss:", in: before.stdout))
    }

    func testWeightsOfAnotherModelAreRefusedBeforeAnyWork() throws {
        try FileManager.default.copyItem(at: fixtureURL("torch/mlp.pth"), to: path("mlp.pth"))
        try Safetensors.write(TorchFile.readStateDict(from: path("mlp.pth")), metadata: ["stitch.model": "mlp"],
                              to: path("mlp.safetensors"))
        let wrong = try stitch("evaluate", "--weights", "mlp.safetensors", "--model", "cnn")
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.contains("--model cnn does not fit --weights mlp.safetensors: it holds the weights of model mlp"), wrong.stderr)
        let train = try stitch("train", "--initial-weights", "mlp.safetensors", "--epochs", "1", "--output", "run")
        XCTAssertNotEqual(train.status, 0)
        XCTAssertTrue(train.stderr.contains("--model cnn-bn does not fit --initial-weights mlp.safetensors"), train.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("run/checkpoint.safetensors").path))
        let both = try stitch("train", "--initial-weights", "mlp.pth", "--resume", "--output", "run")
        XCTAssertEqual(both.status, 64)
        XCTAssertTrue(both.stderr.contains("--initial-weights and --resume do not go together"), both.stderr)
        let missing = try stitch("train", "--initial-weights", "nothing.pth")
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(missing.stderr.contains("--initial-weights nothing.pth does not exist"), missing.stderr)
    }
}
