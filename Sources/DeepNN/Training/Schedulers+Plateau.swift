import DeepCore

/// Lowers the rates when a monitored metric stops improving (`ReduceLROnPlateau`), stepped once
/// per epoch with the metric: ``step(metric:)``. After more than `patience` epochs without an
/// improvement (better than the best by `threshold`, relative or absolute) each rate becomes
/// max(rate·factor, minLR) — unless that changes it by `eps` or less — and `cooldown` epochs pass
/// before bad epochs count again. Takes no step 0 and leaves the rates alone until it reduces them.
///
///     let plateau = ReduceLROnPlateau(optimizer, mode: .min, factor: 0.5, patience: 2)
///     plateau.step(metric: validationLoss)
public final class ReduceLROnPlateau: LRScheduler {
    /// Whether the metric improves by going down (a loss) or up (an accuracy).
    public enum Mode { case min, max }
    /// How `threshold` is measured: a fraction of the best (PyTorch's `"rel"`) or an amount (`"abs"`).
    public enum ThresholdMode { case relative, absolute }

    /// Whether lower or higher is better.
    public let mode: Mode
    /// How `threshold` is measured.
    public let thresholdMode: ThresholdMode
    /// What a reduction multiplies the rates by.
    public let factor: Float
    /// Epochs without improvement tolerated before a reduction.
    public let patience: Int
    /// How much better than the best a metric must be to count as an improvement.
    public let threshold: Double
    /// Epochs after a reduction during which bad epochs are not counted.
    public let cooldown: Int
    /// The smallest change of a rate that is made.
    public let eps: Float
    /// Each group's lowest rate.
    public let minLearningRates: [Float]
    /// The best metric so far (+∞ in `.min` mode, −∞ in `.max`, before any).
    public private(set) var best: Double
    /// Epochs since the metric last improved (PyTorch's `num_bad_epochs`).
    public private(set) var badEpochs = 0
    /// Epochs of cooldown left (PyTorch's `cooldown_counter`).
    public private(set) var cooldownCounter = 0

    /// Creates the schedule with one lowest rate for every group.
    public convenience init(_ optimizer: Optimizer, mode: Mode = .min, factor: Float = 0.1, patience: Int = 10,
                            threshold: Double = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int = 0,
                            minLearningRate: Float = 0, eps: Float = 1e-8) {
        self.init(optimizer, mode: mode, factor: factor, patience: patience, threshold: threshold, thresholdMode: thresholdMode,
                  cooldown: cooldown, minLearningRates: Array(repeating: minLearningRate, count: optimizer.parameterGroups.count), eps: eps)
    }

    /// Creates the schedule with a lowest rate per group.
    public init(_ optimizer: Optimizer, mode: Mode = .min, factor: Float = 0.1, patience: Int = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int = 0,
                minLearningRates: [Float], eps: Float = 1e-8) {
        require(factor < 1, "ReduceLROnPlateau: factor \(factor) must be below 1")
        require(patience >= 0 && cooldown >= 0, "ReduceLROnPlateau: patience \(patience) and cooldown \(cooldown) must not be negative")
        require(minLearningRates.count == optimizer.parameterGroups.count,
                "ReduceLROnPlateau: \(minLearningRates.count) minimum rates for \(optimizer.parameterGroups.count) parameter groups")
        (self.mode, self.factor, self.patience, self.threshold) = (mode, factor, patience, threshold)
        (self.thresholdMode, self.cooldown, self.minLearningRates, self.eps) = (thresholdMode, cooldown, minLearningRates, eps)
        best = mode == .min ? .infinity : -.infinity
        super.init(attachingTo: optimizer, lastEpoch: 0)
    }

    /// Stops: this schedule needs the metric (``step(metric:)``).
    public override func step() {
        ShapeErrors.stop("ReduceLROnPlateau.step: the schedule needs the monitored metric: call step(metric:)")
    }

    /// Ends an epoch whose monitored figure was `metric`, lowering the rates after too many
    /// epochs without improvement.
    public func step(metric: Double) {
        lastEpoch += 1
        if isBetter(metric) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            reduceLearningRates()
            cooldownCounter = cooldown
            badEpochs = 0
        }
    }

    /// Whether `metric` improves on ``best`` by more than the threshold.
    private func isBetter(_ metric: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .relative): return metric < best * (1 - threshold)
        case (.min, .absolute): return metric < best - threshold
        case (.max, .relative): return metric > best * (1 + threshold)
        case (.max, .absolute): return metric > best + threshold
        }
    }

    private func reduceLearningRates() {
        for (g, floor) in minLearningRates.enumerated() {
            let old = Double(optimizer.parameterGroups[g].learningRate)
            let new = max(old * Double(factor), Double(floor))
            if old - new > Double(eps) { optimizer.parameterGroups[g].learningRate = Float(new) }
        }
    }

    /// `best`, `num_bad_epochs` and `cooldown_counter`.
    public override func stateDict() -> [String: Double] {
        ["best": best, "num_bad_epochs": Double(badEpochs), "cooldown_counter": Double(cooldownCounter)]
    }

    /// The best metric finite (or this mode's worst, before any epoch), the counts whole and at
    /// most the patience and the cooldown.
    public override func validateState(_ state: [String: Double], lastEpoch: Int) throws {
        try super.validateState(state, lastEpoch: lastEpoch)
        let worst: Double = mode == .min ? .infinity : -.infinity
        if let best = state["best"], !(best.isFinite || best == worst) {
            throw SchedulerStateError(key: "best", reason: "must be a finite number (or \(worst) before any epoch), found \(best)")
        }
        for (key, limit) in [("num_bad_epochs", patience), ("cooldown_counter", cooldown)] {
            if let v = state[key], !(v >= 0 && v <= Double(limit) && v.rounded() == v) {
                throw SchedulerStateError(key: key, reason: "must be a whole number from 0 to \(limit), found \(v)")
            }
        }
    }

    public override func loadStateDict(_ state: [String: Double]) throws {
        try validateState(state, lastEpoch: lastEpoch)
        best = state["best"] ?? best
        badEpochs = state["num_bad_epochs"].map { Int($0) } ?? badEpochs
        cooldownCounter = state["cooldown_counter"].map { Int($0) } ?? cooldownCounter
    }
}
