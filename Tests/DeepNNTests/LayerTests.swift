import XCTest
import DeepCore
import DeepNN

/// Every layer against torch.nn (Tests/Fixtures/make_layers.py): weights loaded by PyTorch's
/// names, outputs and gradients in training and evaluation mode, running statistics after a
/// training step.
final class LayerTests: XCTestCase {
    let f = loadFixtures("layers")

    let cases: [(String, () -> Module)] = [
        ("linear", { Linear(5, 3) }),
        ("linear_3d", { Linear(5, 3, bias: false) }),
        ("conv2d", { Conv2d(3, 4, kernelSize: 3, stride: 2, padding: 1) }),
        ("conv2d_groups", { Conv2d(4, 6, kernelSize: [3, 2], padding: [1, 0], dilation: [2, 1], groups: 2) }),
        ("conv1d", { Conv1d(3, 4, kernelSize: 3, padding: 2, dilation: 2) }),
        ("conv_transpose2d", { ConvTranspose2d(4, 3, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1) }),
        ("batchnorm2d", { BatchNorm2d(3) }),
        ("batchnorm1d", { BatchNorm1d(5) }),
        ("layernorm", { LayerNorm(6) }),
        ("groupnorm", { GroupNorm(2, 4) }),
        ("rmsnorm", { RMSNorm(6) }),
        ("instancenorm2d", { InstanceNorm2d(3, affine: true) }),
        ("relu", { ReLU() }),
        ("leakyrelu", { LeakyReLU(negativeSlope: 0.2) }),
        ("gelu_tanh", { GELU(approximation: .tanh) }),
        ("silu", { SiLU() }),
        ("hardswish", { Hardswish() }),
        ("softmax", { Softmax(dim: 1) }),
        ("maxpool2d", { MaxPool2d(3, stride: 2, padding: 1) }),
        ("avgpool2d", { AvgPool2d(2) }),
        ("adaptiveavgpool2d", { AdaptiveAvgPool2d([3, 2]) }),
        ("upsample_bilinear", { Upsample(scale: 2, mode: .bilinear) }),
        ("flatten", { Flatten() }),
        ("unflatten", { Unflatten(dim: 1, sizes: [3, 4]) }),
        ("sequential", { Sequential(Conv2d(2, 4, kernelSize: 3, padding: 1), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                                    Flatten(), Linear(16, 3)) }),
    ]

    func state(_ name: String) -> [String: Tensor] {
        let prefix = "\(name).state."
        return Dictionary(uniqueKeysWithValues: f.filter { $0.key.hasPrefix(prefix) }
            .map { (String($0.key.dropFirst(prefix.count)), $0.value) })
    }

    func testEveryLayerMatchesPyTorchInTrainAndEvalMode() throws {
        for (name, make) in cases {
            for mode in ["train", "eval"] {
                let m = make()
                try m.loadStateDict(state(name), strict: true)
                m.train(mode == "train")
                let x = f["\(name).x"]!.copied()
                x.requiresGrad = true
                let y = m(x)
                assertClose(y, f["\(name).\(mode).y"]!, atol: 1e-5, rtol: 1e-4, "\(name) \(mode) output")
                (y * f["\(name).\(mode).w"]!).sum().backward()
                assertClose(x.grad!, f["\(name).\(mode).dx"]!, atol: 1e-4, rtol: 1e-4, "\(name) \(mode) input gradient")
                for (pname, p) in m.namedParameters() {
                    guard let expected = f["\(name).\(mode).grad.\(pname)"] else { XCTFail("\(name): no fixture gradient for \(pname)"); continue }
                    assertClose(p.grad ?? Tensor(zeros: p.shape), expected, atol: 1e-4, rtol: 1e-4, "\(name) \(mode) grad \(pname)")
                }
                if mode == "train" {
                    for (bname, b) in m.namedBuffers() {
                        assertClose(b, f["\(name).after.\(bname)"]!, atol: 1e-6, rtol: 1e-5, "\(name) buffer \(bname) after a step")
                    }
                }
            }
        }
    }

    func testStateDictNamesAndShapesMatchPyTorch() {
        for (name, make) in cases {
            let ours = Dictionary(uniqueKeysWithValues: make().stateDict().map { ($0.key, $0.value.shape) })
            let theirs = state(name).mapValues(\.shape)
            XCTAssertEqual(ours, theirs, name)
        }
    }

    func testLoadsWeightsWrittenByPyTorchSafetensors() throws {
        let model = Sequential(Linear(4, 8), LayerNorm(8), GELU(), Linear(8, 3))
        try model.load(from: fixtureURL("layers_sequential.safetensors"))
        model.eval()
        let ref = loadFixtures("layers_sequential")
        assertClose(model(ref["x"]!), ref["y"]!, atol: 1e-5, rtol: 1e-4)
    }

    func testSaveThenLoadReproducesOutputs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("deepstitch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let a = cases.last!.1(), b = cases.last!.1()
        a.train(); _ = a(Tensor.randn([4, 2, 4, 4]))   // move BatchNorm's running statistics
        try a.save(to: url)
        try b.load(from: url)
        a.eval(); b.eval()
        let x = Tensor.randn([2, 2, 4, 4])
        XCTAssertEqual(a(x).scalars, b(x).scalars)
    }

    func testBadWeightFilesThrowAndLeaveTheModelUnchanged() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("deepstitch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Sequential(Linear(4, 8), LayerNorm(8), GELU(), Linear(8, 3))
        let before = model.stateDict().mapValues(\.scalars)
        let good = try Data(contentsOf: fixtureURL("layers_sequential.safetensors"))

        func expectFailure(_ data: Data, _ what: String, contains phrase: String) throws {
            let url = dir.appendingPathComponent("\(what).safetensors")
            try data.write(to: url)
            XCTAssertThrowsError(try model.load(from: url), what) { error in
                XCTAssertTrue("\(error)".contains(phrase), "\(what): \(error)")
            }
            XCTAssertEqual(model.stateDict().mapValues(\.scalars), before, "\(what) changed the model")
        }
        try expectFailure(good.prefix(good.count - 7), "truncated", contains: "past the data section")
        var wrongDType = good
        if let range = wrongDType.range(of: Data("\"F32\"".utf8)) { wrongDType.replaceSubrange(range, with: Data("\"X32\"".utf8)) }
        try expectFailure(wrongDType, "wrong-dtype", contains: "X32")

        var tensors = try Safetensors.read(from: fixtureURL("layers_sequential.safetensors"))
        tensors.removeValue(forKey: "3.bias")
        try expectFailure(Safetensors.encode(tensors), "missing-key", contains: "missing keys: 3.bias")
        tensors["3.bias"] = Tensor(zeros: [4])
        try expectFailure(Safetensors.encode(tensors), "wrong-shape", contains: "size mismatch for 3.bias")
    }

    func testWeightsOfAnotherModelSaySoInAFewLines() {
        let unet = UNet(inChannels: 1, numClasses: 3, depth: 2, baseChannels: 4, bilinear: true)
        let other = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
        XCTAssertThrowsError(try unet.loadStateDict(other.stateDict())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("none of the weights' 4 keys is one of the module's"), text)
            XCTAssertTrue(text.contains("they are the weights of another model"), text)
            XCTAssertTrue(text.contains(", … and "), text)  // the UNet's many keys, cut short
            XCTAssertEqual((error as? StateDictError)?.missingKeys.count, unet.stateDictKeys.count)  // the list keeps them all
            XCTAssertLessThan(text.count, 2000, text)
        }
        // A partial mismatch lists keys without the other-model line.
        var partial = other.stateDict()
        partial["0.bias"] = nil
        XCTAssertThrowsError(try other.loadStateDict(partial)) { XCTAssertFalse("\($0)".contains("another model"), "\($0)") }
    }

    func testBilinearMatchesItsDefinition() {
        let layer = Bilinear(3, 2, 4)
        let x1 = Tensor.randn([5, 3]), x2 = Tensor.randn([5, 2])
        let y = layer(x1, x2)
        let w = layer.weight, b = layer.bias!
        var expected = [Float](repeating: 0, count: 20)
        for n in 0..<5 { for o in 0..<4 {
            var s = b.scalar(at: [o])
            for i in 0..<3 { for j in 0..<2 { s += x1.scalar(at: [n, i]) * w.scalar(at: [o, i, j]) * x2.scalar(at: [n, j]) } }
            expected[n * 4 + o] = s
        } }
        assertClose(y.scalars, expected, atol: 1e-5)
        assertGradientsMatchFiniteDifferences([x1.copied(), x2.copied()]) { layer($0[0], $0[1]) }
    }

    func testRearrangeLayerAndItsShapeError() throws {
        let model = Sequential(Conv2d(3, 8, kernelSize: 4, stride: 4), Rearrange("b c h w -> b (h w) c"), LayerNorm(8))
        XCTAssertEqual(try model.summary(input: [2, 3, 16, 16]).outputShape, [2, 16, 8])
        let bad = Sequential(Flatten(), Rearrange("b (h w) -> b h w", ["h": 5]))
        XCTAssertThrowsError(try bad.summary(input: [2, 3, 4, 4])) { error in
            XCTAssertTrue("\(error)".contains("Rearrange") && "\(error)".contains("1 (Rearrange)"), "\(error)")
        }
    }

    func testDropoutStatisticsAndEvalIdentity() {
        let d = Dropout(0.3, seed: 7)
        let x = Tensor(ones: [10000])
        let y = d(x).scalars
        let zeros = y.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / 10000, 0.3, accuracy: 0.02)
        XCTAssertTrue(y.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
        d.eval()
        XCTAssertEqual(d(x).scalars, x.scalars)
    }

    func testDefaultInitialisationBoundsMatchPyTorch() {
        let l = Linear(100, 50)
        let bound: Float = 1 / 10
        XCTAssertTrue(l.weight.scalars.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(l.weight.scalars.map(abs).max()!, bound * 0.95)
        let c = Conv2d(16, 8, kernelSize: 3)
        let cb: Float = 1 / (16 * 9 as Float).squareRoot()
        XCTAssertTrue(c.weight.scalars.allSatisfy { abs($0) <= cb } && c.bias!.scalars.allSatisfy { abs($0) <= cb })
    }
}
