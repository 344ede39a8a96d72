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
