import DeepCore
import Foundation

/// Fashion-MNIST (60,000 training and 10,000 test images of 28×28 clothing items in 10 classes),
/// read from the IDX files of Debian's `dataset-fashion-mnist` package or a folder given.
///
/// Examples are (1, 28, 28) tensors of raw pixel values 0…255 passed through `transform`
/// (use `ToTensor()` to scale to 0…1).
public struct FashionMNIST: Dataset {
    /// Which part of the data.
    public enum Split { case train, test }

    /// Where Debian's package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The class names, by id.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// Raw pixels, N·28·28.
    public let pixels: [UInt8]
    /// Class ids.
    public let labels: [Int]
    /// Applied to each example's input.
    public let transform: Transform?

    /// Reads `split` from `directory` (files `train-images-idx3-ubyte[.gz]` etc.).
    /// - Throws: ``DatasetError`` when a file is missing, corrupt or inconsistent (an images file
    ///   must have 3 dimensions and a labels file 1, as their magic numbers say).
    public init(split: Split, directory: String = FashionMNIST.defaultDirectory, transform: Transform? = ToTensor()) throws {
        let prefix = split == .train ? "train" : "t10k"
        func path(_ name: String) -> String {
            let plain = "\(directory)/\(prefix)-\(name)"
            return FileManager.default.fileExists(atPath: plain + ".gz") ? plain + ".gz" : plain
        }
        let imagesPath = path("images-idx3-ubyte"), labelsPath = path("labels-idx1-ubyte")
        let images = try IDXArray(contentsOf: imagesPath, rank: 3)
        let labels = try IDXArray(contentsOf: labelsPath, rank: 1)
        guard images.shape.count == 3, images.shape[1] == 28, images.shape[2] == 28 else {
            throw DatasetError(path: imagesPath, reason: "images of shape \(images.shape), expected (N, 28, 28)")
        }
        guard labels.shape == [images.shape[0]] else {
            throw DatasetError(path: labelsPath, reason: "labels of shape \(labels.shape) for \(images.shape[0]) images")
        }
        if let bad = labels.bytes.firstIndex(where: { $0 > 9 }) {
            throw DatasetError(path: labelsPath, reason: "label \(labels.bytes[bad]) at index \(bad) is not a class id 0…9")
        }
        self.init(pixels: images.bytes, labels: labels.bytes.map(Int.init), transform: transform)
    }

    /// Wraps pixels already in memory (N·28·28 bytes).
    public init(pixels: [UInt8], labels: [Int], transform: Transform? = ToTensor()) {
        require(pixels.count == labels.count * 784, "FashionMNIST: \(pixels.count) pixels for \(labels.count) labels")
        self.pixels = pixels
        self.labels = labels
        self.transform = transform
    }

    public var count: Int { labels.count }

    public func example(at index: Int, generator: inout RandomGenerator) -> Example {
        let image = Tensor.make(shape: [1, 28, 28]) { out in
            for i in 0..<784 { out[i] = Float(pixels[index * 784 + i]) }
        }
        return Example(input: transform?(image, generator: &generator) ?? image, label: labels[index])
    }
}

