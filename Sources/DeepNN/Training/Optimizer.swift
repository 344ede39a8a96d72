import DeepCore

/// The base of the optimisers: parameter groups with every hyper-parameter readable and
/// settable between steps, per-parameter state tensors, `zeroGrad`, and state saving.
/// Subclasses implement ``update(_:gradient:state:group:)``, reading the group's values at each step.
open class Optimizer {
    /// The names of the per-parameter buffers this optimiser keeps in its state (checked when a
    /// checkpoint is loaded); nil when any name may appear (then buffers are checked for shape only).
    open var stateBufferNames: Set<String>? { nil }

    /// The groups, each with its own hyper-parameters (PyTorch's `param_groups`).
    public var parameterGroups: [ParameterGroup]
    /// The hyper-parameters of a group that sets none (PyTorch's `defaults`; no parameters, and
    /// the learning rate given to the optimiser, or the first group's).
    public let defaults: ParameterGroup
    /// Default weight decay of groups that do not set one.
    public var weightDecay: Float { defaults.weightDecay ?? 0 }
    /// Number of `step()` calls so far.
    public private(set) var stepCount = 0
    /// Per-parameter state (moment buffers), by parameter position across groups.
    private var states: [[String: Tensor]]

    /// Creates the optimiser over `groups`, each hyper-parameter a group leaves nil taken from
    /// `defaults` (whose parameters are ignored).
    public init(groups: [ParameterGroup], defaults: ParameterGroup) {
        parameterGroups = groups.map { $0.filled(from: defaults) }
        var defaults = defaults
        defaults.parameters = []
        self.defaults = defaults
        states = Array(repeating: [:], count: groups.reduce(0) { $0 + $1.parameters.count })
    }

    /// Creates the optimiser over `groups` with only a default weight decay.
    public convenience init(groups: [ParameterGroup], weightDecay: Float) {
        self.init(groups: groups, defaults: ParameterGroup([], learningRate: groups.first?.learningRate ?? 0, weightDecay: weightDecay))
    }

    /// The learning rate of every group (reading gives the first group's).
    public var learningRate: Float {
        get { parameterGroups.first?.learningRate ?? 0 }
        set { for i in parameterGroups.indices { parameterGroups[i].learningRate = newValue } }
    }

    /// Clears every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for group in parameterGroups { for p in group.parameters { p.grad = nil } }
    }

    /// Updates every parameter that has a gradient, in place.
    public func step() {
        stepCount += 1
        withoutGrad {
            var index = 0
            for group in parameterGroups {
                for p in group.parameters {
                    defer { index += 1 }
                    guard let g = p.grad else { continue }
                    require(g.shape == p.shape, "\(type(of: self)).step: gradient of shape \(g.shape) for a parameter of shape \(p.shape)")
                    update(p, gradient: g.contiguous(), state: &states[index], group: group)
                }
            }
        }
    }

    /// Updates one parameter in place with the hyper-parameters of its `group`. `state` starts
    /// empty and keeps the parameter's buffers.
    open func update(_ parameter: Tensor, gradient: Tensor, state: inout [String: Tensor], group: ParameterGroup) {
        fatalError("\(type(of: self)) does not implement update")
    }

    /// A state buffer named `name`, created as zeros like `parameter` on first use.
    public func buffer(_ name: String, in state: inout [String: Tensor], like parameter: Tensor) -> Tensor {
        if let b = state[name] { return b }
        let b = Tensor(zeros: parameter.shape)
        state[name] = b
        return b
    }

    /// The optimiser's state as tensors (for checkpoints): `state.<i>.<name>` per parameter
    /// buffer, `group.<g>.<name>` per hyper-parameter of each group (`lr`, `weight_decay`,
    /// `momentum`, `dampening`, `nesterov`, `betas`, `eps`, `alpha`, `amsgrad`, `centered`: those
    /// the group has; flags as 0 or 1, the betas as a vector of two) and `step`.
    public func stateDict() -> [String: Tensor] {
        var dict: [String: Tensor] = ["step": Tensor(scalar: Float(stepCount))]
        for (i, state) in states.enumerated() {
            for (name, t) in state { dict["state.\(i).\(name)"] = t.copied() }
        }
        for (g, group) in parameterGroups.enumerated() {
            for field in GroupHyperparameter.allCases {
                if let v = field.values(of: group) { dict["group.\(g).\(field.rawValue)"] = field.tensor(v) }
            }
        }
        return dict
    }

    /// Restores a state written by ``stateDict()`` for the same parameters. Every group needs its
    /// `lr`; a group hyper-parameter the dict lacks (a checkpoint written before it was saved)
    /// keeps its current value. Nothing changes when an error is thrown.
    /// - Throws: ``OptimizerStateError`` naming the key and value of a buffer, step or
    ///   hyper-parameter that is missing or out of range.
    public func loadStateDict(_ dict: [String: Tensor]) throws {
        var newStates = Array(repeating: [String: Tensor](), count: states.count)
        let shapes = parameterGroups.flatMap { $0.parameters.map(\.shape) }
        for (key, value) in dict where key.hasPrefix("state.") {
            let parts = key.split(separator: ".", maxSplits: 2).map(String.init)
            guard parts.count == 3, let i = Int(parts[1]), newStates.indices.contains(i) else {
                throw OptimizerStateError(message: "unexpected optimizer state key \(key)")
            }
            guard value.shape == shapes[i] || value.count == 1 else {
                throw OptimizerStateError(message: "optimizer state \(key) has shape \(value.shape), parameter \(i) has \(shapes[i])")
            }
            newStates[i][parts[2]] = value.copied()
        }
        var groups = parameterGroups
        for g in groups.indices {
            for field in GroupHyperparameter.allCases where field.values(of: groups[g]) != nil {
                let key = "group.\(g).\(field.rawValue)"
                guard let value = dict[key] else {
                    if field == .learningRate { throw OptimizerStateError(message: "missing \(key)") }
                    continue
                }
                if let problem = field.problem(with: value, key: key) { throw OptimizerStateError(message: problem) }
                field.set(value.scalars, in: &groups[g])
            }
        }
        guard let step = dict["step"] else { throw OptimizerStateError(message: "missing step") }
        if let problem = Self.stepProblem(step, key: "step") { throw OptimizerStateError(message: problem) }
        states = newStates
        parameterGroups = groups
        stepCount = Int(step.scalars[0])
    }

    /// Nil when `value` (stored under `key`) is a step count: one whole number from 0 to 2³¹ − 1;
    /// else the message "`key` must be …, found …".
    static func stepProblem(_ value: Tensor, key: String) -> String? {
        if value.count == 1, let step = value.scalars.first, step.isFinite, step >= 0, step.rounded() == step,
           step <= Float(Int32.max) { return nil }
        return "\(key) must be one whole number from 0 to \(Int32.max), found \(describeStateValue(value))"
    }
}

/// An optimiser state that does not fit the optimiser.
public struct OptimizerStateError: Error, CustomStringConvertible {
    /// What is wrong.
    public let message: String
    public var description: String { message }
}

/// Runs `body(count, pointers)` over the elements of a parameter and its same-shaped contiguous
/// companions, in consecutive pieces split among threads when the parameter is large (every
/// update rule is elementwise).
@inline(__always)
func forEachElement(_ tensors: [Tensor], _ body: (Int, [UnsafeMutablePointer<Float>]) -> Void) {
    for t in tensors { require(t.isContiguous, "optimizer: non-contiguous tensor of shape \(t.shape)") }
    withFirstElements(tensors[...], []) { pointers in
        let n = tensors[0].count
        DeepCore.Parallel.forEach(count: n, work: n * tensors.count) { range in
            body(range.count, pointers.map { $0 + range.lowerBound })
        }
    }
}

/// Calls `body` with `pointers` followed by the first element of each of `tensors` (contiguous).
private func withFirstElements(_ tensors: ArraySlice<Tensor>, _ pointers: [UnsafeMutablePointer<Float>],
                               _ body: ([UnsafeMutablePointer<Float>]) -> Void) {
    guard let first = tensors.first else { return body(pointers) }
    first.withUnsafeMutableBufferPointer { buffer in
        withFirstElements(tensors.dropFirst(), pointers + [buffer.baseAddress!], body)
    }
}
