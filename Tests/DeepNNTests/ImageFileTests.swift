import XCTest
import Foundation
import DeepCore
import DeepNN
import TestSupport

/// PNG and JPEG decoding against PIL's pixels for the small files of Tests/Fixtures/images
/// (make_images.py), encoding round trips, `Image.tensor()` against torchvision's `ToDtype` and
/// `Image(tensor:)` against `ToPILImage`.
final class ImageFileTests: XCTestCase {
    private static let fixtures = loadFixtures("images")

    private func url(_ name: String) -> URL { fixtureURL("images").appendingPathComponent(name) }

    /// The samples as Float, HWC.
    private func floats(_ image: Image) -> [Float] {
        switch image.samples {
        case .uint8(let v): return v.map(Float.init)
        case .uint16(let v): return v.map(Float.init)
        }
    }

    /// The largest difference between the decoded file and PIL's pixels (which must have the same shape).
    private func maxDifference(_ image: Image, _ name: String, file: StaticString = #filePath, line: UInt = #line) -> Float {
        let expected = Self.fixtures[name]!
        XCTAssertEqual([image.height, image.width, image.channels], expected.shape, name, file: file, line: line)
        guard [image.height, image.width, image.channels] == expected.shape else { return .infinity }
        return zip(floats(image), expected.scalars).map { abs($0 - $1) }.max() ?? 0
    }

    func testPNGDecodesAsPIL() throws {
        let cases: [(String, Int, Int)] = [("gray8", 1, 8), ("gray16", 1, 16), ("gray_alpha8", 2, 8), ("rgb8", 3, 8),
                                           ("rgba8", 4, 8), ("rgb8_interlaced", 3, 8), ("palette", 3, 8),
                                           ("palette_trns", 4, 8), ("gray1", 1, 8)]
        for (name, channels, depth) in cases {
            let image = try Image(contentsOf: url(name + ".png"))
            XCTAssertEqual(image.channels, channels, name)
            XCTAssertEqual(image.bitDepth, depth, name)
            XCTAssertEqual(maxDifference(image, name), 0, name)
        }
    }

    /// libjpeg-turbo 2.1 (Debian) and PIL's bundled libjpeg-turbo 3 decode these files identically.
    func testJPEGDecodesAsPILWithEXIFOrientation() throws {
        let names = ["jpeg_gray", "jpeg_rgb", "jpeg_rgb_progressive", "jpeg_gray_progressive"]
            + [3, 6, 8, 5, 7, 2, 4].map { "jpeg_exif\($0)" }
        for name in names {
            let image = try Image(contentsOf: url(name + ".jpg"))
            XCTAssertEqual(maxDifference(image, name), 0, name)
        }
        // Orientation 6 turns the 16 x 12 picture to 12 x 16.
        let turned = try Image(contentsOf: url("jpeg_exif6.jpg"))
        XCTAssertEqual([turned.width, turned.height], [12, 16])
    }

    /// The magic bytes decide the format, not the extension.
    func testFormatComesFromTheBytes() throws {
        let data = try Data(contentsOf: url("jpeg_rgb.jpg"))
        let image = try Image(data: data, path: "picture.png")
        XCTAssertEqual(image.channels, 3)
        XCTAssertThrowsError(try Image(data: Data("GIF89a".utf8), path: "x.png")) { error in
            XCTAssertEqual("\(error)", "x.png: neither PNG nor JPEG: the file starts with 47 49 46 38 39 61")
        }
        XCTAssertThrowsError(try Image(data: Data(), path: "e.jpg")) { XCTAssertEqual("\($0)", "e.jpg: empty file: neither PNG nor JPEG") }
        let missing = url("no-such-file.png")
        XCTAssertThrowsError(try Image(contentsOf: missing)) { XCTAssertTrue("\($0)".hasPrefix(missing.path + ": cannot read the file")) }
    }

    func testMaskGivesPaletteIndices() throws {
        let mask = try Image(maskContentsOf: url("palette.png"))
        XCTAssertEqual(mask.channels, 1)
        XCTAssertEqual(maxDifference(mask, "palette_indices"), 0)
        XCTAssertThrowsError(try Image(maskContentsOf: url("rgb8.png"))) {
            XCTAssertTrue("\($0)".contains("a mask must have 1 channel of class indices (gray or palette), this one has 3"), "\($0)")
        }
        XCTAssertThrowsError(try Image(maskContentsOf: url("jpeg_gray.jpg"))) { XCTAssertTrue("\($0)".contains("must be a PNG")) }
    }

    func testTensorMatchesTorchvisionToDtype() throws {
        for name in ["rgb8", "gray16"] {
            let x = try Image(contentsOf: url(name + ".png")).tensor()
            let expected = Self.fixtures[name + "_tensor"]!
            XCTAssertEqual(x.shape, expected.shape, name)
            XCTAssertEqual(x.scalars, expected.scalars, name)
        }
        let raw = try Image(contentsOf: url("rgb8.png"))
        let unscaled = raw.tensor(scaled: false)
        XCTAssertEqual(unscaled.shape, [3, 5, 7])
        guard case .uint8(let bytes) = raw.samples else { return XCTFail("8-bit expected") }
        // (c, y, x) of the tensor is sample (y, x, c).
        XCTAssertEqual(unscaled[2, 4, 6].item(), Float(bytes[(4 * 7 + 6) * 3 + 2]))
        XCTAssertEqual(unscaled[1, 0, 3].item(), Float(bytes[3 * 3 + 1]))
    }

    func testImageFromTensorTruncatesAsToPILImage() {
        let image = Image(tensor: Self.fixtures["to_pil_input"]!)
        XCTAssertEqual(floats(image), Self.fixtures["to_pil_output"]!.scalars)
        // Out of range values are clamped.
        XCTAssertEqual(floats(Image(tensor: Tensor([-1, 2, .nan], shape: [1, 1, 3]))), [0, 255, 0])
    }

    func testPNGRoundTrips() throws {
        for channels in 1...4 {
            let bytes = (0..<(6 * 5 * channels)).map { UInt8(($0 * 37 + channels) % 256) }
            let image = Image(width: 6, height: 5, channels: channels, samples: .uint8(bytes))
            XCTAssertEqual(try Image(data: image.encoded(as: .png)), image)
            let words = (0..<(6 * 5 * channels)).map { UInt16(($0 * 4099 + 65000) % 65536) }
            let deep = Image(width: 6, height: 5, channels: channels, samples: .uint16(words))
            XCTAssertEqual(try Image(data: deep.encoded(as: .png)), deep)
        }
    }

    func testJPEGRoundTripsClosely() throws {
        let original = try Image(contentsOf: url("jpeg_rgb.jpg"))
        // The same bytes as PIL's encoder at quality 90 (libjpeg's defaults: 4:2:0), so the same pixels.
        let again = try Image(data: original.encoded(as: .jpeg(quality: 90)))
        XCTAssertEqual(maxDifference(again, "jpeg_rgb_reencoded90"), 0)
        // Gray (no chroma subsampling) at quality 100 comes back within a level or two.
        let gray = try Image(contentsOf: url("gray8.png"))
        let grayAgain = try Image(data: gray.encoded(as: .jpeg(quality: 100)))
        XCTAssertEqual(grayAgain.channels, 1)
        let difference = zip(floats(gray), floats(grayAgain)).map { abs($0 - $1) }
        XCTAssertLessThanOrEqual(difference.max()!, 2)
        XCTAssertThrowsError(try Image(contentsOf: url("rgba8.png")).encoded(as: .jpeg(quality: 90))) {
            XCTAssertTrue("\($0)".contains("cannot encode"), "\($0)")
        }
        XCTAssertThrowsError(try Image(contentsOf: url("gray16.png")).encoded(as: .jpeg(quality: 90)))
        XCTAssertThrowsError(try original.encoded(as: .jpeg(quality: 0)))
    }

    func testWriteReplacesAtomically() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("images-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let target = directory.appendingPathComponent("out.png")
        let first = try Image(contentsOf: url("rgb8.png")), second = try Image(contentsOf: url("gray8.png"))
        try first.write(to: target, format: .png)
        try second.write(to: target, format: .png)
        XCTAssertEqual(try Image(contentsOf: target), second)
        try first.write(to: directory.appendingPathComponent("out.jpg"), format: .jpeg(quality: 75))
        // A failed encoding leaves the file as it was, and no temporary file behind.
        XCTAssertThrowsError(try first.write(to: target, format: .jpeg(quality: 101)))
        XCTAssertEqual(try Image(contentsOf: target), second)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted(), ["out.jpg", "out.png"])
        XCTAssertThrowsError(try first.write(to: directory.appendingPathComponent("missing/x.png"), format: .png))
    }
}

/// What the corrupt files of Tests/Fixtures/malformed (img-*, written by make_images.py) are
/// reported as (MalformedInputTests checks that each throws, naming the file).
final class ImageFileErrorTests: XCTestCase {
    func testCorruptFilesSayWhatIsWrong() {
        let cases = [
            ("img-truncated.png", "corrupt PNG: the file is truncated (it ends inside a chunk)"),
            ("img-signature-only.png", "corrupt PNG: the file is truncated"),
            ("img-bad-crc.png", "corrupt PNG: "),
            ("img-huge-dimensions.png", "corrupt PNG: 2147483647 x 2147483647 pixels exceed the limit of 268435456 pixels"),
            ("img-zero-width.png", "corrupt PNG: "),
            ("img-truncated.jpg", "corrupt JPEG: the file is truncated (the JPEG data ends early)"),
            ("img-truncated-progressive.jpg", "corrupt JPEG: the file is truncated (the JPEG data ends early)"),
            ("img-soi-only.jpg", "corrupt JPEG: the file is truncated"),
            ("img-header-only.jpg", "corrupt JPEG: the file is truncated"),
            ("img-huge-dimensions.jpg", "corrupt JPEG: 20000 x 20000 pixels exceed the limit of 268435456 pixels"),
            ("img-cmyk.jpg", "corrupt JPEG: CMYK JPEG images are not supported"),
            ("img-not-an-image.png", "neither PNG nor JPEG: the file starts with 47 49 46 38 39 61 20 6e"),
        ]
        for (name, phrase) in cases {
            let url = fixtureURL("malformed").appendingPathComponent(name)
            XCTAssertThrowsError(try Image(contentsOf: url), name) { error in
                XCTAssertTrue("\(error)".hasPrefix(url.path + ": " + phrase), "\(name): \(error)")
            }
        }
    }
}
