import DeepCore
#if canImport(Glibc)
import Glibc
#endif

/// The one-cycle policy (`OneCycleLR`), stepped once per batch: the rate goes from
/// maxLR / divFactor up to maxLR over `pctStart` of the steps, then down to
/// maxLR / (divFactor·finalDivFactor); with `threePhase`, up, back down to maxLR / divFactor
/// symmetrically, then down to the minimum. With `cycleMomentum` (PyTorch's default) the
/// momentum moves the opposite way between `maxMomentum` and `baseMomentum`: Adam's and AdamW's
/// β1, or SGD's and RMSprop's momentum.
///
/// At construction, as PyTorch: each group's ``ParameterGroup/initialLearningRate`` becomes
/// maxLR / divFactor and its momentum `maxMomentum`, and step 0 is applied. Stepping past
/// `totalSteps` stops, as PyTorch raises.
public final class OneCycleLR: LRScheduler {
    /// How the rate moves within a phase.
    public enum AnnealStrategy {
        /// Half a cosine (PyTorch's `"cos"`, the default).
        case cos
        /// A straight line (`"linear"`).
        case linear
    }

    /// The steps of the whole cycle.
    public let totalSteps: Int
    /// Whether the momentum (or β1) is cycled.
    public let cycleMomentum: Bool
    let pctStart: Float, annealStrategy: AnnealStrategy
    /// Per group: the rates at the start, the peak and the end; the momenta at the peak and the start.
    let initialRates: [Double], maxRates: [Double], minRates: [Double]
    let baseMomenta: [Double], maxMomenta: [Double]
    /// Whether the optimiser's momentum is β1 (Adam, AdamW) rather than `momentum`.
    let usesBeta1: Bool
    /// Each phase: the step it ends at and where the rate and momentum go.
    let phases: [Phase]

    /// One phase of the cycle: from `start` to `end` (rates and momenta) until step `endStep`.
    struct Phase {
        enum Rate { case initial, max, min }
        enum Momentum { case base, max }
        let endStep: Double
        let start: Rate, end: Rate, startMomentum: Momentum, endMomentum: Momentum
    }

    /// Creates the schedule with the same peak rate and momenta for every group.
    public convenience init(_ optimizer: Optimizer, maxLearningRate: Float, totalSteps: Int, pctStart: Float = 0.3,
                            annealStrategy: AnnealStrategy = .cos, cycleMomentum: Bool = true,
                            baseMomentum: Float = 0.85, maxMomentum: Float = 0.95, divFactor: Float = 25,
                            finalDivFactor: Float = 1e4, threePhase: Bool = false) {
        let groups = optimizer.parameterGroups.count
        self.init(optimizer, maxLearningRates: Array(repeating: maxLearningRate, count: groups), totalSteps: totalSteps,
                  pctStart: pctStart, annealStrategy: annealStrategy, cycleMomentum: cycleMomentum,
                  baseMomenta: Array(repeating: baseMomentum, count: groups),
                  maxMomenta: Array(repeating: maxMomentum, count: groups),
                  divFactor: divFactor, finalDivFactor: finalDivFactor, threePhase: threePhase)
    }

    /// Creates the schedule with a peak rate and momenta per group (PyTorch's lists).
    public init(_ optimizer: Optimizer, maxLearningRates: [Float], totalSteps: Int, pctStart: Float = 0.3,
                annealStrategy: AnnealStrategy = .cos, cycleMomentum: Bool = true,
                baseMomenta: [Float], maxMomenta: [Float], divFactor: Float = 25,
                finalDivFactor: Float = 1e4, threePhase: Bool = false) {
        let groups = optimizer.parameterGroups.count
        require(totalSteps > 0, "OneCycleLR: totalSteps \(totalSteps) must be positive")
        require(pctStart >= 0 && pctStart <= 1, "OneCycleLR: pctStart \(pctStart) is not in [0, 1]")
        for (name, values) in [("maxLearningRates", maxLearningRates), ("baseMomenta", baseMomenta), ("maxMomenta", maxMomenta)] {
            require(values.count == groups, "OneCycleLR: \(values.count) \(name) for \(groups) parameter groups")
        }
        let usesBeta1 = optimizer.defaults.betas != nil
        require(!cycleMomentum || usesBeta1 || optimizer.defaults.momentum != nil,
                "OneCycleLR: \(type(of: optimizer)) has no momentum or beta1 to cycle: pass cycleMomentum: false")
        self.totalSteps = totalSteps
        self.cycleMomentum = cycleMomentum
        self.pctStart = pctStart
        self.annealStrategy = annealStrategy
        self.usesBeta1 = usesBeta1
        maxRates = maxLearningRates.map(Double.init)
        initialRates = maxRates.map { $0 / Double(divFactor) }
        minRates = initialRates.map { $0 / Double(finalDivFactor) }
        self.baseMomenta = baseMomenta.map(Double.init)
        self.maxMomenta = maxMomenta.map(Double.init)
        let rise = Double(pctStart) * Double(totalSteps)
        phases = threePhase
            ? [Phase(endStep: rise - 1, start: .initial, end: .max, startMomentum: .max, endMomentum: .base),
               Phase(endStep: 2 * rise - 2, start: .max, end: .initial, startMomentum: .base, endMomentum: .max),
               Phase(endStep: Double(totalSteps - 1), start: .initial, end: .min, startMomentum: .max, endMomentum: .max)]
            : [Phase(endStep: rise - 1, start: .initial, end: .max, startMomentum: .max, endMomentum: .base),
               Phase(endStep: Double(totalSteps - 1), start: .max, end: .min, startMomentum: .base, endMomentum: .max)]
        for g in 0..<groups {
            optimizer.parameterGroups[g].initialLearningRate = Float(initialRates[g])
            if cycleMomentum { Self.setMomentum(Float(maxMomenta[g]), of: &optimizer.parameterGroups[g], beta1: usesBeta1) }
        }
        super.init(optimizer: optimizer)
    }

    /// One step, or as many as it takes for `fraction` (0…1) of the cycle to be done — a schedule
    /// that follows a time budget rather than a step count (``SegmentationTrainer/timeBudget``).
    /// Stops at the cycle's last step, whose rate is its minimum (PyTorch's one past it turns back up).
    public func step(reaching fraction: Double) {
        let wanted = fraction.isFinite ? Int(min(max(fraction, 0), 1) * Double(totalSteps)) : 0
        let target = min(totalSteps - 1, max(lastEpoch + 1, wanted))
        while lastEpoch < target { step() }
    }

    /// The rate (and, when cycled, the momentum, set on the optimiser) of step ``lastEpoch``.
    public override func closedFormLearningRates() -> [Float] {
        require(lastEpoch <= totalSteps, "OneCycleLR: tried to step \(lastEpoch) times; the cycle has \(totalSteps) steps")
        let step = Double(lastEpoch)
        var phaseStart = 0.0
        var index = 0
        while step > phases[index].endStep && index < phases.count - 1 {
            phaseStart = phases[index].endStep
            index += 1
        }
        let phase = phases[index]
        require(phase.endStep != phaseStart,
                "OneCycleLR: phase \(index + 1) of \(phases.count) has no steps (pctStart \(pctStart), totalSteps \(totalSteps))")
        let pct = (step - phaseStart) / (phase.endStep - phaseStart)
        return (0..<optimizer.parameterGroups.count).map { g in
            if cycleMomentum {
                let m = anneal(momentum(phase.startMomentum, g), momentum(phase.endMomentum, g), pct)
                Self.setMomentum(Float(m), of: &optimizer.parameterGroups[g], beta1: usesBeta1)
            }
            return Float(anneal(rate(phase.start, g), rate(phase.end, g), pct))
        }
    }

    /// Rejects a position past the end of the cycle.
    public override func validateState(_ state: [String: Double], lastEpoch: Int) throws {
        try super.validateState(state, lastEpoch: lastEpoch)
        guard lastEpoch <= totalSteps else {
            throw SchedulerStateError(key: nil, reason: "\(lastEpoch) is past the end of the one-cycle schedule (\(totalSteps) steps)")
        }
    }

    /// From `start` to `end` at fraction `pct` of the phase.
    private func anneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        switch annealStrategy {
        case .cos: return end + (start - end) / 2 * (cos(Double.pi * pct) + 1)
        case .linear: return (end - start) * pct + start
        }
    }

    private func rate(_ r: Phase.Rate, _ g: Int) -> Double {
        switch r {
        case .initial: return initialRates[g]
        case .max: return maxRates[g]
        case .min: return minRates[g]
        }
    }

    private func momentum(_ m: Phase.Momentum, _ g: Int) -> Double {
        m == .base ? baseMomenta[g] : maxMomenta[g]
    }

    /// Sets β1 (keeping β2) or the momentum of a group.
    private static func setMomentum(_ value: Float, of group: inout ParameterGroup, beta1: Bool) {
        if beta1 { group.betas = (value, group.betas?.1 ?? 0.999) } else { group.momentum = value }
    }
}
