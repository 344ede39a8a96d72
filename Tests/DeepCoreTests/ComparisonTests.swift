import XCTest
import DeepCore

final class ComparisonTests: XCTestCase {
    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    /// Against a broadcast tensor (with ties) and against a scalar; no gradients.
    func testComparisons() {
        func exact(_ output: String, _ inputs: [String]) -> OpFixture {
            OpFixture.keys(elementwise, inputs: inputs, output: "compare.\(output)", atol: 0, rtol: 0)
        }
        let ab = ["compare.a", "compare.b"], a = ["compare.a"]
        assertOpCases([
            OpCase("eq", fixture: exact("eq", ab)) { $0[0].isEqual(to: $0[1]) },
            OpCase("ne", fixture: exact("ne", ab)) { $0[0].isNotEqual(to: $0[1]) },
            OpCase("lt", fixture: exact("lt", ab)) { $0[0].isLess(than: $0[1]) },
            OpCase("le", fixture: exact("le", ab)) { $0[0].isLessOrEqual(to: $0[1]) },
            OpCase("gt", fixture: exact("gt", ab)) { $0[0].isGreater(than: $0[1]) },
            OpCase("ge", fixture: exact("ge", ab)) { $0[0].isGreaterOrEqual(to: $0[1]) },
            OpCase("eq with a scalar", fixture: exact("eq_scalar", a)) { $0[0].isEqual(to: 1) },
            OpCase("ne with a scalar", fixture: exact("ne_scalar", a)) { $0[0].isNotEqual(to: 1) },
            OpCase("lt with a scalar", fixture: exact("lt_scalar", a)) { $0[0].isLess(than: 1) },
            OpCase("le with a scalar", fixture: exact("le_scalar", a)) { $0[0].isLessOrEqual(to: 1) },
            OpCase("gt with a scalar", fixture: exact("gt_scalar", a)) { $0[0].isGreater(than: 1) },
            OpCase("ge with a scalar", fixture: exact("ge_scalar", a)) { $0[0].isGreaterOrEqual(to: 1) },
        ])
        // Both operand orders broadcast to the same shape.
        XCTAssertEqual(elementwise["compare.b"]!.isLess(than: elementwise["compare.a"]!).shape, [3, 6])
    }

    /// PyTorch's values include ties (the gradient is split in halves there); the random inputs
    /// keep a at least 0.1 away from b, which broadcasts along rows.
    func testMaximumAndMinimum() {
        let apart = { () -> [Tensor] in
            let b = Tensor.randn([4])
            return [(awayFromZero([3, 4]) + b).detached(), b]
        }
        let ab = ["a", "b"]
        assertOpCases([
            OpCase("maximum", inputs: apart, fixture: pytorch("maximum", inputs: ab)) { maximum($0[0], $0[1]) },
            OpCase("minimum", inputs: apart, fixture: pytorch("minimum", inputs: ab)) { minimum($0[0], $0[1]) },
            OpCase("maximum, same shapes", fixture: pytorch("maximum_same_shape", inputs: ab)) { maximum($0[0], $0[1]) },
            OpCase("minimum, broadcast operand first", inputs: apart) { minimum($0[1], $0[0]) },
            // An input against its own scaled copy: the input used twice.
            OpCase("maximum of x and 2x", input: { awayFromZero([4, 3]) }) { maximum($0, $0 * 2) },
            OpCase("minimum of x and -x", input: { awayFromZero([4, 3]) }) { minimum($0, $0 * -1) },
        ])
    }

    /// The condition (3, 1) broadcasts against a (3, 4) and b (4); it is an input without gradient.
    func testSelect() {
        let condition = Tensor([1, 0, 1], shape: [3, 1])
        assertOpCases([
            OpCase("select", inputs: { [condition, Tensor.randn([3, 4]), Tensor.randn([4])] },
                   fixture: pytorch("select", inputs: ["c", "a", "b"]), constants: [0]) {
                select(where: $0[0], $0[1], otherwise: $0[2])
            },
            // The condition computed from the input selected from.
            OpCase("select on a condition of the input", input: { awayFromZero([4, 3]) }) { x in
                select(where: x.isGreater(than: 0), x, otherwise: x * 0.1)
            },
        ])
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
