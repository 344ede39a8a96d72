import XCTest
import DeepCore

/// einops: the spec's table of shapes and value checks, error messages, upstream's identity and
/// equivalent patterns, reduction imperatives, repeat/reduce reversion, permutation stress,
/// gradients, and values and gradients against real einops (Tests/Fixtures/make_einops.py).
final class EinopsTests: XCTestCase {
    // MARK: - Helpers

    /// The values 0, 1, 2, … in `shape`.
    private func arange(_ shape: [Int]) -> Tensor {
        Tensor.arange(0, Float(Shape.count(shape))).reshaped(shape)
    }

    private enum Op {
        case rearrange, `repeat`, reduce(EinopsReduction), reduceNamed(String)
    }

    private func run(_ op: Op, _ x: Tensor, _ pattern: String, _ sizes: [String: Int] = [:]) throws -> Tensor {
        switch op {
        case .rearrange: return try x.rearranged(pattern, sizes)
        case .repeat: return try x.repeated(pattern, sizes)
        case .reduce(let reduction): return try x.reduced(pattern, reduction, sizes)
        case .reduceNamed(let name): return try x.reduced(pattern, name, sizes)
        }
    }

    /// `op` on a list input (einops' list forms of rearrange, reduce and repeat).
    private func runList(_ op: Op, _ xs: [Tensor], _ pattern: String, _ sizes: [String: Int] = [:]) throws -> Tensor {
        switch op {
        case .rearrange: return try Tensor.rearranged(xs, pattern, sizes)
        case .repeat: return try Tensor.repeated(xs, pattern, sizes)
        case .reduce(let reduction): return try Tensor.reduced(xs, pattern, reduction, sizes)
        case .reduceNamed(let name): return try Tensor.reduced(xs, pattern, name, sizes)
        }
    }

    /// Fails unless `body` throws an ``EinopsError`` whose message has einops' context (the
    /// pattern quoted, the input shape) and contains `phrase`.
    private func assertEinopsError(_ phrase: String, pattern: String, shape: String,
                                   file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Tensor) {
        do {
            let result = try body()
            XCTFail("\"\(pattern)\" on \(shape) did not throw; gave shape \(result.shape)", file: file, line: line)
        } catch let error as EinopsError {
            XCTAssertTrue(error.message.contains(phrase), "\"\(error.message)\" lacks \"\(phrase)\"", file: file, line: line)
            XCTAssertTrue(error.reason.contains(phrase), "reason \"\(error.reason)\" lacks \"\(phrase)\"", file: file, line: line)
            XCTAssertTrue(error.message.contains("pattern \"\(pattern)\"."), error.message, file: file, line: line)
            XCTAssertTrue(error.message.contains("Input tensor shape: \(shape)."), error.message, file: file, line: line)
        } catch {
            XCTFail("threw \(error), not an EinopsError", file: file, line: line)
        }
    }

    /// Reduces `axes` of `x` with `f` over Doubles, keeping the other axes in order (NumPy's
    /// `x.f(axis=axes)`), by explicit index arithmetic.
    private func referenceReduce(_ x: Tensor, axes: Set<Int>, _ f: ([Double]) -> Double) -> Tensor {
        let kept = x.shape.indices.filter { !axes.contains($0) }
        let outShape = kept.map { x.shape[$0] }
        var groups = [[Double]](repeating: [], count: Shape.count(outShape))
        let values = x.scalars
        let strides = Shape.contiguousStrides(outShape)
        for flat in 0..<values.count {
            var rest = flat, out = 0
            for axis in stride(from: x.rank - 1, through: 0, by: -1) {
                let index = rest % x.shape[axis]
                rest /= x.shape[axis]
                if let k = kept.firstIndex(of: axis) { out += index * strides[k] }
            }
            groups[out].append(Double(values[flat]))
        }
        return Tensor(groups.map { Float(f($0)) }, shape: outShape)
    }

    private func referenceFold(_ reduction: EinopsReduction) -> ([Double]) -> Double {
        switch reduction {
        case .sum: return { $0.reduce(0, +) }
        case .mean: return { $0.reduce(0, +) / Double($0.count) }
        case .max: return { $0.max()! }
        case .min: return { $0.min()! }
        case .prod: return { $0.reduce(1, *) }
        }
    }

    // MARK: - The spec's table

    func testTableOfShapes() throws {
        let big = Tensor.randn([10, 20, 30, 40]), five = Tensor.randn([2, 3, 4, 5, 6])
        let small = Tensor.randn([10, 20]), six = Tensor.randn([1, 2, 3, 5, 7, 11])
        let list = (0..<5).map { _ in Tensor.randn([3, 4]) }
        let plane = Tensor.randn([30, 40]), cube = Tensor.randn([2, 3, 5]), unit = Tensor.randn([1, 2, 4, 6])
        let cases: [(Int, () throws -> Tensor, [Int])] = [
            (1, { try big.rearranged("b c h w -> b h w c") }, [10, 30, 40, 20]),
            (2, { try big.rearranged("b c h w -> b (c h w)") }, [10, 24000]),
            (3, { try big.rearranged("b (c h1 w1) h w -> b c (h h1) (w w1)", ["h1": 2, "w1": 2]) }, [10, 5, 60, 80]),
            (4, { try big.rearranged("b c (h h1) (w w1) -> b (h1 w1 c) h w", ["h1": 2, "w1": 2]) }, [10, 80, 15, 20]),
            (5, { try big.rearranged("b (c g) h w -> g b c h w", ["g": 2]) }, [2, 10, 10, 30, 40]),
            (6, { try five.rearranged("... -> (...)") }, [720]),
            (7, { try five.rearranged("a b ... e -> b (a ...) e") }, [3, 40, 6]),
            (8, { try small.rearranged("b c -> b 1 c 1") }, [10, 1, 20, 1]),
            (9, { try six.rearranged("a b c d e f -> (f e) d (c b a)") }, [77, 5, 6]),
            (10, { try Tensor.rearranged(list, "b h w -> h (b w)") }, [3, 20]),
            (11, { try big.reduced("b c (h h1) (w w1) -> b c h w", .max, ["h1": 2, "w1": 2]) }, [10, 20, 15, 20]),
            (12, { try big.reduced("b c (h1 h2) (w1 w2) -> b c h1 w1", .max, ["h1": 3, "w1": 4]) }, [10, 20, 3, 4]),
            (13, { try big.reduced("b c (h1 2) (w1 2) -> b c h1 w1", .max) }, [10, 20, 15, 20]),
            (14, { try five.reduced("a b c d e -> (e c) a", .max) }, [24, 2]),
            (15, { try five.reduced("(a1 a2) ... (e1 e2) -> ", .max, ["a1": 1, "e2": 2]) }, []),
            (16, { try plane.repeated("h w -> h w c", ["c": 3]) }, [30, 40, 3]),
            (17, { try cube.repeated("a b c -> (c copy a b)", ["copy": 2, "a": 2, "b": 3, "c": 5]) }, [60]),
            (18, { try cube.repeated(" ... -> copy1 ... copy2 ", ["copy1": 2, "copy2": 3]) }, [2, 2, 3, 5, 3]),
            (19, { try unit.repeated("1 b c d -> (d copy 1) 3 b c", ["copy": 3]) }, [18, 3, 2, 4]),
            (20, { try unit.repeated("1 b c d -> (1 1) (1 b) 2 c 3 d (1 1)") }, [1, 2, 2, 4, 3, 6, 1]),
        ]
        XCTAssertEqual(cases.count, 20)
        for (number, body, expected) in cases {
            XCTAssertEqual(try body().shape, expected, "case \(number)")
        }
    }

    func testValueChecks() throws {
        XCTAssertEqual(try arange([2, 3, 4]).rearranged("a b c -> b c a").scalar(at: [2, 3, 1]), 23)
        XCTAssertEqual(try arange([2, 6]).rearranged("a b -> (b a)").scalars, [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11])
        let pair = Tensor([1, 2])
        XCTAssertEqual(try pair.repeated("h -> (h r)", ["r": 2]).scalars, [1, 1, 2, 2])
        XCTAssertEqual(try pair.repeated("h -> (r h)", ["r": 2]).scalars, [1, 2, 1, 2])
        let mean = try arange([2, 4]).reduced("a (b c) -> a b", .mean, ["c": 2])
        XCTAssertEqual(mean.shape, [2, 2])
        XCTAssertEqual(mean.scalars, [0.5, 2.5, 4.5, 6.5])
    }

    func testListInputStacksOnAxisZero() throws {
        let list = (0..<5).map { i in arange([3, 4]) + Float(100 * i) }
        let y = try Tensor.rearranged(list, "b h w -> h (b w)")
        for b in 0..<5 { for h in 0..<3 { for w in 0..<4 {
            XCTAssertEqual(y.scalar(at: [h, b * 4 + w]), list[b].scalar(at: [h, w]))
        } } }
        XCTAssertEqual(try Tensor.rearranged(list, "b h w -> b h w").shape, [5, 3, 4])
    }

    /// Case 14 for every reduction, and upstream's `test_reduction_imperatives`.
    func testReductionsMatchExplicitReduction() throws {
        let base = arange([2, 3, 4, 5, 6])
        for reduction in EinopsReduction.allCases {
            // As upstream: mean and prod on x / mean(x) (prod then underflows or hits the 0).
            let x = reduction == .mean || reduction == .prod ? base * (1 / 359.5) : base
            let fold = referenceFold(reduction)
            let all = referenceReduce(x, axes: [0, 1, 2, 3, 4], fold)
            let ec = referenceReduce(x, axes: [1, 3], fold).permuted([2, 1, 0]).reshaped([-1, 2])
            let cases: [(String, [String: Int], Tensor)] = [
                ("a b c d e -> ", [:], all),
                ("a ... -> ", [:], all),
                ("(a1 a2) ... (e1 e2) -> ", ["a1": 1, "e2": 2], all),
                ("a b c d e -> (e c) a", [:], ec),
                ("a ... c d e -> (e c) a", [:], ec),
                ("a b c d e ... -> (e c) a", [:], ec),
                ("a b c d e -> (e c a)", [:], ec.reshaped([-1])),
                ("(a a2) ... -> (a2 a) ...", ["a2": 1], x),
            ]
            for (pattern, sizes, expected) in cases {
                assertClose(try x.reduced(pattern, reduction, sizes), expected, atol: 1e-4, rtol: 1e-4,
                            "\(reduction) \(pattern)")
            }
        }
    }

    func testReductionNamedByString() throws {
        let x = Tensor.randn([4, 6])
        assertClose(try x.reduced("a (b c) -> a b", "max", ["c": 3]), try x.reduced("a (b c) -> a b", .max, ["c": 3]))
        assertEinopsError("Unknown reduction foo. Expect one of", pattern: "a b -> a", shape: "(4, 6)") {
            try x.reduced("a b -> a", "foo")
        }
    }

    func testReduceWithoutReducedAxesIsRearrange() throws {
        let x = Tensor.randn([2, 3, 4])
        for reduction in EinopsReduction.allCases {
            assertClose(try x.reduced("a b c -> c (a b)", reduction), try x.rearranged("a b c -> c (a b)"))
        }
    }

    func testMaxAndMinPropagateNaN() throws {
        let x = Tensor([1, .nan, 3, 4, 5, 6], shape: [2, 3])
        XCTAssertTrue(try x.reduced("a b -> a", .max).scalars[0].isNaN)
        XCTAssertTrue(try x.reduced("a b -> a", .min).scalars[0].isNaN)
        XCTAssertEqual(try x.reduced("a b -> a", .max).scalars[1], 6)
    }

    // MARK: - Errors

    func testErrorsNameTheProblem() {
        let m = Tensor.randn([2, 3])
        let cases: [(Op, Tensor, String, [String: Int], String, String)] = [
            (.rearrange, m, "a b -> a", [:], "(2, 3)", "Identifiers only on one side of expression (should be on both): {'b'}"),
            (.rearrange, Tensor.randn([2, 2]), "a a -> a", [:], "(2, 2)", "Indexing expression contains duplicate dimension \"a\""),
            (.rearrange, Tensor.randn([2, 3, 4]), "a b -> a b", [:], "(2, 3, 4)", "Wrong shape: expected 2 dims. Received 3-dim tensor."),
            (.rearrange, Tensor.randn([6]), "(a b) -> a b", [:], "(6,)", "Could not infer sizes for {'a', 'b'}"),
            (.rearrange, Tensor.randn([6]), "(a b) -> a b", ["a": 4], "(6,)", "Shape mismatch, can't divide axis of length 6 in chunks of 4"),
            (.rearrange, m, "a b -> a b", ["a": 3], "(2, 3)", "Shape mismatch, 2 != 3"),
            (.rearrange, m, "a b -> a b", ["c": 3], "(2, 3)", "Axis c is not used in transform"),
            (.rearrange, m, "a b -> (a b", [:], "(2, 3)", "Imbalanced parentheses in expression: \" (a b\""),
            (.rearrange, m, "a b) -> a b", [:], "(2, 3)", "Brackets are not balanced"),
            (.rearrange, m, "((a b)) -> a b", [:], "(2, 3)", "Axis composition is one-level"),
            (.rearrange, m, "a b -> ... a b", [:], "(2, 3)", "Ellipsis found in right side, but not left side of a pattern a b -> ... a b"),
            (.rearrange, m, "(a ...) -> a ...", [:], "(2, 3)", "Ellipsis inside parenthesis in the left side is not allowed"),
            (.rearrange, m, "(...) -> (...)", [:], "(2, 3)", "Ellipsis inside parenthesis in the left side is not allowed"),
            (.rearrange, m, "a ... ... -> a", [:], "(2, 3)", "only one ellipsis for tensor"),
            (.rearrange, m, "a . b -> a b", [:], "(2, 3)", "Expression may contain dots only inside ellipsis (...)"),
            (.rearrange, m, "a 2 -> a", [:], "(2, 3)", "Non-unitary anonymous axes are not supported in rearrange"),
            (.rearrange, m, "_a b -> b _a", [:], "(2, 3)", "should not start or end with underscore"),
            (.rearrange, m, "a b_ -> b_ a", [:], "(2, 3)", "should not start or end with underscore"),
            (.rearrange, m, "a 2b -> a", [:], "(2, 3)", "Invalid axis identifier: 2b\nnot a valid python identifier"),
            (.rearrange, m, "a 0 -> a", [:], "(2, 3)", "Anonymous axis should have positive length, not 0"),
            (.rearrange, m, "a b- -> a b", [:], "(2, 3)", "Unknown character '-'"),
            (.rearrange, m, "a b", [:], "(2, 3)", "exactly one \"->\""),
            (.rearrange, m, "a b -> a b -> a b", [:], "(2, 3)", "exactly one \"->\""),
            (.rearrange, m, "a b c ... -> a b c ...", [:], "(2, 3)", "Wrong shape: expected >=3 dims. Received 2-dim tensor."),
            (.rearrange, Tensor.randn([2, 3, 4]), "a ... -> a", [:], "(2, 3, 4)", "Identifiers only on one side of expression (should be on both): {'…'}"),
            (.rearrange, m, "a b -> a b", ["_x": 1], "(2, 3)", "Invalid name for an axis _x"),
            (.rearrange, Tensor.randn([2, 3, 4]), "a (b c) -> a b c", ["b": 4], "(2, 3, 4)", "Wrong shape: expected 2 dims"),
            (.repeat, m, "a b -> a b c", [:], "(2, 3)", "Specify sizes for new axes in repeat: {'c'}"),
            (.repeat, m, "a b -> a", [:], "(2, 3)", "Unexpected identifiers on the left side of repeat: {'b'}"),
            (.repeat, m, "a 3 -> a", [:], "(2, 3)", "Unexpected identifiers on the left side of repeat: {3-axis}"),
            (.repeat, m, "a b -> a b c", ["c": -1], "(2, 3)", "must not be negative"),
            (.reduce(.max), m, "a b -> a c", [:], "(2, 3)", "Unexpected identifiers on the right side of reduce max: {'c'}"),
            (.reduce(.sum), m, "a b -> a 2", [:], "(2, 3)", "Unexpected identifiers on the right side of reduce sum: {2-axis}"),
            (.reduce(.max), Tensor.randn([2, 0]), "a b -> a", [:], "(2, 0)", "Cannot reduce max over axes with no elements"),
            (.reduceNamed("foo"), m, "a b -> a", [:], "(2, 3)", "Unknown reduction foo. Expect one of ('sum', 'mean', 'max', 'min', 'prod')."),
        ]
        for (op, x, pattern, sizes, shape, phrase) in cases {
            assertEinopsError(phrase, pattern: pattern, shape: shape) { try run(op, x, pattern, sizes) }
        }
    }

    /// Issue 17: axis lengths (given or anonymous) whose product overflows `Int` trapped; they
    /// throw, naming the axes and their lengths.
    func testAxisLengthsThatOverflowThrow() throws {
        let big = 1 << 62
        let cases: [(Op, Tensor, String, [String: Int], String, String)] = [
            (.rearrange, Tensor.randn([8, 3]), "(a b) c -> a b c", ["a": big, "b": 4], "(8, 3)",
             "Axis lengths overflow at axis 'b': 'a' (4611686018427387904) × 'b' (4) exceeds Int.max"),
            (.rearrange, Tensor(zeros: [0, 3]), "(a b) c -> a b c", ["a": big], "(0, 3)",
             "Axis lengths overflow at axis 'c': 'a' (4611686018427387904) × 'c' (3)"),
            (.repeat, Tensor.randn([3]), "h -> (h 4611686018427387904 4)", [:], "(3,)",
             "Axis lengths overflow at axis 4611686018427387904-axis"),
            (.repeat, Tensor.randn([1]), "h -> (h 4611686018427387904 4)", [:], "(1,)", "at axis 4-axis"),
            (.repeat, Tensor.randn([3]), "h -> h w", ["w": Int.max], "(3,)", "Axis lengths overflow at axis 'w'"),
            (.reduce(.sum), Tensor(zeros: [0, 4]), "(a b) c -> c", ["a": big, "b": 4], "(0, 4)", "Axis lengths overflow"),
            (.reduce(.mean), Tensor.randn([6]), "(a 4611686018427387904 4) -> a", [:], "(6,)", "Axis lengths overflow"),
        ]
        for (op, x, pattern, sizes, shape, phrase) in cases {
            assertEinopsError(phrase, pattern: pattern, shape: shape) { try run(op, x, pattern, sizes) }
        }
        // Lengths whose product an Int holds but no memory could: a thrown error, not the
        // allocator's end of the process (shape-only inputs still give the shape).
        assertEinopsError("The result would hold 3000000000000 elements ('h' (3) × 'w' (1000000000000)), more than this machine's",
                          pattern: "h -> h w", shape: "(3,)") { try run(.repeat, Tensor.randn([3]), "h -> h w", ["w": 1_000_000_000_000]) }
        XCTAssertEqual(try Tensor(metaShape: [3]).repeated("h -> h w", ["w": 1_000_000_000_000]).shape, [3, 1_000_000_000_000])
        // Lengths whose product an Int holds still work, beside a zero-length axis too.
        XCTAssertEqual(try Tensor(zeros: [0, 3]).rearranged("(a b) c -> a b c", ["a": 1 << 40]).shape, [1 << 40, 0, 3])
    }

    /// ``EinopsCall``: one call per line of text, run shape-only, for corpora and fuzzing.
    func testEinopsCallParsesALineAndRunsShapeOnly() throws {
        XCTAssertEqual(try EinopsCall(parsing: "rearrange | 6, 4 | (a b) c -> a b c | a=2").outputShape(), [2, 3, 4])
        XCTAssertEqual(try EinopsCall(parsing: "repeat | 3 | h -> (h 2) w | w=5").outputShape(), [6, 5])
        XCTAssertEqual(try EinopsCall(parsing: " mean|2,3|a b -> a ").outputShape(), [2])
        XCTAssertEqual(try EinopsCall(parsing: "rearrange |  | -> 1 1 |").outputShape(), [1, 1])
        // Shape-only: sizes no memory could hold cost nothing.
        XCTAssertEqual(try EinopsCall(parsing: "repeat | 1000000 | h -> h w | w=1000000000").outputShape(), [1_000_000, 1_000_000_000])
        let call = EinopsCall(.reduce(.max), shape: [2, 3], pattern: "a b -> b")
        XCTAssertEqual(try call.apply(to: Tensor([1, 5, 3, 4, 2, 6], shape: [2, 3])).scalars, [4, 5, 6])
        XCTAssertEqual(try EinopsCall(parsing: "max | 2, 3 | a b -> b"), call)
        let malformed = [
            ("rearrange | 2 | a -> a | a", "size 'a' is not name=integer"),
            ("rearrange | 2 | a -> a | a=1, a=2", "size 'a' is given twice"),
            ("transpose | 2 | a -> a", "operation 'transpose' is not"),
            ("rearrange | 2, -1 | a b -> a", "size '-1' is not a non-negative integer"),
            ("rearrange | 4611686018427387904, 4 | a b -> a", "product exceeds Int.max"),
            ("rearrange | 2", "has 2 fields"),
        ]
        for (line, phrase) in malformed {
            XCTAssertThrowsError(try EinopsCall(parsing: line)) { error in
                XCTAssertTrue((error as? EinopsError)?.message.contains(phrase) == true, "\(line): \(error)")
                XCTAssertTrue("\(error)".contains(line), "\(error)")
            }
        }
    }

    func testErrorMessageHasEinopsLayout() {
        do {
            _ = try Tensor.randn([6]).rearranged("(a b) -> a b", ["a": 4])
            XCTFail("no error")
        } catch let error as EinopsError {
            XCTAssertEqual(error.message, """
                 Error while processing rearrange-reduction pattern "(a b) -> a b".
                 Input tensor shape: (6,). Additional info: {'a': 4}.
                 Shape mismatch, can't divide axis of length 6 in chunks of 4
                """)
            XCTAssertEqual(error.description, error.message)
        } catch {
            XCTFail("\(error)")
        }
    }

    func testListInputErrors() {
        do {
            _ = try Tensor.rearranged([], "b h -> h b")
            XCTFail("empty list did not throw")
        } catch let error as EinopsError {
            XCTAssertTrue(error.message.contains("Input is list.") && error.message.contains("empty list"), error.message)
        } catch { XCTFail("\(error)") }
        do {
            _ = try Tensor.rearranged([Tensor.randn([2]), Tensor.randn([3])], "b h -> h b")
            XCTFail("ragged list did not throw")
        } catch let error as EinopsError {
            XCTAssertTrue(error.message.contains("must have one shape"), error.message)
        } catch { XCTFail("\(error)") }
        // After stacking, errors quote the stacked shape, as einops does.
        assertEinopsError("Wrong shape: expected 2 dims. Received 3-dim tensor.", pattern: "b h -> h b", shape: "(2, 3, 4)") {
            try Tensor.rearranged([Tensor.randn([3, 4]), Tensor.randn([3, 4])], "b h -> h b")
        }
    }

    // MARK: - Upstream's pattern suites

    func testIdentityPatterns() throws {
        let x = arange([2, 3, 4, 5, 6])
        for pattern in ["...->...", "a b c d e-> a b c d e", "a b c d e ...-> ... a b c d e",
                        "a b c d e ...-> a ... b c d e", "... a b c d e -> ... a b c d e", "a ... e-> a ... e",
                        "a ... -> a ... ", "a ... c d e -> a (...) c d e"] {
            XCTAssertEqual(try x.rearranged(pattern).shape, x.shape, pattern)
            XCTAssertEqual(try x.rearranged(pattern).scalars, x.scalars, pattern)
        }
    }

    func testEquivalentPatterns() throws {
        let x = arange([2, 3, 4, 5, 6])
        let rearrangePairs = [
            ("a b c d e -> (a b) c d e", "a b ... -> (a b) ... "),
            ("a b c d e -> a b (c d) e", "... c d e -> ... (c d) e"),
            ("a b c d e -> a b c d e", "... -> ... "),
            ("a b c d e -> (a b c d e)", "... ->  (...)"),
            ("a b c d e -> b (c d e) a", "a b ... -> b (...) a"),
            ("a b c d e -> b (a c d) e", "a b ... e -> b (a ...) e"),
        ]
        for (p1, p2) in rearrangePairs {
            let (y1, y2) = (try x.rearranged(p1), try x.rearranged(p2))
            XCTAssertEqual(y1.shape, y2.shape, p1)
            XCTAssertEqual(y1.scalars, y2.scalars, p1)
        }
        let reductionPairs = [
            ("a b c d e -> ", " ... ->  "),
            ("a b c d e -> (e a)", "a ... e -> (e a)"),
            ("a b c d e -> d (a e)", " a b c d e ... -> d (a e) "),
            ("a b c d e -> (a b)", " ... c d e  -> (...) "),
        ]
        for reduction in [EinopsReduction.min, .max, .sum] {
            for (p1, p2) in reductionPairs {
                let (y1, y2) = (try x.reduced(p1, reduction), try x.reduced(p2, reduction))
                XCTAssertEqual(y1.shape, y2.shape, p1)
                XCTAssertEqual(y1.scalars, y2.scalars, "\(reduction) \(p1)")
            }
        }
    }

    func testCollapsedEllipsis() throws {
        let x = Tensor(zeros: [1, 1, 1, 1, 1])
        XCTAssertEqual(try x.rearranged("a b c d ... ->  a b c ... d").shape, [1, 1, 1, 1, 1])
        XCTAssertEqual(try x.rearranged("... ->  (...)").shape, [1])
        XCTAssertEqual(try Tensor(zeros: [2, 3]).rearranged("a b ... -> a ... b").shape, [2, 3])
        XCTAssertEqual(try Tensor(zeros: [2, 3]).rearranged("a b ... -> a (...) b").shape, [2, 1, 3])
        assertEinopsError("Ellipsis inside parenthesis in the left side", pattern: "a b c d (...) ->  a b c ... d",
                          shape: "(1, 1, 1, 1, 1)") { try x.rearranged("a b c d (...) ->  a b c ... d") }
    }

    /// Upstream's `test_repeat_numpy`: repeating then reducing with min and max gives the input back.
    func testRepeatThenReduceGivesBackInput() throws {
        let x = arange([2, 3, 5])
        XCTAssertEqual(try x.repeated("a b c -> copy a b c ", ["copy": 1]).scalars, x.scalars)
        let cases: [(String, [String: Int])] = [
            ("a b c -> c a b", [:]),
            ("a b c -> (c copy a b)", ["copy": 2, "a": 2, "b": 3, "c": 5]),
            ("a b c -> (a copy) b c ", ["copy": 1]),
            ("a b c -> (c a) (copy1 b copy2)", ["a": 2, "copy1": 1, "copy2": 2]),
            ("a ...  -> a ... copy", ["copy": 4]),
            ("... c -> ... (copy1 c copy2)", ["copy1": 1, "copy2": 2]),
            ("...  -> ... ", [:]),
            (" ...  -> copy1 ... copy2 ", ["copy1": 2, "copy2": 3]),
            ("a b c  -> copy1 a copy2 b c () ", ["copy1": 2, "copy2": 1]),
            ("a b c -> a (b 4) c 2", [:]),
        ]
        for (pattern, sizes) in cases {
            let sides = pattern.split(separator: "->", omittingEmptySubsequences: false)
            let reversed = "\(sides[1])->\(sides[0])"
            let repeated = try x.repeated(pattern, sizes)
            for reduction in [EinopsReduction.min, .max] {
                let back = try repeated.reduced(reversed, reduction, sizes)
                XCTAssertEqual(back.shape, x.shape, pattern)
                XCTAssertEqual(back.scalars, x.scalars, "\(reduction) \(reversed)")
            }
        }
    }

    /// Random permutations of up to 6 axes against `permuted`, against upstream's bit trick, and
    /// with random output groups against `permuted` + `reshaped`.
    func testRandomPermutations() throws {
        var rng = RandomGenerator(seed: 42)
        for rank in 1...6 {
            for _ in 0..<4 {
                let shape = (0..<rank).map { _ in Int.random(in: 1...3, using: &rng) }
                let x = Tensor.randn(shape, generator: &rng)
                let permutation = Array(0..<rank).shuffled(using: &rng)
                let left = (0..<rank).map { "i\($0)" }.joined(separator: " ")
                let right = permutation.map { "i\($0)" }.joined(separator: " ")
                let expected = x.permuted(permutation).contiguous()
                XCTAssertEqual(try x.rearranged("\(left) -> \(right)").scalars, expected.scalars, "\(shape) \(permutation)")
                // Group consecutive output axes at random cut points.
                var groups: [[Int]] = [[]]
                for axis in permutation {
                    if !groups[groups.count - 1].isEmpty && Bool.random(using: &rng) { groups.append([]) }
                    groups[groups.count - 1].append(axis)
                }
                let grouped = groups.map { "(" + $0.map { "i\($0)" }.joined(separator: " ") + ")" }.joined(separator: " ")
                let y = try x.rearranged("\(left) -> \(grouped)")
                XCTAssertEqual(y.shape, groups.map { $0.reduce(1) { $0 * shape[$1] } }, grouped)
                XCTAssertEqual(y.scalars, expected.scalars, grouped)
                // And back: split the groups again.
                let sizes = Dictionary(uniqueKeysWithValues: (0..<rank).map { ("i\($0)", shape[$0]) })
                XCTAssertEqual(try y.rearranged("\(grouped) -> \(left)", sizes).scalars, x.scalars, grouped)
            }
            // Upstream's bit trick on (2, …, 2): element k of the result has bit `p[a]` set when
            // bit `a` of the element it came from was set.
            let x = arange([Int](repeating: 2, count: rank))
            let permutation = Array(0..<rank).shuffled(using: &rng)
            let left = (0..<rank).reversed().map { "i\($0)" }.joined(separator: " ")
            let right = permutation.reversed().map { "i\($0)" }.joined(separator: " ")
            let expected = (0..<(1 << rank)).map { v in
                Float(permutation.enumerated().reduce(0) { acc, pair in acc | (((v >> pair.offset) & 1) << pair.element) })
            }
            XCTAssertEqual(try x.rearranged("\(left) -> \(right)").scalars, expected, "\(left) -> \(right)")
        }
    }

    func testPatternsAreCachedPerRank() throws {
        for _ in 0..<2 {
            XCTAssertEqual(try Tensor(zeros: [2, 3]).rearranged("a ... -> (...) a").shape, [3, 2])
            XCTAssertEqual(try Tensor(zeros: [2, 3, 4]).rearranged("a ... -> (...) a").shape, [12, 2])
            XCTAssertEqual(try Tensor(zeros: [2, 12]).rearranged("a (b c) -> c b a", ["b": 3]).shape, [4, 3, 2])
            XCTAssertEqual(try Tensor(zeros: [2, 12]).rearranged("a (b c) -> c b a", ["b": 4]).shape, [3, 4, 2])
            assertEinopsError("Could not infer sizes", pattern: "a (b c) -> c b a", shape: "(2, 12)") {
                try Tensor(zeros: [2, 12]).rearranged("a (b c) -> c b a")
            }
        }
    }

    // MARK: - Gradients

    func testRearrangeGradients() {
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 6, 4])]) { xs in
            try! xs[0].rearranged("b (h w) c -> b c w h", ["h": 2])
        }
        // A non-contiguous input, composition and decomposition together.
        assertGradientsMatchFiniteDifferences([Tensor.randn([4, 6])]) { xs in
            try! xs[0].mT.rearranged("(a b) (c d) -> (d a) c b", ["a": 3, "c": 2])
        }
        // An input used twice, once through a list.
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3]), Tensor.randn([2, 3])]) { xs in
            try! Tensor.rearranged([xs[0], xs[1], xs[0]], "n a b -> b (a n)")
        }
    }

    func testReduceGradients() {
        for reduction in [EinopsReduction.sum, .mean, .max, .min] {
            assertGradientsMatchFiniteDifferences([Tensor.distinctRandom([2, 4, 6])], "\(reduction)") { xs in
                try! xs[0].reduced("b (h 2) (w w2) -> w b h", reduction, ["w2": 3])
            }
            assertGradientsMatchFiniteDifferences([Tensor.distinctRandom([6, 4])], "\(reduction) of a transposed input") { xs in
                try! xs[0].mT.reduced("a ... -> ", reduction)
            }
        }
        // prod, with values away from zero, and with an exact zero (the gradient is then the
        // product of the others, not 0/0).
        assertGradientsMatchFiniteDifferences([Tensor.rand([3, 4], low: 0.5, high: 1.5)], "prod") { xs in
            try! xs[0].reduced("a b -> b 1", .prod)
        }
        let withZero = Tensor([2, 0, 3, 0.5], shape: [2, 2])
        withZero.requiresGrad = true
        try! withZero.reduced("a b -> a", .prod).sum().backward()
        XCTAssertEqual(withZero.grad?.scalars, [0, 2, 0.5, 3])
    }

    func testMaxGradientGoesToTheFirstMaximum() throws {
        let x = Tensor([1, 5, 5, 2], shape: [1, 4])
        x.requiresGrad = true
        try x.reduced("a b -> a", .max).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [0, 1, 0, 0])
    }

    func testRepeatGradients() {
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3])]) { xs in
            try! xs[0].repeated("h w -> (w r) h 2", ["r": 2])
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 2])]) { xs in
            try! xs[0].mT.repeated("... -> c (... r)", ["c": 2, "r": 3]) * xs[0].repeated("h w -> 2 (w h 3)")
        }
    }

    // MARK: - Against real einops

    func testMatchesEinopsFixture() throws {
        let f = loadFixtures("einops")
        let cases: [(String, Op, String, [String: Int])] = [
            ("space_to_depth", .rearrange, "b c (h h1) (w w1) -> b (h1 w1 c) h w", ["h1": 2, "w1": 2]),
            ("split_group", .rearrange, "b (c g) h w -> g b c h w", ["g": 2]),
            ("ellipsis_merge", .rearrange, "a b ... e -> b (a ...) e", [:]),
            ("reverse_groups", .rearrange, "a b c d e f -> (f e) d (c b a)", [:]),
            ("max_pool", .reduce(.max), "b c (h1 2) (w1 2) -> b c h1 w1", [:]),
            ("adaptive_mean", .reduce(.mean), "b c (h1 h2) (w1 w2) -> b c h1 w1", ["h1": 2, "w1": 3]),
            ("min_transpose", .reduce(.min), "a b c d e -> (e c) a", [:]),
            ("sum_ellipsis", .reduce(.sum), "a ... (e1 e2) -> e1 a", ["e2": 2]),
            ("prod_unit", .reduce(.prod), "a b c -> c 1 a", [:]),
            ("repeat_compose", .repeat, "a b c -> (c copy a b)", ["copy": 2, "a": 2, "b": 3, "c": 5]),
            ("repeat_anonymous", .repeat, "1 b c d -> (d copy 1) 3 b c", ["copy": 3]),
            ("repeat_ellipsis", .repeat, " ... -> copy1 ... copy2 ", ["copy1": 2, "copy2": 3]),
            ("list_concat", .rearrange, "b h w -> h (b w)", [:]),  // as a list of x's rows
            ("list_reduce_mean", .reduce(.mean), "n h w -> w h", [:]),
            ("list_reduce_max", .reduce(.max), "n h (w w2) -> (n h) w", ["w2": 2]),
            ("list_repeat", .repeat, "n h w -> h (n w) c", ["c": 3]),
        ]
        XCTAssertEqual(cases.count * 4, f.count, "fixture and table disagree")
        for (name, op, pattern, sizes) in cases {
            guard let x = f[name + ".x"], let y = f[name + ".y"], let w = f[name + ".w"], let grad = f[name + ".grad"] else {
                XCTFail("fixture lacks \(name)"); continue
            }
            x.requiresGrad = true
            let out = name.hasPrefix("list_")
                ? try runList(op, (0..<x.shape[0]).map { x[$0] }, pattern, sizes)
                : try run(op, x, pattern, sizes)
            assertClose(out, y, name)
            (out * w).sum().backward()
            assertClose(x.grad ?? Tensor(zeros: x.shape), grad, "gradient of \(name)")
        }
    }

    /// A recipe analysed for no sizes is not reused for a size named "" (nor one for the names
    /// ["a", "b"] for the name "a,b"): the cache key kept the names apart only when joined with
    /// commas (a trap found by fuzz-einops; seen with a size line "=3").
    func testRecipesForDifferentSizeNamesAreNotShared() throws {
        let x = Tensor(zeros: [2, 3, 4])
        XCTAssertEqual(try x.rearranged("a b c -> a b c").shape, [2, 3, 4])
        XCTAssertThrowsError(try x.rearranged("a b c -> a b c", ["": 3]))
        XCTAssertEqual(try x.rearranged("a b c -> a b c", ["a": 2, "b": 3]).shape, [2, 3, 4])
        XCTAssertThrowsError(try x.rearranged("a b c -> a b c", ["a,b": 2]))
    }

    // MARK: - Lists for reduce and repeat

    func testListReduceAndRepeatStackOnAxisZero() throws {
        let list = (0..<4).map { i in arange([2, 3]) * Float(i + 1) }
        let stacked = Tensor.stack(list, axis: 0)
        for reduction in EinopsReduction.allCases {
            assertClose(try Tensor.reduced(list, "n h w -> w h", reduction), try stacked.reduced("n h w -> w h", reduction),
                        "\(reduction)")
        }
        assertClose(try Tensor.reduced(list, "n h (w w2) -> h w", "sum", ["w2": 3]),
                    try stacked.reduced("n h (w w2) -> h w", .sum, ["w2": 3]))
        XCTAssertEqual(try Tensor.repeated(list, "n h w -> h (n w) c", ["c": 2]).scalars,
                       try stacked.repeated("n h w -> h (n w) c", ["c": 2]).scalars)
        XCTAssertEqual(try Tensor.repeated(list, "n h w -> n h w").shape, [4, 2, 3])
    }

    func testListReduceAndRepeatErrors() {
        func assertListError(_ phrase: String, _ operation: String, _ body: () throws -> Tensor, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { error in
                guard let error = error as? EinopsError else { return XCTFail("\(error) is not an EinopsError", line: line) }
                XCTAssertTrue(error.message.contains("Error while processing \(operation)-reduction pattern"), error.message, line: line)
                XCTAssertTrue(error.message.contains("Input is list.") && error.reason.contains(phrase), error.message, line: line)
            }
        }
        assertListError("can't be applied to an empty list", "mean") { try Tensor.reduced([], "n h -> h", .mean) }
        assertListError("can't be applied to an empty list", "max") { try Tensor.reduced([], "n h -> h", "max") }
        assertListError("can't be applied to an empty list", "repeat") { try Tensor.repeated([], "n h -> h n c", ["c": 2]) }
        assertListError("must have one shape", "sum") { try Tensor.reduced([Tensor.randn([2]), Tensor.randn([3])], "n h -> h", .sum) }
        // After stacking, errors quote the stacked shape, as einops does.
        assertEinopsError("Specify sizes for new axes in repeat: {'c'}", pattern: "n h -> h n c", shape: "(2, 3)") {
            try Tensor.repeated([Tensor.randn([3]), Tensor.randn([3])], "n h -> h n c")
        }
        assertEinopsError("Unknown reduction foo", pattern: "n h -> h", shape: "(2, 3)") {
            try Tensor.reduced([Tensor.randn([3]), Tensor.randn([3])], "n h -> h", "foo")
        }
    }

    func testListReduceAndRepeatGradients() {
        // Two draws of one grid of values, one shifted by half a step: no ties between them either.
        assertGradientsMatchFiniteDifferences([Tensor.distinctRandom([2, 3]), Tensor.distinctRandom([2, 3], seed: 1) + 0.025]) { xs in
            try! Tensor.reduced([xs[0], xs[1]], "n h w -> w", .max) + Tensor.reduced([xs[0], xs[1], xs[0]], "n h w -> w", .mean)
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3]), Tensor.randn([2, 3])]) { xs in
            try! Tensor.repeated([xs[0], xs[1].mT.mT], "n h w -> (w c) n h", ["c": 2])
        }
    }

    // MARK: - pack and unpack (einops' tests/test_packing.py)

    /// einops' test_numpy_trivial: pack as stack and concatenate, and its pattern errors.
    func testPackStacksAndConcatenates() throws {
        let (h, w) = (13, 17)
        let r = Tensor.randn([h, w]), g = Tensor.randn([h, w]), b = Tensor.randn([h, w])
        let embeddings = Tensor.randn([h, w, 32])
        func packed(_ tensors: [Tensor], _ pattern: String) throws -> Tensor { try pack(tensors, pattern).packed }
        XCTAssertEqual(try packed([r, g, b], "h w *").scalars, Tensor.stack([r, g, b], axis: 2).scalars)
        XCTAssertEqual(try packed([r, g, b], "h * w").scalars, Tensor.stack([r, g, b], axis: 1).scalars)
        XCTAssertEqual(try packed([r, g, b], "* h w").scalars, Tensor.stack([r, g, b], axis: 0).scalars)
        XCTAssertEqual(try packed([r, g, b], "h *").scalars, Tensor.concatenate([r, g, b], axis: 1).scalars)
        XCTAssertEqual(try packed([r, g, b], "* w").scalars, Tensor.concatenate([r, g, b], axis: 0).scalars)
        let withEmbeddings = try pack([r, g, b, embeddings], "h w *")
        XCTAssertEqual(withEmbeddings.packed.scalars, Tensor.concatenate([r, g, b].map { $0.unsqueezed(axis: 2) } + [embeddings], axis: 2).scalars)
        XCTAssertEqual(withEmbeddings.shapes, [[], [], [], [32]])
        _ = try pack([r, g, b], "some_name_for_H some_name_for_w1 *")
        _ = try pack([r, g, b, embeddings], "h H *")   // capital and non-capital are different

        let errors: [(String, String)] = [
            ("h w nonexisting_axis *", "packed tensor #0 (enumeration starts with 0) has shape (13, 17), while pattern h w nonexisting_axis * assumes at least 3 axes"),
            ("h _w *", "Invalid axis name _w in pack(..., \"h _w *\")"),
            ("h_ w *", "Invalid axis name h_ in pack"),
            ("1h_ w *", "Invalid axis name 1h_ in pack"),
            ("1 w *", "Invalid axis name 1 in pack"),
            ("h h *", "Duplicates in axes names in pack(..., \"h h *\")"),
            ("h w", "No *-axis in pack(..., \"h w\")"),
            ("h * w *", "Duplicates in axes names"),
        ]
        for (pattern, phrase) in errors {
            XCTAssertThrowsError(try pack([r, g, b, embeddings], pattern), pattern) { error in
                XCTAssertTrue((error as? EinopsError)?.message.contains(phrase) == true, "\(pattern): \(error)")
            }
        }
        XCTAssertThrowsError(try pack([], "h *")) { XCTAssertTrue("\($0)".contains("empty list"), "\($0)") }
        XCTAssertThrowsError(try pack([r, Tensor.randn([h, 2 * w])], "h w *")) { error in
            XCTAssertTrue("\(error)".contains("packed tensor #1 (enumeration starts with 0) has shape (13, 34), which differs from "
                                              + "tensor #0's (13, 17) outside the axes of * in h w *"), "\(error)")
        }
    }

    /// einops' test_pack_unpack_with_numpy: every case has an axis of length 5 at `*`.
    func testUnpackInvertsPack() throws {
        let cases: [([Int], String)] = [
            ([5], "*"), ([5, 7], "* seven"), ([7, 5], "seven *"),
            ([5, 3, 4], "* three four"), ([4, 5, 3], "four * three"), ([3, 4, 5], "three four *"),
        ]
        for (shape, pattern) in cases {
            let x = Tensor.randn(shape)
            let dim = pattern.split(separator: " ").firstIndex(of: "*")!
            /// Unpacks, packs back and checks the values; returns the pieces.
            func unpackAndPack(_ ps: [[Int]], line: UInt = #line) throws -> [Tensor] {
                let parts = try unpack(x, ps, pattern)
                XCTAssertEqual(try pack(parts, pattern).packed.scalars, x.scalars, "\(pattern) \(ps)", line: line)
                return parts
            }
            func assertFails(_ ps: [[Int]], _ pattern: String, line: UInt = #line) {
                XCTAssertThrowsError(try unpack(x, ps, pattern), "\(pattern) \(ps)", line: line) { error in
                    XCTAssertTrue(error is EinopsError, "\(error)", line: line)
                }
            }
            _ = try unpackAndPack([[2], [1], [2]])
            assertFails([[2], [1], [2]], pattern + " non_existent_axis")
            assertFails([[2], [1], [1]], pattern)
            assertFails([[4], [1], [1]], pattern)
            for ps in [[[2], [1], [-1]], [[2], [-1], [2]], [[-1], [1], [2]]] { _ = try unpackAndPack(ps) }
            XCTAssertEqual(try unpackAndPack([[2], [3], [-1]])[2].shape[dim], 0)
            assertFails([[2], [4], [-1]], pattern)   // asking for more elements than available
            assertFails([[-1], [1], [5]], pattern)
            assertFails([[2], [-1], [4]], pattern)   // einops lets this through (overlapping pieces)
            for ps in [[[1, 2], [1, 1], [-1, 1]], [[1, 2], [1, -1], [1, 1]], [[2, -1], [1, 2], [1, 1]]] {
                XCTAssertTrue(try unpackAndPack(ps).allSatisfy { $0.rank == x.rank + 1 }, "\(ps)")
            }
            for ps in [[[-1, 2], [1], [5]], [[2, 2], [2], [5, -1]],          // more elements, -1 nested
                       [[2, 1], [1], [3, -1]], [[2, 1], [3, -1], [1]], [[3, -1], [2, 1], [1]],   // not divisible
                       [[2, 3]], [[1], [5]], [[1], [5], [-1]], [[1], [2, 3]], [[1], [5], [-1, 2]],  // test_pack_unpack_array_api
                       [[-1], [-1], [5]], [[-1, -1], [5]], [[-2], [7]], [[0, -1], [5]]] {
                assertFails(ps, pattern)
            }
            // -1 takes zero.
            for ps in [[[0], [5], [-1]], [[0], [-1], [5]], [[-1], [5], [0]], [[2, -1], [1, 5]]] { _ = try unpackAndPack(ps) }
        }
    }

    func testUnpackErrorMessages() {
        let x = Tensor.randn([2, 5])
        let cases: [([[Int]], String, String)] = [
            ([[2], [3]], "b * c", "unpack(..., b * c) received input of wrong dim with shape (2, 5)"),
            ([[-1], [-1]], "b *", "unpack(..., b *) received more than one -1 in [[-1], [-1]] and can't infer dimensions"),
            ([[2], [4]], "b *", "Error during unpack(..., \"b *\"): could not split axis of size 5 into requested [[2], [4]]"),
            ([[1 << 62, 4]], "b *", "could not split axis of size 5 into requested [[4611686018427387904, 4]]"),
            ([[1 << 62], [1 << 62], [-1]], "b *", "could not split axis of size 5"),
            ([[2], [3]], "b b *", "Duplicates in axes names in unpack(..., \"b b *\")"),
        ]
        for (ps, pattern, phrase) in cases {
            XCTAssertThrowsError(try unpack(x, ps, pattern)) { error in
                XCTAssertTrue((error as? EinopsError)?.message.contains(phrase) == true, "\(error)")
            }
        }
    }

    func testPackMatchesEinopsWithGradients() throws {
        let f = loadFixtures("einops_extras")
        let cases: [(String, String, [[Int]])] = [
            ("channels_last", "h w *", [[], [], [], [5]]),
            ("tokens", "b * c", [[], [2, 3], [4]]),
            ("leading", "* h w", [[], [2]]),
        ]
        XCTAssertEqual(f.keys.filter { $0.hasPrefix("pack/") }.count, cases.reduce(0) { $0 + 2 + 2 * $1.2.count })
        for (name, pattern, shapes) in cases {
            let inputs = shapes.indices.map { "x\($0)" }
            let fixture = OpFixture.keys(f, inputs: inputs.map { "pack/\(name).\($0)" }, output: "pack/\(name).packed",
                                         weight: "pack/\(name).w", gradients: inputs.map { "pack/\(name).d\($0)" })
            XCTAssertEqual(try pack(fixture.inputs, pattern).shapes, shapes, name)
            assertOpCases([OpCase(name, inputs: { fixture.inputs.map { Tensor.randn($0.shape) } }, fixture: fixture) {
                try! pack($0, pattern).packed
            }])
            let parts = try unpack(fixture.output, shapes, pattern)
            for (part, x) in zip(parts, fixture.inputs) { assertClose(part, x, name) }
        }
        // unpack's gradient: each piece's gradient lands in its slice.
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 7, 3])]) { xs in
            let parts = try! unpack(xs[0], [[2], [-1, 2], [1]], "b * c")
            return try! pack([parts[0] * 2, parts[1] * parts[1], parts[2]], "b * c").packed
        }
    }

    // MARK: - parseShape (einops' tests/test_other.py)

    func testParseShape() throws {
        let x = Tensor(zeros: [10, 20, 30, 40])
        XCTAssertEqual(try parseShape(x, "a b c d"), ["a": 10, "b": 20, "c": 30, "d": 40])
        XCTAssertEqual(try parseShape(x, "_ _ _ _"), [:])
        XCTAssertEqual(try parseShape(x, "_ _ _ hello"), ["hello": 40])
        XCTAssertEqual(try parseShape(x, "_ _ a1 a1a111a"), ["a1": 30, "a1a111a": 40])
        XCTAssertEqual(try parseShape(Tensor(metaShape: [10, 20]), "b c"), ["b": 10, "c": 20], "shape-only")
        let ellipsisCases: [([Int], String, [String: Int])] = [
            ([10, 20], "...", [:]),
            ([10], "... a", ["a": 10]),
            ([10, 20], "... a", ["a": 20]),
            ([10, 20, 30], "... a", ["a": 30]),
            ([10, 20, 30, 40], "... a", ["a": 40]),
            ([10], "a ...", ["a": 10]),
            ([10, 20], "a ...", ["a": 10]),
            ([10, 20, 30], "a ...", ["a": 10]),
            ([10, 20, 30, 40], "a ...", ["a": 10]),
            ([10, 20, 30, 40], " a ... b", ["a": 10, "b": 40]),
            ([10, 40], " a ... b", ["a": 10, "b": 40]),
        ]
        for (shape, pattern, expected) in ellipsisCases {
            XCTAssertEqual(try parseShape(Tensor(zeros: shape), pattern), expected, "\(shape) \(pattern)")
        }
        let anonymousCases: [([Int], String, [String: Int])] = [
            ([1, 2, 3, 4], "1 2 3 a", ["a": 4]),
            ([10, 1, 2], "a 1 2", ["a": 10]),
            ([10, 1, 2], "a () 2", ["a": 10]),
        ]
        for (shape, pattern, expected) in anonymousCases {
            XCTAssertEqual(try parseShape(Tensor(zeros: shape), pattern), expected, "\(shape) \(pattern)")
        }
        // The result sizes another call.
        let y = Tensor(zeros: [20 * 30])
        XCTAssertEqual(try y.rearranged("(b c) -> b c", try parseShape(x, "_ b c _")).shape, [20, 30])
    }

    func testParseShapeFailures() {
        let x = Tensor(zeros: [1, 2, 3, 4])
        let cases: [(String, String)] = [
            ("a b c", "Can't parse shape with different number of dimensions: a b c (1, 2, 3, 4)"),
            ("2 a b c", "Length of anonymous axis does not match: 2 a b c (1, 2, 3, 4)"),
            ("a b c ()", "Length of axis is not 1: a b c () (1, 2, 3, 4)"),
            ("a b c d e", "Can't parse shape with different number of dimensions"),
            ("a b c d e ...", "Can't parse shape with this number of dimensions: a b c d e ... (1, 2, 3, 4)"),
            ("a (b c) d", "Can't parse shape with composite axes: a (b c) d (1, 2, 3, 4)"),
            ("a a b b", "Indexing expression contains duplicate dimension \"a\""),
            ("a b (...)", "Can't parse shape with an ellipsis in parenthesis"),
            ("a b c _d", "Invalid axis identifier: _d"),
        ]
        for (pattern, phrase) in cases {
            XCTAssertThrowsError(try parseShape(x, pattern), pattern) { error in
                guard let error = error as? EinopsError else { return XCTFail("\(error) is not an EinopsError") }
                XCTAssertTrue(error.reason.contains(phrase), "\(pattern): \(error.reason)")
                XCTAssertTrue(error.message.contains("parse_shape pattern \"\(pattern)\".\n Input tensor shape: (1, 2, 3, 4)."), error.message)
            }
        }
    }
}
