import ArgumentParser
import DeepCore
import DeepNN

/// How a catalogue model is trained by default.
struct Recipe {
    var epochs: Int
    var optimizer: String
    var learningRate: Float
    var weightDecay: Float = 0
    var oneCycle = false
    var augment = false
    var batchSize = 64
    /// Weight of the Dice loss added to the per-pixel cross-entropy (segmentation).
    var diceWeight: Float = 0
    /// What the model sees, for the recipe's description.
    var inputs = "normalized pixels"

    /// The optimisers `--optimizer` names.
    static let optimizers = ["adam", "adamw", "sgd"]

    /// The optimiser `name` (one of ``optimizers``) over `parameters`, with this recipe's weight decay.
    func makeOptimizer(_ name: String, parameters: [Tensor], learningRate lr: Float) -> Optimizer {
        switch name {
        case "adam": return Adam(parameters, learningRate: lr)
        case "adamw": return AdamW(parameters, learningRate: lr, weightDecay: weightDecay)
        default: return SGD(parameters, learningRate: lr, momentum: 0.9, nesterov: true, weightDecay: weightDecay)
        }
    }

    var trainTransform: Transform {
        augment ? Compose([ToTensor(), RandomCrop(size: 28, padding: 2), RandomHorizontalFlip(), Normalize(mean: [0.286], std: [0.353])])
            : Compose([ToTensor(), Normalize(mean: [0.286], std: [0.353])])
    }
    var testTransform: Transform { Compose([ToTensor(), Normalize(mean: [0.286], std: [0.353])]) }

    func description(epochs: Int, lr: Float, optimizer: String, batchSize: Int) -> String {
        var parts = ["\(epochs) epochs", "\(optimizer) lr \(lr)", "batch \(batchSize)", inputs]
        if weightDecay > 0 { parts.append("weight decay \(weightDecay)") }
        if diceWeight > 0 { parts.append("cross-entropy + \(diceWeight) × Dice loss") }
        if oneCycle { parts.append("one-cycle schedule") }
        if augment { parts.append("augmentation: random crop (pad 2) + horizontal flip") }
        return parts.joined(separator: ", ")
    }
}

/// What a model is trained to do.
enum Task: String, CaseIterable {
    /// One class per Fashion-MNIST image.
    case classification
    /// One class per pixel of FashionMNISTMosaic images.
    case segmentation
    /// Fashion-MNIST images against captions of their classes from a frozen text encoder.
    case imageText = "image-text"

    /// The `--task` names.
    static var names: [String] { allCases.map(\.rawValue) }
    /// The model used when none is named.
    var defaultModel: String {
        switch self {
        case .classification: "cnn-bn"
        case .segmentation: "unet"
        case .imageText: "clip"
        }
    }
    /// The input shape `stitch summary` uses by default (image–text: the images').
    var defaultInput: [Int] { self == .segmentation ? [1, 1, FashionMNISTMosaic.canvasSize, FashionMNISTMosaic.canvasSize] : [1, 1, 28, 28] }
}

/// The models `stitch` knows by name.
enum ModelCatalog {
    struct Entry {
        let make: () -> Module
        let recipe: Recipe
        var task = Task.classification
        /// Image–text models: the model over the encoded captions (``make`` builds it over
        /// zeros of all-MiniLM-L6-v2's shapes).
        var makeOverCaptions: ((EncodedCaptions) -> Module)?

        /// An image–text model.
        static func imageText(_ make: @escaping (EncodedCaptions) -> Module, recipe: Recipe) -> Entry {
            Entry(make: { make(ImageTextRun.placeholder()) }, recipe: recipe, task: .imageText, makeOverCaptions: make)
        }
    }

    /// The segmentation recipe of the PyTorch anchor (`../shared/bench/torch_mosaic_seg.py`):
    /// AdamW 3e-3, weight decay 1e-4, one-cycle, batch 32; plus a Dice loss.
    static let segmentationRecipe = Recipe(epochs: 2, optimizer: "adamw", learningRate: 3e-3, weightDecay: 1e-4, oneCycle: true,
                                           batchSize: 32, diceWeight: 1, inputs: "pixels / 255, new mosaics each epoch")

    static let entries: [(String, Entry)] = [
        ("mlp", Entry(make: { Sequential(Flatten(), Linear(784, 256), ReLU(), Linear(256, 10)) },
                      recipe: Recipe(epochs: 2, optimizer: "sgd", learningRate: 0.1))),
        ("cnn", Entry(make: { FashionModels.smallCNN() }, recipe: Recipe(epochs: 2, optimizer: "adam", learningRate: 1e-3))),
        ("cnn-bn", Entry(make: { FashionModels.batchNormCNN() },
                         recipe: Recipe(epochs: 4, optimizer: "adamw", learningRate: 3e-3, weightDecay: 5e-4, oneCycle: true, augment: true))),
        ("vit", Entry(make: { VisionTransformer(imageSize: 28, patchSize: 4, numLayers: 4, numHeads: 4, hiddenDim: 64, mlpDim: 128,
                                                numClasses: 10, inChannels: 1) },
                      recipe: Recipe(epochs: 4, optimizer: "adamw", learningRate: 1e-3, weightDecay: 0.05, oneCycle: true))),
        ("mamba", Entry(make: { MambaClassifier() },
                        recipe: Recipe(epochs: 2, optimizer: "adamw", learningRate: 2e-3, weightDecay: 1e-2))),
        ("resnet18", Entry(make: { ResNet.resnet18(numClasses: 10, inChannels: 1, smallInputStem: true) },
                           recipe: Recipe(epochs: 2, optimizer: "sgd", learningRate: 0.05, weightDecay: 5e-4, oneCycle: true))),
        // iFormer's four stages at 32–128 channels on images up-sampled to 32² (its stem and
        // three stride-2 embeddings need sides divisible by 32): 8², 4², 2², 1² maps; attention
        // heads of 16 channels taking a growing share of each block (1, 1, 3, 4, 5 heads).
        ("iformer", Entry(make: {
            Sequential(Upsample(size: [32, 32], mode: .bilinear),
                       InceptionTransformer(.init(depths: [1, 1, 2, 1], embedDims: [32, 64, 96, 128], numHeads: [2, 4, 6, 8],
                                                  attentionHeads: [1, 1, 3, 4, 5]),
                                            inChannels: 1, numClasses: 10, imageSize: 32))
        }, recipe: Recipe(epochs: 4, optimizer: "adamw", learningRate: 1e-3, weightDecay: 0.05, oneCycle: true,
                          inputs: "normalized pixels up-sampled to 32×32"))),
        // The anchor's U-Net layout (depth 3, bilinear up-sampling) at base 16: 2.3 times the
        // mosaics per second of base 32, which wins within a time budget (README).
        ("unet", Entry(make: { UNet(inChannels: 1, numClasses: FashionMNISTMosaic.classCount, depth: 3, baseChannels: 16, bilinear: true) },
                       recipe: segmentationRecipe, task: .segmentation)),
        // The anchor's U-Net itself: base 32.
        ("unet32", Entry(make: { UNet(inChannels: 1, numClasses: FashionMNISTMosaic.classCount, depth: 3, baseChannels: 32, bilinear: true) },
                         recipe: segmentationRecipe, task: .segmentation)),
        // U-Mamba_Bot with four stages of 16 to 128 channels: a Mamba layer over the 8×8 bottleneck.
        ("umamba", Entry(make: { UMamba(inChannels: 1, numClasses: FashionMNISTMosaic.classCount, featuresPerStage: [16, 32, 64, 128]) },
                         recipe: segmentationRecipe, task: .segmentation)),
        // The image encoder of cnn-bn trained with CLIP's loss against the frozen captions.
        ("clip", .imageText({ FashionModels.clip(captions: $0) },
                            recipe: Recipe(epochs: 4, optimizer: "adamw", learningRate: 3e-3, weightDecay: 5e-4, oneCycle: true, augment: true,
                                           inputs: "normalized pixels against class captions (CLIP loss)"))),
        // Caption tokens attending to 7×7 image patches: an image–caption matching classifier.
        ("fusion", .imageText({ CaptionMatcher(captions: $0) },
                              recipe: Recipe(epochs: 3, optimizer: "adamw", learningRate: 2e-3, weightDecay: 1e-4, oneCycle: true,
                                             inputs: "normalized pixels with every class's caption (matching loss)"))),
    ]

    static var names: [String] { entries.map(\.0) }

    /// The names of the models for `task`.
    static func names(for task: Task) -> [String] { entries.filter { $0.1.task == task }.map(\.0) }

    /// The model's entry; `name` is one of ``names`` (checked with the options).
    static func entry(_ name: String) -> Entry {
        let e = entries.first { $0.0 == name }?.1
        require(e != nil, "stitch: unchecked model name \(name)")
        return e!
    }
}
