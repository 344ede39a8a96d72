import XCTest
import DeepCore
import DeepNN

/// Residual, Parallel, Adapt, the image/sequence adapters and SequenceBlock2d: values, names,
/// shape errors found by summaries, gradients, and the stitching recipes that need none of
/// ResNet, attention or Mamba trained for a few steps.
final class CombinatorTests: XCTestCase {
    override func setUp() { manualSeed(42) }

    // MARK: Residual

    func testResidualAddsTheShortcut() {
        let linear = Linear(4, 4)
        let block = Residual(linear)
        let x = Tensor.randn([3, 4])
        assertClose(block(x), linear(x) + x)
        XCTAssertEqual(block.namedParameters().map(\.0), ["block.weight", "block.bias"])
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 4])]) { block($0[0]) }
    }

    func testResidualProjectsTheShortcutWhenChannelsChange() throws {
        let conv = Conv2d(3, 5, kernelSize: 3, padding: 1)
        let block = Residual(conv, inChannels: 3, outChannels: 5)
        XCTAssertEqual(block.namedParameters().map(\.0), ["block.weight", "block.bias", "projection.weight", "projection.bias"])
        let x = Tensor.randn([2, 3, 4, 4])
        assertClose(block(x), conv(x) + block.projection!(x))
        XCTAssertNil(Residual(conv, inChannels: 5, outChannels: 5).projection)
        let sequence = Residual(Linear(4, 6), inChannels: 4, outChannels: 6, layout: .sequence)
        XCTAssertEqual(try sequence.summary(input: [2, 7, 4]).outputShape, [2, 7, 6])
        XCTAssertTrue(sequence.projection is Linear)
    }

    func testResidualShapeMismatchIsReportedBySummary() {
        let model = Sequential(Linear(4, 4), Residual(Linear(4, 6)))
        XCTAssertThrowsError(try model.summary(input: [2, 4])) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("Residual") && message.contains("[2, 6]") && message.contains("[2, 4]"), message)
        }
    }

    // MARK: Parallel

    func testParallelMergesByConcatSumAndMean() throws {
        let a = Linear(3, 2), b = Linear(3, 2)
        let x = Tensor.randn([4, 3])
        assertClose(Parallel([a, b], axis: -1)(x), Tensor.concatenate([a(x), b(x)], axis: 1))
        assertClose(Parallel([a, b], merge: .sum)(x), a(x) + b(x))
        assertClose(Parallel(a, b, merge: .mean)(x), (a(x) + b(x)) * 0.5)
        let p = Parallel(a, b, merge: .mean)
        XCTAssertEqual(p.namedParameters().map(\.0), ["branches.0.weight", "branches.0.bias", "branches.1.weight", "branches.1.bias"])
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3])]) { p($0[0]) }
    }

    func testParallelConcatenatesImageChannelsAndReportsMismatches() throws {
        let inception = Parallel(Conv2d(4, 2, kernelSize: 1), Conv2d(4, 3, kernelSize: 3, padding: 1),
                                 Sequential(MaxPool2d(3, stride: 1, padding: 1), Conv2d(4, 1, kernelSize: 1)))
        let s = try inception.summary(input: [2, 4, 6, 6])
        XCTAssertEqual(s.outputShape, [2, 6, 6, 6])
        XCTAssertEqual(s.totalParameters, (4 * 2 + 2) + (4 * 3 * 9 + 3) + (4 + 1))
        XCTAssertTrue(s.rows.map(\.path).contains("branches.2.1"), "\(s.rows.map(\.path))")
        let bad = Parallel(Conv2d(4, 2, kernelSize: 1), Conv2d(4, 2, kernelSize: 3), merge: .sum)
        XCTAssertThrowsError(try bad.summary(input: [1, 4, 6, 6])) { error in
            XCTAssertTrue("\(error)".contains("Parallel") && "\(error)".contains("[1, 2, 4, 4]"), "\(error)")
        }
    }

    func testParallelBranchIsReplaceableByPath() throws {
        let model = Sequential(Parallel(Linear(3, 2), Linear(3, 2)), Linear(4, 1))
        let kept = model.namedParameters().first!.1
        try model.replace(path: "0.branches.1", with: Linear(3, 5))
        XCTAssertTrue(model.namedParameters().first!.1 === kept)
        XCTAssertTrue(model.namedParameters().map(\.0).contains("0.branches.1.weight"))
        XCTAssertThrowsError(try model.summary(input: [2, 3]), "7 channels no longer fit Linear(4, 1)") { error in
            XCTAssertTrue("\(error)".contains("[2, 7]"), "\(error)")
        }
        try model.replace(path: "1", with: Linear(7, 1))
        XCTAssertEqual(model(Tensor.randn([2, 3])).shape, [2, 1])
    }

    // MARK: Adapt

    func testAdaptReadsTheBlockWidthsAndProjects() throws {
        let se = SqueezeExcitation(channels: 8, reduction: 4)
        let adapted = Adapt(se, inChannels: 4, outChannels: 6)
        XCTAssertEqual(adapted.blockInChannels, 8)
        XCTAssertEqual(adapted.blockOutChannels, 8)
        XCTAssertEqual(adapted.namedParameters().map(\.0),
                       ["proj_in.weight", "proj_in.bias", "block.fc1.weight", "block.fc1.bias", "block.fc2.weight",
                        "block.fc2.bias", "proj_out.weight", "proj_out.bias"])
        let x = Tensor.randn([2, 4, 5, 5])
        let y = adapted(x)
        XCTAssertEqual(y.shape, [2, 6, 5, 5])
        assertClose(y, adapted.projOut!(se(adapted.projIn!(x))))
        XCTAssertEqual(try adapted.summary(input: [2, 4, 5, 5]).totalParameters, (4 * 8 + 8) + se.parameterCount + (8 * 6 + 6))

        let same = Adapt(SqueezeExcitation(channels: 8), inChannels: 8, outChannels: 8)
        XCTAssertNil(same.projIn)
        XCTAssertNil(same.projOut)
    }

    func testAdaptOnSequencesAndExplicitWidths() throws {
        let mlp = Sequential(Linear(8, 16), GELU(), Linear(16, 12))
        let adapted = Adapt(mlp, inChannels: 5, outChannels: 5, layout: .sequence)
        XCTAssertEqual([adapted.blockInChannels, adapted.blockOutChannels], [8, 12])
        XCTAssertTrue(adapted.projIn is Linear && adapted.projOut is Linear)
        XCTAssertEqual(try adapted.summary(input: [2, 7, 5]).outputShape, [2, 7, 5])
        assertGradientsMatchFiniteDifferences([Tensor.randn([1, 3, 5])]) { adapted($0[0]) }

        // Explicit widths override the ones read from the layers; wrong ones are reported.
        let explicit = Adapt(Sequential(Conv2d(3, 6, kernelSize: 1), ReLU()), inChannels: 2, outChannels: 2,
                             blockInChannels: 3, blockOutChannels: 6)
        XCTAssertEqual(try explicit.summary(input: [1, 2, 4, 4]).outputShape, [1, 2, 4, 4])
        let wrong = Adapt(Conv2d(3, 6, kernelSize: 1), inChannels: 3, outChannels: 3, blockInChannels: 3, blockOutChannels: 4)
        XCTAssertThrowsError(try wrong.summary(input: [1, 3, 4, 4])) { error in
            XCTAssertTrue("\(error)".contains("Adapt") && "\(error)".contains("blockOutChannels"), "\(error)")
        }
    }

    // MARK: Image ↔ sequence

    func testImageSequenceAdaptersRoundTrip() throws {
        let x = Tensor.arange(0, 2 * 3 * 4 * 5).reshaped([2, 3, 4, 5])
        let tokens = ImageToSequence()(x)
        XCTAssertEqual(tokens.shape, [2, 20, 3])
        XCTAssertEqual(tokens.scalar(at: [1, 2 * 5 + 3, 2]), x.scalar(at: [1, 2, 2, 3]))
        assertClose(SequenceToImage(height: 4, width: 5)(tokens), x)
        let square = ImageToSequence()(Tensor.randn([1, 2, 3, 3]))
        XCTAssertEqual(SequenceToImage()(square).shape, [1, 2, 3, 3])
        XCTAssertThrowsError(try Sequential(ImageToSequence(), SequenceToImage()).summary(input: [1, 2, 3, 4])) { error in
            XCTAssertTrue("\(error)".contains("SequenceToImage") && "\(error)".contains("square"), "\(error)")
        }
        let model = Sequential(ImageToSequence(), Linear(3, 7), SequenceToImage(height: 4, width: 5))
        XCTAssertEqual(try model.summary(input: [2, 3, 4, 5]).outputShape, [2, 7, 4, 5])
    }

    func testSequenceBlock2dActsPerPixel() throws {
        let linear = Linear(3, 7)
        let block = SequenceBlock2d(linear)
        let x = Tensor.randn([2, 3, 4, 5])
        let expected = linear(x.permuted([0, 2, 3, 1])).permuted([0, 3, 1, 2])
        assertClose(block(x), expected)
        XCTAssertEqual(block.namedParameters().map(\.0), ["block.weight", "block.bias"])
        assertGradientsMatchFiniteDifferences([Tensor.randn([1, 3, 2, 3])]) { block($0[0]) }
        try block.replace(path: "block", with: LayerNorm(3))
        XCTAssertEqual(block(x).shape, [2, 3, 4, 5])
        XCTAssertThrowsError(try SequenceBlock2d(Flatten()).summary(input: [1, 3, 2, 2])) { error in
            XCTAssertTrue("\(error)".contains("SequenceBlock2d"), "\(error)")
        }
    }

    // MARK: Recipes

    /// A small CNN, then squeeze-and-excitation inserted after each stage by path.
    func testRecipeCNNWithSqueezeExcitationInsertedByPath() throws {
        let model = Sequential(Conv2d(3, 16, kernelSize: 3, padding: 1), ReLU(), MaxPool2d(2),
                               Conv2d(16, 16, kernelSize: 3, padding: 1), ReLU(), AdaptiveAvgPool2d(1), Flatten(), Linear(16, 3))
        let convWeight = model.namedParameters()[0].1
        try model.replace(path: "1", with: Sequential(ReLU(), SqueezeExcitation(channels: 16, reduction: 4)))
        try model.replace(path: "4", with: Sequential(ReLU(), SqueezeExcitation(channels: 16, reduction: 4)))
        XCTAssertTrue(model.namedParameters()[0].1 === convWeight, "the rest of the weights are kept")
        XCTAssertTrue(model.namedParameters().map(\.0).contains("4.1.fc2.weight"))
        let s = try model.summary(input: [6, 3, 8, 8])
        XCTAssertEqual(s.outputShape, [6, 3])
        XCTAssertEqual(s.totalParameters, (3 * 16 * 9 + 16) + 2 * (16 * 4 + 4 + 4 * 16 + 16) + (16 * 16 * 9 + 16) + (16 * 3 + 3))
        let (x, labels) = syntheticImages(count: 6, channels: 3, size: 8, classes: 3)
        assertLossFalls(trainOnBatch(model, inputs: x, labels: labels))
    }

    /// An Inception-style `Parallel` block inside a Sequential.
    func testRecipeParallelInceptionBlockInSequential() throws {
        let model = Sequential(Conv2d(3, 8, kernelSize: 3, padding: 1), ReLU(),
                               Parallel(Conv2d(8, 4, kernelSize: 1),
                                        Sequential(Conv2d(8, 4, kernelSize: 1), ReLU(), Conv2d(4, 6, kernelSize: 3, padding: 1)),
                                        Sequential(MaxPool2d(3, stride: 1, padding: 1), Conv2d(8, 2, kernelSize: 1))),
                               ReLU(), AdaptiveAvgPool2d(1), Flatten(), Linear(12, 3))
        XCTAssertEqual(try model.summary(input: [6, 3, 8, 8]).outputShape, [6, 3])
        let (x, labels) = syntheticImages(count: 6, channels: 3, size: 8, classes: 3, seed: 1)
        assertLossFalls(trainOnBatch(model, inputs: x, labels: labels))
    }

    /// A block built for other channel counts (CBAM on 8 channels, a residual MLP on 16-wide
    /// tokens) adapted into a 4-channel CNN.
    func testRecipeAdaptedBlocksWithMismatchedChannels() throws {
        let tokenMlp = Residual(Sequential(Linear(16, 32), GELU(), Linear(32, 16)))
        let model = Sequential(Conv2d(3, 4, kernelSize: 3, padding: 1), ReLU(),
                               Adapt(CBAM(channels: 8, reduction: 2, kernelSize: 3), inChannels: 4, outChannels: 4, blockChannels: 8),
                               SequenceBlock2d(Adapt(tokenMlp, inChannels: 4, outChannels: 6, blockChannels: 16, layout: .sequence)),
                               AdaptiveAvgPool2d(1), Flatten(), Linear(6, 3))
        let s = try model.summary(input: [6, 3, 8, 8])
        XCTAssertEqual(s.outputShape, [6, 3])
        XCTAssertTrue(s.rows.map(\.path).contains("3.block.proj_out"), "\(s.rows.map(\.path))")
        let (x, labels) = syntheticImages(count: 6, channels: 3, size: 8, classes: 3, seed: 2)
        assertLossFalls(trainOnBatch(model, inputs: x, labels: labels, steps: 20))
    }
}
