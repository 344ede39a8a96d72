import XCTest
import DeepCore
import TestSupport

/// `resize` against torchvision's `resize` on tensors (Tests/Fixtures/make_transforms.py): every
/// mode, with and without antialias, down, up and mixed, for float and uint8 images.
final class ResizeTests: XCTestCase {
    static let fixtures = loadFixtures("transforms")
    let modes: [(String, ResizeInterpolation)] = [("nearest", .nearest), ("nearestExact", .nearestExact),
                                                  ("bilinear", .bilinear), ("bicubic", .bicubic)]
    let sizes = [[7, 9], [18, 25], [5, 30]]

    func testMatchesTorchvision() {
        let f = Self.fixtures
        for (kind, pixels) in [("float", PixelValues.float), ("uint8", .uint8)] {
            let x = f["image.\(kind)"]!
            for (name, mode) in modes {
                for antialias in [true, false] {
                    for size in sizes {
                        let key = "resize.\(kind).\(name).\(antialias ? 1 : 0).\(size[0])x\(size[1])"
                        let y = resize(x, size: size, interpolation: mode, antialias: antialias, pixels: pixels)
                        // torchvision's uint8 kernels use fixed-point weights: within 1 of ours.
                        assertClose(y, f[key]!, atol: pixels == .uint8 ? 1.001 : 1e-5, rtol: 0, key)
                        if pixels == .uint8 { XCTAssertEqual(y.scalars, y.scalars.map { $0.rounded() }, key) }
                    }
                }
            }
        }
    }

    /// Leading axes are planes: a batch resizes as its images do, a strided input as its copy.
    func testBatchesAndStridedInput() {
        let x = Self.fixtures["image.float"]!
        let batch = Tensor.stack([x, x * 2])
        let y = resize(batch, size: [6, 11], interpolation: .bicubic)
        assertClose(y[1], resize(x * 2, size: [6, 11], interpolation: .bicubic))
        let strided = x.transposed(1, 2)
        assertClose(resize(strided, size: [9, 5]), resize(strided.contiguous(), size: [9, 5]))
        XCTAssertTrue(resize(x, size: [13, 17]) === x, "an unchanged size returns the input")
    }

    func testShapeOnly() {
        let y = resize(Tensor(metaShape: [2, 3, 13, 17]), size: [5, 6], interpolation: .bilinear)
        XCTAssertEqual(y.shape, [2, 3, 5, 6])
        XCTAssertTrue(y.isMeta)
    }
}
