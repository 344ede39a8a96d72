import XCTest
import DeepCore
import DeepNN

final class SchedulerTests: XCTestCase {
    let f = loadFixtures("schedulers")

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line, _ make: (Optimizer) -> LRScheduler) {
        let opt = SGD([Tensor(zeros: [1])], learningRate: 0.1)
        let scheduler = make(opt)
        var seen = [opt.learningRate]
        for _ in 0..<12 { opt.step(); scheduler.step(); seen.append(opt.learningRate) }
        assertClose(seen, f[name]!.scalars, atol: 1e-7, rtol: 1e-5, name, file: file, line: line)
    }

    func testSchedulesMatchPyTorch() {
        check("step_lr") { StepLR($0, stepSize: 3, gamma: 0.5) }
        check("multistep_lr") { MultiStepLR($0, milestones: [2, 5, 9], gamma: 0.3) }
        check("cosine_lr") { CosineAnnealingLR($0, tMax: 10, etaMin: 0.001) }
        check("linear_lr") { LinearLR($0, startFactor: 0.25, totalIters: 4) }
        check("onecycle_lr") { OneCycleLR($0, maxLearningRate: 0.5, totalSteps: 13) }
        check("warmup_cosine_lr") { WarmupCosineLR($0, warmupSteps: 3, totalSteps: 12) }
    }

    func testClipGradNorm() {
        let a = Tensor([3, 0]), b = Tensor([4])
        a.grad = Tensor([3, 0]); b.grad = Tensor([4])
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 1), 5, accuracy: 1e-6)
        assertClose(a.grad!.scalars + b.grad!.scalars, [0.6, 0, 0.8], atol: 1e-6)
    }
}
