import XCTest
import DeepCore

/// The PyTorch fixture written by `Tests/Fixtures/make_pool3d.py` (3-D pooling, interpolation and
/// the volume layers), loaded once.
let pool3dFixtures = loadFixtures("pool3d")

/// Case `name` of the 3-D fixture: `<name>.x`, `.y`, `.w`, `.dx`.
func pool3dCase(_ name: String) -> OpFixture {
    OpFixture.named(name, in: pool3dFixtures, atol: 1e-5, rtol: 1e-4)
}

/// `run` gives the same values with the work split among two threads as on one.
func assertThreadedMatchesSerial(_ run: () -> [[Float]], file: StaticString = #filePath, line: UInt = #line) {
    let (minimumWork, threads) = (Parallel.minimumWork, Gemm.threadCount)
    defer { (Parallel.minimumWork, Gemm.threadCount) = (minimumWork, threads) }
    Gemm.threadCount = 1
    let serial = run()
    (Gemm.threadCount, Parallel.minimumWork) = (2, 0)
    XCTAssertEqual(run(), serial, file: file, line: line)
}

final class Pooling3dTests: XCTestCase {
    /// Values at least 0.05 apart: no ties, so the maxima stay put under finite differences.
    private func distinct(_ shape: [Int]) -> () -> Tensor { { Tensor.distinctRandom(shape, seed: 3) } }
    private func normal(_ shape: [Int]) -> () -> Tensor { { Tensor.randn(shape) } }

    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    func testMaxPool3d() {
        assertOpCases([
            OpCase("maxPool3d 2, stride 2", input: distinct([2, 2, 4, 4, 3]), fixture: pool3dCase("maxPool3d/k2s2")) {
                maxPool3d($0, kernelSize: 2, stride: 2)
            },
            OpCase("maxPool3d 3, stride 2, padding 1", input: distinct([1, 2, 5, 4, 3]), fixture: pool3dCase("maxPool3d/k3s2p1")) {
                maxPool3d($0, kernelSize: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1])
            },
            OpCase("maxPool3d dilated", input: distinct([1, 2, 6, 5, 5]), fixture: pool3dCase("maxPool3d/dilation2")) {
                maxPool3d($0, kernelSize: [2, 3, 2], stride: [1, 1, 1], padding: [1, 1, 0], dilation: [2, 1, 2])
            },
            OpCase("maxPool3d ceil mode", input: distinct([1, 2, 6, 4, 5]), fixture: pool3dCase("maxPool3d/ceil")) {
                maxPool3d($0, kernelSize: 3, stride: 2, ceilMode: true)
            },
            OpCase("maxPool3d ceil mode, last window in the padding", input: distinct([1, 1, 5, 5, 5]),
                   fixture: pool3dCase("maxPool3d/ceil_padding")) {
                maxPool3d($0, kernelSize: 2, stride: 2, padding: 1, ceilMode: true)
            },
            // Integer inputs: ties inside windows, where the first maximum in (d, h, w) order wins.
            OpCase("maxPool3d ties", fixture: pool3dCase("maxPool3d/ties")) { maxPool3d($0[0], kernelSize: 3, stride: 1, padding: 1) },
            OpCase("maxPool3d of (C, D, H, W)", input: distinct([2, 4, 5, 6]), fixture: pool3dCase("maxPool3d/unbatched")) {
                maxPool3d($0, kernelSize: [2, 2, 3], stride: [1, 2, 2])
            },
        ])
    }

    func testAvgPool3d() {
        assertOpCases([
            OpCase("avgPool3d 2, stride 2", input: normal([2, 2, 4, 4, 3]), fixture: pool3dCase("avgPool3d/k2s2")) {
                avgPool3d($0, kernelSize: 2, stride: 2)
            },
            OpCase("avgPool3d padded", input: normal([1, 2, 5, 4, 3]), fixture: pool3dCase("avgPool3d/k3s2p1")) {
                avgPool3d($0, kernelSize: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1])
            },
            OpCase("avgPool3d padding not counted", input: normal([1, 2, 5, 4, 3]), fixture: pool3dCase("avgPool3d/k3s2p1_nopad")) {
                avgPool3d($0, kernelSize: 3, stride: 2, padding: 1, countIncludePad: false)
            },
            OpCase("avgPool3d ceil mode", input: normal([1, 2, 6, 4, 5]), fixture: pool3dCase("avgPool3d/ceil")) {
                avgPool3d($0, kernelSize: 3, stride: 2, padding: 1, ceilMode: true)
            },
            OpCase("avgPool3d ceil mode, padding not counted", input: normal([1, 2, 6, 4, 5]),
                   fixture: pool3dCase("avgPool3d/ceil_nopad")) {
                avgPool3d($0, kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad: false)
            },
            OpCase("avgPool3d divisor override", input: normal([1, 2, 4, 5, 6]), fixture: pool3dCase("avgPool3d/divisor")) {
                avgPool3d($0, kernelSize: [2, 3, 2], stride: [1, 2, 1], padding: [1, 1, 0], divisorOverride: 5)
            },
            OpCase("avgPool3d of (C, D, H, W)", input: normal([2, 4, 5, 6]), fixture: pool3dCase("avgPool3d/unbatched")) {
                avgPool3d($0, kernelSize: 2, stride: 1)
            },
        ])
    }

    func testAdaptivePooling3d() {
        let cases: [(label: String, input: [Int], size: [Int])] = [
            ("uneven", [1, 2, 5, 7, 6], [2, 3, 4]), ("global", [2, 3, 4, 4, 4], [1, 1, 1]),
            ("larger", [1, 2, 3, 5, 4], [5, 2, 4]), ("even", [1, 2, 6, 6, 6], [3, 3, 3]),
        ]
        assertOpCases(cases.flatMap { c in [
            OpCase("adaptiveAvgPool3d \(c.label)", input: normal(c.input), fixture: pool3dCase("adaptiveAvgPool3d/\(c.label)")) {
                adaptiveAvgPool3d($0, outputSize: c.size)
            },
            OpCase("adaptiveMaxPool3d \(c.label)", input: distinct(c.input), fixture: pool3dCase("adaptiveMaxPool3d/\(c.label)")) {
                adaptiveMaxPool3d($0, outputSize: c.size)
            },
        ] })
    }

    // MARK: Properties

    func testCubicOverloadsAndUnbatchedInput() {
        var rng = RandomGenerator(seed: 31)
        let x = Tensor.randn([3, 4, 6, 6], generator: &rng)
        assertClose(maxPool3d(x, kernelSize: 2).unsqueezed(axis: 0), maxPool3d(x.unsqueezed(axis: 0), kernelSize: [2, 2, 2]))
        assertClose(avgPool3d(x, kernelSize: 3, stride: 1, padding: 1),
                    avgPool3d(x, kernelSize: [3, 3, 3], stride: [1, 1, 1], padding: [1, 1, 1]))
        // Global average pooling is the mean over the volume.
        assertClose(adaptiveAvgPool3d(x, outputSize: 1).reshaped([3]), x.sum(axes: [1, 2, 3]) * (1 / 144), atol: 1e-5)
        assertClose(adaptiveMaxPool3d(x, outputSize: 1).reshaped([3]), x.max(axes: [1, 2, 3]), atol: 0, rtol: 0)
    }

    /// A 3-D pooling with a depth window of 1 is the 2-D pooling of each depth slice.
    func testDepthWindowOfOneIsPlanePooling() {
        var rng = RandomGenerator(seed: 32)
        let x = Tensor.randn([2, 3, 4, 7, 6], generator: &rng)
        let slices = x.permuted([0, 2, 1, 3, 4]).reshaped([8, 3, 7, 6])
        func planes(_ y: Tensor) -> Tensor { y.permuted([0, 2, 1, 3, 4]).reshaped([8, 3] + Array(y.shape.suffix(2))) }
        assertClose(planes(maxPool3d(x, kernelSize: [1, 3, 2], stride: [1, 2, 1], padding: [0, 1, 1], ceilMode: true)),
                    maxPool2d(slices, kernelSize: [3, 2], stride: [2, 1], padding: [1, 1], ceilMode: true), atol: 0, rtol: 0)
        assertClose(planes(avgPool3d(x, kernelSize: [1, 3, 3], stride: [1, 2, 2], padding: [0, 1, 1], countIncludePad: false)),
                    avgPool2d(slices, kernelSize: [3, 3], stride: [2, 2], padding: [1, 1], countIncludePad: false), atol: 1e-6)
    }

    /// NaN propagates through max pooling with and without recording; +∞ is kept.
    func testMaxPool3dPropagatesNaN() {
        var rng = RandomGenerator(seed: 33)
        let x = Tensor.randn([1, 2, 4, 4, 4], generator: &rng)
        x.withUnsafeMutableBufferPointer { $0[5] = .nan; $0[100] = .infinity }
        x.requiresGrad = true
        let recorded = maxPool3d(x, kernelSize: 2)
        let plain = withoutGrad { maxPool3d(x, kernelSize: 2) }
        XCTAssertTrue(recorded.scalars[0].isNaN)
        XCTAssertTrue(plain.scalars.contains(.infinity))
        assertClose(plain, recorded, atol: 0, rtol: 0)
    }

    /// Volumes split among threads give the same values as one thread.
    func testThreadedPoolingMatchesSerial() {
        var rng = RandomGenerator(seed: 34)
        let x = Tensor.randn([2, 8, 8, 12, 12], generator: &rng)
        assertThreadedMatchesSerial {
            [maxPool3d(x, kernelSize: 3, stride: 2, padding: 1).scalars, avgPool3d(x, kernelSize: 2).scalars,
             adaptiveMaxPool3d(x, outputSize: [3, 5, 4]).scalars]
        }
    }

    // MARK: Errors

    /// The message of the shape check that `body` fails on shape-only inputs, or nil.
    private func failure(_ body: () -> Tensor) -> String? {
        ShapeErrors.recording { _ = body() }.failure
    }

    private func meta(_ shape: [Int]) -> Tensor { Tensor(metaShape: shape) }

    func testShapeErrorsNameTheOpAndShapes() {
        XCTAssertEqual(failure { maxPool3d(meta([2, 3, 4, 4]).reshaped([2, 3, 16]), kernelSize: 2) },
                       "maxPool3d: x of shape [2, 3, 16] should be (N, C, D, H, W) or (C, D, H, W)")
        XCTAssertEqual(failure { maxPool3d(meta([1, 2, 5, 5, 5]), kernelSize: [2, 2, 2], padding: [0, 2, 0]) },
                       "maxPool3d: padding [0, 2, 0] should be at most half of kernelSize [2, 2, 2]")
        XCTAssertEqual(failure { maxPool3d(meta([1, 2, 5, 5, 5]), kernelSize: [2, 2], stride: [2, 2]) },
                       "maxPool3d: kernelSize [2, 2], stride [2, 2], padding [0, 0, 0] and dilation [1, 1, 1] need 3 entries each")
        XCTAssertEqual(failure { avgPool3d(meta([1, 2, 3, 6, 6]), kernelSize: [4, 4, 4]) },
                       "avgPool3d: kernelSize [4, 4, 4] with dilation [1, 1, 1] is larger than the input [3, 6, 6] padded by [0, 0, 0] (x [1, 2, 3, 6, 6])")
        XCTAssertEqual(failure { avgPool3d(meta([1, 2, 3, 6, 6]), kernelSize: [2, 0, 2]) },
                       "avgPool3d: kernelSize [2, 0, 2], stride [2, 0, 2] and dilation [1, 1, 1] must be positive")
        XCTAssertEqual(failure { adaptiveAvgPool3d(meta([1, 2, 3, 6, 6]), outputSize: [2, 2]) },
                       "adaptiveAvgPool3d: outputSize [2, 2] should be three positive sizes (x [1, 2, 3, 6, 6])")
        XCTAssertEqual(failure { adaptiveMaxPool3d(meta([1, 2, 0, 6, 6]), outputSize: 2) },
                       "adaptiveMaxPool3d: x of shape [1, 2, 0, 6, 6] has an empty volume")
        XCTAssertNil(failure { maxPool3d(meta([1, 2, 5, 5, 5]), kernelSize: 3, stride: 2, padding: 1, ceilMode: true) })
    }

    /// Shape-only inputs give the shapes of the real ops, without reading values.
    func testShapeOnlyShapes() {
        let cases: [([Int], () -> Tensor)] = [
            ([2, 3, 3, 3, 3], { maxPool3d(self.meta([2, 3, 5, 5, 5]), kernelSize: 3, stride: 2, padding: 1, ceilMode: true) }),
            ([3, 2, 2, 2], { avgPool3d(self.meta([3, 4, 5, 4]), kernelSize: 2) }),
            ([2, 3, 1, 1, 1], { adaptiveAvgPool3d(self.meta([2, 3, 5, 6, 7]), outputSize: 1) }),
            ([2, 3, 2, 3, 4], { adaptiveMaxPool3d(self.meta([2, 3, 5, 6, 7]), outputSize: [2, 3, 4]) }),
        ]
        for (shape, body) in cases {
            let (y, failed) = ShapeErrors.recording { body() }
            XCTAssertNil(failed)
            XCTAssertTrue(y.isMeta)
            XCTAssertEqual(y.shape, shape)
        }
    }
}
