import DeepCore

extension ConfusionMatrix {
    /// The matrix of every rank's predictions together: the counts summed over the ranks of
    /// `group` (each rank evaluated its own share of the examples). Every rank gets the sum.
    public func summed(over group: ProcessGroup) -> ConfusionMatrix {
        ConfusionMatrix(classCount: classCount, counts: group.allReduce(matrix.joined().map(Double.init))[...])
    }

    /// The matrix of `counts`, row after row (sums of counts from several ranks).
    init(classCount: Int, counts: ArraySlice<Double>) {
        self.init(classCount: classCount)
        let counts = Array(counts)
        matrix = (0..<classCount).map { row in counts[(row * classCount)..<((row + 1) * classCount)].map { Int($0) } }
    }
}

extension SegmentationMetrics {
    /// The pixel counts of every rank together, summed over the ranks of `group`.
    public func summed(over group: ProcessGroup) -> SegmentationMetrics {
        SegmentationMetrics(classCount: classCount, counts: group.allReduce(counts.map(Double.init))[...])
    }

    /// The metrics of `counts` (sums of counts from several ranks).
    init(classCount: Int, counts: ArraySlice<Double>) {
        self.init(classCount: classCount)
        self.counts = counts.map { Int($0) }
    }
}
