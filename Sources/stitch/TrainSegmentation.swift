import ArgumentParser
import DeepCore
import DeepNN
import Foundation

/// The mosaics of a segmentation run: the training images (the first `--limit`) split at random,
/// seeded by `--seed`, into those training mosaics are drawn from afresh each epoch and those
/// held out (`--validation-size` images) for a fixed validation split; and the test split. Batches
/// are made on `--num-workers` threads (the mosaics do not depend on it).
struct SegmentationRunData {
    /// Fresh mosaics each epoch, the last partial batch dropped.
    let train: DataLoader
    /// Mosaics of the held-out images (nil when none are held out).
    let validation: DataLoader?
    /// The test split (its first `--limit` mosaics with `--limit`).
    let test: DataLoader
    /// Training images held out.
    let validationSize: Int

    /// Mosaics of an epoch made of `images` items: a third as many (each image shows about once).
    static func mosaicCount(images: Int) -> Int { images / 3 }
    /// Mosaics per evaluation batch.
    static let evaluationBatchSize = 100

    /// Reads the images of a run with `settings`.
    /// - Throws: `ValidationError` naming the option when the sizes do not fit the data;
    ///   ``DatasetError`` when a file is missing or damaged.
    init(settings: RunSettings, data: DataOptions) throws {
        var images = try FashionMNIST(split: .train, directory: data.dataDirectory, transform: nil)
        if let limit = settings.limit, limit < images.count {
            images = FashionMNIST(pixels: Array(images.pixels.prefix(limit * 784)), labels: Array(images.labels.prefix(limit)), transform: nil)
        }
        let n = images.count, batchSize = settings.batchSize
        let held = settings.validationSize ?? RunData.defaultValidationSize(trainingExamples: n)
        let option = "--validation-size \(held)" + (settings.validationSize == nil ? " (the default)" : "")
        guard held < n else {
            throw ValidationError("\(option) leaves none of the \(n) training images to draw mosaics from; choose from 0 to \(n - 1)")
        }
        let mosaics = Self.mosaicCount(images: n - held)
        guard mosaics >= batchSize else {
            throw ValidationError("--batch-size \(batchSize) is more than the \(mosaics) training mosaics of an epoch (a third of the "
                + "\(n - held) training images not held out); choose a batch size from 1 to \(max(mosaics, 1)), or more images")
        }
        let parts = randomSplit(images, sizes: [n - held, held], seed: settings.seed)
        func items(_ subset: Subset) -> FashionMNIST {
            FashionMNIST(pixels: subset.indices.flatMap { images.pixels[$0 * 784 ..< ($0 + 1) * 784] },
                         labels: subset.indices.map { images.labels[$0] }, transform: nil)
        }
        let eval = Self.evaluationBatchSize, workers = data.numWorkers
        train = DataLoader(FashionMNISTMosaic(items: items(parts[0]), count: mosaics), batchSize: batchSize,
                           seed: settings.seed, dropLast: true, numWorkers: workers)
        validation = held == 0 ? nil
            : DataLoader(FashionMNISTMosaic(items: items(parts[1]), count: max(1, Self.mosaicCount(images: held)), seed: settings.seed &+ 1),
                         batchSize: eval, numWorkers: workers)
        let testCount = min(FashionMNISTMosaic.testCount, settings.limit ?? FashionMNISTMosaic.testCount)
        test = DataLoader(try FashionMNISTMosaic.testSplit(directory: data.dataDirectory, count: testCount), batchSize: eval,
                          numWorkers: workers)
        validationSize = held
    }

    /// One line saying how many mosaics each part holds.
    var description: String {
        "data: \(train.dataset.count) new training mosaics each epoch, \(validation?.dataset.count ?? 0) validation mosaics "
            + "(of \(validationSize) held-out images), \(test.dataset.count) test mosaics"
    }
}

extension Stitch.Train {
    /// Trains a segmentation model on FashionMNISTMosaic (the `run()` of `--task segmentation`).
    func trainSegmentation(settings: RunSettings, checkpoint: Checkpoint?) throws {
        var settings = settings
        let entry = ModelCatalog.entry(settings.model), recipe = entry.recipe
        let model = entry.make()
        try loadInitialWeights(into: model, name: settings.model)
        let optimizer = recipe.makeOptimizer(settings.optimizer, parameters: model.parameters, learningRate: settings.learningRate)
        // The checkpoint must fit before the data is read or any file changes.
        try checkpoint?.validate(model: model, optimizer: optimizer, hasScheduler: recipe.oneCycle)
        let runData = try SegmentationRunData(settings: settings, data: data)
        settings.validationSize = runData.validationSize
        let trainer = SegmentationTrainer(model: model, optimizer: optimizer, classCount: FashionMNISTMosaic.classCount)
        if recipe.oneCycle {
            trainer.scheduler = OneCycleLR(optimizer, maxLearningRate: settings.learningRate, totalSteps: settings.epochs * runData.train.count)
        }
        trainer.diceWeight = recipe.diceWeight
        trainer.timeBudget = timeBudget
        trainer.classNames = FashionMNISTMosaic.classNames
        trainer.outputDirectory = folder.url
        print(Self.modelLine(model, recipe: recipe, settings: settings))
        print(runData.description)
        let (interruption, started) = try startRun(trainer, settings: settings, checkpoint: checkpoint) {
            try trainer.fit(runData.train, validation: runData.validation, epochs: settings.epochs, stopAfter: stopAfter)
        }
        let seconds = Date().timeIntervalSince(started)
        guard trainer.completedEpochs >= settings.epochs || trainer.ranOutOfTime else {
            print("stopped after epoch \(trainer.completedEpochs) of \(settings.epochs) (--stop-after); continue with --resume --output \(output)")
            return
        }
        if trainer.ranOutOfTime { print("time budget of \(timeBudget ?? 0) s reached in epoch \(trainer.completedEpochs) of \(settings.epochs)") }
        try trainer.test(runData.test)
        try model.save(to: folder.model, metadata: ["stitch.model": settings.model])
        withExtendedLifetime(interruption) {}
        let url = folder.url
        print(String(format: "training time: %.1f s", seconds))
        print("plots: " + ["loss.svg", "mean_iou.svg"].map { url.appendingPathComponent($0).path }.joined(separator: ", "))
        print("metrics: \(url.appendingPathComponent("metrics.csv").path)")
        print("sheet: \(url.appendingPathComponent("sheet.png").path)")
        print("model: \(folder.model.path)")
    }
}
