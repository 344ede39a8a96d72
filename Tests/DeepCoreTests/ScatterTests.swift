import XCTest
import DeepCore

final class ScatterTests: XCTestCase {
    // The index tensors of Tests/Fixtures/make_sorting.py.
    /// Distinct within each row: every source element is written (finite differences hold).
    private let rows = Tensor([4, 0, 1, 3, 2, 1], shape: [3, 2])
    /// Distinct within each column.
    private let columns = Tensor([2, 0, 1, 1, 0, 0, 2, 2, 0, 1], shape: [2, 5])
    /// Repeated positions within rows.
    private let repeats = Tensor([1, 1, 3, 0, 4, 0, 2, 2, 2], shape: [3, 3])

    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    func testScatter() {
        let xs = ["x", "src"]
        assertOpCases([
            OpCase("scatter along 1", inputs: { [Tensor.randn([3, 5]), Tensor.randn([3, 2])] },
                   fixture: sortingCase("scatter_1", inputs: xs)) { $0[0].scattered(axis: 1, indices: self.rows, source: $0[1]) },
            OpCase("scatter along 0", inputs: { [Tensor.randn([3, 5]), Tensor.randn([2, 5])] },
                   fixture: sortingCase("scatter_0", inputs: xs)) { $0[0].scattered(axis: 0, indices: self.columns, source: $0[1]) },
            // The later of two elements for one position is written, as PyTorch on CPU.
            OpCase("scatter with repeated positions", fixture: sortingValues("scatter_repeats", inputs: xs)) {
                $0[0].scattered(axis: -1, indices: self.repeats, source: $0[1])
            },
            // A source larger than the indices: only its leading part is read (PyTorch's backward
            // refuses this case, so finite differences only).
            OpCase("scatter from a larger source", inputs: { [Tensor.randn([3, 5]), Tensor.randn([4, 3])] }) {
                $0[0].scattered(axis: 1, indices: self.rows, source: $0[1])
            },
            OpCase("scatter a value", input: { Tensor.randn([3, 5]) }, fixture: sortingCase("scatter_value")) {
                $0.scattered(axis: 1, indices: self.repeats, value: 2.5)
            },
        ])
    }

    func testScatterAddAndIndexAdd() {
        let xs = ["x", "src"]
        assertOpCases([
            OpCase("scatter-add along 1", inputs: { [Tensor.randn([3, 5]), Tensor.randn([3, 3])] },
                   fixture: sortingCase("scatter_add_1", inputs: xs)) {
                $0[0].scatteredAdding(axis: 1, indices: self.repeats, source: $0[1])
            },
            OpCase("scatter-add along 0", inputs: { [Tensor.randn([3, 5]), Tensor.randn([2, 5])] },
                   fixture: sortingCase("scatter_add_0", inputs: xs)) {
                $0[0].scatteredAdding(axis: 0, indices: self.columns, source: $0[1])
            },
            OpCase("scatter-add from a larger source", inputs: { [Tensor.randn([3, 5]), Tensor.randn([3, 4])] }) {
                $0[0].scatteredAdding(axis: 1, indices: self.repeats, source: $0[1])
            },
            OpCase("index-add along 0, alpha 2", inputs: { [Tensor.randn([5, 3]), Tensor.randn([4, 3])] },
                   fixture: sortingCase("index_add_0", inputs: xs)) {
                $0[0].indexAdded(axis: 0, indices: [0, 4, 2, 0], source: $0[1], alpha: 2)
            },
            OpCase("index-add along 1", inputs: { [Tensor.randn([2, 4, 3]), Tensor.randn([2, 3, 3])] },
                   fixture: sortingCase("index_add_1", inputs: xs)) {
                $0[0].indexAdded(axis: -2, indices: [3, 1, 3], source: $0[1])
            },
        ])
    }

    func testMaskedFillAndSelect() {
        let mask34 = sorting["masked_fill_broadcast_self.mask"]!, mask4 = sorting["masked_fill_tensor.mask"]!
        assertOpCases([
            // The tensor broadcasts to the mask's shape, as in torch.masked_fill.
            OpCase("fill, tensor broadcast to the mask", input: { Tensor.randn([3, 1]) },
                   fixture: sortingCase("masked_fill_broadcast_self")) { $0.filled(where: mask34, with: 5) },
            OpCase("fill with a tensor value", inputs: { [Tensor.randn([3, 4]), Tensor(scalar: 0.7)] },
                   fixture: sortingCase("masked_fill_tensor", inputs: ["x", "v"])) {
                $0[0].filled(where: mask4, with: $0[1])
            },
            OpCase("masked select", input: { Tensor.randn([3, 4]) }, fixture: sortingCase("masked_select")) {
                $0.maskedSelected(mask34)
            },
            OpCase("masked select, tensor broadcast to the mask", input: { Tensor.randn([4]) },
                   fixture: sortingCase("masked_select_broadcast")) { $0.maskedSelected(mask34) },
        ])
    }

    // MARK: Properties

    func testScatterIsTheInverseOfGather() {
        let x = Tensor.randn([4, 6])
        let index = Tensor.randn([4, 6]).argsorted(along: 1).narrowed(axis: 1, start: 0, length: 3)
        let picked = x.gathered(axis: 1, indices: index)
        let back = Tensor(zeros: [4, 6]).scattered(axis: 1, indices: index, source: picked)
        let kept = Tensor(zeros: [4, 6]).scattered(axis: 1, indices: index, value: 1)
        assertClose(back, x * kept, atol: 0, rtol: 0)
        // One-hot rows from class indices.
        let labels = Tensor([2, 0], shape: [2, 1])
        XCTAssertEqual(Tensor(zeros: [2, 3]).scattered(axis: 1, indices: labels, value: 1).scalars, [0, 0, 1, 1, 0, 0])
        XCTAssertEqual(Tensor(zeros: [2, 3]).scatteredAdding(axis: 1, indices: Tensor([1, 1, 1, 0, 2, 2], shape: [2, 3]),
                                                          source: Tensor(ones: [2, 3])).scalars, [0, 3, 0, 1, 0, 2])
    }

    func testScatterGradientsAsPyTorch() {
        // An overwritten position gets no gradient from the output; every source element read
        // gets the gradient of the position it names.
        let x = Tensor(zeros: [1, 4]), source = Tensor([1, 2, 3], shape: [1, 3])
        x.requiresGrad = true
        source.requiresGrad = true
        let y = x.scattered(axis: 1, indices: Tensor([2, 0, 2], shape: [1, 3]), source: source)
        XCTAssertEqual(y.scalars, [2, 0, 3, 0])
        (y * Tensor([10, 20, 30, 40], shape: [1, 4])).sum().backward()
        XCTAssertEqual(x.grad!.scalars, [0, 20, 0, 40])
        XCTAssertEqual(source.grad!.scalars, [30, 10, 30])
    }

    func testShapesAndEmptyIndices() {
        let x = Tensor.randn([3, 5])
        XCTAssertEqual(x.scattered(axis: 0, indices: Tensor(zeros: [0, 5]), value: 1).scalars, x.scalars)
        XCTAssertEqual(x.maskedSelected(Tensor(zeros: [3, 5])).shape, [0])
        XCTAssertEqual(Tensor.randn([3, 1]).filled(where: Tensor(ones: [4]), with: 2).shape, [3, 4])
        XCTAssertEqual(Tensor(zeros: [5, 2]).indexAdded(axis: 0, indices: [], source: Tensor(zeros: [0, 2])).shape, [5, 2])
    }
}
