import XCTest
import Foundation
import DeepCore
import DeepNN
import TestSupport

/// `ImageFolder` and `SegmentationFolder` on folders made here from the fixture images.
final class ImageFolderTests: XCTestCase {
    private func fixture(_ name: String) -> URL { fixtureURL("images").appendingPathComponent(name) }

    /// A new empty folder, removed after the test.
    private func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("imagefolder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Copies fixture `name` to `root/relative`, making the folders on the way.
    private func place(_ name: String, at relative: String, in root: URL) throws {
        let target = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixture(name), to: target)
    }

    func testClassesFilesAndOrderFollowTorchvision() throws {
        let root = try temporaryFolder()
        try place("rgb8.png", at: "dog/b.png", in: root)
        try place("jpeg_rgb.jpg", at: "dog/a.JPEG", in: root)
        try place("gray8.png", at: "dog/sub/0.Png", in: root)
        try place("rgba8.png", at: "Zebra/x.jpg.png", in: root)
        try place("palette.png", at: "cat/z.jpg", in: root)   // a PNG named .jpg: the bytes decide
        try Data("not an image".utf8).write(to: root.appendingPathComponent("cat/notes.txt"))
        try Data().write(to: root.appendingPathComponent("stray-file.png"))   // not in a class folder: ignored
        let data = try ImageFolder(root: root)
        XCTAssertEqual(data.classes, ["Zebra", "cat", "dog"])   // code point order: upper case first
        XCTAssertEqual(data.classToIndex, ["Zebra": 0, "cat": 1, "dog": 2])
        XCTAssertEqual(data.samples.map { $0.url.path.dropFirst(root.path.count + 1) },
                       ["Zebra/x.jpg.png", "cat/z.jpg", "dog/a.JPEG", "dog/b.png", "dog/sub/0.Png"])
        XCTAssertEqual(data.samples.map(\.classIndex), [0, 1, 2, 2, 2])
        var generator = RandomGenerator(seed: 0)
        for i in 0..<data.count {
            let example = data.example(at: i, generator: &generator)
            XCTAssertEqual(example.input.shape[0], 3)
            XCTAssertEqual(example.label, data.samples[i].classIndex)
            XCTAssertNil(example.target)
        }
        // Gray becomes RGB with the same values, raw 0…255; the transform runs on that.
        let gray = try Image(contentsOf: fixture("gray8.png")).tensor(scaled: false)
        let expanded = data.example(at: 4, generator: &generator).input
        XCTAssertEqual(expanded.shape, [3, 5, 7])
        XCTAssertEqual(expanded[2].scalars, gray[0].scalars)
        let scaled = try ImageFolder(root: root, transform: ToTensor()).example(at: 4, generator: &generator).input
        XCTAssertEqual(scaled[0].scalars, gray[0].scalars.map { $0 * (1 / 255) })
    }

    func testFolderErrorsNameTheFile() throws {
        let root = try temporaryFolder()
        XCTAssertThrowsError(try ImageFolder(root: root)) { XCTAssertEqual("\($0)", "\(root.path): no class folder in this folder") }
        try place("rgb8.png", at: "a/1.png", in: root)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("b"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try ImageFolder(root: root)) { XCTAssertTrue("\($0)".contains("class 'b' has no file with extension png, jpg or jpeg")) }
        try Data("GIF89a".utf8).write(to: root.appendingPathComponent("b/fake.png"))
        XCTAssertThrowsError(try ImageFolder(root: root)) {
            XCTAssertEqual("\($0)", root.appendingPathComponent("b/fake.png").path + ": neither PNG nor JPEG: the file starts with 47 49 46 38 39 61")
        }
        XCTAssertThrowsError(try ImageFolder(root: root.appendingPathComponent("missing"))) { XCTAssertTrue("\($0)".contains("cannot list the folder")) }
    }

    func testSegmentationFolderPairsImagesAndMasks() throws {
        let root = try temporaryFolder()
        try place("rgb8.png", at: "images/b.png", in: root)
        try place("jpeg_gray.jpg", at: "images/a.jpg", in: root)
        try place("palette.png", at: "masks/b.png", in: root)
        try place("gray8.png", at: "masks/a.png", in: root)
        let data = try SegmentationFolder(root: root)
        XCTAssertEqual(data.pairs.map { $0.image.lastPathComponent }, ["a.jpg", "b.png"])
        var generator = RandomGenerator(seed: 0)
        let example = data.example(at: 1, generator: &generator)
        XCTAssertEqual(example.input.shape, [3, 5, 7])
        XCTAssertEqual(example.target?.shape, [5, 7])
        XCTAssertEqual(example.target?.scalars, loadFixtures("images")["palette_indices"]!.scalars)
        XCTAssertEqual(data.example(at: 0, generator: &generator).target?.scalars,
                       try Image(contentsOf: fixture("gray8.png")).tensor(scaled: false).scalars)

        try place("rgb8.png", at: "images/c.png", in: root)
        XCTAssertThrowsError(try SegmentationFolder(root: root)) {
            XCTAssertEqual("\($0)", root.appendingPathComponent("images/c.png").path + ": no mask for this image (expected masks/c.png)")
        }
        try FileManager.default.removeItem(at: root.appendingPathComponent("images/c.png"))
        try place("gray8.png", at: "masks/d.png", in: root)
        XCTAssertThrowsError(try SegmentationFolder(root: root)) { XCTAssertTrue("\($0)".contains("masks/d.png: no image for this mask")) }
        XCTAssertThrowsError(try SegmentationFolder(root: root.appendingPathComponent("images"))) { XCTAssertTrue("\($0)".contains("no such folder")) }
    }
}
