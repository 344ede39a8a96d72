import DeepCore

/// What a trainer needs to train data-parallel over a ``ProcessGroup`` (``Trainer`` and
/// ``SegmentationTrainer`` hold one): the model wrapped in ``DistributedDataParallel`` once
/// training starts, figures summed and decisions taken together over the ranks, and which rank
/// prints and writes. Without a group (or with a group of one) every call is the one-process one.
final class DataParallelTraining {
    /// The ranks training together, or nil.
    var group: ProcessGroup? {
        didSet { parallel = nil }
    }
    /// Whether gradient all-reduces start during backward (see ``DistributedDataParallel``).
    var overlapsCommunication = true
    private var parallel: DistributedDataParallel?

    /// Whether this process prints and writes files: rank 0, or the only process.
    var isMain: Bool { (group?.rank ?? 0) == 0 }

    /// Seconds backward passes waited for gradient all-reduces after their last op.
    var communicationWaitSeconds: Double { parallel?.communicationWaitSeconds ?? 0 }

    /// The module training forwards run through: `model` wrapped for the group (made on the first
    /// call, after any resume, so rank 0's restored weights are the ones copied), or `model`.
    func trainingModel(_ model: Module) -> Module {
        guard let group, group.worldSize > 1 else { return model }
        if parallel == nil { parallel = DistributedDataParallel(model, group: group, overlapsCommunication: overlapsCommunication) }
        return parallel!
    }

    /// An epoch's or an evaluation's figures — the sum of the batches' losses × examples, the
    /// examples seen and the class counts — summed over the ranks in one all-reduce.
    func totals<Table: ClassCountTable>(lossSum: Double, seen: Int, _ table: Table) -> (lossSum: Double, seen: Int, table: Table) {
        guard let group, group.worldSize > 1 else { return (lossSum, seen, table) }
        let sums = group.allReduce([lossSum, Double(seen)] + table.flatCounts.map(Double.init))
        return (sums[0], Int(sums[1]), Table(classCount: table.classCount, counts: sums.dropFirst(2)))
    }

    /// The largest of every rank's `values`, elementwise (flags as 0 or 1, elapsed times): what
    /// every rank must decide alike, such as stopping after this batch.
    func largest(_ values: [Double]) -> [Double] {
        guard let group, group.worldSize > 1 else { return values }
        return group.allReduce(values, .max)
    }
}
