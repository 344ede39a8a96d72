import XCTest
import Foundation
import DeepCore
import DeepNN

/// The whole Inception Transformer against the official code (sail-sg/iFormer, through
/// Tests/Fixtures/make_iformer.py): parameter counts and state-dict keys of iFormer-S/B/L, the
/// paper's FLOPs from a shape-only summary, a tiny configuration's logits, training.
final class InceptionTransformerTests: XCTestCase {
    /// What the fixture script recorded of one official model.
    private struct OfficialLayout: Decodable {
        let parameter_count: Int
        /// Multiply-adds fvcore counts at 1×3×224×224: the paper's "FLOPs".
        let fvcore_macs_1x3x224x224: Int
        /// FLOPs of torch.utils.flop_counter (2 per multiply-add of products).
        let flops_1x3x224x224: Int
        /// State-dict keys in order, blocks written once per stage as `blocksI.N.…`.
        let keys: [String]?
        /// Blocks per stage, to expand `keys`.
        let blocks: [Int]?
        let key_count: Int?

        /// The full key list.
        var expandedKeys: [String] {
            var result: [String] = []
            var pending: [String] = []
            var stage = 0
            func flush() {
                guard !pending.isEmpty, let blocks else { return }
                for b in 0..<blocks[stage - 1] { result += pending.map { $0.replacingOccurrences(of: ".N.", with: ".\(b).") } }
                pending = []
            }
            for key in keys ?? [] {
                if key.hasPrefix("blocks"), let s = Int(key.dropFirst(6).prefix { $0 != "." }) {
                    if s != stage { flush(); stage = s }
                    pending.append(key)
                } else {
                    flush()
                    result.append(key)
                }
            }
            flush()
            return result
        }
    }

    private let layouts: [String: OfficialLayout] = {
        let url = fixtureURL("iformer_layout.json")
        guard let data = try? Data(contentsOf: url), let decoded = try? JSONDecoder().decode([String: OfficialLayout].self, from: data)
        else { fatalError("fixture \(url.path) is missing or malformed: run Tests/Fixtures/make_iformer.py") }
        return decoded
    }()

    /// A 4k-parameter configuration with the official structure (the fixture's `TINY`).
    private static let tiny = InceptionTransformer.Configuration(
        depths: [1, 1, 2, 1], embedDims: [4, 4, 8, 8], numHeads: [2, 2, 4, 4], attentionHeads: [1, 1, 1, 2, 2], mlpRatio: 2)

    func testStateDictKeysEqualTheOfficialSmallModel() throws {
        let official = try XCTUnwrap(layouts["iformer_small"])
        let keys = official.expandedKeys
        XCTAssertEqual(keys.count, official.key_count)
        let model = InceptionTransformer(.small)
        XCTAssertEqual(TorchModelFixtures.moduleOrderedState(model).map(\.key), keys)
        XCTAssertEqual(Set(model.stateDict().keys), Set(keys))
        // The split between attention and convolution grows with depth: 7 then 9 heads of 32 in stage 3.
        let block = try XCTUnwrap(model.blocks3[8] as? InceptionTransformerBlock)
        XCTAssertEqual((block.attn as? InceptionMixer)?.lowChannels, 9 * 32)
        XCTAssertEqual(model.posEmbed4.shape, [1, 7, 7, 384])
    }

    /// Parameter counts equal the official models'; FLOPs of the shape-only summary match the
    /// paper's. The paper's FLOPs are fvcore's multiply-adds (4.85G, 9.38G, 14.05G at 224²); the
    /// library counts 2 FLOPs per multiply-add of its products (matmul, linear, convolution), as
    /// torch.utils.flop_counter does, so half its count is compared with the paper's, within 1%
    /// of fvcore's (which also counts the norms and the up-sampling, 0.5% of the total).
    func testParameterCountsAndFlopsMatchTheOfficialModels() throws {
        let models: [(String, InceptionTransformer.Configuration, parameters: Int, paperFlops: Double)] = [
            ("iformer_small", .small, 19_866_344, 4.8e9), ("iformer_base", .base, 47_866_216, 9.4e9),
            ("iformer_large", .large, 86_637_096, 14.0e9)]
        for (name, configuration, parameters, paper) in models {
            let official = try XCTUnwrap(layouts[name])
            XCTAssertEqual(official.parameter_count, parameters, name)
            let model = InceptionTransformer(configuration, numClasses: 1000, imageSize: 224)
            XCTAssertEqual(model.parameterCount, parameters, name)
            let summary = try model.summary(input: [1, 3, 224, 224])
            XCTAssertEqual(summary.outputShape, [1, 1000])
            XCTAssertEqual(summary.totalParameters, parameters, name)
            let macs = Double(summary.totalFlops) / 2
            XCTAssertEqual(macs, Double(official.fvcore_macs_1x3x224x224), accuracy: 0.01 * Double(official.fvcore_macs_1x3x224x224), name)
            XCTAssertEqual(macs, paper, accuracy: 0.02 * paper, name)
            XCTAssertEqual(Double(summary.totalFlops), Double(official.flops_1x3x224x224), accuracy: 0.005 * Double(official.flops_1x3x224x224),
                           "\(name): \(summary.totalFlops) FLOPs")
        }
    }

    func testTinyConfigurationMatchesTheOfficialModel() throws {
        let model = InceptionTransformer(Self.tiny, inChannels: 1, numClasses: 5, imageSize: 32)
        try fillByFormula(model)
        model.eval()
        let logits = model(formulaTensor([2, 1, 32, 32], k: 1000))
        assertClose(logits, try XCTUnwrap(loadFixtures("iformer_tiny")["tiny.y0"]), atol: 1e-5, rtol: 1e-5)
    }

    func testSummaryShapesAndResizedPositions() throws {
        let model = InceptionTransformer(Self.tiny, inChannels: 1, numClasses: 5, imageSize: 32)
        let s = try model.summary(input: [2, 1, 32, 32])
        XCTAssertEqual(s.outputShape, [2, 5])
        for (path, shape) in [("patch_embed", [2, 4, 8, 8]), ("blocks2", [2, 4, 4, 4]), ("blocks3", [2, 8, 2, 2]), ("blocks4", [2, 8, 1, 1])] {
            XCTAssertEqual(s.rows.first { $0.path == path }?.outputShape, shape, path)
        }
        // A larger image: the positional tables are resized, as the official model does.
        XCTAssertEqual(try model.summary(input: [1, 1, 64, 96]).outputShape, [1, 5])
        XCTAssertEqual(model(Tensor.distinctRandom([1, 1, 64, 64], seed: 3)).shape, [1, 5])
    }

    func testTrainingReducesTheLoss() {
        manualSeed(24)
        let model = InceptionTransformer(Self.tiny, inChannels: 1, numClasses: 3, imageSize: 32)
        let inputs = Tensor.randn([6, 1, 32, 32])
        let losses = trainOnBatch(model, inputs: inputs, labels: [0, 1, 2, 0, 1, 2], steps: 15, learningRate: 1e-2)
        assertLossFalls(losses)
        XCTAssertNotNil(model.posEmbed1.grad)
        XCTAssertNotNil(model.patchEmbed.norm1.weight?.grad)
    }
}
