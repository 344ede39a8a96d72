import XCTest
import DeepCore
import DeepNN

/// Every schedule against PyTorch for 24 steps (`Tests/Fixtures/make_optim.py`): each group's
/// rate and momentum (SGD's momentum, Adam's β1) after construction and after every step.
final class SchedulerTests: XCTestCase {
    let f = loadFixtures("schedulers")

    /// SGD (momentum 0.9) or Adam at rate 0.1 over one parameter, or SGD over two groups at 0.1
    /// and 0.05, as the fixture script makes them.
    enum Setup { case sgd, adam, twoGroups }

    func makeOptimizer(_ setup: Setup) -> Optimizer {
        switch setup {
        case .sgd: return SGD([Tensor(zeros: [1])], learningRate: 0.1, momentum: 0.9)
        case .adam: return Adam([Tensor(zeros: [1])], learningRate: 0.1)
        case .twoGroups:
            return SGD(groups: [ParameterGroup([Tensor(zeros: [1])], learningRate: 0.1),
                                ParameterGroup([Tensor(zeros: [1])], learningRate: 0.05)], momentum: 0.9)
        }
    }

    /// Each group's momentum, or β1.
    func momenta(_ optimizer: Optimizer) -> [Float] {
        optimizer.parameterGroups.map { $0.betas?.0 ?? $0.momentum! }
    }

    /// Steps the schedule `make` builds `steps` times (with the fixture's metric for a plateau)
    /// and compares the rates, momenta (and a plateau's best, bad epochs and cooldown) with PyTorch's.
    func check(_ name: String, _ setup: Setup = .sgd, steps: Int = 24, file: StaticString = #filePath, line: UInt = #line,
               _ make: (Optimizer) -> LRScheduler) {
        let opt = makeOptimizer(setup)
        let scheduler = make(opt)
        var rates = opt.parameterGroups.map(\.learningRate), moms = momenta(opt), states: [Float] = []
        for step in 0..<steps {
            opt.step()
            if let plateau = scheduler as? ReduceLROnPlateau {
                plateau.step(metric: Double(f["plateau_metric"]!.scalars[step]))
                states += [Float(plateau.best), Float(plateau.badEpochs), Float(plateau.cooldownCounter)]
            } else {
                scheduler.step()
            }
            rates += opt.parameterGroups.map(\.learningRate)
            moms += momenta(opt)
        }
        XCTAssertEqual(scheduler.lastEpoch, steps, name, file: file, line: line)
        let count = (steps + 1) * opt.parameterGroups.count
        assertClose(rates, Array(f[name]!.scalars.prefix(count)), atol: 1e-7, rtol: 1e-5, "\(name) rates", file: file, line: line)
        assertClose(moms, Array(f[name + ".momentum"]!.scalars.prefix(count)), atol: 1e-7, rtol: 1e-5, "\(name) momenta", file: file, line: line)
        if let expected = f[name + ".state"] { assertClose(states, expected.scalars, atol: 1e-7, rtol: 1e-6, "\(name) state", file: file, line: line) }
    }

    func testClosedFormSchedulesMatchPyTorch() {
        check("step_lr") { StepLR($0, stepSize: 3, gamma: 0.5) }
        check("multistep_lr") { MultiStepLR($0, milestones: [2, 5, 5, 9], gamma: 0.3) }
        check("constant_lr") { ConstantLR($0, factor: 0.25, totalIters: 4) }
        check("cosine_lr") { CosineAnnealingLR($0, tMax: 10, etaMin: 0.001) }
        check("linear_lr") { LinearLR($0, startFactor: 0.25, totalIters: 4) }
        check("exponential_lr") { ExponentialLR($0, gamma: 0.85) }
        check("polynomial_lr") { PolynomialLR($0, totalIters: 15, power: 2) }
        check("warm_restarts") { CosineAnnealingWarmRestarts($0, t0: 3, tMult: 2, etaMin: 0.01) }
        check("warm_restarts_fixed") { CosineAnnealingWarmRestarts($0, t0: 5) }
        check("lambda_lr") { LambdaLR($0) { e in e < 10 ? Float(pow(0.9, Double(e))) : 0.5 / Float(e - 8) } }
    }

    /// PyTorch's default cycles momentum (SGD) or β1 (Adam) against the rate; every option.
    func testOneCycleMatchesPyTorch() {
        check("onecycle_lr") { OneCycleLR($0, maxLearningRate: 0.5, totalSteps: 24) }
        check("onecycle_adam", .adam) { OneCycleLR($0, maxLearningRate: 0.5, totalSteps: 24) }
        check("onecycle_linear_three_phase", .adam) {
            OneCycleLR($0, maxLearningRate: 0.3, totalSteps: 24, pctStart: 0.25, annealStrategy: .linear, baseMomentum: 0.8,
                       maxMomentum: 0.9, divFactor: 10, finalDivFactor: 100, threePhase: true)
        }
        check("onecycle_no_momentum") { OneCycleLR($0, maxLearningRate: 0.5, totalSteps: 24, cycleMomentum: false) }
        check("onecycle_groups", .twoGroups) {
            OneCycleLR($0, maxLearningRates: [0.5, 0.1], totalSteps: 24, baseMomenta: [0.85, 0.8], maxMomenta: [0.95, 0.9])
        }
    }

    func testSequencesAndChainsMatchPyTorch() {
        // Past its 12 steps WarmupCosineLR stays at etaMin, where PyTorch's cosine turns back up.
        check("warmup_cosine_lr", steps: 12) { WarmupCosineLR($0, warmupSteps: 3, totalSteps: 12) }
        check("warmup_cosine_lr") {
            SequentialLR($0, schedulers: [LinearLR($0, startFactor: 0.01, totalIters: 3), CosineAnnealingLR($0, tMax: 9)], milestones: [3])
        }
        check("sequential_three") {
            SequentialLR($0, schedulers: [ConstantLR($0, factor: 0.5, totalIters: 2), ExponentialLR($0, gamma: 0.9),
                                          CosineAnnealingWarmRestarts($0, t0: 4, etaMin: 0.02)], milestones: [4, 11])
        }
        check("chained") { ChainedScheduler([ConstantLR($0, factor: 0.1, totalIters: 4), ExponentialLR($0, gamma: 0.9)]) }
        check("chained_cosine") {
            ChainedScheduler([LinearLR($0, startFactor: 0.2, totalIters: 5), CosineAnnealingLR($0, tMax: 20, etaMin: 0.001)])
        }
    }

    func testReduceLROnPlateauMatchesPyTorch() {
        check("plateau_min_rel", .twoGroups) {
            ReduceLROnPlateau($0, factor: 0.5, patience: 1, threshold: 0.05, cooldown: 1, minLearningRates: [0.01, 0.02])
        }
        check("plateau_max_abs", .adam) {
            ReduceLROnPlateau($0, mode: .max, factor: 0.3, patience: 0, threshold: 0.01, thresholdMode: .absolute,
                              minLearningRate: 0.001, eps: 1e-3)
        }
        check("plateau_default") { ReduceLROnPlateau($0, patience: 2) }
    }

    /// A rate set by hand between steps is kept by a chainable schedule, as with PyTorch's
    /// `param_groups[0]["lr"] = …`: StepLR multiplies the rate in force.
    func testARateSetByHandIsKept() {
        let opt = SGD([Tensor(zeros: [1])], learningRate: 0.1)
        let schedule = StepLR(opt, stepSize: 2, gamma: 0.5)
        schedule.step()
        opt.learningRate = 0.3
        schedule.step()
        XCTAssertEqual(opt.learningRate, 0.15, accuracy: 1e-7)
    }

    /// The plateau's best metric and counters survive ``LRScheduler/stateDict()`` and
    /// ``LRScheduler/loadStateDict(_:)``; values out of range are refused, naming the key.
    func testPlateauStateRoundTripsAndIsChecked() throws {
        let opt = SGD([Tensor(zeros: [1])], learningRate: 0.1)
        let plateau = ReduceLROnPlateau(opt, factor: 0.5, patience: 3, cooldown: 2)
        for metric in [1.0, 0.9, 0.95, 0.97] { plateau.step(metric: metric) }
        let state = plateau.stateDict()
        XCTAssertEqual(state, ["best": 0.9, "num_bad_epochs": 2, "cooldown_counter": 0])
        let other = ReduceLROnPlateau(SGD([Tensor(zeros: [1])], learningRate: 0.1), factor: 0.5, patience: 3, cooldown: 2)
        try other.loadStateDict(state)
        XCTAssertEqual(other.stateDict(), state)
        let refused: [([String: Double], String)] = [
            (["num_bad_epochs": 4], "num_bad_epochs must be a whole number from 0 to 3, found 4.0"),
            (["num_bad_epochs": 1.5], "num_bad_epochs must be a whole number from 0 to 3"),
            (["cooldown_counter": -1], "cooldown_counter must be a whole number from 0 to 2"),
            (["best": -.infinity], "best must be a finite number (or inf before any epoch), found -inf"),
            (["patience": 1], "patience is not part of the state of ReduceLROnPlateau"),
        ]
        for (bad, phrase) in refused {
            XCTAssertThrowsError(try other.loadStateDict(bad)) { XCTAssertTrue("\($0)".contains(phrase), "\"\(phrase)\" not in: \($0)") }
        }
        XCTAssertEqual(other.stateDict(), state)
        XCTAssertThrowsError(try StepLR(opt, stepSize: 2).loadStateDict(["best": 1]))
    }

    /// A one-cycle position past its end is refused (stepping there stops, as PyTorch raises).
    func testOneCyclePositionPastTheEndIsRefused() {
        let opt = AdamW([Tensor(zeros: [1])])
        let schedule = OneCycleLR(opt, maxLearningRate: 0.01, totalSteps: 10)
        XCTAssertNoThrow(try schedule.validateState([:], lastEpoch: 10))
        XCTAssertThrowsError(try schedule.validateState([:], lastEpoch: 11)) {
            XCTAssertEqual("\($0)", "position 11 is past the end of the one-cycle schedule (10 steps)")
        }
    }

    func testOneCycleFollowsAFractionWithoutPassingItsEnd() {
        let opt = AdamW([Tensor(zeros: [1])])
        let timed = OneCycleLR(opt, maxLearningRate: 0.01, totalSteps: 10)
        let stepped = OneCycleLR(AdamW([Tensor(zeros: [1])]), maxLearningRate: 0.01, totalSteps: 10)
        timed.step(reaching: 0)  // at least one step
        XCTAssertEqual(timed.lastEpoch, 1)
        timed.step(reaching: 0.55)  // jumps to step 5, with the rate step 5 has
        for _ in 0..<5 { stepped.step() }
        XCTAssertEqual(timed.lastEpoch, 5)
        XCTAssertEqual(timed.currentLearningRates, stepped.optimizer.parameterGroups.map(\.learningRate))
        timed.step(reaching: 0.1)  // never back
        XCTAssertEqual(timed.lastEpoch, 6)
        for _ in 0..<20 { timed.step(reaching: 1.5) }  // stays on the last step
        XCTAssertEqual(timed.lastEpoch, 9)
        timed.step(reaching: .nan)
        XCTAssertEqual(timed.lastEpoch, 9)
        XCTAssertEqual(timed.currentLearningRates[0], 0.01 / 25 / 1e4, accuracy: 1e-12)
    }

    func testClipGradNorm() {
        let a = Tensor([3, 0]), b = Tensor([4])
        a.grad = Tensor([3, 0]); b.grad = Tensor([4])
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 1), 5, accuracy: 1e-6)
        assertClose(a.grad!.scalars + b.grad!.scalars, [0.6, 0, 0.8], atol: 1e-6)
    }
}
