import DeepCore
import Foundation

/// The result of ``SegmentationTrainer/evaluate(_:)``.
public struct SegmentationEvaluation {
    /// Mean loss per pixel (cross-entropy plus the weighted Dice loss).
    public let loss: Double
    /// Pixel counts and the figures read from them.
    public let metrics: SegmentationMetrics
}

/// Fits a segmentation model (logits (N, C, H, W) against masks (N, H, W)): per-pixel
/// cross-entropy plus ``diceWeight`` times the Dice loss, a schedule stepped each batch, the
/// pixel accuracy and mean IoU of a held-out validation set after each epoch, an atomic
/// checkpoint each epoch with exact resume, `metrics.csv` and the curves; one evaluation on the
/// test set at the end (``test(_:)``), with a sheet of test images and masks.
///
/// The epoch records (``EpochRecord``, as checkpoints keep them) hold the train pixel accuracy as
/// `trainAccuracy`, the validation pixel accuracy as `validationAccuracy` and the validation mean
/// IoU as `validationMacroF1`; `metrics.csv` names them so.
///
///     let trainer = SegmentationTrainer(model: UNet(inChannels: 1, numClasses: 11, depth: 3, baseChannels: 32, bilinear: true),
///                                       optimizer: AdamW(model.parameters, learningRate: 3e-3), classCount: 11)
///     try trainer.fit(DataLoader(train, batchSize: 32, seed: 0, dropLast: true, numWorkers: 2),
///                     validation: DataLoader(validation, batchSize: 100), epochs: 2)
///     try trainer.test(DataLoader(test, batchSize: 100))
///
/// The loaders' examples must carry targets (``Example/target``, masks (H, W) of class indices),
/// as ``FashionMNISTMosaic`` and ``SegmentationFolder`` give them.
///
/// Data-parallel training works as ``Trainer``'s (set ``processGroup``; loaders of this rank's
/// share); the time budget is then the slowest rank's, so every rank stops after the same batch.
public final class SegmentationTrainer {
    /// The model trained.
    public let model: Module
    /// Its optimiser.
    public let optimizer: Optimizer
    /// A schedule stepped after every batch (OneCycleLR).
    public var scheduler: LRScheduler?
    /// Number of classes.
    public let classCount: Int
    /// Weight of the Dice loss added to the cross-entropy (0: cross-entropy alone).
    public var diceWeight: Float = 0
    /// Class names for the reports.
    public var classNames: [String]?
    /// Where checkpoints, `metrics.csv`, the plots and the test sheet go; nil writes nothing.
    public var outputDirectory: URL?
    /// Stop training once this many seconds of it have passed (after the batch under way; that
    /// epoch counts as done), nil: no limit. A ``OneCycleLR`` schedule then runs over the budget:
    /// after each batch its position is the larger of the steps taken and the share of the budget
    /// spent times its length, so it anneals fully by the end of the budget however fast the
    /// machine is.
    public var timeBudget: Double?
    /// The figures of every epoch so far.
    public private(set) var history: [EpochRecord] = []
    /// Progress output.
    public let progress = ProgressReporter()
    /// Whether to print progress at all.
    public var verbose = true
    /// Strings kept in every checkpoint (the command line keeps the run's options here).
    public var settings: [String: String] = [:]
    /// Epochs completed (including those of a resumed checkpoint).
    public private(set) var completedEpochs = 0
    /// Whether ``timeBudget`` ended the last ``fit(_:validation:epochs:stopAfter:)``.
    public private(set) var ranOutOfTime = false
    private var bestMetric: Double?
    private let stopFlag = StopFlag()
    private let dataParallel = DataParallelTraining()

    /// The ranks training together, or nil for one process (see ``Trainer/processGroup``).
    public var processGroup: ProcessGroup? {
        get { dataParallel.group }
        set { dataParallel.group = newValue }
    }

    /// Creates a trainer.
    public init(model: Module, optimizer: Optimizer, scheduler: LRScheduler? = nil, classCount: Int) {
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.classCount = classCount
    }

    /// The loss of `logits` (N, C, H, W) against pixel `labels` in (N, H, W) order.
    public func loss(_ logits: Tensor, _ labels: [Int]) -> Tensor {
        let ce = crossEntropy(logits, labels)
        return diceWeight == 0 ? ce : ce + diceLoss(logits, labels) * diceWeight
    }

    /// Asks a running fit to stop after the current batch (safe from any thread).
    public func requestStop() { stopFlag.set(true) }

    /// Trains until `epochs` epochs are done (or ``timeBudget`` runs out), validating after each.
    /// - Throws: ``TrainingInterrupted`` after ``requestStop()``; errors writing the files.
    @discardableResult
    public func fit(_ train: DataLoader, validation: DataLoader? = nil, epochs: Int, stopAfter: Int? = nil) throws -> [EpochRecord] {
        require(train.count > 0, "SegmentationTrainer.fit: the training loader has no batches (\(train.dataset.count) examples, batch size \(train.batchSize))")
        if let dir = outputDirectory, dataParallel.isMain { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        let fitStarted = progress.elapsed
        ranOutOfTime = false
        while completedEpochs < min(epochs, stopAfter ?? epochs), !ranOutOfTime {
            let epoch = completedEpochs + 1, started = progress.elapsed
            model.train()
            var lossSum = 0.0, seen = 0, batchIndex = 0
            var metrics = SegmentationMetrics(classCount: classCount)
            train.epoch = completedEpochs
            for batch in train {
                let labels = Self.pixelLabels(of: batch)
                optimizer.zeroGrad()
                let logits = dataParallel.trainingModel(model)(batch.inputs)
                let value = loss(logits, labels)
                value.backward()
                optimizer.step()
                // The slowest rank's time, so that every rank schedules and stops alike.
                let spent = timeBudget == nil ? 0 : dataParallel.largest([progress.elapsed - fitStarted])[0]
                if let timeBudget, let cycle = scheduler as? OneCycleLR {
                    cycle.step(reaching: spent / timeBudget)
                } else {
                    scheduler?.step()
                }
                lossSum += Double(value.item()) * Double(batch.count)
                seen += batch.count
                metrics.add(predictions: predictedPixelClasses(logits.detached()), labels: labels)
                batchIndex += 1
                try stopIfRequested()
                if let timeBudget, spent >= timeBudget { ranOutOfTime = true }
                if verbose && dataParallel.isMain {
                    let t = progress.elapsed - started
                    progress.update(epoch: epoch, epochs: epochs, done: batchIndex, total: train.count, loss: lossSum / Double(seen),
                                    examplesPerSecond: Double(seen) / max(t, 1e-9), epochElapsed: t)
                }
                if ranOutOfTime { break }
            }
            (lossSum, seen, metrics) = dataParallel.totals(lossSum: lossSum, seen: seen, metrics)
            var record = EpochRecord(epoch: epoch, trainLoss: lossSum / Double(max(seen, 1)), trainAccuracy: metrics.pixelAccuracy,
                                     learningRate: Double(optimizer.learningRate), seconds: 0)
            if let validation {
                let e = evaluate(validation)
                record.validationLoss = e.loss
                record.validationAccuracy = e.metrics.pixelAccuracy
                record.validationMacroF1 = e.metrics.meanIoU
                bestMetric = max(bestMetric ?? -.infinity, e.metrics.meanIoU)
            }
            record.seconds = progress.elapsed - started
            history.append(record)
            completedEpochs = epoch
            if verbose && dataParallel.isMain {
                var line = "epoch \(epoch)/\(epochs)" + String(format: "  train loss %.4f pixel acc %.4f", record.trainLoss, record.trainAccuracy)
                if let vl = record.validationLoss, let va = record.validationAccuracy, let vm = record.validationMacroF1 {
                    line += String(format: "  val loss %.4f pixel acc %.4f mean IoU %.4f", vl, va, vm)
                }
                line += String(format: "  lr %.3g  %.1fs", record.learningRate, record.seconds)
                if ranOutOfTime { line += "  (time budget reached)" }
                progress.finishEpoch(line)
            }
            try writeReports()
            try stopIfRequested()
        }
        return history
    }

    /// Mean loss and pixel counts of the model in evaluation mode over `loader`'s batches of epoch 0
    /// (the loader's ``DataLoader/epoch`` is left alone).
    public func evaluate(_ loader: DataLoader) -> SegmentationEvaluation {
        var lossSum = 0.0, seen = 0
        var metrics = SegmentationMetrics(classCount: classCount)
        model.evaluating {
            for batch in IteratorSequence(loader.batches(epoch: 0)) {
                let labels = Self.pixelLabels(of: batch)
                let logits = model(batch.inputs)
                lossSum += Double(loss(logits, labels).item()) * Double(batch.count)
                seen += batch.count
                metrics.add(predictions: predictedPixelClasses(logits), labels: labels)
            }
        }
        (lossSum, seen, metrics) = dataParallel.totals(lossSum: lossSum, seen: seen, metrics)
        return SegmentationEvaluation(loss: lossSum / Double(max(seen, 1)), metrics: metrics)
    }

    /// Evaluates the model once on the test set: prints the per-class IoU and `mean IoU:`,
    /// `Dice:` and `pixel accuracy:` lines when ``verbose``, and writes the sheet of the first
    /// `sheetRows` test images with their true and predicted masks into ``outputDirectory``.
    @discardableResult
    public func test(_ loader: DataLoader, sheetRows: Int = 8) throws -> SegmentationEvaluation {
        let result = evaluate(loader)
        if verbose && dataParallel.isMain {
            let names = classNames ?? (0..<classCount).map { "class \($0)" }
            print(String(format: "test loss: %.4f", result.loss))
            print("per-class IoU: " + zip(names, result.metrics.intersectionOverUnion).map { "\($0) \(String(format: "%.3f", $1))" }.joined(separator: ", "))
            print(String(format: "mean IoU: %.4f", result.metrics.meanIoU))
            print(String(format: "Dice: %.4f", result.metrics.meanDice))
            print(String(format: "pixel accuracy: %.4f", result.metrics.pixelAccuracy))
        }
        if let dir = outputDirectory, sheetRows > 0, dataParallel.isMain {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let sheet = model.evaluating { () -> SegmentationSheet in
                guard loader.dataset.count > 0,
                      let first = DataLoader(loader.dataset, batchSize: min(sheetRows, loader.dataset.count), seed: loader.seed).batches(epoch: 0).next()
                else { return SegmentationSheet(width: 0, height: 0, pixels: []) }
                return SegmentationSheet(images: first.inputs, truth: Self.pixelLabels(of: first),
                                         predictions: predictedPixelClasses(model(first.inputs)))
            }
            if sheet.width > 0 { try sheet.image.write(to: dir.appendingPathComponent("sheet.png"), format: .png) }
        }
        return result
    }

    /// The checkpoint of the current state.
    public func checkpoint() -> Checkpoint {
        Checkpoint(epoch: completedEpochs, model: model.stateDict(), optimizer: optimizer.stateDict(),
                   optimizerKind: String(describing: type(of: optimizer)), schedulerEpoch: scheduler?.lastEpoch,
                   schedulerState: scheduler?.stateDict() ?? [:], generatorState: DefaultRandom.generator.state,
                   bestMetric: bestMetric, staleEpochs: 0, history: history, settings: settings)
    }

    /// Restores a checkpoint (weights, optimiser, schedule, generator, epochs, history,
    /// settings), checked in full first: on any error nothing changes.
    public func resume(from c: Checkpoint) throws {
        try c.restore(model: model, optimizer: optimizer, scheduler: scheduler)
        completedEpochs = c.epoch
        bestMetric = c.bestMetric
        history = c.history
        settings = c.settings
    }

    /// The batch's mask pixels' class ids in (N, H, W) order; a batch without targets stops.
    private static func pixelLabels(of batch: Batch) -> [Int] {
        guard let labels = batch.targetLabels else {
            ShapeErrors.stop("SegmentationTrainer: the loader's examples have no target mask (Example.target)")
        }
        return labels
    }

    /// Throws ``TrainingInterrupted`` (once) when ``requestStop()`` was called on any rank.
    private func stopIfRequested() throws {
        guard dataParallel.largest([stopFlag.set(false) ? 1 : 0])[0] > 0 else { return }
        if verbose && progress.isTerminal { print("") }
        throw TrainingInterrupted(completedEpochs: completedEpochs)
    }

    /// The header of a segmentation run's `metrics.csv` (the fields of ``EpochRecord/csvRow``).
    public static let csvHeader = "epoch,train_loss,train_pixel_accuracy,val_loss,val_pixel_accuracy,val_mean_iou,learning_rate,seconds"

    /// Writes the checkpoint, `metrics.csv`, `loss.svg` and `mean_iou.svg`.
    private func writeReports() throws {
        guard let dir = outputDirectory, dataParallel.isMain else { return }
        try checkpoint().write(to: dir.appendingPathComponent("checkpoint.safetensors"))
        try TrainingReports.writeMetricsAndCurves(
            history: history, csvHeader: Self.csvHeader,
            score: .init(title: "Pixel accuracy and mean IoU", yLabel: "score", train: "train pixel accuracy",
                         validation: "validation mean IoU", validationValue: \.validationMacroF1, file: "mean_iou.svg"),
            to: dir)
    }
}
