import DeepCore
import Foundation

/// One epoch's figures.
public struct EpochRecord: Codable, Equatable {
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

    /// Creates a record.
    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, validationLoss: Double? = nil,
                validationAccuracy: Double? = nil, validationMacroF1: Double? = nil, learningRate: Double, seconds: Double) {
        (self.epoch, self.trainLoss, self.trainAccuracy) = (epoch, trainLoss, trainAccuracy)
        (self.validationLoss, self.validationAccuracy, self.validationMacroF1) = (validationLoss, validationAccuracy, validationMacroF1)
        (self.learningRate, self.seconds) = (learningRate, seconds)
    }

    /// The header of `metrics.csv`.
    public static let csvHeader = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_macro_f1,learning_rate,seconds"

    /// The record's row of `metrics.csv` (six decimals; validation fields empty when absent).
    public var csvRow: String {
        func field(_ v: Double?) -> String { v.map { String(format: "%.6f", $0) } ?? "" }
        return "\(epoch)," + [trainLoss, trainAccuracy, validationLoss, validationAccuracy, validationMacroF1, learningRate, seconds]
            .map(field).joined(separator: ",")
    }

    /// Records as JSON text (non-finite numbers as the strings "nan", "inf", "-inf"), as
    /// checkpoints keep them.
    static func encode(_ records: [EpochRecord]) -> String {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return String(decoding: try encoder.encode(records), as: UTF8.self) } catch {
            ShapeErrors.stop("EpochRecord.encode: \(error)")
        }
    }

    /// The records of ``encode(_:)``'s text, or nil when it is not such a list.
    static func decode(_ text: String) -> [EpochRecord]? {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try? decoder.decode([EpochRecord].self, from: Data(text.utf8))
    }
}

/// The files a run writes beside its checkpoint: `metrics.csv` and the SVG plots of the loss,
/// the accuracy and the last validation confusion matrix, each replaced atomically; at the end,
/// the plot of the test confusion matrix.
enum TrainingReports {
    /// Writes `metrics.csv`, `loss.svg`, `accuracy.svg` and, when given, `confusion_matrix.svg`
    /// for every epoch of `history` into `directory`.
    static func write(history: [EpochRecord], confusion: ConfusionMatrix?, classNames: [String]?, to directory: URL) throws {
        try writeMetricsAndCurves(history: history, csvHeader: EpochRecord.csvHeader,
                                  score: Score(title: "Accuracy", yLabel: "accuracy", train: "train accuracy",
                                               validation: "validation accuracy", validationValue: \.validationAccuracy,
                                               file: "accuracy.svg"),
                                  to: directory)
        if let confusion {
            try writeConfusion(confusion, classNames: classNames, title: "Confusion matrix (validation, epoch \(history.last?.epoch ?? 0))",
                               to: directory.appendingPathComponent("confusion_matrix.svg"))
        }
    }

    /// The score plotted beside the loss: its chart's title, axis label, series names, the
    /// validation figure of a record, and the file.
    struct Score {
        var title: String, yLabel: String, train: String, validation: String
        var validationValue: KeyPath<EpochRecord, Double?>
        var file: String
    }

    /// Writes `metrics.csv` (under `csvHeader`), `loss.svg` and the score's chart (the train
    /// accuracy, and the validation score where there is one) for every epoch of `history`.
    static func writeMetricsAndCurves(history: [EpochRecord], csvHeader: String, score: Score, to directory: URL) throws {
        let csv = ([csvHeader] + history.map(\.csvRow)).joined(separator: "\n") + "\n"
        try AtomicWrite.write(Data(csv.utf8), to: directory.appendingPathComponent("metrics.csv"))
        var lossSeries = [SVGPlot.Series(name: "train loss", values: history.map(\.trainLoss), color: "#1f77b4")]
        var scoreSeries = [SVGPlot.Series(name: score.train, values: history.map(\.trainAccuracy), color: "#1f77b4")]
        if history.contains(where: { $0.validationLoss != nil }) {
            lossSeries.append(SVGPlot.Series(name: "validation loss", values: history.map { $0.validationLoss ?? .nan }, color: "#d62728"))
            scoreSeries.append(SVGPlot.Series(name: score.validation, values: history.map { $0[keyPath: score.validationValue] ?? .nan },
                                              color: "#d62728"))
        }
        try AtomicWrite.write(Data(SVGPlot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: lossSeries).utf8),
                              to: directory.appendingPathComponent("loss.svg"))
        try AtomicWrite.write(Data(SVGPlot.lineChart(title: score.title, xLabel: "epoch", yLabel: score.yLabel, series: scoreSeries).utf8),
                              to: directory.appendingPathComponent(score.file))
    }

    /// Writes `test_confusion_matrix.svg`, the test set's confusion matrix, into `directory`.
    static func writeTest(confusion: ConfusionMatrix, classNames: [String]?, to directory: URL) throws {
        try writeConfusion(confusion, classNames: classNames, title: "Confusion matrix (test)",
                           to: directory.appendingPathComponent("test_confusion_matrix.svg"))
    }

    private static func writeConfusion(_ confusion: ConfusionMatrix, classNames: [String]?, title: String, to url: URL) throws {
        try AtomicWrite.write(Data(SVGPlot.confusionMatrix(confusion, classNames: classNames, title: title).utf8), to: url)
    }
}
