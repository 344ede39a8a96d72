import XCTest
import DeepCore

// Comparisons with PyTorch fixtures laid out per case (values and gradients of one call).

/// Checks case `name` of a fixture written by `Tests/Fixtures/make_reductions.py`: `f` applied to
/// the stored inputs (`name.x` or `name.x0`, `name.x1`, …) gives `name.y`, and the gradients of
/// sum(y · `name.w`) match `name.dx` (or `name.dx0`, …).
public func assertMatchesTorch(_ fixtures: [String: Tensor], _ name: String, inputCount: Int = 1,
                               atol: Float = 1e-5, rtol: Float = 1e-4,
                               file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) {
    let suffixes = inputCount == 1 ? [""] : (0..<inputCount).map(String.init)
    guard let w = fixtures["\(name).w"], let expected = fixtures["\(name).y"] else {
        return XCTFail("fixture case \(name) is missing", file: file, line: line)
    }
    let inputs = suffixes.map { fixtures["\(name).x\($0)"]!.copied().detached() }
    for x in inputs { x.requiresGrad = true }
    let y = f(inputs)
    assertClose(y, expected, atol: atol, rtol: rtol, "\(name) value", file: file, line: line)
    (y * w).sum().backward()
    for (x, suffix) in zip(inputs, suffixes) {
        guard let grad = x.grad else { return XCTFail("\(name): no gradient for x\(suffix)", file: file, line: line) }
        assertClose(grad, fixtures["\(name).dx\(suffix)"]!, atol: atol, rtol: rtol, "\(name) gradient x\(suffix)",
                    file: file, line: line)
    }
}

/// The case prefixes `"<op>/0"`, `"<op>/1"`, … present in `fixtures`, in order.
public func fixtureCases(_ fixtures: [String: Tensor], _ op: String) -> [String] {
    var cases: [String] = []
    while fixtures["\(op)/\(cases.count)/params"] != nil { cases.append("\(op)/\(cases.count)") }
    return cases
}

/// Checks one case written by `Tests/Fixtures/make_conv.py`: `f(inputs, params)` against the
/// stored output, and the gradients of sum(y · gy) against the stored gradients.
public func assertMatchesFixture(_ fixtures: [String: Tensor], _ prefix: String, atol: Float = 1e-4, rtol: Float = 1e-4,
                                 file: StaticString = #filePath, line: UInt = #line,
                                 _ f: ([Tensor], [Int]) -> Tensor) {
    let params = fixtures["\(prefix)/params"]!.scalars.map { Int($0) }
    var inputs: [Tensor] = []
    while let t = fixtures["\(prefix)/in\(inputs.count)"] {
        t.requiresGrad = true
        t.grad = nil
        inputs.append(t)
    }
    let y = f(inputs, params)
    assertClose(y, fixtures["\(prefix)/y"]!, atol: atol, rtol: rtol, "\(prefix) output", file: file, line: line)
    (y * fixtures["\(prefix)/gy"]!).sum().backward()
    for (i, x) in inputs.enumerated() {
        guard let grad = x.grad else { XCTFail("\(prefix): no gradient for input \(i)", file: file, line: line); continue }
        assertClose(grad, fixtures["\(prefix)/grad\(i)"]!, atol: atol, rtol: rtol, "\(prefix) gradient \(i)", file: file, line: line)
    }
}
