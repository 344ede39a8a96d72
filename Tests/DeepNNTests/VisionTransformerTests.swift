import XCTest
import DeepCore
import DeepNN

final class VisionTransformerTests: XCTestCase {
    /// The fixture's torchvision model: image 16, patch 4, 2 layers, 2 heads, hidden 16, MLP 32.
    private func smallModel() -> VisionTransformer {
        VisionTransformer(imageSize: 16, patchSize: 4, numLayers: 2, numHeads: 2, hiddenDim: 16, mlpDim: 32, numClasses: 10)
    }

    func testLoadsTorchvisionWeightsAndMatchesLogitsAndGradients() throws {
        let model = smallModel()
        let state = try Safetensors.read(from: fixtureURL("vit_state.safetensors"))
        XCTAssertEqual(Set(model.stateDictKeys), Set(state.keys))
        _ = try model.loadStateDict(state)
        model.eval()
        let io = try Safetensors.read(from: fixtureURL("vit_io.safetensors"))
        let x = io["input"]!
        x.requiresGrad = true
        let logits = model(x)
        assertClose(logits, io["logits"]!, atol: 1e-5, rtol: 1e-4, "logits")
        (logSoftmax(logits, axis: 1) * io["w"]!).sum().backward()
        assertClose(x.grad!, io["input_grad"]!, atol: 1e-5, rtol: 1e-4, "input gradient")
        for (name, p) in model.namedParameters() {
            assertClose(p.grad!, io["grad." + name]!, atol: 1e-5, rtol: 1e-4, "gradient of \(name)")
        }
    }

    func testTorchvisionNamesAndInitialisation() {
        let model = VisionTransformer(imageSize: 32, patchSize: 8, numLayers: 2, numHeads: 4, hiddenDim: 32, mlpDim: 64,
                                      numClasses: 5, representationSize: 24)
        let names = model.namedParameters().map(\.0)
        XCTAssertEqual(Array(names.prefix(6)), ["class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding",
                                                "encoder.layers.encoder_layer_0.ln_1.weight",
                                                "encoder.layers.encoder_layer_0.ln_1.bias"])
        for name in ["encoder.layers.encoder_layer_1.self_attention.in_proj_weight",
                     "encoder.layers.encoder_layer_1.self_attention.out_proj.bias",
                     "encoder.layers.encoder_layer_1.mlp.0.weight", "encoder.layers.encoder_layer_1.mlp.3.bias",
                     "encoder.ln.weight", "heads.pre_logits.weight", "heads.head.weight"] {
            XCTAssertTrue(names.contains(name), name)
        }
        XCTAssertEqual(model.encoder.posEmbedding.shape, [1, 17, 32])
        XCTAssertEqual(model.convProj.weight.shape, [32, 3, 8, 8])
        XCTAssertTrue(model.classToken.scalars.allSatisfy { $0 == 0 })
        let head = model.heads["head"] as! Linear
        XCTAssertTrue(head.weight.scalars.allSatisfy { $0 == 0 })
        let pos = model.encoder.posEmbedding.scalars
        let std = (pos.map { $0 * $0 }.reduce(0, +) / Float(pos.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.004)
        XCTAssertEqual(try model.summary(input: [2, 3, 32, 32]).rows.last?.outputShape, [2, 5])
    }

    func testSinusoidalPositionsAreFixedAndTrainingReducesLoss() {
        manualSeed(0)
        let model = VisionTransformer(imageSize: 8, patchSize: 4, numLayers: 1, numHeads: 2, hiddenDim: 8, mlpDim: 16,
                                      numClasses: 3, inChannels: 1, positionalEmbedding: .sinusoidal)
        let pos = model.encoder.posEmbedding
        XCTAssertFalse(pos.requiresGrad)
        XCTAssertEqual(pos.scalar(at: [0, 2, 0]), sin(2), accuracy: 1e-6)
        XCTAssertEqual(pos.scalar(at: [0, 2, 1]), cos(2), accuracy: 1e-6)
        let x = Tensor.randn([6, 1, 8, 8]), labels = [0, 1, 2, 0, 1, 2]
        let optimizer = AdamW(model.trainableParameters, learningRate: 1e-2)
        let before = crossEntropy(model(x), labels).item()
        for _ in 0..<30 {
            optimizer.zeroGrad()
            crossEntropy(model(x), labels).backward()
            optimizer.step()
        }
        XCTAssertLessThan(crossEntropy(model(x), labels).item(), 0.5 * before)
        XCTAssertEqual(model.encoder.posEmbedding.scalars, pos.scalars)
    }
}
