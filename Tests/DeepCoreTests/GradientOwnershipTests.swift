import XCTest
@testable import DeepCore

/// Leaves keep gradients that no other tensor shares, so that optimisers may scale them in place,
/// even when `backward` hands a leaf its gradient without copying it.
final class GradientOwnershipTests: XCTestCase {
    /// Scales `t.grad` in place, as an optimiser step does.
    private func scaleGradInPlace(_ t: Tensor, by factor: Float) {
        t.grad!.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<buffer.count { buffer[i] *= factor }
        }
    }

    func testOneUpstreamGradientFeedingTwoLeavesGivesThemSeparateStorage() {
        let a = Tensor([1, 2, 3]), b = Tensor([4, 5, 6])
        a.requiresGrad = true
        b.requiresGrad = true
        ((a + b) * Tensor([1, 10, 100])).sum().backward()
        XCTAssertFalse(a.grad!.storage === b.grad!.storage)
        scaleGradInPlace(a, by: 2)
        XCTAssertEqual(a.grad!.scalars, [2, 20, 200])
        XCTAssertEqual(b.grad!.scalars, [1, 10, 100])
    }

    func testReshapedAndPlainLeavesSharingAnUpstreamGradientStaySeparate() {
        let a = Tensor([1, 2, 3, 4]), b = Tensor([[1, 2], [3, 4]].flatMap { $0 }, shape: [2, 2])
        a.requiresGrad = true
        b.requiresGrad = true
        (a.reshaped([2, 2]) + b).sum().backward()
        scaleGradInPlace(b, by: 3)
        scaleGradInPlace(a, by: -1)
        XCTAssertEqual(a.grad!.scalars, [-1, -1, -1, -1])
        XCTAssertEqual(b.grad!.scalars, [3, 3, 3, 3])
    }

    func testExplicitSeedGradientIsNotAdoptedByTheLeaf() {
        let a = Tensor([1, 2])
        a.requiresGrad = true
        let seed = Tensor([5, 7])
        a.backward(seed)
        scaleGradInPlace(a, by: 10)
        XCTAssertEqual(seed.scalars, [5, 7])
        XCTAssertEqual(a.grad!.scalars, [50, 70])
    }

    func testSecondBackwardAccumulatesIntoTheKeptGradient() {
        let w = Tensor([1, 2, 3])
        w.requiresGrad = true
        (w * w).sum().backward()
        let first = w.grad!
        (w * 2).sum().backward()
        XCTAssertTrue(w.grad! === first)
        XCTAssertEqual(w.grad!.scalars, [4, 6, 8])
    }

    func testSavedInputsAreNotAliasedByLeafGradients() {
        // y = a · b: b's gradient is a (and a's is b); neither leaf may end up owning the other.
        let a = Tensor([1, 2]), b = Tensor([3, 4])
        a.requiresGrad = true
        b.requiresGrad = true
        (a * b).sum().backward()
        scaleGradInPlace(a, by: 0)
        scaleGradInPlace(b, by: 0)
        XCTAssertEqual(a.scalars, [1, 2])
        XCTAssertEqual(b.scalars, [3, 4])
    }
}

extension GradientOwnershipTests {
    func testTransposedGradientsAreCopiedContiguously() {
        // 37 × 45 spans partial tiles on both axes; the leaf's gradient arrives as a transposed view.
        let rows = 37, columns = 45
        let w = Tensor((0..<(rows * columns)).map { Float($0) }, shape: [rows, columns])
        w.requiresGrad = true
        let upstream = Tensor((0..<(rows * columns)).map { Float($0) * 0.5 - 3 }, shape: [columns, rows])
        (w.mT * upstream).sum().backward()
        XCTAssertTrue(w.grad!.isContiguous)
        XCTAssertEqual(w.grad!.shape, [rows, columns])
        XCTAssertEqual(w.grad!.scalars, upstream.mT.contiguous().scalars)
        // Also through a 1-row and a 1-column matrix.
        for shape in [[1, 5], [5, 1]] {
            let v = Tensor(zeros: shape)
            v.requiresGrad = true
            let u = Tensor((0..<5).map { Float($0) }, shape: [shape[1], shape[0]])
            (v.mT * u).sum().backward()
            XCTAssertEqual(v.grad!.scalars, u.mT.contiguous().scalars)
        }
    }

    /// `accumulatingGradient` offers a pullback only a leaf's existing, contiguous gradient of
    /// the leaf's shape: the place `backward` would add into anyway.
    func testAccumulatingGradientIsOnlyAnExistingLeafGradient() {
        let leaf = Tensor([1, 2, 3, 4], shape: [2, 2])
        XCTAssertNil(leaf.accumulatingGradient, "does not require gradients")
        leaf.requiresGrad = true
        XCTAssertNil(leaf.accumulatingGradient, "no gradient yet")
        (leaf * 2).sum().backward()
        XCTAssertTrue(leaf.accumulatingGradient?.storage === leaf.grad!.storage)
        let computed = leaf * 3
        computed.grad = Tensor(zeros: [2, 2])
        XCTAssertNil(computed.accumulatingGradient, "not a leaf")
        leaf.grad = Tensor([1, 2, 3, 4], shape: [2, 2]).transposed(0, 1)
        XCTAssertNil(leaf.accumulatingGradient, "not contiguous")
        leaf.grad = Tensor([1, 2, 3, 4])
        XCTAssertNil(leaf.accumulatingGradient, "another shape")
    }
}
