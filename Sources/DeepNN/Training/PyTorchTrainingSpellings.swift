// PyTorch's spellings of optimiser and scheduler members, declared unavailable so that a user who
// types them gets the compiler's fix-it to this library's name. Nothing here runs.
//
//   PyTorch                                  here
//   optimizer.zero_grad()                    optimizer.zeroGrad()
//   optimizer.param_groups                   optimizer.parameterGroups
//   optimizer.state_dict(), load_state_dict  optimizer.stateDict(), try loadStateDict(_:)
//   scheduler.get_last_lr(), last_epoch      scheduler.currentLearningRates, lastEpoch
//   torch.nn.utils.clip_grad_norm_(p, max)   clipGradNorm(_:maxNorm:)

extension Optimizer {
    /// PyTorch's `optimizer.zero_grad()`.
    @available(*, unavailable, renamed: "zeroGrad()")
    public func zero_grad() { fatalError() }

    /// PyTorch's `optimizer.param_groups`.
    @available(*, unavailable, renamed: "parameterGroups")
    public var param_groups: [ParameterGroup] { get { fatalError() } set { fatalError() } }

    /// PyTorch's `optimizer.state_dict()`.
    @available(*, unavailable, renamed: "stateDict()")
    public func state_dict() -> [String: Tensor] { fatalError() }

    /// PyTorch's `optimizer.load_state_dict(state_dict)`.
    @available(*, unavailable, renamed: "loadStateDict(_:)")
    public func load_state_dict(_ stateDict: [String: Tensor]) { fatalError() }
}

extension LRScheduler {
    /// PyTorch's `scheduler.get_last_lr()`.
    @available(*, unavailable, message: "use the property currentLearningRates (one rate per group)")
    public func get_last_lr() -> [Float] { fatalError() }

    /// PyTorch's `scheduler.last_epoch`.
    @available(*, unavailable, renamed: "lastEpoch")
    public var last_epoch: Int { fatalError() }
}

/// PyTorch's `torch.nn.utils.clip_grad_norm_(parameters, max_norm)`.
@available(*, unavailable, renamed: "clipGradNorm(_:maxNorm:)")
public func clip_grad_norm_(_ parameters: [Tensor], _ maxNorm: Float) -> Float { fatalError() }
