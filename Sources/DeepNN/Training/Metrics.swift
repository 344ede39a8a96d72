import DeepCore

/// Counts of predicted against true classes: `matrix[t][p]` is the number of examples of class t
/// predicted as p. Precision, recall and F1 follow scikit-learn's definitions (0 where undefined).
public struct ConfusionMatrix {
    /// Number of classes.
    public let classCount: Int
    /// `matrix[true][predicted]`.
    public internal(set) var matrix: [[Int]]

    /// An empty matrix for `classCount` classes.
    public init(classCount: Int) {
        self.classCount = classCount
        matrix = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
    }

    /// A matrix filled from predictions and labels.
    public init(predictions: [Int], labels: [Int], classCount: Int) {
        self.init(classCount: classCount)
        add(predictions: predictions, labels: labels)
    }

    /// Adds examples.
    public mutating func add(predictions: [Int], labels: [Int]) {
        require(predictions.count == labels.count, "ConfusionMatrix: \(predictions.count) predictions for \(labels.count) labels")
        for (p, t) in zip(predictions, labels) {
            require(p >= 0 && p < classCount && t >= 0 && t < classCount,
                    "ConfusionMatrix: class \(t) or prediction \(p) outside 0..<\(classCount)")
            matrix[t][p] += 1
        }
    }

    /// Number of examples counted.
    public var total: Int { matrix.reduce(0) { $0 + $1.reduce(0, +) } }
    /// Correct predictions per class.
    public var truePositives: [Int] { (0..<classCount).map { matrix[$0][$0] } }
    /// Examples per true class.
    public var support: [Int] { matrix.map { $0.reduce(0, +) } }
    /// Predictions per class.
    public var predictedCounts: [Int] { (0..<classCount).map { p in matrix.reduce(0) { $0 + $1[p] } } }

    /// Fraction of examples predicted correctly.
    public var accuracy: Double { total == 0 ? 0 : Double(truePositives.reduce(0, +)) / Double(total) }

    /// TP / (TP + FP) per class.
    public var precision: [Double] { zip(truePositives, predictedCounts).map { ratio($0, $1) } }
    /// TP / (TP + FN) per class.
    public var recall: [Double] { zip(truePositives, support).map { ratio($0, $1) } }
    /// Harmonic mean of precision and recall per class.
    public var f1: [Double] {
        zip(truePositives, zip(predictedCounts, support)).map { tp, counts in ratio(2 * tp, counts.0 + counts.1) }
    }

    /// Unweighted mean over classes of precision.
    public var macroPrecision: Double { mean(precision) }
    /// Unweighted mean over classes of recall.
    public var macroRecall: Double { mean(recall) }
    /// Unweighted mean over classes of F1.
    public var macroF1: Double { mean(f1) }
    /// Micro-averaged F1 (equals accuracy for single-label classification).
    public var microF1: Double {
        let tp = truePositives.reduce(0, +)
        return ratio(2 * tp, predictedCounts.reduce(0, +) + support.reduce(0, +))
    }

    private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
    private func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
}

/// Class predictions from logits or probabilities (N, C): the arg-max of each row.
public func predictedClasses(_ logits: Tensor) -> [Int] {
    require(logits.rank == 2, "predictedClasses: logits of shape \(logits.shape), expected (N, C)")
    return logits.argmax(axis: 1).scalars.map { Int($0) }
}

/// Fraction of rows of `logits` (N, C) whose arg-max is the label.
public func accuracy(_ logits: Tensor, _ labels: [Int]) -> Double {
    ConfusionMatrix(predictions: predictedClasses(logits), labels: labels, classCount: logits.shape[1]).accuracy
}

/// Fraction of rows of `logits` (N, C) whose label is among the `k` largest scores.
public func topKAccuracy(_ logits: Tensor, _ labels: [Int], k: Int) -> Double {
    require(logits.rank == 2 && logits.shape[0] == labels.count, "topKAccuracy: logits \(logits.shape) for \(labels.count) labels")
    let c = logits.shape[1], values = logits.scalars
    var hits = 0
    for (i, label) in labels.enumerated() {
        let row = values[(i * c)..<((i + 1) * c)]
        let target = row[row.startIndex + label]
        // Rank = number of scores strictly greater (ties count in the label's favour, like torch.topk's first-k).
        if row.filter({ $0 > target }).count < k { hits += 1 }
    }
    return labels.isEmpty ? 0 : Double(hits) / Double(labels.count)
}

/// Intersection over union per class of two label maps of equal length (segmentation); NaN
/// for a class absent from both.
public func intersectionOverUnion(predictions: [Int], labels: [Int], classCount: Int) -> [Double] {
    let cm = ConfusionMatrix(predictions: predictions, labels: labels, classCount: classCount)
    return (0..<classCount).map { c in
        let tp = cm.matrix[c][c], union = cm.support[c] + cm.predictedCounts[c] - tp
        return union == 0 ? .nan : Double(tp) / Double(union)
    }
}

/// Dice coefficient 2|A∩B| / (|A| + |B|) per class of two label maps (segmentation); NaN for a
/// class absent from both.
public func diceCoefficient(predictions: [Int], labels: [Int], classCount: Int) -> [Double] {
    let cm = ConfusionMatrix(predictions: predictions, labels: labels, classCount: classCount)
    return (0..<classCount).map { c in
        let denominator = cm.support[c] + cm.predictedCounts[c]
        return denominator == 0 ? .nan : 2 * Double(cm.matrix[c][c]) / Double(denominator)
    }
}
