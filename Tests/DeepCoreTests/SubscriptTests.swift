import XCTest
@testable import DeepCore

/// The PyTorch fixture written by `Tests/Fixtures/make_structural.py`, loaded once (indexing and
/// the structural ops).
let structuralFixtures = loadFixtures("structural")

/// Case `name` of the structural fixture: inputs `<name>.x` (or `.x0`, `.x1`, …), `.y`, `.w`, `.d…`.
func structural(_ name: String, inputs: [String] = ["x"]) -> OpFixture {
    OpFixture.named(name, in: structuralFixtures, inputs: inputs)
}

final class SubscriptTests: XCTestCase {
    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    /// Each row's name is the PyTorch expression of `make_structural.py`; the closure spells it
    /// in Swift.
    func testIndexExpressionsMatchTorch() {
        let x = { Tensor.randn([3, 4, 5]) }, x4 = { Tensor.randn([2, 3, 4, 5]) }
        assertOpCases([
            OpCase("x[:, 0]", input: x, fixture: structural("index_all_0")) { $0[.all, 0] },
            OpCase("x[0:2, :, 1]", input: x, fixture: structural("index_range_all_1")) { $0[0..<2, .all, 1] },
            OpCase("x[..., -1]", input: x, fixture: structural("index_ellipsis_last")) { $0[.ellipsis, -1] },
            OpCase("x[1:]", input: x, fixture: structural("index_from_1")) { $0[1...] },
            OpCase("x[::2, 1:4:2]", input: x, fixture: structural("index_steps")) {
                $0[.slice(nil, nil, 2), stride(from: 1, to: 4, by: 2)]
            },
            OpCase("x[:, 0:4:3, 1:]", input: x, fixture: structural("index_stride_through")) {
                $0[.all, stride(from: 0, through: 3, by: 3), 1...]
            },
            OpCase("x[-1, -3:-1]", input: x, fixture: structural("index_negative")) { $0[-1, -3..<(-1)] },
            OpCase("x4[1, ..., -2:]", input: x4, fixture: structural("index_ellipsis_middle")) { $0[1, .ellipsis, (-2)...] },
            OpCase("x[:, None, 2:4]", input: x, fixture: structural("index_new_axis")) { $0[.all, .newAxis, 2..<4] },
            OpCase("x[None, ..., None, 0]", input: x, fixture: structural("index_new_axis_ellipsis")) {
                $0[.newAxis, .ellipsis, .newAxis, 0]
            },
            OpCase("x[1:3, -2:] (closed ranges)", input: x, fixture: structural("index_closed")) { $0[1...2, -2...(-1)] },
            OpCase("x[:2, :3]", input: x, fixture: structural("index_up_to_through")) { $0[..<2, ...2] },
            OpCase("x[:, 2:100, -100:2] (clamped)", input: x, fixture: structural("index_clamped")) {
                $0[.all, 2..<100, .slice(-100, 2)]
            },
            OpCase("x[1, 2, 3]", input: x, fixture: structural("index_scalar")) { $0[1, 2, 3] },
            OpCase("x[-1]", input: x, fixture: structural("index_row")) { $0[-1] },
            OpCase("x[1:3]", input: x, fixture: structural("index_rows")) { $0[1..<3] },
            OpCase("x[:, 3:1] (empty)", input: x, fixture: structural("index_empty")) { $0[.all, .slice(3, 1)] },
            OpCase("x[indices: [:, 0]]", input: x, fixture: structural("index_all_0")) { $0[indices: [.all, 0]] },
        ])
    }

    // MARK: Views

    func testIndexingGivesViewsThatShareStorage() {
        let x = Tensor.arange(0, 60).reshaped([3, 4, 5])
        let v = x[.all, 1, 2...]
        XCTAssertEqual(v.shape, [3, 3])
        XCTAssertTrue(v.storage === x.storage)
        XCTAssertEqual(v.scalars, [7, 8, 9, 27, 28, 29, 47, 48, 49])
        // Writing through the base is seen in the view, and through the view in the base.
        x.withUnsafeMutableBufferPointer { $0[1 * 20 + 1 * 5 + 3] = -1 }
        XCTAssertEqual(v.scalar(at: [1, 1]), -1)
        v[2, 0] = Tensor(scalar: -2)
        XCTAssertEqual(x.scalar(at: [2, 1, 2]), -2)
        // Steps and new axes are views too.
        let s = x[.slice(nil, nil, 2), .newAxis, 0, stride(from: 1, to: 5, by: 3)]
        XCTAssertEqual(s.shape, [2, 1, 2])
        XCTAssertTrue(s.storage === x.storage)
        XCTAssertEqual(s.scalars, [1, 4, 41, 44])
    }

    func testGradientsFlowIntoTheSelectedElements() {
        let x = Tensor.randn([2, 3])
        x.requiresGrad = true
        (x[.all, 1] * 2 + x[-1, .slice(nil, nil, 2)]).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [0, 2, 0, 1, 2, 1])
    }

    func testOneItemSubscriptsKeepTheirMeaning() {
        let x = Tensor.arange(0, 6).reshaped([3, 2])
        XCTAssertEqual(x[1].scalars, [2, 3])
        XCTAssertEqual(x[-1].shape, [2])
        XCTAssertEqual(x[0..<2].scalars, [0, 1, 2, 3])
        XCTAssertEqual(x[1][0].item(), 2)
        XCTAssertEqual(x[-2..<(-1)].scalars, [2, 3], "negative bounds count from the end")
    }

    // MARK: Assignment

    func testAssignmentBroadcastsLikeTorch() {
        let x = Tensor(zeros: [3, 4])
        x[.all, 0] = Tensor([1, 2, 3])
        x[0] = Tensor(scalar: 7)
        x[1..., 2...] = Tensor([5, 6], shape: [1, 2])
        x[2, .slice(nil, nil, 3)] = Tensor(ones: [1, 1, 2]) * 9   // leading axes of size 1 are dropped
        XCTAssertEqual(x.scalars, [7, 7, 7, 7,
                                   2, 0, 5, 6,
                                   9, 0, 5, 9])
        // Into a transposed view of x, which x sees.
        let t = x.mT
        t[.ellipsis, 1] = Tensor([-1, -2, -3, -4])
        XCTAssertEqual(x[1].scalars, [-1, -2, -3, -4])
    }

    func testAssignmentFromAnOverlappingViewReadsBeforeWriting() {
        let x = Tensor.arange(0, 5)
        x[1...] = x[..<4]
        XCTAssertEqual(x.scalars, [0, 0, 1, 2, 3])
    }

    func testAssignmentIntoATensorThatRequiresGradientsWithoutRecording() {
        let w = Tensor(zeros: [2, 2])
        w.requiresGrad = true
        withoutGrad { w[.all, 1] = Tensor([1, 2]) }
        XCTAssertEqual(w.scalars, [0, 1, 0, 2])
        XCTAssertTrue(w.isLeaf)
    }

    func testShapeOnlyAssignmentWritesNothing() {
        let x = Tensor(metaShape: [3, 4])
        x[.all, 0] = Tensor([1, 2, 3])
        XCTAssertTrue(x[.all, 0].isMeta)
        XCTAssertEqual(x[.all, 0].shape, [3])
    }

    // MARK: Items

    func testItemsFromSwiftRangesAndStrides() {
        XCTAssertEqual((1..<4).tensorIndex, .slice(1, 4))
        XCTAssertEqual((1...3).tensorIndex, .slice(1, 4))
        XCTAssertEqual((-3...(-1)).tensorIndex, .slice(-3, nil), "a closed range to -1 runs to the end")
        XCTAssertEqual((2...).tensorIndex, .slice(2, nil))
        XCTAssertEqual((..<2).tensorIndex, .slice(nil, 2))
        XCTAssertEqual((...2).tensorIndex, .slice(nil, 3))
        XCTAssertEqual(stride(from: 1, to: 9, by: 3).tensorIndex, .slice(1, 9, 3))
        XCTAssertEqual(stride(from: 0, through: 6, by: 2).tensorIndex, .slice(0, 7, 2))
        XCTAssertEqual(stride(from: 5, to: 0, by: -1).tensorIndex, .slice(5, 0, -1))
        XCTAssertEqual(Tensor.describe([.all, .ellipsis, .newAxis, -1, .slice(1, nil), .slice(nil, 4, 2)]),
                       "[:, ..., None, -1, 1:, :4:2]")
    }

    // MARK: Errors

    /// The messages a bad subscript stops with (built by the same function the subscript calls).
    func testBadIndicesNameTheSubscriptTheIndexAndTheShape() {
        func message(_ items: [TensorIndex], _ shape: [Int]) -> String {
            if case .failure(let error) = Tensor.subscriptLayout(items, shape: shape) { return error.message }
            XCTFail("\(items) for \(shape) should fail")
            return ""
        }
        XCTAssertEqual(message([.all, 4], [2, 4, 5]),
                       "subscript [:, 4]: index 4 is out of range for axis 1 of size 4 (tensor of shape [2, 4, 5])")
        XCTAssertEqual(message([-3], [2]), "subscript [-3]: index -3 is out of range for axis 0 of size 2 (tensor of shape [2])")
        XCTAssertEqual(message([0, 0, .newAxis, 0], [2, 3]),
                       "subscript [0, 0, None, 0]: 3 indices for a tensor of rank 2 (shape [2, 3])")
        XCTAssertEqual(message([0], []), "subscript [0]: 1 index for a tensor of rank 0 (shape [])")
        XCTAssertEqual(message([.ellipsis, 0, .ellipsis], [2, 3]), "subscript [..., 0, ...]: more than one ellipsis")
        XCTAssertTrue(message([.all, .slice(nil, nil, -1)], [2, 3]).hasPrefix(
            "subscript [:, ::-1]: step -1 along axis 1 of shape [2, 3] is not positive"))
        XCTAssertTrue(message([.slice(0, 2, 0)], [2]).contains("step 0 along axis 0 of shape [2] is not positive"))
        // Slices out of range are clamped (as in Python), integers are not.
        XCTAssertNoThrow(try Tensor.subscriptLayout([.slice(-10, 10)], shape: [2]).get())
    }
}
