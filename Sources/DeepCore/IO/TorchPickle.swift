// What the restricted unpickler may build from a torch.save `data.pkl` (the allow-list), the
// storages and tensors it refers to, and the conversion of the result to a `TorchValue`.

/// A storage named by a persistent id `("storage", torch.<Type>Storage, key, location, count)`,
/// read from the archive's `data/<key>` and converted to Float32 once.
final class TorchStorageRecord {
    let key: String
    let type: StoredElementType
    let typeName: String
    let count: Int
    /// The converted elements, once ``load(from:context:)`` ran.
    private(set) var floats: TensorStorage?

    init(key: String, type: StoredElementType, typeName: String, count: Int) {
        self.key = key
        self.type = type
        self.typeName = typeName
        self.count = count
    }

    /// Reads `data/<key>` from `archive`, which must hold at least `count` elements.
    func load(from archive: TorchArchive, context: TensorFileContext) throws {
        let name = "\(archive.prefix)/data/\(key)"
        guard let bytes = try archive.record("data/\(key)") else {
            throw context.error(.invalidArchive, "the pickle refers to storage \"\(key)\" but the archive has no \(name)")
        }
        // `count · size` was checked when the persistent id was read.
        guard bytes.count >= count * type.size else {
            throw context.error(.sizeMismatch, "\(name) has \(bytes.count) bytes but its \(typeName) of \(count) elements "
                                + "needs \(count * type.size)")
        }
        let storage = TensorStorage(uninitializedCount: count)
        bytes.withUnsafeBytes { raw in
            type.decode(raw, count: count, into: UnsafeMutableBufferPointer(start: storage.pointer, count: count))
        }
        floats = storage
    }
}

/// A tensor made by `torch._utils._rebuild_tensor_v2`: a view of a storage, checked to lie
/// inside it.
final class TorchTensorRecord {
    let storage: TorchStorageRecord
    let offset: Int
    let shape: [Int]
    let strides: [Int]
    /// The tensor, made once (a memo may refer to the record several times).
    private var made: Tensor?

    init(storage: TorchStorageRecord, offset: Int, shape: [Int], strides: [Int]) {
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.strides = strides
    }

    /// The view of the converted storage.
    var tensor: Tensor {
        if let made { return made }
        let t = Tensor(storage: storage.floats!, shape: shape, strides: strides, offset: offset)
        made = t
        return t
    }
}

/// Holds the storages of one unpickling and makes its ``PickleCallbacks``.
final class TorchPickleReader {
    private let context: TensorFileContext
    /// The storages named so far, by key.
    private(set) var storages: [String: TorchStorageRecord] = [:]
    /// Values still allowed to be made by ``convert(_:)``: a pickle can refer to one list many
    /// times through its memo, and a few hundred bytes would otherwise expand to billions of values.
    private var budget = 1 << 20

    init(context: TensorFileContext) {
        self.context = context
    }

    /// The storage types of `torch` (the legacy typed storages) and their element types.
    static let storageTypes: [String: StoredElementType] = [
        "FloatStorage": .float32, "DoubleStorage": .float64, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
        "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16, "CharStorage": .int8,
        "ByteStorage": .uint8, "BoolStorage": .bool,
    ]

    /// The globals a torch.save state dict or checkpoint needs, by module.
    static let allowedGlobals: [String: Set<String>] = [
        "torch._utils": ["_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state"],
        "torch": Set(storageTypes.keys).union(["device"]),
        "collections": ["OrderedDict"],
    ]

    var callbacks: PickleCallbacks {
        PickleCallbacks(allows: { module, name in Self.allowedGlobals[module]?.contains(name) == true },
                        call: { [unowned self] module, name, arguments, fail in try self.call(module, name, arguments, fail) },
                        persistentLoad: { [unowned self] id, fail in try self.persistentLoad(id, fail) })
    }

    // MARK: Calls

    private func call(_ module: String, _ name: String, _ arguments: [PickleValue],
                      _ fail: (TensorFileError.Kind, String) -> TensorFileError) throws -> PickleValue {
        let function = "\(module).\(name)"
        func argumentCount(_ counts: ClosedRange<Int>) throws {
            guard counts.contains(arguments.count) else {
                throw fail(.invalidPickle, "\(function) called with \(arguments.count) arguments, expected "
                           + (counts.count == 1 ? "\(counts.lowerBound)" : "\(counts.lowerBound) to \(counts.upperBound)"))
            }
        }
        switch function {
        case "collections.OrderedDict":
            try argumentCount(0...0)
            return .dict(PickleDict())
        case "torch.device":
            try argumentCount(1...2)
            guard case .string = arguments[0] else { throw fail(.invalidPickle, "torch.device of a \(arguments[0].typeName)") }
            return arguments[0]
        case "torch._utils._rebuild_tensor_v2":
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            try argumentCount(6...7)
            return .object(try tensor(arguments, fail))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            // (data, requires_grad, backward_hooks[, state])
            try argumentCount(name == "_rebuild_parameter" ? 3...3 : 4...4)
            guard case .object(let o) = arguments[0], o is TorchTensorRecord else {
                throw fail(.invalidPickle, "\(function) of a \(arguments[0].typeName), not a tensor")
            }
            return arguments[0]
        default:
            throw fail(.forbiddenPickle, "\(function) cannot be called (only tensors, parameters, OrderedDict and torch.device are built)")
        }
    }

    private func tensor(_ arguments: [PickleValue], _ fail: (TensorFileError.Kind, String) -> TensorFileError) throws -> TorchTensorRecord {
        guard case .object(let o) = arguments[0], let storage = o as? TorchStorageRecord else {
            throw fail(.invalidPickle, "_rebuild_tensor_v2 of a \(arguments[0].typeName), not a storage")
        }
        func sizes(_ value: PickleValue, _ what: String) throws -> [Int] {
            guard case .tuple(let tuple) = value else { throw fail(.invalidPickle, "the tensor's \(what) is a \(value.typeName), not a tuple") }
            return try tuple.items.map { item in
                guard case .int(let n) = item, n >= 0 else {
                    throw fail(.invalidPickle, "the tensor's \(what) holds \(item.shortDescription), not a size ≥ 0")
                }
                return n
            }
        }
        guard case .int(let offset) = arguments[1], offset >= 0 else {
            throw fail(.invalidPickle, "the tensor's storage offset is \(arguments[1].shortDescription), not an integer ≥ 0")
        }
        let shape = try sizes(arguments[2], "size"), strides = try sizes(arguments[3], "stride")
        guard shape.count == strides.count else {
            throw fail(.invalidPickle, "the tensor's size \(shape) and stride \(strides) differ in length")
        }
        // The last element reached, offset + Σ (size − 1) · stride, must lie in the storage.
        if !shape.contains(0) {
            var last = offset
            for (n, s) in zip(shape, strides) {
                let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else { last = Int.max; break }
                last = sum
            }
            guard last < storage.count else {
                throw fail(.offsetsOutOfRange, "a tensor of size \(shape), stride \(strides) and storage offset \(offset) "
                           + "reaches element \(last == Int.max ? "past Int.max" : String(last)) of storage \"\(storage.key)\", "
                           + "which has \(storage.count) elements")
            }
        }
        guard checkedByteCount(shape: shape, elementSize: MemoryLayout<Float>.size) != nil else {
            throw fail(.invalidPickle, unaddressableShapeReason(shape, typeName: "the tensor", elementSize: MemoryLayout<Float>.size))
        }
        return TorchTensorRecord(storage: storage, offset: offset, shape: shape, strides: strides)
    }

    private func persistentLoad(_ id: PickleValue, _ fail: (TensorFileError.Kind, String) -> TensorFileError) throws -> PickleValue {
        guard case .tuple(let tuple) = id, tuple.items.count == 5, case .string("storage") = tuple.items[0] else {
            throw fail(.forbiddenPickle, "a persistent id that is not (\"storage\", type, key, location, count): \(id.typeName)")
        }
        let items = tuple.items
        guard case .global("torch", let typeName) = items[1], let type = Self.storageTypes[typeName] else {
            throw fail(.unsupportedDType, "storage of type \(items[1].typeName); the types read are "
                       + Self.storageTypes.keys.sorted().map { "torch.\($0)" }.joined(separator: ", "))
        }
        guard case .string(let key) = items[2] else { throw fail(.invalidPickle, "a storage key of type \(items[2].typeName)") }
        guard case .int(let count) = items[4], count >= 0, !count.multipliedReportingOverflow(by: type.size).overflow else {
            throw fail(.invalidPickle, "storage \"\(key)\" has \(items[4].shortDescription) elements")
        }
        if let known = storages[key] {
            guard known.type == type, known.count == count else {
                throw fail(.invalidPickle, "storage \"\(key)\" is named as \(known.count) \(known.typeName) elements, "
                           + "then as \(count) \(typeName) elements")
            }
            return .object(known)
        }
        let record = TorchStorageRecord(key: key, type: type, typeName: typeName, count: count)
        storages[key] = record
        return .object(record)
    }

    // MARK: Conversion

    /// The value tree of `value`, once every storage is loaded.
    func convert(_ value: PickleValue, depth: Int = 0) throws -> TorchValue {
        budget -= 1
        guard budget >= 0 else {
            throw context.error(.invalidPickle, "the pickle expands to more than \(1 << 20) values (a memo entry referred to over and over)")
        }
        guard depth < 200 else { throw context.error(.invalidPickle, "the pickle nests containers more than 200 deep (or in a cycle)") }
        switch value {
        case .none: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        case .bytes(let b): return .bytes(b)
        case .tuple(let tuple): return .tuple(try tuple.items.map { try convert($0, depth: depth + 1) })
        case .list(let list): return .list(try list.items.map { try convert($0, depth: depth + 1) })
        case .dict(let dict):
            return .dictionary(try dict.pairs.map { (try convert($0.key, depth: depth + 1), try convert($0.value, depth: depth + 1)) })
        case .object(let o as TorchTensorRecord): return .tensor(o.tensor)
        case .object(let o as TorchStorageRecord):
            return .tensor(Tensor(storage: o.floats!, shape: [o.count]))
        case .global, .object:
            throw context.error(.invalidPickle, "the pickle leaves a \(value.typeName) uncalled in its result")
        }
    }
}
