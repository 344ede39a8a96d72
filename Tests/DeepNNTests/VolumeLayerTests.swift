import XCTest
import DeepCore
import DeepNN

/// The volume layers against torch.nn (Tests/Fixtures/make_pool3d.py, cases `layer/<name>`):
/// weights loaded by PyTorch's names, outputs and gradients in training and evaluation mode,
/// running statistics after a training step, state-dict names.
final class VolumeLayerTests: XCTestCase {
    let f = loadFixtures("pool3d")

    let layers: [(String, () -> Module)] = [
        ("batchnorm3d", { BatchNorm3d(3) }),
        ("instancenorm3d", { InstanceNorm3d(3) }),
        ("instancenorm3d_affine", { InstanceNorm3d(3, affine: true) }),
        ("maxpool3d", { MaxPool3d(3, stride: 2, padding: 1) }),
        ("avgpool3d", { AvgPool3d(2, padding: 1, countIncludePad: false, divisorOverride: 3) }),
        ("adaptiveavgpool3d", { AdaptiveAvgPool3d([2, 3, 2]) }),
        ("adaptivemaxpool3d", { AdaptiveMaxPool3d(2) }),
    ]

    /// The fixture's tensors under `layer/<name>.<part>.`, keyed by what follows.
    private func entries(_ name: String, _ part: String) -> [String: Tensor] {
        let prefix = "layer/\(name).\(part)."
        return Dictionary(uniqueKeysWithValues: f.compactMap { key, value in
            key.hasPrefix(prefix) ? (String(key.dropFirst(prefix.count)), value) : nil
        })
    }

    func testLayersMatchPyTorchInTrainAndEvalMode() throws {
        for (name, make) in layers {
            for training in [true, false] {
                let mode = training ? "train" : "eval", label = "\(name) \(mode)"
                let layer = make()
                try layer.loadStateDict(entries(name, "state"), strict: true)
                layer.train(training)
                let expected = entries(name, mode)
                let x = f["layer/\(name).x"]!.copied()
                x.requiresGrad = true
                let y = layer(x)
                assertClose(y, expected["y"]!, atol: 1e-5, rtol: 1e-4, "\(label): output")
                (y * expected["w"]!).sum().backward()
                assertClose(x.grad!, expected["dx"]!, atol: 1e-4, rtol: 1e-4, "\(label): input gradient")
                for (parameter, p) in layer.namedParameters() {
                    assertClose(p.grad ?? Tensor(zeros: p.shape), expected["grad.\(parameter)"] ?? Tensor(zeros: [0]),
                                atol: 1e-4, rtol: 1e-4, "\(label): gradient of \(parameter)")
                }
                guard training else { continue }
                let after = entries(name, "after")
                XCTAssertEqual(Set(layer.namedBuffers().map(\.0)), Set(after.keys), "\(name): buffers")
                for (buffer, b) in layer.namedBuffers() {
                    assertClose(b, after[buffer] ?? Tensor(zeros: [0]), atol: 1e-6, rtol: 1e-5, "\(name): \(buffer) after a step")
                }
            }
        }
    }

    func testStateDictNamesAndShapesMatchPyTorch() {
        for (name, make) in layers {
            XCTAssertEqual(make().stateDict().mapValues(\.shape), entries(name, "state").mapValues(\.shape), name)
        }
        XCTAssertEqual(Set(BatchNorm3d(4).stateDict().keys), ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
    }

    func testNormsRequireVolumes() {
        func assertFails(_ layer: Module, _ shape: [Int], _ message: String, line: UInt = #line) {
            let failure = ShapeErrors.recording { _ = layer(Tensor(metaShape: shape)) }.failure ?? "no failure"
            XCTAssertTrue(failure.hasPrefix(message), failure, line: line)
        }
        assertFails(BatchNorm3d(3), [2, 3, 4, 4], "BatchNorm3d: input of shape [2, 3, 4, 4], expected rank [5] with 3 channels")
        assertFails(BatchNorm3d(3), [2, 4, 2, 4, 4], "BatchNorm3d: input of shape [2, 4, 2, 4, 4], expected rank [5] with 3 channels")
        assertFails(InstanceNorm3d(3), [3, 2, 4, 4], "InstanceNorm3d: input of shape [3, 2, 4, 4], expected (N, C, D, H, W)")
        XCTAssertNil(ShapeErrors.recording { _ = MaxPool3d(2)(Tensor(metaShape: [3, 2, 4, 4])) }.failure,
                     "pooling takes (C, D, H, W) as PyTorch does")
    }

    /// `Upsample` resamples volumes through `interpolate` (as `nn.Upsample` does 5-D input).
    func testUpsampleTakesVolumes() {
        var rng = RandomGenerator(seed: 44)
        let x = Tensor.randn([1, 2, 3, 4, 4], generator: &rng)
        let y = Upsample(scale: 2, mode: .trilinear, alignCorners: true)(x)
        XCTAssertEqual(y.shape, [1, 2, 6, 8, 8])
        XCTAssertEqual(y.scalars, interpolate3d(x, scale: 2, mode: .trilinear, alignCorners: true).scalars)
    }
}
