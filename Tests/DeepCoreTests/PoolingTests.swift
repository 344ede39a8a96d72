import XCTest
@testable import DeepCore

final class PoolingTests: XCTestCase {
    static let fixtures = loadFixtures("conv")

    func testMaxPool2dMatchesPyTorch() {
        let cases = fixtureCases(Self.fixtures, "maxPool2d")
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for prefix in cases {
            assertMatchesFixture(Self.fixtures, prefix) { xs, p in
                maxPool2d(xs[0], kernelSize: [p[0], p[1]], stride: [p[2], p[3]], padding: [p[4], p[5]],
                          dilation: [p[6], p[7]], ceilMode: p[8] == 1)
            }
        }
    }

    func testAvgPool2dMatchesPyTorch() {
        let cases = fixtureCases(Self.fixtures, "avgPool2d")
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        for prefix in cases {
            assertMatchesFixture(Self.fixtures, prefix) { xs, p in
                avgPool2d(xs[0], kernelSize: [p[0], p[1]], stride: [p[2], p[3]], padding: [p[4], p[5]],
                          ceilMode: p[6] == 1, countIncludePad: p[7] == 1, divisorOverride: p[8] == 0 ? nil : p[8])
            }
        }
    }

    func testAdaptivePoolingMatchesPyTorch() {
        for op in ["adaptiveAvgPool2d", "adaptiveMaxPool2d"] {
            let cases = fixtureCases(Self.fixtures, op)
            XCTAssertGreaterThanOrEqual(cases.count, 5)
            for prefix in cases {
                assertMatchesFixture(Self.fixtures, prefix) { xs, p in
                    op == "adaptiveAvgPool2d" ? adaptiveAvgPool2d(xs[0], outputSize: [p[0], p[1]])
                                              : adaptiveMaxPool2d(xs[0], outputSize: [p[0], p[1]])
                }
            }
        }
    }

    func testPoolingGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 11)
        // Distinct values spaced well beyond the finite-difference step keep the argmax fixed.
        let x = Tensor.make(shape: [2, 2, 5, 6]) { out in
            var values = (0..<out.count).map { Float($0) * 0.1 }
            values.shuffle(using: &rng)
            for i in out.indices { out[i] = values[i] }
        }
        assertGradientsMatchFiniteDifferences([x]) { maxPool2d($0[0], kernelSize: [3, 2], stride: [2, 1], padding: [1, 1], ceilMode: true) }
        assertGradientsMatchFiniteDifferences([x]) { adaptiveMaxPool2d($0[0], outputSize: [3, 4]) }
        let y = Tensor.randn([2, 3, 5, 6], generator: &rng)
        assertGradientsMatchFiniteDifferences([y]) {
            avgPool2d($0[0], kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], ceilMode: true, countIncludePad: false)
        }
        // A transposed view, and the input used twice.
        assertGradientsMatchFiniteDifferences([y]) { xs in
            avgPool2d(xs[0].mT, kernelSize: 2, stride: 1) * adaptiveAvgPool2d(xs[0].mT, outputSize: [5, 4])
        }
    }

    func testUnbatchedInputAndSquareOverloads() {
        var rng = RandomGenerator(seed: 12)
        let x = Tensor.randn([3, 6, 6], generator: &rng)
        let batched = maxPool2d(x.unsqueezed(axis: 0), kernelSize: [2, 2])
        assertClose(maxPool2d(x, kernelSize: 2).unsqueezed(axis: 0), batched)
        assertClose(avgPool2d(x, kernelSize: 3, stride: 1, padding: 1), avgPool2d(x, kernelSize: [3, 3], stride: [1, 1], padding: [1, 1]))
        // Global average pooling is the mean over the plane.
        assertClose(adaptiveAvgPool2d(x, outputSize: 1).reshaped([3]), x.sum(axes: [1, 2]) * (1 / 36), atol: 1e-5)
    }

    /// Planes split among threads give the same values as one thread.
    func testThreadedPoolingMatchesSerial() {
        var rng = RandomGenerator(seed: 13)
        let x = Tensor.randn([4, 8, 40, 40], generator: &rng)
        let run = { [maxPool2d(x, kernelSize: 3, stride: 2, padding: 1).scalars, avgPool2d(x, kernelSize: 2).scalars] }
        let (minimumWork, threads) = (Parallel.minimumWork, Gemm.threadCount)
        defer { (Parallel.minimumWork, Gemm.threadCount) = (minimumWork, threads) }
        Gemm.threadCount = 1
        let serial = run()
        Gemm.threadCount = 2
        Parallel.minimumWork = 0
        XCTAssertEqual(run(), serial)
    }

    /// Without gradients max pooling skips the argmax; it must give the same values, NaN included.
    func testMaxPoolWithoutGradientsMatchesRecordedPath() {
        var rng = RandomGenerator(seed: 14)
        let x = Tensor.randn([2, 3, 7, 6], generator: &rng)
        x.withUnsafeMutableBufferPointer { $0[17] = .nan; $0[100] = .infinity }
        x.requiresGrad = true
        for (k, s, p, d) in [(2, 2, 0, 1), (3, 2, 1, 1), (2, 1, 1, 2)] {
            let recorded = maxPool2d(x, kernelSize: k, stride: s, padding: p, dilation: d, ceilMode: true)
            let plain = withoutGrad { maxPool2d(x, kernelSize: k, stride: s, padding: p, dilation: d, ceilMode: true) }
            XCTAssertTrue(recorded.requiresGrad)
            XCTAssertTrue(plain.scalars.contains { $0.isNaN })
            XCTAssertTrue(plain.scalars.contains(.infinity), "the +inf input is kept, not clamped")
            assertClose(plain, recorded, atol: 0, rtol: 0)
        }
        assertClose(withoutGrad { adaptiveMaxPool2d(x, outputSize: [3, 4]) }, adaptiveMaxPool2d(x, outputSize: [3, 4]), atol: 0, rtol: 0)
    }

    /// Max pooling without indices on planes wide enough for the C kernel's vector loops (rows
    /// first, AVX-512 and AVX2) equals the recorded path, with NaNs and infinities in the planes:
    /// strides 1, 2 and 3, dilation 2, windows of 2, 3 and 5.
    func testMaxPoolKernelMatchesTheRecordedPathOnWidePlanes() {
        defer { VectorKernels.widthLimit = 16 }
        var rng = RandomGenerator(seed: 15)
        // Wide planes, and a batch of 16 × 16 planes (eight outputs per row at stride 2: the
        // AVX-512 kernel's eight-lane loop).
        let wide = Tensor.randn([2, 3, 37, 75], generator: &rng), small = Tensor.randn([4, 3, 16, 16], generator: &rng)
        wide.withUnsafeMutableBufferPointer { for i in [17, 1000, 9000] { $0[i] = .nan }; $0[300] = .infinity; $0[2000] = -.infinity }
        small.withUnsafeMutableBufferPointer { for i in [5, 40, 333] { $0[i] = .nan }; $0[100] = .infinity }
        for width in [16, 8] {
            VectorKernels.widthLimit = width
            for x in [wide, small] {
                x.requiresGrad = true
                for (k, s, p, d) in [(3, 2, 1, 1), (2, 2, 0, 1), (3, 1, 1, 1), (2, 1, 1, 2), (3, 3, 1, 1), (5, 2, 2, 1)] {
                    let recorded = maxPool2d(x, kernelSize: k, stride: s, padding: p, dilation: d)
                    let plain = withoutGrad { maxPool2d(x, kernelSize: k, stride: s, padding: p, dilation: d) }
                    XCTAssertTrue(plain.scalars.contains { $0.isNaN })
                    assertClose(plain, recorded, atol: 0, rtol: 0, "width \(width), \(x.shape), kernel \(k), stride \(s), dilation \(d)")
                }
            }
        }
    }
}
