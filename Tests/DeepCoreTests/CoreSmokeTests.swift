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

    /// Calls `body` with random (m × k) and (k × n) operands in every transpose combination
    /// (transposed ones as transposed views) and a random (m × n) C, for each of `sizes`.
    func forEachOperandLayout(_ sizes: [(Int, Int, Int)], seed: UInt64,
                              _ body: (_ a: Tensor, _ b: Tensor, _ c: Tensor, _ label: String) -> Void) {
        var rng = RandomGenerator(seed: seed)
        for (m, n, k) in sizes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = ta ? Tensor.randn([k, m], generator: &rng).mT : Tensor.randn([m, k], generator: &rng)
                let b = tb ? Tensor.randn([n, k], generator: &rng).mT : Tensor.randn([k, n], generator: &rng)
                let c = Tensor.randn([m, n], generator: &rng)
                body(a, b, c, "m \(m) n \(n) k \(k) transposed \(ta) \(tb)")
            }
        }
    }

    /// 0.5·A·B + 2·C through `Gemm.multiply`, either split among 2 threads whatever its size or
    /// on one thread.
    func scaledProduct(_ a: Tensor, _ b: Tensor, plus c0: Tensor, split: Bool, pieceWork: Int? = nil) -> [Float] {
        let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
        let saved = (Parallel.minimumWork, Gemm.threadCount)
        defer { (Parallel.minimumWork, Gemm.threadCount) = saved }
        (Parallel.minimumWork, Gemm.threadCount) = split ? (1, 2) : (Int.max, 1)
        let c = Tensor(c0.scalars, shape: [m, n])
        let opA = Gemm.operand(rows: m, cols: k, rowStride: a.strides[0], colStride: a.strides[1])!
        let opB = Gemm.operand(rows: k, cols: n, rowStride: b.strides[0], colStride: b.strides[1])!
        Gemm.multiply(m: m, n: n, k: k, alpha: 0.5, a: a.storage.pointer + a.offset, opA,
                      b: b.storage.pointer + b.offset, opB, beta: 2, c: c.storage.pointer, ldc: n, pieceWork: pieceWork)
        return c.scalars
    }

    /// Products large enough to be split among threads (strips of rows or of columns, every
    /// transpose combination, sides not multiples of the strip granule, beta ≠ 0) equal the
    /// unsplit product up to rounding. (`scaledProduct` sets two threads itself: the split runs
    /// on any machine.)
    func testSplitProductsEqualSingleThreadedOnes() {
        forEachOperandLayout([(200, 70, 33), (70, 201, 17), (64, 64, 64), (97, 130, 5)], seed: 3) { a, b, c, label in
            // OpenBLAS's kernels may round the edge strips of a split product differently (seen
            // with its AVX2 kernels): equal up to rounding, far below what a misplaced strip gives.
            assertClose(scaledProduct(a, b, plus: c, split: true), scaledProduct(a, b, plus: c, split: false),
                        atol: 1e-5, rtol: 1e-5, label)
        }
    }

    /// An empty inner dimension: beta 0 sets C to zeros without reading it (it may hold NaN, as
    /// freshly allocated output can), as BLAS does; beta 1 keeps C; `matmul` gives zeros.
    func testProductsOverAnEmptyInnerDimensionIgnoreTheOldOutput() {
        var c: [Float] = [.nan, .infinity, 3, -2, .nan, 7]
        let empty: [Float] = [0]
        let opA = Gemm.operand(rows: 2, cols: 0, rowStride: 1, colStride: 1)!, opB = Gemm.operand(rows: 0, cols: 3, rowStride: 3, colStride: 1)!
        Gemm.multiply(m: 2, n: 3, k: 0, a: empty, opA, b: empty, opB, beta: 1, c: &c, ldc: 3)
        XCTAssertEqual(Array(c[2...3]), [3, -2])
        Gemm.multiply(m: 2, n: 3, k: 0, a: empty, opA, b: empty, opB, beta: 0, c: &c, ldc: 3)
        XCTAssertEqual(c, [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(matmul(Tensor(zeros: [2, 0]), Tensor(zeros: [0, 3])).scalars, [0, 0, 0, 0, 0, 0])
    }

    /// Products cut into pieces (`pieceWork`, small-batch linear layers) equal the whole product
    /// up to rounding, for every transpose combination and both split directions.
    func testProductsInPiecesEqualWholeProducts() {
        forEachOperandLayout([(64, 256, 100), (256, 90, 64), (40, 200, 33)], seed: 5) { a, b, c, label in
            assertClose(scaledProduct(a, b, plus: c, split: true, pieceWork: 16 * 100 * a.shape[1]),
                        scaledProduct(a, b, plus: c, split: false), atol: 1e-4, rtol: 1e-5, label)
        }
    }

    /// `linear` equals x·Wᵀ + b and has its gradients, with and without batch axes and bias.
    func testLinearMatchesMatmulPlusBiasAndGradients() {
        var rng = RandomGenerator(seed: 11)
        let x = Tensor.randn([2, 3, 5], generator: &rng), w = Tensor.randn([4, 5], generator: &rng)
        let b = Tensor.randn([4], generator: &rng)
        assertClose(linear(x, weight: w, bias: b), matmul(x, w.mT) + b, atol: 1e-5)
        assertClose(linear(x, weight: w), matmul(x, w.mT))
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 5]), Tensor.randn([4, 5]), Tensor.randn([4])]) {
            linear($0[0], weight: $0[1], bias: $0[2])
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([5]), Tensor.randn([4, 5]), Tensor.randn([4])]) {
            linear($0[0], weight: $0[1], bias: $0[2])
        }
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
