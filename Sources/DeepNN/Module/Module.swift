import DeepCore

/// The base class of every layer and model: a stateful shell around DeepCore functions, with
/// named parameters, buffers and children found by reflection, like PyTorch's `nn.Module`.
///
/// A subclass declares its parts as stored properties and gets everything else for free:
/// - a stored `Tensor` (or `Tensor?`) is a parameter named after the property in snake_case
///   (`inProjWeight` → `in_proj_weight`); `@Parameter(key:)` names it explicitly;
/// - `@Buffer` marks a tensor that is saved but not trained;
/// - a stored `Module`, `Module?` or `[Module]` is a child (`layers.0.weight` for arrays);
///   `@Child` makes it replaceable by ``replace(path:with:)``.
///
///     final class Block: Module {
///         let conv1 = Conv2d(64, 64, kernelSize: 3, padding: 1)
///         let bn1 = BatchNorm2d(64)
///         override func forward(_ x: Tensor) -> Tensor { relu(bn1(conv1(x))) }
///     }
open class Module {
    /// Whether the module is in training mode (dropout active, BatchNorm using batch statistics).
    public fileprivate(set) var isTraining = true

    /// Creates a module in training mode. The subclass's stored parameters (set before
    /// `super.init()`) are marked as requiring gradients, like `nn.Parameter`.
    public init() {
        for (_, p) in namedLocalParameters() { p.requiresGrad = true }
    }

    /// The computation of a one-input module; call the module instead (`model(x)`), which also
    /// tracks the module path for error messages and summaries.
    open func forward(_ x: Tensor) -> Tensor {
        fatalError("\(typeName) does not implement forward(_:); call it with its own signature")
    }

    /// Runs ``forward(_:)`` on `x`.
    public final func callAsFunction(_ x: Tensor) -> Tensor {
        ModuleScope.run(self, input: x) { forward(x) }
    }

    /// Runs `body` as a call of this module on several `inputs`, as the one-input call runs
    /// ``forward(_:)``: errors inside it name the module's path (`encoder.layers.0.self_attn
    /// (MultiheadAttention)`) and summaries list the call with the shape of every input. A module
    /// whose call takes or returns several tensors calls it from its `callAsFunction`:
    ///
    ///     public func callAsFunction(_ a: Tensor, _ b: Tensor) -> Tensor {
    ///         traced(inputs: [a, b]) { proj(Tensor.concatenate([a, b], axis: -1)) }
    ///     }
    ///
    /// - Parameters:
    ///   - inputs: the tensors the call works on (masks may be left out), e.g. (N, L, E) each.
    ///   - body: the computation, run once.
    /// - Returns: `body`'s output; after a shape failure recorded during a summary, the first
    ///   input without running `body`.
    public final func traced(inputs: [Tensor], _ body: () -> Tensor) -> Tensor {
        ModuleScope.run(self, inputs: inputs, outputs: { [$0] }, body) ?? inputs.first ?? .shapeFailure
    }

    /// Runs `body` as a call of this module that returns several tensors (a feature pyramid's
    /// levels); see the one-output `traced(inputs:_:)`.
    ///
    /// - Returns: `body`'s outputs; after a shape failure recorded during a summary, the inputs.
    public final func traced(inputs: [Tensor], _ body: () -> [Tensor]) -> [Tensor] {
        ModuleScope.run(self, inputs: inputs, outputs: { $0 }, body) ?? inputs
    }

    /// The module's type name, as shown in summaries and errors.
    open var typeName: String { String(describing: type(of: self)) }

    // MARK: Reflection

    /// The stored properties of this object, base class first.
    private func reflectedProperties() -> [(String, Any)] {
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let m = mirror { mirrors.append(m); mirror = m.superclassMirror }
        return mirrors.reversed().flatMap { m in
            m.children.compactMap { child in child.label.map { ($0, child.value) } }
        }
    }

    /// Name of a property in the state dict: the wrapper's key, else snake_case without the
    /// wrapper's leading underscore.
    private static func key(_ label: String, explicit: String?) -> String {
        if let explicit { return explicit }
        return snakeCase(label.hasPrefix("_") ? String(label.dropFirst()) : label)
    }

    /// Direct parameters by name (not those of children).
    open func namedLocalParameters() -> [(String, Tensor)] {
        reflectedProperties().compactMap { label, value in
            if let p = value as? Parameter { return (Self.key(label, explicit: p.key), p.wrappedValue) }
            if value is Buffer { return nil }
            if let t = value as? Tensor { return (Self.key(label, explicit: nil), t) }
            return nil
        }
    }

    /// Direct buffers by name (not those of children).
    open func namedLocalBuffers() -> [(String, Tensor)] {
        reflectedProperties().compactMap { label, value in
            guard let b = value as? Buffer else { return nil }
            return (Self.key(label, explicit: b.key), b.wrappedValue)
        }
    }

    /// Direct children by name. Containers (``Sequential``, ``ModuleList``) override this.
    open func namedChildren() -> [(String, Module)] {
        reflectedProperties().flatMap { label, value -> [(String, Module)] in
            if let c = value as? ChildSlot { return [(Self.key(label, explicit: c.slotKey), c.slotModule)] }
            if let m = value as? Module { return [(Self.key(label, explicit: nil), m)] }
            if let ms = value as? [Module] {
                let base = Self.key(label, explicit: nil)
                return ms.enumerated().map { ("\(base).\($0.offset)", $0.element) }
            }
            return []
        }
    }

    /// Replaces the direct child named `name`; false when this module cannot (the child is not
    /// declared `@Child` nor held by a container). Containers override it.
    open func replaceChild(named name: String, with module: Module) -> Bool {
        for (label, value) in reflectedProperties() {
            if let c = value as? ChildSlot, Self.key(label, explicit: c.slotKey) == name {
                c.slotModule = module
                return true
            }
        }
        return false
    }

    // MARK: Traversal

    /// This module and every descendant with its dotted path ("" for this one), each once.
    public func namedModules() -> [(String, Module)] {
        var seen = Set<ObjectIdentifier>()
        var result: [(String, Module)] = []
        func visit(_ prefix: String, _ module: Module) {
            guard seen.insert(ObjectIdentifier(module)).inserted else { return }
            result.append((prefix, module))
            for (name, child) in module.namedChildren() {
                visit(prefix.isEmpty ? name : prefix + "." + name, child)
            }
        }
        visit("", self)
        return result
    }

    /// Every parameter with its dotted name, as PyTorch names them (`layer1.0.conv1.weight`);
    /// a tensor shared by two modules appears once.
    public func namedParameters() -> [(String, Tensor)] {
        collect { $0.namedLocalParameters() }
    }

    /// Every buffer with its dotted name.
    public func namedBuffers() -> [(String, Tensor)] {
        collect { $0.namedLocalBuffers() }
    }

    /// Tensors chosen by `members` from every module, with dotted names, each tensor once, in
    /// module order.
    func collect(_ members: (Module) -> [(String, Tensor)]) -> [(String, Tensor)] {
        var seen = Set<ObjectIdentifier>()
        var result: [(String, Tensor)] = []
        for (path, module) in namedModules() {
            for (name, tensor) in members(module) where seen.insert(ObjectIdentifier(tensor)).inserted {
                result.append((path.isEmpty ? name : path + "." + name, tensor))
            }
        }
        return result
    }

    /// Every parameter (for optimisers).
    public var parameters: [Tensor] { namedParameters().map(\.1) }

    /// The parameters that require gradients.
    public var trainableParameters: [Tensor] { parameters.filter(\.requiresGrad) }

    /// Total number of parameter elements.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Calls `body` on this module and every descendant (PyTorch's `apply`).
    public func apply(_ body: (Module) -> Void) {
        for (_, module) in namedModules() { body(module) }
    }

    /// The descendant at a dotted `path` (`"layer3.1"`), or nil.
    public func module(at path: String) -> Module? {
        namedModules().first { $0.0 == path }?.1
    }

    /// Swaps the descendant at dotted `path` for `module`, keeping every other part (and its
    /// weights) as it is.
    public func replace(path: String, with module: Module) throws {
        for (prefix, parent) in namedModules() {
            for (name, _) in parent.namedChildren() where (prefix.isEmpty ? name : prefix + "." + name) == path {
                guard parent.replaceChild(named: name, with: module) else {
                    throw ModuleError.invalidPath(path, reason: "child \(name) of \(parent.typeName) is not replaceable: declare it @Child or hold it in a Sequential, ModuleList or ModuleDict")
                }
                return
            }
        }
        throw ModuleError.invalidPath(path, reason: "no module at this path in \(typeName)")
    }

    // MARK: Modes

    /// Sets training mode on this module and every descendant.
    public func train(_ on: Bool = true) {
        apply { $0.isTraining = on }
    }

    /// Sets evaluation mode on this module and every descendant.
    public func eval() { train(false) }

    /// Runs `body` in evaluation mode with gradients off (validation, testing, prediction), then
    /// sets back the mode this module had, on it and every descendant as ``train(_:)`` does.
    ///
    ///     let logits = model.evaluating { model(x) }
    public func evaluating<Result>(_ body: () throws -> Result) rethrows -> Result {
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        return try withoutGrad { try body() }
    }

    /// Stops gradients to every parameter (they stay in the state dict).
    public func freeze() { for p in parameters { p.requiresGrad = false } }

    /// Lets gradients reach every parameter again.
    public func unfreeze() { for p in parameters { p.requiresGrad = true } }
}

/// Type-erased view of a ``Child`` wrapper, for reflection.
protocol ChildSlot: AnyObject {
    var slotModule: Module { get set }
    var slotKey: String? { get }
}

extension Child: ChildSlot {
    var slotModule: Module {
        get { module }
        set { module = newValue }
    }
    var slotKey: String? { key }
}

/// Errors in module structure and weights.
public enum ModuleError: Error, CustomStringConvertible {
    /// A dotted path that does not lead to a replaceable module.
    case invalidPath(String, reason: String)

    public var description: String {
        switch self {
        case .invalidPath(let path, let reason): return "module path \"\(path)\": \(reason)"
        }
    }
}
