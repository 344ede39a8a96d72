import XCTest
import DeepCore
import DeepNN

/// The mixture-of-experts layer: routing, gates, capacity and the auxiliary losses against the
/// hand-computed values of ../shared/specs/blocks.md §3.2, the whole layer against a plain
/// PyTorch implementation (Tests/Fixtures/make_blocks.py), finite-difference gradients, summary,
/// and a model with MoE feed-forwards trained with the auxiliary loss.
final class MoETests: XCTestCase {
    override func setUp() { manualSeed(3) }

    /// A router whose logits are the input itself: gate weight = identity (D = E).
    private func identityRouter(experts: [Module], topK: Int, capacityFactor: Double? = nil) -> MoE {
        let moe = MoE(dModel: experts.count, experts: experts, topK: topK, capacityFactor: capacityFactor)
        moe.gate.weight.assign(identity(experts.count))
        return moe
    }

    private func identity(_ n: Int) -> Tensor {
        Tensor.make(shape: [n, n]) { out in for i in 0..<n * n { out[i] = i % (n + 1) == 0 ? 1 : 0 } }
    }

    /// Expert e multiplies by e + 1.
    private func scalingExperts(_ count: Int) -> [Module] {
        (0..<count).map { e in
            let l = Linear(count, count, bias: false)
            l.weight.assign(identity(count) * Float(e + 1))
            return l
        }
    }

    // MARK: Spec values

    func testTopTwoGatesRenormaliseOverTheChosenExperts() {
        // Spec test 1: logits [1, 2, 3, 0], k = 2 → G = [0, 0.268941, 0.731059, 0].
        let moe = identityRouter(experts: scalingExperts(4), topK: 2)
        let x = Tensor([1, 2, 3, 0], shape: [1, 4])
        let y = moe(x)
        XCTAssertEqual(moe.routing!.experts, [[2, 1]])
        assertClose(y, x * (0.731059 * 3 + 0.268941 * 2), atol: 1e-5)
    }

    func testSwitchAuxiliaryLossAndUniformRouter() {
        // Spec test 3: p = [[.9,.1],[.8,.2],[.3,.7],[.6,.4]] → f = [.75,.25], P = [.65,.35], loss 1.15.
        let p: [Float] = [0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.6, 0.4]
        let moe = identityRouter(experts: scalingExperts(2), topK: 1)
        let y = moe(Tensor(p.map { Foundation.log($0) }, shape: [4, 2]))
        XCTAssertEqual(moe.auxiliaryLoss.item(), 1.15, accuracy: 1e-5)
        XCTAssertEqual(moe.routing!.experts, [[0], [0], [1], [0]])
        // Top-1 keeps the router probability as the gate (Switch): y = p_e · (e + 1) · x.
        let x = Tensor(p.map { Foundation.log($0) }, shape: [4, 2])
        assertClose(y, x * Tensor([0.9, 0.8, 0.7 * 2, 0.6], shape: [4, 1]), atol: 1e-5)

        moe.gate.weight.assign(Tensor(zeros: [2, 2]))
        _ = moe(Tensor.randn([6, 2]))
        XCTAssertEqual(moe.auxiliaryLoss.item(), 1.0, accuracy: 1e-6, "a uniform router gives 1")
    }

    func testRouterZLoss() {
        // Spec test 4: logits [[1, 2], [0, 0]] → 2.915816.
        let moe = identityRouter(experts: scalingExperts(2), topK: 1)
        _ = moe(Tensor([1, 2, 0, 0], shape: [2, 2]))
        XCTAssertEqual(moe.routerZLoss.item(), 2.915816, accuracy: 1e-5)
    }

    func testCapacityDropsTokensByPriority() {
        // Spec test 5: capacity 2, p = [[.7,.3],[.6,.4],[.2,.8],[.9,.1],[.55,.45]] keeps tokens 0, 1
        // (expert 0) and 2 (expert 1) and drops 3 and 4.
        let p: [Float] = [0.7, 0.3, 0.6, 0.4, 0.2, 0.8, 0.9, 0.1, 0.55, 0.45]
        let moe = identityRouter(experts: scalingExperts(2), topK: 1, capacityFactor: 0.8)
        XCTAssertEqual(moe.capacity(tokens: 5), 2)
        let x = Tensor(p.map { Foundation.log($0) }, shape: [5, 2])
        let y = moe(x)
        let routing = moe.routing!
        XCTAssertEqual(routing.experts.map(\.[0]), [0, 0, 1, 0, 0])
        XCTAssertEqual(routing.kept.map(\.[0]), [true, true, true, false, false])
        XCTAssertEqual(routing.tokensPerExpert, [2, 1])
        XCTAssertEqual(routing.droppedCount, 2)
        XCTAssertEqual(Array(y.scalars[6...]), [0, 0, 0, 0], "dropped tokens get zero; a residual carries them")
        assertClose(y, x * Tensor([0.7, 0.6, 0.8 * 2, 0, 0], shape: [5, 1]), atol: 1e-5)
    }

    func testMixtralAuxiliaryLossWithTopTwo() {
        // Spec test 6: logits [[2,1,0,-1],[0,3,1,0],[1,1.5,2,0]], k = 2 → selections [0,1],[1,2],[2,1], loss 2.756667.
        let moe = identityRouter(experts: scalingExperts(4), topK: 2)
        _ = moe(Tensor([2, 1, 0, -1, 0, 3, 1, 0, 1, 1.5, 2, 0], shape: [3, 4]))
        XCTAssertEqual(moe.routing!.experts, [[0, 1], [1, 2], [2, 1]])
        XCTAssertEqual(moe.auxiliaryLoss.item(), 2.756667, accuracy: 1e-5)
    }

    // MARK: Against PyTorch

    func testForwardLossesAndGradientsMatchPyTorch() throws {
        let f = loadFixtures("blocks_moe")
        for (prefix, topK, factor) in [("top2", 2, 1.0), ("top1", 1, 1.25), ("top3", 3, nil)] as [(String, Int, Double?)] {
            let moe = MoE(dModel: 6, numExperts: 4, hidden: 8, topK: topK, capacityFactor: factor)
            try loadFixtureState(moe, f, prefix: prefix, records: ["experts", "kept", "capacity", "aux", "z"])
            let x = f["\(prefix).x"]!.copied()
            x.requiresGrad = true
            let y = moe(x)
            assertClose(y, f["\(prefix).y"]!, atol: 1e-5, rtol: 1e-4, prefix)
            XCTAssertEqual(moe.routing!.experts.joined().map(Float.init), f["\(prefix).experts"]!.scalars, prefix)
            XCTAssertEqual(moe.routing!.kept.joined().map { $0 ? Float(1) : 0 }, f["\(prefix).kept"]!.scalars, prefix)
            XCTAssertEqual(Float(moe.capacity(tokens: x.count / 6) ?? -1), f["\(prefix).capacity"]!.item(), prefix)
            XCTAssertEqual(moe.auxiliaryLoss.item(), f["\(prefix).aux"]!.item(), accuracy: 1e-5, prefix)
            XCTAssertEqual(moe.routerZLoss.item(), f["\(prefix).z"]!.item(), accuracy: 1e-5, prefix)
            ((y * f["\(prefix).gy"]!).sum() + 0.7 * moe.auxiliaryLoss + 0.3 * moe.routerZLoss).backward()
            assertClose(x.grad!, f["\(prefix).grad.x"]!, atol: 1e-5, rtol: 1e-4, "\(prefix) dx")
            assertClose(moe.gate.weight.grad!, f["\(prefix).grad.gate.weight"]!, atol: 1e-5, rtol: 1e-4, "\(prefix) dgate")
            let expertWeight = moe.namedParameters().first { $0.0 == "experts.1.0.weight" }!.1
            assertClose(expertWeight.grad ?? Tensor(zeros: expertWeight.shape), f["\(prefix).grad.experts.1.0.weight"]!,
                        atol: 1e-5, rtol: 1e-4, "\(prefix) dexpert")
        }
        XCTAssertGreaterThan(f["top2.kept"]!.scalars.filter { $0 == 0 }.count, 0, "the top-2 case exercises dropping")
    }

    // MARK: Gradients

    func testGatingAndAuxiliaryLossGradientsMatchFiniteDifferences() {
        // Well-separated router logits so that ±eps never changes the routing.
        let moe = MoE(dModel: 3, numExperts: 3, hidden: 4, topK: 2, capacityFactor: 1)
        moe.gate.weight.assign(Tensor([2, 0, 0, 0, 1, 0, 0, 0, -1], shape: [3, 3]))
        let x = Tensor([1.5, -0.4, 0.9, -1.2, 0.8, 0.1, 0.3, 1.1, -1.4, 0.7, 0.2, 1.6], shape: [4, 3])
        assertGradientsMatchFiniteDifferences([x, moe.gate.weight], eps: 1e-3, atol: 2e-3) { xs in
            let y = moe(xs[0])
            return Tensor.concatenate([y.reshaped([-1]), moe.auxiliaryLoss.reshaped([1]), moe.routerZLoss.reshaped([1])])
        }
        XCTAssertGreaterThan(moe.routing!.droppedCount, 0, "capacity 2 for 4 tokens × 2 choices on 3 experts drops some")
    }

    func testTotalAuxiliaryLossSumsEveryMoELayer() throws {
        let first = MoE(dModel: 4, numExperts: 3, hidden: 8, topK: 1), second = MoE(dModel: 4, numExperts: 2, hidden: 8, topK: 2)
        let model = Sequential(first, Linear(4, 4), Residual(second))
        XCTAssertNil(Sequential(Linear(4, 4)).totalAuxiliaryLoss())
        _ = try model.summary(input: [2, 3, 4])
        XCTAssertEqual(Sequential(MoE(dModel: 4, numExperts: 2, hidden: 4)).totalAuxiliaryLoss()?.item(), 0, "0 before any pass")
        XCTAssertNil(model.totalAuxiliaryLoss(), "the shape-only losses of a summary are skipped")
        _ = model(Tensor.randn([2, 3, 4]))
        let total = try XCTUnwrap(model.totalAuxiliaryLoss())
        XCTAssertEqual(total.item(), first.auxiliaryLoss.item() + second.auxiliaryLoss.item(), accuracy: 1e-6)
        XCTAssertGreaterThanOrEqual(first.auxiliaryLoss.item(), 1 - 1e-6, "E·Σ f·P ≥ 1 for top-1 (Cauchy–Schwarz bound is 1 at balance)")
        total.backward()
        XCTAssertNotNil(first.gate.weight.grad)
        XCTAssertNotNil(second.gate.weight.grad)
    }

    // MARK: Summary and training

    func testSummaryListsExpertsAndCountsParameters() throws {
        let moe = MoE(dModel: 8, numExperts: 4, hidden: 16, topK: 2, capacityFactor: 1.25)
        let s = try moe.summary(input: [2, 5, 8])
        XCTAssertEqual(s.outputShape, [2, 5, 8])
        XCTAssertEqual(s.totalParameters, 8 * 4 + 4 * (8 * 16 + 16 + 16 * 8 + 8))
        XCTAssertTrue(s.rows.contains { $0.path == "experts.3.2" && $0.outputShape == [5, 8] }, "\(s.rows.map(\.path))")
        XCTAssertEqual(moe.namedParameters().map(\.0).prefix(3), ["gate.weight", "experts.0.0.weight", "experts.0.0.bias"])
        XCTAssertEqual(try MoE(dModel: 8, numExperts: 2, hidden: 4, topK: 1).summary(input: [7, 8]).outputShape, [7, 8])
        XCTAssertThrowsError(try moe.summary(input: [2, 5, 6])) { error in
            XCTAssertTrue("\(error)".contains("MoE") && "\(error)".contains("[2, 5, 6]"), "\(error)")
        }
        let broken = MoE(dModel: 4, experts: [Linear(4, 4), Linear(4, 3)], topK: 1)
        XCTAssertThrowsError(try broken.summary(input: [3, 4])) { error in
            XCTAssertTrue("\(error)".contains("expert 1"), "\(error)")
        }
    }

    /// Tokens with MoE feed-forwards (a residual MoE layer per pixel of a small CNN), trained with
    /// the auxiliary loss added: the loss falls and the experts share the work.
    func testRecipeMoEFeedForwardTrainsWithAuxiliaryLoss() throws {
        let moe = MoE(dModel: 8, numExperts: 4, hidden: 16, topK: 2, capacityFactor: 1.5)
        let model = Sequential(Conv2d(3, 8, kernelSize: 3, padding: 1), ReLU(),
                               SequenceBlock2d(Residual(Sequential(LayerNorm(8), moe))),
                               AdaptiveAvgPool2d(1), Flatten(), Linear(8, 3))
        XCTAssertEqual(try model.summary(input: [6, 3, 4, 4]).outputShape, [6, 3])
        let (x, labels) = syntheticImages(count: 6, channels: 3, size: 4, classes: 3, seed: 9)
        let losses = trainOnBatch(model, inputs: x, labels: labels, steps: 15) { 0.01 * model.totalAuxiliaryLoss()! }
        assertLossFalls(losses)
        let routing = try XCTUnwrap(moe.routing)
        XCTAssertEqual(routing.tokensPerExpert.reduce(0, +) + routing.droppedCount, 6 * 16 * 2)
        // The work is shared: every expert gets at least half of an even share (96 tokens × 2 / 4
        // experts = 48; the capacity, 72, caps the busiest).
        XCTAssertEqual(routing.capacity, 72)
        for (expert, tokens) in routing.tokensPerExpert.enumerated() {
            XCTAssertGreaterThanOrEqual(tokens, 24, "expert \(expert) of \(routing.tokensPerExpert)")
        }
        XCTAssertNotNil(moe.gate.weight.grad, "the router learns")
    }
}
