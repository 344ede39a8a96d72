import DeepCore

/// Schedules one after another (`SequentialLR`): `schedulers[i]` runs from `milestones[i − 1]`
/// (from 0 for the first), restarted at step 0 in closed form at its milestone.
///
///     let warmup = LinearLR(optimizer, startFactor: 0.01, totalIters: 3)
///     let decay = CosineAnnealingLR(optimizer, tMax: 9)
///     let schedule = SequentialLR(optimizer, schedulers: [warmup, decay], milestones: [3])
///
/// At construction, as PyTorch: the rates go back to the groups' initial rates, the steps 0 the
/// schedules took when they were made are undone, and the first schedule takes its step 0 again.
public final class SequentialLR: LRScheduler {
    /// The schedules, in order.
    public let schedulers: [LRScheduler]
    /// The steps at which each schedule after the first starts.
    public let milestones: [Int]

    /// Creates the sequence; the schedules must be over `optimizer`, and be neither
    /// ``ReduceLROnPlateau`` nor a sequence or chain.
    public init(_ optimizer: Optimizer, schedulers: [LRScheduler], milestones: [Int]) {
        require(!schedulers.isEmpty, "SequentialLR: no schedulers")
        for (i, s) in schedulers.enumerated() {
            require(s.optimizer === optimizer, "SequentialLR: scheduler \(i) (\(type(of: s))) is over another optimizer")
            require(!(s is ReduceLROnPlateau || s is SequentialLR || s is ChainedScheduler),
                    "SequentialLR: scheduler \(i) is a \(type(of: s)), which cannot run in a sequence")
        }
        require(milestones.count == schedulers.count - 1,
                "SequentialLR: \(milestones.count) milestones for \(schedulers.count) schedulers (one fewer expected)")
        require(zip(milestones, milestones.dropFirst()).allSatisfy { $0 <= $1 }, "SequentialLR: milestones \(milestones) are not sorted")
        self.schedulers = schedulers
        self.milestones = milestones
        super.init(attachingTo: optimizer, lastEpoch: 0)
        apply(baseLearningRates)
        for s in schedulers { s.lastEpoch -= 1 }
        schedulers[active(at: 0)].initialStep()
    }

    /// The index of the schedule that runs at step `epoch` (PyTorch's `bisect_right`).
    func active(at epoch: Int) -> Int { milestones.filter { $0 <= epoch }.count }

    public override func step() {
        lastEpoch += 1
        let i = active(at: lastEpoch)
        if i > 0 && milestones[i - 1] == lastEpoch { schedulers[i].restart() } else { schedulers[i].step() }
    }

    /// Restores the position of the sequence and of the schedule running at it.
    public override func restore(lastEpoch: Int) {
        self.lastEpoch = lastEpoch
        let i = active(at: lastEpoch)
        schedulers[i].restore(lastEpoch: lastEpoch - (i > 0 ? milestones[i - 1] : 0))
    }

    /// Checks the position against the schedule running at it.
    public override func validateState(_ state: [String: Double], lastEpoch: Int) throws {
        try super.validateState(state, lastEpoch: lastEpoch)
        let i = active(at: lastEpoch)
        try schedulers[i].validateState([:], lastEpoch: lastEpoch - (i > 0 ? milestones[i - 1] : 0))
    }
}

/// Schedules stepped together (`ChainedScheduler`): each step steps every schedule in order,
/// each changing the rates the one before set (their chainable forms compose: a ``ConstantLR``
/// warm-up factor times an ``ExponentialLR`` decay).
public final class ChainedScheduler: LRScheduler {
    /// The schedules, stepped in order.
    public let schedulers: [LRScheduler]

    /// Chains schedules over one optimiser (none a ``ReduceLROnPlateau``), already made (each
    /// took its step 0 then).
    public init(_ schedulers: [LRScheduler]) {
        require(!schedulers.isEmpty, "ChainedScheduler: no schedulers")
        for (i, s) in schedulers.enumerated() {
            require(s.optimizer === schedulers[0].optimizer, "ChainedScheduler: scheduler \(i) (\(type(of: s))) is over another optimizer")
            require(!(s is ReduceLROnPlateau), "ChainedScheduler: scheduler \(i) is a ReduceLROnPlateau, which steps with a metric")
        }
        self.schedulers = schedulers
        super.init(attachingTo: schedulers[0].optimizer, lastEpoch: 0)
    }

    public override func step() {
        lastEpoch += 1
        for s in schedulers { s.step() }
    }

    /// Restores the position of every schedule.
    public override func restore(lastEpoch: Int) {
        self.lastEpoch = lastEpoch
        for s in schedulers { s.restore(lastEpoch: lastEpoch) }
    }

    /// Checks the position against every schedule.
    public override func validateState(_ state: [String: Double], lastEpoch: Int) throws {
        try super.validateState(state, lastEpoch: lastEpoch)
        for s in schedulers { try s.validateState([:], lastEpoch: lastEpoch) }
    }
}
