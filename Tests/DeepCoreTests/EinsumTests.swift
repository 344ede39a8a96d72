import XCTest
import DeepCore

/// einsum in PyTorch's grammar (values and gradients against torch.einsum from
/// Tests/Fixtures/make_einsum.py, finite differences, strided and shape-only inputs through the op
/// table; malformed equations; GEMM for products) and in einops' notation (einops' own
/// tests/test_einsum.py, values and gradients against einops from make_einops.py).
final class EinsumTests: XCTestCase {
    /// The table of make_einsum.py: name, equation, operand shapes.
    static let cases: [(String, String, [[Int]])] = [
        ("matmul", "ij,jk->ik", [[3, 4], [4, 5]]),
        ("attention_scores", "bhqd,bhkd->bhqk", [[2, 3, 4, 5], [2, 3, 6, 5]]),
        ("attention_values", "bhqk,bhkd->bhqd", [[2, 3, 4, 6], [2, 3, 6, 5]]),
        ("outer", "i,j->ij", [[3], [4]]),
        ("trace", "ii", [[4, 4]]),
        ("diagonal", "ii->i", [[4, 4]]),
        ("transpose", "ij->ji", [[3, 4]]),
        ("sum_all", "ij->", [[3, 4]]),
        ("ellipsis_broadcast", "...ij,...jk->...ik", [[2, 1, 3, 4], [5, 4, 2]]),
        ("three_operands", "ij,jk,kl->il", [[2, 3], [3, 4], [4, 5]]),
        ("bilinear", "bn,anm,bm->ba", [[2, 3], [4, 3, 5], [2, 5]]),
        ("implicit_matmul", "ij,jk", [[3, 4], [4, 2]]),
        ("implicit_order", "bA,Ab", [[3, 4], [4, 3]]),
        ("implicit_ascii", "zaB", [[2, 3, 4]]),
        ("hadamard", "ij,ij->ij", [[3, 4], [3, 4]]),
        ("batched_dot", "bi,bi->b", [[5, 4], [5, 4]]),
        ("batch_diagonal", "bii->bi", [[2, 3, 3]]),
        ("trace_middle", "iji->j", [[3, 4, 3]]),
        ("triple_diagonal", "iii->i", [[3, 3, 3]]),
        ("diagonal_product", "ii,ij->j", [[3, 3], [3, 4]]),
        ("label_broadcast", "ij,j->ij", [[3, 1], [4]]),
        ("scalar_operand", "i,->i", [[3], []]),
        ("sum_before_product", "ijk,kl->l", [[2, 3, 4], [4, 5]]),
        ("ellipsis_middle", "i...i->...", [[3, 2, 4, 3]]),
        ("ellipsis_summed", "...ij->j", [[2, 3, 4, 5]]),
        ("ellipsis_output_first", "b...d,de->...be", [[2, 3, 4, 5], [5, 6]]),
        ("spaces", " i j , j k -> k i ", [[2, 3], [3, 4]]),
        ("mixed_batch", "bij,bjk,bk->bi", [[2, 3, 4], [2, 4, 5], [2, 5]]),
        ("transposed_result", "ij,kj->jik", [[2, 3], [4, 3]]),
    ]

    func testMatchesPyTorchWithGradientsStridedAndShapeOnly() {
        let f = loadFixtures("einsum")
        XCTAssertEqual(f.count, Self.cases.reduce(0) { $0 + 2 + 2 * $1.2.count }, "fixture and table disagree: rerun make_einsum.py")
        assertOpCases(Self.cases.map { name, equation, shapes in
            OpCase(name, inputs: { shapes.map { Tensor.randn($0) } },
                   fixture: .named(name, in: f, inputs: shapes.indices.map { "x\($0)" })) { try! einsum(equation, $0) }
        })
    }

    // MARK: - Errors

    /// Fails unless `body` throws an ``EinsumError`` quoting `equation` whose reason contains `phrase`.
    private func assertEinsumError(_ phrase: String, _ equation: String, _ shapes: [[Int]],
                                   file: StaticString = #filePath, line: UInt = #line) {
        let operands = shapes.map { Tensor(zeros: $0) }
        do {
            let y = try einsum(equation, operands)
            XCTFail("\"\(equation)\" on \(shapes) did not throw; gave shape \(y.shape)", file: file, line: line)
        } catch let error as EinsumError {
            XCTAssertEqual(error.equation, equation, file: file, line: line)
            XCTAssertTrue(error.reason.contains(phrase), "reason \"\(error.reason)\" lacks \"\(phrase)\"", file: file, line: line)
            XCTAssertTrue(error.message.contains("einsum equation \"\(equation)\"."), error.message, file: file, line: line)
        } catch {
            XCTFail("threw \(error), not an EinsumError", file: file, line: line)
        }
    }

    func testMalformedEquationsThrowNamingTheEquation() {
        let cases: [(String, [[Int]], String)] = [
            ("ij,jk->ik", [[2, 3]], "the equation names 2 operands, but 1 was given"),
            ("ij", [[2, 3], [3]], "the equation names 1 operand, but 2 were given"),
            ("", [], "einsum needs at least one operand"),
            ("i1", [[2, 3]], "invalid subscript '1' at index 1: subscripts are letters in [a-zA-Z]"),
            ("ij,jké->ik", [[2, 3], [3, 4]], "invalid subscript 'é' at index 5"),
            ("ij->i->j", [[2, 3]], "invalid subscript '-' (an arrow is written ->, once) at index 5"),
            ("ij-", [[2, 3]], "invalid subscript '-'"),
            ("ij>i", [[2, 3]], "invalid subscript '>'"),
            ("i\tj", [[2, 3]], "invalid subscript '\t' at index 1"),
            ("i.j", [[2, 3]], "'.' at index 1 in operand 0 is not part of an ellipsis (...)"),
            ("ij..", [[2, 3]], "'.' at index 2 in operand 0 is not part of an ellipsis"),
            ("i......", [[2, 3]], "operand 0 has a second ellipsis, at index 4"),
            ("ij->.", [[2, 3]], "'.' at index 4 in the output is not part of an ellipsis"),
            ("...ij->......", [[2, 3]], "the output has a second ellipsis"),
            ("ij->ii", [[3, 3]], "output subscript i appears more than once in the output"),
            ("ij->k", [[3, 3]], "output subscript k does not appear in any operand"),
            ("ijk", [[2, 3]], "operand 0 has 2 axes but 3 subscripts (ijk) and no ellipsis"),
            ("i", [[2, 3]], "operand 0 has 2 axes but 1 subscript (i) and no ellipsis"),
            ("...ijk", [[2, 3]], "operand 0 has 2 axes, fewer than its 3 subscripts (...ijk)"),
            ("i,jk", [[2], [2, 3, 4]], "operand 1 has 3 axes but 2 subscripts (jk)"),
        ]
        for (equation, shapes, phrase) in cases { assertEinsumError(phrase, equation, shapes) }
    }

    func testSizesThatDoNotFitThrow() {
        let cases: [(String, [[Int]], String)] = [
            ("ii->i", [[3, 4]], "subscript i is repeated in operand 0 with sizes 3 and 4"),
            ("i,i->i", [[3], [2]], "subscript i has size 2 in operand 1, which does not broadcast with size 3 seen before"),
            ("ij,ij->", [[3, 4], [0, 4]], "subscript i has size 0 in operand 1, which does not broadcast with size 3"),
            ("ij,jk->ik", [[2, 3], [4, 5]], "subscript j has size 4 in operand 1"),
            ("a...,a...->...", [[2, 3], [2, 4]], "axis 0 of the ellipsis has size 4 in operand 1, which does not broadcast with size 3"),
            ("...i,...i->...", [[2, 3, 5], [4, 5]], "axis 1 of the ellipsis has size 4 in operand 1"),
        ]
        for (equation, shapes, phrase) in cases { assertEinsumError(phrase, equation, shapes) }
    }

    func testErrorMessageLayout() {
        XCTAssertThrowsError(try einsum("ij,jk->ik", Tensor(zeros: [2, 3]), Tensor(zeros: [4, 5]))) { error in
            XCTAssertEqual("\(error)", """
                Error while processing einsum equation "ij,jk->ik". Operand shapes: (2, 3), (4, 5).
                 subscript j has size 4 in operand 1, which does not broadcast with size 3 seen before
                """)
        }
    }

    /// A result or intermediate product that cannot be counted, or would not fit in memory,
    /// throws before anything is allocated.
    func testProductsTooLargeThrow() {
        let big = 1 << 40
        XCTAssertThrowsError(try einsum("i,j->ij", Tensor(metaShape: [big]), Tensor(metaShape: [big]))) { error in
            XCTAssertTrue("\(error)".contains("a product over subscript i (\(big)) × subscript j (\(big)) would take more than Int.max"),
                          "\(error)")
        }
        // Real operands of 1 MiB each whose outer product would take 4 TiB.
        let n = 1 << 20
        XCTAssertThrowsError(try einsum("i,j->ij", Tensor(zeros: [n]), Tensor(zeros: [n]))) { error in
            XCTAssertTrue("\(error)".contains("MiB of memory"), "\(error)")
        }
        // Shape-only operands of any size are fine while every count fits.
        XCTAssertEqual(try einsum("i,j->ij", Tensor(metaShape: [n]), Tensor(metaShape: [n])).shape, [n, n])
    }

    // MARK: - Semantics

    /// Products that sum run as GEMM: the FLOPs counted for shape-only operands are those of one
    /// matmul per pair (2·B·M·N·K), and the values agree with `matmul`.
    func testProductsRunAsMatrixProducts() throws {
        func flops(_ equation: String, _ shapes: [[Int]]) throws -> Int {
            let before = FlopCounter.total
            _ = try einsum(equation, shapes.map { Tensor(metaShape: $0) })
            return FlopCounter.total - before
        }
        XCTAssertEqual(try flops("ij,jk->ik", [[3, 4], [4, 5]]), 2 * 3 * 4 * 5)
        XCTAssertEqual(try flops("bhqd,bhkd->bhqk", [[2, 3, 4, 5], [2, 3, 6, 5]]), 2 * 2 * 3 * 4 * 6 * 5)
        XCTAssertEqual(try flops("bhqk,bhkd->bhqd", [[2, 3, 4, 6], [2, 3, 6, 5]]), 2 * 2 * 3 * 4 * 5 * 6)
        // Left to right: (2×3)·(3×4), then (2×4)·(4×5).
        XCTAssertEqual(try flops("ij,jk,kl->il", [[2, 3], [3, 4], [4, 5]]), 2 * 2 * 3 * 4 + 2 * 2 * 4 * 5)
        // The bilinear form: b·n times a·n·m (n summed, b and a·m kept), then a batched product over b.
        XCTAssertEqual(try flops("bn,anm,bm->ba", [[2, 3], [4, 3, 5], [2, 5]]), 2 * 2 * 3 * 20 + 2 * 2 * 4 * 5)

        let a = Tensor.randn([3, 5, 7]), b = Tensor.randn([3, 7, 4])
        assertClose(try einsum("bij,bjk->bik", a, b), matmul(a, b), atol: 1e-5, rtol: 1e-5)
        assertClose(try einsum("bij,bkj->bik", a, b.mT), matmul(a, b), atol: 1e-5, rtol: 1e-5)
        assertClose(try einsum("bji,bjk->bik", a.mT, b), matmul(a, b), atol: 1e-5, rtol: 1e-5)
    }

    func testTransposeAndDiagonalAreViews() throws {
        let x = Tensor.randn([3, 3])
        XCTAssertTrue(try einsum("ij->ji", x).storage === x.storage)
        let d = try einsum("ii->i", x)
        XCTAssertTrue(d.storage === x.storage)
        XCTAssertEqual(d.scalars, [x.scalar(at: [0, 0]), x.scalar(at: [1, 1]), x.scalar(at: [2, 2])])
    }

    func testZeroSizedAxes() throws {
        XCTAssertEqual(try einsum("ij,jk->ik", Tensor(zeros: [2, 0]), Tensor(zeros: [0, 3])).scalars, [Float](repeating: 0, count: 6))
        XCTAssertEqual(try einsum("ij,jk->ik", Tensor(zeros: [0, 2]), Tensor.randn([2, 3])).shape, [0, 3])
        XCTAssertEqual(try einsum("i,i->", Tensor(zeros: [0]), Tensor(zeros: [0])).scalars, [0])
        XCTAssertEqual(try einsum("i,i->i", Tensor(zeros: [1]), Tensor(zeros: [0])).shape, [0])
    }

    func testImplicitOutputsAndScalars() throws {
        XCTAssertEqual(try einsum("ba,Ab", Tensor.randn([3, 4]), Tensor.randn([5, 3])).shape, [5, 4])
        XCTAssertEqual(try einsum("...ij,...jk", Tensor.randn([2, 1, 3, 4]), Tensor.randn([5, 4, 6])).shape, [2, 5, 3, 6])
        XCTAssertEqual(try einsum("->", Tensor(scalar: 2)).scalars, [2])
        XCTAssertEqual(try einsum("", Tensor(scalar: 2)).scalars, [2])
        XCTAssertEqual(try einsum(",->", Tensor(scalar: 2), Tensor(scalar: 3)).scalars, [6])
        XCTAssertEqual(try einsum("ij->...ij", Tensor.randn([3, 4])).shape, [3, 4])
        XCTAssertEqual(try einsum("ij->...", Tensor.randn([3, 4])).shape, [])
        let x = Tensor.randn([2, 3])
        assertClose(try einsum("ij->", x), x.sum())
        assertClose(try einsum("...,...->...", x, Tensor([1, 2, 3])), x * Tensor([1, 2, 3]))
    }

    // MARK: - einops' notation (einops' tests/test_einsum.py)

    /// The functional cases of einops' test_einsum.py: values and gradients against einops on
    /// torch (make_einops.py, some shapes reduced), and the output shapes with einops' shapes.
    func testEinopsNotationMatchesEinops() throws {
        let f = loadFixtures("einops_extras")
        let cases: [(String, String, [[Int]], [Int])] = [
            ("basic", "b c h w, b w -> b h", [[2, 3, 4, 5], [2, 5]], [2, 4]),
            ("three_tensors", "b c h w, b w, b c -> b h", [[2, 3, 40, 5], [2, 5], [2, 3]], [2, 40]),
            ("ellipsis_full_names", "... one two three, three four five -> ... two five", [[32, 5, 2, 3, 4], [4, 5, 6]], [32, 5, 3, 6]),
            ("ellipsis_at_end", "one two three ..., three four five -> two five ...", [[2, 3, 4, 32, 5], [4, 5, 6]], [3, 6, 32, 5]),
            ("ellipsis_on_both", "... one two three, ... three four five -> ... two five",
             [[32, 5, 2, 3, 4], [32, 5, 4, 5, 6]], [32, 5, 3, 6]),
            ("underscores", "first_tensor second_tensor -> first_tensor", [[5, 4]], [5]),
            ("trace", "i i -> ", [[5, 5]], []),
            ("spaces", " one  two  ,  three four->two  four  ", [[2, 3], [4, 5]], [3, 5]),
            ("trace_middle", "i middle i -> middle", [[5, 10, 5]], [10]),
            ("ellipsis_middle", "i ... i -> ...", [[5, 3, 2, 1, 4, 5]], [3, 2, 1, 4]),
            ("first_last_product", "i ... i -> i ...", [[5, 3, 2, 1, 4, 5]], [5, 3, 2, 1, 4]),
            ("triple_diagonal", "one one one -> one", [[5, 5, 5]], [5]),
            ("axis_swap", "i j k -> j i k", [[1, 2, 3]], [2, 1, 3]),
            ("identity", "... -> ...", [[5, 4, 3, 2, 1]], [5, 4, 3, 2, 1]),
            ("elementwise_three", "..., ..., ... -> ...", [[3, 2], [3, 2], [3, 2]], [3, 2]),
            ("summation", "index ->", [[10]], []),
            ("attention", "b h q d, b h k d -> b h q k", [[2, 3, 4, 5], [2, 3, 6, 5]], [2, 3, 4, 6]),
        ]
        XCTAssertEqual(f.keys.filter { $0.hasPrefix("einsum/") }.count, cases.reduce(0) { $0 + 2 + 2 * $1.2.count })
        for (name, pattern, shapes, expected) in cases {
            XCTAssertEqual(try einsum(shapes.map { Tensor.rand($0) }, pattern: pattern).shape, expected, pattern)
            var inputs: [Tensor] = []
            while let x = f["einsum/\(name).x\(inputs.count)"] { inputs.append(x) }
            let fixture = OpFixture.named("einsum/\(name)", in: f, inputs: inputs.indices.map { "x\($0)" })
            assertOpCases([OpCase(name, fixture: fixture) { try! einsum($0, pattern: pattern) }])
        }
    }

    func testEinopsNotationErrors() {
        let x = Tensor.rand([5, 1])
        let cases: [(String, [Tensor], String)] = [
            ("i () -> i", [x], "Singleton () axes are not yet supported in einsum."),
            ("i 1 -> i", [x], "Singleton () axes are not yet supported in einsum."),
            ("a b -> (a b)", [x], "Shape rearrangement is not yet supported in einsum."),
            ("(a b) -> a b", [Tensor.rand([10, 1])], "Shape rearrangement is not yet supported in einsum."),
            ("i 2 -> i", [x], "Anonymous axes are not yet supported in einsum."),
            ("i 2j -> i", [x], "Invalid axis identifier: 2j"),
            ("i j k", [Tensor.rand([5, 3, 2])], "Einsum pattern must contain '->'."),
            ("i j -> k", [x], "Unknown axis k on right side of einsum i j -> k."),
            ("i j -> i i", [x], "Indexing expression contains duplicate dimension \"i\""),
            ("(...) -> ...", [x], "Ellipsis inside parenthesis is not supported in einsum."),
            ("i j -> i -> j", [x], "Einsum pattern must contain '->' only once."),
            ("i j -> i", [], "einsum takes at least one tensor"),
            ("i j, j k -> i k", [x], "The pattern has 2 expressions on its left side, for 1 tensor"),
            ("i j, j k -> i k", [Tensor.rand([5, 2]), Tensor.rand([3, 3])], "axis j has size 3 in operand 1, which does not broadcast with size 2"),
            ("i j k -> i", [x], "operand 0 has 2 axes but 3 axes (i j k)"),
        ]
        for (pattern, tensors, phrase) in cases {
            XCTAssertThrowsError(try einsum(tensors, pattern: pattern), pattern) { error in
                guard let error = error as? EinopsError else { return XCTFail("\(pattern): \(error) is not an EinopsError") }
                XCTAssertTrue(error.reason.contains(phrase), "\(pattern): \"\(error.reason)\" lacks \"\(phrase)\"")
                XCTAssertTrue(error.message.contains("einsum pattern \"\(pattern)\"."), error.message)
            }
        }
        // More names than einops' 52 letters are fine here.
        let names = (0..<60).map { "axis\($0)" }.joined(separator: " ")
        XCTAssertEqual(try einsum(Tensor(zeros: [Int](repeating: 1, count: 60)), pattern: "\(names) ->").shape, [])
    }
}
