import XCTest
import DeepCore

/// Fails unless `actual` and `expected` have the same shape and every element satisfies
/// |a - e| <= atol + rtol·|e|; the message gives the worst absolute and relative errors.
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
    var failed = false
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        if a.isNaN != e.isNaN || (a.isInfinite && a != e) { failed = true; worstIndex = i; continue }
        if a.isNaN || a.isInfinite { continue }
        let diff = abs(a - e)
        if diff > atol + rtol * abs(e) {
            failed = true
            if diff > worstAbs { worstAbs = diff; worstIndex = i }
        }
        worstRel = max(worstRel, diff / max(abs(e), 1e-12))
    }
    if failed {
        let at = worstIndex >= 0 ? " at \(worstIndex): \(actual[worstIndex]) vs \(expected[worstIndex])" : ""
        XCTFail("not close \(message): max abs error \(worstAbs), max rel error \(worstRel)\(at)", file: file, line: line)
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
    for x in inputs { x.requiresGrad = true; x.grad = nil }
    var rng = RandomGenerator(seed: 1234)
    let y = f(inputs)
    let w = Tensor.randn(y.shape, generator: &rng)
    (y * w).sum().backward()
    for (index, x) in inputs.enumerated() {
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

/// Path of a fixture file under `Tests/Fixtures/`.
public func fixtureURL(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name)
}

extension Tensor {
    /// Values of `shape` that are pairwise at least 0.05 apart, in a seeded random order: inputs
    /// for finite-difference checks of max/min-like ops, which need no near-ties.
    public static func distinctRandom(_ shape: [Int], seed: UInt64 = 0) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        var values = (0..<Shape.count(shape)).map { Float($0) * 0.05 - Float(Shape.count(shape)) * 0.025 }
        values.shuffle(using: &rng)
        return Tensor(values, shape: shape)
    }
}
