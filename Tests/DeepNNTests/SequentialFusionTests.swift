import XCTest
import DeepCore
import DeepNN
import TestSupport

/// A Sequential runs a BatchNorm followed by a ReLU as one step while training; the results are
/// those of the two layers run in turn, and a summary still lists every layer.
final class SequentialFusionTests: XCTestCase {
    func testBatchNormThenReLUInSequentialMatchesTheLayersInTurn() throws {
        for training in [true, false] {
            var rng = RandomGenerator(seed: 11)
            let model = Sequential(Conv2d(2, 3, kernelSize: 3, padding: 1), BatchNorm2d(3), ReLU(), Flatten(), Linear(3 * 36, 4))
            let x = Tensor.randn([5, 2, 6, 6], generator: &rng), g = Tensor.randn([5, 4], generator: &rng)
            func gradients(_ forward: (Tensor) -> Tensor) -> [[Float]] {
                training ? model.train() : model.eval()
                let saved = model.stateDict().mapValues { $0.copied() }
                for p in model.parameters { p.grad = nil }
                let y = forward(x)
                (y * g).sum().backward()
                let result = [y.scalars] + model.parameters.map { $0.grad!.scalars } + model.stateDict().sorted { $0.key < $1.key }.map { $0.value.scalars }
                try? model.loadStateDict(saved)
                return result
            }
            let fused = gradients { model($0) }
            let inTurn = gradients { x in (0..<model.count).reduce(x) { model[$1]($0) } }
            XCTAssertEqual(fused.count, inTurn.count)
            for (i, (a, e)) in zip(fused, inTurn).enumerated() {
                XCTAssertTrue(a == e, "training \(training): output, gradient or state \(i) differs")
            }
        }
    }

    func testSummaryListsTheReLUAfterABatchNorm() throws {
        let model = Sequential(Conv2d(1, 4, kernelSize: 3), BatchNorm2d(4), ReLU(), Flatten())
        model.train()
        let rows = try model.summary(input: [2, 1, 8, 8]).rows.map(\.typeName)
        XCTAssertEqual(rows.filter { $0 != "Sequential" }, ["Conv2d", "BatchNorm2d", "ReLU", "Flatten"])
    }
}
