import CZlibSystem
import Foundation

/// A file that could not be read as a dataset.
public struct DatasetError: Error, CustomStringConvertible {
    /// The file (`<in-memory data>` for bytes held in memory).
    public let path: String
    /// What was wrong: the field and the value concerned.
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// gzip decompression bounded by what the caller expects, so that a small crafted file (a "gzip
/// bomb") cannot make a reader inflate gigabytes before it finds the data too long.
///
///     let labels = try Gzip.decompress(data: compressed, limit: 8 + 60_000)
public enum Gzip {
    /// The two bytes every gzip member starts with.
    public static let magic: [UInt8] = [0x1F, 0x8B]

    /// Whether `data` starts with gzip's magic bytes `1f 8b`.
    public static func isGzip(_ data: Data) -> Bool { data.starts(with: magic) }

    /// The bytes of the gzip data `data` (one member or several concatenated, as `gzip -d`
    /// reads them), inflating at most `limit` bytes plus one: memory stays proportional to
    /// `limit`, whatever the data announces.
    /// - Parameters:
    ///   - data: the compressed bytes.
    ///   - limit: the most bytes the data may inflate to.
    ///   - path: the file named in errors (`<in-memory data>` when nil).
    /// - Throws: ``DatasetError`` when `data` is not gzip, is corrupt or truncated, has bytes
    ///   after its last member, or inflates to more than `limit` bytes.
    public static func decompress(data: Data, limit: Int, path: String? = nil) throws -> [UInt8] {
        let reader = try GzipReader(data, path: path ?? DatasetError.inMemory)
        let bytes = try reader.read(upTo: limit)
        if try reader.hasMoreOutput() {
            throw reader.error("the gzip data inflates to more than the limit of \(limit) bytes "
                               + "(stopped after inflating \(reader.inflatedCount) bytes)")
        }
        return bytes
    }
}

extension DatasetError {
    /// The path shown for bytes that were not read from a file.
    static let inMemory = "<in-memory data>"
}

/// A gzip stream inflated on demand with zlib, so that a reader can check a header before it
/// inflates the rest, and stop as soon as the data is longer than the header announces.
final class GzipReader {
    private let data: Data
    let path: String
    /// zlib's state, at a fixed address (it points back to it).
    private let stream: UnsafeMutablePointer<z_stream>
    /// Bytes of `data` consumed.
    private var consumed = 0
    /// Whether the last member ended and no input is left.
    private var finished = false
    /// Bytes inflated so far.
    private(set) var inflatedCount = 0

    /// Prepares to inflate `data`, which must start with gzip's magic bytes.
    /// - Throws: ``DatasetError`` naming `path` when it does not.
    init(_ data: Data, path: String) throws {
        guard Gzip.isGzip(data) else {
            let found = data.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw DatasetError(path: path, reason: "not gzip data: the magic number is \(found.isEmpty ? "missing (empty file)" : found), "
                               + "expected 1f 8b (a file named .gz must be gzip-compressed)")
        }
        stream = try Self.startInflating(path: path)
        self.data = data
        self.path = path
    }

    /// A zlib stream ready to inflate gzip data.
    private static func startInflating(path: String) throws -> UnsafeMutablePointer<z_stream> {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 16: the largest window, with a gzip (not zlib) wrapper.
        let status = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw DatasetError(path: path, reason: "zlib cannot start inflating (status \(status))")
        }
        return stream
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// An error about this file.
    func error(_ reason: String) -> DatasetError { DatasetError(path: path, reason: reason) }

    /// The next `count` inflated bytes, fewer only when the data ends first. The result grows
    /// chunk by chunk, so a `count` larger than the data costs no memory.
    func read(upTo count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count && !finished {
            let chunk = min(count - bytes.count, 1 << 20)
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: chunk))
            let written = try bytes.withUnsafeMutableBytes { try inflate(into: UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
            bytes.removeLast(chunk - written)
        }
        return bytes
    }

    /// Whether the data inflates to more bytes than read so far; inflates one byte at most, or
    /// to the end of the stream (checking its CRC and length) when there is none.
    func hasMoreOutput() throws -> Bool {
        var byte: UInt8 = 0
        return try withUnsafeMutableBytes(of: &byte) { try inflate(into: $0) } > 0
    }

    /// Inflates into `buffer` until it is full or the data ends; returns the bytes written.
    private func inflate(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var written = 0
        while written < buffer.count && !finished {
            let status = data.withUnsafeBytes { input -> Int32 in
                let available = min(input.count - consumed, Int(UInt32.max))
                let space = min(buffer.count - written, Int(UInt32.max))
                stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self) + consumed)
                stream.pointee.avail_in = UInt32(available)
                stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self) + written
                stream.pointee.avail_out = UInt32(space)
                let status = CZlibSystem.inflate(stream, Z_NO_FLUSH)
                consumed += available - Int(stream.pointee.avail_in)
                written += space - Int(stream.pointee.avail_out)
                return status
            }
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                try startNextMember()
            case Z_BUF_ERROR where consumed == data.count:
                throw error("the gzip data ends before its end-of-stream marker, after \(inflatedCount + written) inflated bytes "
                            + "(the file is truncated)")
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw error("corrupt gzip data at compressed byte \(consumed), after \(inflatedCount + written) inflated bytes: \(message)")
            }
        }
        inflatedCount += written
        return written
    }

    /// After a member's end: finished when no input is left, else the next member must follow.
    private func startNextMember() throws {
        let rest = data.dropFirst(consumed)
        if rest.isEmpty {
            finished = true
        } else if rest.starts(with: Gzip.magic) {
            inflateReset(stream)
        } else {
            throw error("\(rest.count) bytes after the end of the gzip data are not a gzip member (magic 1f 8b)")
        }
    }
}
