import DeepCore

/// Small image classifiers for 1×28×28 inputs (Fashion-MNIST, MNIST).
public enum FashionModels {
    /// The CNN of the `fmnist_cnn_step` benchmark: Conv 1→32 3×3 p1, ReLU, MaxPool 2,
    /// Conv 32→64 3×3 p1, ReLU, MaxPool 2, Flatten, Linear 3136→128, ReLU, Linear 128→10.
    /// Shape: (N, 1, 28, 28) → (N, 10).
    public static func smallCNN(numClasses: Int = 10) -> Sequential {
        Sequential(Conv2d(1, 32, kernelSize: 3, padding: 1), ReLU(), MaxPool2d(2),
                   Conv2d(32, 64, kernelSize: 3, padding: 1), ReLU(), MaxPool2d(2),
                   Flatten(), Linear(64 * 7 * 7, 128), ReLU(), Linear(128, numClasses))
    }

    /// A deeper CNN with batch normalisation and dropout for the default training run:
    /// two conv–BN–ReLU pairs per stage at 32 and 64 channels with 2×2 max pooling, then a
    /// dropout-regularised classifier (left out when `numClasses` is nil). Shape: (N, 1, 28, 28) → (N, 10).
    public static func batchNormCNN(numClasses: Int? = 10) -> Sequential {
        func block(_ cin: Int, _ cout: Int) -> [Module] {
            [Conv2d(cin, cout, kernelSize: 3, padding: 1, bias: false), BatchNorm2d(cout), ReLU()]
        }
        let layers: [Module] = block(1, 32) + block(32, 32) + [MaxPool2d(2)]
            + block(32, 64) + block(64, 64) + [MaxPool2d(2)]
            + [Flatten(), Dropout(0.25), Linear(64 * 7 * 7, 256, bias: false), BatchNorm1d(256), ReLU()]
        return Sequential(layers + (numClasses.map { [Dropout(0.25), Linear(256, $0)] } ?? []))
    }

    /// Features of ``batchNormCNN(numClasses:)`` for image–text models: its layers up to the last
    /// ReLU. Shape: (N, 1, 28, 28) → (N, 256).
    public static func batchNormCNNFeatures() -> Sequential { batchNormCNN(numClasses: nil) }

    /// An image encoder for Fashion-MNIST trained against `captions` with CLIP's loss: the
    /// features of ``batchNormCNN(numClasses:)`` projected into the text embedding space.
    /// Shape: (N, 1, 28, 28) → (N, classes).
    public static func clip(captions: EncodedCaptions) -> CLIPClassifier {
        CLIPClassifier(visual: batchNormCNNFeatures(), featureCount: 256, captions: captions)
    }
}
