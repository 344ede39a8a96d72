import XCTest
import DeepCore
import DeepNN

final class OptimizerTests: XCTestCase {
    let f = loadFixtures("optim")

    /// Runs as many steps of `make`'s optimiser as the fixture has for `name` (at least 5) and
    /// compares each step's parameters with PyTorch's.
    func checkTrajectory(_ name: String, file: StaticString = #filePath, line: UInt = #line,
                         _ make: ([Tensor]) -> Optimizer) {
        let (a, y) = (f["A"]!, f["y"]!)
        let w = f["W0"]!.copied()
        w.requiresGrad = true
        let opt = make([w])
        let steps = (0...).first { f["\(name).\($0)"] == nil }!
        XCTAssertGreaterThanOrEqual(steps, 5, "\(name): fixture steps", file: file, line: line)
        for step in 0..<steps {
            opt.zeroGrad()
            let r = matmul(a, w) - y
            (r * r).sum().backward()
            opt.step()
            assertClose(w, f["\(name).\(step)"]!, atol: 1e-5, rtol: 1e-4, "\(name) step \(step)", file: file, line: line)
        }
    }

    func testTrajectoriesMatchPyTorch() {
        checkTrajectory("sgd") { SGD($0, learningRate: 0.05) }
        checkTrajectory("sgd_momentum") { SGD($0, learningRate: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01) }
        checkTrajectory("sgd_nesterov") { SGD($0, learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01) }
        // A decay large enough to leave the tolerance when dropped (see make_optim.py).
        checkTrajectory("adam") { Adam($0, learningRate: 0.05, weightDecay: 0.5) }
        checkTrajectory("adam_amsgrad") { Adam($0, learningRate: 0.05, betas: (0.8, 0.9), amsgrad: true) }
        checkTrajectory("adamw") { AdamW($0, learningRate: 0.05) }
        checkTrajectory("rmsprop") { RMSprop($0, learningRate: 0.01) }
        checkTrajectory("rmsprop_centered") { RMSprop($0, learningRate: 0.01, weightDecay: 0.1, momentum: 0.5, centered: true) }
    }

    /// The same trajectories with every update split among threads (large parameters are); two
    /// threads are set whatever the machine has.
    func testTrajectoriesMatchPyTorchWhenSplitAmongThreads() {
        let saved = (DeepCore.Parallel.minimumWork, Gemm.threadCount)
        defer { (DeepCore.Parallel.minimumWork, Gemm.threadCount) = saved }
        (DeepCore.Parallel.minimumWork, Gemm.threadCount) = (1, 2)
        testTrajectoriesMatchPyTorch()
    }

    func testStateRoundTripResumesExactly() throws {
        let (a, y) = (f["A"]!, f["y"]!)
        func run(_ w: Tensor, _ opt: Optimizer, steps: Int) {
            for _ in 0..<steps {
                opt.zeroGrad()
                let r = matmul(a, w) - y
                (r * r).sum().backward()
                opt.step()
            }
        }
        let w1 = f["W0"]!.copied(); w1.requiresGrad = true
        let o1 = Adam([w1], learningRate: 0.05)
        run(w1, o1, steps: 6)

        let w2 = f["W0"]!.copied(); w2.requiresGrad = true
        let o2 = Adam([w2], learningRate: 0.05)
        run(w2, o2, steps: 3)
        let saved = o2.stateDict()
        let w3 = w2.detached().copied(); w3.requiresGrad = true
        let o3 = Adam([w3], learningRate: 0.05)
        try o3.loadStateDict(saved)
        run(w3, o3, steps: 3)
        XCTAssertEqual(w3.scalars, w1.scalars)
    }
}

/// Every hyper-parameter of a group (PyTorch's `param_groups` keys) is filled from the
/// optimiser's defaults, saved and restored with its state, and checked when loaded.
final class ParameterGroupTests: XCTestCase {
    func testGroupsTakeTheDefaultsTheyDoNotSet() {
        let (a, b) = (Tensor(zeros: [1]), Tensor(zeros: [1]))
        let sgd = SGD(groups: [ParameterGroup([a], learningRate: 0.1), ParameterGroup([b], learningRate: 0.2, momentum: 0.5)],
                      momentum: 0.9, dampening: 0.1, weightDecay: 0.01)
        XCTAssertEqual(sgd.parameterGroups.map(\.momentum), [0.9, 0.5])
        XCTAssertEqual(sgd.parameterGroups.map(\.dampening), [0.1, 0.1])
        XCTAssertEqual(sgd.parameterGroups.map(\.weightDecay), [0.01, 0.01])
        XCTAssertEqual(sgd.parameterGroups.map(\.nesterov), [false, false])
        XCTAssertNil(sgd.parameterGroups[0].betas)
        let adam = AdamW([a], betas: (0.8, 0.99), eps: 1e-6)
        XCTAssertEqual(adam.parameterGroups[0].betas?.0, 0.8)
        XCTAssertEqual(adam.parameterGroups[0].betas?.1, 0.99)
        XCTAssertEqual(adam.parameterGroups[0].eps, 1e-6)
        XCTAssertEqual(adam.parameterGroups[0].weightDecay, 0.01)
        XCTAssertEqual(adam.parameterGroups[0].amsgrad, false)
        XCTAssertNil(adam.parameterGroups[0].momentum)
        let rms = RMSprop([a], alpha: 0.9, momentum: 0.3, centered: true)
        XCTAssertEqual(rms.parameterGroups[0].alpha, 0.9)
        XCTAssertEqual(rms.parameterGroups[0].momentum, 0.3)
        XCTAssertEqual(rms.parameterGroups[0].centered, true)
    }

    /// Values set between steps travel in the state dict and come back in another optimiser.
    func testHyperparametersRoundTrip() throws {
        let source = Adam([Tensor(zeros: [2])], learningRate: 0.1)
        source.parameterGroups[0].betas = (0.7, 0.95)
        source.parameterGroups[0].eps = 1e-4
        source.parameterGroups[0].weightDecay = 0.3
        source.parameterGroups[0].amsgrad = true
        let dict = source.stateDict()
        assertClose(dict["group.0.betas"]!.scalars, [0.7, 0.95], atol: 0)
        let target = Adam([Tensor(zeros: [2])])
        try target.loadStateDict(dict)
        let g = target.parameterGroups[0]
        XCTAssertEqual([g.learningRate, g.betas!.0, g.betas!.1, g.eps!, g.weightDecay!], [0.1, 0.7, 0.95, 1e-4, 0.3])
        XCTAssertEqual(g.amsgrad, true)

        let sgd = SGD([Tensor(zeros: [2])], learningRate: 0.1, momentum: 0.9)
        sgd.parameterGroups[0].nesterov = true
        sgd.parameterGroups[0].momentum = 0.8
        let sgd2 = SGD([Tensor(zeros: [2])], learningRate: 0.5, momentum: 0.1, dampening: 0.5)
        try sgd2.loadStateDict(sgd.stateDict())
        XCTAssertEqual(sgd2.parameterGroups[0].momentum, 0.8)
        XCTAssertEqual(sgd2.parameterGroups[0].dampening, 0)
        XCTAssertEqual(sgd2.parameterGroups[0].nesterov, true)
    }

    /// A state written before the hyper-parameters were saved (only `group.<g>.lr`) still loads:
    /// each missing value keeps the optimiser's.
    func testAStateWithOnlyTheRateLoads() throws {
        let optimizer = AdamW([Tensor(zeros: [2])], betas: (0.8, 0.9))
        let old: [String: Tensor] = ["step": Tensor(scalar: 3), "group.0.lr": Tensor(scalar: 0.25)]
        try optimizer.loadStateDict(old)
        XCTAssertEqual(optimizer.learningRate, 0.25)
        XCTAssertEqual(optimizer.parameterGroups[0].betas?.0, 0.8)
        XCTAssertEqual(optimizer.stepCount, 3)
    }

    func testLoadStateDictRefusesHyperparametersOutOfRange() {
        let sgd = SGD([Tensor(zeros: [2])], learningRate: 0.1, momentum: 0.9)
        let adam = Adam([Tensor(zeros: [2])])
        let cases: [(Optimizer, String, Tensor, String)] = [
            (adam, "group.0.betas", Tensor([0.9, 1.0]), "group.0.betas must be two numbers in [0, 1), found (0.9, 1.0)"),
            (adam, "group.0.betas", Tensor(scalar: 0.9), "group.0.betas must be two numbers in [0, 1), found 0.9"),
            (adam, "group.0.eps", Tensor(scalar: .nan), "group.0.eps must be one finite non-negative number, found nan"),
            (adam, "group.0.amsgrad", Tensor(scalar: 2), "group.0.amsgrad must be 0 or 1, found 2.0"),
            (adam, "group.0.weight_decay", Tensor(scalar: -0.1), "group.0.weight_decay must be one finite non-negative number"),
            (sgd, "group.0.momentum", Tensor(scalar: -1), "group.0.momentum must be one finite non-negative number, found -1.0"),
            (sgd, "group.0.dampening", Tensor(scalar: .infinity), "group.0.dampening must be one finite number, found inf"),
            (sgd, "group.0.nesterov", Tensor(scalar: 0.5), "group.0.nesterov must be 0 or 1, found 0.5"),
        ]
        for (optimizer, key, value, phrase) in cases {
            let before = optimizer.stateDict()
            var dict = before
            dict[key] = value
            XCTAssertThrowsError(try optimizer.loadStateDict(dict), key) { error in
                XCTAssertTrue("\(error)".contains(phrase), "\"\(phrase)\" not in: \(error)")
            }
            XCTAssertEqual(optimizer.stateDict().mapValues(\.scalars), before.mapValues(\.scalars), "\(key): state changed")
        }
    }
}

/// A state dict from outside with a step or learning rate no optimiser can hold is refused
/// with an error naming the field (issue 17: a step of 1.28e31 trapped converting to Int).
final class OptimizerStateValidationTests: XCTestCase {
    func testLoadStateDictRefusesStepsAndRatesOutOfRange() {
        let w = Tensor(zeros: [2]); w.requiresGrad = true
        let optimizer = Adam([w], learningRate: 0.1)
        let cases: [(String, Tensor, String)] = [
            ("step", Tensor(scalar: 1.28e31), "step must be one whole number from 0 to 2147483647, found 1.28e+31"),
            ("step", Tensor(scalar: -1), "step must be one whole number"),
            ("step", Tensor(scalar: 2.5), "step must be one whole number"),
            ("step", Tensor(scalar: .nan), "step must be one whole number"),
            ("step", Tensor([1, 2], shape: [2]), "found a tensor of shape [2]"),
            ("group.0.lr", Tensor(scalar: .infinity), "group.0.lr must be one finite non-negative number, found inf"),
        ]
        for (key, value, phrase) in cases {
            var dict = optimizer.stateDict()
            dict[key] = value
            XCTAssertThrowsError(try optimizer.loadStateDict(dict), key) { error in
                XCTAssertTrue("\(error)".contains(phrase), "\"\(phrase)\" not in: \(error)")
            }
        }
        XCTAssertEqual(optimizer.parameterGroups[0].learningRate, 0.1)
    }
}
