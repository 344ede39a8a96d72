import Foundation

/// A tensor file (safetensors, `.npy`, a `torch.save` archive) that cannot be read or written.
///
/// Every problem with external data is reported as this error, never as a crash. The error says
/// what is wrong (``kind`` and ``reason``) and where: the file (``path``, `nil` for in-memory
/// data), the tensor (``key``) and the byte offset from the start of the file (``byteOffset``).
///
///     do { let weights = try Safetensors.read(from: url) }
///     catch let error as TensorFileError { print(error) }
///     // safetensors file /tmp/model.safetensors, tensor "fc.weight", byte 96: data_offsets [0, 20]
///     //   span 20 bytes but F32 shape [2, 3] needs 24
public struct TensorFileError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The category of a problem, for code that reacts to some of them.
    public enum Kind: String, Equatable, Sendable {
        /// The file cannot be opened, read, written, synced or renamed.
        case io
        /// The file ends before the content it declares (length field, header or array data).
        case truncated
        /// The leading bytes are not the format's magic string (`.npy`).
        case badMagic
        /// The format version is not one this reader knows (`.npy`).
        case unsupportedVersion
        /// The declared header length runs past the end of the file or is absurdly large.
        case invalidHeaderLength
        /// The header is not valid UTF-8, JSON or a Python literal, or not a dictionary.
        case invalidHeader
        /// A required header field is absent.
        case missingField
        /// A header field has the wrong type or an impossible value (negative size, unknown key).
        case invalidField
        /// A dictionary in the header names the same key twice.
        case duplicateKey
        /// The element type is unknown, big-endian, structured or an object type.
        case unsupportedDType
        /// The byte span of a tensor does not match its shape times its element size.
        case sizeMismatch
        /// A tensor's byte range lies outside the data section.
        case offsetsOutOfRange
        /// Two tensors' byte ranges overlap.
        case overlappingData
        /// Bytes of the data section belong to no tensor (a hole or trailing bytes).
        case unreferencedBytes
        /// A `torch.save` zip archive is malformed: unreadable, several top folders, a record
        /// missing, compressed or larger than the archive.
        case invalidArchive
        /// The pickle of a `torch.save` file is malformed: truncated, an operand out of range, a
        /// stack or memo reference that does not exist, a value of the wrong type.
        case invalidPickle
        /// The pickle of a `torch.save` file asks for an opcode or a global (`module.name`) outside
        /// the allow-list of tensors and plain containers: it was refused, nothing was run.
        case forbiddenPickle
    }

    /// The category of the problem.
    public var kind: Kind
    /// The file format: `"safetensors"`, `"npy"`, `"torch"` or `"file"` for plain file operations.
    public var format: String
    /// The file's path, or `nil` when reading bytes held in memory.
    public var path: String?
    /// The tensor (or header key) concerned, if one is.
    public var key: String?
    /// Offset in bytes from the start of the file where the problem lies, if known.
    public var byteOffset: Int?
    /// What is wrong, in words.
    public var reason: String

    /// Creates an error; see the properties for the meaning of each argument.
    public init(_ kind: Kind, format: String, path: String? = nil, key: String? = nil,
                byteOffset: Int? = nil, reason: String) {
        self.kind = kind
        self.format = format
        self.path = path
        self.key = key
        self.byteOffset = byteOffset
        self.reason = reason
    }

    /// `<format> file <path>, tensor "<key>", byte <offset>: <reason>`.
    public var description: String {
        var where_ = "\(format) file \(path ?? "<in-memory data>")"
        if let key { where_ += ", tensor \"\(key)\"" }
        if let byteOffset { where_ += ", byte \(byteOffset)" }
        return "\(where_): \(reason) [\(kind.rawValue)]"
    }

    /// The same text as ``description``, for `localizedDescription`.
    public var errorDescription: String? { description }
}

/// Where a reader is: the format and file, so that each thrown error carries them.
struct TensorFileContext {
    let format: String
    let path: String?

    /// An error of `kind` located in this file.
    func error(_ kind: TensorFileError.Kind, key: String? = nil, at byteOffset: Int? = nil,
               _ reason: String) -> TensorFileError {
        TensorFileError(kind, format: format, path: path, key: key, byteOffset: byteOffset, reason: reason)
    }

    /// Reads the whole file at `url` (memory-mapped when safe), reporting failures as `.io`.
    func readFile(_ url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw self.error(.io, "cannot read the file: \(error.localizedDescription)")
        }
    }
}
