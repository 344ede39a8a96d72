/// A value read from a `torch.save` file (see ``TorchFile``): Python's plain values and tensors.
///
/// A state dict is a `.dictionary` of string keys and `.tensor` values; a training checkpoint
/// is usually a `.dictionary` holding one under `"model"` or `"state_dict"` beside the optimiser's
/// state and numbers such as `"epoch"`. Tensors of every dtype are converted to Float32.
///
///     let value = try TorchFile.read(from: url)
///     value["epoch"]?.intValue                           // 3
///     value["model"]?["fc.weight"]?.tensorValue?.shape    // [10, 512]
public indirect enum TorchValue {
    /// Python's `None`.
    case none
    /// A `bool`.
    case bool(Bool)
    /// An `int` (one that fits in 64 bits).
    case int(Int)
    /// A `float`.
    case float(Double)
    /// A `str`.
    case string(String)
    /// A `bytes`.
    case bytes([UInt8])
    /// A `tuple` (also `torch.Size`).
    case tuple([TorchValue])
    /// A `list`.
    case list([TorchValue])
    /// A `dict` or `OrderedDict`, its pairs in insertion order; keys are strings or integers.
    case dictionary([(key: TorchValue, value: TorchValue)])
    /// A tensor (or `nn.Parameter`), converted to a contiguous Float32 tensor of its shape.
    case tensor(Tensor)

    /// The value under the string `key` of a dictionary; `nil` for other values or a missing key.
    public subscript(key: String) -> TorchValue? {
        guard case .dictionary(let pairs) = self else { return nil }
        return pairs.first { if case .string(key) = $0.key { return true } else { return false } }?.value
    }

    /// The tensor of a `.tensor`, else `nil`.
    public var tensorValue: Tensor? {
        if case .tensor(let t) = self { return t }
        return nil
    }

    /// The integer of an `.int`, else `nil`.
    public var intValue: Int? {
        if case .int(let i) = self { return i }
        return nil
    }

    /// The number of a `.float` or `.int`, else `nil`.
    public var doubleValue: Double? {
        switch self {
        case .float(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }

    /// The string of a `.string`, else `nil`.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The items of a `.list` or `.tuple`, else `nil`.
    public var items: [TorchValue]? {
        switch self {
        case .list(let items), .tuple(let items): return items
        default: return nil
        }
    }

    /// Python's name of the value's type, for messages.
    public var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dictionary: return "dict"
        case .tensor: return "Tensor"
        }
    }
}
