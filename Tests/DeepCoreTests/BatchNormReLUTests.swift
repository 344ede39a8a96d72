import XCTest
import DeepCore
import TestSupport

/// `batchNorm(…, followedByReLU: true)`: the ReLU applied in BatchNorm's own passes. It must be
/// exactly `relu(batchNorm(…))` — output, every gradient and the running statistics, bit for bit
/// (both compute the pre-activation with the same operations) — where it fuses (batch
/// statistics, planes of 16 positions or more) and where it falls back to the two ops.
final class BatchNormReLUTests: XCTestCase {
    private func run(_ shape: [Int], training: Bool, running: Bool, fused: Bool, seed: UInt64) -> [Tensor] {
        var rng = RandomGenerator(seed: seed)
        let c = shape[1]
        let x = Tensor.randn(shape, generator: &rng), w = Tensor.randn([c], generator: &rng), b = Tensor.randn([c], generator: &rng)
        let g = Tensor.randn(shape, generator: &rng)
        let rm = Tensor.randn([c], generator: &rng), rv = Tensor.rand([c], generator: &rng) + 0.5
        for t in [x, w, b] { t.requiresGrad = true }
        let y = fused
            ? batchNorm(x, runningMean: running ? rm : nil, runningVar: running ? rv : nil, weight: w, bias: b,
                        training: training, followedByReLU: true)
            : relu(batchNorm(x, runningMean: running ? rm : nil, runningVar: running ? rv : nil, weight: w, bias: b,
                             training: training))
        (y * g).sum().backward()
        return [y, x.grad!, w.grad!, b.grad!, rm, rv]
    }

    func testFusedReLUIsExactlyBatchNormThenReLU() {
        // 5×6 and 4×4 planes fuse; 2×2 planes take the small-plane kernels and evaluation the
        // running statistics, where the two ops run in turn.
        for (shape, training, running) in [([4, 3, 5, 6], true, true), ([2, 5, 4, 4], true, false), ([8, 3, 2, 2], true, true),
                                           ([4, 3, 5, 6], false, true), ([3, 2, 17], true, true)] {
            let fused = run(shape, training: training, running: running, fused: true, seed: 7)
            let unfused = run(shape, training: training, running: running, fused: false, seed: 7)
            for (i, (a, e)) in zip(fused, unfused).enumerated() {
                XCTAssertEqual(a.scalars, e.scalars, "\(shape) training \(training): output/gradient/statistic \(i)")
            }
            XCTAssertTrue(fused[0].scalars.contains(0) && fused[0].scalars.contains { $0 > 0 }, "\(shape): the ReLU clips some values")
        }
    }

    func testFusedReLUPassesNaNAsReLUDoes() {
        let x = Tensor((0..<32).map { Float($0) }, shape: [1, 2, 4, 4])
        x.withUnsafeMutableBufferPointer { $0[3] = .nan }
        let y = batchNorm(x, runningMean: nil, runningVar: nil, training: true, followedByReLU: true)
        let expected = relu(batchNorm(x, runningMean: nil, runningVar: nil, training: true))
        XCTAssertEqual(y.scalars.map(\.isNaN), expected.scalars.map(\.isNaN))
        XCTAssertEqual(y.scalars.filter { !$0.isNaN }, expected.scalars.filter { !$0.isNaN })
    }

    func testFiniteDifferences() {
        var rng = RandomGenerator(seed: 3)
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 2, 4, 5], generator: &rng), Tensor.randn([2], generator: &rng),
                                               Tensor.randn([2], generator: &rng)], eps: 1e-3, atol: 5e-3) {
            batchNorm($0[0], runningMean: nil, runningVar: nil, weight: $0[1], bias: $0[2], training: true, followedByReLU: true)
        }
    }
}
