import DeepCore

/// Modules applied one after another, named "0", "1", … like PyTorch's `nn.Sequential`.
///
///     let model = Sequential(Conv2d(1, 32, kernelSize: 3, padding: 1), ReLU(), Flatten())
public final class Sequential: Module {
    /// The layers in order.
    public private(set) var layers: [Module]

    /// Creates the sequence from `layers`.
    public init(_ layers: [Module]) {
        self.layers = layers
        super.init()
    }

    /// Creates the sequence from `layers`.
    public convenience init(_ layers: Module...) { self.init(layers) }

    /// Applies each layer in turn: (input of the first) → (output of the last). A BatchNorm
    /// followed by a ``ReLU`` runs as one step while training (``BatchNorm/callAsFunction(_:then:)``).
    public override func forward(_ x: Tensor) -> Tensor {
        var y = x, i = 0
        while i < layers.count {
            if let norm = layers[i] as? BatchNorm, i + 1 < layers.count, let relu = layers[i + 1] as? ReLU {
                y = norm(y, then: relu)
                i += 2
            } else {
                y = layers[i](y)
                i += 1
            }
        }
        return y
    }

    /// The layer at `index`.
    public subscript(index: Int) -> Module { layers[index] }

    /// Number of layers.
    public var count: Int { layers.count }

    /// Appends a layer.
    public func append(_ layer: Module) { layers.append(layer) }

    public override func namedChildren() -> [(String, Module)] {
        layers.enumerated().map { (String($0.offset), $0.element) }
    }

    public override func replaceChild(named name: String, with module: Module) -> Bool {
        guard let i = Int(name), layers.indices.contains(i) else { return false }
        layers[i] = module
        return true
    }
}

/// A list of modules named "0", "1", … that is not itself callable (`nn.ModuleList`).
public final class ModuleList: Module {
    /// The modules in order.
    public private(set) var modules: [Module]

    /// Creates the list.
    public init(_ modules: [Module] = []) {
        self.modules = modules
        super.init()
    }

    /// The module at `index`.
    public subscript(index: Int) -> Module { modules[index] }
    /// Number of modules.
    public var count: Int { modules.count }
    /// Appends a module.
    public func append(_ module: Module) { modules.append(module) }

    public override func namedChildren() -> [(String, Module)] {
        modules.enumerated().map { (String($0.offset), $0.element) }
    }

    public override func replaceChild(named name: String, with module: Module) -> Bool {
        guard let i = Int(name), modules.indices.contains(i) else { return false }
        modules[i] = module
        return true
    }
}

/// Modules by name, in insertion order (`nn.ModuleDict`).
public final class ModuleDict: Module {
    private var entries: [(String, Module)]

    /// Creates the dictionary from ordered pairs.
    public init(_ entries: [(String, Module)] = []) {
        self.entries = entries
        super.init()
    }

    /// The module named `name`; setting it adds or replaces it.
    public subscript(name: String) -> Module? {
        get { entries.first { $0.0 == name }?.1 }
        set {
            if let i = entries.firstIndex(where: { $0.0 == name }) {
                if let newValue { entries[i].1 = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((name, newValue))
            }
        }
    }

    /// The names in order.
    public var keys: [String] { entries.map(\.0) }

    public override func namedChildren() -> [(String, Module)] { entries }

    public override func replaceChild(named name: String, with module: Module) -> Bool {
        guard let i = entries.firstIndex(where: { $0.0 == name }) else { return false }
        entries[i].1 = module
        return true
    }
}
