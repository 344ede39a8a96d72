// A restricted reader of Python pickles (protocols 2 to 5), for the `data.pkl` of torch.save
// archives. It knows only the opcodes that build numbers, strings, tuples, lists and dicts, the
// memo, `GLOBAL`/`STACK_GLOBAL` of names its caller allows, `REDUCE` and `BUILD` on those, and
// `BINPERSID`: nothing is ever imported or run, whatever the bytes say. See `TorchFile`.

/// A list built by the unpickler: a reference, as Python's, so that `APPEND` after a memo `PUT`
/// changes what a later `GET` returns.
final class PickleList {
    var items: [PickleValue] = []
}

/// A tuple built by the unpickler. A reference too, so that every container has an identity and
/// ``PickleValue/dismantle(_:)`` visits each once, however often the memo shares it.
final class PickleTuple {
    var items: [PickleValue]

    init(_ items: [PickleValue]) {
        self.items = items
    }
}

/// A dict built by the unpickler (insertion order kept, a repeated key replaces the value as in
/// Python); a reference for the same reason as ``PickleList``.
final class PickleDict {
    private(set) var pairs: [(key: PickleValue, value: PickleValue)] = []
    /// Where each string or integer key is in `pairs`.
    private var positions: [PickleKey: Int] = [:]

    /// Sets `value` under `key`; `false` when the key is neither a string nor an integer.
    func set(_ key: PickleValue, _ value: PickleValue) -> Bool {
        let hashable: PickleKey
        switch key {
        case .string(let s): hashable = .string(s)
        case .int(let i): hashable = .int(i)
        case .bool(let b): hashable = .int(b ? 1 : 0)
        default: return false
        }
        if let i = positions[hashable] {
            pairs[i].value = value
        } else {
            positions[hashable] = pairs.count
            pairs.append((key, value))
        }
        return true
    }

    /// Empties the dict.
    func removeAll() {
        pairs = []
        positions = [:]
    }
}

private enum PickleKey: Hashable {
    case string(String)
    case int(Int)
}

/// A value on the unpickler's stack. `global`, `storage` and `object` stand for what the caller's
/// ``PickleCallbacks`` allowed and made; the rest are Python's plain values.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    case dict(PickleDict)
    /// An allowed `module.name`, not yet called.
    case global(module: String, name: String)
    /// Whatever the caller made of a call or a persistent id (a storage, a tensor).
    case object(AnyObject)

    /// An integer's value, a string quoted, else the type name, for error messages.
    var shortDescription: String {
        switch self {
        case .int(let i): return String(i)
        case .string(let s): return "\"\(s.prefix(64))\""
        default: return typeName
        }
    }

    /// The Python type name, for error messages.
    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let module, let name): return "\(module).\(name)"
        case .object(let o): return "\(type(of: o))"
        }
    }

    /// Empties every container reachable from `values`, without recursion. A pickle can nest
    /// containers millions deep in a few megabytes (`TUPLE1` after `TUPLE1`), and releasing such a
    /// chain the usual way recurses once per level and overflows the stack; emptied, each
    /// container is released alone. (Also breaks the cycles a pickle can make.)
    static func dismantle(_ values: [PickleValue]) {
        var work = values
        var seen = Set<ObjectIdentifier>()
        while let value = work.popLast() {
            switch value {
            case .tuple(let t) where seen.insert(ObjectIdentifier(t)).inserted:
                work += t.items
                t.items = []
            case .list(let l) where seen.insert(ObjectIdentifier(l)).inserted:
                work += l.items
                l.items = []
            case .dict(let d) where seen.insert(ObjectIdentifier(d)).inserted:
                for pair in d.pairs { work += [pair.key, pair.value] }
                d.removeAll()
            default: break
            }
        }
    }
}

/// What a restricted unpickling may do beyond plain values; everything else is refused.
struct PickleCallbacks {
    /// Whether `module.name` may be named by `GLOBAL`/`STACK_GLOBAL`.
    var allows: (_ module: String, _ name: String) -> Bool
    /// The result of `REDUCE`: calling the allowed global with `arguments`. Throws (through
    /// `fail`) when the call is not one it supports.
    var call: (_ module: String, _ name: String, _ arguments: [PickleValue], _ fail: (TensorFileError.Kind, String) -> TensorFileError) throws -> PickleValue
    /// The result of `BINPERSID` for `id`.
    var persistentLoad: (_ id: PickleValue, _ fail: (TensorFileError.Kind, String) -> TensorFileError) throws -> PickleValue
}

/// Reads one pickle from `bytes` under `callbacks`. Errors are ``TensorFileError``s of kind
/// `.invalidPickle` (malformed) or `.forbiddenPickle` (an opcode or a global refused), naming
/// `record` (the archive's `…/data.pkl`) and the byte offset of the opcode within it.
struct Unpickler {
    private let bytes: [UInt8]
    private let record: String
    private let context: TensorFileContext
    private let callbacks: PickleCallbacks
    private var position = 0
    /// The offset of the opcode being run.
    private var opcodeOffset = 0
    private var stack: [PickleValue] = []
    private var marks: [[PickleValue]] = []
    private var memo: [Int: PickleValue] = [:]

    init(_ bytes: [UInt8], record: String, context: TensorFileContext, callbacks: PickleCallbacks) {
        self.bytes = bytes
        self.record = record
        self.context = context
        self.callbacks = callbacks
    }

    /// The error `kind` at the current opcode.
    func error(_ kind: TensorFileError.Kind, _ reason: String) -> TensorFileError {
        context.error(kind, "\(record), byte \(opcodeOffset): \(reason)")
    }

    /// Everything the unpickler still holds (stack, marks, memo), which it lets go of: for
    /// ``PickleValue/dismantle(_:)`` once the result has been used.
    mutating func takeRemains() -> [PickleValue] {
        defer { (stack, marks, memo) = ([], [], [:]) }
        return stack + marks.joined() + memo.values
    }

    /// Runs the pickle to its `STOP` and returns the value it leaves.
    mutating func load() throws -> PickleValue {
        guard bytes.first == 0x80 else {
            throw error(.unsupportedVersion, "the pickle does not start with PROTO (protocol 0 or 1, or not a pickle); "
                        + "protocols 2 to 5 are read")
        }
        while true {
            opcodeOffset = position
            let opcode = try readByte()
            if opcode == UInt8(ascii: ".") {
                // Left on the stack, for `takeRemains`.
                guard let result = stack.last else { throw underflow("STOP") }
                return result
            }
            try run(opcode)
        }
    }

    // MARK: Opcodes

    private mutating func run(_ opcode: UInt8) throws {
        switch opcode {
        case 0x80: // PROTO
            let version = try readByte()
            guard (2...5).contains(version) else {
                throw error(.unsupportedVersion, "pickle protocol \(version); protocols 2 to 5 are read")
            }
        case 0x95: // FRAME: a length to skip over; the frame's bytes are read as they come.
            let length = try readUnsigned(8)
            guard length <= bytes.count - position else {
                throw error(.invalidPickle, "FRAME of \(length) bytes runs past the end of the pickle (\(bytes.count - position) bytes left)")
            }
        case UInt8(ascii: "("): // MARK
            marks.append(stack)
            stack = []
        case UInt8(ascii: ")"): stack.append(.tuple(PickleTuple([])))
        case UInt8(ascii: "t"): stack.append(.tuple(PickleTuple(try popMark("TUPLE"))))
        case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
            let n = Int(opcode - 0x84)
            guard stack.count >= n else { throw underflow("TUPLE\(n)") }
            let items = Array(stack.suffix(n))
            stack.removeLast(n)
            stack.append(.tuple(PickleTuple(items)))
        case UInt8(ascii: "]"): stack.append(.list(PickleList()))
        case UInt8(ascii: "l"): // LIST
            let list = PickleList()
            list.items = try popMark("LIST")
            stack.append(.list(list))
        case UInt8(ascii: "a"): // APPEND
            let item = try pop("APPEND")
            try appendTarget("APPEND").items.append(item)
        case UInt8(ascii: "e"): // APPENDS
            let items = try popMark("APPENDS")
            try appendTarget("APPENDS").items.append(contentsOf: items)
        case UInt8(ascii: "}"): stack.append(.dict(PickleDict()))
        case UInt8(ascii: "d"): // DICT
            let dict = PickleDict()
            try setItems(try popMark("DICT"), in: dict)
            stack.append(.dict(dict))
        case UInt8(ascii: "s"): // SETITEM
            let value = try pop("SETITEM"), key = try pop("SETITEM")
            try setItems([key, value], in: try dictTarget("SETITEM"))
        case UInt8(ascii: "u"): // SETITEMS
            let items = try popMark("SETITEMS")
            try setItems(items, in: try dictTarget("SETITEMS"))
        case UInt8(ascii: "N"): stack.append(.none)
        case 0x88: stack.append(.bool(true))
        case 0x89: stack.append(.bool(false))
        case UInt8(ascii: "K"): stack.append(.int(try readUnsigned(1)))
        case UInt8(ascii: "M"): stack.append(.int(try readUnsigned(2)))
        case UInt8(ascii: "J"): stack.append(.int(Int(Int32(truncatingIfNeeded: try readUnsigned(4)))))
        case 0x8a: stack.append(.int(try readLong(lengthBytes: 1)))
        case 0x8b: stack.append(.int(try readLong(lengthBytes: 4)))
        case UInt8(ascii: "G"): // BINFLOAT, big-endian
            var bits: UInt64 = 0
            for byte in try read(8) { bits = bits << 8 | UInt64(byte) }
            stack.append(.float(Double(bitPattern: bits)))
        case 0x8c: stack.append(.string(try readString(lengthBytes: 1)))
        case UInt8(ascii: "X"): stack.append(.string(try readString(lengthBytes: 4)))
        case 0x8d: stack.append(.string(try readString(lengthBytes: 8)))
        case UInt8(ascii: "U"): stack.append(.string(try readString(lengthBytes: 1)))
        case UInt8(ascii: "T"): stack.append(.string(try readString(lengthBytes: 4)))
        case UInt8(ascii: "C"): stack.append(.bytes(Array(try read(try readUnsigned(1)))))
        case UInt8(ascii: "B"): stack.append(.bytes(Array(try read(try readUnsigned(4)))))
        case 0x8e: stack.append(.bytes(Array(try read(try readUnsigned(8)))))
        case UInt8(ascii: "q"): try put(try readUnsigned(1))
        case UInt8(ascii: "r"): try put(try readUnsigned(4))
        case 0x94: try put(memo.count) // MEMOIZE
        case UInt8(ascii: "h"): try get(try readUnsigned(1))
        case UInt8(ascii: "j"): try get(try readUnsigned(4))
        case UInt8(ascii: "c"): // GLOBAL module\nname\n
            let module = try readLine(), name = try readLine()
            stack.append(try global(module, name))
        case 0x93: // STACK_GLOBAL
            let name = try pop("STACK_GLOBAL"), module = try pop("STACK_GLOBAL")
            guard case .string(let m) = module, case .string(let n) = name else {
                throw error(.invalidPickle, "STACK_GLOBAL needs two strings, got \(module.typeName) and \(name.typeName)")
            }
            stack.append(try global(m, n))
        case UInt8(ascii: "R"): // REDUCE
            let arguments = try pop("REDUCE"), callable = try pop("REDUCE")
            guard case .global(let module, let name) = callable else {
                throw error(.forbiddenPickle, "REDUCE calls a \(callable.typeName), not an allowed global")
            }
            guard case .tuple(let items) = arguments else {
                throw error(.invalidPickle, "REDUCE of \(module).\(name) has arguments of type \(arguments.typeName), not a tuple")
            }
            stack.append(try callbacks.call(module, name, items.items, error))
        case UInt8(ascii: "b"): // BUILD: only the attributes of a dict (OrderedDict's _metadata), ignored.
            let state = try pop("BUILD")
            guard let target = stack.last else { throw underflow("BUILD") }
            guard case .dict = target else {
                throw error(.forbiddenPickle, "BUILD on a \(target.typeName) (with a \(state.typeName) state); only a dict's attributes are accepted")
            }
        case UInt8(ascii: "Q"): // BINPERSID
            let id = try pop("BINPERSID")
            stack.append(try callbacks.persistentLoad(id, error))
        default:
            throw error(.forbiddenPickle, "opcode \(Self.describe(opcode)) is not allowed (only the opcodes "
                        + "that build tensors and plain containers are read)")
        }
    }

    /// `0x69 ('i', INST)`: the byte, its character and the opcode's name in Python's `pickle`.
    static func describe(_ opcode: UInt8) -> String {
        let hex = "0x" + (opcode < 16 ? "0" : "") + String(opcode, radix: 16)
        let character = (0x21...0x7e).contains(opcode) ? "'\(Character(Unicode.Scalar(opcode)))', " : ""
        return "\(hex) (\(character)\(opcodeNames[opcode] ?? "unknown"))"
    }

    private static let opcodeNames: [UInt8: String] = [
        0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
        0x4a: "BININT", 0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE", 0x50: "PERSID",
        0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
        0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
        0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6a: "LONG_BINGET",
        0x6c: "LIST", 0x5d: "EMPTY_LIST", 0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
        0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
        0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2",
        0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4", 0x42: "BINBYTES",
        0x43: "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x8e: "BINBYTES8",
        0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL",
        0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]

    // MARK: Stack, memo and containers

    private func underflow(_ opcode: String) -> TensorFileError {
        error(.invalidPickle, "\(opcode) finds too few values on the stack")
    }

    private mutating func pop(_ opcode: String) throws -> PickleValue {
        guard let value = stack.popLast() else { throw underflow(opcode) }
        return value
    }

    /// The values pushed since the last MARK, which is removed.
    private mutating func popMark(_ opcode: String) throws -> [PickleValue] {
        guard let outer = marks.popLast() else { throw error(.invalidPickle, "\(opcode) without a MARK before it") }
        defer { stack = outer }
        return stack
    }

    private func appendTarget(_ opcode: String) throws -> PickleList {
        guard let target = stack.last else { throw underflow(opcode) }
        guard case .list(let list) = target else { throw error(.invalidPickle, "\(opcode) to a \(target.typeName), not a list") }
        return list
    }

    private func dictTarget(_ opcode: String) throws -> PickleDict {
        guard let target = stack.last else { throw underflow(opcode) }
        guard case .dict(let dict) = target else { throw error(.invalidPickle, "\(opcode) on a \(target.typeName), not a dict") }
        return dict
    }

    private func setItems(_ items: [PickleValue], in dict: PickleDict) throws {
        guard items.count % 2 == 0 else { throw error(.invalidPickle, "\(items.count) values for key-value pairs (an odd count)") }
        for i in stride(from: 0, to: items.count, by: 2) where !dict.set(items[i], items[i + 1]) {
            throw error(.invalidPickle, "a dict key of type \(items[i].typeName); only str and int keys are read")
        }
    }

    private mutating func put(_ index: Int) throws {
        guard let top = stack.last else { throw underflow("PUT") }
        memo[index] = top
    }

    private mutating func get(_ index: Int) throws {
        guard let value = memo[index] else { throw error(.invalidPickle, "GET of memo entry \(index), which was never PUT") }
        stack.append(value)
    }

    private func global(_ module: String, _ name: String) throws -> PickleValue {
        // Protocol 2 names Python 3's builtins by their Python 2 module.
        let module = module == "__builtin__" ? "builtins" : module
        guard callbacks.allows(module, name) else {
            throw error(.forbiddenPickle, "global \(module).\(name) is not allowed (only tensors, their storages "
                        + "and plain containers are read; nothing is imported or run)")
        }
        return .global(module: module, name: name)
    }

    // MARK: Reading operands

    private mutating func read(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count <= bytes.count - position else {
            throw error(.invalidPickle, "the pickle ends inside an operand: \(count) bytes needed at byte \(position), "
                        + "\(bytes.count - position) left")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else { throw error(.invalidPickle, "the pickle ends without STOP") }
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian unsigned integer of `count` bytes (at most 8), which must fit in an `Int`.
    private mutating func readUnsigned(_ count: Int) throws -> Int {
        var value: UInt64 = 0
        for (i, byte) in try read(count).enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        guard value <= UInt64(Int.max) else { throw error(.invalidPickle, "length or index \(value) exceeds Int.max") }
        return Int(value)
    }

    /// LONG1/LONG4: a little-endian two's-complement integer of a given byte count, at most 8.
    private mutating func readLong(lengthBytes: Int) throws -> Int {
        let count = try readUnsigned(lengthBytes)
        guard count <= 8 else { throw error(.invalidPickle, "an integer of \(count) bytes does not fit in 64 bits") }
        let digits = try read(count)
        var value: UInt64 = 0
        for (i, byte) in digits.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        if count > 0, count < 8, digits.last! & 0x80 != 0 { value |= ~0 << (8 * UInt64(count)) }
        return Int(Int64(bitPattern: value))
    }

    private mutating func readString(lengthBytes: Int) throws -> String {
        let utf8 = try read(try readUnsigned(lengthBytes))
        guard let string = String(validating: utf8, as: UTF8.self) else {
            throw error(.invalidPickle, "a string of \(utf8.count) bytes is not valid UTF-8")
        }
        return string
    }

    /// A `GLOBAL` operand: text up to a newline (at most 256 bytes).
    private mutating func readLine() throws -> String {
        let end = bytes[position...].prefix(257).firstIndex(of: UInt8(ascii: "\n"))
        guard let end else { throw error(.invalidPickle, "a GLOBAL name without a newline within 256 bytes") }
        let line = try read(end - position)
        position += 1
        guard let text = String(validating: line, as: UTF8.self) else { throw error(.invalidPickle, "a GLOBAL name is not valid UTF-8") }
        return text
    }
}
