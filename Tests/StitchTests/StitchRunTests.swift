import DeepCore
import DeepNN
import Foundation
import XCTest

/// `stitch train`, `evaluate`, `summary` and `--resume` on a tiny data folder: results kept,
/// runs never replaced unless asked, checkpoints checked before use, Ctrl-C safe.
final class StitchRunTests: StitchTestCase {
    /// The lines of `output` starting with `prefix`.
    func lines(_ prefix: String, in output: String) -> [Substring] {
        output.split(separator: "\n").filter { $0.hasPrefix(prefix) }
    }

    /// The sum of the cells of a confusion-matrix plot of a run: the examples it counts.
    func confusionCount(_ file: String) throws -> Int {
        let svg = try String(contentsOf: path(file), encoding: .utf8)
        return svg.components(separatedBy: "data-count=\"").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }.reduce(0, +)
    }

    /// The validation fields (loss, accuracy, macro F1) of each row of a run's `metrics.csv`.
    func validationFields(_ run: String) throws -> [[Substring]] {
        try metricsRows(run).map { Array($0.split(separator: ",", omittingEmptySubsequences: false)[3...5]) }
    }

    func testTrainEvaluateAndSummary() throws {
        // A limit past the data (once an overflow) uses all of it.
        let trained = try succeeds("train", "--model", "mlp", "--epochs", "1", "--limit", "9223372036854775807", "--output", "run")
        for name in ["checkpoint.safetensors", "model.safetensors", "metrics.csv", "loss.svg", "accuracy.svg", "confusion_matrix.svg",
                     "test_confusion_matrix.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path("run/" + name).path), "\(name) missing")
        }
        XCTAssertEqual(try metricsRows("run").count, 1)
        // A twelfth of the 200 training examples is held out to validate on; the test set is
        // evaluated once, at the end.
        XCTAssertEqual(line("data:", in: trained.stdout), "data: 184 training examples, 16 held out for validation, 50 test examples")
        XCTAssertEqual(try confusionCount("run/confusion_matrix.svg"), 16)
        XCTAssertEqual(try confusionCount("run/test_confusion_matrix.svg"), 50)
        XCTAssertEqual(lines("test accuracy:", in: trained.stdout).count, 1, trained.stdout)
        XCTAssertEqual(lines("macro F1:", in: trained.stdout).count, 1, trained.stdout)
        XCTAssertEqual(lines("test loss:", in: trained.stdout).count, 1, trained.stdout)
        XCTAssertTrue(try validationFields("run").allSatisfy { $0.allSatisfy { !$0.isEmpty } })
        let accuracy = try XCTUnwrap(line("test accuracy:", in: trained.stdout))
        // The model is read from the weights' metadata; any batch size gives the same figures.
        let evaluated = try succeeds("evaluate", "--weights", "run/model.safetensors")
        XCTAssertEqual(line("test accuracy:", in: evaluated.stdout), accuracy)
        XCTAssertEqual(line("model ", in: evaluated.stdout), "model mlp: run/model.safetensors")
        let small = try succeeds("evaluate", "--weights", "run/model.safetensors", "--batch-size", "7")
        XCTAssertEqual(line("test loss:", in: small.stdout), line("test loss:", in: evaluated.stdout))
        let summary = try succeeds("summary", "--model", "cnn-bn", "--input", "2,1,28,28")
        XCTAssertTrue(summary.stdout.contains("BatchNorm1d") && summary.stdout.contains("[2, 10]"), summary.stdout)
    }

    /// 65 examples to train on (70 less the 5 held out) in batches of 64: the last batch (one
    /// example) would reach BatchNorm1d alone; the training loader drops it.
    func testALastBatchOfOneDoesNotStopBatchNorm() throws {
        let run = try succeeds("train", "--model", "cnn-bn", "--limit", "70", "--epochs", "1", "--output", "run")
        XCTAssertTrue(run.stdout.contains("data: 65 training examples, 5 held out"), run.stdout)
        XCTAssertEqual(try metricsRows("run").count, 1)
    }

    /// `--validation-size` examples are held out of the training set (seeded, kept by the
    /// checkpoint so that a resumed run splits the same way); 0 validates on nothing. The test set
    /// is evaluated once, whatever the validation.
    func testValidationIsHeldOutOfTheTrainingSet() throws {
        let held = try succeeds("train", "--model", "mlp", "--epochs", "1", "--validation-size", "40", "--output", "held")
        XCTAssertTrue(held.stdout.contains("data: 160 training examples, 40 held out for validation, 50 test examples"), held.stdout)
        XCTAssertEqual(try confusionCount("held/confusion_matrix.svg"), 40)
        XCTAssertEqual(try confusionCount("held/test_confusion_matrix.svg"), 50)
        XCTAssertEqual(try Checkpoint(contentsOf: path("held/checkpoint.safetensors")).settings["validation_size"], "40")
        // Resumed, the run keeps its split; another size is refused.
        let refused = try start(["train", "--resume", "--epochs", "2", "--validation-size", "10", "--output", "held"]).finish()
        XCTAssertEqual(refused.status, 64, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--validation-size 10 differs from the run"), refused.stderr)
        let resumed = try succeeds("train", "--resume", "--epochs", "2", "--output", "held")
        XCTAssertTrue(resumed.stdout.contains("40 held out for validation"), resumed.stdout)
        XCTAssertEqual(try confusionCount("held/confusion_matrix.svg"), 40)

        let none = try succeeds("train", "--model", "mlp", "--epochs", "1", "--validation-size", "0", "--output", "none")
        XCTAssertTrue(none.stdout.contains("data: 200 training examples, 0 held out for validation, 50 test examples"), none.stdout)
        XCTAssertEqual(try validationFields("none"), [["", "", ""]], "no validation figures")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("none/confusion_matrix.svg").path), "no validation confusion matrix")
        XCTAssertEqual(try confusionCount("none/test_confusion_matrix.svg"), 50)
        XCTAssertEqual(lines("test accuracy:", in: none.stdout).count, 1, none.stdout)
        XCTAssertEqual(lines("macro F1:", in: none.stdout).count, 1, none.stdout)
    }

    /// The default recipe's shuffled, augmented batches, and so the trained weights and every
    /// figure, are the same on 0 and 3 threads preparing batches.
    func testResultsDoNotDependOnTheNumberOfWorkers() throws {
        let inline = try succeeds("train", "--epochs", "1", "--num-workers", "0", "--output", "inline")
        let threaded = try succeeds("train", "--epochs", "1", "--num-workers", "3", "--output", "threaded")
        XCTAssertEqual(try Data(contentsOf: path("threaded/model.safetensors")), try Data(contentsOf: path("inline/model.safetensors")))
        XCTAssertEqual(try metricsRows("threaded"), try metricsRows("inline"))
        XCTAssertEqual(line("test accuracy:", in: threaded.stdout), line("test accuracy:", in: inline.stdout))
        let evaluated = try succeeds("evaluate", "--weights", "inline/model.safetensors", "--num-workers", "2")
        XCTAssertEqual(line("test accuracy:", in: evaluated.stdout), line("test accuracy:", in: inline.stdout))
    }

    /// The default recipe (cnn-bn: AdamW, one-cycle schedule stepped per batch, crop and flip
    /// augmentation, BatchNorm) stopped after one epoch of two and resumed ends with the same
    /// weights and figures as the run never stopped, and its files hold both epochs.
    func testResumeIsExactWithTheDefaultRecipe() throws {
        let straight = try succeeds("train", "--epochs", "2", "--output", "straight")
        XCTAssertTrue(straight.stdout.contains("adamw") && straight.stdout.contains("one-cycle") && straight.stdout.contains("augmentation"),
                      straight.stdout)
        let paused = try succeeds("train", "--epochs", "2", "--stop-after", "1", "--output", "resumed")
        XCTAssertTrue(paused.stdout.contains("stopped after epoch 1 of 2"), paused.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("resumed/model.safetensors").path), "the run is not finished")
        try succeeds("train", "--resume", "--output", "resumed")
        XCTAssertEqual(try Data(contentsOf: path("resumed/model.safetensors")), try Data(contentsOf: path("straight/model.safetensors")))
        XCTAssertEqual(try metricsRows("resumed"), try metricsRows("straight"))
        XCTAssertEqual(try metricsRows("resumed").count, 2)
        for plot in ["loss.svg", "accuracy.svg"] {
            let svg = try String(contentsOf: path("resumed/" + plot), encoding: .utf8)
            XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 4, "\(plot): two series of two epochs")
        }
    }

    /// A run extended with `--resume --epochs` keeps the figures of its first epochs.
    func testResumeKeepsTheWholeHistory() throws {
        try succeeds("train", "--model", "mlp", "--epochs", "1", "--output", "run")
        let first = try metricsRows("run")
        try succeeds("train", "--resume", "--epochs", "3", "--output", "run")
        let rows = try metricsRows("run")
        XCTAssertEqual(rows.map { $0.prefix { $0 != "," } }, ["1", "2", "3"])
        XCTAssertEqual(rows.first, first.first)
    }

    func testARunIsNeverReplacedUnlessAsked() throws {
        try succeeds("train", "--model", "mlp", "--epochs", "1", "--output", "run")
        let model = try Data(contentsOf: path("run/model.safetensors")), metrics = try metricsRows("run")
        for arguments in [["train", "--model", "mlp", "--output", "run"], ["train", "--model", "cnn", "--output", "run"],
                          ["train", "--epochs", "0", "--output", "run"], ["train", "--resume", "--epochs", "0", "--output", "run"],
                          ["train", "--resume", "--model", "cnn", "--output", "run"]] {
            let run = try start(arguments).finish()
            XCTAssertEqual(run.status, 64, "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.errorLines.count, 1, run.stderr)
        }
        let refused = try start(["train", "--model", "mlp", "--output", "run"]).finish()
        XCTAssertTrue(refused.stderr.contains("already holds a run (checkpoint.safetensors, model.safetensors, metrics.csv"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("continue it with --resume, replace it with --overwrite"), refused.stderr)
        XCTAssertEqual(try Data(contentsOf: path("run/model.safetensors")), model, "the trained model is kept")
        XCTAssertEqual(try metricsRows("run"), metrics)
        // Only the figures of another run are enough to refuse.
        try FileManager.default.createDirectory(at: path("other"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: path("run/metrics.csv"), to: path("other/metrics.csv"))
        XCTAssertEqual(try start(["train", "--model", "cnn", "--output", "other"]).finish().status, 64)
        // Asked to, it replaces the run.
        try succeeds("train", "--model", "cnn", "--epochs", "1", "--overwrite", "--output", "run")
        let (_, metadata) = try Safetensors.readWithMetadata(from: path("run/model.safetensors"))
        XCTAssertEqual(metadata["stitch.model"], "cnn")
    }

    /// A damaged or foreign checkpoint is refused with its field named, before anything changes;
    /// nothing traps.
    func testResumeRefusesABadCheckpoint() throws {
        try succeeds("train", "--model", "mlp", "--epochs", "1", "--output", "run")
        let url = path("run/checkpoint.safetensors")
        let good = try Checkpoint(contentsOf: url), goodBytes = try Data(contentsOf: url)
        let model = try Data(contentsOf: path("run/model.safetensors")), metrics = try metricsRows("run")
        let edits: [(String, (inout Checkpoint) -> Void)] = [
            ("optimizer.step must be one whole number from 0 to 2147483647, found nan", { $0.optimizer["step"] = Tensor(scalar: .nan) }),
            ("optimizer.step must be one whole number from 0 to 2147483647, found 1e+30", { $0.optimizer["step"] = Tensor(scalar: 1e30) }),
            ("optimizer.group.0.lr must be one finite non-negative number, found a tensor of shape [2]",
             { $0.optimizer["group.0.lr"] = Tensor([0.1, 0.1]) }),
            ("epoch \"-3\" is not a whole number", { $0.epoch = -3 }),
            ("SGD keeps no exp_avg", { $0.optimizer["state.0.exp_avg"] = Tensor(zeros: [256, 784]) }),
            ("written by the AdamW optimiser, this run uses SGD", { $0.optimizerKind = "AdamW" }),
            ("generator \"0,0,0,0\" is all zero", { $0.generatorState = [0, 0, 0, 0] }),
            ("size mismatch for 1.weight", { $0.model["1.weight"] = Tensor(zeros: [256, 10]) }),
            ("run.epochs \"-3\": a whole number from 1 to 10000 is expected", { $0.settings["epochs"] = "-3" }),
            ("run.model \"resnet50\"", { $0.settings["model"] = "resnet50" }),
            ("run.validation_size \"-3\": a whole number at least 0 is expected", { $0.settings["validation_size"] = "-3" }),
        ]
        for (words, edit) in edits {
            var bad = good
            edit(&bad)
            try bad.write(to: url)
            let run = try start(["train", "--resume", "--model", "mlp", "--epochs", "2", "--output", "run"]).finish()
            XCTAssertEqual(run.reason, .exit, "\(words): trapped: \(run.stderr)")
            XCTAssertNotEqual(run.status, 0, "\(words): accepted")
            XCTAssertTrue(run.stderr.contains(words), "\"\(words)\" not in: \(run.stderr)")
            XCTAssertEqual(try Data(contentsOf: path("run/model.safetensors")), model, "\(words): the model changed")
            XCTAssertEqual(try metricsRows("run"), metrics, "\(words): the metrics changed")
        }
        try goodBytes.write(to: url)
        try succeeds("train", "--resume", "--epochs", "2", "--output", "run")
    }

    /// Ctrl-C (SIGINT) stops training after the current batch: exit 130, the last complete
    /// epoch's checkpoint intact and matching the metrics, no temporary file, and the run
    /// continues with `--resume`.
    func testCtrlCKeepsTheLastCompleteCheckpoint() throws {
        let child = try start(["train", "--model", "mlp", "--epochs", "10000", "--output", "run"])
        let metrics = path("run/metrics.csv"), deadline = Date().addingTimeInterval(60)
        while ((try? String(contentsOf: metrics, encoding: .utf8))?.split(separator: "\n").count ?? 0) < 3, Date() < deadline {
            usleep(10_000)
        }
        kill(child.process.processIdentifier, SIGINT)
        let run = child.finish()
        XCTAssertEqual(run.reason, .exit, run.stderr)
        XCTAssertEqual(run.status, 130, run.stderr)
        XCTAssertTrue(run.stderr.contains("interrupted: the checkpoint of epoch"), run.stderr)
        let checkpoint = try Checkpoint(contentsOf: path("run/checkpoint.safetensors"))
        XCTAssertGreaterThanOrEqual(checkpoint.epoch, 2)
        XCTAssertEqual(try metricsRows("run").count, checkpoint.epoch)
        XCTAssertEqual(checkpoint.history.count, checkpoint.epoch)
        let files = try FileManager.default.contentsOfDirectory(atPath: path("run").path).sorted()
        XCTAssertEqual(files, ["accuracy.svg", "checkpoint.safetensors", "confusion_matrix.svg", "loss.svg", "metrics.csv"],
                       "no temporary file, and no model.safetensors for an unfinished run")
        try succeeds("train", "--resume", "--epochs", String(checkpoint.epoch + 1), "--output", "run")
        XCTAssertEqual(try metricsRows("run").count, checkpoint.epoch + 1)
    }
}
