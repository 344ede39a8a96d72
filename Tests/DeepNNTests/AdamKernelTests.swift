import CVectorKernels
import XCTest
import DeepCore
import TestSupport

/// The vector Adam step (CVectorKernels' ds_adam, AVX2 or AVX-512) gives the floats of the
/// scalar loop it replaces, for Adam, AdamW and AMSGrad, over whole vectors and a tail, at this
/// CPU's vector width and at AVX2's.
final class AdamKernelTests: XCTestCase {
    func testVectorStepEqualsTheScalarLoop() throws {
        try XCTSkipIf(ds_vector_width() == 0, "no AVX2: the Swift loop runs")
        defer { ds_limit_vector_width(16) }
        var rng = RandomGenerator(seed: 5)
        let n = 53
        for width: Int32 in [16, 8] {
            ds_limit_vector_width(width)
            for (decoupled, amsgrad) in [(false, false), (true, false), (false, true), (true, true)] {
                let step = ds_adam_step(lr: 3e-3, wd: 5e-4, b1: 0.9, b2: 0.999, eps: 1e-8, stepSize: 3e-3 / 0.271,
                                        bias2Sqrt: 0.0632, decoupled: decoupled ? 1 : 0, amsgrad: amsgrad ? 1 : 0)
                let start = (0..<5).map { _ in Tensor.randn([n], generator: &rng).scalars.map { Swift.abs($0) } }
                var (p, m, v, vm) = (start[0], start[1], start[2], start[3])
                let g = start[4].map { $0 - 0.5 }
                var (ep, em, ev, evm) = (p, m, v, vm)
                // The scalar loop of Adam.update (Training/Optimizers.swift).
                for i in 0..<n {
                    var gi = g[i]
                    if decoupled { ep[i] *= 1 - step.lr * step.wd } else { gi += step.wd * ep[i] }
                    em[i] = step.b1 * em[i] + (1 - step.b1) * gi
                    ev[i] = step.b2 * ev[i] + (1 - step.b2) * gi * gi
                    var second = ev[i]
                    if amsgrad { evm[i] = Swift.max(evm[i], ev[i]); second = evm[i] }
                    ep[i] -= step.stepSize * em[i] / (second.squareRoot() / step.bias2Sqrt + step.eps)
                }
                let done = withUnsafePointer(to: step) { s in ds_adam(&p, g, &m, &v, &vm, n, s) }
                XCTAssertEqual(done, 1)
                XCTAssertEqual(p, ep, "parameters, width \(width), decoupled \(decoupled) amsgrad \(amsgrad)")
                XCTAssertEqual(m, em, "first moment")
                XCTAssertEqual(v, ev, "second moment")
                XCTAssertEqual(vm, evm, "max second moment")
            }
        }
    }
}
