import DeepCore

/// A batch of a segmentation data set.
public struct SegmentationBatch {
    /// Stacked inputs, e.g. (N, C, H, W).
    public let inputs: Tensor
    /// The class id of every target pixel, in (N, H, W) order (the order `crossEntropy` takes
    /// labels for (N, C, H, W) logits).
    public let labels: [Int]
    /// Examples in the batch.
    public let count: Int
}

/// Batches of a data set whose examples carry a dense ``Example/target`` (a mask of class ids):
/// an optional seeded shuffle each epoch, optional dropping of the last partial batch, and random
/// draws (transforms, fresh ``FashionMNISTMosaic`` mosaics) from a generator seeded by the seed,
/// the epoch and the batch number, as ``DataLoader`` seeds them, so an epoch's batches are the
/// same on every run and a resumed run continues with the same ones.
public struct SegmentationLoader {
    /// The examples.
    public let dataset: Dataset
    /// Examples per batch.
    public let batchSize: Int
    /// Whether each epoch visits the examples in a new random order.
    public let shuffle: Bool
    /// Seed of the order and of the examples' random draws.
    public let seed: UInt64
    /// Whether a last partial batch is dropped.
    public let dropLast: Bool

    /// Creates the loader.
    public init(_ dataset: Dataset, batchSize: Int, shuffle: Bool = false, seed: UInt64 = 0, dropLast: Bool = false) {
        require(batchSize > 0, "SegmentationLoader: batch size \(batchSize)")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
    }

    /// Batches in one epoch.
    public var count: Int { dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize }

    /// Calls `body` with the batches of `epoch` in order.
    public func forEachBatch(epoch: Int, _ body: (SegmentationBatch) throws -> Void) rethrows {
        let order = order(epoch: epoch)
        for b in 0..<count { try body(batch(b, order: order, epoch: epoch)) }
    }

    /// The example order of `epoch`: a seeded shuffle (``RandomSampler``), or 0..<n.
    public func order(epoch: Int) -> [Int] {
        shuffle ? RandomSampler(count: dataset.count, seed: seed).indices(epoch: epoch) : Array(0..<dataset.count)
    }

    /// Assembles batch `b` (0..<``count``) of `order` in `epoch`.
    public func batch(_ b: Int, order: [Int], epoch: Int) -> SegmentationBatch {
        require(b >= 0 && b < count, "SegmentationLoader: batch \(b) outside 0..<\(count)")
        let start = b * batchSize, end = min(start + batchSize, order.count)
        var rng = RandomGenerator(seed: seed ^ (UInt64(epoch) << 32) ^ UInt64(b) &* 0x2545_F491_4F6C_DD1D)
        let examples = (start..<end).map { dataset.example(at: order[$0], generator: &rng) }
        var labels: [Int] = []
        for (i, example) in examples.enumerated() {
            guard let target = example.target else {
                ShapeErrors.stop("SegmentationLoader: example \(order[start + i]) has no target mask")
            }
            labels.append(contentsOf: target.scalars.lazy.map { Int($0) })
        }
        return SegmentationBatch(inputs: Tensor.stack(examples.map(\.input)), labels: labels, count: examples.count)
    }
}
