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

    /// Every hyper-parameter a group has is checked; one the optimiser has not is unexpected.
    func testRefusesBadHyperparameters() throws {
        try assertRefused("optimizer.group.0.momentum must be one finite non-negative number, found nan") {
            $0.optimizer["group.0.momentum"] = Tensor(scalar: .nan)
        }
        try assertRefused("optimizer.group.0.nesterov must be 0 or 1, found 3.0") { $0.optimizer["group.0.nesterov"] = Tensor(scalar: 3) }
        try assertRefused("optimizer.group.0.dampening must be one finite number, found -inf") {
            $0.optimizer["group.0.dampening"] = Tensor(scalar: -.infinity)
        }
        try assertRefused("optimizer.group.0.betas must be two numbers in [0, 1), found (0.9, 1.5)", from: true) {
            $0.optimizer["group.0.betas"] = Tensor([0.9, 1.5])
        }
        try assertRefused("optimizer.group.0.eps must be one finite non-negative number, found -1e-08", from: true) {
            $0.optimizer["group.0.eps"] = Tensor(scalar: -1e-8)
        }
        try assertRefused("unexpected optimizer state optimizer.group.0.betas") { $0.optimizer["group.0.betas"] = Tensor([0.9, 0.99]) }
        try assertRefused("unexpected optimizer state optimizer.group.0.colour") { $0.optimizer["group.0.colour"] = Tensor(scalar: 1) }
    }

    /// A checkpoint written before the hyper-parameters were saved (only `group.<g>.lr`) resumes,
    /// each missing value keeping the run's; a saved one is restored.
    func testACheckpointWithoutTheNewHyperparametersResumes() throws {
        var checkpoint = try trainedCheckpoint(adam: true)
        XCTAssertEqual(checkpoint.optimizer["group.0.betas"]?.scalars, [0.9, 0.999])
        checkpoint.optimizer = checkpoint.optimizer.filter { !$0.key.hasPrefix("group.") || $0.key.hasSuffix(".lr") }
        checkpoint.optimizer["group.0.eps"] = Tensor(scalar: 1e-3)
        let trainer = makeTrainer(adam: true)
        trainer.optimizer.parameterGroups[0].betas = (0.5, 0.6)
        try trainer.resume(from: checkpoint)
        XCTAssertEqual(trainer.optimizer.parameterGroups[0].betas?.0, 0.5)
        XCTAssertEqual(trainer.optimizer.parameterGroups[0].eps, 1e-3)
    }

    /// The schedule's state (a plateau's best and counters) is written and read back, and checked
    /// against the run's schedule: counters past its patience, a position past a one-cycle end.
    func testSchedulerStateRoundTripsAndIsChecked() throws {
        var checkpoint = try trainedCheckpoint()
        checkpoint.schedulerEpoch = 4
        checkpoint.schedulerState = ["best": 0.25, "num_bad_epochs": 2, "cooldown_counter": 0]
        let url = try makeTemporaryDirectory().appendingPathComponent("checkpoint.safetensors")
        try checkpoint.write(to: url)
        let read = try Checkpoint(contentsOf: url)
        XCTAssertEqual(read.schedulerState, checkpoint.schedulerState)
        let trainer = makeTrainer()
        let plateau = ReduceLROnPlateau(trainer.optimizer, patience: 2)
        try read.validate(model: trainer.model, optimizer: trainer.optimizer, scheduler: plateau)
        try plateau.loadStateDict(read.schedulerState)
        XCTAssertEqual(plateau.stateDict(), checkpoint.schedulerState)

        func assertInvalid(_ words: String, _ scheduler: LRScheduler?, line: UInt = #line, _ edit: (inout Checkpoint) -> Void) {
            var c = read
            edit(&c)
            XCTAssertThrowsError(try c.validate(model: trainer.model, optimizer: trainer.optimizer, scheduler: scheduler), line: line) {
                XCTAssertTrue("\($0)".contains(words), "\"\(words)\" not in: \($0)", line: line)
            }
        }
        assertInvalid("scheduler.num_bad_epochs must be a whole number from 0 to 1, found 2.0", ReduceLROnPlateau(trainer.optimizer, patience: 1)) { _ in }
        assertInvalid("scheduler.best must be a finite number", plateau) { $0.schedulerState["best"] = -.infinity }
        assertInvalid("scheduler.best is not part of the state of StepLR", StepLR(trainer.optimizer, stepSize: 2)) { _ in }
        assertInvalid("scheduler_epoch 12 is past the end of the one-cycle schedule (10 steps)",
                      OneCycleLR(trainer.optimizer, maxLearningRate: 0.1, totalSteps: 10)) { $0.schedulerEpoch = 12; $0.schedulerState = [:] }
        assertInvalid("scheduler.best without a schedule position", nil) { $0.schedulerEpoch = nil }
    }

    func testRefusesASchedulerStateThatIsNotANumber() throws {
        var checkpoint = try trainedCheckpoint()
        checkpoint.schedulerEpoch = 1
        checkpoint.schedulerState = ["best": .nan]
        let url = try makeTemporaryDirectory().appendingPathComponent("checkpoint.safetensors")
        try checkpoint.write(to: url)
        XCTAssertThrowsError(try Checkpoint(contentsOf: url)) { XCTAssertTrue("\($0)".contains("scheduler.best \"nan\" is not a number"), "\($0)") }
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
