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

    // MARK: Subset, ConcatDataset, randomSplit (torch.utils.data's rules: Tests/Fixtures/make_data.py)

    /// `count` examples whose input is [first + i] and label first + i.
    struct Numbered: Dataset {
        let count: Int
        var first = 0
        func example(at index: Int, generator: inout RandomGenerator) -> Example {
            Example(input: Tensor([Float(first + index)]), label: first + index)
        }
    }

    /// The labels of every example of `data`.
    func labels(_ data: Dataset) -> [Int] {
        var g = RandomGenerator(seed: 0)
        return (0..<data.count).map { data.example(at: $0, generator: &g).label }
    }

    /// `Tests/Fixtures/data.json` as Doubles (fractions must not pass through Float).
    func dataFixture() throws -> [String: [Double]] {
        struct Entry: Decodable { let data: [Double] }
        let entries = try JSONDecoder().decode([String: Entry].self, from: Data(contentsOf: fixtureURL("data.json")))
        return entries.mapValues(\.data)
    }

    func testSubsetIndexesItsDataset() {
        let subset = Subset(Numbered(count: 10), indices: [7, 2, 2, 9])
        XCTAssertEqual(subset.count, 4)
        XCTAssertEqual(labels(subset), [7, 2, 2, 9], "in the order given, repeats allowed")
        var g = RandomGenerator(seed: 0)
        XCTAssertEqual(subset.example(at: 3, generator: &g).input.scalars, [9])
        XCTAssertEqual(labels(Subset(subset, indices: [3, 0])), [9, 7], "a subset of a subset")
        XCTAssertEqual(Subset(Numbered(count: 3), indices: []).count, 0)
    }

    /// Sizes from fractions as PyTorch computes them (floor, then the remainder one each in turn
    /// from the first subset), for every case of the fixture.
    func testRandomSplitSizesFromFractionsMatchPyTorch() throws {
        let fixture = try dataFixture()
        var cases = 0
        while let count = fixture["split\(cases).count"]?.first, let fractions = fixture["split\(cases).fractions"] {
            let expected = fixture["split\(cases).sizes"]!.map { Int($0) }
            XCTAssertEqual(randomSplitSizes(count: Int(count), fractions: fractions), expected, "\(Int(count)) examples by \(fractions)")
            let parts = randomSplit(Numbered(count: Int(count)), fractions: fractions, seed: UInt64(cases))
            XCTAssertEqual(parts.map(\.count), expected)
            cases += 1
        }
        XCTAssertEqual(cases, 11)
    }

    /// The subsets are disjoint runs of one seeded permutation covering the dataset: the same seed
    /// gives the same split, another seed another (the permutation is not PyTorch's: another
    /// generator).
    func testRandomSplitIsASeededPartition() {
        let data = Numbered(count: 50)
        let parts = randomSplit(data, sizes: [30, 0, 15, 5], seed: 7)
        XCTAssertEqual(parts.map(\.count), [30, 0, 15, 5])
        let all = parts.flatMap(\.indices)
        XCTAssertEqual(all.sorted(), Array(0..<50), "disjoint and covering")
        XCTAssertNotEqual(all, Array(0..<50), "shuffled")
        XCTAssertEqual(parts.map { labels($0) }, parts.map(\.indices), "each subset reads the dataset at its indices")
        XCTAssertEqual(randomSplit(data, sizes: [30, 0, 15, 5], seed: 7).map(\.indices), parts.map(\.indices), "same seed, same split")
        XCTAssertNotEqual(randomSplit(data, sizes: [30, 0, 15, 5], seed: 8).map(\.indices), parts.map(\.indices))
        // One permutation cut into runs: other sizes with the same seed cut the same sequence.
        XCTAssertEqual(randomSplit(data, sizes: [10, 40], seed: 7).flatMap(\.indices), all)
        XCTAssertEqual(randomSplit(data, fractions: [0.6, 0.0, 0.3, 0.1], seed: 7).map(\.indices), parts.map(\.indices))
        XCTAssertEqual(randomSplit(Numbered(count: 0), sizes: [0, 0], seed: 1).map(\.count), [0, 0])
    }

    /// PyTorch's index mapping: the first dataset whose running total exceeds the index, so empty
    /// datasets are passed over.
    func testConcatDatasetMatchesPyTorch() throws {
        let fixture = try dataFixture()
        let sizes = fixture["concat.sizes"]!.map { Int($0) }
        var first = 0
        let parts: [Dataset] = sizes.map { n in defer { first += 100 }; return Numbered(count: n, first: first) }
        let concat = ConcatDataset(parts)
        XCTAssertEqual(concat.cumulativeSizes, fixture["concat.cumulative"]!.map { Int($0) })
        XCTAssertEqual(concat.count, sizes.reduce(0, +))
        let locations = fixture["concat.locations"]!.map { Int($0) }
        for index in 0..<concat.count {
            let (d, local) = concat.location(of: index)
            XCTAssertEqual([d, local], Array(locations[2 * index..<2 * index + 2]), "index \(index)")
        }
        XCTAssertEqual(labels(concat), [0, 1, 2, 200, 201, 400, 401, 402, 403, 500])
        XCTAssertEqual(ConcatDataset([Numbered(count: 0)]).count, 0)
        // Composable: a split of a concatenation.
        XCTAssertEqual(randomSplit(concat, sizes: [4, 6], seed: 0).flatMap { labels($0) }.sorted(), labels(concat).sorted())
    }
}
