import DeepCore
import Dispatch

/// A batch of examples: inputs stacked on a new first axis.
public struct Batch {
    /// (N, …).
    public let inputs: Tensor
    /// N class ids.
    public let labels: [Int]
}

/// Batches a dataset (`torch.utils.data.DataLoader`): seeded shuffling that differs per epoch
/// but is the same on every run, optional dropping of the last partial batch, and the next
/// batch prepared on another thread while the current one trains.
///
///     let loader = DataLoader(FashionMNIST(split: .train), batchSize: 64, shuffle: true, seed: 0)
///     for epoch in 0..<2 { for batch in loader { ... } }   // each loop is one epoch
public final class DataLoader: Sequence {
    /// The dataset batched.
    public let dataset: Dataset
    /// Examples per batch.
    public let batchSize: Int
    /// Whether each epoch visits the examples in a new random order.
    public let shuffle: Bool
    /// Whether a last batch smaller than `batchSize` is dropped.
    public let dropLast: Bool
    /// Whether the next batch is assembled on another thread.
    public let prefetch: Bool
    /// Seed of the shuffling and of random transforms.
    public let seed: UInt64
    /// Epochs started so far; the next iteration uses this epoch's order. Set it to resume.
    public var epoch = 0

    /// Creates the loader.
    public init(_ dataset: Dataset, batchSize: Int, shuffle: Bool = false, seed: UInt64 = 0,
                dropLast: Bool = false, prefetch: Bool = true) {
        require(batchSize > 0, "DataLoader: batch size \(batchSize) must be positive")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.prefetch = prefetch
    }

    /// Number of batches in one epoch.
    public var count: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// The example order of `epoch`: a seeded Fisher–Yates shuffle, or 0..<n.
    public func order(epoch: Int) -> [Int] {
        var indices = Array(0..<dataset.count)
        guard shuffle else { return indices }
        var rng = RandomGenerator(seed: seed &+ 0x9E37_79B9 &* UInt64(epoch + 1))
        for i in stride(from: indices.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            indices.swapAt(i, j)
        }
        return indices
    }

    /// Assembles batch `b` of `order` (deterministic: transforms draw from a generator seeded
    /// by the loader's seed, the epoch and the batch).
    func makeBatch(_ b: Int, order: [Int], epoch: Int) -> Batch {
        let start = b * batchSize, end = Swift.min(start + batchSize, order.count)
        var rng = RandomGenerator(seed: seed ^ (UInt64(epoch) << 32) ^ UInt64(b) &* 0x2545_F491_4F6C_DD1D)
        let examples = (start..<end).map { dataset.example(at: order[$0], generator: &rng) }
        let shape = examples[0].input.shape
        let per = Shape.count(shape)
        let inputs = Tensor.make(shape: [examples.count] + shape) { out in
            for (i, e) in examples.enumerated() {
                require(e.input.shape == shape, "DataLoader: example shapes \(shape) and \(e.input.shape) differ")
                e.input.withUnsafeBufferPointer { src in
                    (out.baseAddress! + i * per).update(from: src.baseAddress!, count: per)
                }
            }
        }
        return Batch(inputs: inputs, labels: examples.map(\.label))
    }

    /// Starts an epoch.
    public func makeIterator() -> Iterator {
        defer { epoch += 1 }
        return Iterator(loader: self, epoch: epoch)
    }

    /// Iterates one epoch's batches, preparing the next one in the background.
    public final class Iterator: IteratorProtocol {
        let loader: DataLoader
        let epoch: Int
        let order: [Int]
        var position = 0
        private var pending: (DispatchSemaphore, Box)?
        private static let queue = DispatchQueue(label: "DeepStitch.DataLoader.prefetch")

        final class Box { var batch: Batch? }

        init(loader: DataLoader, epoch: Int) {
            self.loader = loader
            self.epoch = epoch
            order = loader.order(epoch: epoch)
            startPrefetch()
        }

        private func startPrefetch() {
            guard loader.prefetch, position < loader.count else { pending = nil; return }
            let semaphore = DispatchSemaphore(value: 0), box = Box()
            let (b, order, epoch, loader) = (position, order, epoch, loader)
            Self.queue.async {
                box.batch = loader.makeBatch(b, order: order, epoch: epoch)
                semaphore.signal()
            }
            pending = (semaphore, box)
        }

        /// The next batch, or nil at the end of the epoch.
        public func next() -> Batch? {
            guard position < loader.count else { return nil }
            let batch: Batch
            if let (semaphore, box) = pending {
                semaphore.wait()
                batch = box.batch!
            } else {
                batch = loader.makeBatch(position, order: order, epoch: epoch)
            }
            position += 1
            startPrefetch()
            return batch
        }

        deinit {
            // Do not leave a prefetch running against a finished iterator.
            pending?.0.wait()
        }
    }
}
