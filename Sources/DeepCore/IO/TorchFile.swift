import Foundation
import ZIPFoundation

/// Reads the files PyTorch's `torch.save` writes (`.pth`, `.pt`), as safely as
/// `torch.load(weights_only=True)`: the pickle is read by a restricted unpickler that builds
/// only tensors and plain containers and never imports or runs anything.
///
/// The format is the zip archive of PyTorch 1.6 and later: one top folder (`archive/`, or the
/// file's stem) holding `data.pkl` (the pickled object; tensors refer to their storages by key),
/// `data/<key>` (each storage's raw little-endian bytes, uncompressed), `byteorder` and
/// `version`. Tensors of every dtype (float64/32/16, bfloat16, int64/32/16/8, uint8, bool) are
/// converted to Float32 as ``Safetensors`` converts them; each storage is read and converted once
/// and every tensor is a view of it with the file's storage offset and strides (views sharing a
/// storage share it here too).
///
/// Anything else throws a ``TensorFileError`` naming the file: a global outside the allow-list
/// (`posix.system`, `builtins.eval`, …) or an opcode outside the list (kind `.forbiddenPickle`,
/// with `module.name` or the opcode and its byte offset in `data.pkl`), a malformed pickle
/// (`.invalidPickle`), a missing, compressed or oversized record (`.invalidArchive`), a view
/// reaching past its storage (`.offsetsOutOfRange`), the legacy pre-1.6 format
/// (`.unsupportedVersion`, with how to re-save the file).
///
///     let state = try TorchFile.readStateDict(from: url)     // ["conv1.weight": (64, 3, 7, 7), …]
///     let checkpoint = try TorchFile.read(from: url)         // the whole value tree
///     checkpoint["epoch"]?.intValue                          // 3
public enum TorchFile {
    /// The first bytes of a zip archive (a local file header).
    static let zipMagic: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
    /// The start of a legacy (pre-1.6) torch.save file: PROTO 2, then the LONG1 magic number
    /// 0x1950a86a20f9469cfc6c.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// The object saved in the file at `url`, with its tensors.
    /// - Throws: ``TensorFileError`` when the file cannot be read, is malformed or asks for
    ///   anything outside tensors and plain containers.
    public static func read(from url: URL) throws -> TorchValue {
        let context = TensorFileContext(format: "torch", path: url.path)
        return try decode(context.readFile(url), context: context)
    }

    /// The object saved in torch.save bytes held in memory.
    /// - Throws: ``TensorFileError`` as ``read(from:)``.
    public static func read(data: Data) throws -> TorchValue {
        try decode(data, context: TensorFileContext(format: "torch", path: nil))
    }

    /// The state dict saved in the file at `url` (see ``stateDict(in:)``), by PyTorch's names.
    /// - Throws: ``TensorFileError`` as ``read(from:)``, or of kind `.invalidField` when the file
    ///   holds no state dict.
    public static func readStateDict(from url: URL) throws -> [String: Tensor] {
        let context = TensorFileContext(format: "torch", path: url.path)
        return try stateDict(in: decode(context.readFile(url), context: context), context: context)
    }

    /// The state dict saved in torch.save bytes held in memory.
    /// - Throws: ``TensorFileError`` as ``readStateDict(from:)``.
    public static func readStateDict(data: Data) throws -> [String: Tensor] {
        let context = TensorFileContext(format: "torch", path: nil)
        return try stateDict(in: decode(data, context: context), context: context)
    }

    /// The state dict in a value read from a torch.save file: the dictionary under `"model"`,
    /// `"state_dict"` or `"model_state_dict"` (checkpoints, in that order), else the value
    /// itself, its nested dictionaries flattened with "." between names as PyTorch names
    /// submodules (`{"fc": {"weight": w}}` → `"fc.weight"`).
    /// - Throws: ``TensorFileError`` of kind `.invalidField` when that is not a dictionary of
    ///   tensors with string keys (naming the first key that is not).
    public static func stateDict(in value: TorchValue) throws -> [String: Tensor] {
        try stateDict(in: value, context: TensorFileContext(format: "torch", path: nil))
    }

    /// Whether the file at `url` starts as a torch.save file does (a zip archive, or the legacy
    /// format), whatever its name; `false` when it cannot be read.
    public static func isTorchSave(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: legacyMagic.count) else { return false }
        return head.starts(with: zipMagic) || head.starts(with: legacyMagic)
    }

    // MARK: The state dict

    static let stateDictKeys = ["model", "state_dict", "model_state_dict"]

    static func stateDict(in value: TorchValue, context: TensorFileContext) throws -> [String: Tensor] {
        var root = value
        if let key = stateDictKeys.first(where: { if case .dictionary? = value[$0] { return true } else { return false } }) {
            root = value[key]!
        }
        guard case .dictionary = root else {
            throw context.error(.invalidField, "the file holds a \(value.typeName), not a state dict (a dict of tensors, "
                                + "or a dict with one under \(stateDictKeys.map { "\"\($0)\"" }.joined(separator: ", ")))")
        }
        var tensors: [String: Tensor] = [:]
        try flatten(root, prefix: "", into: &tensors, context: context)
        return tensors
    }

    private static func flatten(_ value: TorchValue, prefix: String, into tensors: inout [String: Tensor],
                                context: TensorFileContext) throws {
        guard case .dictionary(let pairs) = value else { return }
        for (key, item) in pairs {
            guard case .string(let name) = key else {
                throw context.error(.invalidField, "not a state dict: key \(key.intValue.map(String.init) ?? key.typeName) "
                                    + "\(prefix.isEmpty ? "" : "under \"\(prefix.dropLast())\" ")is not a string")
            }
            let path = prefix + name
            switch item {
            case .tensor(let t):
                guard tensors[path] == nil else {
                    throw context.error(.duplicateKey, key: path, "two entries flatten to the same name")
                }
                tensors[path] = t
            case .dictionary: try flatten(item, prefix: path + ".", into: &tensors, context: context)
            default:
                throw context.error(.invalidField, key: path, "not a state dict: the value is a \(item.typeName), not a tensor")
            }
        }
    }

    // MARK: The archive

    private static func decode(_ data: Data, context: TensorFileContext) throws -> TorchValue {
        if data.starts(with: legacyMagic) {
            throw context.error(.unsupportedVersion, at: 0, "the legacy torch.save format (PyTorch before 1.6, or "
                                + "_use_new_zipfile_serialization=False), which is not read; re-save it in Python as a zip archive: "
                                + "torch.save(torch.load(path, weights_only=True), new_path)")
        }
        guard data.starts(with: zipMagic) else {
            let head = data.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw context.error(.badMagic, at: 0, "not a torch.save zip archive: the file starts with \(head.isEmpty ? "nothing" : head), "
                                + "not 50 4b 03 04 (\"PK\\3\\4\")")
        }
        let archive = try TorchArchive(data, context: context)
        guard let pickle = try archive.record("data.pkl") else {
            let torchScript = archive.has("constants.pkl") || archive.has("code")
            throw context.error(.invalidArchive, "no \(archive.prefix)/data.pkl in the archive"
                                + (torchScript ? " (a TorchScript archive of torch.jit.save: load it in Python and torch.save its state_dict())" : ""))
        }
        if let order = try archive.record("byteorder") {
            let text = String(decoding: order, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard text == "little" else {
                throw context.error(.unsupportedDType, "\(archive.prefix)/byteorder is \"\(text)\"; only little-endian archives are read")
            }
        }
        let reader = TorchPickleReader(context: context)
        var unpickler = Unpickler(pickle, record: "\(archive.prefix)/data.pkl", context: context, callbacks: reader.callbacks)
        var root = PickleValue.none
        defer { PickleValue.dismantle([root] + unpickler.takeRemains()) }
        root = try unpickler.load()
        for storage in reader.storages.values.sorted(by: { $0.key < $1.key }) {
            try storage.load(from: archive, context: context)
        }
        return try reader.convert(root)
    }
}

/// The records of a torch.save zip archive, below its one top folder.
struct TorchArchive {
    private let archive: Archive
    private let entries: [String: Entry]
    private let size: Int
    private let context: TensorFileContext
    /// The top folder.
    let prefix: String

    init(_ data: Data, context: TensorFileContext) throws {
        self.context = context
        size = data.count
        // Read from a file, never through ZIPFoundation's in-memory archive, whose reads trap when
        // an offset in the archive points past its end (found by fuzz-pth). The temporary copy is
        // removed once open.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("deepstitch-torch-\(UUID().uuidString).pth")
        do {
            try data.write(to: file)
        } catch {
            throw context.error(.io, "cannot write a temporary copy of the archive to \(file.path): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            archive = try Archive(url: file, accessMode: .read)
        } catch {
            throw context.error(.invalidArchive, "not a readable zip archive (\(error))")
        }
        var entries: [String: Entry] = [:]
        var folders = Set<Substring>()
        for entry in archive {
            let path = entry.path
            guard entries[path] == nil else { throw context.error(.invalidArchive, "the archive names \"\(path)\" twice") }
            entries[path] = entry
            folders.insert(path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)[0])
        }
        guard folders.count == 1, let folder = folders.first, entries.keys.allSatisfy({ $0.count > folder.count }) else {
            let names = folders.sorted().prefix(4).map { "\"\($0)\"" }.joined(separator: ", ")
            throw context.error(.invalidArchive, "a torch.save archive has one top folder; this one has \(folders.count)"
                                + (folders.isEmpty ? " (no entries)" : ": \(names)\(folders.count > 4 ? ", …" : "")"))
        }
        self.entries = entries
        prefix = String(folder)
    }

    /// Whether the archive has the record or folder `name` (below the top folder).
    func has(_ name: String) -> Bool {
        let path = "\(prefix)/\(name)"
        return entries.keys.contains { $0 == path || $0.hasPrefix(path + "/") }
    }

    /// The bytes of the record `name` (below the top folder), `nil` when there is none.
    /// - Throws: when it is compressed, declares more bytes than the archive has, or is damaged.
    func record(_ name: String) throws -> [UInt8]? {
        let path = "\(prefix)/\(name)"
        guard let entry = entries[path] else { return nil }
        guard entry.type == .file else { throw context.error(.invalidArchive, "\(path) is not a file (a \(entry.type))") }
        guard !entry.isCompressed else {
            throw context.error(.invalidArchive, "\(path) is compressed; torch.save stores its records uncompressed, "
                                + "so this archive was rewritten: save it again with torch.save")
        }
        let declared = entry.uncompressedSize
        guard declared <= UInt64(size), entry.compressedSize == declared else {
            throw context.error(.invalidArchive, "\(path) declares \(declared) bytes (\(entry.compressedSize) stored) "
                                + "in an archive of \(size) bytes")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(declared))
        do {
            _ = try archive.extract(entry, bufferSize: 1 << 20) { chunk in
                guard bytes.count + chunk.count <= Int(declared) else { throw Archive.ArchiveError.invalidEntrySize }
                bytes.append(contentsOf: chunk)
            }
        } catch {
            throw context.error(.invalidArchive, "cannot read \(path) (\(error))")
        }
        guard bytes.count == Int(declared) else {
            throw context.error(.truncated, "\(path) ends after \(bytes.count) of its \(declared) bytes")
        }
        return bytes
    }
}
