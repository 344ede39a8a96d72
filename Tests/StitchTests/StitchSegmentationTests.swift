import DeepCore
import DeepNN
import Foundation
import XCTest

/// `stitch train|evaluate|summary --task segmentation` on FashionMNISTMosaic mosaics of the tiny
/// data folder.
final class StitchSegmentationTests: StitchTestCase {
    /// A quick segmentation run: 40 training images (3 held out), 12 mosaics an epoch, batches of 4.
    static let quick = ["--task", "segmentation", "--limit", "40", "--batch-size", "4"]

    func testTrainReportsIoUAndWritesTheFilesThenEvaluateAndSummaryAgree() throws {
        let run = try succeeds(["train"] + Self.quick + ["--epochs", "1", "--output", "seg"])
        for words in ["model unet:", "12 new training mosaics each epoch", "1 validation mosaics (of 3 held-out images)", "40 test mosaics",
                      "per-class IoU: background ", "mean IoU: ", "Dice: ", "pixel accuracy: "] {
            XCTAssertTrue(run.stdout.contains(words), "\"\(words)\" not in:\n\(run.stdout)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: path("seg").path).sorted()
        XCTAssertEqual(files, ["checkpoint.safetensors", "loss.svg", "mean_iou.svg", "metrics.csv", "model.safetensors", "sheet.png"])
        let csv = try String(contentsOf: path("seg/metrics.csv"), encoding: .utf8)
        XCTAssertTrue(csv.hasPrefix(SegmentationTrainer.csvHeader + "\n1,"), csv)
        let sheet = try Image(contentsOf: path("seg/sheet.png"))
        XCTAssertEqual([sheet.width, sheet.height, sheet.channels], [3 * 64 + 8, 8 * 64 + 18, 3])
        // `evaluate` finds the model's task in the weights and tests the same 40 mosaics.
        let evaluated = try succeeds(["evaluate", "--weights", "seg/model.safetensors", "--limit", "40"])
        for prefix in ["per-class IoU:", "mean IoU:", "Dice:", "pixel accuracy:"] {
            XCTAssertEqual(line(prefix, in: evaluated.stdout), line(prefix, in: run.stdout), prefix)
        }
        let summary = try succeeds(["summary", "--task", "segmentation"])
        XCTAssertTrue(summary.stdout.contains("(1, 11, 64, 64)") || summary.stdout.contains("[1, 11, 64, 64]"), summary.stdout)
    }

    /// Mosaics are drawn from the seed, the epoch and the batch: a run stopped after one epoch and
    /// resumed ends exactly as the run never stopped.
    func testResumeIsExact() throws {
        try succeeds(["train"] + Self.quick + ["--epochs", "2", "--output", "straight"])
        let paused = try succeeds(["train"] + Self.quick + ["--epochs", "2", "--stop-after", "1", "--output", "resumed"])
        XCTAssertTrue(paused.stdout.contains("stopped after epoch 1 of 2"), paused.stdout)
        let resumed = try succeeds(["train", "--resume", "--output", "resumed"])
        XCTAssertTrue(resumed.stdout.contains("resumed after epoch 1"), resumed.stdout)
        XCTAssertEqual(try Data(contentsOf: path("resumed/model.safetensors")), try Data(contentsOf: path("straight/model.safetensors")))
        XCTAssertEqual(try metricsRows("resumed"), try metricsRows("straight"))
        XCTAssertEqual(try metricsRows("resumed").count, 2)
        // The run's task is kept: a classification option does not continue it.
        let refused = try start(["train", "--resume", "--task", "classification", "--output", "resumed"]).finish()
        XCTAssertEqual(refused.status, 64)
        XCTAssertTrue(refused.stderr.contains("--task classification differs from the run"), refused.stderr)
    }

    func testTimeBudgetEndsTrainingAndTests() throws {
        let run = try succeeds(["train"] + Self.quick + ["--epochs", "50", "--time-budget", "0.001", "--validation-size", "0", "--output", "budget"])
        XCTAssertTrue(run.stdout.contains("time budget of 0.001 s reached in epoch 1 of 50"), run.stdout)
        XCTAssertTrue(run.stdout.contains("mean IoU: "), run.stdout)
        XCTAssertEqual(try metricsRows("budget").count, 1)
    }

    func testBadOptionsAreRefused() throws {
        func refused(_ arguments: [String], _ words: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let run = try start(arguments, file: file, line: line).finish()
            XCTAssertEqual(run.status, 64, "\(arguments): \(run.stderr)", file: file, line: line)
            XCTAssertEqual(run.errorLines.count, 1, run.stderr, file: file, line: line)
            XCTAssertTrue(run.stderr.contains(words), "\"\(words)\" not in: \(run.stderr)", file: file, line: line)
            XCTAssertEqual(run.stdout, "", file: file, line: line)
        }
        try refused(["train", "--task", "detection"], "--task detection is unknown; available: classification, segmentation")
        try refused(["train", "--task", "segmentation", "--model", "cnn"],
                    "--task segmentation does not fit model cnn, a classification model; segmentation models: unet, unet32, umamba")
        try refused(["summary", "--task", "classification", "--model", "unet"], "--task classification does not fit model unet")
        try refused(["train", "--time-budget", "0"], "a finite number of seconds greater than 0 is expected")
        try refused(["train", "--time-budget", "nan"], "a finite number of seconds greater than 0 is expected")
        try refused(["train", "--time-budget", "10"], "--time-budget applies to --task segmentation only")
        try refused(["train", "--model", "unet", "--limit", "40", "--batch-size", "13"],
                    "--batch-size 13 is more than the 12 training mosaics of an epoch")
        try refused(["train", "--task", "segmentation", "--validation-size", "200"], "--validation-size 200 leaves none of the 200 training images")
        XCTAssertEqual(visibleContents, ["data"], "nothing written")
    }
}
