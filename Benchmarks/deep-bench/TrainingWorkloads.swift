import DeepCore
import DeepNN

extension Workloads {
    /// One training step of `model` on a fixed batch: zero grads, forward, cross-entropy,
    /// backward, optimiser step.
    static func trainingStep(_ model: Module, _ optimizer: Optimizer, _ x: Tensor, _ labels: [Int]) -> () -> Void {
        return {
            optimizer.zeroGrad()
            crossEntropy(model(x), labels).backward()
            optimizer.step()
        }
    }

    /// Checks that a few steps on a fixed batch lower the loss (a training step that does
    /// nothing useful would time well and mean nothing).
    static func validateTraining(_ name: String, _ model: Module, _ step: () -> Void, _ x: Tensor, _ labels: [Int]) throws {
        let before = withoutGrad { crossEntropy(model(x), labels).item() }
        for _ in 0..<5 { step() }
        let after = withoutGrad { crossEntropy(model(x), labels).item() }
        guard after < before else {
            throw BenchmarkValidationError(description: "\(name): loss did not fall over 5 steps (\(before) → \(after))")
        }
    }

    /// A fixed batch of `n` inputs of `shape` and labels in 0..<10.
    static func batch(_ n: Int, _ shape: [Int]) -> (Tensor, [Int]) {
        var rng = RandomGenerator(seed: 0)
        return (Tensor.randn([n] + shape, generator: &rng), (0..<n).map { _ in Int(rng.next() % 10) })
    }

    /// Flatten, Linear 784→256, ReLU, Linear 256→10; batch 64; SGD lr 0.1 momentum 0.9.
    static let mlpStep = Workload(name: "mlp_step") { timing in
        manualSeed(0)
        let model = Sequential(Flatten(), Linear(784, 256), ReLU(), Linear(256, 10))
        let (x, y) = batch(64, [1, 28, 28])
        let step = trainingStep(model, SGD(model.parameters, learningRate: 0.1, momentum: 0.9), x, y)
        try validateTraining("mlp_step", model, step, x, y)
        return [resultLine("mlp_step", ms: timing.medianMilliseconds(step))]
    }

    /// The small CNN of `FashionModels.smallCNN`; batch 64; Adam lr 1e-3.
    static let fmnistCNNStep = Workload(name: "fmnist_cnn_step") { timing in
        manualSeed(0)
        let model = FashionModels.smallCNN()
        let (x, y) = batch(64, [1, 28, 28])
        let step = trainingStep(model, Adam(model.parameters, learningRate: 1e-3), x, y)
        try validateTraining("fmnist_cnn_step", model, step, x, y)
        return [resultLine("fmnist_cnn_step", ms: timing.medianMilliseconds(step))]
    }

    /// One training step of the README's main job (`stitch train` defaults, no anchor in
    /// ../shared/bench): the `cnn-bn` model, a batch of 64 Fashion-MNIST-sized images, AdamW
    /// (3e-3, weight decay 5e-4). For A/B timing of what the main job spends per batch.
    static let mainJobStep = Workload(name: "main_job_step") { timing in
        manualSeed(0)
        let model = FashionModels.batchNormCNN()
        let (x, y) = batch(64, [1, 28, 28])
        let step = trainingStep(model, AdamW(model.parameters, learningRate: 3e-3, weightDecay: 5e-4), x, y)
        try validateTraining("main_job_step", model, step, x, y)
        return [resultLine("main_job_step", ms: timing.medianMilliseconds(step))]
    }
}
