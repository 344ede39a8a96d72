import Foundation

/// The bytes libFuzzer hands to `LLVMFuzzerTestOneInput`, copied into `Data`.
/// - Parameters:
///   - data: the first byte (nil only when `size` is 0).
///   - size: the number of bytes.
public func fuzzData(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Data {
    guard let data, size > 0 else { return Data() }
    return Data(bytes: data, count: size)
}

/// A file of this process's own (under the temporary directory, named after the process id, so
/// that parallel fuzzers never share one) holding `bytes`, for readers that only take a path.
/// Each call overwrites the previous input of the same `name`.
/// - Parameters:
///   - bytes: the fuzzer's input.
///   - name: the file name, whose extension may matter to the reader (`input.gz`).
/// - Returns: the file's URL.
public func temporaryInputFile(_ bytes: Data, name: String) -> URL {
    let url = inputDirectory.appendingPathComponent(name)
    // POSIX calls rather than `Data.write`, which syncs the file to disk (milliseconds per input).
    let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("fuzz harness: cannot create \(url.path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    bytes.withUnsafeBytes { raw in
        var written = 0
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            guard n > 0 else { fatalError("fuzz harness: cannot write \(url.path): \(String(cString: strerror(errno)))") }
            written += n
        }
    }
    return url
}

/// The per-process folder of ``temporaryInputFile(_:name:)``, created on first use.
private let inputDirectory: URL = {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("deepstitch-fuzz-\(ProcessInfo.processInfo.processIdentifier)")
    do {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    } catch {
        fatalError("fuzz harness: cannot create \(url.path): \(error)")
    }
    return url
}()
