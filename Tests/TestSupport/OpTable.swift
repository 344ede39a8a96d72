import XCTest
import DeepCore

// One table for op tests: a row (`OpCase`) names an op, how to draw inputs for it and, where
// PyTorch wrote them, reference values; `assertOpCases` runs every check on every row:
// 1. PyTorch: the output and the gradients of sum(op(inputs) · w) against the fixture;
// 2. finite differences: the gradients on fresh inputs, and, when the result has the shape of the
//    first differentiable input x, with x used a second time (`op(inputs) · x`: gradients add up);
// 3. strided inputs: 1 and 2 again with every input a transposed, narrowed view (see
//    `Tensor.stridedView(of:)`): PyTorch's values from strided leaves, finite differences
//    through the view ops;
// 4. shape-only: shape-only inputs (`Tensor(metaShape:)`) give a shape-only result of the real
//    result's shape (an op that read their values would stop the process).
// Failures name the row and point at the line that declared it.

/// Reference values of one op row, written by PyTorch (`Tests/Fixtures/make_*.py`): the inputs,
/// the output and, for a differentiable op, the weight `w` and the gradients of sum(op(x) · w).
public struct OpFixture {
    public var inputs: [Tensor]
    public var output: Tensor
    /// The weight of the gradient check; nil for an op without gradients (comparisons).
    public var weight: Tensor?
    /// One gradient per input; nil where the input needs none (a condition, an exponent whose
    /// gradient PyTorch gives as NaN).
    public var gradients: [Tensor?]
    public var atol: Float, rtol: Float
    /// Keys the fixture lacks (the row fails naming them).
    public var missing: [String] = []

    public init(inputs: [Tensor], output: Tensor, weight: Tensor? = nil, gradients: [Tensor?] = [],
                atol: Float = 1e-5, rtol: Float = 1e-4) {
        self.inputs = inputs
        self.output = output
        self.weight = weight
        self.gradients = gradients + [Tensor?](repeating: nil, count: Swift.max(0, inputs.count - gradients.count))
        self.atol = atol
        self.rtol = rtol
    }

    /// Case `name` of `fixtures` in the layout of `make_elementwise.py` and `make_reductions.py`:
    /// `<name>.<input>` for each of `inputs`, `<name>.y`, `<name>.w`, and `<name>.d<input>` for
    /// each input that has a gradient.
    public static func named(_ name: String, in fixtures: [String: Tensor], inputs: [String] = ["x"],
                             atol: Float = 1e-5, rtol: Float = 1e-4) -> OpFixture {
        keys(fixtures, inputs: inputs.map { "\(name).\($0)" }, output: "\(name).y", weight: "\(name).w",
             gradients: inputs.map { "\(name).d\($0)" }, atol: atol, rtol: rtol)
    }

    /// A case of `fixtures` under explicit keys. A missing input, output or weight key fails the
    /// row; a missing gradient key means that input needs no gradient. No `weight`: values only.
    public static func keys(_ fixtures: [String: Tensor], inputs: [String], output: String, weight: String? = nil,
                            gradients: [String] = [], atol: Float = 1e-5, rtol: Float = 1e-4) -> OpFixture {
        let required = inputs + [output] + (weight.map { [$0] } ?? [])
        let placeholder = Tensor(zeros: [0])
        var fixture = OpFixture(inputs: inputs.map { fixtures[$0] ?? placeholder }, output: fixtures[output] ?? placeholder,
                                weight: weight.map { fixtures[$0] ?? placeholder }, gradients: gradients.map { fixtures[$0] },
                                atol: atol, rtol: rtol)
        fixture.missing = required.filter { fixtures[$0] == nil }
        return fixture
    }
}

/// Tolerances of a finite-difference check (see ``assertGradientsMatchFiniteDifferences(_:eps:atol:rtol:_:file:line:_:)``).
public struct FiniteDifferences {
    public var eps: Float, atol: Float, rtol: Float
    public init(eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2) {
        (self.eps, self.atol, self.rtol) = (eps, atol, rtol)
    }
}

/// One row of an op table; see the file comment for what ``assertOpCases(_:)`` checks.
public struct OpCase {
    public let name: String
    /// Draws fresh inputs for the finite-difference checks (kept away from kinks and ties); nil
    /// for an op without gradients.
    public let inputs: (() -> [Tensor])?
    public let fixture: OpFixture?
    /// Inputs that are never differentiated (conditions, masks): not perturbed, no gradient.
    public let constants: Set<Int>
    public let finiteDifferences: FiniteDifferences
    /// Why this row's shape-only check is left out (an op that still reads shape-only values),
    /// or nil: checked.
    public let shapeOnlySkipped: String?
    public let op: ([Tensor]) -> Tensor
    public let file: StaticString
    public let line: UInt

    public init(_ name: String, inputs: (() -> [Tensor])? = nil, fixture: OpFixture? = nil, constants: Set<Int> = [],
                finiteDifferences: FiniteDifferences = FiniteDifferences(), shapeOnlySkipped: String? = nil,
                file: StaticString = #filePath, line: UInt = #line, op: @escaping ([Tensor]) -> Tensor) {
        self.name = name
        self.inputs = inputs
        self.fixture = fixture
        self.constants = constants
        self.finiteDifferences = finiteDifferences
        self.shapeOnlySkipped = shapeOnlySkipped
        self.op = op
        self.file = file
        self.line = line
    }

    /// A row for a one-input op whose finite differences draw `input`. (`input` is required: a
    /// row without it takes the inputs as an array, so `$0[0]` never means a tensor's first row.)
    public init(_ name: String, input: @escaping () -> Tensor, fixture: OpFixture? = nil,
                finiteDifferences: FiniteDifferences = FiniteDifferences(), shapeOnlySkipped: String? = nil,
                file: StaticString = #filePath, line: UInt = #line, unary op: @escaping (Tensor) -> Tensor) {
        self.init(name, inputs: { [input()] }, fixture: fixture, finiteDifferences: finiteDifferences,
                  shapeOnlySkipped: shapeOnlySkipped, file: file, line: line) { op($0[0]) }
    }
}

/// Runs every check of every row (see the file comment).
public func assertOpCases(_ rows: [OpCase]) {
    for row in rows {
        if let fixture = row.fixture {
            assertMatchesFixture(row, fixture, strided: false)
            assertMatchesFixture(row, fixture, strided: true)
        }
        if let draw = row.inputs {
            assertFiniteDifferences(row, draw)
        }
        assertShapeOnly(row)
    }
}

/// Check 1 (and 3 with `strided`): the fixture's inputs, as fresh leaves, through the op.
private func assertMatchesFixture(_ row: OpCase, _ fixture: OpFixture, strided: Bool) {
    let (file, line) = (row.file, row.line)
    guard fixture.missing.isEmpty else {
        if !strided { XCTFail("\(row.name): fixture has no \(fixture.missing): rerun its script", file: file, line: line) }
        return
    }
    let label = strided ? "\(row.name) (strided inputs)" : row.name
    let inputs = fixture.inputs.map { x -> Tensor in
        strided ? Tensor.stridedView(of: Tensor.stridedSource(for: x)).detached() : x.copied().detached()
    }
    let differentiable = fixture.weight != nil
    for (x, g) in zip(inputs, fixture.gradients) { x.requiresGrad = differentiable && g != nil }
    let y = row.op(inputs)
    assertClose(y, fixture.output, atol: fixture.atol, rtol: fixture.rtol, "\(label): output", file: file, line: line)
    guard let w = fixture.weight, y.shape == fixture.output.shape else { return }
    XCTAssertTrue(y.requiresGrad, "\(label): the output records no gradient", file: file, line: line)
    guard y.requiresGrad else { return }
    (y * w).sum().backward()
    for (i, (x, expected)) in zip(inputs, fixture.gradients).enumerated() {
        guard let expected else { continue }
        assertClose(x.grad ?? Tensor(zeros: x.shape), expected, atol: fixture.atol, rtol: fixture.rtol,
                    "\(label): gradient of input \(i)", file: file, line: line)
    }
}

/// Checks 2 and 3: finite differences on fresh inputs, through strided views, with an input reused.
private func assertFiniteDifferences(_ row: OpCase, _ draw: () -> [Tensor]) {
    let (file, line) = (row.file, row.line)
    let tolerance = row.finiteDifferences
    func check(_ inputs: [Tensor], _ label: String, _ f: ([Tensor]) -> Tensor) {
        let wrt = inputs.indices.filter { !row.constants.contains($0) }
        assertGradientsMatchFiniteDifferences(inputs, withRespectTo: wrt, eps: tolerance.eps, atol: tolerance.atol,
                                              rtol: tolerance.rtol, label, file: file, line: line, f)
    }
    check(draw(), "\(row.name): finite differences", row.op)
    let sources = draw().map { Tensor.stridedSource(for: $0) }
    check(sources, "\(row.name): finite differences through strided views") { row.op($0.map(Tensor.stridedView(of:))) }
    // The first differentiable input used again: its two gradients must add up.
    let inputs = draw()
    guard let reused = inputs.indices.first(where: { !row.constants.contains($0) }) else { return }
    guard withoutGrad({ row.op(inputs.map { $0.detached() }).shape }) == inputs[reused].shape else { return }
    check(inputs, "\(row.name): finite differences with input \(reused) used twice") { row.op($0) * $0[reused] }
}

/// Check 4: shape-only inputs of the fixture's (or drawn inputs') shapes give a shape-only result
/// of the real result's shape.
private func assertShapeOnly(_ row: OpCase) {
    guard row.shapeOnlySkipped == nil else { return }
    guard let inputs = row.fixture.flatMap({ $0.missing.isEmpty ? $0.inputs : nil }) ?? row.inputs?() else { return }
    let expected = withoutGrad { row.op(inputs.map { $0.detached() }).shape }
    let result = withoutGrad { row.op(inputs.map { Tensor(metaShape: $0.shape) }) }
    XCTAssertTrue(result.isMeta, "\(row.name): shape-only inputs gave a result with values", file: row.file, line: row.line)
    XCTAssertEqual(result.shape, expected, "\(row.name): shape-only result", file: row.file, line: row.line)
}

extension Tensor {
    /// A contiguous tensor holding `x`'s elements and as many NaN paddings, laid out so that
    /// ``stridedView(of:)`` of it equals `x`.
    public static func stridedSource(for x: Tensor) -> Tensor {
        let source = Tensor(repeating: .nan, shape: x.shape.reversed() + [2])
        withoutGrad { stridedView(of: source) }.assign(x)
        return source
    }

    /// The view of `source` (shape `S.reversed() + [2]`) of shape `S` with every axis's order
    /// reversed (a transpose for two axes), every other element skipped and offset 1: transposed,
    /// gapped and offset at once. Made by differentiable view ops, so gradients reach `source`.
    public static func stridedView(of source: Tensor) -> Tensor {
        let rank = source.rank - 1
        return source.permuted(Array((0..<rank).reversed()) + [rank])
            .narrowed(axis: rank, start: 1, length: 1).squeezed(axis: rank)
    }
}
