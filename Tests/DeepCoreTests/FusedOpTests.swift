import XCTest
import DeepCore
import TestSupport

/// The fused ops that Mamba, attention, MoE and the embedding layer call: values against plain
/// compositions, gradients against finite differences, the decoding steps against the full
/// sequence, and their shape-only results.
final class FusedOpTests: XCTestCase {
    func testScatterAddRowsAddsRepeatedRowsAndGathersTheGradient() {
        let source = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2])
        let out = scatterAddRows(source, rows: [2, 0, 2], count: 4)
        XCTAssertEqual(out.shape, [4, 2])
        XCTAssertEqual(out.scalars, [3, 4, 0, 0, 6, 8, 0, 0])
        var rng = RandomGenerator(seed: 3)
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 2], generator: &rng)]) { x in
            scatterAddRows(x[0], rows: [1, 1, 3], count: 4)
        }
    }

    func testEmbeddingLooksUpRowsAndSkipsThePaddingRowInTheGradient() {
        let table = Tensor((0..<12).map(Float.init), shape: [4, 3])
        table.requiresGrad = true
        let ids = Tensor([2, 0, 2, 3], shape: [2, 2])
        let out = embedding(ids: ids, weight: table, paddingIdx: 3)
        XCTAssertEqual(out.shape, [2, 2, 3])
        XCTAssertEqual(out.scalars, [6, 7, 8, 0, 1, 2, 6, 7, 8, 9, 10, 11])
        out.sum().backward()
        XCTAssertEqual(table.grad?.scalars, [1, 1, 1, 0, 0, 0, 2, 2, 2, 0, 0, 0])
    }

    func testDropoutPullbackUsesTheForwardMask() {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.randn([64], generator: &rng)
        x.requiresGrad = true
        var generator = RandomGenerator(seed: 9)
        let y = dropout(x, p: 0.25, generator: &generator)
        y.sum().backward()
        let kept = y.scalars.map { $0 != 0 }
        XCTAssertEqual(x.grad?.scalars, kept.map { $0 ? Float(1) / 0.75 : 0 })
        XCTAssertTrue(kept.contains(true) && kept.contains(false))
    }

    func testCausalConvStepMatchesTheFullSequence() {
        var rng = RandomGenerator(seed: 7)
        let (b, d, l, k) = (2, 3, 5, 4)
        let x = Tensor.randn([b, d, l], generator: &rng)
        let weight = Tensor.randn([d, 1, k], generator: &rng), bias = Tensor.randn([d], generator: &rng)
        for activation in [CausalConvActivation.none, .silu] {
            let full = causalConv1d(x, weight: weight, bias: bias, activation: activation)
            let window = Tensor(zeros: [b, d, k])
            let steps = (0..<l).map { t in
                causalConv1dStep(x.narrowed(axis: 2, start: t, length: 1).squeezed(axis: 2), window: window,
                                 weight: weight, bias: bias, activation: activation)
            }
            assertClose(Tensor.stack(steps, axis: 2), full, "\(activation)")
        }
    }

    func testSelectiveScanStepMatchesTheLastStateAndOutputs() {
        var rng = RandomGenerator(seed: 11)
        let (bt, d, n, l) = (2, 3, 4, 6)
        let u = Tensor.randn([bt, d, l], generator: &rng), delta = Tensor.randn([bt, d, l], generator: &rng)
        let A = -Tensor.rand([d, n], generator: &rng) - 0.1
        let B = Tensor.randn([bt, n, l], generator: &rng), C = Tensor.randn([bt, n, l], generator: &rng)
        let D = Tensor.randn([d], generator: &rng), z = Tensor.randn([bt, d, l], generator: &rng)
        let bias = Tensor.randn([d], generator: &rng)
        let (full, last) = selectiveScanWithState(u, delta, A, B, C, D, z: z, deltaBias: bias, deltaSoftplus: true)
        let state = Tensor(zeros: [bt, d, n])
        let steps = (0..<l).map { t in
            func at(_ x: Tensor) -> Tensor { x.narrowed(axis: 2, start: t, length: 1).squeezed(axis: 2) }
            return selectiveScanStep(state, at(u), at(delta), A, at(B), at(C), D, z: at(z), deltaBias: bias, deltaSoftplus: true)
        }
        assertClose(Tensor.stack(steps, axis: 2), full, atol: 1e-4)
        assertClose(state, last, atol: 1e-4)
    }

    func testShapeOnlyInputsGiveShapeOnlyResultsAndCountFlops() {
        let (bt, d, n, l) = (2, 8, 4, 16)
        let start = FlopCounter.total
        let (y, last) = selectiveScanWithState(Tensor(metaShape: [bt, d, l]), Tensor(metaShape: [bt, d, l]),
                                               Tensor(metaShape: [d, n]), Tensor(metaShape: [bt, n, l]),
                                               Tensor(metaShape: [bt, n, l]))
        XCTAssertTrue(y.isMeta && last.isMeta)
        XCTAssertEqual(y.shape, [bt, d, l])
        XCTAssertEqual(last.shape, [bt, d, n])
        XCTAssertEqual(FlopCounter.total - start, 4 * bt * d * l * n)
        let conv = causalConv1d(Tensor(metaShape: [bt, d, l]), weight: Tensor(zeros: [d, 1, 3]))
        XCTAssertTrue(conv.isMeta)
        XCTAssertEqual(FlopCounter.total - start, 4 * bt * d * l * n + 2 * bt * d * l * 3)
        let attended = scaledDotProductAttention(Tensor(metaShape: [bt, l, 8]), Tensor(metaShape: [bt, 5, 8]),
                                                 Tensor(metaShape: [bt, 5, 6]))
        XCTAssertTrue(attended.isMeta)
        XCTAssertEqual(attended.shape, [bt, l, 6])
        XCTAssertTrue(embedding(ids: Tensor(metaShape: [2, 3]), weight: Tensor(zeros: [5, 4])).isMeta)
    }
}
