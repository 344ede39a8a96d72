// PyTorch's spellings of `nn.Module` methods, declared unavailable so that a user who types them
// gets the compiler's fix-it to this library's name. Nothing here runs. Only snake_case names
// are declared: a subclass may declare any camel-case member without clashing with these.
//
//   PyTorch                               here
//   model.parameters()                    model.parameters (a property; Swift offers to drop the "()")
//   model.named_parameters() / _buffers() model.namedParameters() / namedBuffers()
//   model.named_modules() / _children()   model.namedModules() / namedChildren()
//   model.state_dict()                    model.stateDict()
//   model.load_state_dict(d, strict)      try model.loadStateDict(d, strict:)
//   model.train(), model.eval()           the same; model.training is model.isTraining
//   model.zero_grad()                     optimizer.zeroGrad()
//   model.requires_grad_(False)           model.freeze() (and unfreeze())
//   self.register_buffer / _parameter     a stored property: @Buffer var / a stored Tensor
//   nn.TransformerEncoderLayer(…, nhead)  numHeads: (RenamedLabels.swift)

extension Module {
    /// PyTorch's `module.named_parameters()`.
    @available(*, unavailable, renamed: "namedParameters()")
    public func named_parameters() -> [(String, Tensor)] { fatalError() }

    /// PyTorch's `module.named_buffers()`.
    @available(*, unavailable, renamed: "namedBuffers()")
    public func named_buffers() -> [(String, Tensor)] { fatalError() }

    /// PyTorch's `module.named_modules()`.
    @available(*, unavailable, renamed: "namedModules()")
    public func named_modules() -> [(String, Module)] { fatalError() }

    /// PyTorch's `module.named_children()`.
    @available(*, unavailable, renamed: "namedChildren()")
    public func named_children() -> [(String, Module)] { fatalError() }

    /// PyTorch's `module.state_dict()`.
    @available(*, unavailable, renamed: "stateDict()")
    public func state_dict() -> [String: Tensor] { fatalError() }

    /// PyTorch's `module.load_state_dict(state_dict, strict)`.
    @available(*, unavailable, renamed: "loadStateDict(_:strict:)")
    public func load_state_dict(_ stateDict: [String: Tensor], strict: Bool = true) { fatalError() }

    /// PyTorch's `module.zero_grad()`.
    @available(*, unavailable, message: "clear gradients with the optimizer: optimizer.zeroGrad()")
    public func zero_grad() { fatalError() }

    /// PyTorch's `module.requires_grad_(requires_grad)`.
    @available(*, unavailable, message: "use freeze() to stop gradients to every parameter, unfreeze() to restore them")
    public func requires_grad_(_ requiresGrad: Bool = true) { fatalError() }

    /// PyTorch's `module.register_buffer(name, tensor)`.
    @available(*, unavailable, message: "declare a stored property `@Buffer var name: Tensor`; it is found by reflection")
    public func register_buffer(_ name: String, _ tensor: Tensor?) { fatalError() }

    /// PyTorch's `module.register_parameter(name, parameter)`.
    @available(*, unavailable, message: "declare a stored Tensor property; it is a parameter found by reflection")
    public func register_parameter(_ name: String, _ parameter: Tensor?) { fatalError() }
}
