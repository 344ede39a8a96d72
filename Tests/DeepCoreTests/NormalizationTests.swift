import XCTest
import DeepCore

final class NormalizationTests: XCTestCase {
    let f = loadFixtures("normalization")

    /// Runs `op` on the fixture's inputs and compares output and every input gradient.
    func check(_ name: String, inputs: Int, file: StaticString = #filePath, line: UInt = #line,
               _ op: ([Tensor]) -> Tensor) {
        let xs = (0..<inputs).map { i -> Tensor in let t = f["\(name).in\(i)"]!.copied(); t.requiresGrad = true; return t }
        let y = op(xs)
        assertClose(y, f["\(name).y"]!, atol: 1e-5, rtol: 1e-4, "\(name) forward", file: file, line: line)
        (y * f["\(name).w"]!).sum().backward()
        for (i, x) in xs.enumerated() {
            assertClose(x.grad!, f["\(name).grad\(i)"]!, atol: 1e-4, rtol: 1e-4, "\(name) grad \(i)", file: file, line: line)
        }
    }

    func testLayerNormMatchesPyTorch() {
        check("layer_norm", inputs: 3) { layerNorm($0[0], normalizedShape: [4, 5], weight: $0[1], bias: $0[2]) }
        check("layer_norm_noaffine", inputs: 1) { layerNorm($0[0], normalizedShape: [5]) }
    }

    func testRMSNormMatchesPyTorch() {
        check("rms_norm", inputs: 2) { rmsNorm($0[0], normalizedShape: [5], weight: $0[1]) }
    }

    func testGroupNormMatchesPyTorch() {
        check("group_norm", inputs: 3) { groupNorm($0[0], groups: 3, weight: $0[1], bias: $0[2]) }
    }

    func testBatchNormTrainingMatchesPyTorchAndUpdatesRunningStatistics() {
        let rm = f["batch_norm_train.running_mean_before"]!.copied(), rv = f["batch_norm_train.running_var_before"]!.copied()
        check("batch_norm_train", inputs: 3) {
            batchNorm($0[0], runningMean: rm, runningVar: rv, weight: $0[1], bias: $0[2], training: true)
        }
        assertClose(rm, f["batch_norm_train.running_mean_after"]!)
        assertClose(rv, f["batch_norm_train.running_var_after"]!)
    }

    func testBatchNormEvaluationMatchesPyTorch() {
        let rm = f["batch_norm_train.running_mean_before"]!, rv = f["batch_norm_train.running_var_before"]!
        check("batch_norm_eval", inputs: 3) {
            batchNorm($0[0], runningMean: rm, runningVar: rv, weight: $0[1], bias: $0[2], training: false)
        }
    }

    func testFiniteDifferences() {
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 4]), Tensor.randn([4]), Tensor.randn([4])]) {
            layerNorm($0[0], normalizedShape: [4], weight: $0[1], bias: $0[2])
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 4, 3]), Tensor.randn([4])]) {
            rmsNorm($0[0].mT, normalizedShape: [4], weight: $0[1], eps: 1e-5)
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 4, 3]), Tensor.randn([4]), Tensor.randn([4])]) {
            groupNorm($0[0], groups: 2, weight: $0[1], bias: $0[2])
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([3, 2, 2, 2]), Tensor.randn([2]), Tensor.randn([2])]) {
            batchNorm($0[0], runningMean: nil, runningVar: nil, weight: $0[1], bias: $0[2], training: true)
        }
    }
}
