import DeepCore
#if canImport(Glibc)
import Glibc
#endif

/// A learning-rate schedule over an optimiser's groups, stepped once per epoch (or per batch
/// for ``OneCycleLR``), with PyTorch's rules: each step computes the new rates from the rates in
/// force (PyTorch's chainable form, so that ``ChainedScheduler`` composes schedules and a rate set
/// by hand between steps is kept) or, for the schedules PyTorch computes in closed form, from
/// the initial rates. At construction the optimiser gets the rates of step 0.
///
/// The first schedule attached to an optimiser records each group's rate as its
/// ``ParameterGroup/initialLearningRate`` (PyTorch's `initial_lr`); every schedule starts from it.
open class LRScheduler {
    /// The optimiser whose rates are set.
    public let optimizer: Optimizer
    /// Each group's initial rate (PyTorch's `base_lrs`).
    public let baseLearningRates: [Float]
    /// Number of `step()` calls so far (PyTorch's `last_epoch`).
    public internal(set) var lastEpoch: Int
    /// Whether the schedule is applying its step 0 at construction (PyTorch's `_is_initial`).
    public private(set) var isInitialStep = false

    /// Attaches to `optimizer` and applies the rates of step 0.
    public init(optimizer: Optimizer) {
        for i in optimizer.parameterGroups.indices where optimizer.parameterGroups[i].initialLearningRate == nil {
            optimizer.parameterGroups[i].initialLearningRate = optimizer.parameterGroups[i].learningRate
        }
        self.optimizer = optimizer
        baseLearningRates = optimizer.parameterGroups.map { $0.initialLearningRate ?? $0.learningRate }
        lastEpoch = -1
        initialStep()
    }

    /// Attaches to `optimizer` at position `lastEpoch` without changing any rate (the schedules
    /// that, as in PyTorch, take no step 0 of their own: ``ReduceLROnPlateau``, ``SequentialLR``,
    /// ``ChainedScheduler``).
    init(attachingTo optimizer: Optimizer, lastEpoch: Int) {
        self.optimizer = optimizer
        baseLearningRates = optimizer.parameterGroups.map { $0.initialLearningRate ?? $0.learningRate }
        self.lastEpoch = lastEpoch
    }

    /// The rates of step ``lastEpoch``, one per group, from the rates in force (PyTorch's
    /// `get_lr`). Default: ``closedFormLearningRates()``.
    open func learningRates() -> [Float] { closedFormLearningRates() }

    /// The rates of step ``lastEpoch`` from the initial rates alone (PyTorch's
    /// `_get_closed_form_lr`, used when ``SequentialLR`` starts a schedule). Default:
    /// ``learningRate(base:epoch:)`` of each group.
    open func closedFormLearningRates() -> [Float] {
        baseLearningRates.map { learningRate(base: $0, epoch: lastEpoch) }
    }

    /// The rate of a group with initial rate `base` after `epoch` steps (closed form).
    open func learningRate(base: Float, epoch: Int) -> Float { base }

    /// Advances one step and updates the optimiser's rates.
    open func step() {
        lastEpoch += 1
        apply(learningRates())
    }

    /// Restores the position of a saved schedule. The rates (and momenta) are the optimiser's:
    /// load its state (``Optimizer/loadStateDict(_:)``) with it, as PyTorch's
    /// `scheduler.load_state_dict` leaves the optimiser alone.
    open func restore(lastEpoch: Int) {
        self.lastEpoch = lastEpoch
    }

    /// The schedule's state beyond its position, by PyTorch's names (``ReduceLROnPlateau``'s
    /// `best`, `num_bad_epochs`, `cooldown_counter`); empty for the schedules whose position says all.
    open func stateDict() -> [String: Double] { [:] }

    /// Throws unless `state` (from ``stateDict()``) and the position `lastEpoch` fit this
    /// schedule: known keys, values in range. Changes nothing.
    /// - Throws: ``SchedulerStateError`` naming the key and the value.
    open func validateState(_ state: [String: Double], lastEpoch: Int) throws {
        let known = stateDict()
        if let key = state.keys.sorted().first(where: { known[$0] == nil }) {
            throw SchedulerStateError(key: key, reason: "is not part of the state of \(type(of: self))")
        }
    }

    /// Restores a state written by ``stateDict()`` (checked first with
    /// ``validateState(_:lastEpoch:)``); a key it lacks keeps its current value.
    open func loadStateDict(_ state: [String: Double]) throws {
        try validateState(state, lastEpoch: lastEpoch)
    }

    /// The rates now in force, one per group.
    public var currentLearningRates: [Float] { optimizer.parameterGroups.map(\.learningRate) }

    /// Sets each group's rate.
    func apply(_ rates: [Float]) {
        for (i, rate) in rates.enumerated() { optimizer.parameterGroups[i].learningRate = rate }
    }

    /// Takes step 0 (PyTorch's `_initial_step`).
    func initialStep() {
        isInitialStep = true
        defer { isInitialStep = false }
        step()
    }

    /// Starts again from step 0 in closed form (what ``SequentialLR`` does at a milestone).
    func restart() {
        lastEpoch = 0
        apply(closedFormLearningRates())
    }

    /// The rates in force, each times `factor` (computed in double precision, as PyTorch does).
    func currentLearningRates(times factor: Double) -> [Float] {
        currentLearningRates.map { Float(Double($0) * factor) }
    }
}

/// A schedule's saved state that does not fit it.
public struct SchedulerStateError: Error, CustomStringConvertible {
    /// The state key (`best`), or nil for the position.
    public let key: String?
    /// What is wrong, starting with "must be" or, for the position, the value.
    public let reason: String
    public var description: String { "\(key ?? "position") \(reason)" }
}

/// base·γ^⌊epoch / stepSize⌋ (`StepLR`): the rate is multiplied by γ every `stepSize` steps.
public final class StepLR: LRScheduler {
    let stepSize: Int, gamma: Float
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, stepSize: Int, gamma: Float = 0.1) {
        require(stepSize > 0, "StepLR: stepSize \(stepSize) must be positive")
        (self.stepSize, self.gamma) = (stepSize, gamma)
        super.init(optimizer: optimizer)
    }
    public override func learningRates() -> [Float] {
        lastEpoch == 0 || lastEpoch % stepSize != 0 ? currentLearningRates : currentLearningRates(times: Double(gamma))
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        Float(Double(base) * pow(Double(gamma), Double(epoch / stepSize)))
    }
}

/// base·γ^(number of milestones ≤ epoch) (`MultiStepLR`; a milestone given twice counts twice).
public final class MultiStepLR: LRScheduler {
    let milestones: [Int], gamma: Float
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, milestones: [Int], gamma: Float = 0.1) {
        (self.milestones, self.gamma) = (milestones.sorted(), gamma)
        super.init(optimizer: optimizer)
    }
    public override func learningRates() -> [Float] {
        let hits = milestones.filter { $0 == lastEpoch }.count
        return hits == 0 ? currentLearningRates : currentLearningRates(times: pow(Double(gamma), Double(hits)))
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        Float(Double(base) * pow(Double(gamma), Double(milestones.filter { $0 <= epoch }.count)))
    }
}

/// base·factor for the first `totalIters` steps, then base (`ConstantLR`).
public final class ConstantLR: LRScheduler {
    let factor: Float, totalIters: Int
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, factor: Float = 1.0 / 3, totalIters: Int = 5) {
        require(factor >= 0 && factor <= 1, "ConstantLR: factor \(factor) is not in [0, 1]")
        (self.factor, self.totalIters) = (factor, totalIters)
        super.init(optimizer: optimizer)
    }
    public override func learningRates() -> [Float] {
        if lastEpoch == 0 { return currentLearningRates(times: Double(factor)) }
        return lastEpoch != totalIters ? currentLearningRates : currentLearningRates(times: 1 / Double(factor))
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        epoch >= totalIters ? base : Float(Double(base) * Double(factor))
    }
}

/// Linear warm-up: base·factor, the factor going from `startFactor` to `endFactor` over
/// `totalIters` steps (`LinearLR`).
public final class LinearLR: LRScheduler {
    let startFactor: Float, endFactor: Float, totalIters: Int
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, startFactor: Float = 1.0 / 3, endFactor: Float = 1, totalIters: Int = 5) {
        require(startFactor > 0 && startFactor <= 1, "LinearLR: startFactor \(startFactor) is not in (0, 1]")
        require(endFactor >= 0 && endFactor <= 1, "LinearLR: endFactor \(endFactor) is not in [0, 1]")
        require(totalIters > 0, "LinearLR: totalIters \(totalIters) must be positive")
        (self.startFactor, self.endFactor, self.totalIters) = (startFactor, endFactor, totalIters)
        super.init(optimizer: optimizer)
    }
    public override func learningRates() -> [Float] {
        let (start, end, total) = (Double(startFactor), Double(endFactor), Double(totalIters))
        if lastEpoch == 0 { return currentLearningRates(times: start) }
        if isInitialStep || lastEpoch > totalIters { return currentLearningRates }
        return currentLearningRates(times: 1 + (end - start) / (total * start + Double(lastEpoch - 1) * (end - start)))
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        let (start, end) = (Double(startFactor), Double(endFactor))
        return Float(Double(base) * (start + (end - start) * Double(min(epoch, totalIters)) / Double(totalIters)))
    }
}

/// base·γ^epoch (`ExponentialLR`): the rate is multiplied by γ every step.
public final class ExponentialLR: LRScheduler {
    let gamma: Float
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, gamma: Float) {
        self.gamma = gamma
        super.init(optimizer: optimizer)
    }
    public override func learningRates() -> [Float] {
        isInitialStep ? currentLearningRates : currentLearningRates(times: Double(gamma))
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        Float(Double(base) * pow(Double(gamma), Double(epoch)))
    }
}

/// base·(1 − min(epoch, totalIters) / totalIters)^power (`PolynomialLR`): a polynomial decay
/// to 0 over `totalIters` steps.
public final class PolynomialLR: LRScheduler {
    let totalIters: Int, power: Float
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, totalIters: Int = 5, power: Float = 1) {
        require(totalIters > 0, "PolynomialLR: totalIters \(totalIters) must be positive")
        (self.totalIters, self.power) = (totalIters, power)
        super.init(optimizer: optimizer)
    }
    public override func learningRates() -> [Float] {
        if isInitialStep || lastEpoch > totalIters { return currentLearningRates }
        let (e, t) = (Double(lastEpoch), Double(totalIters))
        return currentLearningRates(times: pow((1 - e / t) / (1 - (e - 1) / t), Double(power)))
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        Float(Double(base) * pow(1 - Double(min(epoch, totalIters)) / Double(totalIters), Double(power)))
    }
}

/// η_min + (base − η_min)·(1 + cos(π·epoch / T_max)) / 2 (`CosineAnnealingLR`; past T_max the
/// cosine goes on, back up, as PyTorch's does).
public final class CosineAnnealingLR: LRScheduler {
    let tMax: Int, etaMin: Float
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, tMax: Int, etaMin: Float = 0) {
        require(tMax > 0, "CosineAnnealingLR: tMax \(tMax) must be positive")
        (self.tMax, self.etaMin) = (tMax, etaMin)
        super.init(optimizer: optimizer)
    }
    public override func learningRates() -> [Float] {
        if isInitialStep { return currentLearningRates }
        let (e, t, eta) = (Double(lastEpoch), Double(tMax), Double(etaMin))
        if (lastEpoch - 1 - tMax) % (2 * tMax) == 0 {
            return zip(currentLearningRates, baseLearningRates).map { lr, base in
                Float(Double(lr) + (Double(base) - eta) * (1 - cos(Double.pi / t)) / 2)
            }
        }
        let ratio = (1 + cos(Double.pi * e / t)) / (1 + cos(Double.pi * (e - 1) / t))
        return currentLearningRates.map { Float(ratio * (Double($0) - eta) + eta) }
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        cosineAnnealed(from: base, to: etaMin, Double(epoch) / Double(tMax))
    }
}

/// η_min + (start − η_min)·(1 + cos(π·t)) / 2, in double precision.
func cosineAnnealed(from start: Float, to etaMin: Float, _ t: Double) -> Float {
    Float(Double(etaMin) + (Double(start) - Double(etaMin)) * (1 + cos(Double.pi * t)) / 2)
}

/// Cosine annealing with warm restarts (`CosineAnnealingWarmRestarts`, SGDR): η_min +
/// (base − η_min)·(1 + cos(π·T_cur / T_i)) / 2, where T_cur counts the steps since the last
/// restart and the period T_i starts at `t0` and is multiplied by `tMult` at each restart.
public final class CosineAnnealingWarmRestarts: LRScheduler {
    let t0: Int, tMult: Int, etaMin: Float
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, t0: Int, tMult: Int = 1, etaMin: Float = 0) {
        require(t0 > 0, "CosineAnnealingWarmRestarts: t0 \(t0) must be positive")
        require(tMult >= 1, "CosineAnnealingWarmRestarts: tMult \(tMult) must be at least 1")
        (self.t0, self.tMult, self.etaMin) = (t0, tMult, etaMin)
        super.init(optimizer: optimizer)
    }

    /// (T_cur, T_i) after `epoch` steps.
    func period(at epoch: Int) -> (current: Int, length: Int) {
        if tMult == 1 { return (epoch % t0, t0) }
        var (current, length) = (epoch, t0)
        while current >= length {
            current -= length
            let (next, overflow) = length.multipliedReportingOverflow(by: tMult)
            if overflow { break }
            length = next
        }
        return (current, length)
    }

    public override func learningRate(base: Float, epoch: Int) -> Float {
        let (current, length) = period(at: epoch)
        return cosineAnnealed(from: base, to: etaMin, Double(current) / Double(length))
    }
}

/// base·factor(epoch) with a function of the step (`LambdaLR`; PyTorch's `lr_lambda`), one
/// function for every group or one per group.
public final class LambdaLR: LRScheduler {
    let factors: [(Int) -> Float]
    /// Creates the schedule with one function for every group.
    public convenience init(_ optimizer: Optimizer, factor: @escaping (Int) -> Float) {
        self.init(optimizer, factors: Array(repeating: factor, count: optimizer.parameterGroups.count))
    }
    /// Creates the schedule with one function per group.
    public init(_ optimizer: Optimizer, factors: [(Int) -> Float]) {
        require(factors.count == optimizer.parameterGroups.count,
                "LambdaLR: \(factors.count) functions for \(optimizer.parameterGroups.count) parameter groups")
        self.factors = factors
        super.init(optimizer: optimizer)
    }
    public override func closedFormLearningRates() -> [Float] {
        zip(baseLearningRates, factors).map { base, factor in Float(Double(base) * Double(factor(lastEpoch))) }
    }
}

/// Linear warm-up for `warmupSteps` steps from `startFactor`·base, then cosine annealing to
/// `etaMin` at `totalSteps` (PyTorch's `SequentialLR([LinearLR, CosineAnnealingLR])`, in closed
/// form; ``SequentialLR`` builds the same from its parts).
public final class WarmupCosineLR: LRScheduler {
    let warmupSteps: Int, totalSteps: Int, startFactor: Float, etaMin: Float
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, warmupSteps: Int, totalSteps: Int, startFactor: Float = 0.01, etaMin: Float = 0) {
        (self.warmupSteps, self.totalSteps, self.startFactor, self.etaMin) = (warmupSteps, totalSteps, startFactor, etaMin)
        super.init(optimizer: optimizer)
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        if epoch < warmupSteps {
            return base * (startFactor + (1 - startFactor) * Float(epoch) / Float(warmupSteps))
        }
        let t = Double(epoch - warmupSteps) / Double(max(totalSteps - warmupSteps, 1))
        return cosineAnnealed(from: base, to: etaMin, min(t, 1))
    }
}

/// Scales the gradients of `parameters` in place so that their joint L2 norm is at most
/// `maxNorm` (`clip_grad_norm_`); returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    let grads = parameters.compactMap(\.grad)
    var total = 0.0
    for g in grads {
        g.withUnsafeBufferPointer { b in for v in b { total += Double(v) * Double(v) } }
    }
    let norm = Float(total.squareRoot())
    let scale = maxNorm / (norm + 1e-6)
    if scale < 1 {
        for g in grads { g.withUnsafeMutableBufferPointer { b in for i in b.indices { b[i] *= scale } } }
    }
    return norm
}
