import XCTest
import DeepCore

final class IndexingTests: XCTestCase {
    func testValuesAndGradientsMatchTorch() {
        let fx = loadFixtures("reductions")
        assertMatchesTorch(fx, "gather_1") { $0[0].gathered(axis: 1, indices: fx["gather_1.index"]!) }
        assertMatchesTorch(fx, "gather_2") { $0[0].gathered(axis: -1, indices: fx["gather_2.index"]!) }
        assertMatchesTorch(fx, "index_select_1") { $0[0].indexSelected(axis: 1, indices: [2, 0, 2, 1, 2]) }
        assertMatchesTorch(fx, "index_select_0") { $0[0].indexSelected(axis: 0, indices: [1, 1, 0]) }
        assertMatchesTorch(fx, "index_select_2") { $0[0].indexSelected(axis: -1, indices: [3, 3, 0]) }
    }

    func testGatherPicksAlongAxis() {
        let x = Tensor([10, 11, 12, 20, 21, 22], shape: [2, 3])
        let rows = x.gathered(axis: 1, indices: Tensor([2, 0, 1, 1], shape: [2, 2]))
        XCTAssertEqual(rows.shape, [2, 2])
        XCTAssertEqual(rows.scalars, [12, 10, 21, 21])
        let columns = x.gathered(axis: 0, indices: Tensor([1, 0], shape: [1, 2]))
        XCTAssertEqual(columns.scalars, [20, 11])
        // On a transposed view and with transposed indices.
        let viaView = x.mT.gathered(axis: 0, indices: Tensor([2, 1, 0, 1], shape: [2, 2]).mT)
        XCTAssertEqual(viaView.scalars, [12, 20, 11, 21])
    }

    func testGradientsAccumulateRepeatedIndices() {
        let x = Tensor([1, 2, 3, 4], shape: [2, 2])
        x.requiresGrad = true
        x.indexSelected(axis: 1, indices: [1, 1, 0, 1]).sum().backward()
        XCTAssertEqual(x.grad!.scalars, [1, 3, 1, 3])
        let y = Tensor([1, 2, 3], shape: [1, 3])
        y.requiresGrad = true
        y.gathered(axis: 1, indices: Tensor([0, 0, 2, 0], shape: [1, 4])).sum().backward()
        XCTAssertEqual(y.grad!.scalars, [3, 0, 1])
    }

    func testGradients() {
        let index = Tensor([2, 0, 1, 1, 0, 2, 2, 2], shape: [2, 4])
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3])]) { $0[0].gathered(axis: 1, indices: index) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 2])]) { $0[0].mT.gathered(axis: 1, indices: index) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { $0[0].indexSelected(axis: 1, indices: [0, 2, 2, 1, 0]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])]) { $0[0].mT.indexSelected(axis: 0, indices: [3, 3, 1]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])]) { xs in
            xs[0].indexSelected(axis: 0, indices: [2, 0]) * xs[0].gathered(axis: 0, indices: Tensor([0, 1, 2, 0, 1, 1, 1, 2], shape: [2, 4]))
        }
    }

    func testOneHot() {
        let t = oneHot([2, 0, 1], count: 3)
        XCTAssertEqual(t.shape, [3, 3])
        XCTAssertEqual(t.scalars, [0, 0, 1, 1, 0, 0, 0, 1, 0])
        XCTAssertEqual(oneHot([], count: 4).shape, [0, 4])
    }

    func testFilledWhereMask() {
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let causal = Tensor([0, 1, 1], shape: [3])
        XCTAssertEqual(x.filled(where: causal, with: -.infinity).scalars, [1, -.infinity, -.infinity, 4, -.infinity, -.infinity])
        let rows = Tensor([1, 0], shape: [2, 1])
        XCTAssertEqual(x.filled(where: rows, with: 0).scalars, [0, 0, 0, 4, 5, 6])
        XCTAssertEqual(softmax(Tensor(zeros: [2, 3]).filled(where: causal, with: -.infinity)).scalars, [1, 0, 0, 1, 0, 0])
        let mask = Tensor([1, 0, 0, 1, 0, 1], shape: [3, 2])
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3])]) { $0[0].mT.filled(where: mask, with: 7) * $0[0].mT }
        let z = Tensor.randn([3, 2])
        z.requiresGrad = true
        z.filled(where: mask, with: 7).sum().backward()
        XCTAssertEqual(z.grad!.scalars, [0, 1, 1, 0, 1, 0])
    }
}
