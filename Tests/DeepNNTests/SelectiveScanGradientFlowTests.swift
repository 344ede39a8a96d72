import XCTest
import DeepCore
import DeepNN
import TestSupport

/// How the scan's gradients reach its inputs: output gradients that are broadcast along the
/// sequence (read in place, not materialised) and leaf gradients that already exist (du, dΔ, dz
/// added into them by the kernels). Each must give what a materialised output gradient and fresh
/// gradients give, on every code path: channel blocks, C row kernels, portable Swift loops.
final class SelectiveScanGradientFlowTests: XCTestCase {
    /// Scan inputs for `channels` channels (blocks from 16 on, rows below), with a gate.
    private func leaves(channels dm: Int, constantB: Bool, seed: UInt64) -> [Tensor] {
        var rng = RandomGenerator(seed: seed)
        let (bt, n, l) = (2, 16, 45)
        let operand: [Int] = constantB ? [dm, n] : [bt, n, l]
        return [Tensor.randn([bt, dm, l], generator: &rng), Tensor.randn([bt, dm, l], generator: &rng) * 0.5,
                -Tensor.rand([dm, n], generator: &rng) - 0.1, Tensor.randn(operand, generator: &rng),
                Tensor.randn(operand, generator: &rng), Tensor.randn([dm], generator: &rng),
                Tensor.randn([bt, dm, l], generator: &rng)].map { t in
            let leaf = t.detached()
            leaf.requiresGrad = true
            return leaf
        }
    }

    private func scan(_ x: [Tensor], z: Tensor? = nil) -> Tensor {
        selectiveScan(x[0], x[1], x[2], x[3], x[4], x[5], z: z ?? x[6], deltaSoftplus: true)
    }

    /// Gradients of every leaf after `loss` runs backward from gradients set to `start` (nil: none).
    private func gradients(_ x: [Tensor], start: [Tensor?], _ loss: ([Tensor]) -> Tensor) -> [[Float]] {
        for (leaf, g) in zip(x, start) { leaf.grad = g?.copied() }
        loss(x).backward()
        return x.map { $0.grad?.scalars ?? [] }
    }

    /// Runs `body` on the portable paths, then on the channel blocks and C row kernels; skips
    /// (after the portable checks) when the CPU has neither AVX2 nor AVX-512, where those would
    /// run the portable loops again.
    private func onEveryPath(_ body: (String, Int, Bool) -> Void) throws {
        let saved = SelectiveScanKernels.usesVectorExtensions
        defer { SelectiveScanKernels.usesVectorExtensions = saved }
        SelectiveScanKernels.usesVectorExtensions = false
        body("portable, 37 channels", 37, false)
        body("portable, 4 channels", 4, false)
        body("portable, constant B and C", 20, true)
        try XCTSkipUnless(SelectiveScanKernels.cpuHasVectorExtensions,
                          "the CPU has neither AVX2 nor AVX-512: only the portable paths were checked")
        SelectiveScanKernels.usesVectorExtensions = true
        body("blocks", 37, false)
        body("C rows", 4, false)
        body("C rows, constant B and C", 20, true)
    }

    func testOutputGradientsBroadcastAlongTheSequence() throws {
        try onEveryPath { path, dm, constant in
            let x = leaves(channels: dm, constantB: constant, seed: 31)
            var rng = RandomGenerator(seed: 32)
            let w = Tensor.randn([2, dm], generator: &rng)
            let none = [Tensor?](repeating: nil, count: x.count)
            // Gradient of y: w repeated along the sequence (steps 0 apart) against the same
            // values materialised; and the all-ones gradient of y.sum().
            let broadcast = gradients(x, start: none) { (scan($0).sum(axes: [2]) * w).sum() }
            let repeated = w.reshaped([2, dm, 1]).expanded(to: [2, dm, 45]).contiguous()
            let materialised = gradients(x, start: none) { (scan($0) * repeated).sum() }
            let ones = gradients(x, start: none) { scan($0).sum() }
            let onesMaterialised = gradients(x, start: none) { (scan($0) * Tensor(ones: [2, dm, 45])).sum() }
            for i in 0..<x.count {
                assertClose(broadcast[i], materialised[i], atol: 1e-5, rtol: 1e-5, "\(path): input \(i), rows of w")
                assertClose(ones[i], onesMaterialised[i], atol: 1e-5, rtol: 1e-5, "\(path): input \(i), sum")
            }
        }
    }

    func testGradientsAddIntoExistingLeafGradients() throws {
        try onEveryPath { path, dm, constant in
            let x = leaves(channels: dm, constantB: constant, seed: 41)
            var rng = RandomGenerator(seed: 42)
            let start = x.map { Tensor.randn($0.shape, generator: &rng) }
            let fresh = gradients(x, start: [Tensor?](repeating: nil, count: x.count)) { scan($0).sum() }
            // All of u, delta, z with gradients (added into by the kernels), only u (returned and
            // added by backward), and z the same tensor as u (its two gradients must both arrive).
            let all = gradients(x, start: start) { scan($0).sum() }
            let onlyU = gradients(x, start: [start[0]] + [Tensor?](repeating: nil, count: x.count - 1)) { scan($0).sum() }
            for i in 0..<x.count {
                let expected = zip(fresh[i], start[i].scalars).map { $0 + $1 }
                assertClose(all[i], expected, atol: 1e-5, rtol: 1e-5, "\(path): input \(i), all existing")
                assertClose(onlyU[i], i == 0 ? expected : fresh[i], atol: 1e-5, rtol: 1e-5, "\(path): input \(i), u existing")
            }
            // Existing gradients that are contiguous views at an offset in a larger storage.
            for (leaf, g) in zip(x, start) {
                let flat = Tensor(zeros: [5 + g.count])
                flat.withUnsafeMutableBufferPointer { buffer in
                    for (i, value) in g.scalars.enumerated() { buffer[5 + i] = value }
                }
                leaf.grad = flat.narrowed(axis: 0, start: 5, length: g.count).reshaped(g.shape)
                XCTAssertNotNil(leaf.accumulatingGradient, "\(path): a contiguous view is added into")
            }
            scan(x).sum().backward()
            for i in 0..<x.count {
                let expected = zip(fresh[i], start[i].scalars).map { $0 + $1 }
                assertClose(x[i].grad!.scalars, expected, atol: 1e-5, rtol: 1e-5, "\(path): input \(i), views at an offset")
            }
            let aliasFresh = gradients(x, start: [Tensor?](repeating: nil, count: x.count)) { scan($0, z: $0[0]).sum() }
            let alias = gradients(x, start: start) { scan($0, z: $0[0]).sum() }
            for i in 0..<6 {
                let expected = zip(aliasFresh[i], start[i].scalars).map { $0 + $1 }
                assertClose(alias[i], expected, atol: 1e-5, rtol: 1e-5, "\(path): input \(i), z is u")
            }
        }
    }
}
