import XCTest
import DeepCore

final class LogicalTests: XCTestCase {
    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    /// The first operand holds zeros, NaN (true) and a row of zeros; the second broadcasts.
    func testLogicalOps() {
        let ab = ["a", "b"]
        assertOpCases([
            OpCase("and", fixture: sortingValues("logical_and", inputs: ab)) { $0[0].logicalAnd($0[1]) },
            OpCase("or", fixture: sortingValues("logical_or", inputs: ab)) { $0[0].logicalOr($0[1]) },
            OpCase("xor", fixture: sortingValues("logical_xor", inputs: ab)) { $0[0].logicalXor($0[1]) },
            OpCase("xor, broadcast operand first", fixture: sortingValues("logical_xor", inputs: ab)) { $0[1].logicalXor($0[0]) },
            OpCase("not", fixture: sortingValues("logical_not")) { $0[0].logicalNot() },
        ])
    }

    func testAnyAndAll() {
        assertOpCases([
            OpCase("any along 1", fixture: sortingValues("any_1")) { $0[0].any(along: 1) },
            OpCase("all along 1", fixture: sortingValues("all_1")) { $0[0].all(along: -1) },
            OpCase("any along 0 keeping dims", fixture: sortingValues("any_0_keep")) { $0[0].any(along: 0, keepingDims: true) },
            OpCase("all along 0 keeping dims", fixture: sortingValues("all_0_keep")) { $0[0].all(along: 0, keepingDims: true) },
            OpCase("any", fixture: sortingValues("any_all")) { $0[0].any() },
            OpCase("all", fixture: sortingValues("all_all")) { $0[0].all() },
            OpCase("all, true", fixture: sortingValues("all_all_true")) { $0[0].all() },
        ])
    }

    func testChecks() {
        assertOpCases([
            OpCase("isNaN", fixture: sortingValues("isnan")) { $0[0].isNaN() },
            OpCase("isFinite", fixture: sortingValues("isfinite")) { $0[0].isFinite() },
            OpCase("isInfinite", fixture: sortingValues("isinf")) { $0[0].isInfinite() },
        ])
    }

    /// PyTorch's inputs hold NaN and infinities (whose gradient is zero); finite differences see
    /// the identity.
    func testReplacingNaN() {
        assertOpCases([
            OpCase("nan to num", input: { Tensor.randn([3, 4]) }, fixture: sortingCase("nan_to_num")) { $0.replacingNaN() },
            OpCase("nan to num, chosen values", input: { Tensor.randn([3, 4]) }, fixture: sortingCase("nan_to_num_custom")) {
                $0.replacingNaN(nan: 1, posinf: 2, neginf: -3)
            },
        ])
    }

    func testLerp() {
        let ab = ["a", "b"]
        assertOpCases([
            OpCase("lerp 0.3", inputs: { [Tensor.randn([3, 4]), Tensor.randn([4])] },
                   fixture: sortingCase("lerp_scalar", inputs: ab)) { $0[0].lerp(to: $0[1], weight: 0.3) },
            OpCase("lerp 0.8", inputs: { [Tensor.randn([3, 4]), Tensor.randn([3, 4])] },
                   fixture: sortingCase("lerp_scalar_high", inputs: ab)) { $0[0].lerp(to: $0[1], weight: 0.8) },
            OpCase("lerp by a tensor", inputs: { [Tensor.randn([3, 4]), Tensor.randn([3, 1]), Tensor.randn([4])] },
                   fixture: sortingCase("lerp_tensor", inputs: ["a", "b", "weight"])) { $0[0].lerp(to: $0[1], weight: $0[2]) },
            // The start used again as the weight.
            OpCase("lerp by its own start", inputs: { [Tensor.randn([3, 4]), Tensor.randn([4])] }) {
                $0[0].lerp(to: $0[1], weight: $0[0])
            },
        ])
    }

    // MARK: Properties

    func testResultsRecordNoGradient() {
        let x = Tensor.randn([2, 3])
        x.requiresGrad = true
        for mask in [x.logicalAnd(x), x.logicalNot(), x.any(along: 0), x.all(), x.isNaN(), x.isFinite()] {
            XCTAssertFalse(mask.requiresGrad)
        }
    }

    func testEdgeCases() {
        XCTAssertEqual(Tensor(zeros: [0]).any().item(), 0)
        XCTAssertEqual(Tensor(zeros: [0]).all().item(), 1)
        XCTAssertEqual(Tensor(zeros: [2, 0]).all(along: 1).scalars, [1, 1])
        let ends = Tensor([1, 5])
        XCTAssertEqual(ends.lerp(to: Tensor([3, -7]), weight: 1).scalars, [3, -7], "weight 1 gives the end exactly")
        XCTAssertEqual(Tensor([.nan, .infinity, -.infinity, 2]).replacingNaN().scalars,
                       [0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 2])
    }
}
