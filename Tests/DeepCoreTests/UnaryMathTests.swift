import XCTest
import DeepCore

/// The PyTorch fixture written by `Tests/Fixtures/make_elementwise.py`, loaded once (unary math,
/// activations, comparisons).
let elementwise = loadFixtures("elementwise")

/// Case `name` of the elementwise fixture: inputs `<name>.x` (or `.a`, `.b`, …), `.y`, `.w`, `.d…`.
func pytorch(_ name: String, inputs: [String] = ["x"]) -> OpFixture {
    OpFixture.named(name, in: elementwise, inputs: inputs)
}

final class UnaryMathTests: XCTestCase {
    private let positive = { Tensor.rand([3, 4], low: 0.5, high: 2) }
    private let anySign = { Tensor.randn([3, 4]) }

    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    func testExponentialsAndLogarithms() {
        assertOpCases([
            OpCase("exp", input: anySign, fixture: pytorch("exp")) { $0.exp() },
            OpCase("log", input: positive, fixture: pytorch("log")) { $0.log() },
            OpCase("sqrt", input: positive, fixture: pytorch("sqrt")) { $0.sqrt() },
            OpCase("rsqrt", input: positive, fixture: pytorch("rsqrt")) { $0.rsqrt() },
            OpCase("square", input: anySign, fixture: pytorch("square")) { $0.square() },
            OpCase("reciprocal", input: positive, fixture: pytorch("reciprocal")) { $0.reciprocal() },
        ])
    }

    func testScalarPowers() {
        assertOpCases([
            OpCase("pow 2", input: anySign, fixture: pytorch("pow2")) { $0.pow(2) },
            OpCase("pow 3", input: anySign, fixture: pytorch("pow3")) { $0.pow(3) },
            OpCase("pow 1", input: anySign, fixture: pytorch("pow1")) { $0.pow(1) },
            OpCase("pow 0", input: anySign, fixture: pytorch("pow0")) { $0.pow(0) },
            OpCase("pow 0.5", input: positive, fixture: pytorch("pow_half")) { $0.pow(0.5) },
            OpCase("pow -1.5", input: positive, fixture: pytorch("pow_neg1_5")) { $0.pow(-1.5) },
            OpCase("pow -2", input: positive, fixture: pytorch("pow_neg2")) { $0.pow(-2) },
        ])
    }

    func testTensorPowers() {
        assertOpCases([
            // Positive bases; the exponent broadcasts along rows.
            OpCase("pow tensor", inputs: { [Tensor.rand([3, 4], low: 0.5, high: 2), Tensor.randn([4])] },
                   fixture: pytorch("pow_tensor", inputs: ["a", "b"])) { $0[0].pow($0[1]) },
            // Integer exponents of negative bases: the exponent's gradient is NaN there, so
            // PyTorch's values only.
            OpCase("pow tensor, negative bases", fixture: pytorch("pow_tensor_negative_base", inputs: ["a", "b"])) {
                $0[0].pow($0[1])
            },
            // The base used again as the exponent.
            OpCase("pow of a base to itself", inputs: { [Tensor.rand([4, 3], low: 0.5, high: 2)] }) { $0[0].pow($0[0]) },
        ])
    }

    func testSignMagnitudeClampAndTrigonometry() {
        assertOpCases([
            OpCase("abs", input: { awayFromZero([3, 4]) }, fixture: pytorch("abs")) { $0.abs() },
            OpCase("sign", input: { awayFromZero([3, 4]) }, fixture: pytorch("sign")) { $0.sign() },
            OpCase("clamped", input: { awayFrom([-0.5, 0.75], [3, 4]) }, fixture: pytorch("clamp_both")) {
                $0.clamped(min: -0.5, max: 0.75)
            },
            OpCase("clamped min", input: { awayFrom([-0.5], [3, 4]) }, fixture: pytorch("clamp_min")) { $0.clamped(min: -0.5) },
            OpCase("clamped max", input: { awayFrom([0.75], [3, 4]) }, fixture: pytorch("clamp_max")) { $0.clamped(max: 0.75) },
            OpCase("clamped, bounds crossed", input: anySign, fixture: pytorch("clamp_crossed")) { $0.clamped(min: 1, max: -1) },
            OpCase("sin", input: anySign, fixture: pytorch("sin")) { $0.sin() },
            OpCase("cos", input: anySign, fixture: pytorch("cos")) { $0.cos() },
        ])
    }

    // MARK: Conventions at special points

    func testSqrtGradientIsInfiniteAtZeroAndPowZeroHasZeroGradient() {
        let x = Tensor([0, 4])
        x.requiresGrad = true
        x.sqrt().sum().backward()
        XCTAssertEqual(x.grad?.scalars, [.infinity, 0.25])

        let z = Tensor([0, -2, 3])
        z.requiresGrad = true
        let y = z.pow(0)
        XCTAssertEqual(y.scalars, [1, 1, 1])
        y.sum().backward()
        XCTAssertEqual(z.grad?.scalars, [0, 0, 0])
    }

    func testNaNPropagatesThroughSignAndClamp() {
        let x = Tensor([.nan, -2, 0, 3])
        XCTAssertTrue(x.sign().scalars[0].isNaN)
        XCTAssertEqual(Array(x.sign().scalars[1...]), [-1, 0, 1])
        let c = x.clamped(min: -1, max: 1).scalars
        XCTAssertTrue(c[0].isNaN)
        XCTAssertEqual(Array(c[1...]), [-1, 0, 1])
    }

    func testSignGivesZeroGradient() {
        let x = Tensor([-1.5, 2])
        x.requiresGrad = true
        (x.sign() * x).sum().backward()
        // d/dx (sign(x)·x) through the product only: sign(x).
        XCTAssertEqual(x.grad?.scalars, [-1, 1])
    }
}
