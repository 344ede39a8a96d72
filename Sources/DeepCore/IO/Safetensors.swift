import Foundation

/// Reads and writes the safetensors format of Hugging Face, the format of PyTorch checkpoints
/// saved with `safetensors.torch.save_file`.
///
/// A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, "__metadata__": {…}}`
/// and the tensors' little-endian bytes, with offsets counted from the first byte after the
/// header. Reading accepts F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL and
/// converts them to Float32; writing produces F32 exactly as the Python library lays it out
/// (keys sorted, header padded with spaces to a multiple of 8, data packed in key order).
///
/// Reading validates the file as strictly as the Python library: a malformed file (truncated,
/// bad JSON, missing fields, unknown dtype, sizes or offsets that disagree, overlapping tensors,
/// bytes that belong to no tensor, duplicate keys, a shape whose sizes multiply past `Int.max`
/// even beside a zero) throws a ``TensorFileError`` naming the file, the tensor and the byte
/// offset. No byte outside the buffer is ever read.
///
///     try Safetensors.write(["fc.weight": w, "fc.bias": b], to: url)
///     let state = try Safetensors.read(from: url)    // ["fc.bias": (10), "fc.weight": (10, 784)]
public enum Safetensors {
    /// Largest header accepted, the reference implementation's limit (100 MB).
    public static let maxHeaderLength = 100_000_000

    /// The tensors stored in the file at `url`, by name, converted to Float32.
    /// - Throws: ``TensorFileError`` when the file cannot be read or is malformed.
    public static func read(from url: URL) throws -> [String: Tensor] {
        try readWithMetadata(from: url).tensors
    }

    /// The tensors stored in safetensors bytes held in memory.
    /// - Throws: ``TensorFileError`` when the bytes are malformed.
    public static func read(data: Data) throws -> [String: Tensor] {
        try readWithMetadata(data: data).tensors
    }

    /// The tensors of the file at `url` and its `__metadata__` (string to string; empty when
    /// absent).
    /// - Throws: ``TensorFileError`` when the file cannot be read or is malformed.
    public static func readWithMetadata(from url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let context = TensorFileContext(format: "safetensors", path: url.path)
        return try decode(context.readFile(url), context: context)
    }

    /// The tensors and `__metadata__` of safetensors bytes held in memory.
    /// - Throws: ``TensorFileError`` when the bytes are malformed.
    public static func readWithMetadata(data: Data) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try decode(data, context: TensorFileContext(format: "safetensors", path: nil))
    }

    /// Writes `tensors` as F32 with `metadata` to `url`, atomically: the file at `url` is
    /// replaced only once the new one is completely on disk. Tensors of any layout are
    /// accepted (non-contiguous ones are copied); gradients and history are not saved.
    /// - Precondition: no tensor is named `__metadata__`.
    /// - Throws: ``TensorFileError`` of kind `.io` when the file cannot be written.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicWrite.write(to: url, format: "safetensors") { sink in try emit(tensors, metadata: metadata, to: &sink) }
    }

    /// The safetensors bytes of `tensors` (as F32) and `metadata`, as ``write(_:metadata:to:)``
    /// writes them.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) -> Data {
        DataSink.collect { sink in try emit(tensors, metadata: metadata, to: &sink) }
    }

    // MARK: Writing

    private static func emit<Sink: ByteSink>(_ tensors: [String: Tensor], metadata: [String: String], to sink: inout Sink) throws {
        require(tensors["__metadata__"] == nil, "Safetensors.write: \"__metadata__\" is reserved and cannot name a tensor")
        // Byte order, as Rust sorts Strings in the reference implementation.
        func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }
        let names = tensors.keys.sorted(by: byteOrder)
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted(by: byteOrder).map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            let end = offset + t.count * MemoryLayout<Float>.size
            let shape = t.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try sink.write($0) }
        try header.withUnsafeBytes { try sink.write($0) }
        for name in names { try sink.writeLittleEndianFloats(of: tensors[name]!) }
    }

    /// `s` as a JSON string literal, escaped as serde_json escapes it.
    private static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    // MARK: Reading

    /// One tensor's header entry, validated against the data section.
    private struct Entry {
        var name: String
        var type: StoredElementType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    private static func decode(_ data: Data, context: TensorFileContext) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try data.withUnsafeBytes { raw in
            let (headerEnd, entries, metadata) = try parseHeader(raw, context: context)
            var tensors: [String: Tensor] = [:]
            for e in entries {
                let source = UnsafeRawBufferPointer(rebasing: raw[(headerEnd + e.begin)..<(headerEnd + e.end)])
                tensors[e.name] = Tensor.make(shape: e.shape) { out in e.type.decode(source, count: out.count, into: out) }
            }
            return (tensors, metadata)
        }
    }

    /// Validates the length field, the JSON header and every entry's byte range; returns where
    /// the data section starts, the entries and the metadata.
    private static func parseHeader(_ raw: UnsafeRawBufferPointer, context: TensorFileContext) throws
        -> (headerEnd: Int, entries: [Entry], metadata: [String: String]) {
        guard raw.count >= 8 else {
            throw context.error(.truncated, at: 0, "the file has \(raw.count) bytes, fewer than the 8-byte header length")
        }
        let declared = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        // A file of another kind (text, an image) fails here first: say so.
        let otherKind = raw.count > 8 && raw[8] == UInt8(ascii: "{") ? ""
            : "; this does not look like a safetensors file (its JSON header must start with '{' at byte 8)"
        guard declared <= UInt64(maxHeaderLength) else {
            throw context.error(.invalidHeaderLength, at: 0, "header length \(declared) exceeds the limit of \(maxHeaderLength) bytes" + otherKind)
        }
        let headerEnd = 8 + Int(declared)
        guard headerEnd <= raw.count else {
            throw context.error(.invalidHeaderLength, at: 0,
                                "header length \(declared) runs past the end of the file (\(raw.count) bytes, so at most \(raw.count - 8))" + otherKind)
        }
        let items = try context.parseHeaderDictionary([UInt8](raw[8..<headerEnd]), startingAt: 8, dialect: .json, checkUTF8: true)
        let dataLength = raw.count - headerEnd
        var metadata: [String: String] = [:]
        var entries: [Entry] = []
        for item in items {
            if item.key == "__metadata__" {
                metadata = try parseMetadata(item.value, at: item.offset, context: context)
            } else {
                entries.append(try parseEntry(item.key, item.value, at: item.offset, headerEnd: headerEnd,
                                              dataLength: dataLength, context: context))
            }
        }
        try checkCoverage(entries, headerEnd: headerEnd, dataLength: dataLength, context: context)
        return (headerEnd, entries, metadata)
    }

    private static func parseMetadata(_ value: HeaderLiteral, at offset: Int, context: TensorFileContext) throws -> [String: String] {
        var metadata: [String: String] = [:]
        switch value {
        case .null: break
        case .dictionary(let pairs):
            for pair in pairs {
                guard case .string(let text) = pair.value else {
                    throw context.error(.invalidField, key: "__metadata__", at: offset,
                                        "metadata value of \"\(pair.key)\" is \(pair.value.typeName), not a string")
                }
                metadata[pair.key] = text
            }
        default:
            throw context.error(.invalidField, key: "__metadata__", at: offset, "__metadata__ is \(value.typeName), not an object")
        }
        return metadata
    }

    private static func parseEntry(_ name: String, _ value: HeaderLiteral, at offset: Int, headerEnd: Int,
                                   dataLength: Int, context: TensorFileContext) throws -> Entry {
        func fail(_ kind: TensorFileError.Kind, _ reason: String) -> TensorFileError {
            context.error(kind, key: name, at: offset, reason)
        }
        guard case .dictionary = value else {
            throw fail(.invalidField, "the entry is \(value.typeName), not an object with dtype, shape and data_offsets")
        }
        guard let dtype = value["dtype"] else { throw fail(.missingField, "no \"dtype\" field") }
        guard case .string(let dtypeName) = dtype else { throw fail(.invalidField, "dtype is \(dtype.typeName), not a string") }
        guard let type = StoredElementType(safetensorsName: dtypeName) else {
            throw fail(.unsupportedDType, "unknown or unsupported dtype \"\(dtypeName)\" "
                       + "(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL)")
        }
        guard let shapeValue = value["shape"] else { throw fail(.missingField, "no \"shape\" field") }
        guard let shape = shapeValue.sizes else {
            throw fail(.invalidField, "shape is not a list of non-negative integers")
        }
        guard let offsetsValue = value["data_offsets"] else { throw fail(.missingField, "no \"data_offsets\" field") }
        guard let offsets = offsetsValue.sizes, offsets.count == 2 else {
            throw fail(.invalidField, "data_offsets is not a pair of non-negative integers [begin, end]")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw fail(.invalidField, "data_offsets [\(begin), \(end)] end before they begin") }
        guard let size = checkedByteCount(shape: shape, elementSize: type.size) else {
            throw fail(.sizeMismatch, unaddressableShapeReason(shape, typeName: dtypeName, elementSize: type.size))
        }
        guard end - begin == size.bytes else {
            throw fail(.sizeMismatch, "data_offsets [\(begin), \(end)] span \(end - begin) bytes but \(dtypeName) "
                       + "shape \(shape) needs \(size.bytes) (\(size.count) elements of \(type.size) bytes)")
        }
        guard end <= dataLength else {
            throw fail(.offsetsOutOfRange, "data_offsets [\(begin), \(end)] reach past the data section, which has "
                       + "\(dataLength) bytes (file bytes \(headerEnd)..<\(headerEnd + dataLength))")
        }
        return Entry(name: name, type: type, shape: shape, begin: begin, end: end)
    }

    /// Checks that the tensors tile the data section exactly, as the reference implementation
    /// requires: no overlap, no hole, no trailing bytes.
    private static func checkCoverage(_ entries: [Entry], headerEnd: Int, dataLength: Int, context: TensorFileContext) throws {
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        var previous: String?
        for e in sorted {
            if e.begin < covered {
                throw context.error(.overlappingData, key: e.name, at: headerEnd + e.begin,
                                    "data_offsets [\(e.begin), \(e.end)] overlap tensor \"\(previous ?? "")\", which ends at data offset \(covered)")
            }
            if e.begin > covered {
                throw context.error(.unreferencedBytes, key: e.name, at: headerEnd + covered,
                                    "data bytes \(covered)..<\(e.begin), before this tensor, belong to no tensor")
            }
            covered = e.end
            previous = e.name
        }
        if covered < dataLength {
            throw context.error(.unreferencedBytes, at: headerEnd + covered,
                                "the last \(dataLength - covered) bytes of the data section belong to no tensor")
        }
    }
}
