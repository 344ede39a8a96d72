import XCTest
import TestSupport
@testable import DeepCore

/// Products on a weight packed once (PackedGemm, CVectorKernels' packed kernels) against
/// OpenBLAS, on sizes that leave partial panels, partial column tiles and a partial last block of
/// steps; and convolutions that take them (batch 1, few output positions, a weight cache) against
/// the same convolution without a cache.
final class PackedGemmTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipIf(PackedGemm.panelRows == 0, "this CPU has neither AVX-512 nor AVX2 with FMA")
    }

    override func tearDown() { VectorKernels.widthLimit = 16 }

    /// Each test on this CPU's kernels, then on the AVX2 ones (the same where it has no AVX-512).
    private func onEachWidth(_ body: () throws -> Void) rethrows {
        for width in [16, 8] {
            VectorKernels.widthLimit = width
            try body()
        }
    }

    func testProductsMatchOpenBLAS() {
        onEachWidth(productsMatchOpenBLAS)
    }

    func testConvolutionsOnPackedWeights() throws {
        try onEachWidth(convolutionsOnPackedWeights)
    }

    private func productsMatchOpenBLAS() {
        var rng = RandomGenerator(seed: 31)
        let saved = (Parallel.minimumWork, Gemm.threadCount)
        defer { (Parallel.minimumWork, Gemm.threadCount) = saved }
        // (m, k, n, ldb, ldc): panels of 32 (AVX-512) or 16 (AVX2) rows and tiles of 12 or 6
        // columns, none of them whole, with last tiles of 1 to 3 columns; k past one block of 512 steps;
        // strided B and C.
        for (m, k, n, ldb, ldc) in [(40, 37, 25, 25, 25), (70, 600, 13, 20, 17), (1, 5, 1, 1, 3), (64, 1100, 49, 49, 49),
                                      (33, 70, 27, 30, 27), (20, 515, 14, 14, 16), (35, 9, 7, 7, 8)] {
            for threads in [1, 2] {
                (Parallel.minimumWork, Gemm.threadCount) = (0, threads)
                let w = Tensor.randn([m, k], generator: &rng), b = Tensor.randn([k, ldb], generator: &rng)
                let c0 = Tensor.randn([m, ldc], generator: &rng)
                let expected = c0.contiguous().scalars, actual = Tensor(c0.scalars, shape: [m, ldc])
                var reference = expected
                reference.withUnsafeMutableBufferPointer { c in
                    Gemm.multiply(m: m, n: n, k: k, a: w.basePointer, Gemm.Operand(transposed: false, leadingDimension: k),
                                  b: b.basePointer, Gemm.Operand(transposed: false, leadingDimension: ldb),
                                  beta: 1, c: c.baseAddress!, ldc: ldc)
                }
                let packed = PackedGemm.pack(w.basePointer, m: m, k: k)
                PackedGemm.multiplyAdd(packed.pointer, m: m, k: k, b: b.basePointer, ldb: ldb, n: n, c: actual.basePointer, ldc: ldc)
                let scale = reference.map(abs).max()!
                assertClose(actual, Tensor(reference, shape: [m, ldc]), atol: 1e-5 * scale, rtol: 0,
                            "m \(m) k \(k) n \(n), \(threads) threads, panels of \(PackedGemm.panelRows)")
                // Columns past n are not touched.
                for r in 0..<m { for j in n..<ldc { XCTAssertEqual(actual.scalars[r * ldc + j], expected[r * ldc + j]) } }
            }
        }
    }

    /// conv2d with a weight cache on one image of few positions (the packed path) against conv2d
    /// without one (OpenBLAS), with and without bias, residual and ReLU.
    private func convolutionsOnPackedWeights() throws {
        var rng = RandomGenerator(seed: 32)
        // (x, C', kernel, stride, padding): ResNet's 7×7 stage in small, a stride-2 and a 1×1 downsample.
        for (shape, outputChannels, k, stride, padding) in [([1, 24, 5, 5], 40, 3, 1, 1), ([1, 16, 9, 9], 33, 3, 2, 1),
                                                              ([1, 16, 9, 9], 20, 1, 2, 0)] {
            let plan = try ConvolutionPlan(op: "conv2d", input: shape, weight: [outputChannels, shape[1], k, k],
                                           stride: [stride, stride], padding: [padding, padding], dilation: [1, 1], groups: 1,
                                           conv2dBias: true)
            XCTAssertEqual(plan.algorithm, .im2col)
            let x = Tensor.randn(shape, generator: &rng), w = Tensor.randn([outputChannels, shape[1], k, k], generator: &rng)
            let b = Tensor.randn([outputChannels], generator: &rng)
            for withBias in [false, true] {
                let cache = ConvolutionWeightCache()
                func conv(_ cache: ConvolutionWeightCache?, residual: Tensor? = nil) -> Tensor {
                    withoutGrad { conv2d(x, w, bias: withBias ? b : nil, stride: [stride, stride], padding: [padding, padding],
                                         weightCache: cache, residual: residual, activation: residual == nil ? .none : .relu) }
                }
                let expected = conv(nil)
                assertClose(conv(cache), expected, atol: 1e-4, rtol: 1e-4, "\(shape) bias \(withBias)")
                XCTAssertTrue(cache.isFilled, "the packed weight is kept")
                let r = Tensor.randn(expected.shape, generator: &rng)
                assertClose(conv(cache, residual: r), conv(nil, residual: r), atol: 1e-4, rtol: 1e-4, "\(shape) fused")
            }
        }
    }
}
