import ArgumentParser
import DeepCore
import DeepNN
import Foundation

/// `stitch`: train, evaluate and inspect DeepStitch models from the command line.
@main
struct Stitch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stitch",
        abstract: "Train, evaluate and inspect DeepStitch models.",
        subcommands: [Train.self, Evaluate.self, Summarize.self])
}

/// Options naming a model of the catalogue.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model: \(ModelCatalog.names.joined(separator: ", ")).")
    var model = "cnn-bn"
}

/// Options locating the data.
struct DataOptions: ParsableArguments {
    @Option(help: "Dataset (only fashion-mnist).")
    var dataset = "fashion-mnist"

    @Option(help: "Folder with the IDX files (default: Debian's dataset-fashion-mnist location).")
    var dataDirectory = FashionMNIST.defaultDirectory

    @Option(help: "Batch size.")
    var batchSize = 64

    func validate() throws {
        guard dataset == "fashion-mnist" else { throw ValidationError("unknown dataset \(dataset); available: fashion-mnist") }
        guard batchSize > 0 else { throw ValidationError("--batch-size \(batchSize) must be positive") }
    }
}

extension Stitch {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Train a model and report test accuracy and macro F1.")

        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var data: DataOptions

        @Option(help: "Epochs.")
        var epochs: Int?

        @Option(help: "Optimiser: adam, adamw, sgd (default: the model's recipe).")
        var optimizer: String?

        @Option(help: "Learning rate (default: the model's recipe).")
        var lr: Float?

        @Option(help: "Seed of initialisation, shuffling and augmentation.")
        var seed: UInt64 = 0

        @Option(help: "Output folder for checkpoints, metrics.csv and plots.")
        var output = "runs/latest"

        @Flag(help: "Continue from the checkpoint in the output folder.")
        var resume = false

        @Option(help: "Use only the first N training examples (quick runs).")
        var limit: Int?

        func validate() throws {
            if let epochs, epochs <= 0 { throw ValidationError("--epochs \(epochs) must be positive") }
            if let limit, limit <= 0 { throw ValidationError("--limit \(limit) must be positive") }
        }

        func run() throws {
            manualSeed(seed)
            let entry = try ModelCatalog.entry(modelOptions.model)
            let recipe = entry.recipe
            let model = entry.make()
            let epochs = self.epochs ?? recipe.epochs
            var train = try FashionMNIST(split: .train, directory: data.dataDirectory, transform: recipe.trainTransform)
            if let limit { train = FashionMNIST(pixels: Array(train.pixels.prefix(limit * 784)), labels: Array(train.labels.prefix(limit)), transform: recipe.trainTransform) }
            let test = try FashionMNIST(split: .test, directory: data.dataDirectory, transform: recipe.testTransform)
            let trainLoader = DataLoader(train, batchSize: data.batchSize, shuffle: true, seed: seed)
            let testLoader = DataLoader(test, batchSize: 500)
            let lr = self.lr ?? recipe.learningRate
            let opt: Optimizer
            switch optimizer ?? recipe.optimizer {
            case "adam": opt = Adam(model.parameters, learningRate: lr)
            case "adamw": opt = AdamW(model.parameters, learningRate: lr, weightDecay: recipe.weightDecay)
            case "sgd": opt = SGD(model.parameters, learningRate: lr, momentum: 0.9, nesterov: true, weightDecay: recipe.weightDecay)
            case let other: throw ValidationError("unknown optimizer \(other); available: adam, adamw, sgd")
            }
            let trainer = Trainer(model: model, optimizer: opt, classCount: 10)
            if recipe.oneCycle {
                trainer.scheduler = OneCycleLR(opt, maxLearningRate: lr, totalSteps: epochs * trainLoader.count)
                trainer.stepSchedulerPerBatch = true
            }
            trainer.classNames = FashionMNIST.classNames
            let outputURL = URL(fileURLWithPath: output)
            trainer.outputDirectory = outputURL
            print("model \(modelOptions.model): \(model.parameterCount) parameters; recipe: \(recipe.description(epochs: epochs, lr: lr, optimizer: optimizer ?? recipe.optimizer, batchSize: data.batchSize))")
            if resume {
                try trainer.resume(from: outputURL.appendingPathComponent("checkpoint.safetensors"))
                print("resumed after epoch \(trainer.checkpoint().epoch)")
            }
            let started = Date()
            try trainer.fit(trainLoader, validation: testLoader, epochs: epochs)
            let result = trainer.evaluate(testLoader)
            try model.save(to: outputURL.appendingPathComponent("model.safetensors"))
            print(String(format: "training time: %.1f s", Date().timeIntervalSince(started)))
            print("per-class F1: " + zip(FashionMNIST.classNames, result.confusion.f1).map { "\($0) \(String(format: "%.3f", $1))" }.joined(separator: ", "))
            print("plots: \(outputURL.appendingPathComponent("loss.svg").path), \(outputURL.appendingPathComponent("accuracy.svg").path), \(outputURL.appendingPathComponent("confusion_matrix.svg").path)")
            print("metrics: \(outputURL.appendingPathComponent("metrics.csv").path)")
            print(String(format: "test accuracy: %.4f", result.accuracy))
            print(String(format: "macro F1: %.4f", result.macroF1))
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Evaluate saved weights on the test split.")

        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var data: DataOptions

        @Option(help: "Weights written by `stitch train` (model.safetensors).")
        var weights = "runs/latest/model.safetensors"

        func run() throws {
            let entry = try ModelCatalog.entry(modelOptions.model)
            let model = entry.make()
            try model.load(from: URL(fileURLWithPath: weights))
            let test = try FashionMNIST(split: .test, directory: data.dataDirectory, transform: entry.recipe.testTransform)
            let trainer = Trainer(model: model, optimizer: SGD(model.parameters, learningRate: 0), classCount: 10)
            let result = trainer.evaluate(DataLoader(test, batchSize: 500))
            print(String(format: "test loss: %.4f", result.loss))
            print(String(format: "test accuracy: %.4f", result.accuracy))
            print(String(format: "macro F1: %.4f", result.macroF1))
        }
    }

    struct Summarize: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "summary", abstract: "Print a model's layers, shapes, parameters and FLOPs without computing.")

        @OptionGroup var modelOptions: ModelOptions

        @Option(help: "Input shape, comma-separated.")
        var input = "1,1,28,28"

        /// The sizes in `--input`.
        var shape: [Int] {
            get throws {
                let sizes = input.split(separator: ",", omittingEmptySubsequences: false)
                    .map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? -1) >= 0 }) else {
                    throw ValidationError("--input \"\(input)\" is not a comma-separated list of sizes (e.g. 1,1,28,28)")
                }
                return sizes.map { $0! }
            }
        }

        func validate() throws { _ = try shape }

        func run() throws {
            print(try ModelCatalog.entry(modelOptions.model).make().summary(input: try shape))
        }
    }
}
