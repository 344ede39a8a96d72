import DeepCore

extension Checkpoint {
    /// Checks that the checkpoint fits `model`, `optimizer` and the presence of a schedule,
    /// changing nothing: the model's keys and shapes, the optimiser's kind, its state keys and
    /// buffer shapes, a learning rate per group and each other hyper-parameter the group has in
    /// range (``Optimizer/stateDict()``), and steps that are whole numbers in range.
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
        if schedulerEpoch == nil, let key = schedulerState.keys.sorted().first {
            throw error("scheduler.\(key) without a schedule position (scheduler_epoch)")
        }
        guard staleEpochs <= epoch else { throw error("stale_epochs \(staleEpochs) exceeds the \(epoch) epochs done") }
    }

    /// ``validate(model:optimizer:hasScheduler:)``, and the schedule's position and state against
    /// `scheduler` (``LRScheduler/validateState(_:lastEpoch:)``: a one-cycle position past its
    /// end, ``ReduceLROnPlateau``'s counters past its patience or cooldown).
    public func validate(model: Module, optimizer: Optimizer, scheduler: LRScheduler?) throws {
        try validate(model: model, optimizer: optimizer, hasScheduler: scheduler != nil)
        guard let scheduler, let position = schedulerEpoch else { return }
        do {
            try scheduler.validateState(schedulerState, lastEpoch: position)
        } catch let e as SchedulerStateError {
            throw error("\(e.key.map { "scheduler." + $0 } ?? "scheduler_epoch") \(e.reason)")
        }
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

    /// `step`, `group.<g>.lr` for every group (and the group's other hyper-parameters, each
    /// optional) and `state.<i>.<buffer>` of the optimiser's kind.
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
            if key == "step" {
                if let problem = Optimizer.stepProblem(value, key: key) { throw error("optimizer.\(problem)") }
            } else if let (g, field) = GroupHyperparameter.parse(key), target.parameterGroups.indices.contains(g),
                      field.values(of: target.parameterGroups[g]) != nil {
                if let problem = field.problem(with: value, key: key) { throw error("optimizer.\(problem)") }
            } else if parts.count == 3, parts[0] == "state", let i = Int(parts[1]), shapes.indices.contains(i) {
                try checkBuffer(parts[2], value, key: key, parameterShape: shapes[i], optimizer: target)
            } else {
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
        if name == "step" {
            if let problem = Optimizer.stepProblem(value, key: key) { throw error("optimizer.\(problem)") }
            return
        }
        guard value.shape == parameterShape else {
            throw error("optimizer.\(key) has shape \(value.shape), its parameter has \(parameterShape)")
        }
    }
}

extension Checkpoint {
    /// Checks the checkpoint in full (``validate(model:optimizer:scheduler:)``), then loads the
    /// weights, the optimiser's state, the schedule's position and state, and the random
    /// generator: on any error nothing changes. The trainers restore their own counters after it.
    public func restore(model: Module, optimizer: Optimizer, scheduler: LRScheduler?) throws {
        try validate(model: model, optimizer: optimizer, scheduler: scheduler)
        try model.loadStateDict(self.model)
        try optimizer.loadStateDict(self.optimizer)
        if let s = schedulerEpoch { scheduler?.restore(lastEpoch: s) }
        try scheduler?.loadStateDict(schedulerState)
        DefaultRandom.generator.state = generatorState
    }
}
