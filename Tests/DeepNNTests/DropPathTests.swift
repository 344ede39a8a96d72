import XCTest
@testable import DeepNN
import DeepCore
import TestSupport

/// Stochastic depth (timm's DropPath): whole samples dropped or scaled by 1/(1 − p) in
/// training, the identity in evaluation; iFormer's per-block rates as the official linspace.
final class DropPathTests: XCTestCase {
    func testDropsWholeSamplesAndScalesTheRest() {
        let layer = DropPath(0.25, seed: 3)
        let x = Tensor.randn([400, 3, 2])
        x.requiresGrad = true
        let y = layer(x)
        let (xs, ys) = (x.scalars, y.scalars)
        var dropped = 0
        for n in 0..<400 {
            let row = (0..<6).map { ys[n * 6 + $0] }, input = (0..<6).map { xs[n * 6 + $0] }
            if row.allSatisfy({ $0 == 0 }) {
                dropped += 1
            } else {
                for (a, b) in zip(row, input) { XCTAssertEqual(a, b / 0.75, accuracy: 1e-6 * max(1, abs(b))) }
            }
        }
        // 100 expected; 4 standard deviations either way.
        XCTAssert(abs(dropped - 100) < 35, "dropped \(dropped) of 400 samples at p = 0.25")
        // The gradient is the same per-sample scale.
        y.sum().backward()
        let g = x.grad!.scalars
        for n in 0..<400 {
            let expected: Float = ys[n * 6] == 0 && xs[n * 6] != 0 ? 0 : 1 / 0.75
            XCTAssertEqual(g[n * 6], expected, accuracy: 1e-6)
        }
    }

    func testIdentityInEvaluationAndAtRateZero() {
        let x = Tensor.randn([4, 5])
        let layer = DropPath(0.5)
        layer.eval()
        XCTAssertEqual(layer(x).scalars, x.scalars)
        XCTAssertEqual(DropPath(0)(x).scalars, x.scalars)
        XCTAssertTrue(layer.stateDict().isEmpty)
        // As timm at drop probability 1: every branch dropped in training.
        XCTAssertEqual(DropPath(1)(x).scalars, [Float](repeating: 0, count: 20))
    }

    func testInceptionTransformerRatesFollowTheOfficialLinspace() {
        let config = InceptionTransformer.Configuration(depths: [1, 1, 2, 1], embedDims: [4, 4, 8, 8], numHeads: [2, 2, 4, 4],
                                                        attentionHeads: [1, 1, 1, 2, 2], mlpRatio: 2)
        let model = InceptionTransformer(config, numClasses: 3, imageSize: 32, dropPathRate: 0.2)
        let blocks = [model.blocks1, model.blocks2, model.blocks3, model.blocks4].flatMap { $0.namedChildren().map(\.1) }
        let rates = blocks.compactMap { ($0 as? InceptionTransformerBlock)?.dropPath.p }
        XCTAssertEqual(rates.count, 5)
        for (a, b) in zip(rates, [0, 0.05, 0.1, 0.15, 0.2] as [Float]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        // Same state dict as without stochastic depth; the same output in evaluation.
        let plain = InceptionTransformer(config, numClasses: 3, imageSize: 32)
        XCTAssertEqual(model.stateDict().keys.sorted(), plain.stateDict().keys.sorted())
        _ = try? plain.loadStateDict(model.stateDict())
        model.eval(); plain.eval()
        let x = Tensor.randn([2, 3, 32, 32])
        assertClose(model(x), plain(x), atol: 1e-6, rtol: 1e-6)
    }
}
