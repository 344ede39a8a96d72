import DeepCore

/// Pixel counts of predicted against true classes over segmentation masks, and the figures read
/// from them: per-class intersection over union (IoU, Jaccard) and Dice, their means and the
/// pixel accuracy.
///
/// A class absent from both the predictions and the truth has no IoU or Dice (NaN) and is left
/// out of the means, as `../shared/bench/torch_mosaic_seg.py` computes mean IoU (and as
/// torchmetrics' `JaccardIndex(average="macro")` does for classes that never occur).
///
///     var metrics = SegmentationMetrics(classCount: 11)
///     metrics.add(predictions: predictedPixelClasses(logits), labels: masks)   // logits (N, C, H, W)
///     print(metrics.meanIoU, metrics.meanDice, metrics.pixelAccuracy)
public struct SegmentationMetrics: Equatable {
    /// Number of classes.
    public let classCount: Int
    /// `counts[t * classCount + p]`: pixels of true class t predicted as p.
    public internal(set) var counts: [Int]

    /// Empty counts for `classCount` classes.
    public init(classCount: Int) {
        require(classCount > 0, "SegmentationMetrics: \(classCount) classes")
        self.classCount = classCount
        counts = Array(repeating: 0, count: classCount * classCount)
    }

    /// Adds the pixels of predicted and true class ids of equal count (any layout, the same in both).
    public mutating func add(predictions: [Int], labels: [Int]) {
        require(predictions.count == labels.count, "SegmentationMetrics: \(predictions.count) predictions for \(labels.count) labels")
        let k = classCount
        counts.withUnsafeMutableBufferPointer { c in
            for (p, t) in zip(predictions, labels) {
                require(p >= 0 && p < k && t >= 0 && t < k, "SegmentationMetrics: class \(t) or prediction \(p) outside 0..<\(k)")
                c[t * k + p] += 1
            }
        }
    }

    /// `matrix[true][predicted]` pixel counts.
    public var matrix: [[Int]] { (0..<classCount).map { Array(counts[$0 * classCount ..< ($0 + 1) * classCount]) } }
    /// Pixels counted.
    public var total: Int { counts.reduce(0, +) }
    /// Pixels of each class predicted as it (the intersection).
    public var truePositives: [Int] { (0..<classCount).map { counts[$0 * classCount + $0] } }
    /// True pixels of each class.
    public var support: [Int] { (0..<classCount).map { t in counts[t * classCount ..< (t + 1) * classCount].reduce(0, +) } }
    /// Pixels predicted as each class.
    public var predictedCounts: [Int] {
        (0..<classCount).map { p -> Int in
            var sum = 0
            for t in 0..<classCount { sum += counts[t * classCount + p] }
            return sum
        }
    }

    /// Intersection over union per class, |P ∩ T| / |P ∪ T|; NaN for a class absent from both.
    public var intersectionOverUnion: [Double] {
        let (tp, truth, predicted) = (truePositives, support, predictedCounts)
        return (0..<classCount).map { c -> Double in
            let union = truth[c] + predicted[c] - tp[c]
            return union == 0 ? .nan : Double(tp[c]) / Double(union)
        }
    }

    /// Dice per class, 2|P ∩ T| / (|P| + |T|); NaN for a class absent from both.
    public var dice: [Double] {
        let (tp, truth, predicted) = (truePositives, support, predictedCounts)
        return (0..<classCount).map { c -> Double in
            let sum = truth[c] + predicted[c]
            return sum == 0 ? .nan : 2 * Double(tp[c]) / Double(sum)
        }
    }

    /// Mean of ``intersectionOverUnion`` over the classes present in the predictions or the
    /// truth (0 when none is).
    public var meanIoU: Double { Self.meanOfDefined(intersectionOverUnion) }
    /// Mean of ``dice`` over the classes present in the predictions or the truth.
    public var meanDice: Double { Self.meanOfDefined(dice) }
    /// Fraction of pixels whose class is predicted right.
    public var pixelAccuracy: Double { total == 0 ? 0 : Double(truePositives.reduce(0, +)) / Double(total) }

    private static func meanOfDefined(_ values: [Double]) -> Double {
        let defined = values.filter { !$0.isNaN }
        return defined.isEmpty ? 0 : defined.reduce(0, +) / Double(defined.count)
    }
}

/// The arg-max class of every pixel of `logits` (N, C, H, W) — or any (N, C, …) — in (N, H, W)
/// order, the order `crossEntropy` takes the labels in.
public func predictedPixelClasses(_ logits: Tensor) -> [Int] {
    require(logits.rank >= 2, "predictedPixelClasses: logits of shape \(logits.shape), expected (N, C, …)")
    return logits.argmax(axis: 1).scalars.map { Int($0) }
}
