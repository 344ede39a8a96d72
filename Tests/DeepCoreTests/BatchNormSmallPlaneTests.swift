import XCTest
@testable import DeepCore
import TestSupport

/// BatchNorm over small planes (fewer than ``NormalizationKernels/smallPlane`` positions per
/// channel: (N, C) input, 1×1, 2×2, 3×3 maps) runs over whole image rows
/// (Kernels/BatchNormSmallPlanes.swift); its outputs, running statistics and gradients must equal
/// the per-channel group kernels' (checked against PyTorch by the normalisation fixtures), in
/// training and evaluation, and its gradients finite differences.
final class BatchNormSmallPlaneTests: XCTestCase {
    func testSmallPlanesMatchTheGroupKernels() {
        var rng = RandomGenerator(seed: 17)
        for shape in [[5, 7], [4, 6, 1, 1], [3, 5, 2, 2], [6, 3, 3, 3], [2, 9, 15], [7, 33, 2, 2]] {
            let c = shape[1]
            let x = Tensor.randn(shape, generator: &rng) * 2 + 0.5, g = Tensor.randn(shape, generator: &rng)
            let w = Tensor.randn([c], generator: &rng), b = Tensor.randn([c], generator: &rng)
            for training in [true, false] {
                func run(smallPlane: Int) -> [Tensor] {
                    let saved = NormalizationKernels.smallPlane
                    defer { NormalizationKernels.smallPlane = saved }
                    NormalizationKernels.smallPlane = smallPlane
                    var statistics = RandomGenerator(seed: 3)
                    let rm = Tensor.rand([c], generator: &statistics), rv = Tensor.rand([c], generator: &statistics) + 0.5
                    let leaves = [x, w, b].map { t -> Tensor in let l = t.detached(); l.requiresGrad = true; return l }
                    let y = batchNorm(leaves[0], runningMean: rm, runningVar: rv, weight: leaves[1], bias: leaves[2], training: training)
                    (y * g).sum().backward()
                    return [y.detached(), rm, rv] + leaves.map { $0.grad! }
                }
                let expected = run(smallPlane: 0)
                let actual = run(smallPlane: 16)
                for (i, (a, e)) in zip(actual, expected).enumerated() {
                    assertClose(a, e, atol: 2e-5, rtol: 2e-5, "shape \(shape), training \(training): tensor \(i)")
                }
            }
        }
    }

    func testSmallPlaneGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 18)
        for shape in [[4, 3], [3, 2, 2, 2]] {
            let inputs = [Tensor.randn(shape, generator: &rng), Tensor.randn([shape[1]], generator: &rng),
                          Tensor.randn([shape[1]], generator: &rng)]
            assertGradientsMatchFiniteDifferences(inputs, "shape \(shape)") { t in
                batchNorm(t[0], runningMean: nil, runningVar: nil, weight: t[1], bias: t[2], training: true)
            }
        }
    }
}
