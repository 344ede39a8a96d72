/// An array read from the IDX format of MNIST and Fashion-MNIST: unsigned bytes with a
/// big-endian header (magic 0x0000_08_NN where NN is the number of dimensions, then each size).
public struct IDXArray {
    /// Sizes of each dimension.
    public let shape: [Int]
    /// The values, row-major.
    public let bytes: [UInt8]

    /// Parses `data` read from `path` (used in error messages).
    public init(data: [UInt8], path: String) throws {
        func fail(_ reason: String) -> DatasetError { DatasetError(path: path, reason: reason) }
        guard data.count >= 4 else { throw fail("IDX file of \(data.count) bytes is shorter than its 4-byte magic number") }
        guard data[0] == 0, data[1] == 0 else { throw fail("bad IDX magic number: first two bytes are \(data[0]), \(data[1]), expected 0, 0") }
        guard data[2] == 0x08 else { throw fail("IDX element type 0x\(String(data[2], radix: 16)) is not unsigned byte (0x08)") }
        let rank = Int(data[3])
        guard rank >= 1, rank <= 4 else { throw fail("IDX rank \(rank) is not between 1 and 4") }
        let headerSize = 4 + 4 * rank
        guard data.count >= headerSize else { throw fail("IDX header needs \(headerSize) bytes, file has \(data.count)") }
        var shape: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            shape.append(Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3]))
        }
        let count = shape.reduce(1, *)
        guard data.count - headerSize == count else {
            throw fail("IDX shape \(shape) needs \(count) bytes of data at offset \(headerSize), file has \(data.count - headerSize)")
        }
        self.shape = shape
        bytes = Array(data[headerSize...])
    }

    /// Reads an IDX file, gzip-compressed or not.
    public init(contentsOf path: String) throws {
        try self.init(data: readPossiblyGzipped(path), path: path)
    }
}
