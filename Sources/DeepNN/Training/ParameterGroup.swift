import DeepCore

/// Parameters that share hyper-parameters (PyTorch's param groups): a learning rate, and those of
/// the optimiser's other hyper-parameters that it uses (nil for the others, as PyTorch's group
/// has no such key). Every value may be read and set between steps
/// (`optimizer.parameterGroups[0].betas = (0.9, 0.99)`); the update rules read them at each step.
public struct ParameterGroup {
    /// The tensors updated by this group.
    public var parameters: [Tensor]
    /// The group's learning rate (`lr`; schedulers change it).
    public var learningRate: Float
    /// Weight decay (`weight_decay`): L2 added to the gradient, or AdamW's decoupled decay.
    public var weightDecay: Float?
    /// Momentum (SGD, RMSprop); ``OneCycleLR`` cycles it.
    public var momentum: Float?
    /// Dampening of SGD's momentum.
    public var dampening: Float?
    /// Whether SGD uses Nesterov momentum.
    public var nesterov: Bool?
    /// Adam's and AdamW's (β1, β2); ``OneCycleLR`` cycles β1.
    public var betas: (Float, Float)?
    /// The term added to denominators (Adam, AdamW, RMSprop).
    public var eps: Float?
    /// RMSprop's smoothing constant.
    public var alpha: Float?
    /// Whether Adam keeps the maximum of the second moments (AMSGrad).
    public var amsgrad: Bool?
    /// Whether RMSprop normalises by the centred second moment.
    public var centered: Bool?
    /// The rate when the first schedule was attached (PyTorch's `initial_lr`): every schedule
    /// attached later starts from it. ``OneCycleLR`` sets it to maxLR / divFactor.
    public var initialLearningRate: Float?

    /// Creates a group; hyper-parameters left nil take the optimiser's defaults.
    public init(_ parameters: [Tensor], learningRate: Float, weightDecay: Float? = nil, momentum: Float? = nil,
                dampening: Float? = nil, nesterov: Bool? = nil, betas: (Float, Float)? = nil, eps: Float? = nil,
                alpha: Float? = nil, amsgrad: Bool? = nil, centered: Bool? = nil) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.betas = betas
        self.eps = eps
        self.alpha = alpha
        self.amsgrad = amsgrad
        self.centered = centered
    }

    /// This group with each hyper-parameter it leaves unset taken from `defaults`.
    func filled(from defaults: ParameterGroup) -> ParameterGroup {
        var g = self
        g.weightDecay = weightDecay ?? defaults.weightDecay
        g.momentum = momentum ?? defaults.momentum
        g.dampening = dampening ?? defaults.dampening
        g.nesterov = nesterov ?? defaults.nesterov
        g.betas = betas ?? defaults.betas
        g.eps = eps ?? defaults.eps
        g.alpha = alpha ?? defaults.alpha
        g.amsgrad = amsgrad ?? defaults.amsgrad
        g.centered = centered ?? defaults.centered
        return g
    }

    /// The hyper-parameter at `key`, which the update rule of `optimizer` needs; stops naming it
    /// when the group has none (set to nil during training).
    func setting<T>(_ key: KeyPath<ParameterGroup, T?>, _ name: String, of optimizer: Optimizer) -> T {
        guard let value = self[keyPath: key] else { ShapeErrors.stop("\(type(of: optimizer)).step: the parameter group has no \(name)") }
        return value
    }
}

/// A hyper-parameter of a group as an optimiser's state dict holds it, under
/// `group.<g>.<raw value>` (PyTorch's key), with the range a checkpoint's value must be in.
enum GroupHyperparameter: String, CaseIterable {
    case learningRate = "lr", weightDecay = "weight_decay", momentum, dampening, nesterov, betas, eps, alpha, amsgrad, centered

    /// The group's value as numbers (flags as 0 or 1), nil when the group has none.
    func values(of g: ParameterGroup) -> [Float]? {
        switch self {
        case .learningRate: return [g.learningRate]
        case .weightDecay: return g.weightDecay.map { [$0] }
        case .momentum: return g.momentum.map { [$0] }
        case .dampening: return g.dampening.map { [$0] }
        case .nesterov: return g.nesterov.map { [$0 ? 1 : 0] }
        case .betas: return g.betas.map { [$0.0, $0.1] }
        case .eps: return g.eps.map { [$0] }
        case .alpha: return g.alpha.map { [$0] }
        case .amsgrad: return g.amsgrad.map { [$0 ? 1 : 0] }
        case .centered: return g.centered.map { [$0 ? 1 : 0] }
        }
    }

    /// Sets the group's value from numbers that ``accepts(_:)``.
    func set(_ v: [Float], in g: inout ParameterGroup) {
        switch self {
        case .learningRate: g.learningRate = v[0]
        case .weightDecay: g.weightDecay = v[0]
        case .momentum: g.momentum = v[0]
        case .dampening: g.dampening = v[0]
        case .nesterov: g.nesterov = v[0] == 1
        case .betas: g.betas = (v[0], v[1])
        case .eps: g.eps = v[0]
        case .alpha: g.alpha = v[0]
        case .amsgrad: g.amsgrad = v[0] == 1
        case .centered: g.centered = v[0] == 1
        }
    }

    /// Number of values (two for the betas).
    var count: Int { self == .betas ? 2 : 1 }

    /// What a value must be, for messages.
    var requirement: String {
        switch self {
        case .learningRate, .weightDecay, .momentum, .eps, .alpha: return "one finite non-negative number"
        case .dampening: return "one finite number"
        case .nesterov, .amsgrad, .centered: return "0 or 1"
        case .betas: return "two numbers in [0, 1)"
        }
    }

    /// Whether `v` is in range (PyTorch's constructors' checks, and finite).
    func accepts(_ v: [Float]) -> Bool {
        guard v.count == count else { return false }
        switch self {
        case .learningRate, .weightDecay, .momentum, .eps, .alpha: return v[0].isFinite && v[0] >= 0
        case .dampening: return v[0].isFinite
        case .nesterov, .amsgrad, .centered: return v[0] == 0 || v[0] == 1
        case .betas: return v.allSatisfy { $0 >= 0 && $0 < 1 }
        }
    }

    /// The value as the state dict stores it: a scalar, or a vector of the two betas.
    func tensor(_ v: [Float]) -> Tensor { count == 1 ? Tensor(scalar: v[0]) : Tensor(v, shape: [count]) }

    /// The group index and hyper-parameter of a state-dict key `group.<g>.<name>`, when it is one.
    static func parse(_ key: String) -> (group: Int, field: GroupHyperparameter)? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "group", let g = Int(parts[1]), g >= 0,
              let field = GroupHyperparameter(rawValue: String(parts[2])) else { return nil }
        return (g, field)
    }

    /// Nil when `value` (stored under `key`) is in range, else the message "`key` must be …, found …".
    func problem(with value: Tensor, key: String) -> String? {
        accepts(value.scalars) ? nil : "\(key) must be \(requirement), found \(describeStateValue(value, expecting: count))"
    }
}

/// A short description of a state value for messages: the number, the numbers when there are
/// `expecting` of them, or the shape.
func describeStateValue(_ value: Tensor, expecting count: Int = 1) -> String {
    if value.count == 1 { return "\(value.scalars[0])" }
    if value.count == count { return "(" + value.scalars.map { "\($0)" }.joined(separator: ", ") + ")" }
    return "a tensor of shape \(value.shape)"
}
