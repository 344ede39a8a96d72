import XCTest
import DeepCore
import DeepNN
import TestSupport

/// torchvision's transforms.v2 on tensors (Tests/Fixtures/make_transforms.py): the deterministic
/// transforms and functionals against its values, the random ones through their sampling.
final class TransformTests: XCTestCase {
    static let fixtures = loadFixtures("transforms")
    let kinds: [(String, PixelValues)] = [("float", .float), ("uint8", .uint8)]

    func apply(_ t: Transform, _ x: Tensor, seed: UInt64 = 0) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return t(x, generator: &g)
    }

    func testResizeSizesAndMaxSize() {
        let f = Self.fixtures
        for (kind, pixels) in kinds {
            let x = f["image.\(kind)"]!, atol: Float = pixels == .uint8 ? 1.001 : 1e-5
            assertClose(apply(Resize(8, pixels: pixels), x), f["resize.\(kind).short8"]!, atol: atol, rtol: 0, kind)
            assertClose(apply(Resize(10, maxSize: 12, pixels: pixels), x), f["resize.\(kind).short10.max12"]!, atol: atol, rtol: 0, kind)
            assertClose(apply(Resize(20, pixels: pixels), x), f["resize.\(kind).short20"]!, atol: atol, rtol: 0, kind)
        }
        XCTAssertTrue((Resize(5).outputSize(height: 10, width: 7)) == (7, 5))
        XCTAssertTrue((Resize((3, 4)).outputSize(height: 10, width: 7)) == (3, 4))
    }

    func testCropsPadsAndFlips() {
        let f = Self.fixtures
        for (kind, pixels) in kinds {
            let x = f["image.\(kind)"]!, atol: Float = pixels == .uint8 ? 1.001 : 1e-5
            for (h, w) in [(7, 9), (15, 20), (13, 5), (16, 16)] {
                XCTAssertEqual(apply(CenterCrop((h, w)), x).scalars, f["centerCrop.\(kind).\(h)x\(w)"]!.scalars, "\(kind) \(h)x\(w)")
            }
            for (name, mode) in [("constant", PaddingMode.constant), ("edge", .edge), ("reflect", .reflect), ("symmetric", .symmetric)] {
                let y = apply(Pad(left: 1, top: 2, right: 3, bottom: 4, fill: 5, mode: mode), x)
                XCTAssertEqual(y.shape, f["pad.\(kind).\(name)"]!.shape)
                XCTAssertEqual(y.scalars, f["pad.\(kind).\(name)"]!.scalars, "pad \(kind) \(name)")
            }
            XCTAssertEqual(apply(RandomVerticalFlip(p: 1), x).scalars, f["vflip.\(kind)"]!.scalars)
            XCTAssertEqual(apply(RandomHorizontalFlip(p: 1), x).scalars, f["hflip.\(kind)"]!.scalars)
            XCTAssertEqual(apply(RandomVerticalFlip(p: 0), x).scalars, x.scalars)
            XCTAssertEqual(x.cropped(top: -2, left: 10, height: 8, width: 10).scalars, f["crop.\(kind)"]!.scalars)
            assertClose(x.resizedCrop(top: 2, left: 3, height: 8, width: 10, size: (6, 6), pixels: pixels),
                        f["resizedCrop.\(kind)"]!, atol: atol, rtol: 0, kind)
        }
    }

    func testToDtype() {
        let f = Self.fixtures
        XCTAssertEqual(apply(ToDtype(.uint8, scale: true), f["image.float"]!).scalars, f["toDtype.uint8.scaled"]!.scalars)
        assertClose(apply(ToDtype(.float, scale: true), f["image.uint8"]!), f["toDtype.float.scaled"]!)
        XCTAssertEqual(apply(ToDtype(.uint8), Tensor([-3, 2.7, 300], shape: [3])).scalars, [0, 2, 255])
    }

    /// Windows lie inside the image with their area and ratio in range (up to rounding); an
    /// impossible range falls back to torchvision's central window.
    func testRandomResizedCropSampling() {
        let t = RandomResizedCrop(8)
        var g = RandomGenerator(seed: 3)
        var areas: [Double] = []
        for _ in 0..<2000 {
            let w = t.window(height: 60, width: 80, generator: &g)
            XCTAssertTrue(w.top >= 0 && w.left >= 0 && w.top + w.height <= 60 && w.left + w.width <= 80, "\(w)")
            let ratio = Double(w.width) / Double(w.height), area = Double(w.width * w.height) / 4800
            XCTAssertTrue(ratio > 0.75 * 0.8 && ratio < 4.0 / 3 * 1.25, "ratio \(ratio)")
            XCTAssertTrue(area > 0.08 * 0.7 && area < 1.05, "area \(area)")
            areas.append(area)
        }
        // Uniform area in [0.08, 1] (minus draws that do not fit): mean near 0.5.
        let mean = areas.reduce(0, +) / Double(areas.count)
        XCTAssertTrue(mean > 0.38 && mean < 0.56, "mean area \(mean)")
        // Ratio range that no window of a 10×100 strip can meet: central window of ratio 4/3... capped.
        let strip = RandomResizedCrop(4, scale: 0.9...1, ratio: 1...1)
        let w = strip.window(height: 10, width: 100, generator: &g)
        XCTAssertTrue(w == (0, 45, 10, 10), "\(w)")
        let y = apply(RandomResizedCrop((5, 6)), Self.fixtures["image.float"]!)
        XCTAssertEqual(y.shape, [3, 5, 6])
    }
}
