import DeepCore

/// Parameters that share a learning rate and weight decay (PyTorch's param groups).
public struct ParameterGroup {
    /// The tensors updated by this group.
    public var parameters: [Tensor]
    /// The group's learning rate (schedulers change it).
    public var learningRate: Float
    /// The group's weight decay; nil uses the optimiser's.
    public var weightDecay: Float?

    /// Creates a group.
    public init(_ parameters: [Tensor], learningRate: Float, weightDecay: Float? = nil) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }
}

/// The base of the optimisers: parameter groups, per-parameter state tensors, `zeroGrad`, and
/// state saving. Subclasses implement ``update(_:gradient:state:learningRate:weightDecay:)``.
open class Optimizer {
    /// The names of the per-parameter buffers this optimiser keeps in its state (checked when a
    /// checkpoint is loaded); nil when any name may appear (then buffers are checked for shape only).
    open var stateBufferNames: Set<String>? { nil }

    /// The groups, each with its own learning rate.
    public var parameterGroups: [ParameterGroup]
    /// Default weight decay of groups that do not set one.
    public let weightDecay: Float
    /// Number of `step()` calls so far.
    public private(set) var stepCount = 0
    /// Per-parameter state (moment buffers), by parameter position across groups.
    private var states: [[String: Tensor]]

    /// Creates the optimiser over `groups`.
    public init(groups: [ParameterGroup], weightDecay: Float) {
        parameterGroups = groups
        self.weightDecay = weightDecay
        states = Array(repeating: [:], count: groups.reduce(0) { $0 + $1.parameters.count })
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
                    update(p, gradient: g.contiguous(), state: &states[index],
                           learningRate: group.learningRate, weightDecay: group.weightDecay ?? weightDecay)
                }
            }
        }
    }

    /// Updates one parameter in place. `state` starts empty and keeps the parameter's buffers.
    open func update(_ parameter: Tensor, gradient: Tensor, state: inout [String: Tensor],
                     learningRate: Float, weightDecay: Float) {
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
    /// buffer, `group.<g>.lr` per group and `step`.
    public func stateDict() -> [String: Tensor] {
        var dict: [String: Tensor] = ["step": Tensor(scalar: Float(stepCount))]
        for (i, state) in states.enumerated() {
            for (name, t) in state { dict["state.\(i).\(name)"] = t.copied() }
        }
        for (g, group) in parameterGroups.enumerated() {
            dict["group.\(g).lr"] = Tensor(scalar: group.learningRate)
        }
        return dict
    }

    /// Restores a state written by ``stateDict()`` for the same parameters.
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
        var lrs: [Float] = []
        for g in parameterGroups.indices {
            guard let lr = dict["group.\(g).lr"] else { throw OptimizerStateError(message: "missing group.\(g).lr") }
            guard lr.count == 1, let value = lr.scalars.first, value.isFinite, value >= 0 else {
                throw OptimizerStateError(message: "group.\(g).lr must be one finite non-negative number, found \(Self.describe(lr))")
            }
            lrs.append(value)
        }
        guard let step = dict["step"] else { throw OptimizerStateError(message: "missing step") }
        guard step.count == 1, let count = step.scalars.first, count.isFinite, count >= 0, count.rounded() == count,
              count <= Float(Int32.max) else {
            throw OptimizerStateError(message: "step must be one whole number from 0 to \(Int32.max), found \(Self.describe(step))")
        }
        states = newStates
        for (g, lr) in lrs.enumerated() { parameterGroups[g].learningRate = lr }
        stepCount = Int(count)
    }

    /// A short description of a state value for messages: the number, or the shape.
    private static func describe(_ value: Tensor) -> String {
        value.count == 1 ? "\(value.scalars[0])" : "a tensor of shape \(value.shape)"
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
