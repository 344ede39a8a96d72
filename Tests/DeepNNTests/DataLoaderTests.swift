import XCTest
import DeepCore
import DeepNN
import Foundation

/// Samplers and the DataLoader's worker threads: the batches depend on the seeds only, never on
/// the number of workers; prefetching is bounded.
final class DataLoaderTests: XCTestCase {
    /// 60 random 28×28 images, augmented by a random crop and flip.
    func augmentedImages() -> FashionMNIST {
        var g = RandomGenerator(seed: 21)
        let pixels = (0..<(60 * 784)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        return FashionMNIST(pixels: pixels, labels: (0..<60).map { $0 % 10 },
                            transform: Compose([ToTensor(), RandomCrop(size: 24, padding: 2), RandomHorizontalFlip()]))
    }

    /// Two epochs of `loader`: each batch's labels and input values.
    func twoEpochs(_ loader: DataLoader) -> [[([Int], [Float])]] {
        (0..<2).map { _ in loader.map { ($0.labels, $0.inputs.scalars) } }
    }

    func assertSameBatches(_ a: [[([Int], [Float])]], _ b: [[([Int], [Float])]], _ message: String,
                           file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.map { $0.map(\.0) }, b.map { $0.map(\.0) }, "\(message): labels", file: file, line: line)
        XCTAssertEqual(a.map { $0.map(\.1) }, b.map { $0.map(\.1) }, "\(message): inputs", file: file, line: line)
    }

    /// Shuffled, randomly augmented batches (the last one partial) are identical on 0, 1 and 3
    /// workers, with any prefetch depth, and with the `prefetch:` spelling.
    func testBatchesDoNotDependOnTheNumberOfWorkers() {
        let data = augmentedImages()
        let reference = twoEpochs(DataLoader(data, batchSize: 7, shuffle: true, seed: 11))
        XCTAssertEqual(reference[0].map(\.0.count), [7, 7, 7, 7, 7, 7, 7, 7, 4])
        XCTAssertNotEqual(reference[0].map(\.0), reference[1].map(\.0), "each epoch its own order")
        for (workers, factor) in [(1, 1), (1, 2), (3, 1), (3, 2), (8, 4)] {
            let loader = DataLoader(data, batchSize: 7, shuffle: true, seed: 11, numWorkers: workers, prefetchFactor: factor)
            XCTAssertTrue(loader.prefetch)
            assertSameBatches(twoEpochs(loader), reference, "\(workers) workers, prefetch factor \(factor)")
        }
        for prefetch in [false, true] {
            let loader = DataLoader(data, batchSize: 7, shuffle: true, seed: 11, prefetch: prefetch)
            XCTAssertEqual(loader.numWorkers, prefetch ? 1 : 0)
            assertSameBatches(twoEpochs(loader), reference, "prefetch \(prefetch)")
        }
        // A sampler's draws, too.
        let sampler = WeightedRandomSampler(weights: (0..<60).map { Double($0 % 4) }, numSamples: 40, seed: 2)
        let sampled = twoEpochs(DataLoader(data, batchSize: 6, seed: 5, sampler: sampler))
        XCTAssertEqual(sampled.map { $0.flatMap(\.0) }, [0, 1].map { sampler.indices(epoch: $0).map { $0 % 10 } })
        assertSameBatches(twoEpochs(DataLoader(data, batchSize: 6, seed: 5, sampler: sampler, numWorkers: 3)), sampled, "sampler, 3 workers")
        // A loader resumed at an epoch gives that epoch's batches.
        let resumed = DataLoader(data, batchSize: 7, shuffle: true, seed: 11, numWorkers: 2)
        resumed.epoch = 1
        assertSameBatches([resumed.map { ($0.labels, $0.inputs.scalars) }], [reference[1]], "resumed at epoch 1")
    }

    /// Examples that take different times, counting the calls and the threads that made them.
    final class SlowExamples: Dataset, @unchecked Sendable {
        let count: Int
        private let lock = NSLock()
        private var calls = 0
        private var threads = Set<UInt>()
        init(count: Int) { self.count = count }

        var made: Int { lock.lock(); defer { lock.unlock() }; return calls }
        var threadCount: Int { lock.lock(); defer { lock.unlock() }; return threads.count }

        func example(at index: Int, generator: inout RandomGenerator) -> Example {
            usleep(UInt32(index * 7919 % 5) * 400)
            lock.lock()
            calls += 1
            threads.insert(UInt(pthread_self()))
            lock.unlock()
            return Example(input: Tensor([Float(index), Float(generator.nextUniform())]), label: index)
        }
    }

    /// Batches that finish out of order on four workers still come in the sampler's order.
    func testWorkersKeepTheOrderWhenBatchesFinishOutOfOrder() {
        let data = SlowExamples(count: 40)
        let loader = DataLoader(data, batchSize: 2, shuffle: true, seed: 4, numWorkers: 4)
        let batches = Array(loader)
        XCTAssertEqual(batches.flatMap(\.labels), loader.order(epoch: 0))
        XCTAssertEqual(batches.flatMap { $0.inputs.scalars.enumerated().filter { $0.offset % 2 == 0 }.map { Int($0.element) } },
                       loader.order(epoch: 0), "inputs stay with their labels")
        XCTAssertGreaterThan(data.threadCount, 1, "made on several threads")
        let inline = SlowExamples(count: 40)
        XCTAssertEqual(Array(DataLoader(inline, batchSize: 2, shuffle: true, seed: 4)).map(\.inputs.scalars), batches.map(\.inputs.scalars))
        XCTAssertEqual(inline.threadCount, 1, "numWorkers 0: on the caller's thread")
    }

    /// Waits up to 10 s for `condition`.
    func waitUntil(_ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !condition(), Date() < deadline { usleep(1000) }
    }

    /// Workers prepare at most prefetchFactor · numWorkers batches past the one in use; without
    /// workers nothing is made before it is asked for; an iterator dropped mid-epoch stops its
    /// workers.
    func testPrefetchingIsBoundedAndStopsWithTheIterator() {
        let data = SlowExamples(count: 60)
        let loader = DataLoader(data, batchSize: 3, numWorkers: 2, prefetchFactor: 2)
        do {
            let iterator = loader.makeIterator()
            XCTAssertEqual(iterator.next()?.labels, [0, 1, 2])
            let bound = (1 + 2 * 2) * 3
            waitUntil { data.made >= bound }
            usleep(100_000)
            XCTAssertEqual(data.made, bound, "batch 0 in use and four ahead")
            XCTAssertEqual(iterator.next()?.labels, [3, 4, 5])
            waitUntil { data.made >= bound + 3 }
            usleep(100_000)
            XCTAssertEqual(data.made, bound + 3)
        }
        // The iterator is gone: its workers finished and made nothing more.
        let made = data.made
        usleep(100_000)
        XCTAssertEqual(data.made, made)
        // The next epoch runs to its end.
        XCTAssertEqual(Array(loader).flatMap(\.labels), Array(0..<60))

        let inline = SlowExamples(count: 60)
        let iterator = DataLoader(inline, batchSize: 3).makeIterator()
        _ = iterator.next()
        usleep(50_000)
        XCTAssertEqual(inline.made, 3, "numWorkers 0 makes a batch when asked")
    }

    /// Chi-square statistic of `counts` against `expected` probabilities (categories with
    /// probability 0 must have count 0).
    func chiSquare(_ counts: [Int], _ expected: [Double], file: StaticString = #filePath, line: UInt = #line) -> Double {
        let n = Double(counts.reduce(0, +))
        var statistic = 0.0
        for (c, p) in zip(counts, expected) {
            if p == 0 { XCTAssertEqual(c, 0, "drew an index of weight 0", file: file, line: line); continue }
            statistic += (Double(c) - n * p) * (Double(c) - n * p) / (n * p)
        }
        return statistic
    }

    func histogram(_ indices: [Int], _ categories: Int) -> [Int] {
        var counts = Array(repeating: 0, count: categories)
        for i in indices { counts[i] += 1 }
        return counts
    }

    /// With replacement, frequencies follow the weights (chi-square below its 0.1 % point for 3
    /// degrees of freedom, 16.27); seeded per epoch.
    func testWeightedRandomSamplerWithReplacementFollowsTheWeights() {
        let weights: [Double] = [1, 2, 3, 4, 0]
        let sampler = WeightedRandomSampler(weights: weights, numSamples: 20_000, seed: 3)
        let drawn = sampler.indices(epoch: 0)
        XCTAssertEqual(drawn.count, 20_000)
        XCTAssertEqual(sampler.count, 20_000)
        XCTAssertLessThan(chiSquare(histogram(drawn, 5), weights.map { $0 / 10 }), 16.27)
        XCTAssertEqual(sampler.indices(epoch: 0), drawn, "same seed and epoch, same draws")
        XCTAssertNotEqual(sampler.indices(epoch: 1), drawn, "each epoch its own draws")
        XCTAssertNotEqual(WeightedRandomSampler(weights: weights, numSamples: 20_000, seed: 4).indices(epoch: 0), drawn)
        // One positive weight: always that index.
        XCTAssertEqual(WeightedRandomSampler(weights: [0, 0, 2.5], numSamples: 4).indices(epoch: 0), [2, 2, 2, 2])
    }

    /// Without replacement, indices are distinct, never of weight 0, and drawn one after another
    /// with probabilities proportional to the remaining weights: the first and second draws have
    /// their exact distributions (chi-square below 18.47, the 0.1 % point for 4 degrees of freedom).
    func testWeightedRandomSamplerWithoutReplacementDrawsDistinctIndices() {
        let weights: [Double] = [5, 1, 1, 1, 0, 2]
        let all = WeightedRandomSampler(weights: weights, numSamples: 5, replacement: false, seed: 1)
        for epoch in 0..<20 {
            XCTAssertEqual(all.indices(epoch: epoch).sorted(), [0, 1, 2, 3, 5], "epoch \(epoch)")
        }
        let pairs = WeightedRandomSampler(weights: weights, numSamples: 2, replacement: false, seed: 9)
        let draws = (0..<6000).map { pairs.indices(epoch: $0) }
        XCTAssertTrue(draws.allSatisfy { $0.count == 2 && $0[0] != $0[1] })
        let total = weights.reduce(0, +)
        let first = weights.map { $0 / total }
        let second = weights.indices.map { j in
            weights.indices.filter { $0 != j }.reduce(0.0) { $0 + weights[$1] / total * weights[j] / (total - weights[$1]) }
        }
        XCTAssertEqual(second.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertLessThan(chiSquare(histogram(draws.map { $0[0] }, 6), first), 18.47, "first draws")
        XCTAssertLessThan(chiSquare(histogram(draws.map { $0[1] }, 6), second), 18.47, "second draws")
    }

    /// The shuffling loader is a RandomSampler of the loader's seed; the other samplers.
    func testSamplers() {
        let loader = DataLoader(SlowExamples(count: 9), batchSize: 4, shuffle: true, seed: 3)
        let random = RandomSampler(count: 9, seed: 3)
        for epoch in 0..<3 { XCTAssertEqual(loader.order(epoch: epoch), random.indices(epoch: epoch)) }
        XCTAssertEqual(Set(random.indices(epoch: 5)), Set(0..<9))
        XCTAssertEqual(SequentialSampler(count: 4).indices(epoch: 2), [0, 1, 2, 3])
        XCTAssertEqual(DataLoader(SlowExamples(count: 9), batchSize: 4).order(epoch: 1), Array(0..<9))
        let subset = SubsetRandomSampler(indices: [8, 3, 5, 1], seed: 2)
        XCTAssertEqual(subset.indices(epoch: 0).sorted(), [1, 3, 5, 8])
        XCTAssertEqual(subset.indices(epoch: 0), subset.indices(epoch: 0))
        let sampled = DataLoader(SlowExamples(count: 9), batchSize: 3, sampler: subset, dropLast: true)
        XCTAssertEqual(sampled.count, 1)
        XCTAssertEqual(sampled.map(\.labels), [Array(subset.indices(epoch: 0).prefix(3))])
    }
}
