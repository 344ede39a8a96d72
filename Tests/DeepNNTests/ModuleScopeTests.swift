import XCTest
import DeepCore
import DeepNN

/// Scores `x` against itself with a Bilinear that takes (4, 5) features.
private final class PairScorer: Module {
    let bilinear = Bilinear(4, 5, 2)
    override func forward(_ x: Tensor) -> Tensor { bilinear(x, x) }
}

/// Two streams fused by a gate and by cross-attention, as a multimodal model does.
private final class TwoStreams: Module {
    let fuse = GatedFusion(dModel: 8)
    let cross = CrossAttentionFusion(dModel: 8, numHeads: 2, contextDim: 6)

    /// (N, L, 8) and (N, S, 6) → (N, L, 8).
    func callAsFunction(_ a: Tensor, _ b: Tensor) -> Tensor {
        traced(inputs: [a, b]) { cross(fuse(a, a), b) }
    }
}

/// Module calls whatever their number of inputs run in the module scope: a shape error inside
/// names the module's path.
final class ModuleScopeTests: XCTestCase {
    /// The message of the first failed shape check while running `body`.
    private func failure(_ body: () -> Tensor, file: StaticString = #filePath, line: UInt = #line) -> String {
        let (_, failure) = ShapeErrors.recording { body() }
        XCTAssertNotNil(failure, "expected a shape error", file: file, line: line)
        return failure ?? ""
    }

    func testErrorInsideMultiheadAttentionNamesItsPath() {
        let layer = TransformerEncoderLayer(dModel: 8, numHeads: 2, dimFeedforward: 16, dropout: 0, batchFirst: true)
        let model = Sequential(Linear(4, 6), layer)
        let message = failure { model(Tensor.randn([2, 5, 4])) }
        XCTAssertTrue(message.hasPrefix("MultiheadAttention: query [2, 5, 6]"), message)
        XCTAssertTrue(message.hasSuffix("(in module 1.self_attn (MultiheadAttention))"), message)

        // The encoder's call with masks and the decoder's cross-attention too.
        let encoder = TransformerEncoder({ TransformerEncoderLayer(dModel: 8, numHeads: 2, dimFeedforward: 16, dropout: 0) },
                                         numLayers: 2)
        let masked = failure { encoder(Tensor.randn([5, 2, 6]), mask: nil) }
        XCTAssertTrue(masked.hasSuffix("(in module layers.0.self_attn (MultiheadAttention))"), masked)
        let decoder = TransformerDecoderLayer(dModel: 8, numHeads: 2, dimFeedforward: 16, dropout: 0)
        let cross = failure { decoder(Tensor.randn([3, 2, 8]), memory: Tensor.randn([4, 2, 6])) }
        XCTAssertTrue(cross.hasSuffix("(in module multihead_attn (MultiheadAttention))"), cross)
    }

    func testErrorInsideBilinearNamesItsPath() {
        let model = Sequential(Linear(6, 4), PairScorer())
        let message = failure { model(Tensor.randn([2, 6])) }
        XCTAssertEqual(message, "Bilinear: inputs of shapes [2, 4] and [2, 4] for weight [2, 4, 5] (in module 1.bilinear (Bilinear))")
    }

    func testErrorInsideFusionBlocksNamesTheirPaths() {
        let model = TwoStreams()
        let gate = failure { model(Tensor.randn([2, 3, 7]), Tensor.randn([2, 4, 6])) }
        XCTAssertTrue(gate.hasPrefix("GatedFusion: streams of shapes [2, 3, 7] and [2, 3, 7]"), gate)
        XCTAssertTrue(gate.hasSuffix("(in module fuse (GatedFusion))"), gate)
        let attention = failure { model(Tensor.randn([2, 3, 8]), Tensor.randn([2, 4, 5])) }
        XCTAssertTrue(attention.hasPrefix("MultiheadAttention: query [2, 3, 8], key [2, 4, 5]"), attention)
        XCTAssertTrue(attention.hasSuffix("(in module cross.attention (MultiheadAttention))"), attention)
        let concat = ConcatFusion(dimA: 4, dimB: 3, outDim: 2)
        XCTAssertTrue(failure { concat(Tensor.randn([2, 4]), Tensor.randn([2, 2])) }
            .hasSuffix("(in module <root ConcatFusion> (ConcatFusion))"))
    }

    func testCachedMambaCallIsTraced() {
        let mamba = Mamba(dModel: 8, dState: 4)
        var cache = mamba.makeCache(batchSize: 1)
        let message = failure { mamba(Tensor.randn([1, 5, 6]), cache: &cache) }
        XCTAssertTrue(message.hasPrefix("Mamba: input [1, 5, 6]"), message)
        XCTAssertTrue(message.hasSuffix("(in module <root Mamba> (Mamba))"), message)
    }

    func testUNetUpStageIsTraced() {
        let stage = UNet.Up(16, 4, bilinear: false)
        let message = failure { stage(Tensor.randn([1, 16, 2, 2]), skip: Tensor.randn([2, 8, 4, 4])) }
        XCTAssertTrue(message.hasPrefix("UNet.Up:"), message)
        XCTAssertTrue(message.hasSuffix("(in module <root Up> (Up))"), message)
    }

    func testModuleCallingItselfThroughAnotherSignatureIsEnteredOnce() throws {
        // `forward(x)` calls the three-input call; the path does not repeat the module.
        let attention = MultiheadAttention(embedDim: 8, numHeads: 2, batchFirst: true)
        let model = Sequential(attention)
        let message = failure { model(Tensor.randn([2, 3, 6])) }
        XCTAssertTrue(message.hasSuffix("(in module 0 (MultiheadAttention))"), message)
        let s = try model.summary(input: [2, 3, 8])
        XCTAssertEqual(s.rows.map(\.path), ["", "0", "0.out_proj"])
        // Unbatched input: the module re-enters its own computation, once in the summary too.
        let unbatched = try attention.summary(input: [3, 8])
        XCTAssertEqual(unbatched.rows.map(\.path), ["", "out_proj"])
        XCTAssertEqual(unbatched.outputShape, [3, 8])
    }
}
