import Foundation

/// An array read from the IDX format of MNIST and Fashion-MNIST: unsigned bytes with a
/// big-endian header (magic 0x0000_08_NN where NN is the number of dimensions, then each size
/// as 4 bytes), plain or gzip-compressed.
///
/// Reading checks the header before the data: the magic number (and the rank the caller
/// expects), sizes whose product fits in an `Int`, then exactly as many data bytes as the sizes
/// announce. A gzip file is inflated only up to that length (plus one byte to find out that it is
/// longer), so a small crafted file cannot inflate to gigabytes.
///
///     let images = try IDXArray(contentsOf: "train-images-idx3-ubyte.gz", rank: 3)   // shape [60000, 28, 28]
public struct IDXArray {
    /// Sizes of each dimension.
    public let shape: [Int]
    /// The values, row-major.
    public let bytes: [UInt8]

    /// Parses the uncompressed IDX bytes `data` read from `path` (named in errors).
    /// - Parameter rank: the number of dimensions expected (3 for images, 1 for labels), or nil
    ///   for any from 1 to 4.
    /// - Throws: ``DatasetError`` naming `path`, the field and its value.
    public init(data: [UInt8], path: String, rank: Int? = nil) throws {
        var source = PlainIDXSource(bytes: data)
        try self.init(source: &source, path: path, rank: rank)
    }

    /// Parses the IDX file held in `fileData`: gzip-compressed when it starts with gzip's magic
    /// bytes or when `path` ends in `.gz` (which then must be gzip), else plain.
    /// - Parameter path: the file's name, for errors and its extension.
    /// - Parameter rank: as in ``init(data:path:rank:)``.
    /// - Throws: ``DatasetError`` naming `path`, the field and its value.
    public init(fileData: Data, path: String, rank: Int? = nil) throws {
        if path.hasSuffix(".gz") || Gzip.isGzip(fileData) {
            var source = GzipIDXSource(reader: try GzipReader(fileData, path: path))
            try self.init(source: &source, path: path, rank: rank)
        } else {
            try self.init(data: [UInt8](fileData), path: path, rank: rank)
        }
    }

    /// Reads the IDX file at `path`, gzip-compressed or not; see ``init(fileData:path:rank:)``.
    /// - Throws: ``DatasetError`` when the file is missing, unreadable or malformed.
    public init(contentsOf path: String, rank: Int? = nil) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DatasetError(path: path, reason: "file not found")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw DatasetError(path: path, reason: "cannot read the file: \(error.localizedDescription)")
        }
        try self.init(fileData: data, path: path, rank: rank)
    }

    /// Reads the header, then the data it announces, from `source`.
    private init<Source: IDXSource>(source: inout Source, path: String, rank expectedRank: Int?) throws {
        func fail(_ reason: String) -> DatasetError { DatasetError(path: path, reason: reason) }
        let magic = try source.read(upTo: 4)
        guard magic.count == 4 else { throw fail("IDX data of \(magic.count) bytes is shorter than its 4-byte magic number") }
        let magicText = "0x" + magic.map { String(format: "%02x", $0) }.joined()
        guard magic[0] == 0, magic[1] == 0 else {
            throw fail("bad IDX magic number \(magicText): first two bytes are \(magic[0]), \(magic[1]), expected 0, 0")
        }
        guard magic[2] == 0x08 else { throw fail("IDX magic number \(magicText): element type 0x\(String(magic[2], radix: 16)) is not unsigned byte (0x08)") }
        let rank = Int(magic[3])
        if let expectedRank, rank != expectedRank {
            throw fail("wrong IDX magic number \(magicText) (\(Self.dimensions(rank))): expected "
                       + "0x000008\(String(format: "%02x", expectedRank)) (\(Self.dimensions(expectedRank)))")
        }
        guard rank >= 1, rank <= 4 else { throw fail("IDX magic number \(magicText): rank \(rank) is not between 1 and 4") }
        let headerSize = 4 + 4 * rank
        let sizes = try source.read(upTo: 4 * rank)
        guard sizes.count == 4 * rank else { throw fail("IDX header needs \(headerSize) bytes, the data has \(4 + sizes.count)") }
        let shape = (0..<rank).map { d in sizes[(4 * d)..<(4 * d + 4)].reduce(0) { $0 << 8 | Int($1) } }
        guard let count = Self.checkedCount(shape) else {
            throw fail("IDX sizes \(shape) multiply past Int.max (\(Int.max))")
        }
        let body = try source.read(upTo: count)
        guard body.count == count else {
            throw fail("IDX shape \(shape) needs \(count) bytes of data at offset \(headerSize), the data has \(body.count)")
        }
        if let excess = try source.excess() {
            throw fail("the data is longer than the \(count) bytes IDX shape \(shape) announces at offset \(headerSize): \(excess)")
        }
        self.shape = shape
        bytes = body
    }

    /// The number of elements of `shape`, or nil when a product of its sizes (a zero counted
    /// as 1) overflows.
    private static func checkedCount(_ shape: [Int]) -> Int? {
        var extent = 1
        for d in shape {
            let (product, overflow) = extent.multipliedReportingOverflow(by: max(d, 1))
            if overflow { return nil }
            extent = product
        }
        return shape.contains(0) ? 0 : extent
    }

    /// `1 dimension`, `3 dimensions`.
    private static func dimensions(_ rank: Int) -> String { rank == 1 ? "1 dimension" : "\(rank) dimensions" }
}

/// Where the bytes of an IDX array come from: read in order, header first.
private protocol IDXSource {
    /// The next `count` bytes, fewer only when the data ends.
    mutating func read(upTo count: Int) throws -> [UInt8]
    /// What follows the bytes read, in words, or nil when nothing does.
    mutating func excess() throws -> String?
}

/// Uncompressed bytes in memory.
private struct PlainIDXSource: IDXSource {
    let bytes: [UInt8]
    var position = 0

    mutating func read(upTo count: Int) -> [UInt8] {
        let end = position + min(count, bytes.count - position)
        defer { position = end }
        return Array(bytes[position..<end])
    }

    func excess() -> String? {
        position < bytes.count ? "\(bytes.count - position) more bytes follow" : nil
    }
}

/// gzip data inflated as it is read.
private struct GzipIDXSource: IDXSource {
    let reader: GzipReader

    func read(upTo count: Int) throws -> [UInt8] { try reader.read(upTo: count) }

    func excess() throws -> String? {
        try reader.hasMoreOutput() ? "the gzip data inflates to more (stopped after inflating \(reader.inflatedCount) bytes)" : nil
    }
}
