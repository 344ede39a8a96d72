import XCTest
import DeepCore
@testable import DeepNN

final class MambaTests: XCTestCase {
    // MARK: Structure and initialisation (../shared/specs/mamba.md §1.2)

    func testParameterNamesShapesAndCounts() {
        let m = Mamba(dModel: 16)
        XCTAssertEqual(m.namedParameters().map(\.0),
                       ["A_log", "D", "in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight",
                        "dt_proj.weight", "dt_proj.bias", "out_proj.weight"])
        let shapes = Dictionary(uniqueKeysWithValues: m.namedParameters().map { ($0.0, $0.1.shape) })
        XCTAssertEqual(shapes["in_proj.weight"], [64, 16])
        XCTAssertEqual(shapes["conv1d.weight"], [32, 1, 4])
        XCTAssertEqual(shapes["x_proj.weight"], [33, 32])
        XCTAssertEqual(shapes["dt_proj.weight"], [32, 1])
        XCTAssertEqual(shapes["A_log"], [32, 16])
        XCTAssertEqual(shapes["out_proj.weight"], [16, 32])
        XCTAssertEqual(m.parameterCount, 3_360)
        XCTAssertEqual(Mamba(dModel: 64).parameterCount, 32_640)
        XCTAssertTrue(m.parameters.allSatisfy(\.requiresGrad))
        let biased = Mamba(dModel: 16, bias: true)
        XCTAssertEqual(biased.parameterCount, 3_360 + 64 + 16)
        XCTAssertNil(Mamba(dModel: 16, convBias: false).conv1d.bias)
    }

    func testParameterCountOfMamba130mLayer() {
        let block = MambaBlock(dModel: 768)
        XCTAssertEqual(block.mixer.parameterCount, 3_770_880)
        XCTAssertEqual(block.parameterCount, 3_770_880 + 768)
        XCTAssertEqual(Set(block.namedParameters().map(\.0)).isSuperset(of: ["norm.weight", "mixer.in_proj.weight", "mixer.A_log"]), true)
        // 24 such layers, a 50280×768 embedding and a final norm: mamba-130m.
        XCTAssertEqual(24 * block.parameterCount + 50_280 * 768 + 768, 129_135_360)
    }

    func testInitialisation() {
        manualSeed(0)
        let m = Mamba(dModel: 32, dState: 4, dtMin: 1e-3, dtMax: 0.1)
        XCTAssertEqual(m.dtRank, 2)
        for d in 0..<m.dInner {
            for n in 0..<4 { XCTAssertEqual(m.aLog.scalar(at: [d, n]), Float(log(Double(n + 1))), accuracy: 1e-6) }
            XCTAssertEqual(m.skip.scalar(at: [d]), 1)
        }
        let bound = 1 / Float(2).squareRoot()
        XCTAssertTrue(m.dtProj.weight.scalars.allSatisfy { abs($0) <= bound })
        // softplus(bias) is the drawn dt, within [dtMin, dtMax].
        let dts = m.dtProj.bias!.scalars.map { log1p(exp(Double($0))) }
        XCTAssertTrue(dts.allSatisfy { $0 >= 1e-3 * 0.9999 && $0 <= 0.1 * 1.0001 }, "\(dts)")
        XCTAssertEqual(inverseSoftplus(0.01), -4.600166, accuracy: 1e-6)
        XCTAssertEqual(inverseSoftplus(0.001), -6.907255, accuracy: 1e-6)
        XCTAssertEqual(inverseSoftplus(0.1), -2.252168, accuracy: 1e-6)
    }

    // MARK: Values

    /// The spec's deterministic block: dModel 2, expand 1, N 2, dConv 2, dtRank 1.
    func deterministicBlock() throws -> Mamba {
        let m = Mamba(dModel: 2, dState: 2, dConv: 2, expand: 1, dtRank: 1)
        try m.loadStateDict([
            "in_proj.weight": Tensor([1, 0, 0, 1, 0.5, 0.5, -0.5, 0.5], shape: [4, 2]),
            "conv1d.weight": Tensor([0.5, 1, -0.5, 1], shape: [2, 1, 2]),
            "conv1d.bias": Tensor([0, 0.1]),
            "x_proj.weight": Tensor([1, 1, 1, 0, 0, 1, 1, -1, 0.5, 0.5], shape: [5, 2]),
            "dt_proj.weight": Tensor([0.5, -0.5], shape: [2, 1]),
            "dt_proj.bias": Tensor([0, 0.1]),
            "A_log": Tensor([0, Float(log(2.0)), 0, Float(log(2.0))], shape: [2, 2]),
            "D": Tensor([1, 1]),
            "out_proj.weight": Tensor([1, -1, 0.5, 1], shape: [2, 2]),
        ])
        return m
    }

    func testDeterministicBlockHandValues() throws {
        let m = try deterministicBlock()
        let x = Tensor([1, 2, 0, -1, 0.5, 1], shape: [1, 3, 2])
        let expected = Tensor([2.281685, 2.382036, -0.144165, -0.023061, 0.000130, 0.370250], shape: [1, 3, 2])
        assertClose(m(x), expected, atol: 2e-6, rtol: 1e-5)
        var cache = m.makeCache(batchSize: 1)
        let out = m(x, cache: &cache)
        assertClose(out, expected, atol: 2e-6, rtol: 1e-5)
        assertClose(cache.ssmState, Tensor([0.259702, 0.533845, 0.243410, 0.819514], shape: [1, 2, 2]), atol: 2e-6, rtol: 1e-5)
        // Token by token from an empty cache: the same outputs and final state.
        var stepCache = m.makeCache(batchSize: 1)
        let steps = (0..<3).map { t in m.step(x[0..<1].narrowed(axis: 1, start: t, length: 1).squeezed(axis: 1), cache: &stepCache) }
        assertClose(Tensor.stack(steps, axis: 1), expected, atol: 2e-6, rtol: 1e-5)
        assertClose(stepCache.ssmState, cache.ssmState, atol: 2e-6, rtol: 1e-5)
    }

    func testBlockMatchesPyTorchReferenceWithGradients() throws {
        let f = loadFixtures("mamba_block")
        let m = Mamba(dModel: 8)
        var weights: [String: Tensor] = [:]
        for (name, _) in m.namedParameters() { weights[name] = f["block.\(name)"]! }
        try m.loadStateDict(weights)
        let x = f["block.x"]!.copied().detached()
        x.requiresGrad = true
        var cache = m.makeCache(batchSize: 2)
        let y = m(x, cache: &cache)
        assertClose(y, f["block.y"]!, atol: 1e-5, rtol: 1e-4, "output")
        assertClose(cache.ssmState, f["block.last_state"]!, atol: 1e-5, rtol: 1e-4, "last state")
        (y * f["block.w"]!).sum().backward()
        assertClose(x.grad!, f["block.grad_x"]!, atol: 1e-5, rtol: 1e-4, "input gradient")
        for (name, p) in m.namedParameters() {
            // The absolute tolerance scaled to the gradient's size, never above 1e-5: most of
            // A_log's gradients are below 1e-5 (max 2e-3), where a fixed 1e-5 accepts any value.
            let expected = f["block.grad.\(name)"]!
            let atol = min(1e-5, 1e-4 * expected.abs().max().item())
            assertClose(p.grad!, expected, atol: atol, rtol: 1e-4, "gradient of \(name)")
        }
    }

    func testCausalConvolutionMatchesPyTorch() {
        let saved = DeepCore.Parallel.minimumWork
        DeepCore.Parallel.minimumWork = 1   // split the rows among threads
        defer { DeepCore.Parallel.minimumWork = saved }
        let f = loadFixtures("mamba_block")
        let (x, w, b) = (f["conv.x"]!.copied(), f["conv.weight"]!.copied(), f["conv.bias"]!.copied())
        for t in [x, w, b] { t.requiresGrad = true }
        let y = causalConv1d(x, weight: w, bias: b, activation: .silu)
        assertClose(y, f["conv.y"]!, atol: 1e-5, rtol: 1e-4)
        (y * f["conv.w"]!).sum().backward()
        assertClose(x.grad!, f["conv.grad_x"]!, atol: 1e-5, rtol: 1e-4, "dx")
        assertClose(w.grad!, f["conv.grad_weight"]!, atol: 1e-5, rtol: 1e-4, "dweight")
        assertClose(b.grad!, f["conv.grad_bias"]!, atol: 1e-5, rtol: 1e-4, "dbias")
    }

    // MARK: Properties

    func testCausalConvolutionEqualsPaddedConv1dAndIgnoresTheFuture() {
        var rng = RandomGenerator(seed: 2)
        let x = Tensor.randn([2, 3, 11], generator: &rng), w = Tensor.randn([3, 1, 4], generator: &rng)
        let b = Tensor.randn([3], generator: &rng)
        let reference = conv1d(x, w, bias: b, padding: 3, groups: 3).narrowed(axis: 2, start: 0, length: 11)
        assertClose(causalConv1d(x, weight: w, bias: b), reference, atol: 1e-5, rtol: 1e-5)
        // Changing the last step changes no earlier output.
        let changed = x.copied()
        changed.narrowed(axis: 2, start: 10, length: 1).assign(Tensor(repeating: 9, shape: [2, 3, 1]))
        assertClose(causalConv1d(changed, weight: w, bias: b, activation: .silu).narrowed(axis: 2, start: 0, length: 10),
                    causalConv1d(x, weight: w, bias: b, activation: .silu).narrowed(axis: 2, start: 0, length: 10), atol: 0, rtol: 0)
    }

    func testCausalConvolutionFiniteDifferences() {
        var rng = RandomGenerator(seed: 3)
        let inputs = [Tensor.randn([2, 3, 13], generator: &rng), Tensor.randn([3, 1, 3], generator: &rng), Tensor.randn([3], generator: &rng)]
        assertGradientsMatchFiniteDifferences(inputs) { causalConv1d($0[0], weight: $0[1], bias: $0[2], activation: .silu) }
        assertGradientsMatchFiniteDifferences(Array(inputs[0..<2])) { causalConv1d($0[0].mT.mT, weight: $0[1]) }
    }

    func testStepModeEqualsFullForward() {
        manualSeed(5)
        let m = Mamba(dModel: 8, dState: 4, dConv: 4)
        var rng = RandomGenerator(seed: 6)
        let x = Tensor.randn([2, 9, 8], generator: &rng)
        let full = m(x)
        var cache = m.makeCache(batchSize: 2)
        let steps = (0..<9).map { t in m.step(x.narrowed(axis: 1, start: t, length: 1).squeezed(axis: 1), cache: &cache) }
        assertClose(Tensor.stack(steps, axis: 1), full, atol: 1e-5, rtol: 1e-4)
        // A prefilled cache continues the sequence: forward on 5 tokens, then 4 steps.
        var prefilled = m.makeCache(batchSize: 2)
        let head = m(x.narrowed(axis: 1, start: 0, length: 5), cache: &prefilled)
        let tail = (5..<9).map { t in m.step(x.narrowed(axis: 1, start: t, length: 1).squeezed(axis: 1), cache: &prefilled) }
        assertClose(Tensor.concatenate([head, Tensor.stack(tail, axis: 1)], axis: 1), full, atol: 1e-5, rtol: 1e-4)
        assertClose(prefilled.ssmState, cache.ssmState, atol: 1e-5, rtol: 1e-4)
        assertClose(prefilled.convState, cache.convState, atol: 0, rtol: 0)
    }

    func testBlockFiniteDifferences() {
        manualSeed(7)
        let m = Mamba(dModel: 4, dState: 3, dConv: 3, expand: 1)
        var rng = RandomGenerator(seed: 8)
        let params = m.parameters
        assertGradientsMatchFiniteDifferences([Tensor.randn([1, 6, 4], generator: &rng)] + params, eps: 5e-3, atol: 3e-3, rtol: 3e-2) { xs in
            m(xs[0])
        }
    }

    func testResidualBlockAndSummary() throws {
        manualSeed(9)
        let block = MambaBlock(dModel: 8, norm: .layerNorm, dState: 4)
        var rng = RandomGenerator(seed: 10)
        let x = Tensor.randn([2, 5, 8], generator: &rng)
        assertClose(block(x), x + block.mixer(layerNorm(x, normalizedShape: [8], weight: (block.norm as! LayerNorm).weight,
                                                         bias: (block.norm as! LayerNorm).bias, eps: 1e-5)))
        XCTAssertTrue(block.namedParameters().map(\.0).contains("norm.bias"))
        var cache = block.mixer.makeCache(batchSize: 2)
        let steps = (0..<5).map { t in block.step(x.narrowed(axis: 1, start: t, length: 1).squeezed(axis: 1), cache: &cache) }
        assertClose(Tensor.stack(steps, axis: 1), block(x), atol: 1e-5, rtol: 1e-4)
        let summary = try MambaBlock(dModel: 16).summary(input: [1, 10, 16])
        XCTAssertEqual(summary.outputShape, [1, 10, 16])
        XCTAssertEqual(summary.totalParameters, 3_360 + 16)
    }

    func testClassifierOverImageRowsFitsABatch() {
        manualSeed(12)
        let model = MambaClassifier(rowSize: 8, numClasses: 3, dModel: 16, numLayers: 1, dState: 4)
        XCTAssertTrue(model.namedParameters().map(\.0).contains("layers.0.mixer.A_log"))
        XCTAssertTrue(model.namedParameters().map(\.0).contains("norm_f.weight"))
        var rng = RandomGenerator(seed: 13)
        let x = Tensor.randn([6, 1, 8, 8], generator: &rng)
        let labels = [0, 1, 2, 0, 1, 2]
        XCTAssertEqual(model(x).shape, [6, 3])
        let opt = Adam(model.parameters, learningRate: 1e-2)
        var losses: [Float] = []
        for _ in 0..<30 {
            opt.zeroGrad()
            let loss = crossEntropy(model(x), labels)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        }
        XCTAssertLessThan(losses.last!, 0.2 * losses.first!, "losses \(losses)")
    }
}
