import XCTest
import DeepCore
import DeepNN

/// The stitching recipes of the README, at reduced widths (the same code paths): each passes
/// `summary` and trains a few steps with falling loss.
final class RecipeTests: XCTestCase {
    /// Trains `steps` Adam steps on one fixed batch and checks the loss fell.
    func assertTrains(_ model: Module, input: Tensor, steps: Int = 6, lr: Float = 3e-3,
                      file: StaticString = #filePath, line: UInt = #line, loss: (Tensor) -> Tensor) {
        let opt = Adam(model.parameters, learningRate: lr)
        var losses: [Float] = []
        for _ in 0..<steps {
            opt.zeroGrad()
            let l = loss(model(input))
            losses.append(l.item())
            l.backward()
            opt.step()
        }
        XCTAssertLessThan(losses.last!, losses.first!, "loss did not fall: \(losses)", file: file, line: line)
    }

    func smallResNet() -> ResNet {
        ResNet(block: BasicBlock.self, layers: [2, 2, 2, 2], numClasses: 10, inChannels: 1, baseChannels: 8, smallInputStem: true)
    }

    func testResNetWithSqueezeExcitationBlocks() throws {
        manualSeed(1)
        let model = smallResNet()
        for (stage, channels) in [(1, 8), (2, 16), (3, 32), (4, 64)] {
            for block in 0..<2 {
                let path = "layer\(stage).\(block)"
                try model.replace(path: path, with: Sequential(model.module(at: path)!, SqueezeExcitation(channels: channels, reduction: 4)))
            }
        }
        let summary = try model.summary(input: [4, 1, 16, 16])
        XCTAssertEqual(summary.outputShape, [4, 10])
        XCTAssertTrue(model.namedParameters().map(\.0).contains("layer3.1.1.fc1.weight"))
        let x = Tensor.randn([4, 1, 16, 16])
        assertTrains(model, input: x) { crossEntropy($0, [0, 3, 5, 7]) }
    }

    func testResNetWithAMambaBlockInPlaceOfAStageBlock() throws {
        manualSeed(2)
        let model = smallResNet()
        let kept = model.module(at: "layer1.0")!.namedParameters().first!.1
        try model.replace(path: "layer3.1", with: Residual(SequenceBlock2d(Mamba(dModel: 32, dState: 8))))
        XCTAssertTrue(model.module(at: "layer1.0")!.namedParameters().first!.1 === kept, "the other weights stay")
        XCTAssertEqual(try model.summary(input: [2, 1, 16, 16]).outputShape, [2, 10])
        XCTAssertTrue(model.namedParameters().map(\.0).contains("layer3.1.block.block.A_log"))
        assertTrains(model, input: Tensor.randn([2, 1, 16, 16])) { crossEntropy($0, [1, 8]) }
    }

    func testUNetWithAnAttentionBottleneck() throws {
        manualSeed(3)
        let unet = UNet(inChannels: 1, numClasses: 3, depth: 3, baseChannels: 8)
        let bottom = 8 << 3
        try unet.replace(path: "bottleneck", with: SequenceBlock2d(
            TransformerEncoderLayer(dModel: bottom, numHeads: 4, dimFeedforward: 2 * bottom, dropout: 0, batchFirst: true)))
        XCTAssertEqual(try unet.summary(input: [2, 1, 16, 16]).outputShape, [2, 3, 16, 16])
        let x = Tensor.randn([2, 1, 16, 16])
        let labels = (0..<(2 * 16 * 16)).map { ($0 / 16 + $0 % 16) % 3 }
        assertTrains(unet, input: x) { crossEntropy($0, labels) }
    }

    func testVisionTransformerWithMixtureOfExpertsFeedForwards() throws {
        manualSeed(4)
        let vit = VisionTransformer(imageSize: 16, patchSize: 4, numLayers: 2, numHeads: 2, hiddenDim: 16, mlpDim: 32,
                                    numClasses: 10, inChannels: 1)
        for i in 0..<2 {
            try vit.replace(path: "encoder.layers.encoder_layer_\(i).mlp", with: MoE(dModel: 16, numExperts: 4, hidden: 32, topK: 2))
        }
        XCTAssertEqual(try vit.summary(input: [3, 1, 16, 16]).outputShape, [3, 10])
        assertTrains(vit, input: Tensor.randn([3, 1, 16, 16])) { logits in
            crossEntropy(logits, [2, 4, 6]) + 0.01 * vit.totalAuxiliaryLoss()!
        }
    }
}
