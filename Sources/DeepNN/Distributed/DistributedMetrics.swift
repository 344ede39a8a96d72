import DeepCore

extension ConfusionMatrix {
    /// The matrix of every rank's predictions together: the counts summed over the ranks of
    /// `group` (each rank evaluated its own share of the examples). Every rank gets the sum.
    public func summed(over group: ProcessGroup) -> ConfusionMatrix {
        guard group.worldSize > 1 else { return self }
        let counts = group.allReduce(matrix.flatMap { $0.map(Double.init) })
        var total = ConfusionMatrix(classCount: classCount)
        total.matrix = (0..<classCount).map { row in counts[(row * classCount)..<((row + 1) * classCount)].map { Int($0) } }
        return total
    }
}
