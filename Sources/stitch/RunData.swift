import ArgumentParser
import DeepCore
import DeepNN

/// The examples of a training run: the training set (its first `--limit` examples) split at
/// random, seeded by `--seed`, into the examples trained on and those held out to validate on
/// after each epoch (`--validation-size`), and the test set, evaluated once at the end.
struct RunData {
    /// The examples trained on: shuffled, augmented as the recipe says, the last partial batch
    /// dropped (a batch of one cannot train BatchNorm).
    let train: DataLoader
    /// The examples held out, without augmentation (nil when none are).
    let validation: DataLoader?
    /// The test set.
    let test: DataLoader
    /// Examples held out for validation.
    let validationSize: Int
    /// Examples in the test set (all ranks' shares together).
    let testSize: Int
    /// Classes whose images were left out of training and validation (image-text `--hold-out`).
    let heldOutClasses: [Int]

    /// Examples held out when `--validation-size` is not given: 5,000 of Fashion-MNIST's 60,000
    /// training images, the same twelfth of fewer (a `--limit`).
    static func defaultValidationSize(trainingExamples n: Int) -> Int { min(5_000, n / 12) }

    /// Reads the data of a run with `settings` (whose `validationSize`, when nil, takes the default).
    /// - Throws: `ValidationError` naming the option when the sizes do not fit the data;
    ///   ``DatasetError`` when a file is missing or damaged.
    /// Under MPI (`group`), each loader holds this rank's share: the training batches are
    /// `--batch-size` / ranks examples of a ``DistributedSampler``, validation and test examples
    /// are split without repeats.
    init(settings: RunSettings, recipe: Recipe, data: DataOptions, group: ProcessGroup? = nil) throws {
        var train = try FashionMNIST(split: .train, directory: data.dataDirectory, transform: recipe.trainTransform)
        if let limit = settings.limit, limit < train.count {
            train = FashionMNIST(pixels: Array(train.pixels.prefix(limit * 784)), labels: Array(train.labels.prefix(limit)),
                                 transform: recipe.trainTransform)
        }
        if !settings.heldOut.isEmpty {
            let keep = train.labels.indices.filter { !settings.heldOut.contains(train.labels[$0]) }
            train = FashionMNIST(pixels: keep.flatMap { train.pixels[$0 * 784 ..< ($0 + 1) * 784] }, labels: keep.map { train.labels[$0] },
                                 transform: recipe.trainTransform)
        }
        heldOutClasses = settings.heldOut
        let n = train.count, batchSize = settings.batchSize
        guard n >= batchSize else {
            throw ValidationError("--batch-size \(batchSize) is more than the \(n) training examples; choose a batch size from 1 to \(n)")
        }
        let held = settings.validationSize ?? Self.defaultValidationSize(trainingExamples: n)
        let option = "--validation-size \(held)" + (settings.validationSize == nil ? " (the default)" : "")
        guard held <= n else {
            throw ValidationError("\(option) is more than the \(n) training examples; choose from 0 to \(n - batchSize)")
        }
        guard n - held >= batchSize else {
            throw ValidationError("\(option) leaves \(n - held) of the \(n) training examples to train on, fewer than --batch-size \(batchSize); "
                + "choose a validation size from 0 to \(n - batchSize) or a smaller batch size")
        }
        let parts = randomSplit(train, sizes: [n - held, held], seed: settings.seed)
        let test = try FashionMNIST(split: .test, directory: data.dataDirectory, transform: recipe.testTransform)
        let workers = data.numWorkers
        // The same images as parts[1], without the training augmentation.
        let plain = FashionMNIST(pixels: train.pixels, labels: train.labels, transform: recipe.testTransform)
        let validationSet = Subset(plain, indices: parts[1].indices)
        if let group, group.worldSize > 1 {
            let perRank = try DistributedRun.batchSizePerRank(batchSize, group: group)
            let sampler = DistributedSampler(datasetCount: parts[0].count, group: group, seed: settings.seed)
            self.train = DataLoader(parts[0], batchSize: perRank, seed: DistributedRun.loaderSeed(settings.seed, group: group), sampler: sampler,
                                    dropLast: true, numWorkers: workers)
            validation = held == 0 ? nil : DataLoader(Subset(validationSet, evaluationShareOf: group), batchSize: 500, numWorkers: workers)
            self.test = DataLoader(Subset(test, evaluationShareOf: group), batchSize: 500, numWorkers: workers)
        } else {
            self.train = DataLoader(parts[0], batchSize: batchSize, shuffle: true, seed: settings.seed, dropLast: true, numWorkers: workers)
            validation = held == 0 ? nil : DataLoader(validationSet, batchSize: 500, numWorkers: workers)
            self.test = DataLoader(test, batchSize: 500, numWorkers: workers)
        }
        validationSize = held
        testSize = test.count
    }

    /// One line saying how many examples each part holds.
    var description: String {
        "data: \(train.dataset.count) training examples, \(validationSize) held out for validation, \(testSize) test examples"
            + (heldOutClasses.isEmpty ? "" : " (training without the classes \(heldOutClasses.map { FashionMNIST.classNames[$0] }.joined(separator: ", ")))")
    }
}
