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
    /// Mosaics per training epoch, validation and test (all ranks' shares together).
    let counts: (train: Int, validation: Int, test: Int)

    /// Mosaics of an epoch made of `images` items: a third as many (each image shows about once).
    static func mosaicCount(images: Int) -> Int { images / 3 }
    /// Mosaics per evaluation batch.
    static let evaluationBatchSize = 100

    /// Reads the images of a run with `settings`.
    /// - Throws: `ValidationError` naming the option when the sizes do not fit the data;
    ///   ``DatasetError`` when a file is missing or damaged.
    /// Under MPI (`group`) each loader holds this rank's share, as ``RunData``'s do.
    init(settings: RunSettings, data: DataOptions, group: ProcessGroup? = nil) throws {
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
        let trainSet = FashionMNISTMosaic(items: items(parts[0]), count: mosaics)
        let validationSet = held == 0 ? nil
            : FashionMNISTMosaic(items: items(parts[1]), count: max(1, Self.mosaicCount(images: held)), seed: settings.seed &+ 1)
        let testCount = min(FashionMNISTMosaic.testCount, settings.limit ?? FashionMNISTMosaic.testCount)
        let testSet = try FashionMNISTMosaic.testSplit(directory: data.dataDirectory, count: testCount)
        if let group, group.worldSize > 1 {
            let sampler = DistributedSampler(datasetCount: trainSet.count, group: group, seed: settings.seed)
            train = DataLoader(trainSet, batchSize: try DistributedRun.batchSizePerRank(batchSize, group: group),
                               seed: DistributedRun.loaderSeed(settings.seed, group: group), sampler: sampler, dropLast: true, numWorkers: workers)
            validation = validationSet.map { DataLoader(Subset($0, evaluationShareOf: group), batchSize: eval, numWorkers: workers) }
            test = DataLoader(Subset(testSet, evaluationShareOf: group), batchSize: eval, numWorkers: workers)
        } else {
            train = DataLoader(trainSet, batchSize: batchSize, seed: settings.seed, dropLast: true, numWorkers: workers)
            validation = validationSet.map { DataLoader($0, batchSize: eval, numWorkers: workers) }
            test = DataLoader(testSet, batchSize: eval, numWorkers: workers)
        }
        counts = (trainSet.count, validationSet?.count ?? 0, testSet.count)
        validationSize = held
    }

    /// One line saying how many mosaics each part holds.
    var description: String {
        "data: \(counts.train) new training mosaics each epoch, \(counts.validation) validation mosaics "
            + "(of \(validationSize) held-out images), \(counts.test) test mosaics"
    }
}

extension Stitch.Train {
    /// Trains a segmentation model on FashionMNISTMosaic (the `run()` of `--task segmentation`).
    func trainSegmentation(settings: RunSettings, checkpoint: Checkpoint?, group: ProcessGroup?) throws {
        var settings = settings
        let entry = ModelCatalog.entry(settings.model), recipe = entry.recipe
        var model = entry.make()
        try loadInitialWeights(into: model, name: settings.model)
        if let group, group.worldSize > 1 { model = try SyncBatchNorm.convert(model, group: group) }
        let optimizer = recipe.makeOptimizer(settings.optimizer, parameters: model.parameters, learningRate: settings.learningRate)
        // The checkpoint must fit before the data is read or any file changes.
        try checkpoint?.validate(model: model, optimizer: optimizer, hasScheduler: recipe.oneCycle)
        let runData = try SegmentationRunData(settings: settings, data: data, group: group)
        settings.validationSize = runData.validationSize
        let trainer = SegmentationTrainer(model: model, optimizer: optimizer, classCount: FashionMNISTMosaic.classCount)
        trainer.processGroup = group
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
        if DistributedRun.isMain { try model.save(to: folder.model, metadata: ["stitch.model": settings.model]) }
        withExtendedLifetime(interruption) {}
        let url = folder.url
        print(String(format: "training time: %.1f s", seconds))
        print("plots: " + ["loss.svg", "mean_iou.svg"].map { url.appendingPathComponent($0).path }.joined(separator: ", "))
        print("metrics: \(url.appendingPathComponent("metrics.csv").path)")
        print("sheet: \(url.appendingPathComponent("sheet.png").path)")
        print("model: \(folder.model.path)")
    }
}
