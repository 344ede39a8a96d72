import XCTest
import DeepCore
import DeepNN

/// Whole training runs against PyTorch (`Tests/Fixtures/make_trajectory.py`): the weights after
/// every step, and each step's rate and momentum, of optimisers under OneCycleLR (momentum or β1
/// cycled, PyTorch's default) and ReduceLROnPlateau, with hyper-parameters changed by hand between
/// steps, resumed half-way from saved states; and the acceptance run, AdamW + OneCycleLR
/// on a small CNN with BatchNorm.
final class PyTorchTrajectoryTests: XCTestCase {
    let f = loadFixtures("trajectory")

    /// Runs the least-squares problem of the fixture for `steps` steps with the optimiser `make`
    /// builds and the schedule `schedule` builds (a ``ReduceLROnPlateau`` is stepped with the
    /// loss), applying `edit` to the group before each step. With `resumeAt`, the run stops
    /// before that step and goes on in a new optimiser and schedule loaded from the saved states,
    /// as a resumed checkpoint does.
    func check(_ name: String, steps: Int, resumeAt: Int? = nil, file: StaticString = #filePath, line: UInt = #line,
               optimizer make: @escaping ([Tensor]) -> Optimizer, schedule: @escaping (Optimizer) -> LRScheduler?,
               edit: (Int, inout ParameterGroup) -> Void = { _, _ in }) throws {
        let (a, y) = (f["A"]!, f["y"]!)
        var w = f["W0"]!.copied()
        w.requiresGrad = true
        var optimizer = make([w])
        var scheduler = schedule(optimizer)
        for step in 0..<steps {
            if step == resumeAt {
                let (state, position, schedulerState) = (optimizer.stateDict(), scheduler?.lastEpoch, scheduler?.stateDict())
                w = w.detached().copied()
                w.requiresGrad = true
                optimizer = make([w])
                scheduler = schedule(optimizer)
                try optimizer.loadStateDict(state)
                if let position { scheduler?.restore(lastEpoch: position) }
                if let schedulerState { try scheduler?.loadStateDict(schedulerState) }
            }
            edit(step, &optimizer.parameterGroups[0])
            let group = optimizer.parameterGroups[0]
            assertClose([group.learningRate, group.betas?.0 ?? group.momentum!], f["\(name).lr.\(step)"]!.scalars,
                        atol: 1e-8, rtol: 1e-5, "\(name) rate and momentum before step \(step)", file: file, line: line)
            optimizer.zeroGrad()
            let r = matmul(a, w) - y
            let loss = (r * r).sum()
            loss.backward()
            optimizer.step()
            if let plateau = scheduler as? ReduceLROnPlateau { plateau.step(metric: Double(loss.item())) } else { scheduler?.step() }
            assertClose(w, f["\(name).\(step)"]!, atol: 1e-5, rtol: 1e-4, "\(name) step \(step)", file: file, line: line)
        }
    }

    func testOptimizersUnderOneCycleMatchPyTorch() throws {
        let oneCycle: (Optimizer) -> LRScheduler = { OneCycleLR($0, maxLearningRate: 0.05, totalSteps: 10) }
        try check("sgd_nesterov_onecycle", steps: 10, optimizer: {
            SGD($0, learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01)
        }, schedule: oneCycle)
        try check("sgd_momentum_onecycle", steps: 10, optimizer: {
            SGD($0, learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01)
        }, schedule: { OneCycleLR($0, maxLearningRate: 0.05, totalSteps: 10, annealStrategy: .linear, threePhase: true) })
        // Plain SGD gets a momentum too: PyTorch's OneCycleLR sets one.
        try check("sgd_plain_onecycle", steps: 10, optimizer: { SGD($0, learningRate: 0.05) }, schedule: oneCycle)
        try check("adam_onecycle", steps: 10, optimizer: { Adam($0, learningRate: 0.05, weightDecay: 0.5) }, schedule: oneCycle)
        try check("adamw_onecycle", steps: 10, optimizer: { AdamW($0, learningRate: 0.05) }, schedule: oneCycle)
        try check("adamw_amsgrad_onecycle", steps: 10, optimizer: { AdamW($0, learningRate: 0.05, amsgrad: true) }, schedule: {
            OneCycleLR($0, maxLearningRate: 0.08, totalSteps: 10, pctStart: 0.4, baseMomentum: 0.7, maxMomentum: 0.9)
        })
        try check("rmsprop_onecycle", steps: 10, optimizer: { RMSprop($0, learningRate: 0.01) }, schedule: {
            OneCycleLR($0, maxLearningRate: 0.01, totalSteps: 10)
        })
    }

    func testOptimizersUnderReduceLROnPlateauMatchPyTorch() throws {
        let plateau: (Optimizer) -> LRScheduler = { ReduceLROnPlateau($0, factor: 0.5, patience: 1, threshold: 0.2) }
        let eager: (Double) -> (Optimizer) -> LRScheduler = { threshold in
            { ReduceLROnPlateau($0, factor: 0.5, patience: 0, threshold: threshold, cooldown: 1) }
        }
        try check("sgd_momentum_plateau", steps: 12, optimizer: { SGD($0, learningRate: 0.01, momentum: 0.9) }, schedule: plateau)
        try check("sgd_nesterov_plateau", steps: 12, optimizer: { SGD($0, learningRate: 0.01, momentum: 0.9, nesterov: true) },
                  schedule: plateau)
        try check("adam_plateau", steps: 12, optimizer: { Adam($0, learningRate: 0.1) }, schedule: eager(0.125))
        try check("adamw_plateau", steps: 12, optimizer: { AdamW($0, learningRate: 0.1, weightDecay: 0.1) }, schedule: eager(0.15))
    }

    /// Runs stopped and resumed from the optimiser's and the schedule's saved states (mid-cycle,
    /// mid-plateau) go on exactly as PyTorch's uninterrupted runs.
    func testResumedRunsMatchPyTorch() throws {
        try check("adamw_onecycle", steps: 10, resumeAt: 4, optimizer: { AdamW($0, learningRate: 0.05) }, schedule: {
            OneCycleLR($0, maxLearningRate: 0.05, totalSteps: 10)
        })
        try check("sgd_nesterov_onecycle", steps: 10, resumeAt: 7, optimizer: {
            SGD($0, learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01)
        }, schedule: { OneCycleLR($0, maxLearningRate: 0.05, totalSteps: 10) })
        try check("adam_plateau", steps: 12, resumeAt: 6, optimizer: { Adam($0, learningRate: 0.1) }, schedule: {
            ReduceLROnPlateau($0, factor: 0.5, patience: 0, threshold: 0.125, cooldown: 1)
        })
    }

    /// Hyper-parameters set by hand between steps (as `param_groups[0][…] = …`) are used from the
    /// next step on.
    func testHyperparametersChangedDuringTrainingMatchPyTorch() throws {
        try check("adam_edited", steps: 9, optimizer: { Adam($0, learningRate: 0.05) }, schedule: { _ in nil }) { step, group in
            if step == 3 { (group.betas, group.eps, group.weightDecay) = ((0.7, 0.95), 1e-3, 0.2) }
            if step == 6 { group.learningRate = 0.02 }
        }
        try check("sgd_edited", steps: 9, optimizer: { SGD($0, learningRate: 0.02, momentum: 0.9) }, schedule: { _ in nil }) { step, group in
            if step == 2 { (group.momentum, group.dampening) = (0.5, 0.3) }
            if step == 5 { (group.dampening, group.nesterov, group.weightDecay) = (0, true, 0.05) }
        }
    }

    /// The acceptance test: 5 steps of AdamW + OneCycleLR (β1 cycled, PyTorch's default)
    /// on Conv2d → BatchNorm2d → ReLU → MaxPool2d → Linear from PyTorch's initial weights, on the
    /// same batches, end within 1e-4 of PyTorch's weights and running statistics. Without the
    /// cycled β1 (the OneCycleLR of before) the same run ends over 10 times farther away.
    func testAdamWOneCycleRunOfACNNWithBatchNormMatchesPyTorch() throws {
        let c = loadFixtures("trajectory_cnn")
        let initial = Dictionary(uniqueKeysWithValues: c.filter { $0.key.hasPrefix("initial.") }.map { (String($0.key.dropFirst(8)), $0.value) })
        let (inputs, labels) = (c["inputs"]!.scalars, c["labels"]!.scalars.map { Int($0) })
        func run(cycleMomentum: Bool) throws -> [String: Tensor] {
            // No convolution bias: BatchNorm cancels it, leaving rounding noise for Adam to scale up.
            let model = Sequential(Conv2d(1, 4, kernelSize: 3, bias: false), BatchNorm2d(4), ReLU(), MaxPool2d(2), Flatten(), Linear(36, 3))
            try model.loadStateDict(initial)
            let optimizer = AdamW(model.parameters, learningRate: 1e-3, weightDecay: 0.01)
            let schedule = OneCycleLR(optimizer, maxLearningRate: 0.01, totalSteps: 5, cycleMomentum: cycleMomentum)
            model.train()
            for step in 0..<5 {
                optimizer.zeroGrad()
                let x = Tensor(Array(inputs[(step * 512)..<((step + 1) * 512)]), shape: [8, 1, 8, 8])
                let loss = crossEntropy(model(x), Array(labels[(step * 8)..<((step + 1) * 8)]))
                loss.backward()
                optimizer.step()
                schedule.step()
                if cycleMomentum { XCTAssertEqual(loss.item(), c["loss.\(step)"]!.item(), accuracy: 1e-5, "loss of step \(step)") }
            }
            return model.stateDict()
        }
        let final = try run(cycleMomentum: true)
        XCTAssertEqual(Set(final.keys), Set(initial.keys))
        for (key, value) in final.sorted(by: { $0.key < $1.key }) {
            assertClose(value, c["final." + key]!, atol: 1e-4, rtol: 0, key)
        }
        let uncycled = try run(cycleMomentum: false)
        let distance = uncycled.map { key, value in
            zip(value.scalars, c["final." + key]!.scalars).map { abs($0 - $1) }.max() ?? 0
        }.max() ?? 0
        XCTAssertGreaterThan(distance, 1e-3, "the run does not tell cycled from uncycled momentum")
    }
}
