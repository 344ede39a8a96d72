import XCTest
import DeepCore
import DeepNN

final class LossTests: XCTestCase {
    let f = loadFixtures("losses")

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line, _ loss: (Tensor) -> Tensor) {
        let x = f["\(name).x"]!.copied()
        x.requiresGrad = true
        let y = loss(x)
        assertClose(y, f["\(name).y"]!, atol: 1e-5, rtol: 1e-4, "\(name) value", file: file, line: line)
        (y * f["\(name).w"]!.reshaped(y.shape)).sum().backward()
        assertClose(x.grad!, f["\(name).grad"]!, atol: 1e-5, rtol: 1e-4, "\(name) gradient", file: file, line: line)
    }

    var labels: [Int] { f["labels"]!.scalars.map { Int($0) } }

    func testCrossEntropyMatchesPyTorch() {
        let w = f["class_weight"]!
        check("ce") { crossEntropy($0, self.labels) }
        check("ce_smooth_weight_ignore") { crossEntropy($0, [0, 4, -100, 2, 1, 3], weight: w, labelSmoothing: 0.1) }
        check("ce_sum") { crossEntropy($0, self.labels, reduction: .sum) }
        check("ce_none") { crossEntropy($0, self.labels, labelSmoothing: 0.2, reduction: .none) }
        check("ce_probs") { crossEntropy($0, probabilities: self.f["probs"]!, weight: w, labelSmoothing: 0.1) }
        check("ce_seg") { crossEntropy($0, self.f["seg_labels"]!) }
        check("nll") { nllLoss(logSoftmax($0, axis: 1), self.labels, weight: w) }
    }

    /// The fused softmax cross-entropy against finite differences, with every option and with
    /// (N, C, H, W) logits.
    func testCrossEntropyFiniteDifferences() {
        var rng = RandomGenerator(seed: 8)
        let w = Tensor.rand([5], generator: &rng) + 0.5
        assertGradientsMatchFiniteDifferences([Tensor.randn([6, 5], generator: &rng)]) {
            crossEntropy($0[0], [0, 4, -100, 2, 1, 3], weight: w, labelSmoothing: 0.1)
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([4, 5], generator: &rng) * 3]) {
            crossEntropy($0[0], [1, 1, 0, 4], labelSmoothing: 0.2, reduction: .none) * Tensor([1, -2, 0.5, 3], shape: [4])
        }
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 2, 2], generator: &rng)]) {
            crossEntropy($0[0], [0, 1, 2, 0, 2, 2, 1, 0], reduction: .sum)
        }
    }

    func testRegressionAndBinaryLossesMatchPyTorch() {
        let t = f["target"]!
        check("mse") { mseLoss($0, t) }
        check("l1") { l1Loss($0, t, reduction: .sum) }
        check("smooth_l1") { smoothL1Loss($0, t, beta: 0.5) }
        check("bce") { binaryCrossEntropyWithLogits($0, self.f["bce_target"]!, posWeight: self.f["pos_weight"]!) }
        check("kl") { klDivergence(logSoftmax($0, axis: 1), self.f["kl_target"]!) }
    }

    func testCLIPLossMatchesOpenCLIPAndFiniteDifferences() {
        let (image, text, scale) = (f["clip_image"]!, f["clip_text"]!, f["clip_scale"]!)
        check("clip") { clipLoss(imageEmbeddings: $0, textEmbeddings: text, logitScale: scale) }
        check("clip_wrt_text") { clipLoss(imageEmbeddings: image, textEmbeddings: $0, logitScale: scale) }
        check("clip_soft") { clipLoss(imageEmbeddings: $0, textEmbeddings: text, logitScale: scale, targets: self.f["clip_targets"]!) }
        assertGradientsMatchFiniteDifferences([image, text, scale]) {
            clipLoss(imageEmbeddings: $0[0], textEmbeddings: $0[1], logitScale: $0[2], targets: self.f["clip_targets"]!)
        }
    }

    /// Values from ../shared/specs/blocks.md §6.
    func testDistillationMatchesSpec() {
        let s = Tensor([1, 2, 3], shape: [1, 3]), t = Tensor([3, 2, 1], shape: [1, 3])
        s.requiresGrad = true
        let loss = distillationLoss(student: s, teacher: t, labels: [2], temperature: 2, alpha: 0.5)
        XCTAssertEqual(loss.item(), 0.844116, accuracy: 1e-5)
        loss.backward()
        assertClose(s.grad!.scalars, [-0.275141, 0.122364, 0.152777], atol: 1e-5)
        let mean = distillationLoss(student: s.detached(), teacher: t, labels: [2], temperature: 2, alpha: 0.5, klReduction: .mean)
        XCTAssertEqual(mean.item(), 0.417241, accuracy: 1e-5)

        let s2 = Tensor([2, 1, 0.1, 0.5, 2.5, 0], shape: [2, 3]), t2 = Tensor([1.5, 0.5, 0, 0, 3, 1], shape: [2, 3])
        XCTAssertEqual(distillationLoss(student: s2, teacher: t2, labels: [0, 1], temperature: 4, alpha: 0.9).item(), 0.106000, accuracy: 1e-5)
        XCTAssertEqual(distillationLoss(student: s2, teacher: t2, labels: [0, 1], temperature: 4, alpha: 0.9, klReduction: .mean).item(),
                       0.055792, accuracy: 1e-5)
        XCTAssertEqual(klDivergence(logSoftmax(s2 / 3, axis: 1), softmax(s2 / 3, axis: 1)).item(), 0, accuracy: 1e-6)
    }

    func testDiceLossIsZeroForPerfectConfidentPredictionsAndDifferentiable() {
        let logits = Tensor([20, -20, -20, 20], shape: [2, 2])
        XCTAssertEqual(diceLoss(logits, [0, 1], smooth: 0).item(), 0, accuracy: 1e-5)
        assertGradientsMatchFiniteDifferences([Tensor.randn([4, 3])]) { diceLoss($0[0], [0, 2, 1, 1]) }
    }
}
