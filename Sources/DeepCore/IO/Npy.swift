import Foundation

// NumPy's .npy format (numpy.lib.format): the magic string "\x93NUMPY", a version byte pair,
// a little-endian header length (2 bytes in version 1.0, 4 in 2.0 and 3.0), a Python dictionary
// literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a
// newline so that the data starts at a multiple of 64 bytes, then the array's bytes.

extension Tensor {
    /// Reads the array in the `.npy` file at `url` as a Float32 tensor of the same shape.
    ///
    /// Accepts format versions 1.0, 2.0 and 3.0, little-endian `f8`, `f4`, `f2`, `i8`, `i4`,
    /// `i2`, `i1`, `u8`, `u4`, `u2`, `u1` and `b1` (converted to Float32), in C or Fortran order
    /// (a Fortran-order array is transposed into row-major order). Shape `()` gives a 0-D tensor.
    ///
    ///     let x = try Tensor(npyFile: URL(fileURLWithPath: "x.npy"))   // np.save("x.npy", x)
    /// - Throws: ``TensorFileError`` when the file cannot be read, is malformed, is truncated or
    ///   has bytes after the array, holds big-endian, structured or object data, or has a shape
    ///   whose sizes multiply past `Int.max` (even beside a zero, which makes an empty array).
    public convenience init(npyFile url: URL) throws {
        let context = TensorFileContext(format: "npy", path: url.path)
        let t = try Npy.decode(context.readFile(url), context: context)
        self.init(storage: t.storage, shape: t.shape)
    }

    /// Reads a `.npy` array held in memory; see ``init(npyFile:)``.
    /// - Throws: ``TensorFileError`` when the bytes are malformed.
    public convenience init(npyData data: Data) throws {
        let t = try Npy.decode(data, context: TensorFileContext(format: "npy", path: nil))
        self.init(storage: t.storage, shape: t.shape)
    }

    /// Writes this tensor as a little-endian Float32 `.npy` file in C order, byte for byte as
    /// `np.save` writes it, atomically (the file at `url` is replaced only once the new one is
    /// on disk). Any layout is accepted (non-contiguous tensors are copied).
    /// - Throws: ``TensorFileError`` of kind `.io` when the file cannot be written.
    public func writeNpy(to url: URL) throws {
        try AtomicWrite.write(to: url, format: "npy") { sink in try Npy.emit(self, to: &sink) }
    }

    /// The `.npy` bytes of this tensor, as ``writeNpy(to:)`` writes them.
    public func npyData() -> Data {
        DataSink.collect { sink in try Npy.emit(self, to: &sink) }
    }
}

/// NumPy's `.npy` format: the decoder and encoder behind ``Tensor/init(npyFile:)``,
/// ``Tensor/init(npyData:)``, ``Tensor/writeNpy(to:)`` and ``Tensor/npyData()``.
public enum Npy {
    /// The array in the `.npy` file at `url`; the same as ``Tensor/init(npyFile:)``.
    /// - Throws: ``TensorFileError`` when the file cannot be read or is malformed.
    public static func read(from url: URL) throws -> Tensor {
        try Tensor(npyFile: url)
    }

    /// The array in the `.npy` bytes `data`; the same as ``Tensor/init(npyData:)``.
    /// - Throws: ``TensorFileError`` when the bytes are malformed.
    public static func read(data: Data) throws -> Tensor {
        try Tensor(npyData: data)
    }

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// Data starts at a multiple of this many bytes.
    static let alignment = 64
    /// NumPy pads the header so that the first axis can grow to this many digits in place.
    static let growthAxisDigits = 21
    /// Largest header accepted (NumPy itself refuses more than 10 000 bytes by default).
    static let maxHeaderLength = 1 << 20

    // MARK: Writing

    /// The bytes before the data: magic, version, header length and the padded header
    /// dictionary for a little-endian Float32 C-order array of `shape`. Version 1.0 unless the
    /// header is too long for its 2-byte length field, then 2.0 (as `np.save` chooses).
    static func preamble(shape: [Int]) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(\(shape.map(String.init).joined(separator: ", ")))"
        var dictionary = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        if let first = shape.first {
            dictionary += String(repeating: " ", count: max(0, growthAxisDigits - String(first).count))
        }
        let body = Array(dictionary.utf8)
        let terminated = body.count + 1  // the final newline
        func padding(lengthSize: Int) -> Int { alignment - (magic.count + 2 + lengthSize + terminated) % alignment }
        let lengthSize = terminated + padding(lengthSize: 2) <= 0xFFFF ? 2 : 4
        let padding = padding(lengthSize: lengthSize)
        let headerLength = terminated + padding
        var out = magic + [lengthSize == 2 ? 1 : 2, 0]
        for i in 0..<lengthSize { out.append(UInt8(truncatingIfNeeded: headerLength >> (8 * i))) }
        out += body
        out += repeatElement(UInt8(ascii: " "), count: padding)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    static func emit<Sink: ByteSink>(_ tensor: Tensor, to sink: inout Sink) throws {
        try preamble(shape: tensor.shape).withUnsafeBytes { try sink.write($0) }
        try sink.writeLittleEndianFloats(of: tensor)
    }

    // MARK: Reading

    /// Parses and validates the preamble and header, then converts the data.
    static func decode(_ data: Data, context: TensorFileContext) throws -> Tensor {
        try data.withUnsafeBytes { raw in
            let (dataStart, header) = try readHeader(raw, context: context)
            let bytes = UnsafeRawBufferPointer(rebasing: raw[dataStart...])
            guard let size = checkedByteCount(shape: header.shape, elementSize: header.type.size) else {
                throw context.error(.invalidField, key: "shape", at: header.shapeOffset,
                                    unaddressableShapeReason(header.shape, typeName: "'\(header.descr)'", elementSize: header.type.size))
            }
            guard bytes.count >= size.bytes else {
                throw context.error(.truncated, at: dataStart, "the array of shape \(header.shape) and type '\(header.descr)' "
                                    + "needs \(size.bytes) bytes from byte \(dataStart), but the file has only \(bytes.count)")
            }
            guard bytes.count == size.bytes else {
                throw context.error(.unreferencedBytes, at: dataStart + size.bytes,
                                    "\(bytes.count - size.bytes) bytes follow the array data")
            }
            let storedShape = header.fortranOrder ? Array(header.shape.reversed()) : header.shape
            let stored = Tensor.make(shape: storedShape) { out in header.type.decode(bytes, count: size.count, into: out) }
            guard header.fortranOrder && header.shape.count > 1 else { return stored }
            // Fortran order stores the transpose's row-major layout: permute the axes back.
            return withoutGrad { stored.permuted(Array((0..<storedShape.count).reversed())).contiguous() }
        }
    }

    /// The validated header fields.
    private struct Header {
        var descr: String
        var type: StoredElementType
        var fortranOrder: Bool
        var shape: [Int]
        var shapeOffset: Int
    }

    private static func readHeader(_ raw: UnsafeRawBufferPointer, context: TensorFileContext) throws -> (dataStart: Int, header: Header) {
        guard raw.count >= magic.count + 2 else {
            throw context.error(.truncated, at: 0, "the file has \(raw.count) bytes, too few for the magic string and version")
        }
        guard raw.prefix(magic.count).elementsEqual(magic) else {
            let found = raw.prefix(magic.count).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw context.error(.badMagic, at: 0, "the file does not start with \\x93NUMPY (found bytes \(found))")
        }
        let (major, minor) = (raw[6], raw[7])
        guard (1...3).contains(major) && minor == 0 else {
            throw context.error(.unsupportedVersion, at: 6, "format version \(major).\(minor) is not 1.0, 2.0 or 3.0")
        }
        let lengthSize = major == 1 ? 2 : 4
        let headerStart = 8 + lengthSize
        guard raw.count >= headerStart else {
            throw context.error(.truncated, at: 8, "the file ends inside the \(lengthSize)-byte header length")
        }
        let declared = major == 1
            ? Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self)))
            : Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        guard declared <= maxHeaderLength else {
            throw context.error(.invalidHeaderLength, at: 8, "header length \(declared) exceeds the limit of \(maxHeaderLength) bytes")
        }
        guard headerStart + declared <= raw.count else {
            throw context.error(.invalidHeaderLength, at: 8, "header length \(declared) runs past the end of the file "
                                + "(\(raw.count) bytes, header starts at byte \(headerStart))")
        }
        let items = try context.parseHeaderDictionary([UInt8](raw[headerStart..<(headerStart + declared)]), startingAt: headerStart,
                                                      dialect: .python(utf8: major == 3), checkUTF8: major == 3)
        return (headerStart + declared, try parseFields(items, headerStart: headerStart, context: context))
    }

    private static func parseFields(_ items: [(key: String, value: HeaderLiteral, offset: Int)], headerStart: Int,
                                     context: TensorFileContext) throws -> Header {
        let required = ["descr", "fortran_order", "shape"]
        if let extra = items.first(where: { !required.contains($0.key) }) {
            throw context.error(.invalidField, key: extra.key, at: extra.offset,
                                "unexpected header key '\(extra.key)' (expected only descr, fortran_order and shape)")
        }
        func field(_ name: String) throws -> (value: HeaderLiteral, offset: Int) {
            guard let item = items.first(where: { $0.key == name }) else {
                throw context.error(.missingField, key: name, at: headerStart, "the header has no '\(name)' key")
            }
            return (item.value, item.offset)
        }
        let (descrValue, descrOffset) = try field("descr")
        guard case .string(let descr) = descrValue else {
            let what = if case .list = descrValue { "a structured dtype" } else { descrValue.typeName }
            throw context.error(.unsupportedDType, key: "descr", at: descrOffset, "descr is \(what); only plain numeric types are supported")
        }
        let type = try elementType(descr, at: descrOffset, context: context)
        let (orderValue, orderOffset) = try field("fortran_order")
        guard case .bool(let fortranOrder) = orderValue else {
            throw context.error(.invalidField, key: "fortran_order", at: orderOffset, "fortran_order is \(orderValue.typeName), not True or False")
        }
        let (shapeValue, shapeOffset) = try field("shape")
        guard let shape = shapeValue.sizes else {
            throw context.error(.invalidField, key: "shape", at: shapeOffset, "shape is not a tuple of non-negative integers")
        }
        return Header(descr: descr, type: type, fortranOrder: fortranOrder, shape: shape, shapeOffset: shapeOffset)
    }

    /// The element type of a NumPy type string such as `'<f4'`.
    private static func elementType(_ descr: String, at offset: Int, context: TensorFileContext) throws -> StoredElementType {
        let order = descr.first
        let code = descr.dropFirst()
        if code.hasPrefix("O") || descr.hasPrefix("O") {
            throw context.error(.unsupportedDType, key: "descr", at: offset,
                                "'\(descr)' is an object array of pickled Python objects, which cannot be read")
        }
        guard let type = StoredElementType(numpyCode: code), order.map({ "<>|=".contains($0) }) == true else {
            throw context.error(.unsupportedDType, key: "descr", at: offset, "dtype '\(descr)' is not supported "
                                + "(supported: <f8 <f4 <f2 <i8 <i4 <i2 |i1 <u8 <u4 <u2 |u1 |b1)")
        }
        let bigEndian = order == ">" || (order == "=" && 1.bigEndian == 1)
        if bigEndian && type.size > 1 {
            throw context.error(.unsupportedDType, key: "descr", at: offset,
                                "dtype '\(descr)' is big-endian; save a little-endian copy with arr.astype('<\(code)')")
        }
        return type
    }
}
