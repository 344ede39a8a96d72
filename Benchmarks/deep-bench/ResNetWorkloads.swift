import DeepCore
import DeepNN

extension Workloads {
    /// One training step of torchvision-layout ResNet-18 (10 classes, standard 7×7 stem) on a
    /// batch of 32 images 3×32×32; cross-entropy; SGD lr 0.1 momentum 0.9; train-mode BatchNorm.
    static let resnet18Step = Workload(name: "resnet18_step") { timing in
        manualSeed(0)
        let model = ResNet.resnet18(numClasses: 10)
        model.train()
        let (x, y) = batch(32, [3, 32, 32])
        let step = trainingStep(model, SGD(model.parameters, learningRate: 0.1, momentum: 0.9), x, y)
        try validateTraining("resnet18_step", model, step, x, y)
        return [resultLine("resnet18_step", ms: timing.medianMilliseconds(step))]
    }
}
