import XCTest
import DeepCore

final class InterpolationTests: XCTestCase {
    static let fixtures = loadFixtures("conv")

    func testInterpolateMatchesPyTorch() {
        let cases = fixtureCases(Self.fixtures, "interpolate")
        XCTAssertGreaterThanOrEqual(cases.count, 13)
        for prefix in cases {
            let scale = Self.fixtures["\(prefix)/params"]!.scalars[2]
            assertMatchesFixture(Self.fixtures, prefix) { xs, p in
                interpolate(xs[0], size: p[0] == 0 ? nil : [p[0], p[1]], scale: scale == 0 ? nil : scale,
                            mode: p[3] == 1 ? .bilinear : .nearest, alignCorners: p[4] == 1)
            }
        }
    }

    func testInterpolateGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 21)
        let x = Tensor.randn([2, 2, 3, 4], generator: &rng)
        assertGradientsMatchFiniteDifferences([x]) { interpolate($0[0], size: [5, 7], mode: .bilinear) }
        assertGradientsMatchFiniteDifferences([x]) { interpolate($0[0], size: [2, 6], mode: .bilinear, alignCorners: true) }
        assertGradientsMatchFiniteDifferences([x]) { interpolate($0[0], scale: 1.5) }
        // A transposed view, and the input used twice.
        assertGradientsMatchFiniteDifferences([x]) { xs in
            interpolate(xs[0].mT, scale: 2, mode: .bilinear) * interpolate(xs[0].mT, scale: 2)
        }
    }

    func testNearestTwiceRepeatsPixels() {
        let x = Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2])
        XCTAssertEqual(interpolate(x, scale: 2).scalars, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4])
        // Bilinear with aligned corners keeps the corners.
        let y = interpolate(x, size: [3, 3], mode: .bilinear, alignCorners: true)
        XCTAssertEqual(y.scalars, [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4])
    }

    func testThreadedInterpolationMatchesSerial() {
        var rng = RandomGenerator(seed: 22)
        let x = Tensor.randn([2, 8, 20, 20], generator: &rng)
        let run = { interpolate(x, scale: 2, mode: .bilinear).scalars }
        let (minimumWork, threads) = (Parallel.minimumWork, Gemm.threadCount)
        defer { (Parallel.minimumWork, Gemm.threadCount) = (minimumWork, threads) }
        Gemm.threadCount = 1
        let serial = run()
        Gemm.threadCount = 2
        Parallel.minimumWork = 0
        XCTAssertEqual(run(), serial)
    }
}
