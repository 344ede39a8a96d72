import XCTest
import DeepCore
import DeepNN

/// Inception and FPN against torchvision; CFPNet's EVC block and iFormer's mixer and block against
/// plain PyTorch ports (Tests/Fixtures/make_blocks.py) and the spec's parameter counts
/// (../shared/specs/blocks.md); gradient checks of the codebook encoding; summaries.
final class MultiBranchTests: XCTestCase {
    let multi = loadFixtures("blocks_multibranch")

    override func setUp() { manualSeed(11) }

    // MARK: Inception

    func testInceptionMatchesTorchvisionInTrainAndEvalMode() throws {
        let block = Inception(inChannels: 8, ch1x1: 4, ch3x3Reduce: 4, ch3x3: 6, ch5x5Reduce: 2, ch5x5: 3, poolProj: 3)
        try loadFixtureState(block, multi, prefix: "inception")
        assertMatchesFixture(block, multi, prefix: "inception", parameters: ["branch3.1.conv.weight"]) { [block($0[0])] }
        let running = block.namedBuffers().first { $0.0 == "branch2.0.bn.running_mean" }!.1
        assertClose(running, multi["inception.after.branch2.0.bn.running_mean"]!, "running mean after a training step")

        let evaluated = Inception(inChannels: 8, ch1x1: 4, ch3x3Reduce: 4, ch3x3: 6, ch5x5Reduce: 2, ch5x5: 3, poolProj: 3)
        try loadFixtureState(evaluated, multi, prefix: "inception_eval")
        evaluated.eval()
        assertMatchesFixture(evaluated, multi, prefix: "inception_eval") { [evaluated($0[0])] }
    }

    func testInception3aShapesAndTorchvisionParameterCount() throws {
        // GoogLeNet's inception3a; torchvision counts 155,872 parameters.
        let block = Inception(inChannels: 192, ch1x1: 64, ch3x3Reduce: 96, ch3x3: 128, ch5x5Reduce: 16, ch5x5: 32, poolProj: 32)
        let s = try block.summary(input: [1, 192, 28, 28])
        XCTAssertEqual(s.outputShape, [1, 256, 28, 28])
        XCTAssertEqual(s.totalParameters, 155_872)
        XCTAssertEqual(block.namedParameters().first!.0, "branch1.conv.weight")
        XCTAssertTrue(block.namedParameters().map(\.0).contains("branch4.1.bn.bias"))
        try block.replace(path: "branch3", with: BasicConv2d(192, 32, kernelSize: 1))
        XCTAssertEqual(try block.summary(input: [1, 192, 28, 28]).outputShape, [1, 256, 28, 28])
    }

    // MARK: FPN

    func testFPNMatchesTorchvision() throws {
        let fpn = FPN(inChannels: [4, 8, 16], outChannels: 6, lastLevelMaxPool: true)
        XCTAssertEqual(fpn.namedParameters().map(\.0).prefix(3), ["inner_blocks.0.0.weight", "inner_blocks.0.0.bias", "inner_blocks.1.0.weight"])
        try loadFixtureState(fpn, multi, prefix: "fpn")
        let grads = ["fpn.inner_blocks.1.0.weight"]
        assertMatchesFixture(fpn, multi, prefix: "fpn", inputs: ["x0", "x1", "x2"]) { fpn($0) }
        let weight = fpn.namedParameters().first { $0.0 == "inner_blocks.1.0.weight" }!.1
        assertClose(weight.grad!, multi["fpn.grad." + grads[0]]!, atol: 1e-4, rtol: 1e-3)
    }

    func testFPNInitialisationAndShapes() throws {
        let fpn = FPN(inChannels: [16, 32], outChannels: 8)
        let bias = fpn.namedParameters().first { $0.0 == "layer_blocks.1.0.bias" }!.1
        XCTAssertEqual(bias.scalars, [Float](repeating: 0, count: 8))
        let weight = fpn.namedParameters().first { $0.0 == "inner_blocks.0.0.weight" }!.1.scalars
        let bound = (3 / Float(16)).squareRoot()  // kaiming-uniform with a = 1: gain 1, bound √(3/fan_in)
        XCTAssertTrue(weight.allSatisfy { abs($0) <= bound } && weight.contains { abs($0) > bound * 0.8 })

        let model = TwoLevelDetector()
        let s = try model.summary(input: [2, 3, 16, 16])
        XCTAssertEqual(s.outputShape, [2, 8, 8, 8])
        XCTAssertEqual(s.totalParameters, model.parameterCount)
        XCTAssertTrue(s.rows.map(\.path).contains("fpn.layer_blocks.1.0"), "\(s.rows.map(\.path))")
    }

    // MARK: EVC (CFPNet)

    func testEVCBlockMatchesReference() throws {
        let f = loadFixtures("blocks_evc")
        let block = EVCBlock(channels: 8)
        try loadFixtureState(block, f, prefix: "evc")
        assertMatchesFixture(block, f, prefix: "evc", parameters: ["lvc.LVC.3.codewords", "lvc.LVC.3.scale",
                                                                    "l_MLP.layer_scale_1", "conv1.weight"]) { [block($0[0])] }
    }

    func testCodebookEncodingMatchesReferenceAndFiniteDifferences() throws {
        let f = loadFixtures("blocks_evc")
        let encoding = CodebookEncoding(channels: 5, codes: 7)
        try loadFixtureState(encoding, f, prefix: "encoding")
        assertMatchesFixture(encoding, f, prefix: "encoding", parameters: ["codewords", "scale"]) { [encoding($0[0])] }

        let small = CodebookEncoding(channels: 3, codes: 4)
        small.scale.assign(Tensor([-0.3, -0.7, -0.1, -0.5]))
        let x = Tensor.randn([2, 3, 2, 3])
        assertGradientsMatchFiniteDifferences([x, small.codewords, small.scale], eps: 1e-2, atol: 3e-3) { xs in small(xs[0]) }
    }

    func testEVCParameterCountsFromTheSpec() throws {
        XCTAssertEqual(EVCBlock(channels: 64, positionLinear: true).parameterCount, 272_576)
        XCTAssertEqual(EVCBlock(channels: 64).parameterCount, 268_416)
        XCTAssertEqual(EVCBlock(channels: 128, positionLinear: true).parameterCount, 1_077_952)
        XCTAssertEqual(EVCBlock(channels: 128).parameterCount, 1_061_440)
        let names = EVCBlock(channels: 8, positionLinear: true).namedParameters().map(\.0)
        for key in ["lvc.conv_1.residual_bn.weight", "lvc.LVC.3.codewords", "lvc.LVC.4.weight", "lvc.fc.0.weight",
                    "l_MLP.dw.dconv.conv.weight", "l_MLP.dw.pconv.bn.bias", "l_MLP.linear.weight", "l_MLP.layer_scale_2",
                    "l_MLP.mlp.fc1.weight", "cnv1.bias"] {
            XCTAssertTrue(names.contains(key), "missing \(key) in \(names)")
        }
    }

    func testEVCBlockSummaryAndTraining() throws {
        let block = EVCBlock(channels: 64)
        let s = try block.summary(input: [2, 64, 16, 16])
        XCTAssertEqual(s.outputShape, [2, 64, 16, 16])
        XCTAssertEqual(s.totalParameters, 268_416)
        XCTAssertTrue(s.rows.contains { $0.path == "lvc.LVC.3" && $0.outputShape == [2, 64, 64] }, "\(s.rows.map(\.path))")

        let model = Sequential(Conv2d(3, 8, kernelSize: 3, padding: 1), EVCBlock(channels: 8), AdaptiveAvgPool2d(1), Flatten(), Linear(8, 3))
        let (x, labels) = syntheticImages(count: 6, channels: 3, size: 6, classes: 3, seed: 3)
        assertLossFalls(trainOnBatch(model, inputs: x, labels: labels, steps: 15))
    }

    // MARK: iFormer

    func testInceptionMixerMatchesReference() throws {
        let f = loadFixtures("blocks_iformer")
        let mixer = InceptionMixer(dim: 16, numHeads: 2, attentionHeads: 1, poolSize: 2)
        try loadFixtureState(mixer, f, prefix: "mixer")
        assertMatchesFixture(mixer, f, prefix: "mixer") { [mixer($0[0])] }
        let unpooled = InceptionMixer(dim: 24, numHeads: 3, attentionHeads: 2, poolSize: 1)
        try loadFixtureState(unpooled, f, prefix: "mixer_pool1")
        assertMatchesFixture(unpooled, f, prefix: "mixer_pool1") { [unpooled($0[0])] }
        let block = InceptionTransformerBlock(dim: 16, numHeads: 4, attentionHeads: 2, poolSize: 2, layerScale: 1e-6)
        try loadFixtureState(block, f, prefix: "block")
        assertMatchesFixture(block, f, prefix: "block") { [block($0[0])] }
    }

    func testInceptionMixerShapesAndSpecParameterCounts() throws {
        let mixer = InceptionMixer(dim: 96, numHeads: 3, attentionHeads: 1, poolSize: 2)
        XCTAssertEqual([mixer.lowChannels, mixer.highChannels], [32, 64])
        XCTAssertEqual(mixer.parameterCount, 24_800)
        XCTAssertEqual(mixer.convFuse.weight.shape, [160, 1, 3, 3])
        XCTAssertEqual(InceptionTransformerBlock(dim: 96, numHeads: 3, attentionHeads: 1).parameterCount, 99_392)
        XCTAssertEqual(InceptionTransformerBlock(dim: 96, numHeads: 3, attentionHeads: 1, layerScale: 1e-6).parameterCount, 99_392 + 192)
        let s = try mixer.summary(input: [2, 96, 56, 56])
        XCTAssertEqual(s.outputShape, [2, 96, 56, 56])
        XCTAssertTrue(s.rows.contains { $0.path == "low_mixer.qkv" && $0.outputShape == [2, 28 * 28, 96] }, "\(s.rows.map(\.path))")
        XCTAssertThrowsError(try mixer.summary(input: [1, 96, 7, 7])) { error in
            XCTAssertTrue("\(error)".contains("LowFrequencyMixer") && "\(error)".contains("pool size 2"), "\(error)")
        }
    }

    func testInceptionTransformerBlockGradientsAndTraining() throws {
        let block = InceptionTransformerBlock(dim: 8, numHeads: 2, attentionHeads: 1, poolSize: 2, layerScale: 0.5)
        assertGradientsMatchFiniteDifferences([Tensor.distinctRandom([1, 8, 2, 2], seed: 5)], eps: 1e-2, atol: 3e-3) { block($0[0]) }

        let model = Sequential(Conv2d(3, 8, kernelSize: 3, padding: 1),
                               InceptionTransformerBlock(dim: 8, numHeads: 2, attentionHeads: 1, poolSize: 2),
                               AdaptiveAvgPool2d(1), Flatten(), Linear(8, 3))
        XCTAssertEqual(try model.summary(input: [6, 3, 4, 4]).outputShape, [6, 3])
        let (x, labels) = syntheticImages(count: 6, channels: 3, size: 4, classes: 3, seed: 4)
        assertLossFalls(trainOnBatch(model, inputs: x, labels: labels, steps: 15))
    }
}

/// A two-level backbone with an FPN neck, returning the finer pyramid level: FPN takes a list of
/// maps, so it runs inside a module like this one.
private final class TwoLevelDetector: Module {
    let stem = Sequential(Conv2d(3, 16, kernelSize: 3, stride: 2, padding: 1), ReLU())
    let down = Sequential(Conv2d(16, 32, kernelSize: 3, stride: 2, padding: 1), ReLU())
    let fpn = FPN(inChannels: [16, 32], outChannels: 8)

    override func forward(_ x: Tensor) -> Tensor {
        let c1 = stem(x)
        let c2 = down(c1)
        return fpn([c1, c2])[0]
    }
}
