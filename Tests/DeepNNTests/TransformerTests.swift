import XCTest
import DeepCore
import DeepNN

/// Runs a module case written by `make_attention.py`: loads `<name>.param.*` into `module`,
/// feeds `<name>.in*`, checks the outputs `<name>.y*` and the gradients of Σ y·w of the inputs
/// and of every parameter.
func checkModuleAgainstPyTorch(_ module: Module, _ fixtures: [String: Tensor], _ name: String, inputs count: Int,
                               file: StaticString = #filePath, line: UInt = #line,
                               _ run: ([Tensor]) -> [Tensor]) throws {
    let prefix = name + ".param."
    var state: [String: Tensor] = [:]
    for (key, value) in fixtures where key.hasPrefix(prefix) { state[String(key.dropFirst(prefix.count))] = value }
    _ = try module.loadStateDict(state)
    let inputs = (0..<count).map { i -> Tensor in
        let t = fixtures["\(name).in\(i)"]!.copied()
        t.requiresGrad = true
        return t
    }
    let outputs = run(inputs)
    var loss = Tensor(scalar: 0)
    for (i, y) in outputs.enumerated() {
        assertClose(y, fixtures["\(name).y\(i)"]!, atol: 1e-5, rtol: 1e-4, "\(name) output \(i)", file: file, line: line)
        loss = loss + (y * fixtures["\(name).w\(i)"]!).sum()
    }
    loss.backward()
    for (i, x) in inputs.enumerated() {
        assertClose(x.grad ?? Tensor(zeros: x.shape), fixtures["\(name).grad\(i)"]!, atol: 1e-5, rtol: 1e-4,
                    "\(name) input gradient \(i)", file: file, line: line)
    }
    for (key, p) in module.namedParameters() {
        guard let expected = fixtures["\(name).pgrad.\(key)"] else { XCTFail("\(name): no gradient for \(key)", file: file, line: line); continue }
        assertClose(p.grad ?? Tensor(zeros: p.shape), expected, atol: 1e-5, rtol: 1e-4, "\(name) gradient of \(key)", file: file, line: line)
    }
}

final class MultiheadAttentionTests: XCTestCase {
    let fixtures = loadFixtures("attention")

    func testSelfAttentionWithAveragedWeights() throws {
        let mha = MultiheadAttention(embedDim: 8, numHeads: 2)
        try checkModuleAgainstPyTorch(mha, fixtures, "mha_self", inputs: 1) { xs in
            let (y, w) = mha(query: xs[0], key: xs[0], value: xs[0])
            return [y, w!]
        }
    }

    func testBatchFirstCrossAttentionWithKeyPadding() throws {
        let mha = MultiheadAttention(embedDim: 8, numHeads: 4, batchFirst: true)
        let pad = fixtures["mha_cross.pad"]!
        try checkModuleAgainstPyTorch(mha, fixtures, "mha_cross", inputs: 2) { xs in
            let (y, w) = mha(query: xs[0], key: xs[1], value: xs[1], keyPaddingMask: pad, needWeights: false)
            XCTAssertNil(w)
            return [y]
        }
    }

    func testSeparateKeyAndValueWidthsWithPerHeadWeights() throws {
        let mha = MultiheadAttention(embedDim: 6, numHeads: 2, kdim: 5, vdim: 7)
        XCTAssertEqual(mha.namedParameters().map(\.0),
                       ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
        let block = fixtures["mha_kvdim.attn_mask"]!
        try checkModuleAgainstPyTorch(mha, fixtures, "mha_kvdim", inputs: 3) { xs in
            let (y, w) = mha(query: xs[0], key: xs[1], value: xs[2], attnMask: block, averageAttnWeights: false)
            XCTAssertEqual(w?.shape, [2, 2, 4, 3])
            return [y, w!]
        }
    }

    func testCausalWithoutBias() throws {
        let mha = MultiheadAttention(embedDim: 8, numHeads: 2, bias: false, batchFirst: true)
        XCTAssertEqual(mha.namedParameters().map(\.0), ["in_proj_weight", "out_proj.weight"])
        try checkModuleAgainstPyTorch(mha, fixtures, "mha_causal", inputs: 1) { xs in
            [mha(query: xs[0], key: xs[0], value: xs[0], needWeights: false, isCausal: true).output]
        }
    }

    func testWeightsPathEqualsFlashPathAndUnbatchedInput() {
        let mha = MultiheadAttention(embedDim: 8, numHeads: 2)
        let x = Tensor.randn([6, 8])
        let pad = Tensor([0, 0, 1, 0, 0, 1], shape: [6])
        let (slow, w) = mha(query: x, key: x, value: x, keyPaddingMask: pad, isCausal: true)
        let (fast, _) = mha(query: x, key: x, value: x, keyPaddingMask: pad, needWeights: false, isCausal: true)
        assertClose(fast, slow)
        XCTAssertEqual(slow.shape, [6, 8])
        XCTAssertEqual(w?.shape, [6, 6])
        // Padded keys and future keys get no weight; every row sums to 1.
        let weights = w!.scalars
        for i in 0..<6 {
            for j in 0..<6 where j > i || pad.scalars[j] == 1 { XCTAssertEqual(weights[i * 6 + j], 0) }
            XCTAssertEqual(weights[(i * 6)..<(i * 6 + 6)].reduce(0, +), 1, accuracy: 1e-5)
        }
    }

    /// Longer sequences (several blocks, threads, one group shared by threads): the flash path
    /// over the packed projection equals the path that keeps whole score matrices, forward and
    /// backward.
    func testFlashPathEqualsWeightsPathOnLongSequences() {
        for (batchFirst, heads, n, l) in [(true, 1, 1, 150), (false, 4, 2, 100)] {
            let mha = MultiheadAttention(embedDim: 16, numHeads: heads, batchFirst: batchFirst)
            withoutGrad { mha.inProjBias!.assign(Tensor.randn([48])) }
            let x = Tensor.randn(batchFirst ? [n, l, 16] : [l, n, 16])
            let w = Tensor.randn(x.shape)
            func run(needWeights: Bool) -> [Tensor] {
                for p in mha.parameters { p.grad = nil }
                let input = x.copied()
                input.requiresGrad = true
                let y = mha(query: input, key: input, value: input, needWeights: needWeights, isCausal: true).output
                (y * w).sum().backward()
                return [y, input.grad!] + mha.parameters.map { $0.grad! }
            }
            for (i, (a, b)) in zip(run(needWeights: false), run(needWeights: true)).enumerated() {
                assertClose(a, b, atol: 1e-4, rtol: 1e-3, "batchFirst \(batchFirst) heads \(heads) tensor \(i)")
            }
        }
    }

    func testInitialisationFollowsPyTorch() {
        let mha = MultiheadAttention(embedDim: 16, numHeads: 4)
        XCTAssertEqual(mha.namedParameters().map(\.0), ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
        XCTAssertEqual(mha.inProjWeight?.shape, [48, 16])
        XCTAssertTrue(mha.inProjBias!.scalars.allSatisfy { $0 == 0 })
        XCTAssertTrue(mha.outProj.bias!.scalars.allSatisfy { $0 == 0 })
        // xavier_uniform over (3E, E): bound √(6 / (E + 3E)).
        let bound = (6 / Float(16 + 48)).squareRoot()
        let w = mha.inProjWeight!.scalars
        XCTAssertTrue(w.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(w.map(abs).max()!, 0.9 * bound)
    }
}

final class TransformerTests: XCTestCase {
    let fixtures = loadFixtures("attention_transformer")

    func testEncoderLayerPreAndPostNormReluAndGelu() throws {
        for normFirst in [false, true] {
            for activation in [TransformerActivation.relu, .gelu] {
                let layer = TransformerEncoderLayer(dModel: 8, numHeads: 2, dimFeedforward: 16, dropout: 0,
                                                    activation: activation, batchFirst: true, normFirst: normFirst)
                layer.eval()
                let name = "enc_\(normFirst ? "pre" : "post")_\(activation == .relu ? "relu" : "gelu")"
                try checkModuleAgainstPyTorch(layer, fixtures, name, inputs: 1) { [layer($0[0])] }
            }
        }
    }

    func testEncoderLayerNamesMatchPyTorch() {
        let layer = TransformerEncoderLayer(dModel: 8, numHeads: 2, dimFeedforward: 16)
        XCTAssertEqual(layer.namedParameters().map(\.0), [
            "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
            "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
        ])
        XCTAssertEqual(Set(layer.namedModules().map(\.0)),
                       ["", "self_attn", "self_attn.out_proj", "linear1", "dropout", "linear2", "norm1", "norm2",
                        "dropout1", "dropout2"])
    }

    func testStackedEncoderWithPaddingAndFinalNorm() throws {
        let encoder = TransformerEncoder({ TransformerEncoderLayer(dModel: 8, numHeads: 2, dimFeedforward: 12, dropout: 0) },
                                         numLayers: 2, norm: LayerNorm(8))
        encoder.eval()
        XCTAssertTrue(encoder.stateDictKeys.contains("layers.1.self_attn.in_proj_weight"))
        XCTAssertTrue(encoder.stateDictKeys.contains("norm.weight"))
        let pad = fixtures["encoder.pad"]!
        try checkModuleAgainstPyTorch(encoder, fixtures, "encoder", inputs: 1) { xs in
            [encoder(xs[0], mask: nil, srcKeyPaddingMask: pad)]
        }
    }

    func testDecoderLayerWithCausalSelfAttention() throws {
        let decoder = TransformerDecoderLayer(dModel: 8, numHeads: 2, dimFeedforward: 16, dropout: 0, batchFirst: true)
        decoder.eval()
        try checkModuleAgainstPyTorch(decoder, fixtures, "decoder", inputs: 2) { xs in
            [decoder(xs[0], memory: xs[1], tgtIsCausal: true)]
        }
    }

    func testDropoutOnlyInTraining() {
        manualSeed(3)
        let layer = TransformerEncoderLayer(dModel: 8, numHeads: 2, dimFeedforward: 16, dropout: 0.5, batchFirst: true)
        let x = Tensor.randn([2, 5, 8])
        let a = layer(x), b = layer(x)
        XCTAssertNotEqual(a.scalars, b.scalars)
        layer.eval()
        XCTAssertEqual(layer(x).scalars, layer(x).scalars)
    }
}
