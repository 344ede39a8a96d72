import XCTest
import DeepCore
import DeepNN

final class TrainingTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("deepstitch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// A separable 3-class problem on 2-D points, with noise.
    func toyData(_ n: Int, seed: UInt64) -> TensorDataset {
        var rng = RandomGenerator(seed: seed)
        var xs: [Float] = [], ys: [Int] = []
        for i in 0..<n {
            let c = i % 3
            let angle = Float(c) * 2.1
            xs += [cos(angle) * 2 + (rng.nextUniform() - 0.5), sin(angle) * 2 + (rng.nextUniform() - 0.5)]
            ys.append(c)
        }
        return TensorDataset(inputs: Tensor(xs, shape: [n, 2]), labels: ys)
    }

    func makeTrainer(seed: UInt64) -> (Trainer, DataLoader) {
        manualSeed(seed)
        let model = Sequential(Linear(2, 16), ReLU(), Dropout(0.1), Linear(16, 3))
        let opt = Adam(model.parameters, learningRate: 0.02)
        let trainer = Trainer(model: model, optimizer: opt, scheduler: StepLR(opt, stepSize: 2, gamma: 0.5), classCount: 3)
        trainer.verbose = false
        return (trainer, DataLoader(toyData(90, seed: 1), batchSize: 16, shuffle: true, seed: 5))
    }

    func testFitLearnsAndWritesReports() throws {
        let (trainer, loader) = makeTrainer(seed: 1)
        trainer.outputDirectory = directory
        let history = try trainer.fit(loader, validation: DataLoader(toyData(30, seed: 2), batchSize: 10), epochs: 4)
        XCTAssertEqual(history.count, 4)
        XCTAssertLessThan(history.last!.trainLoss, history.first!.trainLoss)
        XCTAssertGreaterThan(history.last!.validationAccuracy!, 0.9)
        let csv = try String(contentsOf: directory.appendingPathComponent("metrics.csv"), encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 5)
        XCTAssertTrue(csv.hasPrefix("epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_macro_f1,learning_rate,seconds"))
        // The plots hold axes, tick labels, both series and a legend; the confusion matrix one cell per pair.
        let loss = try String(contentsOf: directory.appendingPathComponent("loss.svg"), encoding: .utf8)
        XCTAssertTrue(loss.hasPrefix("<svg") && loss.contains("class=\"axes\""))
        XCTAssertEqual(loss.components(separatedBy: "class=\"series\"").count - 1, 2)
        XCTAssertTrue(loss.contains("data-name=\"train loss\"") && loss.contains("data-name=\"validation loss\""))
        XCTAssertEqual(loss.components(separatedBy: "class=\"xtick\"").count - 1, 4)
        XCTAssertTrue(loss.contains(">epoch<") && loss.contains(">loss<"))
        let cm = try String(contentsOf: directory.appendingPathComponent("confusion_matrix.svg"), encoding: .utf8)
        XCTAssertEqual(cm.components(separatedBy: "class=\"cell\"").count - 1, 9)
        let counts = cm.components(separatedBy: "data-count=\"").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
        XCTAssertEqual(counts.reduce(0, +), 30)
    }

    /// Validation on examples held out of the training set each epoch (the best validation
    /// accuracy kept for early stopping), the test set once at the end: `test` evaluates and
    /// writes the test confusion matrix, and changes nothing of training.
    func testValidationIsHeldOutAndTheTestSetEvaluatedOnce() throws {
        let (trainer, _) = makeTrainer(seed: 2)
        trainer.outputDirectory = directory
        let parts = randomSplit(toyData(90, seed: 1), sizes: [72, 18], seed: 4)
        let history = try trainer.fit(DataLoader(parts[0], batchSize: 16, shuffle: true, seed: 5),
                                      validation: DataLoader(parts[1], batchSize: 10), epochs: 4)
        func cellCounts(_ file: String) throws -> Int {
            let svg = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            return svg.components(separatedBy: "data-count=\"").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }.reduce(0, +)
        }
        XCTAssertEqual(try cellCounts("confusion_matrix.svg"), 18, "the validation examples")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("test_confusion_matrix.svg").path))
        XCTAssertEqual(trainer.checkpoint().bestMetric, history.compactMap(\.validationAccuracy).max())
        let checkpoint = try Data(contentsOf: directory.appendingPathComponent("checkpoint.safetensors"))
        let testLoader = DataLoader(toyData(30, seed: 3), batchSize: 7)
        let result = try trainer.test(testLoader)
        XCTAssertEqual(result.confusion.matrix, trainer.evaluate(testLoader).confusion.matrix)
        XCTAssertGreaterThan(result.accuracy, 0.8)
        XCTAssertEqual(try cellCounts("test_confusion_matrix.svg"), 30)
        XCTAssertEqual(try cellCounts("confusion_matrix.svg"), 18)
        XCTAssertEqual(trainer.history, history)
        XCTAssertEqual(try Data(contentsOf: directory.appendingPathComponent("checkpoint.safetensors")), checkpoint)
        // Without validation there is no best validation metric.
        let (plain, loader) = makeTrainer(seed: 2)
        try plain.fit(loader, epochs: 1)
        XCTAssertNil(plain.checkpoint().bestMetric)
    }

    func testResumeFromCheckpointReproducesAnUninterruptedRun() throws {
        let (straight, loader1) = makeTrainer(seed: 9)
        try straight.fit(loader1, epochs: 4)

        let (first, loader2) = makeTrainer(seed: 9)
        first.outputDirectory = directory
        XCTAssertEqual(try first.fit(loader2, epochs: 4, stopAfter: 2).count, 2)
        // A fresh process: new objects with a different seed, then resume.
        let (resumed, loader3) = makeTrainer(seed: 1234)
        resumed.outputDirectory = directory
        try resumed.resume(from: directory.appendingPathComponent("checkpoint.safetensors"))
        try resumed.fit(loader3, epochs: 4)

        XCTAssertEqual(resumed.model.stateDict().mapValues(\.scalars), straight.model.stateDict().mapValues(\.scalars))
        XCTAssertEqual(resumed.optimizer.learningRate, straight.optimizer.learningRate)
        // The whole history, in the trainer and in the files written after the resume.
        XCTAssertEqual(resumed.history.map(\.trainLoss), straight.history.map(\.trainLoss))
        XCTAssertEqual(resumed.history.map(\.epoch), [1, 2, 3, 4])
        let csv = try String(contentsOf: directory.appendingPathComponent("metrics.csv"), encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").dropFirst().map { $0.prefix { $0 != "," } }, ["1", "2", "3", "4"])
        let loss = try String(contentsOf: directory.appendingPathComponent("loss.svg"), encoding: .utf8)
        XCTAssertEqual(loss.components(separatedBy: "<circle").count - 1, 4, "a point per epoch")
    }

    /// A stop requested (from another thread: a Ctrl-C handler) ends training after the current
    /// batch; the files keep the last complete epoch and no temporary file is left.
    func testRequestedStopKeepsTheLastCompleteEpoch() throws {
        let (trainer, loader, url, saved) = try trainedOneEpoch()
        let stopper = Thread { trainer.requestStop() }
        stopper.start()
        while !stopper.isFinished { usleep(1000) }
        XCTAssertThrowsError(try trainer.fit(loader, epochs: 3)) { error in
            XCTAssertEqual((error as? TrainingInterrupted)?.completedEpochs, 1)
        }
        XCTAssertEqual(try Data(contentsOf: url), saved)
        XCTAssertEqual(trainer.history.count, 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".") }, [])
        // The request is spent: training continues when asked again.
        XCTAssertEqual(try trainer.fit(loader, epochs: 2).count, 2)
    }

    /// BatchNorm in training mode cannot normalise one value per channel: it stops with PyTorch's
    /// message (a last batch of one example reaching BatchNorm1d).
    func testBatchNormWithOneValuePerChannelStopsWithPyTorchsMessage() {
        let norm = BatchNorm1d(4)
        let (_, failure) = ShapeErrors.recording { norm(Tensor.randn([1, 4])) }
        XCTAssertTrue(failure?.contains("Expected more than 1 value per channel when training, got input size [1, 4]") == true,
                      failure ?? "no failure")
        norm.eval()
        XCTAssertNil(ShapeErrors.recording { norm(Tensor.randn([1, 4])) }.failure, "evaluation uses the running statistics")
    }

    /// Legends stay inside the canvas (estimated at 0.6 em a character) and the value axis is
    /// ticked at round numbers written to the same decimals.
    func testPlotsKeepTheLegendInsideAndTickAtRoundValues() {
        let svg = SVGPlot.lineChart(title: "Accuracy", xLabel: "epoch", yLabel: "accuracy", series: [
            SVGPlot.Series(name: "train accuracy", values: [0.7958, 0.8306, 0.8512], color: "red"),
            SVGPlot.Series(name: "validation accuracy", values: [0.8012, 0.8287, 0.8455], color: "blue"),
        ])
        func texts(_ cls: String) -> [(x: Double, text: String)] {
            svg.components(separatedBy: "<text class=\"\(cls)\" x=\"").dropFirst().map { part in
                (Double(part.prefix { $0 != "\"" })!, String(part.drop { $0 != ">" }.dropFirst().prefix { $0 != "<" }))
            }
        }
        let legend = texts("legend")
        XCTAssertEqual(legend.map(\.text), ["train accuracy", "validation accuracy"])
        for (x, text) in legend { XCTAssertLessThanOrEqual(x + 0.6 * 12 * Double(text.count), 640, "\(text) is cut") }
        let ticks = texts("ytick").map(\.text)
        XCTAssertEqual(ticks, ["0.78", "0.80", "0.82", "0.84", "0.86"])
        let epochs = SVGPlot.lineChart(title: "Loss", xLabel: "epoch", yLabel: "loss",
                                       series: [SVGPlot.Series(name: "loss", values: (0..<35).map { 1 / Double($0 + 1) }, color: "red")])
        XCTAssertEqual(epochs.components(separatedBy: "class=\"xtick\"").dropFirst().map { $0.drop { $0 != ">" }.dropFirst().prefix { $0 != "<" } },
                       ["1", "5", "10", "15", "20", "25", "30", "35"])
        let lossTicks = epochs.components(separatedBy: "class=\"ytick\"").dropFirst().map { $0.drop { $0 != ">" }.dropFirst().prefix { $0 != "<" } }
        XCTAssertEqual(lossTicks, ["0.00", "0.25", "0.50", "0.75", "1.00"], "values in 0.03…1 span 0 to 1, not below 0 or past 1")
    }

    /// A trainer after one epoch saved in ``directory``, its loader, and its checkpoint's URL and bytes.
    func trainedOneEpoch() throws -> (Trainer, DataLoader, URL, Data) {
        let (trainer, loader) = makeTrainer(seed: 3)
        trainer.outputDirectory = directory
        try trainer.fit(loader, epochs: 1)
        let url = directory.appendingPathComponent("checkpoint.safetensors")
        return (trainer, loader, url, try Data(contentsOf: url))
    }

    func testInterruptedSaveLeavesThePreviousCheckpoint() throws {
        let (_, _, url, before) = try trainedOneEpoch()
        // A write that fails midway (an injected error while streaming the bytes).
        struct Interrupted: Error {}
        XCTAssertThrowsError(try AtomicWrite.write(to: url) { sink in
            try sink.write(before.prefix(100))
            throw Interrupted()
        })
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try Checkpoint(contentsOf: url).epoch, 1)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains("tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testDataLoaderBatchesShufflesDeterministicallyAndDropsLast() {
        let data = toyData(10, seed: 0)
        let loader = DataLoader(data, batchSize: 4, shuffle: true, seed: 3)
        let epoch0 = loader.map(\.labels), epoch1 = loader.map(\.labels)
        XCTAssertEqual(epoch0.map(\.count), [4, 4, 2])
        XCTAssertNotEqual(epoch0, epoch1, "each epoch has its own order")
        let again = DataLoader(data, batchSize: 4, shuffle: true, seed: 3, prefetch: false)
        XCTAssertEqual(again.map(\.labels), epoch0, "same seed and epoch, same order, with or without prefetch")
        XCTAssertEqual(Set(loader.order(epoch: 7)), Set(0..<10))
        XCTAssertEqual(DataLoader(data, batchSize: 4, dropLast: true).map(\.labels.count), [4, 4])
        let first = DataLoader(data, batchSize: 4).makeIterator().next()!
        XCTAssertEqual(first.inputs.shape, [4, 2])
        XCTAssertEqual(first.inputs.scalars, Array(data.inputs.scalars.prefix(8)))
    }

    /// Ten examples whose label is their index and whose input is (index, −index) plus noise drawn
    /// from the loader's generator: a random augmentation that keeps the label recoverable.
    struct AugmentedIndices: Dataset {
        var count: Int { 10 }
        func example(at index: Int, generator: inout RandomGenerator) -> Example {
            let noise = Tensor.randn([2], generator: &generator) * 0.01
            return Example(input: Tensor([Float(index), -Float(index)]) + noise, label: index)
        }
    }

    /// Each batch row is the example of its label, in the epoch's order; the same seed gives the
    /// same batches, augmentation included, with or without prefetching; epochs and seeds differ.
    func testDataLoaderKeepsInputsWithLabelsAndReproducesAugmentation() {
        let data = AugmentedIndices()
        let loader = DataLoader(data, batchSize: 4, shuffle: true, seed: 3)
        let epochs = [Array(loader), Array(loader)]
        for (epoch, batches) in epochs.enumerated() {
            XCTAssertEqual(batches.flatMap(\.labels), loader.order(epoch: epoch), "epoch \(epoch) order")
            for batch in batches {
                let rows = batch.inputs.scalars
                for (i, label) in batch.labels.enumerated() {
                    XCTAssertEqual(rows[2 * i], Float(label), accuracy: 0.05, "epoch \(epoch): input of \(label)")
                    XCTAssertEqual(rows[2 * i + 1], -Float(label), accuracy: 0.05, "epoch \(epoch): input of \(label)")
                }
            }
        }
        // The augmented inputs of each example, by label.
        func inputs(_ batches: [Batch]) -> [Int: [Float]] {
            var byLabel: [Int: [Float]] = [:]
            for batch in batches {
                let rows = batch.inputs.scalars
                for (i, label) in batch.labels.enumerated() { byLabel[label] = Array(rows[2 * i..<2 * i + 2]) }
            }
            return byLabel
        }
        let again = DataLoader(data, batchSize: 4, shuffle: true, seed: 3, prefetch: false)
        let replay = [Array(again), Array(again)]
        XCTAssertEqual(replay.map { $0.map(\.labels) }, epochs.map { $0.map(\.labels) })
        XCTAssertEqual(replay.map { $0.map(\.inputs.scalars) }, epochs.map { $0.map(\.inputs.scalars) },
                       "same seed and epoch, same augmentation")
        XCTAssertNotEqual(inputs(epochs[0]), inputs(epochs[1]), "each epoch draws its own augmentation")
        let otherSeed = DataLoader(data, batchSize: 4, shuffle: true, seed: 4)
        XCTAssertNotEqual(inputs(Array(otherSeed)), inputs(epochs[0]), "another seed draws another augmentation")
    }

    func testMetrics() {
        let cm = ConfusionMatrix(predictions: [0, 1, 1, 2, 2, 2], labels: [0, 1, 2, 2, 2, 0], classCount: 3)
        XCTAssertEqual(cm.accuracy, 4.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(cm.precision, [1, 0.5, 2.0 / 3])
        XCTAssertEqual(cm.recall, [0.5, 1, 2.0 / 3])
        XCTAssertEqual(cm.f1[0], 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(cm.macroF1, (2.0 / 3 + 2.0 / 3 + 2.0 / 3) / 3, accuracy: 1e-12)
        XCTAssertEqual(cm.microF1, cm.accuracy, accuracy: 1e-12)
        let logits = Tensor([0.1, 0.5, 0.4, 0.9, 0.05, 0.05], shape: [2, 3])
        XCTAssertEqual(topKAccuracy(logits, [0, 1], k: 2), 0.5)
        XCTAssertEqual(topKAccuracy(logits, [2, 1], k: 2), 1)
        XCTAssertEqual(intersectionOverUnion(predictions: [0, 0, 1, 1], labels: [0, 1, 1, 1], classCount: 2), [0.5, 2.0 / 3])
        XCTAssertEqual(diceCoefficient(predictions: [0, 0, 1, 1], labels: [0, 1, 1, 1], classCount: 2), [2.0 / 3, 0.8])
    }
}
