import DeepCore

/// Marks a stored tensor as a buffer: saved in the state dict, moved with the model, but not
/// trained (BatchNorm's running statistics).
///
///     @Buffer public var runningMean: Tensor   // state-dict key "running_mean"
@propertyWrapper
public final class Buffer {
    /// The tensor.
    public var wrappedValue: Tensor
    /// The state-dict key, when it is not the snake_case form of the property name.
    public let key: String?

    /// Wraps `wrappedValue`, optionally under an explicit state-dict `key`.
    public init(wrappedValue: Tensor, key: String? = nil) {
        self.wrappedValue = wrappedValue
        self.key = key
    }
}

/// Marks a stored tensor as a parameter with an explicit state-dict key. A plain stored `Tensor`
/// property is already a parameter named after the property in snake_case; this wrapper is for
/// names snake_case cannot produce.
///
///     @Parameter(key: "A_log") public var aLog: Tensor
@propertyWrapper
public final class Parameter {
    /// The tensor.
    public var wrappedValue: Tensor
    /// The state-dict key.
    public let key: String?

    /// Wraps `wrappedValue` under `key`.
    public init(wrappedValue: Tensor, key: String? = nil) {
        self.wrappedValue = wrappedValue
        self.key = key
    }
}

/// A child module that ``Module/replace(path:with:)`` may swap, optionally under an explicit key.
///
///     @Child public var layer3: Module
@propertyWrapper
public final class Child<Value> {
    var module: Module
    /// The state-dict key, when it is not the snake_case form of the property name.
    public let key: String?

    /// The child, as the type it was declared with.
    public var wrappedValue: Value {
        get {
            guard let value = module as? Value else {
                fatalError("Child: module \(type(of: module)) replaced a child declared as \(Value.self)")
            }
            return value
        }
        set {
            guard let m = newValue as? Module else { fatalError("Child: \(Value.self) is not a Module") }
            module = m
        }
    }

    /// Wraps a child module.
    public init(wrappedValue: Value, key: String? = nil) {
        guard let m = wrappedValue as? Module else { fatalError("Child: \(Value.self) is not a Module") }
        self.module = m
        self.key = key
    }
}

/// Converts a Swift property name to PyTorch's snake_case: `runningMean` → `running_mean`,
/// `inProjWeight` → `in_proj_weight`, `layer1` → `layer1`.
func snakeCase(_ name: String) -> String {
    var result = ""
    var previous: Character? = nil
    for c in name {
        if c.isUppercase {
            if let p = previous, p.isLowercase || p.isNumber { result.append("_") }
            result.append(Character(c.lowercased()))
        } else {
            result.append(c)
        }
        previous = c
    }
    return result
}
