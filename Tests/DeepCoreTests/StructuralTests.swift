import XCTest
import DeepCore

final class StructuralTests: XCTestCase {
    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    private let x = { Tensor.randn([3, 4, 5]) }
    private let m = { Tensor.randn([4, 5]) }

    func testFlipAndRoll() {
        assertOpCases([
            OpCase("flip [0, 2]", input: x, fixture: structural("flip_02")) { $0.flipped(axes: [0, 2]) },
            OpCase("flip [-1]", input: x, fixture: structural("flip_last")) { $0.flipped(axes: [-1]) },
            OpCase("flip []", input: x, fixture: structural("flip_none")) { $0.flipped(axes: []) },
            OpCase("roll 1 along 2", input: x, fixture: structural("roll_1_2")) { $0.rolled(shift: 1, axis: 2) },
            OpCase("roll (2, -1) along (0, 1)", input: x, fixture: structural("roll_multi")) {
                $0.rolled(shifts: [2, -1], axes: [0, 1])
            },
            OpCase("roll 5, flattened", input: x, fixture: structural("roll_flat")) { $0.rolled(shifts: [5]) },
            OpCase("roll -7 along 1", input: x, fixture: structural("roll_big")) { $0.rolled(shifts: [-7], axes: [1]) },
            OpCase("roll (1, 1) along (2, 2)", input: x, fixture: structural("roll_repeat")) {
                $0.rolled(shifts: [1, 1], axes: [2, 2])
            },
        ])
    }

    func testTrianglesAndDiagonals() {
        let tall = { Tensor.randn([5, 4]) }
        assertOpCases([
            OpCase("tril", input: x, fixture: structural("tril_0")) { $0.lowerTriangle() },
            OpCase("tril 1", input: x, fixture: structural("tril_1")) { $0.lowerTriangle(diagonal: 1) },
            OpCase("tril -1", input: x, fixture: structural("tril_m1")) { $0.lowerTriangle(diagonal: -1) },
            OpCase("triu", input: x, fixture: structural("triu_0")) { $0.upperTriangle() },
            OpCase("triu 2", input: x, fixture: structural("triu_2")) { $0.upperTriangle(diagonal: 2) },
            OpCase("triu -1", input: x, fixture: structural("triu_m1")) { $0.upperTriangle(diagonal: -1) },
            OpCase("tril -2 of a tall matrix", input: tall, fixture: structural("tril_tall_m2")) {
                $0.lowerTriangle(diagonal: -2)
            },
            OpCase("triu 1 of a tall matrix", input: tall, fixture: structural("triu_tall_1")) { $0.upperTriangle(diagonal: 1) },
            OpCase("diagonal", input: m, fixture: structural("diagonal")) { $0.diagonal() },
            OpCase("diagonal 1", input: m, fixture: structural("diagonal_1")) { $0.diagonal(offset: 1) },
            OpCase("diagonal -2", input: m, fixture: structural("diagonal_m2")) { $0.diagonal(offset: -2) },
            OpCase("diagonal 1 of axes 2, 0", input: x, fixture: structural("diagonal_1_2_0")) {
                $0.diagonal(offset: 1, axis1: 2, axis2: 0)
            },
            OpCase("diagonal -1 of axes -1, -2", input: x, fixture: structural("diagonal_m1_last")) {
                $0.diagonal(offset: -1, axis1: -1, axis2: -2)
            },
        ])
    }

    /// The grids are stacked into one tensor for the table.
    func testMeshgrid() {
        let two = { [Tensor.randn([3]), Tensor.randn([4])] }
        assertOpCases([
            OpCase("meshgrid ij", inputs: two, fixture: structural("meshgrid_ij", inputs: ["x0", "x1"])) {
                Tensor.stack(Tensor.meshgrid($0, indexing: .ij))
            },
            OpCase("meshgrid xy", inputs: two, fixture: structural("meshgrid_xy", inputs: ["x0", "x1"])) {
                Tensor.stack(Tensor.meshgrid($0, indexing: .xy))
            },
            OpCase("meshgrid xy of three", inputs: { two() + [Tensor.randn([2])] },
                   fixture: structural("meshgrid_xy3", inputs: ["x0", "x1", "x2"])) {
                Tensor.stack(Tensor.meshgrid($0, indexing: .xy))
            },
        ])
    }

    func testRepeatInterleaveAndTile() {
        assertOpCases([
            OpCase("repeat_interleave 2, flattened", input: m, fixture: structural("repeat_interleave_flat")) {
                $0.repeatedInterleave(2)
            },
            OpCase("repeat_interleave 3 along 1", input: m, fixture: structural("repeat_interleave_1")) {
                $0.repeatedInterleave(3, axis: 1)
            },
            OpCase("repeat_interleave counts along 1", input: m, fixture: structural("repeat_interleave_counts_1")) {
                $0.repeatedInterleave([1, 0, 2, 1, 3], axis: 1)
            },
            OpCase("repeat_interleave counts along -2", input: m, fixture: structural("repeat_interleave_counts_0")) {
                $0.repeatedInterleave([2, 1, 0, 1], axis: -2)
            },
            OpCase("repeat_interleave one count", input: m, fixture: structural("repeat_interleave_one_count")) {
                $0.repeatedInterleave([2], axis: 0)
            },
            OpCase("repeat_interleave counts, flattened", input: { Tensor.randn([2, 3]) },
                   fixture: structural("repeat_interleave_counts_flat")) {
                $0.repeatedInterleave([0, 1, 2, 3, 1, 1])
            },
            OpCase("tile (2)", input: m, fixture: structural("tile_2")) { $0.tiled([2]) },
            OpCase("tile (2, 1, 2)", input: m, fixture: structural("tile_2_1_2")) { $0.tiled([2, 1, 2]) },
            OpCase("tile (3, 2)", input: m, fixture: structural("tile_3_2")) { $0.tiled([3, 2]) },
            OpCase("tile (2, 1) of 3-D", input: x, fixture: structural("tile_3d")) { $0.tiled([2, 1]) },
        ])
    }

    // MARK: Properties

    func testSmallExamples() {
        let x = Tensor.arange(0, 6).reshaped([2, 3])
        XCTAssertEqual(x.flipped(axes: [1]).scalars, [2, 1, 0, 5, 4, 3])
        XCTAssertEqual(x.rolled(shifts: [1], axes: [1]).scalars, [2, 0, 1, 5, 3, 4])
        XCTAssertEqual(x.rolled(shift: 1).scalars, [5, 0, 1, 2, 3, 4])
        XCTAssertEqual(x.rolled(shift: 0, axis: 0).scalars, x.scalars)
        XCTAssertEqual(x.lowerTriangle().scalars, [0, 0, 0, 3, 4, 0])
        XCTAssertEqual(x.upperTriangle(diagonal: 1).scalars, [0, 1, 2, 0, 0, 5])
        XCTAssertEqual(x.lowerTriangle(diagonal: 100).scalars, x.scalars)
        XCTAssertEqual(x.upperTriangle(diagonal: -100).scalars, x.scalars)
        XCTAssertEqual(x.upperTriangle(diagonal: .max).scalars, [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(x.diagonal().scalars, [0, 4])
        XCTAssertEqual(x.diagonal(offset: 5).shape, [0])
        XCTAssertEqual(x.diagonal(offset: .min).shape, [0])
        XCTAssertEqual(Tensor([1, 2]).repeatedInterleave(2).scalars, [1, 1, 2, 2])
        XCTAssertEqual(x.repeatedInterleave([1, 0, 2], axis: 1).scalars, [0, 2, 2, 3, 5, 5])
        XCTAssertEqual(Tensor(scalar: 3).repeatedInterleave(2).scalars, [3, 3])
        XCTAssertEqual(x.tiled([2, 1]).shape, [4, 3])
        XCTAssertEqual(x.tiled([0, 2]).shape, [0, 6])
        XCTAssertEqual(Tensor([1, 2]).tiled([2]).scalars, [1, 2, 1, 2])
        let grids = Tensor.meshgrid([Tensor([1, 2]), Tensor([3, 4, 5])], indexing: .xy)
        XCTAssertEqual(grids.map(\.shape), [[3, 2], [3, 2]])
        XCTAssertEqual(grids[0].scalars, [1, 2, 1, 2, 1, 2])
        XCTAssertEqual(grids[1].scalars, [3, 3, 4, 4, 5, 5])
        XCTAssertEqual(Tensor.meshgrid([Tensor(scalar: 1), Tensor([2, 3])]).map(\.shape), [[1, 2], [1, 2]])
    }

    func testTrianglesWriteZerosOverNaN() {
        let x = Tensor([1, .nan, .infinity, 4], shape: [2, 2])
        XCTAssertEqual(x.lowerTriangle().scalars, [1, 0, .infinity, 4])
        let upper = x.upperTriangle(diagonal: 1).scalars
        XCTAssertTrue(upper[1].isNaN)
        XCTAssertEqual([upper[0], upper[2], upper[3]], [0, 0, 0])
    }

    func testDiagonalIsAView() {
        let x = Tensor.arange(0, 12).reshaped([3, 4])
        let d = x.diagonal(offset: 1)
        XCTAssertTrue(d.storage === x.storage)
        XCTAssertEqual(d.scalars, [1, 6, 11])
        x.withUnsafeMutableBufferPointer { $0[6] = -6 }
        XCTAssertEqual(d.scalars, [1, -6, 11])
        d[0] = Tensor(scalar: -1)
        XCTAssertEqual(x.scalar(at: [0, 1]), -1)
    }

    /// Like PyTorch's, these results are new tensors even when nothing moves.
    func testCopiesNeverAliasTheirInput() {
        let x = Tensor.arange(0, 6).reshaped([2, 3])
        for y in [x.flipped(axes: []), x.rolled(shift: 0, axis: 1), x.rolled(shift: 6), x.repeatedInterleave(1, axis: 0),
                  x.repeatedInterleave([1], axis: 1), x.tiled([1, 1]), x.tiled([]), x.lowerTriangle(diagonal: 5)] {
            XCTAssertFalse(y.storage === x.storage)
            XCTAssertEqual(y.scalars, x.scalars)
        }
    }
}
