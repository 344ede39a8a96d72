import ArgumentParser
import DeepCore
import DeepNN
import Foundation

extension Stitch {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a model and report test accuracy and macro F1.",
            discussion: """
            The output folder receives a checkpoint after every epoch, metrics.csv, plots and, at the end, \
            model.safetensors. A folder that already holds a run is refused unless --resume continues it \
            (with its settings; --epochs may extend it) or --overwrite replaces it. Ctrl-C stops after the \
            current batch and keeps the last complete epoch's checkpoint (exit code 130).
            """)

        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var data: DataOptions

        @Option(parsing: .unconditional, help: "Examples per batch, 1 to 100000 (default: 64); the last partial batch is dropped.",
                transform: OptionValue.wholeNumber(in: OptionValue.batchSizes))
        var batchSize: Int?

        @Option(parsing: .unconditional, help: "Epochs of the whole run, 1 to 10000 (default: the model's recipe).",
                transform: OptionValue.wholeNumber(in: OptionValue.epochCounts))
        var epochs: Int?

        @Option(parsing: .unconditional, help: "Stop after this many epochs, to continue later with --resume (the schedule stays planned for --epochs).",
                transform: OptionValue.wholeNumber(in: OptionValue.epochCounts))
        var stopAfter: Int?

        @Option(help: "Optimiser: adam, adamw, sgd (default: the model's recipe).")
        var optimizer: String?

        @Option(parsing: .unconditional, help: "Learning rate, a number above 0 (default: the model's recipe).",
                transform: OptionValue.positiveNumber)
        var lr: Float?

        @Option(parsing: .unconditional, help: "Seed of initialisation, shuffling and augmentation (default: 0).",
                transform: OptionValue.seed)
        var seed: UInt64?

        @Option(help: "Output folder for checkpoints, metrics.csv and plots.")
        var output = "runs/latest"

        @Flag(help: "Continue the run whose checkpoint is in the output folder.")
        var resume = false

        @Flag(help: "Replace the run in the output folder.")
        var overwrite = false

        @Option(parsing: .unconditional, help: "Use only the first N training examples (quick runs).",
                transform: OptionValue.wholeNumber(in: 1...Int.max))
        var limit: Int?

        var folder: RunFolder { RunFolder(url: URL(fileURLWithPath: output)) }

        func validate() throws {
            try folder.validate(resume: resume, overwrite: overwrite)
            if let optimizer { try OptionValue.choice(optimizer, of: Recipe.optimizers, option: "--optimizer") }
            if let stopAfter, let epochs, stopAfter > epochs {
                throw ValidationError("--stop-after \(stopAfter) is beyond --epochs \(epochs)")
            }
        }

        func run() throws {
            let checkpoint = resume ? try Checkpoint(contentsOf: folder.checkpoint) : nil
            let settings = try checkpoint.map(runSettings(continuing:)) ?? RunSettings(self)
            manualSeed(settings.seed)
            let recipe = ModelCatalog.entry(settings.model).recipe
            let model = ModelCatalog.entry(settings.model).make()
            let optimizer = recipe.makeOptimizer(settings.optimizer, parameters: model.parameters, learningRate: settings.learningRate)
            // The checkpoint must fit before the data is read or any file changes.
            try checkpoint?.validate(model: model, optimizer: optimizer, hasScheduler: recipe.oneCycle)
            let (trainLoader, testLoader) = try loaders(settings, recipe)
            let trainer = Trainer(model: model, optimizer: optimizer, classCount: 10)
            if recipe.oneCycle {
                trainer.scheduler = OneCycleLR(optimizer, maxLearningRate: settings.learningRate, totalSteps: settings.epochs * trainLoader.count)
                trainer.stepSchedulerPerBatch = true
            }
            trainer.classNames = FashionMNIST.classNames
            trainer.outputDirectory = folder.url
            print("model \(settings.model): \(model.parameterCount) parameters; recipe: \(recipe.description(epochs: settings.epochs, lr: settings.learningRate, optimizer: settings.optimizer, batchSize: settings.batchSize))")
            try folder.create()
            let interruption = Interruption { trainer.requestStop() }
            if overwrite { try folder.removeEarlierRun() }
            if let checkpoint {
                try trainer.resume(from: checkpoint)
                print("resumed after epoch \(checkpoint.epoch)")
            }
            trainer.settings = settings.strings
            let started = Date()
            do {
                try trainer.fit(trainLoader, validation: testLoader, epochs: settings.epochs, stopAfter: stopAfter)
            } catch let stop as TrainingInterrupted {
                FileHandle.standardError.write(Data("interrupted: the checkpoint of epoch \(stop.completedEpochs) in \(folder.url.path) is kept; continue with --resume --output \(output)\n".utf8))
                throw ExitCode(130)
            }
            guard trainer.completedEpochs >= settings.epochs else {
                print("stopped after epoch \(trainer.completedEpochs) of \(settings.epochs) (--stop-after); continue with --resume --output \(output)")
                return
            }
            let result = trainer.evaluate(testLoader)
            try model.save(to: folder.model, metadata: ["stitch.model": settings.model])
            withExtendedLifetime(interruption) {}
            report(result, seconds: Date().timeIntervalSince(started))
        }

        /// The settings of the run continued: the checkpoint's, with `--epochs` applied.
        private func runSettings(continuing checkpoint: Checkpoint) throws -> RunSettings {
            let settings = checkpoint.settings.isEmpty
                ? RunSettings(self) : try RunSettings(checkpoint, path: folder.checkpoint.path).continued(with: self, in: output)
            if settings.epochs < checkpoint.epoch {
                throw ValidationError("--epochs \(settings.epochs) is below the \(checkpoint.epoch) epochs the run in \(output) has done")
            }
            if let stopAfter, stopAfter <= checkpoint.epoch || stopAfter > settings.epochs {
                throw ValidationError("--stop-after \(stopAfter) is not between the \(checkpoint.epoch) epochs done and the run's \(settings.epochs)")
            }
            return settings
        }

        /// The training loader (shuffled, the last partial batch dropped: a batch of one cannot
        /// train BatchNorm) and the test loader.
        private func loaders(_ settings: RunSettings, _ recipe: Recipe) throws -> (DataLoader, DataLoader) {
            var train = try FashionMNIST(split: .train, directory: data.dataDirectory, transform: recipe.trainTransform)
            if let limit = settings.limit, limit < train.count {
                train = FashionMNIST(pixels: Array(train.pixels.prefix(limit * 784)), labels: Array(train.labels.prefix(limit)),
                                     transform: recipe.trainTransform)
            }
            guard train.count >= settings.batchSize else {
                throw ValidationError("--batch-size \(settings.batchSize) is more than the \(train.count) training examples; "
                    + "choose a batch size from 1 to \(train.count)")
            }
            let test = try FashionMNIST(split: .test, directory: data.dataDirectory, transform: recipe.testTransform)
            return (DataLoader(train, batchSize: settings.batchSize, shuffle: true, seed: settings.seed, dropLast: true),
                    DataLoader(test, batchSize: 500))
        }

        /// Prints the finished run's figures and files.
        private func report(_ result: Evaluation, seconds: Double) {
            let url = folder.url
            print(String(format: "training time: %.1f s", seconds))
            print("per-class F1: " + zip(FashionMNIST.classNames, result.confusion.f1).map { "\($0) \(String(format: "%.3f", $1))" }.joined(separator: ", "))
            print("plots: \(url.appendingPathComponent("loss.svg").path), \(url.appendingPathComponent("accuracy.svg").path), \(url.appendingPathComponent("confusion_matrix.svg").path)")
            print("metrics: \(url.appendingPathComponent("metrics.csv").path)")
            print("model: \(folder.model.path)")
            print(String(format: "test accuracy: %.4f", result.accuracy))
            print(String(format: "macro F1: %.4f", result.macroF1))
        }
    }
}
