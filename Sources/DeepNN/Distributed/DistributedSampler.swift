import DeepCore

/// This rank's share of a data set's indices each epoch (`torch.utils.data.DistributedSampler`):
/// the ranks' shares are disjoint and, together, hold every example.
///
/// Each epoch the indices 0 ..< datasetCount are shuffled with a generator seeded by `seed` and
/// the epoch (the same order on every rank), then padded by repeating its first indices until
/// their number divides by the ranks (`dropLast`: cut to the largest such number instead), and
/// rank r takes positions r, r + worldSize, r + 2·worldSize, …. Give every rank the same `seed`;
/// a ``DataLoader`` sets the epoch, so each epoch has a new order.
///
///     let sampler = DistributedSampler(datasetCount: train.count, rank: group.rank, worldSize: group.worldSize, seed: 0)
///     let loader = DataLoader(train, batchSize: 64 / group.worldSize, sampler: sampler)
public struct DistributedSampler: Sampler {
    /// Examples in the data set.
    public let datasetCount: Int
    /// This rank, 0 ..< worldSize.
    public let rank: Int
    /// The number of ranks.
    public let worldSize: Int
    /// Whether to shuffle each epoch (false: 0, 1, 2, … before padding).
    public let shuffle: Bool
    /// The seed shared by every rank.
    public let seed: UInt64
    /// Drop the last indices so that shares need no padding.
    public let dropLast: Bool

    /// Creates the sampler of `rank`.
    public init(datasetCount: Int, rank: Int, worldSize: Int, shuffle: Bool = true, seed: UInt64 = 0, dropLast: Bool = false) {
        require(worldSize >= 1, "DistributedSampler: worldSize \(worldSize) is not positive")
        require((0..<worldSize).contains(rank), "DistributedSampler: Invalid rank \(rank), rank should be in the interval [0, \(worldSize - 1)]")
        require(datasetCount >= 0, "DistributedSampler: datasetCount \(datasetCount) is negative")
        self.datasetCount = datasetCount
        self.rank = rank
        self.worldSize = worldSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
    }

    /// Creates the sampler of this process's rank in `group`.
    public init(datasetCount: Int, group: ProcessGroup, shuffle: Bool = true, seed: UInt64 = 0, dropLast: Bool = false) {
        self.init(datasetCount: datasetCount, rank: group.rank, worldSize: group.worldSize, shuffle: shuffle, seed: seed, dropLast: dropLast)
    }

    /// Indices per rank and epoch: ⌈datasetCount / worldSize⌉, or ⌊…⌋ with `dropLast`.
    public var count: Int {
        dropLast ? datasetCount / worldSize : (datasetCount + worldSize - 1) / worldSize
    }

    public func indices(epoch: Int) -> [Int] {
        var order: [Int]
        if shuffle {
            var generator = RandomGenerator.forEpoch(epoch, seed: seed, of: "DistributedSampler")
            order = randomPermutation(datasetCount, generator: &generator)
        } else {
            order = Array(0..<datasetCount)
        }
        let total = count * worldSize
        if total > order.count, !order.isEmpty {
            var padded = order
            while padded.count < total { padded += order.prefix(total - padded.count) }
            order = padded
        }
        return stride(from: rank, to: total, by: worldSize).map { order[$0] }
    }
}

extension Subset {
    /// This rank's share of `dataset` for evaluation: examples rank, rank + worldSize, … without
    /// padding (shares differ by at most one), so that figures summed over the ranks count every
    /// example exactly once.
    public init(_ dataset: Dataset, evaluationShareOf group: ProcessGroup) {
        self.init(dataset, indices: Array(stride(from: group.rank, to: dataset.count, by: group.worldSize)))
    }
}
