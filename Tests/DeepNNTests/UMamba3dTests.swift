import DeepCore
@testable import DeepNN
import Foundation
import TestSupport
import XCTest

/// U-Mamba on volumes against the official UMambaBot_3d / UMambaEnc_3d (Tests/Fixtures/make_umamba3d.py
/// runs them with a pure-PyTorch Mamba): state-dict names, shapes and order (isotropic,
/// anisotropic nnU-Net-style strides and kernels, channel tokens), outputs, deep-supervision
/// outputs and gradients; and a 3-D toy segmentation (balls and cubes) that it learns.
final class UMamba3dTests: XCTestCase {
    /// The library's model for the fixture configuration `name` (bot…, enc…).
    private func model(_ name: String) throws -> UMamba {
        let configs = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL("umamba3d_keys.json"))) as! [String: [String: Any]]
        let config = try XCTUnwrap(configs[name]?["config"] as? [String: Any])
        return UMamba(inChannels: config["input_channels"] as! Int, numClasses: config["num_classes"] as! Int,
                      variant: name.hasPrefix("enc") ? .encoder : .bottleneck, featuresPerStage: config["features_per_stage"] as! [Int],
                      strides: config["strides"] as! [[Int]], kernelSizes: config["kernel_sizes"] as! [[Int]],
                      blocksPerStage: config["n_conv_per_stage"] as? [Int], decoderBlocksPerStage: config["n_conv_per_stage_decoder"] as? [Int],
                      inputSize: config["input_size"] as? [Int])
    }

    func testStateDictsMatchTheOfficialCode() throws {
        let layouts = try TorchModelFixtures.layouts("umamba3d_keys.json")
        XCTAssertEqual(layouts.count, 5)
        for (name, layout) in layouts {
            let model = try model(name)
            TorchModelFixtures.assertLayout(model, matches: layout, name)
        }
    }

    func testOutputsMatchTheOfficialCode() throws {
        for name in ["bot", "enc", "enc_ctok", "bot_aniso"] {
            let model = try model(name)
            _ = try model.loadStateDict(try Safetensors.read(from: fixtureURL("umamba3d_\(name)_tiny.safetensors")))
            model.eval()
            let io = loadFixtures("umamba3d_\(name)_tiny")
            let x = try XCTUnwrap(io["input"])
            TorchModelFixtures.assertCloseRelative(withoutGrad { model(x) }, try XCTUnwrap(io["output"]), "\(name) logits")
            let outputs = withoutGrad { model.deepSupervisionOutputs(x) }
            XCTAssertEqual(outputs.count, 2, name)
            for (i, y) in outputs.enumerated() {
                TorchModelFixtures.assertCloseRelative(y, try XCTUnwrap(io["output_ds.\(i)"]), "\(name) deep supervision \(i)")
            }
        }
    }

    /// Gradients of sum(logits · w) to the input and every parameter; a convolution's bias right
    /// before an instance norm has a zero gradient (the norm subtracts it), compared absolutely.
    func testGradientsMatchTheOfficialCode() throws {
        for name in ["bot", "enc"] {
            let model = try model(name)
            _ = try model.loadStateDict(try Safetensors.read(from: fixtureURL("umamba3d_\(name)_tiny.safetensors")))
            model.eval()
            let io = loadFixtures("umamba3d_\(name)_tiny")
            let grads = try Safetensors.read(from: fixtureURL("umamba3d_\(name)_tiny_grads.safetensors"))
            let x = try XCTUnwrap(io["input"]).copied()
            x.requiresGrad = true
            let loss = (model(x) * grads["w"]!).sum()
            TorchModelFixtures.assertCloseRelative(loss.reshaped([1]), grads["loss"]!, "\(name) loss")
            loss.backward()
            TorchModelFixtures.assertCloseRelative(x.grad!, grads["grad.input"]!, "\(name) input gradient")
            let expected = grads.filter { $0.key.hasPrefix("grad.") && $0.key != "grad.input" }
            let largest = expected.values.map { $0.abs().max().item() }.max() ?? 0
            var compared = 0
            for (parameterName, p) in model.namedParameters() {
                guard let want = expected["grad." + parameterName] else { continue }
                let got = try XCTUnwrap(p.grad, "\(name) \(parameterName) has no gradient")
                if want.abs().max().item() < 1e-6 * largest {
                    XCTAssertLessThan(got.abs().max().item(), 1e-5 * largest, "\(name) \(parameterName) should be zero but for rounding")
                } else {
                    TorchModelFixtures.assertCloseRelative(got, want, "\(name) gradient of \(parameterName)")
                }
                compared += 1
            }
            XCTAssertEqual(compared, expected.count, "\(name): every recorded gradient compared")
        }
    }

    /// Triples of strides and kernel sizes make a network of Conv3d and InstanceNorm3d.
    func testTriplesMakeAVolumeNetwork() {
        let model = UMamba(inChannels: 1, numClasses: 2, featuresPerStage: [4, 8], strides: [[1, 1, 1], [2, 2, 2]],
                           kernelSizes: [[3, 3, 3], [3, 3, 3]], dState: 4)
        XCTAssertEqual(model(Tensor.randn([1, 1, 4, 8, 8])).shape, [1, 2, 4, 8, 8])
        XCTAssertTrue(model.namedModules().contains { $0.1 is Conv3d } && !model.namedModules().contains { $0.1 is Conv2d })
        XCTAssertTrue(model.namedModules().contains { $0.1 is InstanceNorm3d })
    }

    /// The 3-D toy job: a small U-Mamba_Bot on volumes of noise holding balls (brightness 1) and
    /// cubes (0.6) under noise of 0.3 starts to segment them within 80 steps (7 s): the loss falls
    /// to a fifth, and on unseen volumes both classes reach an IoU well above the 0 of predicting
    /// background (balls 0.32 and cubes 0.43 with OpenBLAS's AVX2 kernels, 0.30 and 0.43 with its
    /// AVX-512 ones, whose rounding takes another path; it keeps rising with longer training):
    /// both above 0.2.
    func testLearnsBallsAndCubes() {
        manualSeed(11)
        let train = SyntheticShapes3D(count: 160, size: [12, 16, 16], objects: 1...2, noise: 0.3, seed: 1)
        let test = SyntheticShapes3D(count: 8, size: [12, 16, 16], objects: 1...2, noise: 0.3, seed: 2)
        let model = UMamba(inChannels: 1, numClasses: 3, featuresPerStage: [8, 16, 32], strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2]],
                           kernelSizes: Array(repeating: [3, 3, 3], count: 3), dState: 8)
        let optimizer = AdamW(model.parameters, learningRate: 5e-3, weightDecay: 1e-4)
        let loader = DataLoader(train, batchSize: 8, shuffle: true, seed: 3)
        // The objects fill a few per cent of each volume: the background counts a tenth.
        let weight = Tensor([0.1, 1, 1])
        var losses: [Float] = []
        model.train()
        for _ in 0..<4 {
            for batch in loader {
                optimizer.zeroGrad()
                let loss = crossEntropy(model(batch.inputs), batch.targets!, weight: weight)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            }
        }
        model.eval()
        let testBatch = DataLoader(test, batchSize: 8).first { _ in true }!
        let predicted = withoutGrad { model(testBatch.inputs).argmax(axis: 1) }.scalars.map { Int($0) }
        let iou = intersectionOverUnion(predictions: predicted, labels: testBatch.targets!.scalars.map { Int($0) }, classCount: 3)
        XCTAssertLessThan(losses.suffix(10).reduce(0, +) / 10, losses.prefix(3).reduce(0, +) / 3 * 0.2, "\(losses)")
        XCTAssertGreaterThan(iou[1], 0.2, "ball IoU \(iou); losses \(losses)")
        XCTAssertGreaterThan(iou[2], 0.2, "cube IoU \(iou)")
    }
}
