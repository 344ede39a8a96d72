import XCTest
import DeepCore
import DeepNN

/// U-Net: layout against the reference PyTorch implementation's, numerics against a PyTorch
/// model of the same layout (Tests/Fixtures/make_unet.py), odd sizes, summaries and training.
final class UNetTests: XCTestCase {
    func testLayoutMatchesTheReferenceImplementation() throws {
        let layouts = try TorchModelFixtures.layouts("unet_layout.json")
        TorchModelFixtures.assertLayout(UNet(inChannels: 3, numClasses: 2, bilinear: false), matches: try XCTUnwrap(layouts["transposed"]), "transposed")
        TorchModelFixtures.assertLayout(UNet(inChannels: 3, numClasses: 2, bilinear: true), matches: try XCTUnwrap(layouts["bilinear"]), "bilinear")
        XCTAssertEqual(layouts["transposed"]?.parameter_count, 31_037_698)
    }

    func testTransposedUpsamplingMatchesPyTorch() throws {
        let compared = try TorchModelFixtures.assertMatchesTorch(
            UNet(inChannels: 3, numClasses: 3, depth: 3, baseChannels: 4, bilinear: false), fixture: "unet/transposed_d3_b4")
        XCTAssertEqual(compared, 12 + 28, "logits, gradients and the running statistics of 14 BatchNorms")
    }

    func testBilinearUpsamplingMatchesPyTorch() throws {
        let compared = try TorchModelFixtures.assertMatchesTorch(
            UNet(inChannels: 3, numClasses: 3, depth: 3, baseChannels: 4, bilinear: true), fixture: "unet/bilinear_d3_b4")
        XCTAssertEqual(compared, 10 + 28, "logits, gradients and the running statistics of 14 BatchNorms")
    }

    func testOddInputSizeRunsAndSummarises() throws {
        for bilinear in [true, false] {
            let model = UNet(inChannels: 3, numClasses: 2, depth: 4, baseChannels: 4, bilinear: bilinear)
            let s = try model.summary(input: [1, 3, 65, 47])
            XCTAssertEqual(s.outputShape, [1, 2, 65, 47])
            func shape(_ path: String) -> [Int]? { s.rows.first { $0.path == path }?.outputShape }
            XCTAssertEqual(shape("inc"), [1, 4, 65, 47])
            XCTAssertEqual(shape("down1"), [1, 8, 32, 23])
            XCTAssertEqual(shape("down4"), [1, bilinear ? 32 : 64, 4, 2])
            XCTAssertEqual(shape("up1.up"), [1, 32, 8, 4])
            XCTAssertEqual(shape("up1.conv"), [1, bilinear ? 16 : 32, 8, 5])
            XCTAssertEqual(shape("up4.conv"), [1, 4, 65, 47])
            XCTAssertEqual(shape("outc"), [1, 2, 65, 47])
            XCTAssertEqual(s.totalParameters, model.parameterCount)
            let y = model(Tensor.randn([1, 3, 65, 47]))
            XCTAssertEqual(y.shape, [1, 2, 65, 47])
            XCTAssertTrue(y.scalars.allSatisfy(\.isFinite))
        }
    }

    func testTooSmallInputIsAShapeError() {
        let model = UNet(inChannels: 1, numClasses: 2, depth: 3, baseChannels: 4)
        XCTAssertThrowsError(try model.summary(input: [1, 1, 4, 4])) { error in
            XCTAssertTrue("\(error)".contains("2^depth = 8"), "\(error)")
        }
        XCTAssertNoThrow(try model.summary(input: [1, 1, 8, 8]))
        XCTAssertThrowsError(try model.summary(input: [1, 2, 16, 16])) { error in
            XCTAssertTrue("\(error)".contains("inc.double_conv.0"), "\(error)")
        }
    }

    func testBottleneckIsReplaceableWithoutRenamingWeights() throws {
        let model = UNet(inChannels: 1, numClasses: 2, depth: 2, baseChannels: 4)
        let keys = Set(model.stateDict().keys)
        XCTAssertTrue(model.module(at: "bottleneck") is Identity)
        try model.replace(path: "bottleneck", with: Sequential(Conv2d(16, 16, kernelSize: 3, padding: 1), ReLU()))
        let newKeys = Set(model.stateDict().keys)
        XCTAssertEqual(newKeys.subtracting(keys), ["bottleneck.0.weight", "bottleneck.0.bias"])
        XCTAssertTrue(keys.isSubset(of: newKeys))
        try model.replace(path: "up1.conv", with: UNet.DoubleConv(16, 4))
        try model.replace(path: "up2", with: UNet.Up(8, 4, bilinear: true))
        XCTAssertThrowsError(try model.replace(path: "up2", with: Identity()))
        XCTAssertEqual(try model.summary(input: [2, 1, 12, 12]).outputShape, [2, 2, 12, 12])
    }

    /// Pixel-wise segmentation of a bright square: cross-entropy over (N, C, H, W) logits with
    /// labels in (N, H, W) order must fall.
    func testTrainsOnASyntheticSegmentationTask() throws {
        manualSeed(0)
        let model = UNet(inChannels: 1, numClasses: 2, depth: 2, baseChannels: 4, bilinear: true)
        var rng = RandomGenerator(seed: 7)
        let (n, h, w) = (4, 12, 12)
        var images = [Float](), labels = [Int]()
        for i in 0..<n {
            let top = i % 5, left = (3 * i) % 5
            for y in 0..<h { for x in 0..<w {
                let inside = (top..<top + 6).contains(y) && (left..<left + 6).contains(x)
                labels.append(inside ? 1 : 0)
                images.append((inside ? 1 : 0) + 0.3 * Float(Tensor.randn([1], generator: &rng).item()))
            } }
        }
        let x = Tensor(images, shape: [n, 1, h, w])
        let optimizer = Adam(model.parameters, learningRate: 1e-2)
        var losses: [Float] = []
        for _ in 0..<15 {
            optimizer.zeroGrad()
            let loss = crossEntropy(model(x), labels)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        }
        XCTAssertLessThan(losses.last!, 0.5 * losses.first!, "\(losses)")
    }
}
