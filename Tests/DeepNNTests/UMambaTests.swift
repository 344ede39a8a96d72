import XCTest
import DeepCore
@testable import DeepNN

final class UMambaTests: XCTestCase {
    // MARK: The Mamba layer (../shared/specs/mamba.md §2)

    func testMambaLayerOverPixelTokens() {
        manualSeed(0)
        let layer = MambaLayer(dim: 32)
        let x = Tensor.randn([2, 32, 8, 8])
        let y = layer(x)
        XCTAssertEqual(y.shape, [2, 32, 8, 8])
        // The same as flattening by hand: (B, C, H·W) → (B, H·W, C), LayerNorm, Mamba, back.
        let sequence = x.reshaped([2, 32, 64]).transposed(1, 2)
        let expected = layer.mamba(layer.norm(sequence)).transposed(1, 2).reshaped([2, 32, 8, 8])
        assertClose(y, expected, atol: 1e-6, rtol: 1e-6)
    }

    func testMambaLayerOverChannelTokens() {
        manualSeed(1)
        let layer = MambaLayer(dim: 16, channelTokens: true)
        let x = Tensor.randn([2, 320, 4, 4])
        let y = layer(x)
        XCTAssertEqual(y.shape, [2, 320, 4, 4])
        assertClose(y, layer.mamba(layer.norm(x.reshaped([2, 320, 16]))).reshaped([2, 320, 4, 4]), atol: 1e-6, rtol: 1e-6)
    }

    func testMambaLayerParameterCount() {
        XCTAssertEqual(MambaLayer(dim: 320).parameterCount, 675_840)
        XCTAssertEqual(MambaLayer(dim: 320).mamba.parameterCount, 675_200)
    }

    // MARK: Architecture rules

    func testEncoderMambaPlacementAndBlockCounts() {
        XCTAssertEqual((0..<6).filter { UMamba.hasEncoderMambaLayer(stage: $0, stages: 6) }, [1, 3, 5])
        XCTAssertEqual((0..<5).filter { UMamba.hasEncoderMambaLayer(stage: $0, stages: 5) }, [0, 2, 4])
        let six = UMamba.blockCounts(stages: 6, encoder: nil, decoder: nil)
        XCTAssertEqual(six.encoder, [2, 2, 2, 1, 1, 1])
        XCTAssertEqual(six.decoder, [2, 2, 2, 1, 1])
        let four = UMamba.blockCounts(stages: 4, encoder: [1, 3, 4, 6], decoder: [2, 2, 2])
        XCTAssertEqual(four.encoder, [1, 3, 1, 1])
        XCTAssertEqual(four.decoder, [2, 2, 1])
    }

    func testBottleneckVariantShapesNamesAndGradients() {
        manualSeed(2)
        let model = UMamba(inChannels: 1, numClasses: 3, featuresPerStage: [4, 8, 16], dState: 4)
        let names = model.namedParameters().map(\.0)
        for key in ["encoder.stem.0.conv1.weight", "encoder.stages.0.0.conv3.weight", "encoder.stages.1.1.conv1.conv.weight",
                    "mamba_layer.norm.weight", "mamba_layer.mamba.A_log", "mamba_layer.mamba.in_proj.weight",
                    "decoder.upsample_layers.0.conv.weight", "decoder.stages.1.0.norm2.weight", "decoder.seg_layers.1.weight"] {
            XCTAssertTrue(names.contains(key), "missing \(key) in \(names)")
        }
        XCTAssertFalse(names.contains { $0.hasPrefix("encoder.mamba_layers") })
        // Stage 2 of 3 (from ⌈3/2⌉ = 2 on) has one block.
        XCTAssertFalse(names.contains { $0.hasPrefix("encoder.stages.2.1.") })
        let x = Tensor.randn([2, 1, 16, 16])
        let y = model(x)
        XCTAssertEqual(y.shape, [2, 3, 16, 16])
        let outputs = model.deepSupervisionOutputs(x)
        XCTAssertEqual(outputs.map(\.shape), [[2, 3, 16, 16], [2, 3, 8, 8]])
        assertClose(outputs[0], y, atol: 0, rtol: 0)
        // Every parameter is reached through the deep-supervision heads: its gradient is not zero
        // (random output weights, so no gradient cancels by symmetry). Only a convolution's bias
        // followed by an instance norm (`…convK.bias` before `…normK`, `…conv.bias` before
        // `…norm`) gets none, as in PyTorch: the norm subtracts it again.
        var rng = RandomGenerator(seed: 4)
        let weights = outputs.map { Tensor.randn($0.shape, generator: &rng) }
        zip(outputs, weights).map { ($0 * $1).sum() }.reduce(Tensor(scalar: 0), +).backward()
        let parameters = model.namedParameters()
        let largest = parameters.map { $0.1.grad?.abs().max().item() ?? 0 }
        let scale = largest.max() ?? 0
        func normalisedAfterwards(_ name: String) -> Bool {
            guard name.hasSuffix(".bias") else { return false }
            let path = name.dropLast(".bias".count)
            guard let dot = path.lastIndex(of: "."), path[path.index(after: dot)...].hasPrefix("conv") else { return false }
            let norm = path[..<dot] + "." + path[path.index(after: dot)...].replacingOccurrences(of: "conv", with: "norm")
            return names.contains(norm + ".weight")
        }
        for ((name, _), g) in zip(parameters, largest) {
            if normalisedAfterwards(name) {
                XCTAssertLessThan(g, 1e-6 * scale, "\(name) is followed by a norm: its gradient is zero but for rounding")
            } else {
                XCTAssertGreaterThan(g, 1e-6 * scale, "no gradient reaches \(name)")
            }
        }
        XCTAssertEqual(parameters.filter { normalisedAfterwards($0.0) }.count, 22)
    }

    func testEncoderVariantChoosesTokensPerStage() throws {
        manualSeed(3)
        // Stage maps 16×16, 8×8, 4×4 at 4, 8, 16 channels: Mamba after stages 0 and 2, the last
        // with channel tokens (16 pixels ≤ 16 channels).
        let model = UMamba(inChannels: 2, numClasses: 2, variant: .encoder, featuresPerStage: [4, 8, 16], imageSize: [16, 16], dState: 4)
        let layers = model.encoder.mambaLayers!.modules
        XCTAssertTrue(layers[1] is Identity)
        let first = try XCTUnwrap(layers[0] as? MambaLayer), last = try XCTUnwrap(layers[2] as? MambaLayer)
        XCTAssertFalse(first.channelTokens)
        XCTAssertEqual(first.mamba.dModel, 4)
        XCTAssertTrue(last.channelTokens)
        XCTAssertEqual(last.mamba.dModel, 16)
        XCTAssertNil(model.mambaLayer)
        XCTAssertTrue(model.namedParameters().map(\.0).contains("encoder.mamba_layers.2.mamba.x_proj.weight"))
        let y = model(Tensor.randn([1, 2, 16, 16]))
        XCTAssertEqual(y.shape, [1, 2, 16, 16])
        let summary = try model.summary(input: [1, 2, 16, 16])
        XCTAssertEqual(summary.outputShape, [1, 2, 16, 16])
        XCTAssertEqual(summary.totalParameters, model.parameterCount)
    }

    func testConvolutionsUseHeInitialisationAndMambaKeepsItsOwn() {
        manualSeed(4)
        let model = UMamba(inChannels: 1, numClasses: 2, featuresPerStage: [8, 16], dState: 4)
        for case let conv as Conv2d in model.namedModules().map(\.1) {
            XCTAssertEqual(conv.bias?.scalars.allSatisfy { $0 == 0 }, true)
        }
        let mamba = model.mambaLayer!.mamba
        XCTAssertEqual(mamba.aLog.scalar(at: [0, 1]), Float(log(2.0)), accuracy: 1e-6)
        XCTAssertNotNil(mamba.conv1d.bias)
        XCTAssertFalse(mamba.conv1d.bias!.scalars.allSatisfy { $0 == 0 })
        // He normal with a = 0.01 on a 16·3·3 fan-in: std √(2/(1 + 1e-4)/144).
        let w = (model.encoder.stages.modules[1] as! Sequential)[0] as! BasicResBlock
        let values = (w.conv2 as! Conv2d).weight.scalars
        let std = (values.map { $0 * $0 }.reduce(0, +) / Float(values.count)).squareRoot()
        XCTAssertEqual(std, (2 / Float(1.0001) / 144).squareRoot(), accuracy: 0.02)
    }

    func testTinyModelFitsOneBatch() {
        manualSeed(5)
        let model = UMamba(inChannels: 1, numClasses: 2, featuresPerStage: [4, 8], dState: 4)
        var rng = RandomGenerator(seed: 6)
        let x = Tensor.randn([2, 1, 8, 8], generator: &rng)
        let labels = x.scalars.map { $0 > 0 ? 1 : 0 }
        let opt = Adam(model.parameters, learningRate: 1e-2)
        var losses: [Float] = []
        for _ in 0..<25 {
            opt.zeroGrad()
            let loss = crossEntropy(model(x), labels)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        }
        XCTAssertLessThan(losses.last!, 0.5 * losses.first!, "losses \(losses)")
    }
}
