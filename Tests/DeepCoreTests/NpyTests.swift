import XCTest
import Foundation
import DeepCore

final class NpyTests: XCTestCase {
    // MARK: Round trips

    private func sampleTensors() -> [Tensor] {
        var rng = RandomGenerator(seed: 5)
        let base = Tensor.randn([3, 4], generator: &rng)
        return [
            Tensor.randn([2, 3], generator: &rng), Tensor(scalar: 4.5), Tensor(zeros: [0, 3]), Tensor(zeros: [2, 0]),
            Tensor.arange(0, 7), Tensor.randn([2, 3, 4], generator: &rng), base.mT,
            base.narrowed(axis: 0, start: 1, length: 2), Tensor([.nan, .infinity, -0.0], shape: [3, 1]),
        ]
    }

    private func assertIdentical(_ a: Tensor, _ b: Tensor, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, file: file, line: line)
        XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern), "shape \(b.shape)", file: file, line: line)
    }

    func testRoundTripThroughFileAndMemory() throws {
        let directory = try makeTemporaryDirectory()
        for (i, t) in sampleTensors().enumerated() {
            let url = directory.appendingPathComponent("t\(i).npy")
            try t.writeNpy(to: url)
            assertIdentical(try Tensor(npyFile: url), t)
            assertIdentical(try Tensor(npyData: t.npyData()), t)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".tmp-") }, [])
    }

    func testHeaderIsAlignedTo64AndEndsWithNewline() throws {
        for shape in [[], [3], [2, 3], [0, 3], [123_456_789, 0, 2], Array(repeating: 1, count: 30)] {
            let data = Tensor(zeros: shape).npyData()
            XCTAssertEqual(Array(data.prefix(8)), [0x93] + Array("NUMPY".utf8) + [1, 0])
            let headerLength = Int(data[8]) | Int(data[9]) << 8
            XCTAssertEqual((10 + headerLength) % 64, 0, "shape \(shape)")
            XCTAssertEqual(data[10 + headerLength - 1], UInt8(ascii: "\n"))
            XCTAssertEqual(data.count, 10 + headerLength + 4 * Shape.count(shape))
        }
    }

    func testHeaderTooLongForVersion1IsWrittenAsVersion2() throws {
        // A 25 000-axis shape needs a header longer than the 65 535 bytes version 1.0 can declare.
        let t = Tensor([6], shape: Array(repeating: 1, count: 25_000))
        let data = t.npyData()
        XCTAssertEqual(Array(data[6..<8]), [2, 0])
        let headerLength = (0..<4).reduce(0) { $0 | Int(data[8 + $1]) << (8 * $1) }
        XCTAssertGreaterThan(headerLength, 0xFFFF)
        XCTAssertEqual((12 + headerLength) % 64, 0)
        assertIdentical(try Tensor(npyData: data), t)
    }

    func testWritesTheSameBytesAsNumpySave() throws {
        let expected = loadFixtures("io/expected")
        for name in ["npy_f32", "npy_vector", "npy_scalar", "npy_empty"] {
            let numpy = try Data(contentsOf: fixtureURL("io/\(name).npy"))
            XCTAssertEqual(expected[name]!.npyData(), numpy, name)
        }
    }

    // MARK: Files written by NumPy

    func testReadsNumpyFilesOfEveryTypeOrderAndVersion() throws {
        let expected = loadFixtures("io/expected").filter { $0.key.hasPrefix("npy_") }
        XCTAssertEqual(expected.count, 14)
        for (name, e) in expected {
            let t = try Tensor(npyFile: fixtureURL("io/\(name).npy"))
            assertClose(t, e, atol: 0, rtol: 0, name)
        }
        // Fortran order is transposed into row-major order, not just reinterpreted.
        let fortran = try Tensor(npyFile: fixtureURL("io/npy_fortran_f32.npy"))
        XCTAssertEqual(fortran.shape, [3, 4])
        XCTAssertTrue(fortran.isContiguous)
    }

    func testReadsPython2StyleAndDoubleQuotedHeaders() throws {
        let header = #"{"descr": "<i2", 'fortran_order': False, 'shape': (2L, 1L), }"#
        let t = try Tensor(npyData: npy(header, data: [0x01, 0x00, 0xFF, 0xFF]))
        XCTAssertEqual(t.shape, [2, 1])
        XCTAssertEqual(t.scalars, [1, -1])
    }

    // MARK: Malformed files

    /// `.npy` bytes: magic, `version`, the header length, `header` and `data`.
    private func npy(_ header: String, version: UInt8 = 1, data: [UInt8] = [], declaredLength: Int? = nil) -> Data {
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        let length = declaredLength ?? header.utf8.count
        for i in 0..<(version == 1 ? 2 : 4) { bytes.append(UInt8(truncatingIfNeeded: length >> (8 * i))) }
        return Data(bytes + Array(header.utf8) + data)
    }

    private func header(descr: String = "'<f4'", order: String = "False", shape: String = "(2,)") -> String {
        "{'descr': \(descr), 'fortran_order': \(order), 'shape': \(shape), }\n"
    }

    func testWellFormedHandBuiltFileReads() throws {
        // Guards the builders below: the same construction without a defect is accepted.
        XCTAssertEqual(try Tensor(npyData: npy(header(), data: Array(repeating: 0, count: 8))).shape, [2])
        XCTAssertEqual(try Tensor(npyData: npy(header(), version: 2, data: Array(repeating: 0, count: 8))).shape, [2])
    }

    func testBigEndianAndObjectArraysAreRejectedClearly() {
        assertTensorFileError(.unsupportedDType, key: "descr", mentioning: "big-endian") {
            try Tensor(npyFile: fixtureURL("io/npy_big_endian.npy"))
        }
        assertTensorFileError(.unsupportedDType, key: "descr", mentioning: "object") {
            try Tensor(npyFile: fixtureURL("io/npy_object.npy"))
        }
        assertTensorFileError(.unsupportedDType, mentioning: "'<c8'") { try Tensor(npyData: npy(header(descr: "'<c8'"))) }
        assertTensorFileError(.unsupportedDType, mentioning: "structured") {
            try Tensor(npyData: npy(header(descr: "[('x', '<f4')]")))
        }
        // One-byte types have no byte order to get wrong.
        XCTAssertEqual(try Tensor(npyData: npy(header(descr: "'>u1'"), data: [3, 4])).scalars, [3, 4])
    }

    func testBadPreamble() {
        assertTensorFileError(.truncated, at: 0) { try Tensor(npyData: Data([0x93, 0x4E])) }
        assertTensorFileError(.badMagic, at: 0, mentioning: "50 4b 03 04") {
            try Tensor(npyData: Data([0x50, 0x4B, 0x03, 0x04, 0, 0, 1, 0, 0, 0, 0, 0]))
        }
        var future = npy(header())
        future[6] = 4
        assertTensorFileError(.unsupportedVersion, at: 6, mentioning: "4.0") { try Tensor(npyData: future) }
        assertTensorFileError(.truncated, at: 8) { try Tensor(npyData: npy("", version: 2).prefix(10)) }
        assertTensorFileError(.invalidHeaderLength, at: 8, mentioning: "past the end") {
            try Tensor(npyData: npy(header(), declaredLength: 500))
        }
        assertTensorFileError(.invalidHeaderLength, at: 8, mentioning: "limit") {
            try Tensor(npyData: npy(header(), version: 2, declaredLength: 1 << 30))
        }
    }

    func testBadHeaderDictionary() {
        assertTensorFileError(.invalidHeader, at: 10 + 10, mentioning: "Python literal") {
            try Tensor(npyData: npy("{'descr': <f4}"))
        }
        assertTensorFileError(.invalidHeader, mentioning: "not a dictionary") { try Tensor(npyData: npy("[1, 2]")) }
        assertTensorFileError(.missingField, key: "shape") {
            try Tensor(npyData: npy("{'descr': '<f4', 'fortran_order': False}"))
        }
        assertTensorFileError(.invalidField, key: "extra", mentioning: "unexpected") {
            try Tensor(npyData: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'extra': 1}"))
        }
        assertTensorFileError(.invalidField, key: "shape") { try Tensor(npyData: npy(header(shape: "(2, -1)"))) }
        assertTensorFileError(.invalidField, key: "shape") { try Tensor(npyData: npy(header(shape: "'2'"))) }
        assertTensorFileError(.invalidField, key: "fortran_order") { try Tensor(npyData: npy(header(order: "0"))) }
        assertTensorFileError(.duplicateKey, key: "descr", at: 10 + 17) {
            try Tensor(npyData: npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}"))
        }
        assertTensorFileError(.invalidHeader, at: 12 + 11, mentioning: "UTF-8") {
            var bad = npy("{'descr': '\u{7F}'}", version: 3)
            bad[12 + 11] = 0xC3
            return try Tensor(npyData: bad)
        }
    }

    func testDataShorterOrLongerThanTheShape() {
        let h = header(shape: "(2, 3)")
        assertTensorFileError(.truncated, at: 10 + h.utf8.count, mentioning: "needs 24 bytes") {
            try Tensor(npyData: npy(h, data: Array(repeating: 0, count: 20)))
        }
        assertTensorFileError(.unreferencedBytes, at: 10 + h.utf8.count + 24, mentioning: "4 bytes follow") {
            try Tensor(npyData: npy(h, data: Array(repeating: 0, count: 28)))
        }
        assertTensorFileError(.invalidField, key: "shape", mentioning: "Int") {
            try Tensor(npyData: npy(header(shape: "(\(1 << 40), \(1 << 40))")))
        }
    }

    /// Issue 17: a zero size beside huge ones makes an array of 0 bytes, so the size check passed
    /// and the strides overflowed (a trap, no message), in C and in Fortran order.
    func testZeroSizeBesideHugeSizesThrowsInsteadOfOverflowingStrides() throws {
        for order in ["False", "True"] {
            for (shape, descr) in [("(0, \(1 << 62), 8)", "'<f4'"), ("(\(1 << 62), 0, \(1 << 62))", "'|u1'"), ("(0, \(Int.max), 2)", "'|b1'")] {
                assertTensorFileError(.invalidField, key: "shape", mentioning: "exceeds Int.max") {
                    try Tensor(npyData: npy(header(descr: descr, order: order, shape: shape)))
                }
            }
            // A zero size beside sizes whose product an Int holds still reads, as an empty array.
            XCTAssertEqual(try Tensor(npyData: npy(header(order: order, shape: "(0, \(1 << 30), 3)"))).shape, [0, 1 << 30, 3])
        }
    }

    func testEveryTruncationAndByteCorruptionIsHandled() throws {
        let valid = Tensor.arange(0, 6).reshaped([2, 3]).npyData()
        for length in 0..<valid.count {
            XCTAssertThrowsError(try Tensor(npyData: valid.prefix(length)), "prefix of \(length) bytes")
        }
        for position in 0..<valid.count {
            for value: UInt8 in [0x00, 0x27, 0x28, 0x39, 0x7B, 0xFF] {
                var corrupt = valid
                corrupt[position] = value
                _ = try? Tensor(npyData: corrupt)
            }
        }
    }

    func testFileErrorsNameThePath() throws {
        let directory = try makeTemporaryDirectory()
        let url = directory.appendingPathComponent("bad.npy")
        try npy(header(descr: "'>f8'"), data: Array(repeating: 0, count: 16)).write(to: url)
        let error = assertTensorFileError(.unsupportedDType) { try Tensor(npyFile: url) }
        XCTAssertTrue(error.map(String.init(describing:))?.contains(url.path) ?? false)
        assertTensorFileError(.io) { try Tensor(npyFile: directory.appendingPathComponent("none.npy")) }
        // A failed write leaves the existing file alone.
        assertTensorFileError(.io) { try Tensor([1]).writeNpy(to: directory.appendingPathComponent("missing/x.npy")) }
        XCTAssertEqual(try Data(contentsOf: url).count, npy(header(descr: "'>f8'")).count + 16)
    }
}
