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
            assertClose(apply(Resize(maxSize: 11, pixels: pixels), x), f["resize.\(kind).max11"]!, atol: atol, rtol: 0, kind)
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

    func testColorFunctionals() {
        let f = Self.fixtures
        for (kind, pixels) in kinds {
            let x = f["image.\(kind)"]!, atol: Float = pixels == .uint8 ? 1.001 : 1e-5
            for factor: Float in [0.6, 1.3] {
                assertClose(x.brightnessAdjusted(by: factor, pixels: pixels), f["brightness.\(kind).\(factor)"]!, atol: atol, rtol: 0, "brightness \(kind)")
                assertClose(x.contrastAdjusted(by: factor, pixels: pixels), f["contrast.\(kind).\(factor)"]!, atol: atol, rtol: 0, "contrast \(kind)")
                assertClose(x.saturationAdjusted(by: factor, pixels: pixels), f["saturation.\(kind).\(factor)"]!, atol: atol, rtol: 0, "saturation \(kind)")
            }
            for factor: Float in [0.2, -0.35, 0.5] {
                assertClose(x.hueAdjusted(by: factor, pixels: pixels), f["hue.\(kind).\(factor)"]!, atol: atol, rtol: 0, "hue \(kind) \(factor)")
            }
            assertClose(apply(Grayscale(pixels: pixels), x), f["grayscale.\(kind).1"]!, atol: atol, rtol: 0, "gray \(kind)")
            assertClose(apply(Grayscale(numOutputChannels: 3, pixels: pixels), x), f["grayscale.\(kind).3"]!, atol: atol, rtol: 0, "gray3 \(kind)")
            XCTAssertEqual(x.erased(top: 2, left: 3, height: 4, width: 5, values: [1, 2, 3]).scalars, f["erase.\(kind)"]!.scalars)
        }
    }

    func testRotations() {
        let f = Self.fixtures
        for (kind, pixels) in kinds {
            let x = f["image.\(kind)"]![.all, 0..<7, 0..<10].contiguous()
            let atol: Float = pixels == .uint8 ? 1.001 : 1e-5
            let fill: Float = pixels == .uint8 ? 7 : 0.25
            for angle: Float in [30, -45, 90, 180, 270, 123.4] {
                let name = angle == angle.rounded() ? String(Int(angle)) : String(angle)
                for (interp, mode) in [("nearest", ResizeInterpolation.nearest), ("bilinear", .bilinear)] {
                    for expand in [false, true] {
                        let key = "rotate.\(kind).\(name).\(interp).\(expand ? 1 : 0)"
                        let y = x.rotated(degrees: angle, interpolation: mode, expand: expand, pixels: pixels)
                        assertClose(y, f[key]!, atol: atol, rtol: 0, key)
                    }
                    let key = "rotate.\(kind).\(name).\(interp).center"
                    let y = x.rotated(degrees: angle, interpolation: mode, center: (4, 9), fill: fill, pixels: pixels)
                    assertClose(y, f[key]!, atol: atol, rtol: 0, key)
                }
            }
        }
    }

    func testRandomColorAndErasingSampling() {
        let jitter = ColorJitter(brightness: 0.4, contrast: 0.2, saturation: 0, hue: 0.1)
        var g = RandomGenerator(seed: 5)
        var orders = Set<[Int]>()
        for _ in 0..<500 {
            let (order, factors) = jitter.parameters(generator: &g)
            orders.insert(order)
            XCTAssertEqual(order.sorted(), [0, 1, 2, 3])
            XCTAssertTrue(factors[0]! >= 0.6 && factors[0]! <= 1.4 && factors[1]! >= 0.8 && factors[1]! <= 1.2)
            XCTAssertNil(factors[2])
            XCTAssertTrue(abs(factors[3]!) <= 0.1)
        }
        XCTAssertEqual(orders.count, 24, "every order of the four adjustments is drawn")
        let x = Self.fixtures["image.float"]!
        let y = apply(jitter, x, seed: 9)
        XCTAssertEqual(y.shape, x.shape)
        XCTAssertTrue(y.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })

        let erasing = RandomErasing(p: 1, value: [0.5])
        for seed in 0..<50 as Range<UInt64> {
            var g = RandomGenerator(seed: seed)
            guard let w = erasing.window(height: 40, width: 50, generator: &g) else { continue }
            let area = Double(w.height * w.width) / 2000, ratio = Double(w.height) / Double(w.width)
            XCTAssertTrue(w.top + w.height <= 40 && w.left + w.width <= 50 && w.height < 40 && w.width < 50)
            XCTAssertTrue(area > 0.02 * 0.5 && area < 0.33 * 1.5 && ratio > 0.3 * 0.6 && ratio < 3.3 * 1.6, "\(w)")
        }
        let erased = apply(erasing, x, seed: 1)
        let changed = zip(erased.scalars, x.scalars).filter { $0 != $1 }
        XCTAssertTrue(!changed.isEmpty && changed.allSatisfy { $0.0 == 0.5 })
        XCTAssertEqual(apply(RandomErasing(p: 0), x).scalars, x.scalars)
        XCTAssertEqual(apply(RandomErasing(p: 1, value: nil), x).shape, x.shape)

        let rotation = RandomRotation(20)
        var gr = RandomGenerator(seed: 2)
        let angles = (0..<300).map { _ in rotation.angle(generator: &gr) }
        XCTAssertTrue(angles.allSatisfy { abs($0) <= 20 } && angles.min()! < -15 && angles.max()! > 15)
    }

    /// Paired transforms move image and mask together: with an image whose first channel is the
    /// mask and nearest interpolation for both, the two stay equal (up to the mask's own fill).
    func testPairedTransformsKeepImageAndMaskAligned() {
        var g = RandomGenerator(seed: 4)
        let mask = Tensor((0..<(13 * 17)).map { _ in Float(Int.random(in: 1...5, using: &g)) }, shape: [13, 17])
        let image = Tensor.concatenate([mask.reshaped([1, 13, 17]) * 0.1, Tensor.rand([2, 13, 17], generator: &g)], axis: 0)
        let paired = PairedCompose([
            PairedRandomResizedCrop(RandomResizedCrop((11, 12), interpolation: .nearest)),
            PairedRandomFlip(), PairedRandomFlip(vertical: true),
            PairedRandomRotation(RandomRotation(40, interpolation: .nearest)),
            PairedRandomCrop(RandomCrop(size: (10, 10), padding: 2)),
            ImageOnly(ColorJitter(brightness: 0.5)),
        ])
        for seed in 0..<20 as Range<UInt64> {
            var g = RandomGenerator(seed: seed)
            let (y, m) = paired(image: image, mask: mask, generator: &g)
            XCTAssertEqual(y.shape, [3, 10, 10])
            XCTAssertEqual(m.shape, [10, 10])
            // The image's channel 0 went through the same geometry (and a brightness factor).
            let ratios = zip(y[0].scalars, m.scalars).filter { $0.1 != 0 }.map { $0.0 / $0.1 }
            XCTAssertTrue(ratios.allSatisfy { abs($0 - ratios[0]) < 1e-4 }, "seed \(seed): \(ratios)")
            XCTAssertTrue(zip(y[0].scalars, m.scalars).allSatisfy { $0.1 != 0 || $0.0 == 0 }, "seed \(seed)")
        }
        let resized = PairedResize(Resize((6, 8)))(image: image, mask: mask, generator: &g)
        XCTAssertEqual(resized.mask.shape, [6, 8])
        XCTAssertTrue(resized.mask.scalars.allSatisfy { (1...5).contains($0) })
        let cropped = PairedRandomCrop(RandomCrop(size: 17, padding: 4), maskFill: 255)(image: image, mask: mask, generator: &g)
        XCTAssertTrue(cropped.mask.scalars.contains(255) || cropped.mask.scalars.allSatisfy { $0 <= 5 })
    }
}
