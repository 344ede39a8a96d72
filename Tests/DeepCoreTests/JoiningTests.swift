import XCTest
import DeepCore

final class JoiningTests: XCTestCase {
    func testValuesAndGradientsMatchTorch() {
        let fx = loadFixtures("reductions")
        assertMatchesTorch(fx, "cat_1", inputCount: 3) { Tensor.concatenate($0, axis: 1) }
        assertMatchesTorch(fx, "cat_last", inputCount: 2) { Tensor.concatenate($0, axis: -1) }
        assertMatchesTorch(fx, "stack_1", inputCount: 3) { Tensor.stack($0, axis: 1) }
        assertMatchesTorch(fx, "stack_2", inputCount: 2) { Tensor.stack($0, axis: -1) }
    }

    func testConcatenateValues() {
        let a = Tensor([1, 2, 3, 4], shape: [2, 2]), b = Tensor([5, 6], shape: [2, 1])
        XCTAssertEqual(Tensor.concatenate([a, b], axis: 1).scalars, [1, 2, 5, 3, 4, 6])
        XCTAssertEqual(Tensor.concatenate([a, b.mT], axis: 0).scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Tensor.concatenate([a.mT, a], axis: 1).scalars, [1, 3, 1, 2, 2, 4, 3, 4])
        XCTAssertEqual(Tensor.concatenate([a, Tensor(zeros: [2, 0])], axis: 1).scalars, [1, 2, 3, 4])
        XCTAssertEqual(Tensor.stack([a, a], axis: 2).shape, [2, 2, 2])
        XCTAssertEqual(Tensor.stack([Tensor(scalar: 1), Tensor(scalar: 2)]).scalars, [1, 2])
    }

    func testSplitAndChunkFollowTorch() {
        let x = Tensor.arange(0, 10).reshaped([2, 5])
        XCTAssertEqual(x.split(sizes: [1, 3, 1], axis: 1).map(\.scalars), [[0, 5], [1, 2, 3, 6, 7, 8], [4, 9]])
        XCTAssertEqual(x.split(size: 2, axis: -1).map(\.shape), [[2, 2], [2, 2], [2, 1]])
        // torch.chunk: pieces of ceil(n / count), so 5 into 4 gives 2, 2, 1.
        XCTAssertEqual(x.chunked(4, axis: 1).map(\.shape), [[2, 2], [2, 2], [2, 1]])
        XCTAssertEqual(Tensor.arange(0, 6).chunked(4, axis: 0).map(\.scalars), [[0, 1], [2, 3], [4, 5]])
        XCTAssertEqual(x.chunked(2, axis: 0).map(\.scalars), [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
        XCTAssertEqual(Tensor(zeros: [0, 3]).chunked(3, axis: 0).map(\.shape), [[0, 3], [0, 3], [0, 3]])
        let pieces = x.chunked(5, axis: 1)
        assertClose(Tensor.concatenate(pieces, axis: 1), x)
    }

    func testGradients() {
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3]), Tensor.randn([2, 2])]) {
            Tensor.concatenate([$0[0], $0[1], $0[0]], axis: 1)
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 2]), Tensor.randn([1, 3])]) {
            Tensor.concatenate([$0[0].mT, $0[1]], axis: 0)
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3]), Tensor.randn([3, 2])]) {
            Tensor.stack([$0[0], $0[1].mT, $0[0]], axis: 1)
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 5])]) { xs in
            let parts = xs[0].split(sizes: [2, 3], axis: 1)
            let chunks = xs[0].mT.chunked(3, axis: 0)
            return matmul(parts[0].mT, parts[1]) + chunks[2].sum() * chunks[0].sum(axis: 1).unsqueezed(axis: 1)
        }
    }

    func testOnlyInputsThatNeedGradientsGetThem() {
        let a = Tensor.randn([2, 2]), b = Tensor.randn([2, 2])
        a.requiresGrad = true
        Tensor.concatenate([a, b], axis: 0).sum().backward()
        XCTAssertEqual(a.grad?.scalars, [1, 1, 1, 1])
        XCTAssertNil(b.grad)
    }
}
