import XCTest
import DeepCore
import DeepNN

/// softmax(scale·q kᵀ + masks) v with ordinary ops (the whole score matrix), as a reference.
func naiveAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, keep: Tensor? = nil, additive: Tensor? = nil,
                    isCausal: Bool = false, scale: Float? = nil, dropoutFactors: Tensor? = nil) -> Tensor {
    let (lq, lk) = (q.shape[q.rank - 2], k.shape[k.rank - 2])
    var s = matmul(q, k.mT) * (scale ?? 1 / Float(q.shape.last!).squareRoot())
    if let additive { s = s + additive }
    if let keep { s = s.filled(where: 1 - keep, with: -.infinity) }
    if isCausal {
        let future = Tensor.make(shape: [lq, lk]) { m in
            for i in 0..<lq { for j in 0..<lk { m[i * lk + j] = j > i ? 1 : 0 } }
        }
        s = s.filled(where: future, with: -.infinity)
    }
    var p = softmax(s, axis: -1)
    if let dropoutFactors { p = p * dropoutFactors }
    return matmul(p, v)
}

/// The fixture's -1e30 stands for −∞ (JSON has no infinities).
private func restoringInfinity(_ t: Tensor) -> Tensor {
    Tensor(t.scalars.map { $0 <= -1e29 ? -.infinity : $0 }, shape: t.shape)
}

final class AttentionTests: XCTestCase {
    let fixtures = loadFixtures("attention")

    /// Checks the output and the gradients of sum(y · w) against the fixture `name`.
    private func checkAgainstPyTorch(_ name: String, inputs count: Int, file: StaticString = #filePath, line: UInt = #line,
                                     _ f: ([Tensor]) -> Tensor) {
        let inputs = (0..<count).map { i -> Tensor in
            let t = restoringInfinity(fixtures["\(name).in\(i)"]!)
            t.requiresGrad = true
            return t
        }
        let y = f(inputs)
        assertClose(y, fixtures["\(name).y0"]!, atol: 1e-5, rtol: 1e-4, "\(name) output", file: file, line: line)
        (y * fixtures["\(name).w0"]!).sum().backward()
        for (i, x) in inputs.enumerated() {
            let grad = x.grad ?? Tensor(zeros: x.shape)
            assertClose(grad, fixtures["\(name).grad\(i)"]!, atol: 1e-5, rtol: 1e-4, "\(name) gradient \(i)", file: file, line: line)
        }
    }

    func testMatchesPyTorch() {
        checkAgainstPyTorch("sdpa_plain", inputs: 3) { scaledDotProductAttention($0[0], $0[1], $0[2]) }
        checkAgainstPyTorch("sdpa_scale", inputs: 3) { scaledDotProductAttention($0[0], $0[1], $0[2], scale: 0.3) }
        checkAgainstPyTorch("sdpa_causal", inputs: 3) { scaledDotProductAttention($0[0], $0[1], $0[2], isCausal: true) }
        checkAgainstPyTorch("sdpa_causal_rect", inputs: 3) { scaledDotProductAttention($0[0], $0[1], $0[2], isCausal: true) }
        let keep = fixtures["sdpa_bool.mask"]!
        checkAgainstPyTorch("sdpa_bool", inputs: 3) { scaledDotProductAttention($0[0], $0[1], $0[2], mask: keep) }
        checkAgainstPyTorch("sdpa_additive", inputs: 4) { scaledDotProductAttention($0[0], $0[1], $0[2], additiveMask: $0[3]) }
        checkAgainstPyTorch("sdpa_rank3", inputs: 3) { scaledDotProductAttention($0[0], $0[1], $0[2]) }
    }

    func testGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 3)
        let q = Tensor.randn([1, 2, 3, 4], generator: &rng), k = Tensor.randn([1, 2, 5, 4], generator: &rng)
        let v = Tensor.randn([1, 2, 5, 3], generator: &rng)
        assertGradientsMatchFiniteDifferences([q, k, v], "plain") { scaledDotProductAttention($0[0], $0[1], $0[2]) }
        assertGradientsMatchFiniteDifferences([q, k, v], "causal") {
            scaledDotProductAttention($0[0], $0[1], $0[2], isCausal: true, scale: 0.7)
        }
        let keep = Tensor([1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0], shape: [3, 5])
        let bias = Tensor.randn([2, 1, 5], generator: &rng)
        assertGradientsMatchFiniteDifferences([q, k, v, bias], "masks") {
            scaledDotProductAttention($0[0], $0[1], $0[2], mask: keep, additiveMask: $0[3])
        }
        // Keys given as a transposed view, queries used twice (also as values).
        let kt = Tensor.randn([1, 2, 4, 3], generator: &rng)
        assertGradientsMatchFiniteDifferences([q, kt], "views") {
            scaledDotProductAttention($0[0], $0[1].mT, $0[0])
        }
    }

    func testDropoutUsesOneMaskForwardAndBackward() {
        var rng = RandomGenerator(seed: 4)
        let q = Tensor.randn([2, 1, 6, 4], generator: &rng), k = Tensor.randn([2, 1, 7, 4], generator: &rng)
        let v = Tensor.randn([2, 1, 7, 3], generator: &rng)
        let p: Float = 0.3
        manualSeed(11)
        let y = scaledDotProductAttention(q, k, v, isCausal: true, dropout: p)
        manualSeed(11)
        let seed = DefaultRandom.generator.next()
        let factors = Tensor.make(shape: [2, 1, 6, 7]) { m in
            for i in m.indices {
                m[i] = AttentionKernels.dropoutFactor(seed: seed, index: UInt64(i), p: p, keepScale: 1 / (1 - p))
            }
        }
        let dropped = factors.scalars.filter { $0 == 0 }.count
        XCTAssertTrue(dropped > 10 && dropped < 40, "dropped \(dropped) of 84 weights with p = 0.3")
        assertClose(y, naiveAttention(q, k, v, isCausal: true, dropoutFactors: factors))
        assertGradientsMatchFiniteDifferences([q, k, v], "dropout") {
            manualSeed(11)
            return scaledDotProductAttention($0[0], $0[1], $0[2], isCausal: true, dropout: p)
        }
    }

    /// Many blocks, ragged tails and threads: the blocked kernel equals the naive formula.
    func testBlockedEqualsNaiveOnLongSequences() {
        var rng = RandomGenerator(seed: 5)
        for (groups, lq, lk, causal) in [(3, 150, 200, false), (1, 300, 300, true), (2, 70, 129, true), (2, 200, 333, false)] {
            let q = Tensor.randn([groups, lq, 16], generator: &rng), k = Tensor.randn([groups, lk, 16], generator: &rng)
            let v = Tensor.randn([groups, lk, 8], generator: &rng)
            let bias = Tensor.randn([lq, lk], generator: &rng)
            let w = Tensor.randn([groups, lq, 8], generator: &rng)
            func run(_ f: ([Tensor]) -> Tensor) -> [Tensor] {
                let xs = [q, k, v, bias].map { t -> Tensor in let c = t.detached().copied(); c.requiresGrad = true; return c }
                let y = f(xs)
                (y * w).sum().backward()
                return [y] + xs.map { $0.grad! }
            }
            let fast = run { scaledDotProductAttention($0[0], $0[1], $0[2], additiveMask: $0[3], isCausal: causal) }
            let slow = run { naiveAttention($0[0], $0[1], $0[2], additive: $0[3], isCausal: causal) }
            for (i, (a, b)) in zip(fast, slow).enumerated() {
                assertClose(a, b, atol: 1e-4, rtol: 1e-3, "groups \(groups) lq \(lq) lk \(lk) causal \(causal) tensor \(i)")
            }
        }
    }

    func testCausalOutputIgnoresTheFuture() {
        var rng = RandomGenerator(seed: 6)
        let q = Tensor.randn([2, 2, 80, 8], generator: &rng), k = Tensor.randn([2, 2, 80, 8], generator: &rng)
        let v = Tensor.randn([2, 2, 80, 8], generator: &rng)
        let t = 37
        // Change every key and value after position t.
        let noise = Tensor.make(shape: [2, 2, 80, 8]) { m in
            for i in m.indices { m[i] = (i / 8) % 80 > t ? 5 : 0 }
        }
        let before = scaledDotProductAttention(q, k, v, isCausal: true)
        let after = scaledDotProductAttention(q, k + noise, v - noise, isCausal: true)
        let past = { (x: Tensor) in x.narrowed(axis: 2, start: 0, length: t + 1) }
        XCTAssertEqual(past(before).scalars, past(after).scalars)
        let future = { (x: Tensor) in x.narrowed(axis: 2, start: t + 1, length: 80 - t - 1) }
        XCTAssertNotEqual(future(before).scalars, future(after).scalars)
    }

    func testFullyMaskedQueryGivesZeroAndNoGradient() {
        let q = Tensor.randn([1, 3, 4]), k = Tensor.randn([1, 5, 4]), v = Tensor.randn([1, 5, 2])
        q.requiresGrad = true
        let keep = Tensor([1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1], shape: [3, 5])
        let y = scaledDotProductAttention(q, k, v, mask: keep)
        XCTAssertEqual(y[0][1].scalars, [0, 0])
        y.sum().backward()
        XCTAssertEqual(q.grad![0][1].scalars, [0, 0, 0, 0])
        XCTAssertTrue(y.scalars.allSatisfy(\.isFinite))
    }

    func testShapeOnlyRunCountsFlops() {
        let before = FlopCounter.total
        let y = scaledDotProductAttention(Tensor(metaShape: [2, 4, 10, 8]), Tensor(metaShape: [2, 4, 12, 8]),
                                          Tensor(metaShape: [2, 4, 12, 6]))
        XCTAssertTrue(y.isMeta)
        XCTAssertEqual(y.shape, [2, 4, 10, 6])
        XCTAssertEqual(FlopCounter.total - before, 2 * 8 * 10 * 12 * 14)
    }
}
