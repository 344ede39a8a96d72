import DeepCore

/// A segmentation data set built from Fashion-MNIST: 64×64 mosaics of 2 to 4 clothing items, each
/// pixel labelled with the class of the item that shows there (11 classes: 0 background, 1 + the
/// Fashion-MNIST class id).
///
/// One mosaic, drawn from a ``RandomGenerator`` `g` (xoshiro256**, `g.next()` its next 64-bit
/// word) over the N items of the split, in this order:
///
///     k = 2 + g.next() % 3                       // 2, 3 or 4 items
///     for _ in 0 ..< k:
///         j = g.next() % N                       // the item
///         r = g.next() % 37; c = g.next() % 37   // its top-left corner (row, column) in [0, 36]²
///         paste item j at (r, c): where its pixel is greater than the canvas's (strictly, so
///         ties keep the earlier item), the canvas takes the pixel and the class 1 + label[j]
///     label = class where canvas ≥ 64 (of 255), else 0
///
/// The canvas starts at 0 with class 0. A *fixed* split (``init(items:count:seed:)``) draws
/// mosaic 0, 1, … in turn from one generator `RandomGenerator(seed: seed)`, so its first k mosaics
/// are those of any longer split with the same seed; the test split is 2,000 mosaics of the test
/// images with seed 0 (``testSplit(directory:count:)``). A *fresh* data set
/// (``init(items:count:)``) draws each mosaic from the generator the loader passes to
/// ``example(at:generator:)`` (seeded by the loader's seed, the epoch and the batch), so training
/// sees new mosaics every epoch and a resumed run sees the same ones.
///
/// Examples: `input` (1, 64, 64) of pixels / 255, `target` (64, 64) of class ids as Float,
/// `label` 0 (unused). Reproduce in PyTorch with a port of xoshiro256** seeded through SplitMix64
/// as ``RandomGenerator/init(seed:)`` does (`../shared/bench/torch_mosaic_seg.py` draws the same
/// definition from numpy's generator instead: other mosaics, the same statistics).
public struct FashionMNISTMosaic: Dataset {
    /// Side of the canvas.
    public static let canvasSize = 64
    /// Side of an item.
    public static let itemSize = 28
    /// Largest top-left coordinate of an item (64 − 28).
    public static let maxOffset = canvasSize - itemSize
    /// Classes: background and the 10 of Fashion-MNIST.
    public static let classCount = 11
    /// Intensity (of 255) from which a pixel belongs to its item.
    public static let foregroundThreshold: UInt8 = 64
    /// Mosaics of the test split.
    public static let testCount = 2_000
    /// The class names, by id: "background" and Fashion-MNIST's.
    public static let classNames = ["background"] + FashionMNIST.classNames

    /// One mosaic: 64·64 pixels and class ids, row-major.
    public struct Mosaic: Equatable {
        /// Pixel intensities 0…255.
        public var pixels: [UInt8]
        /// Class ids 0…10.
        public var classes: [UInt8]

        /// A mosaic of `pixels` and `classes`, 64·64 each.
        public init(pixels: [UInt8], classes: [UInt8]) {
            self.pixels = pixels
            self.classes = classes
        }
    }

    /// The items mosaics are made of.
    public let items: FashionMNIST
    /// Number of mosaics.
    public let count: Int
    /// The mosaics of a fixed split (nil: drawn fresh from the loader's generator).
    public let fixed: [Mosaic]?

    /// A fixed split: `count` mosaics of `items` drawn in turn from `RandomGenerator(seed: seed)`.
    public init(items: FashionMNIST, count: Int, seed: UInt64) {
        require(count >= 0 && items.count > 0, "FashionMNISTMosaic: \(count) mosaics of \(items.count) items")
        var generator = RandomGenerator(seed: seed)
        self.items = items
        self.count = count
        fixed = (0..<count).map { _ in Self.draw(from: items, generator: &generator) }
    }

    /// `count` mosaics of `items` drawn afresh from the generator each call of
    /// ``example(at:generator:)`` passes (training: new mosaics every epoch).
    public init(items: FashionMNIST, count: Int) {
        require(count >= 0 && items.count > 0, "FashionMNISTMosaic: \(count) mosaics of \(items.count) items")
        self.items = items
        self.count = count
        fixed = nil
    }

    /// The test split: the first `count` (default 2,000) mosaics of the test images with seed 0.
    /// - Throws: ``DatasetError`` when the files are missing or damaged.
    public static func testSplit(directory: String = FashionMNIST.defaultDirectory, count: Int = testCount) throws -> FashionMNISTMosaic {
        FashionMNISTMosaic(items: try FashionMNIST(split: .test, directory: directory, transform: nil), count: count, seed: 0)
    }

    /// Draws one mosaic of `items` from `generator` (the order of draws is in the type's
    /// documentation).
    public static func draw(from items: FashionMNIST, generator: inout RandomGenerator) -> Mosaic {
        let side = canvasSize, item = itemSize, n = UInt64(items.count), offsets = UInt64(maxOffset + 1)
        var pixels = [UInt8](repeating: 0, count: side * side)
        var classes = [UInt8](repeating: 0, count: side * side)
        let k = 2 + Int(generator.next() % 3)
        items.pixels.withUnsafeBufferPointer { source in
            for _ in 0..<k {
                let j = Int(generator.next() % n)
                let r = Int(generator.next() % offsets), c = Int(generator.next() % offsets)
                let label = UInt8(1 + items.labels[j])
                for y in 0..<item {
                    let from = j * item * item + y * item, to = (r + y) * side + c
                    for x in 0..<item where source[from + x] > pixels[to + x] {
                        pixels[to + x] = source[from + x]
                        classes[to + x] = label
                    }
                }
            }
        }
        for i in 0..<classes.count where pixels[i] < foregroundThreshold { classes[i] = 0 }
        return Mosaic(pixels: pixels, classes: classes)
    }

    /// Mosaic `index` of a fixed split, or a fresh one drawn from `generator`.
    public func mosaic(at index: Int, generator: inout RandomGenerator) -> Mosaic {
        require(index >= 0 && index < count, "FashionMNISTMosaic: index \(index) outside 0..<\(count)")
        return fixed?[index] ?? Self.draw(from: items, generator: &generator)
    }

    public func example(at index: Int, generator: inout RandomGenerator) -> Example {
        let m = mosaic(at: index, generator: &generator)
        let side = Self.canvasSize
        let input = Tensor.make(shape: [1, side, side]) { out in
            for i in 0..<m.pixels.count { out[i] = Float(m.pixels[i]) / 255 }
        }
        let target = Tensor.make(shape: [side, side]) { out in
            for i in 0..<m.classes.count { out[i] = Float(m.classes[i]) }
        }
        return Example(input: input, label: 0, target: target)
    }

    /// Pixels per class over the mosaics of a fixed split (a fresh set's first draw from
    /// `RandomGenerator(seed: 0)` otherwise).
    public func classPixelCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: Self.classCount)
        var generator = RandomGenerator(seed: 0)
        for i in 0..<count {
            for c in mosaic(at: i, generator: &generator).classes { counts[Int(c)] += 1 }
        }
        return counts
    }
}
