import DeepCore
#if canImport(Glibc)
import Glibc
#endif

/// A learning-rate schedule over an optimiser's groups, stepped once per epoch (or per batch
/// for ``OneCycleLR``), with PyTorch's closed-form rules. At construction the optimiser gets
/// the rates of step 0.
open class LRScheduler {
    /// The optimiser whose rates are set.
    public let optimizer: Optimizer
    /// Each group's rate when the scheduler was made.
    public let baseLearningRates: [Float]
    /// Number of `step()` calls so far (PyTorch's `last_epoch`).
    public private(set) var lastEpoch = 0

    /// Attaches to `optimizer` and applies the rates of step 0.
    public init(optimizer: Optimizer) {
        self.optimizer = optimizer
        baseLearningRates = optimizer.parameterGroups.map(\.learningRate)
        apply()
    }

    /// The rate of a group with base rate `base` after `epoch` steps.
    open func learningRate(base: Float, epoch: Int) -> Float { base }

    /// Advances one step and updates the optimiser's rates.
    public func step() {
        lastEpoch += 1
        apply()
    }

    /// Restores the position of a saved schedule.
    public func restore(lastEpoch: Int) {
        self.lastEpoch = lastEpoch
        apply()
    }

    /// The rates now in force, one per group.
    public var currentLearningRates: [Float] { optimizer.parameterGroups.map(\.learningRate) }

    private func apply() {
        for (i, base) in baseLearningRates.enumerated() {
            optimizer.parameterGroups[i].learningRate = learningRate(base: base, epoch: lastEpoch)
        }
    }
}

/// base·γ^⌊epoch / stepSize⌋ (`StepLR`).
public final class StepLR: LRScheduler {
    let stepSize: Int, gamma: Float
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, stepSize: Int, gamma: Float = 0.1) {
        (self.stepSize, self.gamma) = (stepSize, gamma)
        super.init(optimizer: optimizer)
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        base * powf(gamma, Float(epoch / stepSize))
    }
}

/// base·γ^(number of milestones ≤ epoch) (`MultiStepLR`).
public final class MultiStepLR: LRScheduler {
    let milestones: [Int], gamma: Float
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, milestones: [Int], gamma: Float = 0.1) {
        (self.milestones, self.gamma) = (milestones.sorted(), gamma)
        super.init(optimizer: optimizer)
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        base * powf(gamma, Float(milestones.filter { $0 <= epoch }.count))
    }
}

/// η_min + (base − η_min)·(1 + cos(π·epoch / T_max)) / 2 (`CosineAnnealingLR`).
public final class CosineAnnealingLR: LRScheduler {
    let tMax: Int, etaMin: Float
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, tMax: Int, etaMin: Float = 0) {
        (self.tMax, self.etaMin) = (tMax, etaMin)
        super.init(optimizer: optimizer)
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        etaMin + (base - etaMin) * (1 + Float(cos(Double.pi * Double(epoch) / Double(tMax)))) / 2
    }
}

/// Linear warm-up: base·factor, the factor going from `startFactor` to `endFactor` over
/// `totalIters` steps (`LinearLR`).
public final class LinearLR: LRScheduler {
    let startFactor: Float, endFactor: Float, totalIters: Int
    /// Creates the schedule.
    public init(_ optimizer: Optimizer, startFactor: Float = 1.0 / 3, endFactor: Float = 1, totalIters: Int = 5) {
        (self.startFactor, self.endFactor, self.totalIters) = (startFactor, endFactor, totalIters)
        super.init(optimizer: optimizer)
    }
    public override func learningRate(base: Float, epoch: Int) -> Float {
        let t = Float(min(epoch, totalIters)) / Float(max(totalIters, 1))
        return base * (startFactor + (endFactor - startFactor) * t)
    }
}

/// Linear warm-up for `warmupSteps` steps from `startFactor`·base, then cosine annealing to
/// `etaMin` at `totalSteps` (PyTorch's `SequentialLR([LinearLR, CosineAnnealingLR])`).
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
        return etaMin + (base - etaMin) * (1 + Float(cos(Double.pi * min(t, 1)))) / 2
    }
}

/// The one-cycle policy (`OneCycleLR`, cosine annealing, two phases): from maxLR/divFactor up
/// to `maxLearningRate` over `pctStart` of the steps, then down to
/// maxLR/(divFactor·finalDivFactor). Step it once per batch.
public final class OneCycleLR: LRScheduler {
    let maxLearningRate: Float, totalSteps: Int, pctStart: Float, divFactor: Float, finalDivFactor: Float

    /// Creates the schedule.
    public init(_ optimizer: Optimizer, maxLearningRate: Float, totalSteps: Int, pctStart: Float = 0.3,
                divFactor: Float = 25, finalDivFactor: Float = 1e4) {
        (self.maxLearningRate, self.totalSteps, self.pctStart) = (maxLearningRate, totalSteps, pctStart)
        (self.divFactor, self.finalDivFactor) = (divFactor, finalDivFactor)
        super.init(optimizer: optimizer)
    }

    public override func learningRate(base: Float, epoch: Int) -> Float {
        let initial = maxLearningRate / divFactor, minimum = initial / finalDivFactor
        let phase1End = Double(pctStart) * Double(totalSteps) - 1, phase2End = Double(totalSteps - 1)
        func anneal(_ start: Float, _ end: Float, _ pct: Double) -> Float {
            end + (start - end) / 2 * Float(1 + cos(Double.pi * pct))
        }
        let t = Double(epoch)
        if t <= phase1End { return anneal(initial, maxLearningRate, t / phase1End) }
        return anneal(maxLearningRate, minimum, (t - phase1End) / (phase2End - phase1End))
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
