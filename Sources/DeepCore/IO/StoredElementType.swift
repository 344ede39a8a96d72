// Element types found in tensor files and their conversion to Float32, shared by the
// safetensors and .npy readers. All stored data is little-endian.

/// The type of the elements stored in a tensor file. Every type is read as Float32 (integers
/// above 2^24 and Float64 values lose precision, as with `tensor.float()` in PyTorch).
enum StoredElementType: Equatable {
    case float64, float32, float16, bfloat16
    case int64, int32, int16, int8
    case uint64, uint32, uint16, uint8
    case bool

    /// Bytes per element.
    var size: Int {
        switch self {
        case .float64, .int64, .uint64: return 8
        case .float32, .int32, .uint32: return 4
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// The type named by a safetensors `dtype` string (`"F32"`, `"BF16"`, …), `nil` if unknown.
    init?(safetensorsName name: String) {
        switch name {
        case "F64": self = .float64
        case "F32": self = .float32
        case "F16": self = .float16
        case "BF16": self = .bfloat16
        case "I64": self = .int64
        case "I32": self = .int32
        case "I16": self = .int16
        case "I8": self = .int8
        case "U64": self = .uint64
        case "U32": self = .uint32
        case "U16": self = .uint16
        case "U8": self = .uint8
        case "BOOL": self = .bool
        default: return nil
        }
    }

    /// The type named by a little-endian NumPy type string without its byte-order character
    /// (`"f4"`, `"i8"`, `"b1"`, …), `nil` if not supported.
    init?(numpyCode code: Substring) {
        switch code {
        case "f8": self = .float64
        case "f4": self = .float32
        case "f2": self = .float16
        case "i8": self = .int64
        case "i4": self = .int32
        case "i2": self = .int16
        case "i1": self = .int8
        case "u8": self = .uint64
        case "u4": self = .uint32
        case "u2": self = .uint16
        case "u1": self = .uint8
        case "b1": self = .bool
        default: return nil
        }
    }

    /// Converts `count` little-endian elements starting at `source` (any alignment) to Float32.
    /// `source` must hold at least `count · size` bytes.
    func decode(_ source: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutableBufferPointer<Float>) {
        require(source.count >= count * size && out.count >= count,
                "StoredElementType.decode: \(count) elements of \(size) bytes do not fit the buffers")
        #if _endian(little)
        if self == .float32, let destination = out.baseAddress, let bytes = source.baseAddress {
            UnsafeMutableRawPointer(destination).copyMemory(from: bytes, byteCount: count * size)
            return
        }
        #endif
        func each<T: FixedWidthInteger>(_: T.Type, _ convert: (T) -> Float) {
            for i in 0..<count {
                out[i] = convert(T(littleEndian: source.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)))
            }
        }
        switch self {
        case .float64: each(UInt64.self) { Float(Double(bitPattern: $0)) }
        case .float32: each(UInt32.self) { Float(bitPattern: $0) }
        case .float16: each(UInt16.self) { Float(Float16(bitPattern: $0)) }
        case .bfloat16: each(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        case .int64: each(Int64.self) { Float($0) }
        case .int32: each(Int32.self) { Float($0) }
        case .int16: each(Int16.self) { Float($0) }
        case .int8: each(Int8.self) { Float($0) }
        case .uint64: each(UInt64.self) { Float($0) }
        case .uint32: each(UInt32.self) { Float($0) }
        case .uint16: each(UInt16.self) { Float($0) }
        case .uint8: each(UInt8.self) { Float($0) }
        case .bool: each(UInt8.self) { $0 == 0 ? 0 : 1 }
        }
    }
}

/// The number of elements of `shape` and their size in bytes, or `nil` when a hostile header
/// declares sizes an `Int` cannot address.
///
/// Every product of sizes is checked, whatever the element count: a shape such as
/// `[0, 2^62, 2^62]` holds no element, yet its row-major strides (which count a zero size as 1)
/// would overflow. So the product of the sizes with zeros counted as 1, times `elementSize`, must
/// fit in an `Int`; then every stride, element count and byte count does.
func checkedByteCount(shape: [Int], elementSize: Int) -> (count: Int, bytes: Int)? {
    var extent = elementSize
    for d in shape {
        let (product, overflow) = extent.multipliedReportingOverflow(by: max(d, 1))
        if overflow { return nil }
        extent = product
    }
    let count = shape.contains(0) ? 0 : extent / elementSize
    return (count, count * elementSize)
}

/// Why `shape` of `typeName` was refused by ``checkedByteCount(shape:elementSize:)``.
func unaddressableShapeReason(_ shape: [Int], typeName: String, elementSize: Int) -> String {
    "shape \(shape) of \(typeName) cannot be addressed: the product of its sizes (a zero counted as 1, "
        + "as strides count it) times \(elementSize) byte\(elementSize == 1 ? "" : "s") exceeds Int.max (\(Int.max))"
}
