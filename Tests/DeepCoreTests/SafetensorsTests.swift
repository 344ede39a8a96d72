import XCTest
import Foundation
import DeepCore

final class SafetensorsTests: XCTestCase {
    // MARK: Round trips

    /// Tensors of several shapes and layouts: 0-D, empty, vector, 3-D, transposed and narrowed views.
    private func sampleTensors() -> [String: Tensor] {
        var rng = RandomGenerator(seed: 3)
        let base = Tensor.randn([3, 4], generator: &rng)
        return [
            "matrix": Tensor.randn([2, 3], generator: &rng),
            "scalar": Tensor(scalar: -2.5),
            "empty": Tensor(zeros: [0, 3]),
            "vector": Tensor.arange(0, 5),
            "cube": Tensor.randn([2, 3, 4], generator: &rng),
            "transposed": base.mT,
            "narrowed": base.narrowed(axis: 1, start: 1, length: 2),
            "layer.0.weight": Tensor([Float.infinity, -0.0, .leastNonzeroMagnitude], shape: [3]),
        ]
    }

    private func assertSameTensors(_ actual: [String: Tensor], _ expected: [String: Tensor],
                                   file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(actual.keys), Set(expected.keys), file: file, line: line)
        for (name, e) in expected {
            guard let a = actual[name] else { continue }
            XCTAssertEqual(a.shape, e.shape, name, file: file, line: line)
            XCTAssertEqual(a.scalars.map(\.bitPattern), e.scalars.map(\.bitPattern), name, file: file, line: line)
        }
    }

    func testRoundTripThroughFileKeepsShapesValuesAndMetadata() throws {
        let url = try makeTemporaryDirectory().appendingPathComponent("model.safetensors")
        let tensors = sampleTensors()
        XCTAssertFalse(tensors["transposed"]!.isContiguous)
        try Safetensors.write(tensors, metadata: ["format": "pt", "note": "quote \" and \\ and \n"], to: url)
        let (read, metadata) = try Safetensors.readWithMetadata(from: url)
        assertSameTensors(read, tensors)
        XCTAssertEqual(metadata, ["format": "pt", "note": "quote \" and \\ and \n"])
        assertSameTensors(try Safetensors.read(from: url), tensors)
    }

    func testRoundTripInMemoryAndEmptyDictionary() throws {
        let tensors = sampleTensors()
        assertSameTensors(try Safetensors.read(data: Safetensors.encode(tensors)), tensors)
        let empty = Safetensors.encode([:])
        XCTAssertEqual(try Safetensors.read(data: empty).count, 0)
        let (_, metadata) = try Safetensors.readWithMetadata(data: Safetensors.encode(["x": Tensor([1])]))
        XCTAssertEqual(metadata, [:])
    }

    func testEncodedLayoutIsSortedPaddedAndPacked() throws {
        let data = Safetensors.encode(["b": Tensor([1, 2, 3], shape: [3]), "a": Tensor([4, 5], shape: [1, 2])])
        let headerLength = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) })
        XCTAssertEqual(headerLength % 8, 0)
        let header = String(decoding: data[8..<(8 + headerLength)], as: UTF8.self)
        XCTAssertEqual(header.trimmingCharacters(in: .whitespaces),
                       #"{"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}"#)
        XCTAssertEqual(data.count, 8 + headerLength + 20)
        let floats = data[(8 + headerLength)...].withUnsafeBytes { raw in
            (0..<5).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
        XCTAssertEqual(floats, [4, 5, 1, 2, 3])
        // Padding rounds up to a multiple of 8 and is absent when the JSON already is one.
        for length in 1...8 {
            let name = String(repeating: "n", count: length)
            let json = #"{"\#(name)":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
            let encoded = Safetensors.encode([name: Tensor([1])])
            XCTAssertEqual(Int(encoded[0]) | Int(encoded[1]) << 8, (json.utf8.count + 7) / 8 * 8, name)
        }
    }

    func testEncodeMatchesPythonLibraryByteForByte() throws {
        let expected = loadFixtures("io/expected")
        let tensors = ["a", "b", "c", "d"].reduce(into: [String: Tensor]()) { $0[$1] = expected["st_reference.\($1)"]! }
        let python = try Data(contentsOf: fixtureURL("io/st_reference.safetensors"))
        XCTAssertEqual(Safetensors.encode(tensors, metadata: ["format": "pt"]), python)
    }

    // MARK: Files written by Python

    private func assertMatchesExpected(_ file: String, metadata expectedMetadata: [String: String],
                                       sourceLine: UInt = #line) throws {
        let expected = loadFixtures("io/expected").filter { $0.key.hasPrefix(file + ".") }
        XCTAssertFalse(expected.isEmpty)
        let (tensors, metadata) = try Safetensors.readWithMetadata(from: fixtureURL("io/\(file).safetensors"))
        XCTAssertEqual(metadata, expectedMetadata, line: sourceLine)
        XCTAssertEqual(tensors.count, expected.count, line: sourceLine)
        for (key, e) in expected {
            let name = String(key.dropFirst(file.count + 1))
            guard let t = tensors[name] else { XCTFail("\(file): no tensor \(name)", line: sourceLine); continue }
            assertClose(t, e, atol: 0, rtol: 0, "\(file).\(name)", line: sourceLine)
        }
    }

    func testReadsFileWrittenByNumpyInEveryDType() throws {
        // f32, f64, f16, i64 (one beyond 2^24), i32, i8, u8, bool, 0-D and (0, 3).
        try assertMatchesExpected("st_numpy", metadata: ["source": "numpy"])
    }

    func testReadsFileWrittenByTorchWithBFloat16() throws {
        try assertMatchesExpected("st_torch", metadata: ["format": "pt"])
        let tensors = try Safetensors.read(from: fixtureURL("io/st_torch.safetensors"))
        XCTAssertEqual(tensors["bf16"]?.shape, [2, 3])
        XCTAssertEqual(tensors["layer.0.weight"]?.shape, [2, 2])
    }

    // MARK: Malformed files

    /// Safetensors bytes with `header` (its length declared as `declaredLength` if given) and
    /// `dataCount` data bytes counting 0, 1, 2, ….
    private func safetensorsBytes(_ header: String, data dataCount: Int = 0, declaredLength: UInt64? = nil) -> Data {
        var length = (declaredLength ?? UInt64(header.utf8.count)).littleEndian
        var data = Data(bytes: &length, count: 8)
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: (0..<dataCount).map { UInt8(truncatingIfNeeded: $0) })
        return data
    }

    private func entryJSON(_ name: String, dtype: String = "F32", _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        #""\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(begin),\#(end)]}"#
    }

    func testWellFormedHandBuiltFileReads() throws {
        // Guards the builders below: the same construction without a defect is accepted.
        let tensors = try Safetensors.read(data: safetensorsBytes("{\(entryJSON("a", [2], 0, 8)),\(entryJSON("b", dtype: "U8", [3], 8, 11))}  ", data: 11))
        XCTAssertEqual(tensors["b"]?.scalars, [8, 9, 10])
        XCTAssertEqual(tensors["a"]?.shape, [2])
    }

    func testTruncatedOrOversizedHeaderLength() {
        assertTensorFileError(.truncated, at: 0, mentioning: "8-byte") { try Safetensors.read(data: Data([1, 0, 0])) }
        assertTensorFileError(.invalidHeaderLength, at: 0, mentioning: "past the end") {
            try Safetensors.read(data: safetensorsBytes("{}", declaredLength: 64))
        }
        assertTensorFileError(.invalidHeaderLength, at: 0, mentioning: "limit") {
            try Safetensors.read(data: safetensorsBytes("{}", declaredLength: 200_000_000))
        }
        assertTensorFileError(.invalidHeaderLength) { try Safetensors.read(data: safetensorsBytes("{}", declaredLength: UInt64.max)) }
    }

    func testInvalidJSONReportsByteOffset() {
        assertTensorFileError(.invalidHeader, at: 8 + 6, mentioning: "JSON") { try Safetensors.read(data: safetensorsBytes(#"{"a": }"#)) }
        assertTensorFileError(.invalidHeader, at: 8 + 2, mentioning: "UTF-8") {
            var bad = safetensorsBytes("{\"\u{7F}\":1}")
            bad[10] = 0xFF
            return try Safetensors.read(data: bad)
        }
        assertTensorFileError(.invalidHeader, mentioning: "not a dictionary") { try Safetensors.read(data: safetensorsBytes("[1, 2]")) }
        assertTensorFileError(.invalidHeader, mentioning: "after the end") { try Safetensors.read(data: safetensorsBytes("{} x")) }
        assertTensorFileError(.invalidHeader, mentioning: "nesting") {
            try Safetensors.read(data: safetensorsBytes(String(repeating: "[", count: 5000)))
        }
        assertTensorFileError(.invalidHeader, mentioning: "64 bits") {
            try Safetensors.read(data: safetensorsBytes(#"{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}"#))
        }
    }

    func testMissingAndInvalidFields() {
        let cases: [(String, TensorFileError.Kind, String)] = [
            (#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, .missingField, "dtype"),
            (#"{"a":{"dtype":"F32","data_offsets":[0,4]}}"#, .missingField, "shape"),
            (#"{"a":{"dtype":"F32","shape":[1]}}"#, .missingField, "data_offsets"),
            (#"{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}"#, .invalidField, "dtype"),
            (#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, .invalidField, "shape"),
            (#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, .invalidField, "shape"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, .invalidField, "data_offsets"),
            (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, .invalidField, "before they begin"),
            (#"{"a":[1]}"#, .invalidField, "not an object"),
            (#"{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, .invalidField, "metadata"),
        ]
        for (header, kind, words) in cases {
            let key = header.hasPrefix(#"{"__metadata__""#) ? "__metadata__" : "a"
            assertTensorFileError(kind, key: key, at: header.hasPrefix(#"{"a""#) ? 9 : nil, mentioning: words) {
                try Safetensors.read(data: safetensorsBytes(header, data: 4))
            }
        }
    }

    func testUnknownDType() {
        assertTensorFileError(.unsupportedDType, key: "a", mentioning: "F8_E4M3") {
            try Safetensors.read(data: safetensorsBytes("{\(entryJSON("a", dtype: "F8_E4M3", [4], 0, 4))}", data: 4))
        }
    }

    func testSizeAndOffsetsInconsistentWithShape() {
        assertTensorFileError(.sizeMismatch, key: "a", mentioning: "needs 24") {
            try Safetensors.read(data: safetensorsBytes("{\(entryJSON("a", [2, 3], 0, 20))}", data: 20))
        }
        assertTensorFileError(.sizeMismatch, key: "a", mentioning: "BF16") {
            try Safetensors.read(data: safetensorsBytes("{\(entryJSON("a", dtype: "BF16", [3], 0, 4))}", data: 4))
        }
        assertTensorFileError(.sizeMismatch, key: "a", mentioning: "Int") {
            try Safetensors.read(data: safetensorsBytes("{\(entryJSON("a", [1 << 40, 1 << 40], 0, 4))}", data: 4))
        }
        assertTensorFileError(.offsetsOutOfRange, key: "a", mentioning: "16 bytes") {
            try Safetensors.read(data: safetensorsBytes("{\(entryJSON("a", [2, 3], 0, 24))}", data: 16))
        }
    }

    /// Issue 17: a zero size beside huge ones makes a tensor of 0 bytes, so the size check passed
    /// and the row-major strides (which count a zero as 1) overflowed: a trap, no message.
    func testZeroSizeBesideHugeSizesThrowsInsteadOfOverflowingStrides() throws {
        for (shape, dtype) in [([0, 1 << 62, 1 << 62], "F32"), ([1 << 62, 0, 4], "U8"), ([0, Int.max, 2], "BOOL"),
                               ([2, 0, 1 << 61], "F64")] {
            assertTensorFileError(.sizeMismatch, key: "a", mentioning: "exceeds Int.max") {
                try Safetensors.read(data: safetensorsBytes("{\(entryJSON("a", dtype: dtype, shape, 0, 0))}"))
            }
        }
        // A zero size beside sizes whose product an Int holds still reads, as an empty tensor.
        let empty = try Safetensors.read(data: safetensorsBytes("{\(entryJSON("a", [0, 1 << 30, 1 << 30], 0, 0))}"))
        XCTAssertEqual(empty["a"]?.shape, [0, 1 << 30, 1 << 30])
        XCTAssertEqual(empty["a"]?.count, 0)
    }

    func testOverlapHoleAndTrailingBytesAreRejected() {
        let overlap = "{\(entryJSON("a", [4], 0, 16)),\(entryJSON("b", [4], 8, 24))}"
        assertTensorFileError(.overlappingData, key: "b", at: 8 + overlap.utf8.count + 8, mentioning: "\"a\"") {
            try Safetensors.read(data: safetensorsBytes(overlap, data: 24))
        }
        let hole = "{\(entryJSON("a", [2], 0, 8)),\(entryJSON("b", [2], 16, 24))}"
        assertTensorFileError(.unreferencedBytes, key: "b", at: 8 + hole.utf8.count + 8, mentioning: "8..<16") {
            try Safetensors.read(data: safetensorsBytes(hole, data: 24))
        }
        let single = "{\(entryJSON("a", [2], 0, 8))}"
        assertTensorFileError(.unreferencedBytes, at: 8 + single.utf8.count + 8, mentioning: "last 4") {
            try Safetensors.read(data: safetensorsBytes(single, data: 12))
        }
    }

    func testDuplicateKeys() {
        let header = "{\(entryJSON("a", [1], 0, 4)),\(entryJSON("a", [1], 4, 8))}"
        let second = header.utf8.count - entryJSON("a", [1], 4, 8).utf8.count - 1
        assertTensorFileError(.duplicateKey, key: "a", at: 8 + second) { try Safetensors.read(data: safetensorsBytes(header, data: 8)) }
    }

    func testEveryTruncationAndByteCorruptionIsHandled() throws {
        let valid = Safetensors.encode(["w": Tensor.arange(0, 6).reshaped([2, 3]), "b": Tensor([1, 2])], metadata: ["k": "v"])
        XCTAssertNoThrow(try Safetensors.read(data: valid))
        for length in 0..<valid.count {
            XCTAssertThrowsError(try Safetensors.read(data: valid.prefix(length)), "prefix of \(length) bytes")
        }
        // Any single corrupted byte must give an error or a result, never a crash.
        for position in 0..<valid.count {
            for value: UInt8 in [0x00, 0x22, 0x39, 0x5B, 0x7D, 0xFF] {
                var corrupt = valid
                corrupt[position] = value
                _ = try? Safetensors.read(data: corrupt)
            }
        }
    }

    func testErrorsNameTheFilePathKeyAndOffset() throws {
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("bad.safetensors")
        try safetensorsBytes("{\(entryJSON("weight", [2, 3], 0, 20))}", data: 20).write(to: url)
        let error = assertTensorFileError(.sizeMismatch, key: "weight", at: 9) { try Safetensors.read(from: url) }
        XCTAssertEqual(error?.path, url.path)
        let text = error.map(String.init(describing:)) ?? ""
        for part in [url.path, "\"weight\"", "byte 9", "needs 24"] { XCTAssertTrue(text.contains(part), text) }
        let missing = assertTensorFileError(.io) { try Safetensors.read(from: directory.appendingPathComponent("none.safetensors")) }
        XCTAssertEqual(missing?.path, directory.appendingPathComponent("none.safetensors").path)
    }

    // MARK: Atomic writes

    private func leftovers(in directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }
    }

    func testAtomicWriteReplacesTheTargetAndLeavesNoTemporaryFile() throws {
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("w.safetensors")
        try Safetensors.write(["x": Tensor([1])], to: url)
        try Safetensors.write(["y": Tensor([2, 3])], to: url)
        XCTAssertEqual(try Safetensors.read(from: url)["y"]?.scalars, [2, 3])
        XCTAssertEqual(try leftovers(in: directory), [])
    }

    func testAtomicWriteKeepsTheOldFileWhenTheWriterFails() throws {
        struct Injected: Error {}
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("w.safetensors")
        try Safetensors.write(["old": Tensor([7])], to: url)
        let before = try Data(contentsOf: url)
        XCTAssertThrowsError(try AtomicWrite.write(to: url) { sink in
            try sink.write(Safetensors.encode(["new": Tensor([8])]).prefix(20))
            throw Injected()
        }) { XCTAssertTrue($0 is Injected) }
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try leftovers(in: directory), [])
    }

    func testAtomicWriteIntoMissingDirectoryOrOverADirectoryFails() throws {
        let directory = try makeTemporaryDirectory()
        let missing = directory.appendingPathComponent("no/such/dir/w.safetensors")
        let error = assertTensorFileError(.io, mentioning: "temporary") { try Safetensors.write(["x": Tensor([1])], to: missing) }
        XCTAssertEqual(error?.path, missing.path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing.path))
        // Renaming a file over a non-empty directory fails after the data was written.
        let occupied = directory.appendingPathComponent("occupied")
        try FileManager.default.createDirectory(at: occupied, withIntermediateDirectories: false)
        try Data([1]).write(to: occupied.appendingPathComponent("inside"))
        assertTensorFileError(.io, mentioning: "rename") { try Safetensors.write(["x": Tensor([1])], to: occupied) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: occupied.path), ["inside"])
        XCTAssertEqual(try leftovers(in: directory), [])
    }

    func testAFileOfAnotherKindSaysItIsNotSafetensors() throws {
        for other in [Data("// swift-tools-version:6.0\nimport PackageDescription\n".utf8), Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13])] {
            XCTAssertThrowsError(try Safetensors.read(data: other)) {
                XCTAssertTrue("\($0)".contains("this does not look like a safetensors file"), "\($0)")
            }
        }
        // A real safetensors file cut short keeps the plain message.
        let valid = try Safetensors.encode(["a": Tensor([1, 2, 3])])
        XCTAssertThrowsError(try Safetensors.read(data: valid.prefix(20))) {
            XCTAssertFalse("\($0)".contains("does not look like"), "\($0)")
        }
    }
}
