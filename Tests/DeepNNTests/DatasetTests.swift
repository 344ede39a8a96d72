import XCTest
import DeepCore
import DeepNN

final class DatasetTests: XCTestCase {
    /// Writes IDX files (gzip-compressed through /bin/gzip) for a tiny Fashion-MNIST split.
    func writeSplit(_ dir: URL, images: Int, labels: [UInt8], corruptGzip: Bool = false) throws {
        func idx(_ dims: [Int], _ body: [UInt8]) -> Data {
            var d = Data([0, 0, 8, UInt8(dims.count)])
            for n in dims { d.append(contentsOf: [UInt8(n >> 24 & 255), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)]) }
            return d + Data(body)
        }
        let pixels = (0..<(images * 784)).map { UInt8($0 % 256) }
        try idx([images, 28, 28], pixels).write(to: dir.appendingPathComponent("t10k-images-idx3-ubyte"))
        try idx([labels.count], labels).write(to: dir.appendingPathComponent("t10k-labels-idx1-ubyte"))
        for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/gzip")
            p.arguments = ["-f", dir.appendingPathComponent(name).path]
            try p.run(); p.waitUntilExit()
        }
        if corruptGzip {
            let url = dir.appendingPathComponent("t10k-images-idx3-ubyte.gz")
            var data = try Data(contentsOf: url)
            data = data.prefix(data.count / 2)
            try data.write(to: url)
        }
    }

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("deepstitch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func testReadsGzippedIDXFiles() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeSplit(dir, images: 3, labels: [9, 0, 4])
        let data = try FashionMNIST(split: .test, directory: dir.path)
        XCTAssertEqual(data.count, 3)
        var rng = RandomGenerator(seed: 0)
        let e = data.example(at: 1, generator: &rng)
        XCTAssertEqual(e.label, 0)
        XCTAssertEqual(e.input.shape, [1, 28, 28])
        XCTAssertEqual(e.input.scalar(at: [0, 0, 0]), Float(784 % 256) / 255, accuracy: 1e-6)
    }

    func testBadFilesThrowDescriptiveErrors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try FashionMNIST(split: .test, directory: dir.path)) { XCTAssertTrue("\($0)".contains("file not found"), "\($0)") }
        try writeSplit(dir, images: 3, labels: [9, 0])
        XCTAssertThrowsError(try FashionMNIST(split: .test, directory: dir.path)) { XCTAssertTrue("\($0)".contains("labels of shape [2] for 3 images"), "\($0)") }
        try writeSplit(dir, images: 2, labels: [9, 12])
        XCTAssertThrowsError(try FashionMNIST(split: .test, directory: dir.path)) { XCTAssertTrue("\($0)".contains("label 12 at index 1"), "\($0)") }
        try writeSplit(dir, images: 30, labels: Array(repeating: 1, count: 30), corruptGzip: true)
        XCTAssertThrowsError(try FashionMNIST(split: .test, directory: dir.path)) { XCTAssertTrue("\($0)".contains("t10k-images-idx3-ubyte.gz"), "\($0)") }
        XCTAssertThrowsError(try IDXArray(data: [0, 0, 8, 1, 0, 0, 0, 5, 1, 2], path: "x")) { XCTAssertTrue("\($0)".contains("needs 5 bytes"), "\($0)") }
        XCTAssertThrowsError(try IDXArray(data: [1, 0, 8, 1], path: "x")) { XCTAssertTrue("\($0)".contains("magic"), "\($0)") }
    }

    /// The real data set, when Debian's package is installed (the README's main job installs it).
    func testDebianFashionMNISTWhenInstalled() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory + "/t10k-labels-idx1-ubyte.gz") else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let test = try FashionMNIST(split: .test)
        XCTAssertEqual(test.count, 10000)
        XCTAssertEqual(Set(test.labels), Set(0..<10))
        XCTAssertEqual(test.labels.filter { $0 == 3 }.count, 1000)
    }

    func testTransformsAreSeededAndShapePreserving() {
        let x = Tensor.arange(0, 2 * 4 * 5).reshaped([2, 4, 5])
        var a = RandomGenerator(seed: 4), b = RandomGenerator(seed: 4)
        let t = Compose([RandomCrop(size: 4, padding: 1), RandomHorizontalFlip(p: 1)])
        let y1 = t(x, generator: &a), y2 = t(x, generator: &b)
        XCTAssertEqual(y1.shape, [2, 4, 4])
        XCTAssertEqual(y1.scalars, y2.scalars)
        var g = RandomGenerator(seed: 0)
        let flipped = RandomHorizontalFlip(p: 1)(x, generator: &g)
        XCTAssertEqual(flipped.scalar(at: [1, 2, 0]), x.scalar(at: [1, 2, 4]))
        let n = Normalize(mean: [1, 2], std: [2, 4])(x, generator: &g)
        XCTAssertEqual(n.scalar(at: [1, 0, 0]), (20 - 2) / 4)
    }
}
