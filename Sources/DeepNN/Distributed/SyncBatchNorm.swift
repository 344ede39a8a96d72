import DeepCore

/// Batch normalisation whose batch statistics are those of every rank's batch together
/// (`nn.SyncBatchNorm`): in training, the mean and variance per channel are reduced over the ranks
/// of `group`, so N ranks with batches of B normalise exactly as one process with the batch of
/// N·B, gradients included (the backward pass reduces the statistics' gradients too). In
/// evaluation, or in a group of one, it is ``BatchNorm``. Same parameters, buffers and state-dict
/// names as BatchNorm; inputs (N, C, *) with any number of trailing axes.
///
/// ``convert(_:group:)`` swaps every BatchNorm of a model for one (`convert_sync_batchnorm`).
public final class SyncBatchNorm: BatchNorm {
    /// The ranks whose batches are normalised together.
    public let group: ProcessGroup

    /// Creates the layer for `numFeatures` channels.
    public init(_ numFeatures: Int, group: ProcessGroup, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) {
        self.group = group
        super.init(numFeatures, eps: eps, momentum: momentum, affine: affine, trackRunningStats: trackRunningStats, ranks: [2, 3, 4, 5])
    }

    override var fusesFollowingReLU: Bool { false }

    public override func forward(_ x: Tensor) -> Tensor {
        guard isTraining, group.worldSize > 1, !x.isMeta else { return super.forward(x) }
        let channels = runningMean.shape[0]
        guard shapeCheck(x.rank >= 2 && x.shape[1] == channels,
                         "SyncBatchNorm: input of shape \(x.shape), expected (N, \(channels), *)") else { return .shapeFailure }
        let axes = [0] + Array(2..<x.rank)
        let total = group.allReduce([Double(x.count / max(channels, 1))])[0]
        require(total > 1, "SyncBatchNorm: \(Int(total)) values per channel over all ranks; training needs more than 1")
        let scale = Float(1 / total)
        // Two passes (mean, then the mean square deviation) for the accuracy of BatchNorm's own.
        let mean = x.sum(axes: axes, keepingDims: true).summed(over: group) * scale
        let centered = x - mean
        let variance = (centered * centered).sum(axes: axes, keepingDims: true).summed(over: group) * scale
        var y = centered * (variance + eps).rsqrt()
        var statShape = Array(repeating: 1, count: x.rank)
        statShape[1] = channels
        if let weight, let bias { y = y * weight.reshaped(statShape) + bias.reshaped(statShape) }
        if tracksRunningStats { updateRunningStatistics(mean: mean, variance: variance, count: total) }
        return y
    }

    /// The running mean and (unbiased) variance moved towards this batch's, as BatchNorm moves them.
    private func updateRunningStatistics(mean: Tensor, variance: Tensor, count: Double) {
        numBatchesTracked.withUnsafeMutableBufferPointer { $0[0] += 1 }
        let factor = momentum ?? 1 / numBatchesTracked.item()
        withoutGrad {
            let unbiased = variance.detached().reshaped([runningVar.count]) * Float(count / (count - 1))
            let newMean = runningMean * (1 - factor) + mean.detached().reshaped([runningMean.count]) * factor
            let newVar = runningVar * (1 - factor) + unbiased * factor
            runningMean.assign(newMean)
            runningVar.assign(newVar)
        }
    }

    /// `module` with every ``BatchNorm`` (1-d, 2-d) swapped for a SyncBatchNorm over `group` with
    /// the same settings, weights and running statistics (`nn.SyncBatchNorm.convert_sync_batchnorm`).
    /// A BatchNorm at the root is returned converted.
    /// - Throws: ``ModuleError`` when a BatchNorm is held where it cannot be replaced.
    public static func convert(_ module: Module, group: ProcessGroup) throws -> Module {
        if let norm = module as? BatchNorm, !(norm is SyncBatchNorm) { return synced(norm, group: group) }
        for (path, child) in module.namedModules() where !path.isEmpty {
            guard let norm = child as? BatchNorm, !(norm is SyncBatchNorm) else { continue }
            try module.replace(path: path, with: synced(norm, group: group))
        }
        return module
    }

    private static func synced(_ norm: BatchNorm, group: ProcessGroup) -> SyncBatchNorm {
        let sync = SyncBatchNorm(norm.runningMean.count, group: group, eps: norm.eps, momentum: norm.momentum,
                                 affine: norm.weight != nil, trackRunningStats: norm.tracksRunningStats)
        sync.train(norm.isTraining)
        withoutGrad {
            if let w = norm.weight, let b = norm.bias { sync.weight!.assign(w); sync.bias!.assign(b) }
            sync.runningMean.assign(norm.runningMean)
            sync.runningVar.assign(norm.runningVar)
            sync.numBatchesTracked.assign(norm.numBatchesTracked)
        }
        return sync
    }
}
