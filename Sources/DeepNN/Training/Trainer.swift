import DeepCore
import Foundation

/// One epoch's figures.
public struct EpochRecord {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean training loss.
    public var trainLoss: Double
    /// Training accuracy (on the augmented batches, in training mode).
    public var trainAccuracy: Double
    /// Validation loss, accuracy and macro F1, when a validation loader is given.
    public var validationLoss: Double?
    /// Validation accuracy.
    public var validationAccuracy: Double?
    /// Validation macro F1.
    public var validationMacroF1: Double?
    /// Learning rate of the first group at the epoch's end.
    public var learningRate: Double
    /// Wall time of the epoch (training and validation).
    public var seconds: Double
}

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
/// plots of the curves and the confusion matrix.
///
///     let trainer = Trainer(model: model, optimizer: Adam(model.parameters), classCount: 10)
///     trainer.outputDirectory = URL(fileURLWithPath: "runs/cnn")
///     try trainer.fit(trainLoader, validation: testLoader, epochs: 2)
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
    /// Number of classes.
    public let classCount: Int
    /// Class names for the confusion-matrix plot.
    public var classNames: [String]?
    /// Where checkpoints, `metrics.csv` and the plots go; nil writes nothing.
    public var outputDirectory: URL?
    /// Stop when validation accuracy has not improved for this many epochs.
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

    private var bestMetric: Double?
    private var staleEpochs = 0
    private var completedEpochs = 0

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
        let logits = model(batch.inputs)
        let value: Tensor
        if let teacher {
            let t = withoutGrad { teacher(batch.inputs) }
            value = distillationLoss(student: logits, teacher: t, labels: batch.labels,
                                     temperature: distillation.temperature, alpha: distillation.alpha)
        } else {
            value = loss(logits, batch.labels)
        }
        value.backward()
        if let gradientClipNorm { clipGradNorm(model.parameters, maxNorm: gradientClipNorm) }
        optimizer.step()
        if stepSchedulerPerBatch { scheduler?.step() }
        return (value.item(), logits.detached())
    }

    /// Trains for `epochs` epochs (continuing after any resumed ones), validating after each.
    @discardableResult
    public func fit(_ train: DataLoader, validation: DataLoader? = nil, epochs: Int) throws -> [EpochRecord] {
        if let dir = outputDirectory { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        teacher?.eval()
        while completedEpochs < epochs {
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
                if verbose {
                    let t = progress.elapsed - started
                    progress.update(epoch: epoch, epochs: epochs, done: batchIndex, total: train.count,
                                    loss: lossSum / Double(seen), examplesPerSecond: Double(seen) / max(t, 1e-9),
                                    epochElapsed: t)
                }
            }
            if !stepSchedulerPerBatch { scheduler?.step() }
            var record = EpochRecord(epoch: epoch, trainLoss: lossSum / Double(max(seen, 1)), trainAccuracy: cm.accuracy,
                                     validationLoss: nil, validationAccuracy: nil, validationMacroF1: nil,
                                     learningRate: Double(optimizer.learningRate), seconds: 0)
            var validationConfusion: ConfusionMatrix?
            if let validation {
                let e = evaluate(validation)
                record.validationLoss = e.loss
                record.validationAccuracy = e.accuracy
                record.validationMacroF1 = e.macroF1
                validationConfusion = e.confusion
            }
            record.seconds = progress.elapsed - started
            history.append(record)
            completedEpochs = epoch
            let metric = record.validationAccuracy ?? record.trainAccuracy
            if metric > (bestMetric ?? -.infinity) { bestMetric = metric; staleEpochs = 0 } else { staleEpochs += 1 }
            if verbose {
                var line = String(format: "epoch %d/%d  train loss %.4f acc %.4f", epoch, epochs, record.trainLoss, record.trainAccuracy)
                if let vl = record.validationLoss, let va = record.validationAccuracy, let vf = record.validationMacroF1 {
                    line += String(format: "  val loss %.4f acc %.4f macro F1 %.4f", vl, va, vf)
                }
                line += String(format: "  lr %.3g  %.1fs", record.learningRate, record.seconds)
                progress.finishEpoch(line)
            }
            try writeReports(confusion: validationConfusion)
            if let patience = earlyStoppingPatience, staleEpochs >= patience {
                if verbose { print("early stopping: no improvement for \(patience) epochs") }
                break
            }
        }
        return history
    }

    /// Mean loss and confusion matrix of the model in evaluation mode over `loader`.
    public func evaluate(_ loader: DataLoader) -> Evaluation {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        var lossSum = 0.0, seen = 0
        var cm = ConfusionMatrix(classCount: classCount)
        withoutGrad {
            for batch in loader {
                let logits = model(batch.inputs)
                lossSum += Double(crossEntropy(logits, batch.labels).item()) * Double(batch.labels.count)
                seen += batch.labels.count
                cm.add(predictions: predictedClasses(logits), labels: batch.labels)
            }
        }
        return Evaluation(loss: lossSum / Double(max(seen, 1)), confusion: cm)
    }

    /// The checkpoint of the current state.
    public func checkpoint() -> Checkpoint {
        Checkpoint(epoch: completedEpochs, model: model.stateDict(), optimizer: optimizer.stateDict(),
                   schedulerEpoch: scheduler?.lastEpoch, generatorState: DefaultRandom.generator.state,
                   bestMetric: bestMetric, staleEpochs: staleEpochs)
    }

    /// Restores a checkpoint: weights, optimiser, schedule, generator and epoch count, so that
    /// continuing gives the same result as never having stopped.
    public func resume(from url: URL) throws {
        let c = try Checkpoint(contentsOf: url)
        try model.loadStateDict(c.model)
        try optimizer.loadStateDict(c.optimizer)
        if let s = c.schedulerEpoch { scheduler?.restore(lastEpoch: s) }
        DefaultRandom.generator.state = c.generatorState
        completedEpochs = c.epoch
        bestMetric = c.bestMetric
        staleEpochs = c.staleEpochs
    }

    /// Writes the checkpoint, `metrics.csv` and the SVG plots into ``outputDirectory``.
    private func writeReports(confusion: ConfusionMatrix?) throws {
        guard let dir = outputDirectory else { return }
        try checkpoint().write(to: dir.appendingPathComponent("checkpoint.safetensors"))
        var csv = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_macro_f1,learning_rate,seconds\n"
        func field(_ v: Double?) -> String { v.map { String(format: "%.6f", $0) } ?? "" }
        for r in history {
            csv += "\(r.epoch),\(field(r.trainLoss)),\(field(r.trainAccuracy)),\(field(r.validationLoss)),"
            csv += "\(field(r.validationAccuracy)),\(field(r.validationMacroF1)),\(field(r.learningRate)),\(field(r.seconds))\n"
        }
        try AtomicWrite.write(Data(csv.utf8), to: dir.appendingPathComponent("metrics.csv"))
        var lossSeries = [SVGPlot.Series(name: "train loss", values: history.map(\.trainLoss), color: "#1f77b4")]
        var accSeries = [SVGPlot.Series(name: "train accuracy", values: history.map(\.trainAccuracy), color: "#1f77b4")]
        if history.contains(where: { $0.validationLoss != nil }) {
            lossSeries.append(SVGPlot.Series(name: "validation loss", values: history.map { $0.validationLoss ?? .nan }, color: "#d62728"))
            accSeries.append(SVGPlot.Series(name: "validation accuracy", values: history.map { $0.validationAccuracy ?? .nan }, color: "#d62728"))
        }
        try AtomicWrite.write(Data(SVGPlot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: lossSeries).utf8),
                              to: dir.appendingPathComponent("loss.svg"))
        try AtomicWrite.write(Data(SVGPlot.lineChart(title: "Accuracy", xLabel: "epoch", yLabel: "accuracy", series: accSeries).utf8),
                              to: dir.appendingPathComponent("accuracy.svg"))
        if let confusion {
            try AtomicWrite.write(Data(SVGPlot.confusionMatrix(confusion, classNames: classNames).utf8),
                                  to: dir.appendingPathComponent("confusion_matrix.svg"))
        }
    }
}
