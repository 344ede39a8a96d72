import DeepCore
import Foundation

/// The result of ``Trainer/evaluate(_:)``.
public struct Evaluation {
    /// Mean loss.
    public let loss: Double
    /// Predictions against labels.
    public let confusion: ConfusionMatrix
    /// Accuracy.
    public var accuracy: Double { confusion.accuracy }
    /// Macro-averaged F1.
    public var macroF1: Double { confusion.macroF1 }
}

/// Fits a classifier: the training loop with a progress bar, validation each epoch, early
/// stopping, an atomic checkpoint each epoch with exact resume, a CSV of the figures and SVG
/// plots of the curves and the confusion matrix (every epoch of the run, resumed or not), and
/// one evaluation on the test set at the end.
///
/// Validate on examples held out from the training set, never on the test set: early stopping
/// and any choice made from the per-epoch figures see the validation examples, and the test
/// figures of ``test(_:)`` stay an honest estimate.
///
/// ``requestStop()`` (from any thread: a Ctrl-C handler) ends training after the current batch:
/// ``fit(_:validation:epochs:stopAfter:)`` throws ``TrainingInterrupted`` and the files hold the
/// last complete epoch.
///
///     let parts = randomSplit(train, sizes: [train.count - 5_000, 5_000], seed: 0)
///     let trainer = Trainer(model: model, optimizer: Adam(model.parameters), classCount: 10)
///     trainer.outputDirectory = URL(fileURLWithPath: "runs/cnn")
///     try trainer.fit(DataLoader(parts[0], batchSize: 64, shuffle: true), validation: DataLoader(parts[1], batchSize: 500), epochs: 2)
///     try trainer.test(DataLoader(test, batchSize: 500))   // once, at the end
///
/// **Data-parallel** (one process per rank, e.g. under `mpirun`): set ``processGroup`` on every
/// rank, give `fit` a training loader whose sampler is this rank's ``DistributedSampler`` (with the
/// batch size per rank) and evaluation loaders of this rank's share
/// (`Subset(data, evaluationShareOf: group)`). The trainer then averages gradients through
/// ``DistributedDataParallel``, sums every figure over the ranks (losses, confusion matrices),
/// and lets only rank 0 print and write files; a stop request on any rank stops every rank after
/// the same batch.
public final class Trainer {
    /// The model trained.
    public let model: Module
    /// Its optimiser.
    public let optimizer: Optimizer
    /// A schedule, stepped each epoch, or each batch when `stepSchedulerPerBatch`.
    public var scheduler: LRScheduler?
    /// Whether the schedule advances each batch (OneCycleLR, warm-up) rather than each epoch.
    public var stepSchedulerPerBatch = false
    /// The loss of logits (N, C) against labels (default: cross-entropy).
    public var loss: (Tensor, [Int]) -> Tensor
    /// Replaces a training step's forward pass and ``loss`` (objectives that compare images with
    /// captions, such as ``CLIPClassifier/contrastiveLoss(images:labels:captions:)``): the batch's
    /// loss and its class logits (N, classCount) for the training accuracy. Evaluation still calls
    /// the model. Under a ``processGroup`` the objective calls the model itself: gradients are
    /// averaged all the same.
    public var objective: ((Batch) -> (loss: Tensor, classLogits: Tensor))?
    /// Number of classes.
    public let classCount: Int
    /// Class names for the confusion-matrix plot.
    public var classNames: [String]?
    /// Where checkpoints, `metrics.csv` and the plots go; nil writes nothing.
    public var outputDirectory: URL?
    /// Stop when validation accuracy has not improved for this many epochs (needs a validation
    /// loader).
    public var earlyStoppingPatience: Int?
    /// Clip the gradient norm to this value, if set.
    public var gradientClipNorm: Float?
    /// A teacher for knowledge distillation: when set, the loss is
    /// `distillationLoss(student:teacher:labels:temperature:alpha:)`.
    public var teacher: Module?
    /// Distillation temperature and mixing weight.
    public var distillation: (temperature: Float, alpha: Float) = (4, 0.9)
    /// The figures of every epoch so far.
    public private(set) var history: [EpochRecord] = []
    /// Progress output.
    public let progress = ProgressReporter()
    /// Whether to print progress at all.
    public var verbose = true
    /// Strings kept in every checkpoint and restored by ``resume(from:)-(Checkpoint)`` (the
    /// command line keeps the options of the run here).
    public var settings: [String: String] = [:]
    /// The ranks training together, or nil for one process (see the type's documentation).
    public var processGroup: ProcessGroup? {
        get { dataParallel.group }
        set { dataParallel.group = newValue }
    }
    /// Whether data-parallel training starts each gradient bucket's all-reduce while backward
    /// runs (true, the default) or only at its end (to measure what the overlap saves).
    public var overlapsCommunication: Bool {
        get { dataParallel.overlapsCommunication }
        set { dataParallel.overlapsCommunication = newValue }
    }
    /// Seconds data-parallel backward passes have waited for gradient all-reduces after their
    /// last op: the communication the overlap did not hide.
    public var communicationWaitSeconds: Double { dataParallel.communicationWaitSeconds }
    private let dataParallel = DataParallelTraining()

    private var bestMetric: Double?
    private var staleEpochs = 0
    /// Epochs completed (including those of a resumed checkpoint).
    public private(set) var completedEpochs = 0
    private let stopFlag = StopFlag()

    /// Creates a trainer.
    public init(model: Module, optimizer: Optimizer, scheduler: LRScheduler? = nil, classCount: Int,
                loss: @escaping (Tensor, [Int]) -> Tensor = { crossEntropy($0, $1) }) {
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.classCount = classCount
        self.loss = loss
    }

    /// One optimisation step on a batch; returns the loss and the logits (detached).
    public func trainStep(_ batch: Batch) -> (loss: Float, logits: Tensor) {
        optimizer.zeroGrad()
        let training = dataParallel.trainingModel(model)
        let value: Tensor, logits: Tensor
        if let objective {
            require(teacher == nil, "Trainer: a training objective and a distillation teacher do not go together")
            (value, logits) = objective(batch)
        } else {
            logits = training(batch.inputs)
            value = distilled(logits, batch)
        }
        value.backward()
        if let gradientClipNorm { clipGradNorm(model.parameters, maxNorm: gradientClipNorm) }
        optimizer.step()
        if stepSchedulerPerBatch { scheduler?.step() }
        return (value.item(), logits.detached())
    }

    /// The ``loss`` of `logits` on `batch`, or with a ``teacher`` the distillation loss against its logits.
    private func distilled(_ logits: Tensor, _ batch: Batch) -> Tensor {
        guard let teacher else { return loss(logits, batch.labels) }
        let t = withoutGrad { teacher(batch.inputs) }
        return distillationLoss(student: logits, teacher: t, labels: batch.labels,
                                temperature: distillation.temperature, alpha: distillation.alpha)
    }

    /// Asks a running ``fit(_:validation:epochs:stopAfter:)`` to stop after the current batch
    /// (safe from any thread). The epoch under way is dropped; the checkpoint, metrics and plots
    /// stay those of the last complete epoch.
    public func requestStop() { stopFlag.set(true) }

    /// Trains until `epochs` epochs are done (continuing after any resumed ones), validating after
    /// each, and returns every epoch's figures.
    /// - Parameters:
    ///   - validation: examples held out of the training data (``randomSplit(_:sizes:seed:)``),
    ///     never the test set; early stopping and the best metric watch their accuracy.
    ///   - epochs: the length of the whole run (schedules are planned for it).
    ///   - stopAfter: stop once this many epochs are done, to continue later with
    ///     ``resume(from:)-(URL)`` (nil: run to `epochs`).
    /// - Throws: ``TrainingInterrupted`` after ``requestStop()``; errors writing the files.
    @discardableResult
    public func fit(_ train: DataLoader, validation: DataLoader? = nil, epochs: Int, stopAfter: Int? = nil) throws -> [EpochRecord] {
        require(train.count > 0, "Trainer.fit: the training loader has no batches (\(train.dataset.count) examples, batch size \(train.batchSize)\(train.dropLast ? ", dropping the last partial batch" : ""))")
        require(earlyStoppingPatience == nil || validation != nil,
                "Trainer.fit: early stopping (patience \(earlyStoppingPatience ?? 0)) watches validation accuracy; give a validation loader")
        if let dir = outputDirectory, dataParallel.isMain { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        teacher?.eval()
        while completedEpochs < min(epochs, stopAfter ?? epochs) {
            let epoch = completedEpochs + 1
            let started = progress.elapsed
            model.train()
            train.epoch = completedEpochs
            var lossSum = 0.0, seen = 0
            var cm = ConfusionMatrix(classCount: classCount)
            var batchIndex = 0
            for batch in train {
                let (l, logits) = trainStep(batch)
                lossSum += Double(l) * Double(batch.labels.count)
                seen += batch.labels.count
                cm.add(predictions: predictedClasses(logits), labels: batch.labels)
                batchIndex += 1
                try stopIfRequested()
                if verbose && dataParallel.isMain {
                    let t = progress.elapsed - started
                    progress.update(epoch: epoch, epochs: epochs, done: batchIndex, total: train.count,
                                    loss: lossSum / Double(seen), examplesPerSecond: Double(seen) / max(t, 1e-9),
                                    epochElapsed: t)
                }
            }
            if !stepSchedulerPerBatch && !(scheduler is ReduceLROnPlateau) { scheduler?.step() }
            (lossSum, seen, cm) = dataParallel.totals(lossSum: lossSum, seen: seen, cm)
            var record = EpochRecord(epoch: epoch, trainLoss: lossSum / Double(max(seen, 1)), trainAccuracy: cm.accuracy,
                                     learningRate: Double(optimizer.learningRate), seconds: 0)
            var validationConfusion: ConfusionMatrix?
            if let validation {
                let e = evaluate(validation)
                record.validationLoss = e.loss
                record.validationAccuracy = e.accuracy
                record.validationMacroF1 = e.macroF1
                validationConfusion = e.confusion
            }
            (scheduler as? ReduceLROnPlateau)?.step(metric: record.validationLoss ?? record.trainLoss)
            record.seconds = progress.elapsed - started
            history.append(record)
            completedEpochs = epoch
            if let metric = record.validationAccuracy {
                if metric > (bestMetric ?? -.infinity) { bestMetric = metric; staleEpochs = 0 } else { staleEpochs += 1 }
            }
            if verbose && dataParallel.isMain {
                var line = "epoch \(epoch)/\(epochs)" + String(format: "  train loss %.4f acc %.4f", record.trainLoss, record.trainAccuracy)
                if let vl = record.validationLoss, let va = record.validationAccuracy, let vf = record.validationMacroF1 {
                    line += String(format: "  val loss %.4f acc %.4f macro F1 %.4f", vl, va, vf)
                }
                line += String(format: "  lr %.3g  %.1fs", record.learningRate, record.seconds)
                progress.finishEpoch(line)
            }
            try writeReports(confusion: validationConfusion)
            try stopIfRequested()
            if let patience = earlyStoppingPatience, staleEpochs >= patience {
                if verbose && dataParallel.isMain { print("early stopping: no improvement for \(patience) epochs") }
                break
            }
        }
        return history
    }

    /// Evaluates the trained model once on the test set: prints `test loss:`, `test accuracy:`
    /// and `macro F1:` lines when ``verbose``, and writes `test_confusion_matrix.svg` into
    /// ``outputDirectory``. Nothing of training depends on it.
    /// - Throws: errors writing the plot.
    @discardableResult
    public func test(_ loader: DataLoader) throws -> Evaluation {
        let result = evaluate(loader)
        if verbose && dataParallel.isMain {
            print(String(format: "test loss: %.4f", result.loss))
            print(String(format: "test accuracy: %.4f", result.accuracy))
            print(String(format: "macro F1: %.4f", result.macroF1))
        }
        if let dir = outputDirectory, dataParallel.isMain {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try TrainingReports.writeTest(confusion: result.confusion, classNames: classNames, to: dir)
        }
        return result
    }

    /// Mean loss and confusion matrix of the model in evaluation mode over `loader` (with a
    /// ``processGroup``: over every rank's loader together).
    public func evaluate(_ loader: DataLoader) -> Evaluation {
        var lossSum = 0.0, seen = 0
        var cm = ConfusionMatrix(classCount: classCount)
        model.evaluating {
            for batch in loader {
                let logits = model(batch.inputs)
                lossSum += Double(crossEntropy(logits, batch.labels).item()) * Double(batch.labels.count)
                seen += batch.labels.count
                cm.add(predictions: predictedClasses(logits), labels: batch.labels)
            }
        }
        (lossSum, seen, cm) = dataParallel.totals(lossSum: lossSum, seen: seen, cm)
        return Evaluation(loss: lossSum / Double(max(seen, 1)), confusion: cm)
    }

    /// The checkpoint of the current state.
    public func checkpoint() -> Checkpoint {
        Checkpoint(epoch: completedEpochs, model: model.stateDict(), optimizer: optimizer.stateDict(),
                   optimizerKind: String(describing: type(of: optimizer)), schedulerEpoch: scheduler?.lastEpoch,
                   schedulerState: scheduler?.stateDict() ?? [:],
                   generatorState: DefaultRandom.generator.state, bestMetric: bestMetric, staleEpochs: staleEpochs,
                   history: history, settings: settings)
    }

    /// Restores the checkpoint at `url`; see ``resume(from:)-(Checkpoint)``.
    public func resume(from url: URL) throws {
        try resume(from: Checkpoint(contentsOf: url))
    }

    /// Restores a checkpoint: weights, optimiser, schedule, generator, epoch count, history and
    /// settings, so that continuing gives the same result as never having stopped. The checkpoint
    /// is checked in full first (``Checkpoint/validate(model:optimizer:scheduler:)``): on any
    /// error nothing changes.
    public func resume(from c: Checkpoint) throws {
        try c.restore(model: model, optimizer: optimizer, scheduler: scheduler)
        completedEpochs = c.epoch
        bestMetric = c.bestMetric
        staleEpochs = c.staleEpochs
        history = c.history
        settings = c.settings
    }

    /// Throws ``TrainingInterrupted`` (once) when ``requestStop()`` was called.
    private func stopIfRequested() throws {
        guard dataParallel.largest([stopFlag.set(false) ? 1 : 0])[0] > 0 else { return }
        if verbose && progress.isTerminal { print("") }
        throw TrainingInterrupted(completedEpochs: completedEpochs)
    }

    /// Writes the checkpoint, `metrics.csv` and the SVG plots into ``outputDirectory``.
    private func writeReports(confusion: ConfusionMatrix?) throws {
        guard let dir = outputDirectory, dataParallel.isMain else { return }
        try checkpoint().write(to: dir.appendingPathComponent("checkpoint.safetensors"))
        try TrainingReports.write(history: history, confusion: confusion, classNames: classNames, to: dir)
    }
}

/// Thrown by ``Trainer/fit(_:validation:epochs:stopAfter:)`` when ``Trainer/requestStop()`` ended
/// training early.
public struct TrainingInterrupted: Error, CustomStringConvertible {
    /// Epochs complete (and saved, when the trainer has an output directory).
    public let completedEpochs: Int
    public var description: String { "training interrupted after \(completedEpochs) complete epochs" }
}

/// A flag set from one thread and read from another.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    /// Sets the flag to `newValue`; returns the value it had.
    @discardableResult
    func set(_ newValue: Bool) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let old = value
        value = newValue
        return old
    }
}
