import XCTest
import DeepCore

final class ReductionTests: XCTestCase {
    func testValuesAndGradientsMatchTorch() {
        let fx = loadFixtures("reductions")
        assertMatchesTorch(fx, "mean_1") { $0[0].mean(axis: 1) }
        assertMatchesTorch(fx, "mean_02_keep") { $0[0].mean(axes: [0, -1], keepingDims: true) }
        assertMatchesTorch(fx, "mean_all") { $0[0].mean() }
        assertMatchesTorch(fx, "max_1") { $0[0].max(axis: 1) }
        assertMatchesTorch(fx, "max_02_keep") { $0[0].max(axes: [2, 0], keepingDims: true) }
        assertMatchesTorch(fx, "max_all") { $0[0].max() }
        assertMatchesTorch(fx, "min_2") { $0[0].min(axis: 2) }
        assertMatchesTorch(fx, "min_01_keep") { $0[0].min(axes: [0, 1], keepingDims: true) }
        assertMatchesTorch(fx, "max_random_2") { $0[0].max(axis: -1) }
        assertMatchesTorch(fx, "var_1") { $0[0].variance(axes: [1]) }
        assertMatchesTorch(fx, "var_02_keep_c0") { $0[0].variance(axes: [0, 2], keepingDims: true, correction: 0) }
        assertMatchesTorch(fx, "var_all") { $0[0].variance() }
        assertMatchesTorch(fx, "std_2") { $0[0].standardDeviation(axes: [2]) }
        assertMatchesTorch(fx, "std_01_keep_c0") { $0[0].standardDeviation(axes: [0, 1], keepingDims: true, correction: 0) }
        assertMatchesTorch(fx, "lse_2") { $0[0].logSumExp(axes: [2]) }
        assertMatchesTorch(fx, "lse_01_keep") { $0[0].logSumExp(axes: [0, 1], keepingDims: true) }
        assertMatchesTorch(fx, "lse_big") { $0[0].logSumExp(axes: [-1]) }
        assertMatchesTorch(fx, "norm_1") { $0[0].norm(axes: [1]) }
        assertMatchesTorch(fx, "norm_all") { $0[0].norm() }
    }

    func testArgExtremaMatchTorchFirstOccurrence() {
        let fx = loadFixtures("reductions")
        let x = fx["argmax_1.x"]!
        assertClose(x.argmax(axis: 1), fx["argmax_1.y"]!, atol: 0, rtol: 0)
        assertClose(x.argmin(axis: -1), fx["argmin_2.y"]!, atol: 0, rtol: 0)
        assertClose(x.mT.argmax(axis: 2), fx["argmax_1.y"]!, atol: 0, rtol: 0, "on a transposed view")
        XCTAssertEqual(x.argmax(axis: 1, keepingDims: true).shape, [2, 1, 4])
        let t = Tensor([1, 5, 5, 2, 0, 0, 7, 7], shape: [2, 4])
        XCTAssertEqual(t.argmax(axis: 1).scalars, [1, 2])
        XCTAssertEqual(t.argmin(axis: 1).scalars, [0, 0])
        XCTAssertEqual(Tensor([1, .nan, 3, .nan]).argmax(axis: 0).scalars, [1], "NaN is the maximum, like torch")
        XCTAssertEqual(Tensor(scalar: 4).argmax(axis: 0).scalars, [0])
    }

    func testMaxSplitsGradientAmongTies() {
        let x = Tensor([1, 3, 3, 2, 0, 0, 0, -1], shape: [2, 4])
        x.requiresGrad = true
        x.max(axis: 1).sum().backward()
        XCTAssertEqual(x.grad!.scalars, [0, 0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0])
        let y = Tensor([2, -1, -1])
        y.requiresGrad = true
        y.min().backward()
        XCTAssertEqual(y.grad!.scalars, [0, 0.5, 0.5])
    }

    func testShapesAndKeepingDims() {
        let x = Tensor.randn([2, 3, 4])
        XCTAssertEqual(x.mean(axes: [0, 2]).shape, [3])
        XCTAssertEqual(x.mean(axes: [0, 2], keepingDims: true).shape, [1, 3, 1])
        XCTAssertEqual(x.max().shape, [])
        XCTAssertEqual(x.min(axis: -1, keepingDims: true).shape, [2, 3, 1])
        XCTAssertEqual(x.variance(axes: [1]).shape, [2, 4])
        XCTAssertEqual(x.logSumExp(keepingDims: true).shape, [1, 1, 1])
        XCTAssertEqual(Tensor(scalar: 3).max().item(), 3)
        XCTAssertEqual(Tensor([1, .nan, 3]).max().item().isNaN, true, "NaN propagates")
    }

    func testLogSumExpIsStable() {
        let x = Tensor([1000, 1000, -1000, 0], shape: [2, 2])
        let y = x.logSumExp(axes: [1]).scalars
        XCTAssertEqual(y[0], 1000 + log(2), accuracy: 1e-3)
        XCTAssertEqual(y[1], 0, accuracy: 1e-6)
        XCTAssertEqual(Tensor([-.infinity, -.infinity]).logSumExp().item(), -.infinity)
    }

    func testMeanAndVarianceGradients() {
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { $0[0].mean(axes: [0, 2]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { $0[0].mean(axis: -1, keepingDims: true) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])]) { $0[0].mT.mean(axis: 1) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { $0[0].variance(axes: [1, 2]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])]) { $0[0].mT.variance(axes: [0], keepingDims: true, correction: 0) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { $0[0].standardDeviation(axes: [0, 2]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])]) { $0[0].standardDeviation(keepingDims: true) }
    }

    func testExtremumGradients() {
        // Random values have no ties, so max and min are differentiable there; a fixed seed keeps
        // the draws (and the gaps between the largest values, which must exceed eps) the same
        // whichever tests ran before.
        manualSeed(11)
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])], eps: 1e-3) { $0[0].max(axes: [0, 2]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])], eps: 1e-3) { $0[0].min(axis: 1, keepingDims: true) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])], eps: 1e-3) { $0[0].mT.max(axis: 1) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])], eps: 1e-3) { $0[0].min() * $0[0] }
    }

    func testLogSumExpAndNormGradients() {
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { $0[0].logSumExp(axes: [0, 2]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { $0[0].logSumExp(axes: [1], keepingDims: true) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])]) { $0[0].mT.logSumExp(axes: [1]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { $0[0].norm(axes: [1, 2]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])]) { $0[0].mT.norm(keepingDims: true) }
    }

    func testInputUsedTwice() {
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])], eps: 1e-3) { xs in
            let x = xs[0]
            return x.mean(axis: 0, keepingDims: true) * x.max(axis: 0) + x.variance(axes: [1], keepingDims: true) * x.mT.logSumExp(axes: [0]).unsqueezed(axis: 1)
        }
    }
}
