import XCTest
import DeepCore

/// The PyTorch fixture written by `Tests/Fixtures/make_sorting.py` (sorting, scatter, cumulative
/// and logical ops), loaded once, with the NaN and infinities it stores beside the values (JSON
/// has none) put back.
let sorting: [String: Tensor] = {
    var fixtures = loadFixtures("sorting")
    for (key, code) in fixtures where key.hasSuffix(".nonfinite") {
        let name = String(key.dropLast(".nonfinite".count))
        guard let finite = fixtures[name] else { continue }
        let special: [Float] = [0, .nan, .infinity, -.infinity]
        let values = zip(finite.scalars, code.scalars).map { v, c in c == 0 ? v : special[Int(c)] }
        fixtures[name] = Tensor(values, shape: finite.shape)
    }
    return fixtures
}()

/// Case `name` of the sorting fixture with values and gradients: `<name>.<input>`, `.y`, `.w`,
/// `.d<input>`.
func sortingCase(_ name: String, inputs: [String] = ["x"]) -> OpFixture {
    OpFixture.named(name, in: sorting, inputs: inputs)
}

/// Values only (an op without gradients, or a second output such as `indices`), compared exactly.
func sortingValues(_ name: String, inputs: [String] = ["x"], output: String = "y") -> OpFixture {
    OpFixture.keys(sorting, inputs: inputs.map { "\(name).\($0)" }, output: "\(name).\(output)", atol: 0, rtol: 0)
}

final class SortingTests: XCTestCase {
    /// Values at least 0.05 apart: no ties, so every selection is differentiable.
    private let distinct = { Tensor.distinctRandom([3, 4, 5]) }

    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    func testSort() {
        assertOpCases([
            OpCase("sort", input: distinct, fixture: sortingCase("sort_last")) { $0.sorted().values },
            OpCase("sort: indices", fixture: sortingValues("sort_last", output: "indices")) { $0[0].sorted().indices },
            OpCase("sort descending", input: distinct, fixture: sortingCase("sort_1_desc")) {
                $0.sorted(along: 1, descending: true).values
            },
            OpCase("sort descending: indices", fixture: sortingValues("sort_1_desc", output: "indices")) {
                $0[0].sorted(along: 1, descending: true).indices
            },
            OpCase("sort along 0", input: distinct) { $0.sorted(along: 0).values },
            // Ties keep their order (PyTorch's stable sort): positions and gradients are PyTorch's.
            OpCase("stable sort of ties", fixture: sortingCase("sort_0_ties")) { $0[0].sorted(along: 0, stable: true).values },
            OpCase("stable sort of ties: indices", fixture: sortingValues("sort_0_ties", output: "indices")) {
                $0[0].sorted(along: -3, stable: true).indices
            },
            OpCase("stable descending sort of ties", fixture: sortingCase("sort_2_ties_desc")) {
                $0[0].sorted(along: 2, descending: true, stable: true).values
            },
            OpCase("stable descending sort of ties: indices", fixture: sortingValues("sort_2_ties_desc", output: "indices")) {
                $0[0].sorted(along: 2, descending: true, stable: true).indices
            },
            // NaN above +inf, -0 equal to 0.
            OpCase("sort of NaN and infinities", fixture: sortingCase("sort_special")) { $0[0].sorted(along: 1).values },
            OpCase("sort of NaN and infinities: indices", fixture: sortingValues("sort_special", output: "indices")) {
                $0[0].sorted(along: 1).indices
            },
            OpCase("descending sort of NaN and infinities", fixture: sortingCase("sort_special_desc")) {
                $0[0].sorted(along: 1, descending: true).values
            },
            OpCase("descending sort of NaN and infinities: indices",
                   fixture: sortingValues("sort_special_desc", output: "indices")) {
                $0[0].sorted(along: 1, descending: true).indices
            },
            OpCase("argsort", fixture: sortingValues("argsort_1")) { $0[0].argsorted(along: 1) },
            OpCase("argsort of ties, descending", fixture: sortingValues("argsort_ties_desc")) {
                $0[0].argsorted(descending: true, stable: true)
            },
        ])
    }

    func testTopK() {
        assertOpCases([
            OpCase("topK 2", input: distinct, fixture: sortingCase("topk_2_last")) { $0.topK(2).values },
            OpCase("topK 2: indices", fixture: sortingValues("topk_2_last", output: "indices")) { $0[0].topK(2).indices },
            OpCase("topK 3 smallest", input: distinct, fixture: sortingCase("topk_3_1_smallest")) {
                $0.topK(3, along: 1, largest: false).values
            },
            OpCase("topK 3 smallest: indices", fixture: sortingValues("topk_3_1_smallest", output: "indices")) {
                $0[0].topK(3, along: 1, largest: false).indices
            },
            OpCase("topK along 0", input: distinct) { $0.topK(2, along: 0).values },
            // Among ties and NaN PyTorch's positions are unspecified: values only (positions below).
            OpCase("topK of ties", fixture: sortingValues("topk_ties")) { $0[0].topK(3).values },
            OpCase("topK of NaN and infinities", fixture: sortingValues("topk_special")) { $0[0].topK(4, along: 1).values },
            OpCase("smallest of NaN and infinities", fixture: sortingValues("topk_special_smallest")) {
                $0[0].topK(4, along: 1, largest: false).values
            },
        ])
    }

    func testKthValueAndMedian() {
        assertOpCases([
            OpCase("kthValue 2", input: distinct, fixture: sortingCase("kthvalue_2_1")) { $0.kthValue(2, along: 1).values },
            OpCase("kthValue 2: indices", fixture: sortingValues("kthvalue_2_1", output: "indices")) {
                $0[0].kthValue(2, along: 1).indices
            },
            OpCase("kthValue 3 keeping dims", input: distinct, fixture: sortingCase("kthvalue_3_last_keep")) {
                $0.kthValue(3, keepingDims: true).values
            },
            OpCase("kthValue 3 keeping dims: indices", fixture: sortingValues("kthvalue_3_last_keep", output: "indices")) {
                $0[0].kthValue(3, keepingDims: true).indices
            },
            OpCase("kthValue of NaN and infinities", fixture: sortingValues("kthvalue_special")) { $0[0].kthValue(6, along: 1).values },
            // An even count: the lower median.
            OpCase("median", input: distinct, fixture: sortingCase("median_1")) { $0.median(along: 1).values },
            OpCase("median: indices", fixture: sortingValues("median_1", output: "indices")) { $0[0].median(along: 1).indices },
            OpCase("median keeping dims", input: distinct, fixture: sortingCase("median_0_keep")) {
                $0.median(along: 0, keepingDims: true).values
            },
            OpCase("median keeping dims: indices", fixture: sortingValues("median_0_keep", output: "indices")) {
                $0[0].median(along: 0, keepingDims: true).indices
            },
            // PyTorch's median breaks ties by position, so its positions and gradients are defined.
            OpCase("median of ties", fixture: sortingCase("median_ties_2")) { $0[0].median(along: 2).values },
            OpCase("median of ties: indices", fixture: sortingValues("median_ties_2", output: "indices")) {
                $0[0].median(along: 2).indices
            },
            // NaN wherever a line holds one, at the first NaN.
            OpCase("median of NaN and infinities", fixture: sortingCase("median_special")) { $0[0].median(along: 1).values },
            OpCase("median of NaN and infinities: indices", fixture: sortingValues("median_special", output: "indices")) {
                $0[0].median(along: 1).indices
            },
            OpCase("median of all", input: distinct, fixture: sortingCase("median_all")) { $0.median() },
            // Ties (and NaN) split the gradient evenly, as PyTorch's.
            OpCase("median of all, ties", fixture: sortingCase("median_all_ties")) { $0[0].median() },
            OpCase("median of all with NaN", fixture: sortingCase("median_all_nan")) { $0[0].median() },
        ])
    }

    // MARK: Properties

    /// Where PyTorch leaves the positions among ties open, each position must hold the value
    /// PyTorch chose, once per line.
    func testPositionsAmongTiesHoldTheirValues() {
        for (name, k, largest) in [("topk_ties", 3, true), ("topk_special", 4, true), ("topk_special_smallest", 4, false)] {
            let x = sorting["\(name).x"]!
            let (values, indices) = x.topK(k, largest: largest)
            assertClose(x.gathered(axis: -1, indices: indices), values, atol: 0, rtol: 0, "\(name): positions")
            let rows = indices.scalars.count / k
            for r in 0..<rows {
                let line = indices.scalars[(r * k)..<((r + 1) * k)]
                XCTAssertEqual(Set(line).count, k, "\(name): row \(r) repeats a position: \(Array(line))")
            }
        }
        let x = sorting["kthvalue_special.x"]!
        let (values, indices) = x.kthValue(6, along: 1, keepingDims: true)
        assertClose(x.gathered(axis: 1, indices: indices), values, atol: 0, rtol: 0, "kthvalue_special: positions")
    }

    /// A long axis and many lines (several threads) against Swift's sort of each line; a
    /// quadratic sort would take minutes here.
    func testLongLinesMatchSwiftSort() {
        let x = Tensor.randn([3, 100_000])
        let (values, indices) = x.sorted(along: 1, descending: true)
        let rows = x.scalars
        for r in 0..<3 {
            let line = Array(rows[(r * 100_000)..<((r + 1) * 100_000)])
            XCTAssertEqual(Array(values.scalars[(r * 100_000)..<((r + 1) * 100_000)]), line.sorted(by: >), "row \(r)")
        }
        assertClose(x.gathered(axis: 1, indices: indices), values, atol: 0, rtol: 0)
        let many = Tensor.randn([500, 64])
        let columns = many.sorted(along: 0).values.mT.scalars
        let expected = many.mT.contiguous().scalars
        for c in 0..<64 {
            XCTAssertEqual(Array(columns[(c * 500)..<((c + 1) * 500)]), Array(expected[(c * 500)..<((c + 1) * 500)]).sorted(), "column \(c)")
        }
    }

    func testShapesAndEdgeCases() {
        let x = Tensor.randn([2, 3, 4])
        XCTAssertEqual(x.topK(0, along: 1).values.shape, [2, 0, 4])
        XCTAssertEqual(x.kthValue(1, along: 0).indices.shape, [3, 4])
        XCTAssertEqual(x.median(along: -1, keepingDims: true).values.shape, [2, 3, 1])
        XCTAssertEqual(x.argsorted(along: 1).shape, [2, 3, 4])
        // Unsorted top k: the same elements (always in order here).
        XCTAssertEqual(x.topK(2, sorted: false).values.scalars, x.topK(2).values.scalars)
        // A 0-D tensor is one element.
        let s = Tensor(scalar: 3)
        XCTAssertEqual(s.sorted().values.shape, [])
        XCTAssertEqual(s.topK(1).indices.scalars, [0])
        XCTAssertEqual(s.median(along: 0).values.item(), 3)
        XCTAssertEqual(Tensor(zeros: [0]).median().item().isNaN, true, "no elements: NaN, as PyTorch")
        XCTAssertEqual(Tensor([2, 1, 2, 2, 1]).median(along: 0).indices.item(), 0, "ties by position")
        XCTAssertFalse(x.argsorted().requiresGrad)
    }

    func testGradientScattersToChosenPositions() {
        let x = Tensor([0.5, 3, -1, 2], shape: [1, 4])
        x.requiresGrad = true
        let (values, _) = x.topK(2)
        (values * Tensor([10, 1], shape: [1, 2])).sum().backward()
        XCTAssertEqual(x.grad!.scalars, [0, 10, 0, 1])
    }
}
