import DeepCore
import Foundation

/// The indices a ``DataLoader`` visits in one epoch, in order (`torch.utils.data.Sampler`).
///
/// An epoch's indices are a pure function of the sampler (its seed) and the epoch number, drawn
/// up front: a loader gives the same batches on every run, on any number of worker threads, and
/// after resuming at an epoch.
public protocol Sampler {
    /// Indices per epoch.
    var count: Int { get }
    /// The `count` indices of epoch `epoch` (0-based).
    func indices(epoch: Int) -> [Int]
}

/// 0, 1, …, count − 1 every epoch (`SequentialSampler`).
public struct SequentialSampler: Sampler {
    public let count: Int

    /// Creates the sampler over `count` examples.
    public init(count: Int) {
        require(count >= 0, "SequentialSampler: count \(count) is negative")
        self.count = count
    }

    public func indices(epoch: Int) -> [Int] { Array(0..<count) }
}

/// A new random order of 0 ..< count each epoch, the same for the same seed and epoch
/// (`RandomSampler` without replacement; a seeded Fisher–Yates shuffle).
public struct RandomSampler: Sampler {
    public let count: Int
    /// Seed of the orders.
    public let seed: UInt64

    /// Creates the sampler over `count` examples.
    public init(count: Int, seed: UInt64 = 0) {
        require(count >= 0, "RandomSampler: count \(count) is negative")
        self.count = count
        self.seed = seed
    }

    public func indices(epoch: Int) -> [Int] {
        var generator = RandomGenerator.forEpoch(epoch, seed: seed, of: "RandomSampler")
        return randomPermutation(count, generator: &generator)
    }
}

/// The given indices in a new random order each epoch (`SubsetRandomSampler`).
public struct SubsetRandomSampler: Sampler {
    /// The indices sampled.
    public let subset: [Int]
    /// Seed of the orders.
    public let seed: UInt64

    /// Creates the sampler of `indices`.
    public init(indices: [Int], seed: UInt64 = 0) {
        subset = indices
        self.seed = seed
    }

    public var count: Int { subset.count }

    public func indices(epoch: Int) -> [Int] {
        var generator = RandomGenerator.forEpoch(epoch, seed: seed, of: "SubsetRandomSampler")
        return randomPermutation(count, generator: &generator).map { subset[$0] }
    }
}

/// `numSamples` indices of 0 ..< weights.count drawn each epoch with probabilities proportional
/// to `weights` (`WeightedRandomSampler`, i.e. `torch.multinomial(weights, numSamples,
/// replacement)`), e.g. to balance classes: weight each example by 1 / its class's count.
///
/// With replacement every draw is independent; without, an index drawn is not drawn again and
/// the indices come in the order they were drawn. Draws are seeded per epoch (the same seed and
/// epoch give the same indices, not PyTorch's stream).
public struct WeightedRandomSampler: Sampler {
    /// The weights, one per example, not necessarily summing to 1.
    public let weights: [Double]
    /// Indices drawn per epoch.
    public let numSamples: Int
    /// Whether an index may be drawn more than once in an epoch.
    public let replacement: Bool
    /// Seed of the draws.
    public let seed: UInt64
    /// Running sums of the weights, for draws with replacement.
    private let cumulative: [Double]

    /// Creates the sampler. Weights must be finite and non-negative with a positive sum; without
    /// replacement `numSamples` may not exceed the number of positive weights.
    public init(weights: [Double], numSamples: Int, replacement: Bool = true, seed: UInt64 = 0) {
        require(numSamples > 0, "WeightedRandomSampler: numSamples should be a positive integer value, but got numSamples=\(numSamples)")
        require(!weights.isEmpty, "WeightedRandomSampler: no weights")
        if let bad = weights.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            require(false, "WeightedRandomSampler: weight \(weights[bad]) at index \(bad) is not a finite non-negative number")
        }
        var sums: [Double] = [], total = 0.0
        sums.reserveCapacity(weights.count)
        for w in weights { total += w; sums.append(total) }
        require(total > 0, "WeightedRandomSampler: the weights sum to 0")
        let positive = weights.lazy.filter { $0 > 0 }.count
        require(replacement || numSamples <= positive,
                "WeightedRandomSampler: cannot draw \(numSamples) samples without replacement from \(positive) positive weights")
        self.weights = weights
        self.numSamples = numSamples
        self.replacement = replacement
        self.seed = seed
        cumulative = sums
    }

    public var count: Int { numSamples }

    public func indices(epoch: Int) -> [Int] {
        var generator = RandomGenerator.forEpoch(epoch, seed: seed, of: "WeightedRandomSampler")
        return replacement ? drawWithReplacement(&generator) : drawWithoutReplacement(&generator)
    }

    /// Inverse-CDF draws: the first index whose running sum exceeds u · total (never an index of
    /// weight 0).
    private func drawWithReplacement(_ generator: inout RandomGenerator) -> [Int] {
        let total = cumulative[cumulative.count - 1]
        return (0..<numSamples).map { _ in
            let u = generator.nextUnitDouble() * total
            var low = 0, high = cumulative.count - 1
            while low < high {
                let mid = (low + high) / 2
                if cumulative[mid] > u { high = mid } else { low = mid + 1 }
            }
            return low
        }
    }

    /// Sequential draws without replacement, all at once: each positive-weight index gets the key
    /// E / w with E exponential; the indices by increasing key are distributed as drawn one after
    /// another with probabilities proportional to the remaining weights (as `torch.multinomial`,
    /// which takes the largest w / E).
    private func drawWithoutReplacement(_ generator: inout RandomGenerator) -> [Int] {
        var keyed: [(key: Double, index: Int)] = []
        keyed.reserveCapacity(weights.count)
        for (i, w) in weights.enumerated() where w > 0 {
            // 1 − u lies in (0, 1], so the logarithm is finite.
            keyed.append((-log(1 - generator.nextUnitDouble()) / w, i))
        }
        keyed.sort { $0.key < $1.key || ($0.key == $1.key && $0.index < $1.index) }
        return keyed.prefix(numSamples).map(\.index)
    }
}

/// 0 ..< n in a random order (`torch.randperm(n)`): a Fisher–Yates shuffle drawing from
/// `generator` (the permutation differs from PyTorch's, whose generator differs).
func randomPermutation(_ n: Int, generator: inout RandomGenerator) -> [Int] {
    var indices = Array(0..<n)
    for i in stride(from: n - 1, to: 0, by: -1) {
        indices.swapAt(i, Int(generator.next() % UInt64(i + 1)))
    }
    return indices
}

extension RandomGenerator {
    /// The generator of epoch `epoch` of a sampler seeded with `seed`.
    static func forEpoch(_ epoch: Int, seed: UInt64, of sampler: String) -> RandomGenerator {
        require(epoch >= 0, "\(sampler): epoch \(epoch) is negative")
        return RandomGenerator(seed: seed &+ 0x9E37_79B9 &* UInt64(epoch + 1))
    }

    /// A uniform Double in [0, 1) with 53 random bits.
    mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }
}
