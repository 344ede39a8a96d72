import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A destination for the bytes of a file being written.
public protocol ByteSink {
    /// Appends `bytes`.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension ByteSink {
    /// Appends the bytes of `data`.
    public mutating func write(_ data: Data) throws {
        try data.withUnsafeBytes { try write($0) }
    }

    /// Appends the elements of `tensor` in row-major order as little-endian Float32 (copying a
    /// non-contiguous tensor first).
    public mutating func writeLittleEndianFloats(of tensor: Tensor) throws {
        try tensor.withUnsafeBufferPointer { values in
            #if _endian(little)
            try write(UnsafeRawBufferPointer(values))
            #else
            let swapped = values.map { $0.bitPattern.littleEndian }
            try swapped.withUnsafeBytes { try write($0) }
            #endif
        }
    }
}

/// A sink that collects the bytes in memory (for `Safetensors.encode`, `Tensor.npyData()`).
struct DataSink: ByteSink {
    var data = Data()

    /// Appends `bytes` to ``data``.
    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        data.append(contentsOf: bytes)
    }

    /// The bytes that `produce` writes, which cannot fail to be stored in memory.
    static func collect(_ produce: (inout DataSink) throws -> Void) -> Data {
        var sink = DataSink()
        do { try produce(&sink) } catch { ShapeErrors.stop("DataSink.collect: writing to memory threw \(error)") }
        return sink.data
    }
}

/// Replaces files atomically: readers see the old contents or the new, never a torn file.
///
/// The bytes go to a temporary file in the target's directory, which is flushed to disk
/// (`fsync`) and then renamed over the target; the directory is synced too so that the rename
/// survives a crash. On any error, including one thrown by the caller's writing closure, the
/// temporary file is removed and the target is left as it was. A symbolic link at the target is
/// replaced by a regular file.
///
///     try AtomicWrite.write(data, to: url)
public enum AtomicWrite {
    /// The open temporary file handed to the closure of ``write(to:format:_:)``.
    public struct FileSink: ByteSink {
        fileprivate let descriptor: Int32
        fileprivate let context: TensorFileContext

        /// Appends `bytes` to the temporary file, retrying short and interrupted writes.
        public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
            guard var next = bytes.baseAddress else { return }
            var remaining = bytes.count
            while remaining > 0 {
                let n = systemWrite(descriptor, next, remaining)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw context.error(.io, AtomicWrite.failure("cannot write the temporary file"))
                }
                remaining -= n
                next += n
            }
        }
    }

    /// Writes `data` to `url` atomically.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { sink in try sink.write(data) }
    }

    /// Calls `produce` with a sink to the new contents of `url`, then atomically replaces `url`
    /// with what it wrote. Nothing changes at `url` if `produce` or any file operation throws.
    /// - Parameters:
    ///   - url: the file to create or replace; its directory must exist.
    ///   - format: the format named in errors (`"safetensors"`, `"npy"`, …).
    ///   - produce: writes the new contents to the sink.
    /// - Throws: ``TensorFileError`` of kind `.io` naming the path and the system's reason, or
    ///   what `produce` throws.
    public static func write(to url: URL, format: String = "file", _ produce: (inout FileSink) throws -> Void) throws {
        let context = TensorFileContext(format: format, path: url.path)
        let directory = url.deletingLastPathComponent().path
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw context.error(.io, failure("cannot create a temporary file in \(directory)"))
        }
        var isOpen = true
        var renamed = false
        defer {
            if isOpen { close(descriptor) }
            if !renamed { unlink(temporary) }
        }
        var sink = FileSink(descriptor: descriptor, context: context)
        try produce(&sink)
        guard fsync(descriptor) == 0 else { throw context.error(.io, failure("cannot flush the temporary file")) }
        isOpen = false
        guard close(descriptor) == 0 else { throw context.error(.io, failure("cannot close the temporary file")) }
        guard rename(temporary, url.path) == 0 else {
            throw context.error(.io, failure("cannot rename the temporary file over the target"))
        }
        renamed = true
        syncDirectory(directory)
    }

    /// Flushes a directory's entries (best effort: some file systems refuse it).
    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    /// `what: <system error text>` for the current `errno`.
    fileprivate static func failure(_ what: String) -> String {
        "\(what): \(String(cString: strerror(errno)))"
    }
}

/// The C library's `write(2)` (a method named `write` hides it inside the sink).
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, bytes, count)
}
