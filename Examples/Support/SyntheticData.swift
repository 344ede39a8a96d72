import DeepNN
import Foundation

// Small synthetic data sets that the examples learn in seconds, standing in for the downloads
// of a tutorial (torchvision.datasets). Each is fixed by its seed.

/// The classic "spiral" toy set (CS231n): `classes` interleaved arms of 2-D points, not linearly
/// separable. Point i of arm k lies at radius r = i/(n−1) and angle 4·(k + r) + noise·N(0, 1).
///
/// - Returns: inputs (classes·n, 2) and the arm of each point, the arms in turn.
public func spirals(pointsPerClass n: Int, classes: Int = 3, noise: Float = 0.2, seed: UInt64) -> TensorDataset {
    var generator = RandomGenerator(seed: seed)
    var points: [Float] = [], labels: [Int] = []
    for k in 0..<classes {
        for i in 0..<n {
            let r = Float(i) / Float(n - 1)
            let angle = 4 * (Float(k) + r) + noise * generator.nextNormalPair().0
            points += [r * sin(angle), r * cos(angle)]
            labels.append(k)
        }
    }
    return TensorDataset(inputs: Tensor(points, shape: [classes * n, 2]), labels: labels)
}

/// What ``squareImages(count:side:channels:label:seed:)`` labels an image with.
public enum SquareLabel {
    /// The quadrant of the square: 0 top left, 1 top right, 2 bottom left, 3 bottom right.
    case quadrant
    /// The size of the square: 0 small (side/8), 1 medium (side/4), 2 large (side/2).
    case size

    /// Number of classes.
    public var classCount: Int { self == .quadrant ? 4 : 3 }
}

/// Images of Gaussian noise (std 0.3) with one bright square (+1 in every channel), labelled by
/// the square's quadrant (sides side/4…side/2 − 1, wholly inside the quadrant) or size (anywhere).
///
/// - Returns: inputs (count, channels, side, side) and labels, the classes in turn.
public func squareImages(count: Int, side: Int, channels: Int = 1, label kind: SquareLabel, seed: UInt64) -> TensorDataset {
    var generator = RandomGenerator(seed: seed)
    let images = Tensor.randn([count, channels, side, side], std: 0.3, generator: &generator)
    let labels = (0..<count).map { $0 % kind.classCount }
    images.withUnsafeMutableBufferPointer { pixels in
        func random(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &generator) }
        for (i, label) in labels.enumerated() {
            let size: Int, top: Int, left: Int
            switch kind {
            case .quadrant:
                size = random(side / 4...side / 2 - 1)
                top = (label / 2) * side / 2 + random(0...side / 2 - size)
                left = (label % 2) * side / 2 + random(0...side / 2 - size)
            case .size:
                size = [side / 8, side / 4, side / 2][label]
                (top, left) = (random(0...side - size), random(0...side - size))
            }
            for c in 0..<channels {
                for row in top..<(top + size) {
                    for column in left..<(left + size) { pixels[((i * channels + c) * side + row) * side + column] += 1 }
                }
            }
        }
    }
    return TensorDataset(inputs: images, labels: labels)
}
