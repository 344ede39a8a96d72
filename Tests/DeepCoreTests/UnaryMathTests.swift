import XCTest
import DeepCore

final class UnaryMathTests: XCTestCase {
    // MARK: Values and gradients against PyTorch (Tests/Fixtures/make_elementwise.py)

    func testExponentialsAndLogarithmsMatchPyTorch() {
        assertUnaryMatchesPyTorch("exp") { $0.exp() }
        assertUnaryMatchesPyTorch("log") { $0.log() }
        assertUnaryMatchesPyTorch("sqrt") { $0.sqrt() }
        assertUnaryMatchesPyTorch("rsqrt") { $0.rsqrt() }
        assertUnaryMatchesPyTorch("square") { $0.square() }
        assertUnaryMatchesPyTorch("reciprocal") { $0.reciprocal() }
    }

    func testScalarPowersMatchPyTorch() {
        assertUnaryMatchesPyTorch("pow2") { $0.pow(2) }
        assertUnaryMatchesPyTorch("pow3") { $0.pow(3) }
        assertUnaryMatchesPyTorch("pow1") { $0.pow(1) }
        assertUnaryMatchesPyTorch("pow0") { $0.pow(0) }
        assertUnaryMatchesPyTorch("pow_half") { $0.pow(0.5) }
        assertUnaryMatchesPyTorch("pow_neg1_5") { $0.pow(-1.5) }
        assertUnaryMatchesPyTorch("pow_neg2") { $0.pow(-2) }
    }

    func testTensorPowerMatchesPyTorch() {
        assertBinaryMatchesPyTorch("pow_tensor") { $0.pow($1) }
        assertBinaryMatchesPyTorch("pow_tensor_negative_base") { $0.pow($1) }
    }

    func testSignMagnitudeClampAndTrigonometryMatchPyTorch() {
        assertUnaryMatchesPyTorch("abs") { $0.abs() }
        assertUnaryMatchesPyTorch("sign") { $0.sign() }
        assertUnaryMatchesPyTorch("clamp_both") { $0.clamped(min: -0.5, max: 0.75) }
        assertUnaryMatchesPyTorch("clamp_min") { $0.clamped(min: -0.5) }
        assertUnaryMatchesPyTorch("clamp_max") { $0.clamped(max: 0.75) }
        assertUnaryMatchesPyTorch("clamp_crossed") { $0.clamped(min: 1, max: -1) }
        assertUnaryMatchesPyTorch("sin") { $0.sin() }
        assertUnaryMatchesPyTorch("cos") { $0.cos() }
    }

    // MARK: Finite differences

    func testGradientsMatchFiniteDifferences() {
        let positive = { Tensor.rand([3, 4], low: 0.5, high: 2) }
        let anySign = { Tensor.randn([3, 4]) }
        let rows: [(String, () -> Tensor, (Tensor) -> Tensor)] = [
            ("exp", anySign, { $0.exp() }),
            ("log", positive, { $0.log() }),
            ("sqrt", positive, { $0.sqrt() }),
            ("rsqrt", positive, { $0.rsqrt() }),
            ("square", anySign, { $0.square() }),
            ("reciprocal", positive, { $0.reciprocal() }),
            ("pow 2", anySign, { $0.pow(2) }),
            ("pow 3", anySign, { $0.pow(3) }),
            ("pow 0", anySign, { $0.pow(0) }),
            ("pow 0.5", positive, { $0.pow(0.5) }),
            ("pow -1.5", positive, { $0.pow(-1.5) }),
            ("abs", { awayFromZero([3, 4]) }, { $0.abs() }),
            ("sign", { awayFromZero([3, 4]) }, { $0.sign() }),
            ("clamped", { awayFrom([-0.5, 0.75], [3, 4]) }, { $0.clamped(min: -0.5, max: 0.75) }),
            ("clamped min", { awayFrom([-0.5], [3, 4]) }, { $0.clamped(min: -0.5) }),
            ("clamped max", { awayFrom([0.75], [3, 4]) }, { $0.clamped(max: 0.75) }),
            ("sin", anySign, { $0.sin() }),
            ("cos", anySign, { $0.cos() }),
        ]
        for (name, input, op) in rows {
            assertUnaryGradientsMatchFiniteDifferences(name, input, op)
        }
    }

    func testTensorPowerGradientsMatchFiniteDifferences() {
        // Positive bases; the exponent broadcasts along rows.
        assertGradientsMatchFiniteDifferences([Tensor.rand([3, 4], low: 0.5, high: 2), Tensor.randn([4])]) {
            $0[0].pow($0[1])
        }
        // Transposed base and the base used again as the exponent.
        assertGradientsMatchFiniteDifferences([Tensor.rand([4, 3], low: 0.5, high: 2)]) { $0[0].mT.pow($0[0].mT) }
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

// MARK: - Helpers shared by the elementwise test files (UnaryMath, Activation, Comparison)

/// The PyTorch fixture written by `Tests/Fixtures/make_elementwise.py`, loaded once.
let elementwiseFixtures = loadFixtures("elementwise")

/// Reads `key` from the elementwise fixture as a fresh leaf tensor.
func elementwiseFixture(_ key: String, file: StaticString = #filePath, line: UInt = #line) -> Tensor? {
    guard let t = elementwiseFixtures[key] else {
        XCTFail("elementwise fixture has no \(key): rerun make_elementwise.py", file: file, line: line)
        return nil
    }
    return t.detached()
}

/// Checks `op` on the fixture's `<name>.x`: the output against `<name>.y` and the gradient of
/// `sum(op(x) · w)` against `<name>.dx`, within 1e-5 absolute / 1e-4 relative.
func assertUnaryMatchesPyTorch(_ name: String, file: StaticString = #filePath, line: UInt = #line,
                               _ op: (Tensor) -> Tensor) {
    guard let x = elementwiseFixture("\(name).x", file: file, line: line),
          let w = elementwiseFixture("\(name).w", file: file, line: line),
          let y = elementwiseFixture("\(name).y", file: file, line: line),
          let dx = elementwiseFixture("\(name).dx", file: file, line: line) else { return }
    x.requiresGrad = true
    let out = op(x)
    assertClose(out, y, "\(name) forward", file: file, line: line)
    (out * w).sum().backward()
    assertClose(x.grad ?? Tensor(zeros: x.shape), dx, "\(name) gradient", file: file, line: line)
}

/// Checks a binary op on the fixture's `<name>.a` and `<name>.b` (which may broadcast): output
/// against `<name>.y`, gradients against `<name>.da` and, when the fixture has one, `<name>.db`.
func assertBinaryMatchesPyTorch(_ name: String, file: StaticString = #filePath, line: UInt = #line,
                                _ op: (Tensor, Tensor) -> Tensor) {
    guard let a = elementwiseFixture("\(name).a", file: file, line: line),
          let b = elementwiseFixture("\(name).b", file: file, line: line),
          let w = elementwiseFixture("\(name).w", file: file, line: line),
          let y = elementwiseFixture("\(name).y", file: file, line: line),
          let da = elementwiseFixture("\(name).da", file: file, line: line) else { return }
    let db = elementwiseFixtures["\(name).db"]
    a.requiresGrad = true
    b.requiresGrad = db != nil
    let out = op(a, b)
    assertClose(out, y, "\(name) forward", file: file, line: line)
    (out * w).sum().backward()
    assertClose(a.grad ?? Tensor(zeros: a.shape), da, "\(name) gradient of a", file: file, line: line)
    if let db {
        assertClose(b.grad ?? Tensor(zeros: b.shape), db, "\(name) gradient of b", file: file, line: line)
    }
}

/// Finite-difference checks of a unary op on a fresh input, on a transposed view of one, and
/// with the input used twice (`op(x) · x`, so gradients accumulate).
func assertUnaryGradientsMatchFiniteDifferences(_ name: String, _ input: () -> Tensor, _ op: @escaping (Tensor) -> Tensor,
                                                file: StaticString = #filePath, line: UInt = #line) {
    assertGradientsMatchFiniteDifferences([input()], name, file: file, line: line) { op($0[0]) }
    let transposedSource = input().mT.contiguous().detached()
    assertGradientsMatchFiniteDifferences([transposedSource], "\(name) of a transposed view", file: file, line: line) {
        op($0[0].mT)
    }
    assertGradientsMatchFiniteDifferences([input()], "\(name) with its input used twice", file: file, line: line) {
        op($0[0]) * $0[0]
    }
}

/// Normal samples pushed at least 0.1 away from 0 (the kink of relu, abs, sign, ...).
func awayFromZero(_ shape: [Int]) -> Tensor {
    awayFrom([0], shape)
}

/// Normal samples (scaled by 1.5) moved at least 0.1 away from every point in `kinks`, so
/// finite differences never straddle one.
func awayFrom(_ kinks: [Float], _ shape: [Int]) -> Tensor {
    let values = Tensor.randn(shape, std: 1.5).scalars.map { v -> Float in
        var v = v
        for k in kinks where Swift.abs(v - k) < 0.1 { v += v < k ? -0.1 : 0.1 }
        return v
    }
    return Tensor(values, shape: shape)
}
