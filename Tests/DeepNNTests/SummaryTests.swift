import XCTest
import DeepCore
import DeepNN

/// An image and a text feature vector encoded and fused: a model whose call takes two tensors.
private final class ImageText: Module {
    let imageEncoder = Sequential(Conv2d(3, 8, kernelSize: 3, padding: 1), ReLU(), AdaptiveAvgPool2d(1), Flatten())
    let textEncoder = Linear(16, 8)
    let fusion = ConcatFusion(dimA: 8, dimB: 8, outDim: 4)

    /// (N, 3, H, W) and (N, 16) → (N, 4).
    func callAsFunction(image: Tensor, text: Tensor) -> Tensor {
        traced(inputs: [image, text]) { fusion(imageEncoder(image), textEncoder(text)) }
    }
}

/// A forward that reads element values, which a summary (shapes only) cannot give.
private final class ReadsValues: Module {
    let fc = Linear(4, 4)
    let useScalars: Bool
    init(useScalars: Bool = false) {
        self.useScalars = useScalars
        super.init()
    }
    override func forward(_ x: Tensor) -> Tensor {
        let total = useScalars ? x.sum().scalars[0] : x.sum().item()
        return fc(x) * total
    }
}

/// A backbone's two levels through a feature pyramid (a call returning several tensors).
private final class PyramidNeck: Module {
    let fpn = FPN(inChannels: [4, 4], outChannels: 6)
    override func forward(_ x: Tensor) -> Tensor {
        let levels = fpn([x, maxPool2d(x, kernelSize: 2, stride: 2)])
        return levels[1]
    }
}

final class SummaryTests: XCTestCase {
    func testShapesParametersAndFlopsOfAnMLP() throws {
        let model = Sequential(Flatten(), Linear(784, 256), LayerNorm(256), Linear(256, 10))
        let s = try model.summary(input: [64, 1, 28, 28])
        XCTAssertEqual(s.outputShape, [64, 10])
        XCTAssertEqual(s.rows.map(\.path), ["", "0", "1", "2", "3"])
        XCTAssertEqual(s.rows.map(\.inputShapes), [[[64, 1, 28, 28]], [[64, 1, 28, 28]], [[64, 784]], [[64, 256]], [[64, 256]]])
        XCTAssertEqual(s.rows.map(\.outputShape), [[64, 10], [64, 784], [64, 256], [64, 256], [64, 10]])
        XCTAssertEqual(s.totalParameters, 784 * 256 + 256 + 2 * 256 + 256 * 10 + 10)
        XCTAssertEqual(s.rows[1 + 1].flops, 2 * 64 * 784 * 256)
        XCTAssertEqual(s.totalFlops, 2 * 64 * 784 * 256 + 2 * 64 * 256 * 10)
        XCTAssertTrue(s.description.contains("Total params: 204,042"), s.description)
    }

    func testMismatchedStitchThrowsWithModulePath() {
        let model = Sequential(Flatten(), Linear(784, 256), Sequential(Linear(128, 10)))
        XCTAssertThrowsError(try model.summary(input: [2, 1, 28, 28])) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("2.0"), message)
            XCTAssertTrue(message.contains("[2, 256]"), message)
            XCTAssertTrue(message.contains("Linear"), message)
        }
        XCTAssertTrue(model.isTraining, "summary restores the mode")
    }

    func testCNNSummaryCountsConvolutionFlopsWithoutComputing() throws {
        let model = Sequential(Conv2d(1, 32, kernelSize: 3, padding: 1), ReLU(), MaxPool2d(2),
                               Conv2d(32, 64, kernelSize: 3, padding: 1, groups: 2), ReLU(), AdaptiveAvgPool2d(1),
                               Flatten(), Linear(64, 10))
        let s = try model.summary(input: [8, 1, 28, 28])
        XCTAssertEqual(s.rows.map(\.outputShape).dropFirst().map { $0 }, [[8, 32, 28, 28], [8, 32, 28, 28], [8, 32, 14, 14],
                                                                     [8, 64, 14, 14], [8, 64, 14, 14], [8, 64, 1, 1], [8, 64], [8, 10]])
        let conv1 = 2 * 8 * 32 * 28 * 28 * 9, conv2 = 2 * 8 * 64 * 14 * 14 * 16 * 9, fc = 2 * 8 * 64 * 10
        XCTAssertEqual(s.totalFlops, conv1 + conv2 + fc)
        XCTAssertEqual(s.totalParameters, 32 * 9 + 32 + 64 * 16 * 9 + 64 + 64 * 10 + 10)
        // A stitch whose channels do not fit names the module and both shapes.
        let bad = Sequential(Conv2d(1, 8, kernelSize: 3), Sequential(Conv2d(16, 4, kernelSize: 1)))
        XCTAssertThrowsError(try bad.summary(input: [1, 1, 10, 10])) { error in
            XCTAssertTrue("\(error)".contains("1.0 (Conv2d)") && "\(error)".contains("[1, 8, 8, 8]") && "\(error)".contains("[4, 16, 1, 1]"), "\(error)")
        }
    }

    func testInputsOfTheWrongRankOrChannelsThrowRatherThanStop() {
        // Flatten's axes and a ViT's channels depend on the input: shape errors, recorded in a summary.
        let mlp = Sequential(Flatten(), Linear(784, 10))
        XCTAssertThrowsError(try mlp.summary(input: [784])) { error in
            XCTAssertEqual("\(error)", "Flatten: axes 1 through -1 of an input of shape [784] (in module 0 (Flatten))")
        }
        let vit = VisionTransformer(imageSize: 8, patchSize: 4, numLayers: 1, numHeads: 2, hiddenDim: 8, mlpDim: 8,
                                    numClasses: 3, inChannels: 1)
        XCTAssertThrowsError(try vit.summary(input: [2, 3, 8, 8])) { error in
            XCTAssertTrue("\(error)".hasPrefix("VisionTransformer: input of shape [2, 3, 8, 8], expected (N, 1, 8, 8)"), "\(error)")
        }
    }

    func testViTSummaryListsEveryAttentionAndRowsAddUpToTheTotal() throws {
        let (hidden, tokens) = (16, 17)
        let model = VisionTransformer(imageSize: 32, patchSize: 8, numLayers: 2, numHeads: 2, hiddenDim: hidden, mlpDim: 32,
                                      numClasses: 5)
        let s = try model.summary(input: [2, 3, 32, 32])
        let attention = s.rows.filter { $0.typeName == "MultiheadAttention" }
        XCTAssertEqual(attention.map(\.path), ["encoder.layers.encoder_layer_0.self_attention",
                                               "encoder.layers.encoder_layer_1.self_attention"])
        for row in attention {
            // in_proj_weight (3E, E) and in_proj_bias (3E) belong to the attention itself.
            XCTAssertEqual(row.parameterCount, 3 * hidden * hidden + 3 * hidden)
            XCTAssertEqual(row.inputShapes, Array(repeating: [2, tokens, hidden], count: 3))
            XCTAssertEqual(row.inputShape, [2, tokens, hidden])
            XCTAssertEqual(row.outputShape, [2, tokens, hidden])
            XCTAssertEqual(row.depth, 3)
            let outProj = s.rows.first { $0.path == row.path + ".out_proj" }
            XCTAssertEqual(outProj?.typeName, "Linear")
            XCTAssertEqual(outProj?.parameterCount, hidden * hidden + hidden)
            XCTAssertGreaterThan(row.flops, outProj?.flops ?? .max, "the attention's FLOPs include its projections")
        }
        XCTAssertEqual(s.rows.map(\.parameterCount).reduce(0, +), s.totalParameters, "\(s)")
        XCTAssertEqual(s.totalParameters, model.parameterCount)
        XCTAssertEqual(s.rows[0].flops, s.totalFlops)
        XCTAssertTrue(s.description.contains("encoder.layers.encoder_layer_1.self_attention (MultiheadAttention)"), "\(s)")
        XCTAssertTrue(s.description.contains(String(3 * hidden * hidden + 3 * hidden)), "\(s)")
    }

    func testTwoInputModelSummaryWithPositionalAndNamedInputs() throws {
        let model = ImageText()
        let s = try model.summary(inputs: [[2, 3, 8, 8], [2, 16]]) { x in model(image: x[0], text: x[1]) }
        XCTAssertEqual(s.outputShape, [2, 4])
        XCTAssertEqual(s.rows.map(\.path), ["", "image_encoder", "image_encoder.0", "image_encoder.1", "image_encoder.2",
                                            "image_encoder.3", "text_encoder", "fusion", "fusion.proj"])
        XCTAssertEqual(s.rows[0].typeName, "ImageText")
        XCTAssertEqual(s.rows[0].inputShapes, [[2, 3, 8, 8], [2, 16]])
        XCTAssertEqual(s.rows.first { $0.path == "fusion" }?.inputShapes, [[2, 8], [2, 8]])
        XCTAssertEqual(s.rows.map(\.parameterCount).reduce(0, +), s.totalParameters)
        XCTAssertEqual(s.totalParameters, model.parameterCount)
        XCTAssertEqual(s.rows[0].flops, s.totalFlops)
        XCTAssertEqual(s.rows.first { $0.path == "fusion.proj" }?.flops, 2 * 2 * 16 * 4)

        let named = try model.summary(inputs: ["image": [2, 3, 8, 8], "text": [2, 16]]) { x in
            model(image: x["image"]!, text: x["text"]!)
        }
        XCTAssertEqual(named.rows.map(\.path), s.rows.map(\.path))
        XCTAssertEqual(named.rows[0].inputShapes, [[2, 3, 8, 8], [2, 16]])
        XCTAssertEqual(named.totalFlops, s.totalFlops)

        // A forward that calls the parts itself: the rows are still named from the model.
        let parts = try model.summary(inputs: [[2, 3, 8, 8], [2, 16]]) { x in
            model.fusion(model.imageEncoder(x[0]), model.textEncoder(x[1]))
        }
        XCTAssertEqual(parts.rows.map(\.path), s.rows.map(\.path))

        // A mistake in one stream names its module and both shapes.
        XCTAssertThrowsError(try model.summary(inputs: [[2, 3, 8, 8], [2, 12]]) { x in model(image: x[0], text: x[1]) }) { error in
            let message = "\(error)"
            XCTAssertTrue(error is ShapeMismatchError, message)
            XCTAssertTrue(message.contains("[2, 12]") && message.hasSuffix("(in module text_encoder (Linear))"), message)
        }
    }

    func testCallReturningSeveralTensorsListsEveryOutput() throws {
        let model = PyramidNeck()
        let s = try model.summary(input: [1, 4, 8, 8])
        let fpn = try XCTUnwrap(s.rows.first { $0.path == "fpn" })
        XCTAssertEqual(fpn.inputShapes, [[1, 4, 8, 8], [1, 4, 4, 4]])
        XCTAssertEqual(fpn.outputShapes, [[1, 6, 8, 8], [1, 6, 4, 4]])
        XCTAssertTrue(s.description.contains("[1, 6, 8, 8], [1, 6, 4, 4]"), "\(s)")
        XCTAssertEqual(s.rows.map(\.parameterCount).reduce(0, +), s.totalParameters)
    }

    func testForwardReadingValuesThrowsNamingTheModule() {
        for useScalars in [false, true] {
            let model = Sequential(Linear(4, 4), ReadsValues(useScalars: useScalars))
            XCTAssertThrowsError(try model.summary(input: [2, 4])) { error in
                let message = "\(error)"
                XCTAssertTrue(error is ShapeMismatchError, message)
                XCTAssertTrue(message.contains("reads the values of a shape-only tensor made by sum (1 element)"), message)
                XCTAssertTrue(message.contains("shapes only"), message)
                XCTAssertTrue(message.hasSuffix("(in module 1 (ReadsValues))"), message)
            }
            XCTAssertTrue(model.isTraining, "summary restores the mode")
        }
    }
}
