import DeepCore
import Foundation

/// A batch of examples: inputs, and targets when the examples carry them, stacked on a new first
/// axis (PyTorch's default collation).
public struct Batch {
    /// (N, …).
    public let inputs: Tensor
    /// N class ids (``Example/label``; 0 for segmentation examples).
    public let labels: [Int]
    /// The examples' dense targets stacked, e.g. masks (N, H, W) of class indices as Float
    /// (``Example/target``); nil when the examples carry none.
    public let targets: Tensor?

    /// Creates a batch; `targets`, when given, has one entry per label on its first axis.
    public init(inputs: Tensor, labels: [Int], targets: Tensor? = nil) {
        require(inputs.shape.first == labels.count, "Batch: \(inputs.shape) inputs for \(labels.count) labels")
        require(targets.map { $0.shape.first == labels.count } ?? true,
                "Batch: \(targets?.shape ?? []) targets for \(labels.count) labels")
        self.inputs = inputs
        self.labels = labels
        self.targets = targets
    }

    /// Examples in the batch.
    public var count: Int { labels.count }

    /// The targets' class indices, flattened in (N, H, W) order: the labels `crossEntropy` takes
    /// for (N, C, H, W) logits; nil when the batch has no targets.
    public var targetLabels: [Int]? {
        targets.map { t in t.withUnsafeBufferPointer { $0.map { Int($0) } } }
    }
}

/// Batches a dataset (`torch.utils.data.DataLoader`): seeded shuffling (or any ``Sampler``) that
/// differs per epoch but is the same on every run, optional dropping of the last partial batch,
/// and batches prepared on `numWorkers` threads ahead of the caller. A batch holds the examples'
/// inputs and labels, and their targets when they carry them (segmentation masks: ``Batch/targets``
/// (N, H, W), ``Batch/targetLabels`` for `crossEntropy`).
///
/// The batches do not depend on `numWorkers`: an epoch's order comes from the sampler, drawn up
/// front, and each batch's random transforms draw from a generator seeded by the loader's seed,
/// the epoch and the batch number, so workers only compute. With `numWorkers` 0 (the default, as
/// in PyTorch) batches are made on the caller's thread when asked for; otherwise the workers keep
/// at most `prefetchFactor · numWorkers` batches ready or under way beyond the one in use.
///
///     let loader = DataLoader(FashionMNIST(split: .train), batchSize: 64, shuffle: true, seed: 0, numWorkers: 2)
///     for epoch in 0..<2 { for batch in loader { ... } }   // each loop is one epoch
///
///     let masks = DataLoader(FashionMNISTMosaic(items: items, count: 20_000), batchSize: 32, seed: 0, dropLast: true, numWorkers: 2)
///     for batch in masks { let loss = crossEntropy(model(batch.inputs), batch.targetLabels!) … }
public final class DataLoader: Sequence {
    /// The dataset batched.
    public let dataset: Dataset
    /// Examples per batch.
    public let batchSize: Int
    /// Whether each epoch visits the examples in a new random order.
    public let shuffle: Bool
    /// The order of the examples each epoch: a ``RandomSampler`` when shuffling, the sampler
    /// given, or a ``SequentialSampler``.
    public let sampler: Sampler
    /// Whether a last batch smaller than `batchSize` is dropped.
    public let dropLast: Bool
    /// Threads preparing batches (0: the caller's thread).
    public let numWorkers: Int
    /// Batches each worker may prepare ahead.
    public let prefetchFactor: Int
    /// Seed of the shuffling and of random transforms.
    public let seed: UInt64
    /// Epochs started so far; the next iteration uses this epoch's order. Set it to resume.
    public var epoch = 0

    /// Whether batches are prepared on other threads.
    public var prefetch: Bool { numWorkers > 0 }

    /// Creates the loader.
    /// - Parameters:
    ///   - shuffle: a new seeded random order each epoch (excludes `sampler`).
    ///   - sampler: the indices of each epoch, e.g. a ``WeightedRandomSampler``.
    ///   - numWorkers: threads preparing batches, 0 for the caller's thread.
    ///   - prefetchFactor: batches each worker may prepare ahead (at least 1).
    public init(_ dataset: Dataset, batchSize: Int, shuffle: Bool = false, seed: UInt64 = 0, sampler: Sampler? = nil,
                dropLast: Bool = false, numWorkers: Int = 0, prefetchFactor: Int = 2) {
        require(batchSize > 0, "DataLoader: batch size \(batchSize) must be positive")
        require(!(shuffle && sampler != nil), "DataLoader: sampler option is mutually exclusive with shuffle")
        require(numWorkers >= 0, "DataLoader: numWorkers \(numWorkers) is negative")
        require(prefetchFactor >= 1, "DataLoader: prefetchFactor \(prefetchFactor) must be at least 1")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.sampler = sampler ?? (shuffle ? RandomSampler(count: dataset.count, seed: seed) : SequentialSampler(count: dataset.count))
        self.dropLast = dropLast
        self.numWorkers = numWorkers
        self.prefetchFactor = prefetchFactor
    }

    /// Creates the loader with the next batch prepared on one other thread (`prefetch`) or on
    /// the caller's (the same as `numWorkers` 1 with `prefetchFactor` 1, or `numWorkers` 0).
    public convenience init(_ dataset: Dataset, batchSize: Int, shuffle: Bool = false, seed: UInt64 = 0,
                            dropLast: Bool = false, prefetch: Bool) {
        self.init(dataset, batchSize: batchSize, shuffle: shuffle, seed: seed, dropLast: dropLast,
                  numWorkers: prefetch ? 1 : 0, prefetchFactor: 1)
    }

    /// Number of batches in one epoch.
    public var count: Int {
        dropLast ? sampler.count / batchSize : (sampler.count + batchSize - 1) / batchSize
    }

    /// The example order of `epoch`: the sampler's indices (a seeded shuffle, or 0..<n).
    public func order(epoch: Int) -> [Int] {
        let indices = sampler.indices(epoch: epoch)
        let n = dataset.count
        if let bad = indices.firstIndex(where: { $0 < 0 || $0 >= n }) {
            require(false, "DataLoader: the sampler's index \(indices[bad]) is out of range for a dataset of \(n) examples")
        }
        return indices
    }

    /// Assembles batch `b` of `order` (deterministic: transforms draw from a generator seeded
    /// by the loader's seed, the epoch and the batch).
    func makeBatch(_ b: Int, order: [Int], epoch: Int) -> Batch {
        let start = b * batchSize, end = Swift.min(start + batchSize, order.count)
        var rng = RandomGenerator(seed: seed ^ (UInt64(epoch) << 32) ^ UInt64(b) &* 0x2545_F491_4F6C_DD1D)
        let examples = (start..<end).map { dataset.example(at: order[$0], generator: &rng) }
        let inputs = Self.collate(examples.map(\.input), what: "example")
        let targets = examples.compactMap(\.target)
        if !targets.isEmpty && targets.count != examples.count {
            let missing = examples.firstIndex { $0.target == nil }!, present = examples.firstIndex { $0.target != nil }!
            require(false, "DataLoader: example \(order[start + missing]) has no target, example \(order[start + present]) has one")
        }
        return Batch(inputs: inputs, labels: examples.map(\.label), targets: targets.isEmpty ? nil : Self.collate(targets, what: "target"))
    }

    /// `parts` (each of one shape) stacked on a new first axis.
    static func collate(_ parts: [Tensor], what: String) -> Tensor {
        let shape = parts[0].shape
        let per = Shape.count(shape)
        return Tensor.make(shape: [parts.count] + shape) { out in
            for (i, part) in parts.enumerated() {
                require(part.shape == shape, "DataLoader: \(what) shapes \(shape) and \(part.shape) differ")
                part.withUnsafeBufferPointer { src in
                    (out.baseAddress! + i * per).update(from: src.baseAddress!, count: per)
                }
            }
        }
    }

    /// The batches of `epoch`, leaving ``epoch`` alone (evaluation, or one batch of a given
    /// epoch): `for batch in IteratorSequence(loader.batches(epoch: 0)) { … }`.
    public func batches(epoch: Int) -> Iterator {
        Iterator(loader: self, epoch: epoch)
    }

    /// Starts an epoch.
    public func makeIterator() -> Iterator {
        defer { epoch += 1 }
        return Iterator(loader: self, epoch: epoch)
    }

    /// Iterates one epoch's batches, in order, made on the caller's thread or by the loader's
    /// workers.
    public final class Iterator: IteratorProtocol {
        let loader: DataLoader
        let epoch: Int
        let order: [Int]
        var position = 0
        private let workers: BatchWorkers?

        init(loader: DataLoader, epoch: Int) {
            self.loader = loader
            self.epoch = epoch
            let order = loader.order(epoch: epoch)
            self.order = order
            workers = loader.numWorkers == 0 || loader.count == 0 ? nil
                : BatchWorkers(threads: loader.numWorkers, batches: loader.count, ahead: loader.numWorkers * loader.prefetchFactor) {
                    loader.makeBatch($0, order: order, epoch: epoch)
                }
        }

        /// The next batch, or nil at the end of the epoch.
        public func next() -> Batch? {
            guard position < loader.count else { return nil }
            defer { position += 1 }
            return workers?.take(position) ?? loader.makeBatch(position, order: order, epoch: epoch)
        }

        deinit {
            // Do not leave workers running against a finished iterator.
            workers?.stop()
        }
    }
}

/// Threads that make an epoch's batches 0 ..< `batches` in order of their numbers, each taking
/// the lowest not yet taken, never more than `ahead` past the last batch handed out; the caller
/// takes them in order.
private final class BatchWorkers: @unchecked Sendable {
    private let condition = NSCondition()
    private let make: (Int) -> Batch
    private let batches: Int, ahead: Int
    /// Batches made and not yet taken.
    private var ready: [Int: Batch] = [:]
    /// The next batch a worker takes on.
    private var nextBatch = 0
    /// Batches handed to the caller.
    private var taken = 0
    private var stopped = false
    private var running: Int

    init(threads: Int, batches: Int, ahead: Int, make: @escaping (Int) -> Batch) {
        self.make = make
        self.batches = batches
        self.ahead = ahead
        running = threads
        for _ in 0..<threads {
            let thread = Thread { [self] in work() }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func work() {
        condition.lock()
        while true {
            while !stopped && nextBatch < batches && nextBatch >= taken + ahead { condition.wait() }
            if stopped || nextBatch >= batches { break }
            let b = nextBatch
            nextBatch += 1
            condition.unlock()
            let batch = make(b)
            condition.lock()
            ready[b] = batch
            condition.broadcast()
        }
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Batch `b`, the one after the last taken, once made.
    func take(_ b: Int) -> Batch {
        condition.lock()
        defer { condition.unlock() }
        while ready[b] == nil { condition.wait() }
        taken = b + 1
        condition.broadcast()
        return ready.removeValue(forKey: b)!
    }

    /// Lets the batches under way finish, starts no other, and waits for the threads to end.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }
}
