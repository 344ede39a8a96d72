import XCTest
import DeepCore

/// Fails unless `actual` and `expected` have the same shape and every element satisfies
/// |a - e| <= atol + rtol·|e|, where NaN must meet NaN and ±inf the same infinity; the message
/// gives the worst absolute and relative errors.
public func assertClose(_ actual: Tensor, _ expected: Tensor, atol: Float = 1e-5, rtol: Float = 1e-4,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    assertClose(actual.scalars, expected.scalars, atol: atol, rtol: rtol, message, file: file, line: line)
}

/// Elementwise closeness of two arrays; see the tensor overload.
public func assertClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-4,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "count \(message)", file: file, line: line)
    var worstAbs: Float = 0, worstRel: Float = 0, worstIndex = -1
    var special: Int?   // the first NaN or infinity not matched exactly
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        // NaN meets only NaN, an infinity only the same infinity: the tolerance below would let a
        // finite value pass for an infinite one (inf > atol + rtol·inf is false, and NaN for rtol 0).
        if !a.isFinite || !e.isFinite {
            if !(a.isNaN && e.isNaN) && a != e && special == nil { special = i }
            continue
        }
        let diff = abs(a - e)
        if diff > atol + rtol * abs(e), diff > worstAbs { worstAbs = diff; worstIndex = i }
        worstRel = max(worstRel, diff / max(abs(e), 1e-12))
    }
    if let i = special {
        XCTFail("not close \(message): at \(i): \(actual[i]) vs \(expected[i])", file: file, line: line)
    }
    if worstIndex >= 0 {
        XCTFail("not close \(message): max abs error \(worstAbs), max rel error \(worstRel) at \(worstIndex): "
                + "\(actual[worstIndex]) vs \(expected[worstIndex])", file: file, line: line)
    }
}

/// Checks the gradients of `f` at `inputs` against central finite differences.
///
/// The scalar whose gradient is checked is `sum(f(inputs) · w)` for a fixed random `w`, so every
/// output element matters. Inputs must be contiguous leaves. Float32 differences need a loose
/// tolerance; `eps` trades truncation against round-off.
public func assertGradientsMatchFiniteDifferences(
    _ inputs: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line,
    _ f: ([Tensor]) -> Tensor
) {
    assertGradientsMatchFiniteDifferences(inputs, withRespectTo: Array(inputs.indices), eps: eps, atol: atol, rtol: rtol,
                                          message, file: file, line: line, f)
}

/// Finite-difference check of the gradients of the inputs at `indices` only; the others are
/// constants (conditions, masks) that are neither perturbed nor given gradients.
public func assertGradientsMatchFiniteDifferences(
    _ inputs: [Tensor], withRespectTo indices: [Int], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
    _ message: String = "", file: StaticString = #filePath, line: UInt = #line,
    _ f: ([Tensor]) -> Tensor
) {
    for i in indices { inputs[i].requiresGrad = true; inputs[i].grad = nil }
    var rng = RandomGenerator(seed: 1234)
    let y = f(inputs)
    let w = Tensor.randn(y.shape, generator: &rng)
    (y * w).sum().backward()
    for index in indices {
        let x = inputs[index]
        let analytic = x.grad?.scalars ?? [Float](repeating: 0, count: x.count)
        var numeric = [Float](repeating: 0, count: x.count)
        x.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<buffer.count {
                let saved = buffer[i]
                buffer[i] = saved + eps
                let plus = withoutGrad { Double((f(inputs) * w).sum().item()) }
                buffer[i] = saved - eps
                let minus = withoutGrad { Double((f(inputs) * w).sum().item()) }
                buffer[i] = saved
                numeric[i] = Float((plus - minus) / Double(2 * eps))
            }
        }
        assertClose(analytic, numeric, atol: atol, rtol: rtol, "gradient of input \(index) \(message)", file: file, line: line)
    }
}
