import DeepCore

/// Counts of predicted against true classes that add up over ranks (``ConfusionMatrix``,
/// ``SegmentationMetrics``): each rank counts its own share, the sums are the whole's.
protocol ClassCountTable {
    var classCount: Int { get }
    /// The counts, true class after true class (`classCount × classCount`).
    var flatCounts: [Int] { get }
    /// The table of `counts`, laid out as ``flatCounts`` (sums of counts from several ranks).
    init(classCount: Int, counts: ArraySlice<Double>)
}

extension ClassCountTable {
    /// The table with the counts of every rank of `group` (one all-reduce).
    func countsSummed(over group: ProcessGroup) -> Self {
        Self(classCount: classCount, counts: group.allReduce(flatCounts.map(Double.init))[...])
    }
}

extension ConfusionMatrix: ClassCountTable {
    /// The matrix of every rank's predictions together: the counts summed over the ranks of
    /// `group` (each rank evaluated its own share of the examples). Every rank gets the sum.
    public func summed(over group: ProcessGroup) -> ConfusionMatrix { countsSummed(over: group) }

    var flatCounts: [Int] { Array(matrix.joined()) }

    init(classCount: Int, counts: ArraySlice<Double>) {
        self.init(classCount: classCount)
        let counts = Array(counts)
        matrix = (0..<classCount).map { row in counts[(row * classCount)..<((row + 1) * classCount)].map { Int($0) } }
    }
}

extension SegmentationMetrics: ClassCountTable {
    /// The pixel counts of every rank together, summed over the ranks of `group`.
    public func summed(over group: ProcessGroup) -> SegmentationMetrics { countsSummed(over: group) }

    var flatCounts: [Int] { counts }

    init(classCount: Int, counts: ArraySlice<Double>) {
        self.init(classCount: classCount)
        self.counts = counts.map { Int($0) }
    }
}
