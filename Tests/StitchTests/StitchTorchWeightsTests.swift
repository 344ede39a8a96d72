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
}
