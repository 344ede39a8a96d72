import DeepCore
import DeepNN
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Workloads {
    /// Causal attention, q, k, v each 8×8×256×64: forward, then backward of the output's sum to
    /// q, k and v. Validated (output and the three gradients) against softmax(q kᵀ/√d + mask) v
    /// computed with whole score matrices.
    static let attentionFwdBwd = Workload(name: "attention_fwd_bwd") { timing in
        var rng = RandomGenerator(seed: 0)
        let shape = [8, 8, 256, 64]
        let q = Tensor.randn(shape, generator: &rng), k = Tensor.randn(shape, generator: &rng)
        let v = Tensor.randn(shape, generator: &rng)
        for t in [q, k, v] { t.requiresGrad = true }
        func step() -> Tensor {
            for t in [q, k, v] { t.grad = nil }
            let y = scaledDotProductAttention(q, k, v, isCausal: true)
            y.sum().backward()
            return y
        }
        let fast = [step()] + [q, k, v].map { $0.grad! }
        for t in [q, k, v] { t.grad = nil }
        let reference = naiveCausalAttention(q, k, v)
        reference.sum().backward()
        for (name, (a, b)) in zip(["output", "dq", "dk", "dv"], zip(fast, [reference] + [q, k, v].map { $0.grad! })) {
            try validate("attention_fwd_bwd \(name)", a.scalars, b.scalars, tolerance: 1e-4)
        }
        let ms = timing.medianMilliseconds { _ = step() }
        // Causal: about half of the 4·B·H·L²·D multiply-adds of the forward (2 GEMMs) and
        // backward (5 GEMMs) are skipped.
        let flops = 7.0 * 2 * 8 * 8 * 256 * 256 * 64 / 2
        return [resultLine("attention_fwd_bwd", ms: ms, extra: ["gflops": flops / ms / 1e6])]
    }

    /// One training step of a torchvision-layout ViT (image 32, patch 4, 4 layers, 4 heads,
    /// hidden 128, MLP 256, 10 classes) on a batch of 32; cross-entropy; AdamW lr 1e-3.
    static let vitStep = Workload(name: "vit_step") { timing in
        manualSeed(0)
        let model = VisionTransformer(imageSize: 32, patchSize: 4, numLayers: 4, numHeads: 4, hiddenDim: 128, mlpDim: 256,
                                      numClasses: 10)
        let (x, y) = batch(32, [3, 32, 32])
        let step = trainingStep(model, AdamW(model.parameters, learningRate: 1e-3), x, y)
        try validateTraining("vit_step", model, step, x, y)
        return [resultLine("vit_step", ms: timing.medianMilliseconds(step))]
    }

    /// Peak resident memory of causal attention forward and backward at length 2048
    /// (q, k, v 1×8×2048×64): run it alone, since the peak is the process's. The growth is
    /// measured from after a tiny attention call, which has allocated the libraries' buffers.
    static let attention2048Memory = Workload(name: "attention_2048_memory") { timing in
        var rng = RandomGenerator(seed: 0)
        let small = Tensor.randn([1, 8, 64, 64], generator: &rng)
        small.requiresGrad = true
        scaledDotProductAttention(small, small, small, isCausal: true).sum().backward()
        let shape = [1, 8, 2048, 64]
        let q = Tensor.randn(shape, generator: &rng), k = Tensor.randn(shape, generator: &rng)
        let v = Tensor.randn(shape, generator: &rng)
        for t in [q, k, v] { t.requiresGrad = true }
        let before = peakResidentMegabytes()
        let ms = timing.medianMilliseconds {
            for t in [q, k, v] { t.grad = nil }
            scaledDotProductAttention(q, k, v, isCausal: true).sum().backward()
        }
        let peak = peakResidentMegabytes()
        return [resultLine("attention_2048_memory", ms: ms,
                           extra: ["peak_rss_mb": peak, "peak_rss_growth_mb": peak - before])]
    }
}

/// softmax(q kᵀ/√d + causal mask) v with whole (L, L) score matrices: the reference for
/// `attention_fwd_bwd`.
private func naiveCausalAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> Tensor {
    let l = q.shape[2]
    let future = Tensor.make(shape: [l, l]) { m in
        for i in 0..<l { for j in 0..<l { m[i * l + j] = j > i ? 1 : 0 } }
    }
    let scores = (matmul(q, k.mT) * (1 / Float(q.shape[3]).squareRoot())).filled(where: future, with: -.infinity)
    return matmul(softmax(scores, axis: -1), v)
}

/// The process's peak resident set size so far, in MB.
func peakResidentMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}
