import CZlib
import Foundation

/// A file that could not be read as a dataset.
public struct DatasetError: Error, CustomStringConvertible {
    /// The file.
    public let path: String
    /// What was wrong.
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Reads a whole file through zlib, inflating it when it is gzip-compressed (plain files are
/// read as they are).
func readPossiblyGzipped(_ path: String) throws -> [UInt8] {
    guard FileManager.default.fileExists(atPath: path) else {
        throw DatasetError(path: path, reason: "file not found")
    }
    guard let file = gzopen(path, "rb") else {
        throw DatasetError(path: path, reason: "cannot open (\(String(cString: strerror(errno))))")
    }
    defer { gzclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
        if n < 0 {
            var code: Int32 = 0
            let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown zlib error"
            throw DatasetError(path: path, reason: "corrupt gzip data after \(bytes.count) bytes: \(message)")
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<Int(n)])
    }
    // gzread stops quietly at a truncated stream; zlib reports it through gzerror.
    var code: Int32 = 0
    if let message = gzerror(file, &code), code != Z_OK && code != Z_STREAM_END {
        throw DatasetError(path: path, reason: "corrupt gzip data: \(String(cString: message))")
    }
    return bytes
}
