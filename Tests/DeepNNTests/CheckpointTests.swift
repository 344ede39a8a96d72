import XCTest
import DeepCore
import DeepNN
import TestSupport

/// A checkpoint is checked in full before a resume changes anything: model keys and shapes, the
/// optimiser's kind and buffers, every hyper-parameter finite and in range, the epoch, the
/// history and a usable generator state.
final class CheckpointTests: XCTestCase {
    /// A trained SGD (momentum) or Adam trainer and the checkpoint of its first epoch.
    func trainedCheckpoint(adam: Bool = false) throws -> Checkpoint {
        let trainer = makeTrainer(adam: adam)
        trainer.outputDirectory = try makeTemporaryDirectory()
        try trainer.fit(DataLoader(TensorDataset(inputs: Tensor.randn([12, 2]), labels: Array(repeating: [0, 1, 2], count: 4).flatMap { $0 }),
                                   batchSize: 4), epochs: 1)
        return try Checkpoint(contentsOf: trainer.outputDirectory!.appendingPathComponent("checkpoint.safetensors"))
    }

    func makeTrainer(adam: Bool = false) -> Trainer {
        manualSeed(0)
        let model = Sequential(Linear(2, 4), ReLU(), Linear(4, 3))
        let optimizer: Optimizer = adam ? Adam(model.parameters, learningRate: 0.01)
            : SGD(model.parameters, learningRate: 0.1, momentum: 0.9)
        let trainer = Trainer(model: model, optimizer: optimizer, classCount: 3)
        trainer.verbose = false
        return trainer
    }

    /// `edit` applied to a good checkpoint of an SGD (or Adam) run, written and read back (as a
    /// user's file would be), is refused with an error containing `words`, and an SGD (or Adam)
    /// trainer that tried to resume from it is unchanged.
    func assertRefused(_ words: String, from adam: Bool = false, into adamTarget: Bool? = nil,
                       file: StaticString = #filePath, line: UInt = #line, _ edit: (inout Checkpoint) -> Void) throws {
        var checkpoint = try trainedCheckpoint(adam: adam)
        edit(&checkpoint)
        let url = try makeTemporaryDirectory().appendingPathComponent("checkpoint.safetensors")
        try checkpoint.write(to: url)
        let trainer = makeTrainer(adam: adamTarget ?? adam)
        let weights = trainer.model.stateDict().mapValues(\.scalars), generator = DefaultRandom.generator.state
        let learningRate = trainer.optimizer.learningRate
        XCTAssertThrowsError(try trainer.resume(from: url), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(words), "\"\(words)\" not in: \(error)", file: file, line: line)
        }
        XCTAssertEqual(trainer.model.stateDict().mapValues(\.scalars), weights, "weights changed", file: file, line: line)
        XCTAssertEqual(trainer.optimizer.learningRate, learningRate, "learning rate changed", file: file, line: line)
        XCTAssertEqual(trainer.completedEpochs, 0, file: file, line: line)
        XCTAssertEqual(DefaultRandom.generator.state, generator, "generator changed", file: file, line: line)
    }

    func testAGoodCheckpointResumes() throws {
        let checkpoint = try trainedCheckpoint()
        let trainer = makeTrainer()
        try trainer.resume(from: checkpoint)
        XCTAssertEqual(trainer.completedEpochs, 1)
        XCTAssertEqual(trainer.history.map(\.epoch), [1])
        XCTAssertEqual(checkpoint.optimizerKind, "SGD")
    }

    func testRefusesBadOptimizerSteps() throws {
        try assertRefused("optimizer.step must be one whole number") { $0.optimizer["step"] = Tensor(scalar: .nan) }
        try assertRefused("optimizer.step must be one whole number") { $0.optimizer["step"] = Tensor(scalar: 1e30) }
        try assertRefused("optimizer.step must be one whole number") { $0.optimizer["step"] = Tensor(scalar: -2) }
        try assertRefused("missing optimizer.step") { $0.optimizer["step"] = nil }
        try assertRefused("optimizer.state.0.step must be one whole number", from: true) {
            $0.optimizer["state.0.step"] = Tensor(scalar: 0.5)
        }
    }

    func testRefusesBadLearningRates() throws {
        try assertRefused("optimizer.group.0.lr must be one finite non-negative number, found a tensor of shape [2]") {
            $0.optimizer["group.0.lr"] = Tensor([0.1, 0.2])
        }
        try assertRefused("optimizer.group.0.lr must be one finite non-negative number, found nan") {
            $0.optimizer["group.0.lr"] = Tensor(scalar: .nan)
        }
        try assertRefused("optimizer.group.0.lr must be one finite non-negative number, found -1.0") {
            $0.optimizer["group.0.lr"] = Tensor(scalar: -1)
        }
        try assertRefused("missing optimizer.group.0.lr") { $0.optimizer["group.0.lr"] = nil }
        try assertRefused("unexpected optimizer state optimizer.group.1.lr") { $0.optimizer["group.1.lr"] = Tensor(scalar: 0.1) }
    }

    func testRefusesAnotherOptimizersState() throws {
        // Adam's moments beside SGD's momentum buffer.
        try assertRefused("SGD keeps no exp_avg") { $0.optimizer["state.0.exp_avg"] = Tensor(zeros: [4, 2]) }
        try assertRefused("written by the Adam optimiser, this run uses SGD", from: true, into: false) { _ in }
        try assertRefused("optimizer.state.0.momentum_buffer has shape [3], its parameter has [4, 2]") {
            $0.optimizer["state.0.momentum_buffer"] = Tensor(zeros: [3])
        }
        try assertRefused("unexpected optimizer state optimizer.state.9.momentum_buffer") {
            $0.optimizer["state.9.momentum_buffer"] = Tensor(zeros: [3])
        }
    }

    func testRefusesAModelThatDoesNotFit() throws {
        try assertRefused("size mismatch for 0.weight") { $0.model["0.weight"] = Tensor(zeros: [5, 2]) }
        try assertRefused("missing keys: 2.bias") { $0.model["2.bias"] = nil }
    }

    func testRefusesBadMetadata() throws {
        try assertRefused("epoch \"-3\" is not a whole number from 0 to 2147483647") { $0.epoch = -3; $0.history = [] }
        try assertRefused("generator \"0,0,0,0\" is all zero") { $0.generatorState = [0, 0, 0, 0] }
        try assertRefused("history holds epochs [1], the checkpoint is after epoch 2") { $0.epoch = 2 }
        try assertRefused("stale_epochs 5 exceeds the 1 epochs done") { $0.staleEpochs = 5 }
        try assertRefused("the checkpoint holds a learning-rate schedule, the run has none") { $0.schedulerEpoch = 3 }
        try assertRefused("best_metric \"nan\" is not a finite number") { $0.bestMetric = .nan }
    }

    /// The history and settings travel with the checkpoint.
    func testHistoryAndSettingsRoundTrip() throws {
        var checkpoint = try trainedCheckpoint()
        checkpoint.settings = ["model": "mlp"]
        checkpoint.history[0].validationLoss = .nan
        let url = try makeTemporaryDirectory().appendingPathComponent("c.safetensors")
        try checkpoint.write(to: url)
        let read = try Checkpoint(contentsOf: url)
        XCTAssertEqual(read.settings, ["model": "mlp"])
        XCTAssertEqual(read.history.count, 1)
        XCTAssertEqual(read.history[0].trainLoss, checkpoint.history[0].trainLoss)
        XCTAssertTrue(read.history[0].validationLoss!.isNaN)
    }
}
