import XCTest
import Foundation
import DeepCore
import DeepNN

/// ResNet against torchvision: layout and parameter names of resnet18/50, numerics of
/// reduced-width models built by torchvision's own classes (Tests/Fixtures/make_resnet.py).
final class ResNetTests: XCTestCase {
    func testLayoutAndParameterCountsMatchTorchvision() throws {
        let layouts = try TorchModelFixtures.layouts("resnet_layout.json")
        for (name, model) in [("resnet18", ResNet.resnet18(numClasses: 10)), ("resnet50", ResNet.resnet50(numClasses: 10))] {
            let torch = try XCTUnwrap(layouts[name])
            XCTAssertNotNil(torch.parameters)
            TorchModelFixtures.assertLayout(model, matches: torch, name)
            let summary = try model.summary(input: [1, 3, 224, 224])
            XCTAssertEqual(summary.totalFlops, try XCTUnwrap(torch.flops_1x3x224x224), "\(name) FLOPs (convolutions and fc)")
        }
        XCTAssertEqual(layouts["resnet18"]?.parameter_count, 11_181_642)
        XCTAssertEqual(layouts["resnet50"]?.parameter_count, 23_528_522)
    }

    // MARK: Numerics against torchvision's classes at reduced width

    /// Logits, gradients and running statistics in eval and train mode against the fixture.
    private func checkAgainstTorch(_ name: String, _ model: ResNet, file: StaticString = #filePath, line: UInt = #line) throws {
        let compared = try TorchModelFixtures.assertMatchesTorch(model, fixture: "resnet/" + name, file: file, line: line)
        XCTAssertGreaterThanOrEqual(compared, 10, "\(name): too few tensors in the fixture", file: file, line: line)
    }

    func testNarrowResNet18MatchesTorchvisionBasicBlocks() throws {
        try checkAgainstTorch("basic_w8", ResNet(block: BasicBlock.self, layers: [2, 2, 2, 2], numClasses: 10, baseChannels: 8))
    }

    func testNarrowBottleneckResNetMatchesTorchvision() throws {
        try checkAgainstTorch("bottleneck_w8", ResNet(block: Bottleneck.self, layers: [1, 2, 1, 1], numClasses: 10, baseChannels: 8))
    }

    func testGroupedDilatedResNetMatchesTorchvision() throws {
        let model = ResNet(block: Bottleneck.self, layers: [1, 1, 2, 1], numClasses: 10, groups: 2, widthPerGroup: 32,
                           replaceStrideWithDilation: [false, true, true], baseChannels: 8)
        try checkAgainstTorch("resnext_dilated_w8", model)
    }

    // MARK: Structure, initialisation, options

    func testInitialisationFollowsTorchvision() throws {
        manualSeed(0)
        let model = ResNet.resnet18(numClasses: 10)
        let conv = try XCTUnwrap(model.module(at: "layer2.0.conv2") as? Conv2d)
        let w = conv.weight.scalars
        let mean = w.reduce(0, +) / Float(w.count)
        let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(w.count)).squareRoot()
        let expected = (2 / Float(128 * 9)).squareRoot()   // kaiming-normal, fan-out = 128·3·3, ReLU gain
        XCTAssertEqual(std, expected, accuracy: 0.03 * expected)
        XCTAssertEqual(mean, 0, accuracy: 0.05 * expected)
        let bn = try XCTUnwrap(model.module(at: "layer2.0.bn2") as? BatchNorm2d)
        XCTAssertEqual(bn.weight?.scalars, [Float](repeating: 1, count: 128))
        XCTAssertEqual(bn.bias?.scalars, [Float](repeating: 0, count: 128))
        let fc = try XCTUnwrap(model.module(at: "fc") as? Linear)
        let bound = 1 / Float(512).squareRoot()
        XCTAssertTrue(fc.weight.scalars.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(fc.weight.scalars.map(abs).max()!, 0.9 * bound)

        let zeroed = ResNet.resnet50(numClasses: 10, zeroInitResidual: true)
        for (path, module) in zeroed.namedModules() {
            guard let norm = module as? BatchNorm2d else { continue }
            let isLast = path.hasSuffix(".bn3")
            XCTAssertEqual(norm.weight!.scalars.allSatisfy { $0 == 0 }, isLast, path)
        }
    }

    func testSmallInputStemForFashionMNIST() throws {
        let model = ResNet.resnet18(numClasses: 10, inChannels: 1, smallInputStem: true)
        XCTAssertEqual((model.module(at: "conv1") as? Conv2d)?.weight.shape, [64, 1, 3, 3])
        XCTAssertTrue(model.module(at: "maxpool") is Identity)
        let s = try model.summary(input: [2, 1, 28, 28])
        XCTAssertEqual(s.outputShape, [2, 10])
        let shapes = Dictionary(s.rows.map { ($0.path, $0.outputShape) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(shapes["layer1"], [2, 64, 28, 28])
        XCTAssertEqual(shapes["layer4"], [2, 512, 4, 4])
        XCTAssertEqual(shapes["avgpool"], [2, 512, 1, 1])
        // The standard stem on the same input: 28 → 14 → 7 → 7 → 4 → 2 → 1.
        let standard = try ResNet.resnet18(numClasses: 10, inChannels: 1).summary(input: [2, 1, 28, 28])
        XCTAssertEqual(standard.rows.first { $0.path == "layer4" }?.outputShape, [2, 512, 1, 1])
    }

    func testStageOutputsArePyramidLevels() {
        let model = ResNet(block: Bottleneck.self, layers: [1, 1, 1, 1], numClasses: 5, baseChannels: 4)
        let stages = model.stageOutputs(Tensor.randn([2, 3, 64, 64]))
        XCTAssertEqual(stages.map(\.shape), [[2, 16, 16, 16], [2, 32, 8, 8], [2, 64, 4, 4], [2, 128, 2, 2]])
        model.eval()
        let x = Tensor.randn([2, 3, 64, 64])
        assertClose(model.features(x), model.stageOutputs(x)[3].mean(axes: [2, 3]))
    }

    func testDilationKeepsResolution() throws {
        let model = ResNet(block: Bottleneck.self, layers: [1, 1, 1, 1], numClasses: 5,
                           replaceStrideWithDilation: [false, true, true], baseChannels: 8)
        let s = try model.summary(input: [1, 3, 64, 64])
        let layer4 = try XCTUnwrap(s.rows.first { $0.path == "layer4" })
        XCTAssertEqual(layer4.outputShape, [1, 256, 8, 8])
        XCTAssertEqual((model.module(at: "layer4.0.conv2") as? Conv2d)?.dilation, [2, 2])
        XCTAssertEqual((model.module(at: "layer4.0.conv2") as? Conv2d)?.padding, [2, 2])
    }

    func testReplaceBlockKeepsOtherWeights() throws {
        let model = ResNet(block: BasicBlock.self, layers: [2, 2, 2, 2], numClasses: 10, baseChannels: 8)
        let before = model.stateDict().mapValues { $0.scalars }
        let replacement = Sequential(Conv2d(32, 32, kernelSize: 1), ReLU())
        try model.replace(path: "layer3.1", with: replacement)
        XCTAssertTrue(model.module(at: "layer3.1") === replacement)
        let after = model.stateDict()
        XCTAssertNotNil(after["layer3.1.0.weight"])
        XCTAssertNil(after["layer3.1.conv1.weight"])
        for (key, values) in before where !key.hasPrefix("layer3.1.") {
            XCTAssertEqual(after[key]?.scalars, values, key)
        }
        // Whole stage, stem and head are replaceable too.
        try model.replace(path: "layer4", with: Identity())
        try model.replace(path: "fc", with: Linear(32, 3))
        try model.replace(path: "layer1.0.conv2", with: Conv2d(8, 8, kernelSize: 3, padding: 1))
        XCTAssertEqual(try model.summary(input: [2, 3, 32, 32]).outputShape, [2, 3])
        let y = model(Tensor.randn([2, 3, 32, 32]))
        XCTAssertEqual(y.shape, [2, 3])
        XCTAssertThrowsError(try model.replace(path: "layer3.5", with: Identity()))
    }

    func testNarrowResNetTrainsOnAFixedBatch() throws {
        manualSeed(0)
        let model = ResNet(block: BasicBlock.self, layers: [1, 1, 1, 1], numClasses: 4, inChannels: 1,
                           baseChannels: 8, smallInputStem: true)
        var rng = RandomGenerator(seed: 3)
        let x = Tensor.randn([8, 1, 12, 12], generator: &rng)
        let labels = [0, 1, 2, 3, 0, 1, 2, 3]
        let optimizer = SGD(model.parameters, learningRate: 0.05, momentum: 0.9)
        var losses: [Float] = []
        for _ in 0..<8 {
            optimizer.zeroGrad()
            let loss = crossEntropy(model(x), labels)
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        }
        XCTAssertLessThan(losses.last!, 0.5 * losses.first!, "\(losses)")
    }

    func testResNet50SummaryIsFast() throws {
        let model = ResNet.resnet50()
        let start = Date()
        let s = try model.summary(input: [1, 3, 224, 224])
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertEqual(s.outputShape, [1, 1000])
        XCTAssertEqual(s.totalParameters, 25_557_032)
        XCTAssertEqual(s.rows.first { $0.path == "layer4" }?.outputShape, [1, 2048, 7, 7])
        XCTAssertEqual(s.rows.first { $0.path == "maxpool" }?.outputShape, [1, 64, 56, 56])
        XCTAssertLessThan(elapsed, 5, "summary of resnet50 took \(elapsed) s")
        print("resnet50 summary(input: [1, 3, 224, 224]): \(String(format: "%.3f", elapsed)) s")
    }
}
