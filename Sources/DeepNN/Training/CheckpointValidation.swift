import DeepCore

extension Checkpoint {
    /// Checks that the checkpoint fits `model`, `optimizer` and the presence of a schedule,
    /// changing nothing: the model's keys and shapes, the optimiser's kind, its state keys and
    /// buffer shapes, a learning rate per group that is one finite non-negative number, and steps
    /// that are whole numbers in range.
    /// - Throws: ``StateDictError`` (with the checkpoint as its source) when the model's keys or
    ///   shapes differ, ``CheckpointError`` naming the field and value otherwise.
    public func validate(model: Module, optimizer: Optimizer, hasScheduler: Bool) throws {
        try validateModel(model)
        try validateOptimizer(optimizer)
        switch (schedulerEpoch, hasScheduler) {
        case (nil, true): throw error("the run has a learning-rate schedule, the checkpoint holds none")
        case (.some, false): throw error("the checkpoint holds a learning-rate schedule, the run has none")
        default: break
        }
        guard staleEpochs <= epoch else { throw error("stale_epochs \(staleEpochs) exceeds the \(epoch) epochs done") }
    }

    /// Every key of `model`'s state dict, with its shape, and no other.
    private func validateModel(_ module: Module) throws {
        let own = module.stateDict()
        var problems = StateDictError()
        problems.source = path
        problems.missingKeys = module.stateDictKeys.filter { model[$0] == nil }
        problems.unexpectedKeys = model.keys.filter { own[$0] == nil }.sorted()
        for key in module.stateDictKeys {
            if let expected = own[key]?.shape, let found = model[key]?.shape, found != expected {
                problems.shapeMismatches.append((key, expected, found))
            }
        }
        guard problems.isEmpty else { throw problems }
    }

    /// `step`, `group.<g>.lr` for every group and `state.<i>.<buffer>` of the optimiser's kind.
    private func validateOptimizer(_ target: Optimizer) throws {
        let kind = String(describing: type(of: target))
        if let optimizerKind, optimizerKind != kind {
            throw error("written by the \(optimizerKind) optimiser, this run uses \(kind)")
        }
        let shapes = target.parameterGroups.flatMap { $0.parameters.map(\.shape) }
        guard optimizer["step"] != nil else { throw error("missing optimizer.step") }
        for g in target.parameterGroups.indices where optimizer["group.\(g).lr"] == nil {
            throw error("missing optimizer.group.\(g).lr")
        }
        for (key, value) in optimizer.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            switch (parts.first, parts.count) {
            case ("step", 1):
                try checkStep(value, key: key)
            case ("group", 3) where parts[2] == "lr" && Int(parts[1]).map({ target.parameterGroups.indices.contains($0) }) == true:
                guard value.count == 1, let lr = value.scalars.first, lr.isFinite, lr >= 0 else {
                    throw error("optimizer.\(key) must be one finite non-negative number, found \(describe(value))")
                }
            case ("state", 3) where Int(parts[1]).map({ shapes.indices.contains($0) }) == true:
                try checkBuffer(parts[2], value, key: key, parameterShape: shapes[Int(parts[1])!], optimizer: target)
            default:
                throw error("unexpected optimizer state optimizer.\(key) for \(kind) over \(shapes.count) parameters in \(target.parameterGroups.count) groups")
            }
        }
    }

    /// A per-parameter buffer: a name the optimiser keeps, the parameter's shape (a whole step
    /// count for `step`).
    private func checkBuffer(_ name: String, _ value: Tensor, key: String, parameterShape: [Int], optimizer: Optimizer) throws {
        if let names = optimizer.stateBufferNames, !names.contains(name) {
            throw error("optimizer.\(key): \(type(of: optimizer)) keeps no \(name) (it keeps \(names.sorted().joined(separator: ", ")))")
        }
        if name == "step" { return try checkStep(value, key: key) }
        guard value.shape == parameterShape else {
            throw error("optimizer.\(key) has shape \(value.shape), its parameter has \(parameterShape)")
        }
    }

    /// A step count: one whole number in 0…``largestCount``.
    private func checkStep(_ value: Tensor, key: String) throws {
        guard value.count == 1, let step = value.scalars.first, step.isFinite, step >= 0, step.rounded() == step,
              step <= Float(Self.largestCount) else {
            throw error("optimizer.\(key) must be one whole number from 0 to \(Self.largestCount), found \(describe(value))")
        }
    }

    /// A short description of a tensor's value for messages: the number, or the shape.
    private func describe(_ value: Tensor) -> String {
        value.count == 1 ? "\(value.scalars[0])" : "a tensor of shape \(value.shape)"
    }
}
