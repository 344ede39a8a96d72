import XCTest
import DeepCore

final class SoftmaxTests: XCTestCase {
    func testValuesAndGradientsMatchTorch() {
        let fx = loadFixtures("reductions")
        for axis in 0..<3 {
            assertMatchesTorch(fx, "softmax_\(axis)") { softmax($0[0], axis: axis) }
            assertMatchesTorch(fx, "log_softmax_\(axis)") { logSoftmax($0[0], axis: axis) }
        }
        assertMatchesTorch(fx, "softmax4d_1") { softmax($0[0], axis: 1) }
        assertMatchesTorch(fx, "log_softmax4d_1") { logSoftmax($0[0], axis: -3) }
        assertMatchesTorch(fx, "softmax_big") { softmax($0[0]) }
        assertMatchesTorch(fx, "log_softmax_big", atol: 1e-3) { logSoftmax($0[0], axis: 1) }
    }

    func testLargeInputsStayFinite() {
        let x = Tensor([1000, 1000, 999, -1000, 0, 1000], shape: [2, 3])
        for axis in [0, 1] {
            let y = softmax(x, axis: axis).scalars
            XCTAssertTrue(y.allSatisfy(\.isFinite), "softmax axis \(axis): \(y)")
            let l = logSoftmax(x, axis: axis).scalars
            XCTAssertTrue(l.allSatisfy(\.isFinite), "logSoftmax axis \(axis): \(l)")
        }
        assertClose(softmax(x).scalars, [0.4223188, 0.4223188, 0.1553624, 0, 0, 1], atol: 1e-6)
        assertClose(logSoftmax(x, axis: 1).scalars[3...].map { $0 }, [-2000, -1000, 0], atol: 1e-3)
    }

    func testRowsSumToOneOnEveryAxisAndLayout() {
        let x = Tensor.randn([2, 3, 4, 5])
        for axis in -4..<4 {
            assertClose(softmax(x, axis: axis).sum(axis: axis), Tensor(ones: x.shape.enumerated().filter { $0.offset != (axis + 4) % 4 }.map(\.element)),
                        "axis \(axis)")
        }
        // A strided input gives the same values as its contiguous copy.
        let t = x.permuted([0, 3, 1, 2])
        for axis in 0..<4 {
            assertClose(softmax(t, axis: axis), softmax(t.contiguous(), axis: axis), "permuted, axis \(axis)")
            assertClose(logSoftmax(t, axis: axis), logSoftmax(t.contiguous(), axis: axis), "permuted, axis \(axis)")
        }
        XCTAssertEqual(softmax(Tensor(scalar: 3)).item(), 1)
    }

    func testGradients() {
        for axis in [0, 1, -1] {
            assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { softmax($0[0], axis: axis) }
            assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { logSoftmax($0[0], axis: axis) }
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])]) { softmax($0[0].mT, axis: -1) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])]) { logSoftmax($0[0].mT, axis: 0) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4])]) { xs in
            softmax(xs[0], axis: 1) * logSoftmax(xs[0], axis: 0) + xs[0]
        }
    }
}
