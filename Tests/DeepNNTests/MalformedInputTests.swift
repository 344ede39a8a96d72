import XCTest
import Foundation
import DeepCore
import DeepNN

/// Malformed and crafted inputs from outside (issue 17): IDX files whose sizes overflow or whose
/// magic number is not the one expected, gzip files that are not gzip or inflate far beyond what
/// their header announces, and the corpus under Tests/Fixtures/malformed/, every file of which
/// must throw, quickly and in bounded memory.
final class MalformedInputTests: XCTestCase {
    /// The corpus folder (see its make_corpus.py).
    private let corpus = fixtureURL("malformed")

    /// IDX bytes: the magic number for unsigned bytes and `dims.count` dimensions, the sizes, `body`.
    private func idx(_ dims: [Int], _ body: [UInt8] = []) -> Data {
        var d = Data([0, 0, 8, UInt8(dims.count)])
        for n in dims { d.append(contentsOf: (0..<4).map { UInt8(truncatingIfNeeded: n >> (24 - 8 * $0)) }) }
        return d + Data(body)
    }

    /// Fails unless `body` throws a ``DatasetError`` whose text names `path` and contains `phrase`.
    private func assertDatasetError<T>(_ phrase: String, path: String? = nil, file: StaticString = #filePath, line: UInt = #line,
                                       _ body: () throws -> T) {
        do {
            _ = try body()
            XCTFail("nothing was thrown; expected an error saying \"\(phrase)\"", file: file, line: line)
        } catch let error as DatasetError {
            XCTAssertTrue(error.description.contains(phrase), "\"\(phrase)\" not in: \(error)", file: file, line: line)
            if let path { XCTAssertEqual(error.path, path, file: file, line: line) }
        } catch {
            XCTFail("expected a DatasetError, got \(error)", file: file, line: line)
        }
    }

    /// A Fashion-MNIST test split in a new folder: the images and labels files as given.
    private func split(images: Data, labels: Data, labelsName: String = "t10k-labels-idx1-ubyte") throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("malformed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        try images.write(to: directory.appendingPathComponent("t10k-images-idx3-ubyte"))
        try labels.write(to: directory.appendingPathComponent(labelsName))
        return directory
    }

    // MARK: IDX

    /// Issue 17: `00 00 08 02 ff 00 ff ff ff ff ff ff` trapped multiplying its sizes.
    func testIDXSizesMultiplyingPastIntMaxThrow() {
        assertDatasetError("IDX sizes [4278255615, 4294967295] multiply past Int.max", path: "x.idx") {
            try IDXArray(data: [0x00, 0x00, 0x08, 0x02, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], path: "x.idx")
        }
        assertDatasetError("multiply past Int.max") { try IDXArray(data: [UInt8](idx([0, 0xFFFF_FFFF, 0xFFFF_FFFF])), path: "x") }
        assertDatasetError("multiply past Int.max") { try IDXArray(data: [UInt8](idx(Array(repeating: 0xFFFF_FFFF, count: 4))), path: "x") }
        // A size announcing more data than there is costs no memory before the check.
        assertDatasetError("needs 4294967295 bytes of data at offset 8, the data has 3") {
            try IDXArray(data: [UInt8](idx([0xFFFF_FFFF], [1, 2, 3])), path: "x")
        }
        assertDatasetError("longer than the 2 bytes IDX shape [2] announces at offset 8: 3 more bytes follow") {
            try IDXArray(data: [UInt8](idx([2], [1, 2, 3, 4, 5])), path: "x")
        }
    }

    /// Issue 17: an images file with a labels magic number reported a shape, not the magic number.
    func testImagesFileWithLabelsMagicNumberSaysWrongMagicNumber() throws {
        let labels = idx([3], [1, 2, 3])
        let directory = try split(images: labels, labels: labels)
        assertDatasetError("wrong IDX magic number 0x00000801 (1 dimension): expected 0x00000803 (3 dimensions)",
                           path: directory.appendingPathComponent("t10k-images-idx3-ubyte").path) {
            try FashionMNIST(split: .test, directory: directory.path)
        }
        let images = idx([3, 28, 28], Array(repeating: 7, count: 3 * 784))
        let swapped = try split(images: images, labels: images)
        assertDatasetError("wrong IDX magic number 0x00000803 (3 dimensions): expected 0x00000801 (1 dimension)") {
            try FashionMNIST(split: .test, directory: swapped.path)
        }
        XCTAssertEqual(try FashionMNIST(split: .test, directory: split(images: images, labels: labels).path).count, 3)
    }

    // MARK: gzip

    /// Issue 17: a `.gz` file that is not gzip loaded as plain data.
    func testGzFileThatIsNotGzipThrows() throws {
        let images = idx([3, 28, 28], Array(repeating: 7, count: 3 * 784))
        let directory = try split(images: images, labels: idx([3], [1, 2, 3]), labelsName: "t10k-labels-idx1-ubyte.gz")
        assertDatasetError("not gzip data: the magic number is 00 00 08 01, expected 1f 8b",
                           path: directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz").path) {
            try FashionMNIST(split: .test, directory: directory.path)
        }
    }

    /// Issue 17: a small gzip labels file inflating to gigabytes was inflated whole before its
    /// header was checked. The committed bomb announces 10 labels, then holds 64 MiB of zeros in
    /// 64 KB: reading stops one byte past the announced 8 + 10 bytes.
    func testGzipBombStopsOneBytePastTheAnnouncedLength() throws {
        let bomb = corpus.appendingPathComponent("gz-bomb-labels.gz")
        XCTAssertLessThanOrEqual(try Data(contentsOf: bomb).count, 100_000)
        let start = Date()
        let growth = try peakResidentGrowth {
            assertDatasetError("the data is longer than the 10 bytes IDX shape [10] announces at offset 8: "
                               + "the gzip data inflates to more (stopped after inflating 19 bytes)", path: bomb.path) {
                try IDXArray(contentsOf: bomb.path)
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        if let growth { XCTAssertLessThan(growth, 16 << 20, "reading the bomb raised the peak memory by \(growth >> 20) MiB") }
    }

    /// `Gzip.decompress(data:limit:)`: inflates up to the limit and no further; reads concatenated
    /// members; reports truncation, corruption and trailing bytes.
    func testGzipDecompressIsBoundedAndStrict() throws {
        let bomb = try Data(contentsOf: corpus.appendingPathComponent("gz-bomb-labels.gz"))
        assertDatasetError("inflates to more than the limit of 1000 bytes (stopped after inflating 1001 bytes)", path: "bomb.gz") {
            try Gzip.decompress(data: bomb, limit: 1000, path: "bomb.gz")
        }
        let inflated = try Gzip.decompress(data: bomb, limit: 8 + 64 << 20)
        XCTAssertEqual(inflated.count, 8 + 64 << 20)
        XCTAssertEqual(Array(inflated.prefix(8)), [0, 0, 8, 1, 0, 0, 0, 10])
        // Two members: the second starts right after the first, as `cat a.gz b.gz` makes them.
        let twoMembers = try Data(contentsOf: corpus.appendingPathComponent("gz-second-member-too-long.gz"))
        XCTAssertEqual(try Gzip.decompress(data: twoMembers, limit: 2000).count, 12 + 1000)
        let cases = [("gz-truncated.gz", "ends before its end-of-stream marker"), ("gz-bad-crc.gz", "incorrect data check"),
                     ("gz-trailing-garbage.gz", "7 bytes after the end of the gzip data are not a gzip member"),
                     ("gz-corrupt-deflate.gz", "corrupt gzip data at compressed byte"),
                     ("gz-empty.gz", "not gzip data: the magic number is missing (empty file)")]
        for (name, phrase) in cases {
            assertDatasetError(phrase) { try Gzip.decompress(data: Data(contentsOf: corpus.appendingPathComponent(name)), limit: 1 << 20) }
        }
    }

    // MARK: The corpus

    /// Every file under Tests/Fixtures/malformed/ (recursively) throws from its reader, within a
    /// second and without raising the peak memory by 16 MiB. Inputs the fuzzers found
    /// (`fuzz-crashes/`) must not crash but may load.
    func testEveryMalformedInputThrowsQuicklyInBoundedMemory() throws {
        let files = try corpusFiles()
        XCTAssertGreaterThan(files.count, 50)
        for url in files {
            let name = url.path.dropFirst(corpus.path.count + 1)
            let mayLoad = name.hasPrefix("fuzz-crashes/")
            let start = Date()
            let growth = try peakResidentGrowth {
                if url.lastPathComponent.hasSuffix(".checkpoint.safetensors") {
                    return replayCheckpoint(url, String(name))
                }
                if mayLoad, url.lastPathComponent.hasSuffix(".einops.txt") {
                    return try replayEinops(url, String(name))
                }
                if url.lastPathComponent.hasSuffix(".einops.txt") {
                    let text = try String(contentsOf: url, encoding: .utf8)
                    for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
                        // The error quotes the pattern (the third field), or the whole line when it cannot be read.
                        let fields = line.split(separator: "|", omittingEmptySubsequences: false)
                        let pattern = fields.count > 2 ? fields[2].trimmingCharacters(in: .whitespaces) : String(line)
                        assertThrows(EinopsError.self, String(name), mayLoad: mayLoad, naming: pattern) {
                            try EinopsCall(parsing: String(line)).outputShape()
                        }
                    }
                    return
                }
                if url.lastPathComponent.hasSuffix(".mask.png") {  // a good image but no class-index mask
                    assertThrows(ImageFileError.self, String(name), mayLoad: mayLoad) { try Image(maskContentsOf: url) }
                    return
                }
                switch url.pathExtension {
                case "safetensors": assertThrows(TensorFileError.self, String(name), mayLoad: mayLoad) { try Safetensors.read(from: url) }
                case "npy": assertThrows(TensorFileError.self, String(name), mayLoad: mayLoad) { try Npy.read(from: url) }
                case "pth": assertThrows(TensorFileError.self, String(name), mayLoad: mayLoad) { try TorchFile.read(from: url) }
                case "idx", "gz": assertThrows(DatasetError.self, String(name), mayLoad: mayLoad) { try IDXArray(contentsOf: url.path) }
                case "png", "jpg": assertThrows(ImageFileError.self, String(name), mayLoad: mayLoad) { try Image(contentsOf: url) }
                default: XCTFail("\(name): no reader for this extension (expected .safetensors, .npy, .pth, .idx, .gz, .png, .mask.png, .jpg or .einops.txt)")
                }
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 1, "\(name) took too long")
            if let growth { XCTAssertLessThan(growth, 16 << 20, "\(name) raised the peak memory by \(growth >> 20) MiB") }
        }
    }

    /// Replays an einops input the fuzzer found, as `Fuzz/Sources/fuzz-einops` reads it (the
    /// first line is the pattern; `name=value` lines are axis sizes; `shape=d0,d1,…` the input's
    /// shape, default 2×3×4): rearrange, reduce and repeat, with the pattern alone and with the
    /// sizes, must each work or throw an ``EinopsError``. (Inputs kept here ask for no
    /// legitimately huge result.)
    private func replayEinops(_ url: URL, _ name: String) throws {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let pattern = lines.first.map(String.init) ?? ""
        var sizes: [String: Int] = [:], shape = [2, 3, 4]
        for line in lines.dropFirst() {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals]), value = line[line.index(after: equals)...]
            if key == "shape" { shape = value.split(separator: ",").compactMap { Int($0) } } else if let size = Int(value) { sizes[key] = size }
        }
        let x = Tensor((0..<shape.reduce(1, *)).map(Float.init), shape: shape)
        for given in [[:], sizes] {
            assertThrows(EinopsError.self, name, mayLoad: true, naming: pattern) { try x.rearranged(pattern, given) }
            assertThrows(EinopsError.self, name, mayLoad: true, naming: pattern) { try Tensor.rearranged([x, x], pattern, given) }
            for reduction in EinopsReduction.allCases {
                assertThrows(EinopsError.self, name, mayLoad: true, naming: pattern) { try x.reduced(pattern, reduction, given) }
            }
            assertThrows(EinopsError.self, name, mayLoad: true, naming: pattern) { try x.repeated(pattern, given) }
        }
    }

    /// Resumes a small trainer (a model with BatchNorm under AdamW and OneCycleLR, as
    /// `Fuzz/Sources/fuzz-checkpoint` does) from a checkpoint the fuzzer found: it must be refused
    /// with an error naming the file, or load and then train one step to finite weights.
    private func replayCheckpoint(_ url: URL, _ name: String) {
        manualSeed(0)
        let model = Sequential(Linear(4, 8), BatchNorm1d(8), ReLU(), Linear(8, 3))
        let optimizer = AdamW(model.parameters, learningRate: 1e-3, weightDecay: 0.05)
        let trainer = Trainer(model: model, optimizer: optimizer,
                              scheduler: OneCycleLR(optimizer, maxLearningRate: 1e-3, totalSteps: 10), classCount: 3)
        trainer.verbose = false
        do {
            try trainer.resume(from: url)
        } catch {
            XCTAssertTrue("\(error)".contains(url.lastPathComponent), "\(name): the error does not name the file: \(error)")
            return
        }
        optimizer.zeroGrad()
        crossEntropy(model(Tensor((0..<16).map { Float($0) / 16 }, shape: [4, 4])), [0, 1, 2, 0]).backward()
        optimizer.step()
        XCTAssertTrue(model.parameters.allSatisfy { $0.scalars.allSatisfy(\.isFinite) }, "\(name): training after loading made non-finite weights")
    }

    /// The inputs of the corpus: every file below it but its generator and notes.
    private func corpusFiles() throws -> [URL] {
        let enumerator = FileManager.default.enumerator(at: corpus, includingPropertiesForKeys: [.isRegularFileKey])
        var files: [URL] = []
        while let url = enumerator?.nextObject() as? URL {
            guard try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true,
                  !["py", "md"].contains(url.pathExtension), !url.lastPathComponent.hasPrefix(".") else { continue }
            files.append(url)
        }
        return files.sorted { $0.path < $1.path }
    }

    /// Fails unless `body` throws an `E` whose text contains `naming` (the file's name when nil);
    /// when `mayLoad`, loading without an error is accepted too.
    private func assertThrows<E: Error, T>(_: E.Type, _ name: String, mayLoad: Bool, naming: String? = nil,
                                           file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) {
        do {
            _ = try body()
            if !mayLoad { XCTFail("\(name)\(naming.map { ": \($0)" } ?? ""): loaded without an error", file: file, line: line) }
        } catch let error as E {
            let expected = naming ?? String(name.split(separator: "/").last!)
            XCTAssertTrue("\(error)".contains(expected), "\(name): the error does not name \"\(expected)\": \(error)",
                          file: file, line: line)
        } catch {
            XCTFail("\(name): expected \(E.self), got \(error)", file: file, line: line)
        }
    }

    /// How much `body` raises the process's peak resident memory (Linux's VmHWM, reset first
    /// through /proc/self/clear_refs), or nil where that cannot be measured.
    private func peakResidentGrowth(_ body: () throws -> Void) throws -> Int? {
        func status(_ field: String) -> Int? {
            guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
                  let kilobytes = Int(line.dropFirst(field.count + 1).filter(\.isNumber)) else { return nil }
            return kilobytes * 1024
        }
        let clearRefs = FileHandle(forWritingAtPath: "/proc/self/clear_refs")
        let reset = (try? clearRefs?.write(contentsOf: Data("5".utf8))) != nil
        try? clearRefs?.close()
        let before = status("VmRSS")
        try body()
        guard reset, let before, let peak = status("VmHWM") else { return nil }
        return peak - before
    }
}
