import ArgumentParser
import DeepCore
import DeepNN
import Foundation

extension Stitch {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a model and report test accuracy and macro F1 (segmentation: per-class IoU, mean IoU and Dice).",
            discussion: """
            Each epoch is validated on training examples held out at random (--validation-size); the test set \
            is evaluated once, at the end. The output folder receives a checkpoint after every epoch, metrics.csv, \
            plots and, at the end, model.safetensors and the test confusion matrix. A folder that already holds a run is refused unless --resume continues it \
            (with its settings; --epochs may extend it) or --overwrite replaces it. Ctrl-C stops after the \
            current batch and keeps the last complete epoch's checkpoint (exit code 130). \
            With --task segmentation (models unet, unet32, umamba) the model learns FashionMNISTMosaic: 64×64 mosaics of \
            2 to 4 Fashion-MNIST items, 11 classes; training mosaics are drawn afresh each epoch (an epoch: a third as many \
            mosaics as training images), validation mosaics from the held-out images, and the test split is 2,000 mosaics \
            of the test images (the first --limit of them with --limit); it also writes sheet.png, test images with true and \
            predicted masks. With --time-budget the one-cycle schedule runs over the budget (it anneals fully by its \
            end, however fast the machine); --epochs then only caps the run. \
            With --task image-text (models clip, fusion) Fashion-MNIST images are trained against captions of their \
            classes (8 templates each) encoded once by the frozen sentence encoder of --text-encoder (all-MiniLM-L6-v2: \
            `bash scripts/fetch-minilm.sh`) and classified by the best-matching class caption; --hold-out leaves classes \
            out of training to report their zero-shot accuracy; the fusion model also reports its matching accuracy.
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

        @Option(help: "Start from these weights instead of a fresh initialisation (fine-tuning): a model.safetensors that `stitch train` wrote, or a torch.save state dict (.pth, .pt) with the model's state-dict names.")
        var initialWeights: String?

        @Option(parsing: .unconditional, help: "Use only the first N training examples (quick runs).",
                transform: OptionValue.wholeNumber(in: 1...Int.max))
        var limit: Int?

        @Option(parsing: .unconditional, help: "Training examples held out at random (seeded by --seed) to validate on after each epoch, 0 for none (default: 5000 of the 60000, a twelfth of a --limit).",
                transform: OptionValue.wholeNumber(in: 0...Int.max))
        var validationSize: Int?

        @Option(parsing: .unconditional, help: "Stop training after this many seconds and test (segmentation only; the one-cycle schedule then runs over the budget, --epochs only caps the run).",
                transform: OptionValue.seconds)
        var timeBudget: Double?

        @Option(help: "Image-text: the frozen text encoder, a sentence-transformers folder (default: all-MiniLM-L6-v2 where `bash scripts/fetch-minilm.sh` puts it, \(ImageTextRun.defaultTextEncoder)).")
        var textEncoder: String?

        @Option(help: "Image-text: classes left out of training, to test zero-shot: comma-separated numbers 0-9 or names (e.g. sandal,shirt).",
                transform: OptionValue.classList)
        var holdOut: [Int]?

        var folder: RunFolder { RunFolder(url: URL(fileURLWithPath: output)) }

        func validate() throws {
            if let initialWeights {
                if resume { throw ValidationError("--initial-weights and --resume do not go together: a resumed run continues from its own checkpoint") }
                try WeightsFile.check(initialWeights, option: "--initial-weights")
            }
            // Under MPI only rank 0 reads the folder: the others may start after it has written there.
            if DistributedRun.isMain { try folder.validate(resume: resume, overwrite: overwrite) }
            if let optimizer { try OptionValue.choice(optimizer, of: Recipe.optimizers, option: "--optimizer") }
            if let stopAfter, let epochs, stopAfter > epochs {
                throw ValidationError("--stop-after \(stopAfter) is beyond --epochs \(epochs)")
            }
            let task = resume ? modelOptions.task.flatMap(Task.init(rawValue:)) : modelOptions.resolvedTask()
            if let task, task != .imageText {
                if textEncoder != nil { throw ValidationError("--text-encoder applies to --task image-text only") }
                if holdOut != nil { throw ValidationError("--hold-out applies to --task image-text only") }
            }
        }

        /// `--initial-weights` loaded into `model` (the catalogue's `name`), when given.
        /// - Throws: errors naming the file when it is damaged or does not fit the model.
        func loadInitialWeights(into model: Module, name: String) throws {
            guard let initialWeights else { return }
            let file = try WeightsFile(path: initialWeights, option: "--initial-weights")
            try file.checkHolds(name, option: "--model")
            try file.load(into: model, name: name)
            print("initial weights: \(initialWeights)")
        }

        func run() throws {
            let group = try DistributedRun.start()
            let checkpoint = resume ? try DistributedRun.checkpoint(at: folder.checkpoint, group: group) : nil
            var settings = try checkpoint.map(runSettings(continuing:)) ?? RunSettings(self)
            manualSeed(settings.seed)
            if settings.task == .segmentation { return try trainSegmentation(settings: settings, checkpoint: checkpoint, group: group) }
            if timeBudget != nil { throw ValidationError("--time-budget applies to --task segmentation only") }
            if settings.task != .imageText && (textEncoder != nil || holdOut != nil) {
                throw ValidationError("--text-encoder and --hold-out apply to --task image-text only; the run in \(output) is \(settings.task.rawValue)")
            }
            let entry = ModelCatalog.entry(settings.model), recipe = entry.recipe
            let imageText = try settings.textEncoder.map { try ImageTextRun(textEncoder: $0) }
            var model = imageText.map { entry.makeOverCaptions!($0.encoded) } ?? entry.make()
            try loadInitialWeights(into: model, name: settings.model)
            if let group, group.worldSize > 1 { model = try SyncBatchNorm.convert(model, group: group) }
            let optimizer = recipe.makeOptimizer(settings.optimizer, parameters: model.parameters, learningRate: settings.learningRate)
            // The checkpoint must fit before the data is read or any file changes.
            try checkpoint?.validate(model: model, optimizer: optimizer, hasScheduler: recipe.oneCycle)
            let runData = try RunData(settings: settings, recipe: recipe, data: data, group: group)
            settings.validationSize = runData.validationSize
            let trainer = Trainer(model: model, optimizer: optimizer, classCount: 10)
            trainer.objective = imageText?.objective(for: model)
            trainer.processGroup = group
            trainer.overlapsCommunication = DistributedRun.overlapsCommunication
            if recipe.oneCycle {
                trainer.scheduler = OneCycleLR(optimizer, maxLearningRate: settings.learningRate, totalSteps: settings.epochs * runData.train.count)
                trainer.stepSchedulerPerBatch = true
            }
            trainer.classNames = FashionMNIST.classNames
            trainer.outputDirectory = folder.url
            print(Self.modelLine(model, recipe: recipe, settings: settings))
            print(runData.description)
            let (interruption, started) = try startRun(trainer, settings: settings, checkpoint: checkpoint) {
                try trainer.fit(runData.train, validation: runData.validation, epochs: settings.epochs, stopAfter: stopAfter)
            }
            guard trainer.completedEpochs >= settings.epochs else {
                print("stopped after epoch \(trainer.completedEpochs) of \(settings.epochs) (--stop-after); continue with --resume --output \(output)")
                return
            }
            let result = try trainer.test(runData.test)
            if DistributedRun.isMain { try model.save(to: folder.model, metadata: ["stitch.model": settings.model]) }
            withExtendedLifetime(interruption) {}
            let seconds = Date().timeIntervalSince(started)
            imageText?.report(result, model: model, test: runData.test, heldOut: settings.heldOut, group: group)
            report(result, seconds: seconds)
            if let group { print(DistributedRun.summary(group: group, waited: trainer.communicationWaitSeconds)) }
        }

        /// The line that starts a run's output: the model, its size and the recipe as `settings` set it.
        static func modelLine(_ model: Module, recipe: Recipe, settings: RunSettings) -> String {
            "model \(settings.model): \(model.parameterCount) parameters; recipe: "
                + recipe.description(epochs: settings.epochs, lr: settings.learningRate, optimizer: settings.optimizer, batchSize: settings.batchSize)
        }

        /// The settings of the run continued: the checkpoint's, with `--epochs` applied.
        func runSettings(continuing checkpoint: Checkpoint) throws -> RunSettings {
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

        /// Prints the finished run's per-class test figures and files (the trainer printed the
        /// test accuracy and macro F1).
        private func report(_ result: Evaluation, seconds: Double) {
            let url = folder.url
            print("per-class test F1: " + zip(FashionMNIST.classNames, result.confusion.f1).map { "\($0) \(String(format: "%.3f", $1))" }.joined(separator: ", "))
            print(String(format: "training time: %.1f s", seconds))
            let plots = folder.existingFiles.filter { $0.hasSuffix(".svg") }.map { url.appendingPathComponent($0).path }
            print("plots: " + plots.joined(separator: ", "))
            print("metrics: \(url.appendingPathComponent("metrics.csv").path)")
            print("model: \(folder.model.path)")
        }
    }
}
