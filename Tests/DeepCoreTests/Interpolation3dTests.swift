import XCTest
import DeepCore

/// The linear mode of `interpolate3d` (PyTorch's "trilinear"), spelled in one place.
private let trilinear = InterpolationMode.trilinear

final class Interpolation3dTests: XCTestCase {
    private func normal(_ shape: [Int]) -> () -> Tensor { { Tensor.randn(shape) } }

    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    func testInterpolate3d() {
        // (label, input, size, scale, trilinear, align corners), as make_pool3d.py writes them.
        let cases: [(String, [Int], [Int]?, Float?, Bool, Bool)] = [
            ("nearest_scale2", [1, 2, 2, 3, 4], nil, 2, false, false),
            ("nearest_size", [2, 1, 2, 3, 4], [3, 5, 7], nil, false, false),
            ("nearest_down", [1, 2, 5, 7, 4], [2, 3, 2], nil, false, false),
            ("nearest_scale1.5", [1, 1, 3, 4, 5], nil, 1.5, false, false),
            ("trilinear_scale2", [1, 2, 2, 3, 4], nil, 2, true, false),
            ("trilinear_scale2_align", [1, 2, 2, 3, 4], nil, 2, true, true),
            ("trilinear_size", [2, 1, 2, 3, 4], [3, 5, 7], nil, true, false),
            ("trilinear_size_align", [2, 1, 2, 3, 4], [3, 5, 7], nil, true, true),
            ("trilinear_down", [1, 1, 5, 7, 4], [2, 3, 2], nil, true, false),
            ("trilinear_down_align", [1, 1, 5, 7, 4], [2, 3, 2], nil, true, true),
            ("trilinear_scale1.7", [1, 1, 3, 4, 5], nil, 1.7, true, false),
            ("trilinear_one_align", [1, 1, 3, 4, 5], [1, 5, 3], nil, true, true),
        ]
        assertOpCases(cases.map { label, shape, size, scale, linear, align in
            OpCase("interpolate3d \(label)", input: normal(shape), fixture: pool3dCase("interpolate3d/\(label)")) {
                interpolate3d($0, size: size, scale: scale, mode: linear ? trilinear : .nearest, alignCorners: align)
            }
        })
    }

    // MARK: Properties

    func testNearestTwiceRepeatsVoxelsAndAlignedCornersKeepCorners() {
        let x = Tensor([1, 2, 3, 4, 5, 6, 7, 8], shape: [1, 1, 2, 2, 2])
        let y = interpolate3d(x, scale: 2)
        XCTAssertEqual(y.shape, [1, 1, 4, 4, 4])
        XCTAssertEqual(y.reshaped([4, 4, 4])[3].scalars, [5, 5, 6, 6, 5, 5, 6, 6, 7, 7, 8, 8, 7, 7, 8, 8])
        let z = interpolate3d(x, size: [3, 3, 3], mode: trilinear, alignCorners: true).scalars
        XCTAssertEqual([z[0], z[2], z[6], z[8], z[18], z[26]], [1, 2, 3, 4, 5, 8])
        XCTAssertEqual(z[13], 4.5, "the centre is the mean of the eight corners")
    }

    /// A volume of depth 1 resampled to depth 1 is the 2-D resampling of its one slice.
    func testSingleSliceMatchesPlaneInterpolation() {
        var rng = RandomGenerator(seed: 41)
        let x = Tensor.randn([2, 3, 1, 4, 5], generator: &rng)
        for align in [false, true] {
            assertClose(interpolate3d(x, size: [1, 7, 3], mode: trilinear, alignCorners: align).squeezed(axis: 2),
                        interpolate(x.squeezed(axis: 2), size: [7, 3], mode: .bilinear, alignCorners: align), atol: 1e-6)
        }
        assertClose(interpolate3d(x, size: [1, 9, 10]).squeezed(axis: 2), interpolate(x.squeezed(axis: 2), size: [9, 10]),
                    atol: 0, rtol: 0)
    }

    /// `interpolate` takes volumes (PyTorch's one entry point) and refuses the mode of the other rank.
    func testInterpolateHandsVolumesOn() {
        var rng = RandomGenerator(seed: 43)
        let x = Tensor.randn([1, 2, 3, 4, 5], generator: &rng)
        XCTAssertEqual(interpolate(x, scale: 2, mode: .trilinear).scalars, interpolate3d(x, scale: 2, mode: trilinear).scalars)
        XCTAssertEqual(interpolate(x, size: [2, 5, 7]).scalars, interpolate3d(x, size: [2, 5, 7]).scalars)
    }

    func testThreadedInterpolationMatchesSerial() {
        var rng = RandomGenerator(seed: 42)
        let x = Tensor.randn([2, 4, 6, 10, 10], generator: &rng)
        assertThreadedMatchesSerial { [interpolate3d(x, scale: 2, mode: trilinear).scalars, interpolate3d(x, size: [5, 7, 9]).scalars] }
    }

    func testShapeErrorsNameTheOpAndShapes() {
        func failure(_ body: () -> Tensor) -> String? { ShapeErrors.recording { _ = body() }.failure }
        XCTAssertEqual(failure { interpolate3d(Tensor(metaShape: [1, 2, 3, 4]), scale: 2) },
                       "interpolate: x of shape [1, 2, 3, 4] should be (N, C, D, H, W)")
        XCTAssertEqual(failure { interpolate3d(Tensor(metaShape: [1, 2, 3, 4, 5]), size: [2, 2]) },
                       "interpolate: output size [2, 2] from x of shape [1, 2, 3, 4, 5] (size Optional([2, 2]), scale nil) is empty or not 3-D")
        XCTAssertEqual(failure { interpolate3d(Tensor(metaShape: [1, 2, 3, 4, 5]), scale: 0.2) },
                       "interpolate: output size [0, 0, 1] from x of shape [1, 2, 3, 4, 5] (size nil, scale Optional(0.2)) is empty or not 3-D")
        let y = ShapeErrors.recording { interpolate3d(Tensor(metaShape: [1, 2, 3, 4, 5]), scale: 2, mode: trilinear) }
        XCTAssertNil(y.failure)
        XCTAssertEqual(y.result.shape, [1, 2, 6, 8, 10])
        XCTAssertTrue(y.result.isMeta)
    }
}
