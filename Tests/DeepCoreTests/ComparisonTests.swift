import XCTest
import DeepCore

final class ComparisonTests: XCTestCase {
    // MARK: Against PyTorch (Tests/Fixtures/make_elementwise.py)

    func testComparisonsMatchPyTorchWithBroadcastingAndScalars() {
        guard let a = elementwiseFixture("compare.a"), let b = elementwiseFixture("compare.b") else { return }
        let cases: [(String, Tensor, Tensor)] = [
            ("eq", a.isEqual(to: b), a.isEqual(to: 1)),
            ("ne", a.isNotEqual(to: b), a.isNotEqual(to: 1)),
            ("lt", a.isLess(than: b), a.isLess(than: 1)),
            ("le", a.isLessOrEqual(to: b), a.isLessOrEqual(to: 1)),
            ("gt", a.isGreater(than: b), a.isGreater(than: 1)),
            ("ge", a.isGreaterOrEqual(to: b), a.isGreaterOrEqual(to: 1)),
        ]
        for (name, tensorResult, scalarResult) in cases {
            guard let expected = elementwiseFixture("compare.\(name)"),
                  let expectedScalar = elementwiseFixture("compare.\(name)_scalar") else { return }
            assertClose(tensorResult, expected, atol: 0, rtol: 0, name)
            assertClose(scalarResult, expectedScalar, atol: 0, rtol: 0, "\(name) with a scalar")
        }
        // Both operand orders broadcast to the same shape.
        XCTAssertEqual(b.isLess(than: a).shape, [3, 6])
    }

    func testMaximumAndMinimumMatchPyTorchIncludingTies() {
        assertBinaryMatchesPyTorch("maximum") { maximum($0, $1) }
        assertBinaryMatchesPyTorch("minimum") { minimum($0, $1) }
        assertBinaryMatchesPyTorch("maximum_same_shape") { maximum($0, $1) }
    }

    func testSelectMatchesPyTorch() {
        guard let c = elementwiseFixture("select.c"), let a = elementwiseFixture("select.a"),
              let b = elementwiseFixture("select.b"), let w = elementwiseFixture("select.w"),
              let y = elementwiseFixture("select.y"), let da = elementwiseFixture("select.da"),
              let db = elementwiseFixture("select.db") else { return }
        a.requiresGrad = true
        b.requiresGrad = true
        let out = select(where: c, a, otherwise: b)
        assertClose(out, y)
        (out * w).sum().backward()
        assertClose(a.grad!, da)
        assertClose(b.grad!, db)
    }

    // MARK: Finite differences

    func testMaximumAndMinimumGradientsMatchFiniteDifferences() {
        // b broadcasts along rows; a keeps at least 0.1 away from b, so no tie is crossed.
        let b = Tensor.randn([4])
        let a = (awayFromZero([3, 4]) + b).detached()
        assertGradientsMatchFiniteDifferences([a, b]) { maximum($0[0], $0[1]) }
        assertGradientsMatchFiniteDifferences([a, b]) { minimum($0[1], $0[0]) }
        // A transposed view against its own scaled copy: a used twice.
        let x = awayFromZero([4, 3])
        assertGradientsMatchFiniteDifferences([x]) { maximum($0[0].mT, $0[0].mT * 2) }
        assertGradientsMatchFiniteDifferences([x]) { minimum($0[0].mT, $0[0].mT * -1) }
    }

    func testSelectGradientsMatchFiniteDifferences() {
        let condition = Tensor([1, 0, 1], shape: [3, 1])
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4]), Tensor.randn([4])]) {
            select(where: condition, $0[0], otherwise: $0[1])
        }
        // The condition computed from a transposed input, the same input selected from.
        assertGradientsMatchFiniteDifferences([awayFromZero([4, 3])]) { xs in
            let x = xs[0].mT
            return select(where: x.isGreater(than: 0), x, otherwise: x * 0.1)
        }
    }

    // MARK: Properties

    func testComparisonsRecordNoGradient() {
        let x = Tensor.randn([2, 3])
        x.requiresGrad = true
        XCTAssertFalse(x.isLess(than: 0).requiresGrad)
        XCTAssertFalse(x.isGreaterOrEqual(to: x * 2).requiresGrad)
        XCTAssertEqual(x.isEqual(to: x).scalars, [Float](repeating: 1, count: 6))
    }

    func testMaximumAndMinimumPropagateNaN() {
        let a = Tensor([.nan, 1, 2]), b = Tensor([0, .nan, 3])
        let mx = maximum(a, b).scalars, mn = minimum(a, b).scalars
        XCTAssertTrue(mx[0].isNaN && mx[1].isNaN && mn[0].isNaN && mn[1].isNaN)
        XCTAssertEqual(mx[2], 3)
        XCTAssertEqual(mn[2], 2)
    }

    func testSelectBroadcastsAllThreeOperands() {
        let condition = Tensor([1, 0], shape: [2, 1, 1])
        let a = Tensor([1, 2, 3], shape: [1, 3]), b = Tensor([-1, -2], shape: [2, 1])
        let y = select(where: condition, a, otherwise: b)
        XCTAssertEqual(y.shape, [2, 2, 3])
        XCTAssertEqual(y.scalars, [1, 2, 3, 1, 2, 3, -1, -1, -1, -2, -2, -2])
    }
}
