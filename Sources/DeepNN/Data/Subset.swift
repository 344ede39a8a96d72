import DeepCore
import Foundation

/// The examples of `dataset` at `indices`, in that order (`torch.utils.data.Subset`): example
/// `i` of the subset is example `indices[i]` of the dataset.
///
///     let firstHundred = Subset(train, indices: Array(0..<100))
public struct Subset: Dataset {
    /// The whole dataset.
    public let dataset: Dataset
    /// Indices into `dataset`.
    public let indices: [Int]

    /// Creates the subset; every index must lie in 0 ..< dataset.count.
    public init(_ dataset: Dataset, indices: [Int]) {
        let n = dataset.count
        if let bad = indices.firstIndex(where: { $0 < 0 || $0 >= n }) {
            require(false, "Subset: index \(indices[bad]) at position \(bad) is out of range for a dataset of \(n) examples")
        }
        self.dataset = dataset
        self.indices = indices
    }

    public var count: Int { indices.count }

    public func example(at index: Int, generator: inout RandomGenerator) -> Example {
        require(index >= 0 && index < indices.count, "Subset: index \(index) is out of range for \(indices.count) examples")
        return dataset.example(at: indices[index], generator: &generator)
    }
}

/// Datasets one after another (`torch.utils.data.ConcatDataset`): the examples of the first,
/// then those of the second, and so on.
public struct ConcatDataset: Dataset {
    /// The datasets concatenated.
    public let datasets: [Dataset]
    /// Running totals of their counts: `cumulativeSizes[i]` examples come from datasets 0…i.
    public let cumulativeSizes: [Int]

    /// Concatenates `datasets` (at least one; empty ones are allowed).
    public init(_ datasets: [Dataset]) {
        require(!datasets.isEmpty, "ConcatDataset: datasets should not be an empty list")
        var total = 0
        cumulativeSizes = datasets.map { total += $0.count; return total }
        self.datasets = datasets
    }

    public var count: Int { cumulativeSizes[cumulativeSizes.count - 1] }

    public func example(at index: Int, generator: inout RandomGenerator) -> Example {
        let (d, local) = location(of: index)
        return datasets[d].example(at: local, generator: &generator)
    }

    /// Which dataset holds example `index`, and its index there: the first dataset whose running
    /// total exceeds `index` (Python's `bisect_right`, so empty datasets are passed over).
    public func location(of index: Int) -> (dataset: Int, index: Int) {
        require(index >= 0 && index < count, "ConcatDataset: index \(index) is out of range for \(count) examples")
        var low = 0, high = cumulativeSizes.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulativeSizes[mid] > index { high = mid } else { low = mid + 1 }
        }
        return (low, low == 0 ? index : index - cumulativeSizes[low - 1])
    }
}

/// Splits `dataset` at random into non-overlapping subsets of the given sizes, which must add up
/// to its count (`torch.utils.data.random_split(dataset, lengths)`): a random permutation of the
/// indices is cut into consecutive runs. The same seed gives the same split on every run (the
/// permutation is the library's generator's, not PyTorch's).
///
///     let parts = randomSplit(train, sizes: [55_000, 5_000], seed: 0)   // training, validation
public func randomSplit(_ dataset: Dataset, sizes: [Int], seed: UInt64) -> [Subset] {
    if let bad = sizes.firstIndex(where: { $0 < 0 }) {
        require(false, "randomSplit: size \(sizes[bad]) at index \(bad) is negative")
    }
    let (total, overflow) = sizes.reduce((0, false)) { sum, size in
        let (s, o) = sum.0.addingReportingOverflow(size)
        return (s, sum.1 || o)
    }
    require(!overflow && total == dataset.count,
            "randomSplit: sizes \(sizes) do not add up to the dataset's \(dataset.count) examples")
    var generator = RandomGenerator(seed: seed)
    let permutation = randomPermutation(total, generator: &generator)
    var start = 0
    return sizes.map { size in
        defer { start += size }
        return Subset(dataset, indices: Array(permutation[start..<start + size]))
    }
}

/// Splits `dataset` at random into subsets holding the given fractions of it, which must add up
/// to 1 (`random_split` with fractions): each size is ⌊count · fraction⌋, and the examples left
/// over go one each to the subsets in turn from the first (round-robin), as PyTorch does.
///
///     let parts = randomSplit(data, fractions: [0.8, 0.1, 0.1], seed: 0)
public func randomSplit(_ dataset: Dataset, fractions: [Double], seed: UInt64) -> [Subset] {
    randomSplit(dataset, sizes: randomSplitSizes(count: dataset.count, fractions: fractions), seed: seed)
}

/// The sizes ``randomSplit(_:fractions:seed:)`` gives `count` examples (PyTorch's rule).
public func randomSplitSizes(count: Int, fractions: [Double]) -> [Int] {
    require(!fractions.isEmpty, "randomSplit: no fractions")
    if let bad = fractions.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
        require(false, "randomSplit: fraction \(fractions[bad]) at index \(bad) is not between 0 and 1")
    }
    // Python's math.isclose(sum, 1) with its relative tolerance 1e-9.
    let sum = fractions.reduce(0, +)
    require(abs(sum - 1) <= 1e-9 * max(sum, 1), "randomSplit: fractions \(fractions) add up to \(sum), not 1")
    var sizes = fractions.map { Int((Double(count) * $0).rounded(.down)) }
    let remainder = count - sizes.reduce(0, +)
    for i in 0..<max(remainder, 0) { sizes[i % sizes.count] += 1 }
    return sizes
}
