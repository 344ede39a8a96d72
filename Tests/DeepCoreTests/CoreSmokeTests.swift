import XCTest
import DeepCore

final class CoreSmokeTests: XCTestCase {
    func testBroadcastAddAndGradients() {
        let a = Tensor.randn([2, 3])
        let b = Tensor.randn([3])
        assertGradientsMatchFiniteDifferences([a, b]) { $0[0] * $0[1] + $0[1] - $0[0] / ($0[1] * $0[1] + 1) }
    }

    func testMatmulMatchesNaive() {
        var rng = RandomGenerator(seed: 7)
        let a = Tensor.randn([3, 4], generator: &rng), b = Tensor.randn([4, 5], generator: &rng)
        let c = matmul(a, b)
        var expected = [Float](repeating: 0, count: 15)
        for i in 0..<3 { for j in 0..<5 { for k in 0..<4 { expected[i * 5 + j] += a.scalar(at: [i, k]) * b.scalar(at: [k, j]) } } }
        assertClose(c.scalars, expected)
        assertClose(matmul(b.mT, a.mT).mT.contiguous(), c)
    }

    func testMatmulGradients() {
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4]), Tensor.randn([4, 2])]) { matmul($0[0], $0[1]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 1, 3, 4]), Tensor.randn([3, 4, 2])]) { matmul($0[0], $0[1]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([4]), Tensor.randn([4, 2])]) { matmul($0[0], $0[1]) }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 4]), Tensor.randn([2, 4])]) { matmul($0[0], $0[1].mT) }
    }

    func testViewsOfViewsGradients() {
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4])]) { inputs in
            let x = inputs[0]
            return x[0].permuted([1, 0]).narrowed(axis: 0, start: 1, length: 2).unsqueezed(axis: 0).expanded(to: [3, 2, 3])
                .reshaped([6, 3]).sum(axes: [0], keepingDims: true) * x[0].mT
        }
    }
}
