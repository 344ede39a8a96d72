import XCTest
import DeepCore

/// The normalisation ops split groups among threads above `Parallel.minimumWork`; forcing the
/// split on small inputs must give the serial results (values and every gradient).
final class NormalizationParallelTests: XCTestCase {
    private func valuesAndGradients(_ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> [[Float]] {
        for t in inputs { t.grad = nil; t.requiresGrad = true }
        let y = f(inputs)
        var rng = RandomGenerator(seed: 5)
        (y * Tensor.randn(y.shape, generator: &rng)).sum().backward()
        return [y.scalars] + inputs.map { $0.grad?.scalars ?? [] }
    }

    func testThreadSplitEqualsSerial() {
        var rng = RandomGenerator(seed: 1)
        func r(_ shape: [Int]) -> Tensor { Tensor.randn(shape, generator: &rng) }
        let cases: [(String, [Tensor], ([Tensor]) -> Tensor)] = [
            ("batchNorm train", [r([6, 5, 7, 3]), r([5]), r([5])],
             { batchNorm($0[0], runningMean: nil, runningVar: nil, weight: $0[1], bias: $0[2], training: true) }),
            ("batchNorm eval", [r([6, 5, 7, 3]), r([5]), r([5])],
             { batchNorm($0[0], runningMean: Tensor(zeros: [5]), runningVar: Tensor(ones: [5]), weight: $0[1], bias: $0[2], training: false) }),
            ("groupNorm", [r([6, 6, 7, 3]), r([6]), r([6])], { groupNorm($0[0], groups: 3, weight: $0[1], bias: $0[2]) }),
            ("layerNorm", [r([9, 4, 5]), r([4, 5]), r([4, 5])], { layerNorm($0[0], normalizedShape: [4, 5], weight: $0[1], bias: $0[2]) }),
            ("layerNorm no affine", [r([9, 4, 5])], { layerNorm($0[0], normalizedShape: [5]) }),
            ("rmsNorm", [r([9, 8]), r([8])], { rmsNorm($0[0], normalizedShape: [8], weight: $0[1]) }),
        ]
        // Two threads whatever the machine has, so the split path runs everywhere.
        let saved = (Parallel.minimumWork, Gemm.threadCount)
        defer { (Parallel.minimumWork, Gemm.threadCount) = saved }
        Gemm.threadCount = 2
        for (name, inputs, f) in cases {
            Parallel.minimumWork = Int.max
            let serial = valuesAndGradients(inputs, f)
            Parallel.minimumWork = 1
            let split = valuesAndGradients(inputs, f)
            for (i, (a, b)) in zip(split, serial).enumerated() {
                assertClose(a, b, atol: 1e-5, rtol: 1e-5, "\(name) output/gradient \(i)")
            }
        }
    }
}
