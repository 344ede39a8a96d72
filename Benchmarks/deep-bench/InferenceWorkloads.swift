import DeepCore
import DeepNN

extension Workloads {
    /// The inference workloads of `../shared/bench/ort_bench.py`: a model in evaluation mode,
    /// without gradients, on one fixed input. Besides the plain `model(x)` (impl "deepstitch"), the
    /// same model after `fuseForInference()` (BatchNorm folded into the convolutions; impl
    /// "deepstitch-fused") when it folds anything, validated against the plain output first.
    static func inference(_ name: String, make: @escaping () -> Module, input: [Int]) -> Workload {
        Workload(name: name) { timing in
            manualSeed(0)
            let model = make()
            model.eval()
            var rng = RandomGenerator(seed: 0)
            let x = Tensor.randn(input, generator: &rng)
            let plain = withoutGrad { model(x) }
            var lines = [resultLine(name, ms: timing.medianMilliseconds { _ = withoutGrad { model(x) } })]
            if model.fuseForInference() > 0 {
                try validate(name, withoutGrad { model(x) }.scalars, plain.scalars, tolerance: 1e-3)
                lines.append(resultLine(name, ms: timing.medianMilliseconds { _ = withoutGrad { model(x) } }, impl: "deepstitch-fused"))
            }
            return lines
        }
    }

    /// torchvision-layout ResNet-18, 10 classes, eval, input 1×3×224×224.
    static let resnet18InferB1 = inference("resnet18_infer_b1", make: { ResNet.resnet18(numClasses: 10) }, input: [1, 3, 224, 224])
    /// The same model, input 32×3×32×32.
    static let resnet18InferB32 = inference("resnet18_infer_b32", make: { ResNet.resnet18(numClasses: 10) }, input: [32, 3, 32, 32])
    /// The vit_step ViT in eval, input 32×3×32×32.
    static let vitInferB32 = inference("vit_infer_b32", make: {
        VisionTransformer(imageSize: 32, patchSize: 4, numLayers: 4, numHeads: 4, hiddenDim: 128, mlpDim: 256, numClasses: 10)
    }, input: [32, 3, 32, 32])
}
