import XCTest
import Foundation
import DeepCore
import DeepNN
import TestSupport

/// `Module.load(from:)` of torch.save files (issue 20): torchvision's ResNet-18 state dict (every
/// tensor a strided view with overlapping strides, storage offsets and shared storages, written
/// by Tests/Fixtures/make_torchsave.py) gives torchvision's logits; files are recognised by
/// content, not by name; errors are those of safetensors loading.
final class TorchLoadTests: XCTestCase {
    private func torchFixture(_ name: String) -> URL { fixtureURL("torch/" + name) }

    func testResNet18FromTorchvisionStateDictMatchesTorchvision() throws {
        let model = ResNet.resnet18()
        try model.load(from: torchFixture("resnet18.pth"))
        model.eval()
        let io = loadFixtures("torch/resnet18_io")
        let output = withoutGrad { model(io["input"]!) }
        XCTAssertEqual(output.shape, [1, 1000])
        let difference = zip(output.scalars, io["output"]!.scalars).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(difference, 1e-4, "largest difference from torchvision's logits")
    }

    func testFormatIsRecognisedByContentNotName() throws {
        let folder = try makeTemporaryDirectory()
        // A .pth under another name, and a safetensors file named .pth.
        let renamedTorch = folder.appendingPathComponent("weights.bin")
        try FileManager.default.copyItem(at: torchFixture("checkpoint.pth"), to: renamedTorch)
        let model = Sequential(Linear(4, 8), BatchNorm1d(8), ReLU(), Linear(8, 3))
        try model.load(from: renamedTorch)
        let expected = loadFixtures("torch/checkpoint")
        for (key, tensor) in model.stateDict() {
            XCTAssertEqual(tensor.scalars, expected["model." + key]?.scalars, key)
        }
        let renamedSafetensors = folder.appendingPathComponent("weights.pth")
        try model.save(to: renamedSafetensors)
        let copy = Sequential(Linear(4, 8), BatchNorm1d(8), ReLU(), Linear(8, 3))
        try copy.load(from: renamedSafetensors)
        XCTAssertEqual(copy.stateDict()["3.weight"]?.scalars, model.stateDict()["3.weight"]?.scalars)
    }

    func testErrorsNameTheFileAndLeaveTheModelUnchanged() throws {
        let model = ResNet.resnet18(numClasses: 10)
        let before = model.stateDict()["fc.weight"]!.scalars
        let url = torchFixture("resnet18.pth")
        do {
            try model.load(from: url)
            XCTFail("a 1000-class state dict loaded into a 10-class model")
        } catch let error as StateDictError {
            XCTAssertEqual(error.source, url.path)
            XCTAssertEqual(Set(error.shapeMismatches.map(\.key)), ["fc.bias", "fc.weight"])
        }
        XCTAssertEqual(model.stateDict()["fc.weight"]!.scalars, before)
        let legacy = torchFixture("legacy.pth")
        XCTAssertThrowsError(try model.load(from: legacy)) { error in
            XCTAssertEqual((error as? TensorFileError)?.kind, .unsupportedVersion)
            XCTAssertTrue("\(error)".contains(legacy.path), "\(error)")
        }
        let malicious = fixtureURL("malformed/pth-os-system.pth")
        XCTAssertThrowsError(try model.load(from: malicious)) { error in
            XCTAssertEqual((error as? TensorFileError)?.kind, .forbiddenPickle)
            XCTAssertTrue("\(error)".contains("posix.system"), "\(error)")
        }
    }
}
