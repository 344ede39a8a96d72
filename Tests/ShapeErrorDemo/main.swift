import DeepCore
import DeepNN

// A program that makes a shape mistake the way a user would, for `ReleaseErrorTests`: built with
// the package (in release too) and run as a child process, it must stop with the op's message,
// both shapes and the module path on stderr.
//
//     shape-error-demo conv       a Conv2d taking 8 channels fed an image of 3
//     shape-error-demo bilinear   a Bilinear (two inputs) fed 4 features where it takes 5
//     shape-error-demo fused      a model prepared with fuseForInference() trained again
//     shape-error-demo conv3d     a Conv3d taking 8 channels fed a volume of 3

/// A module calling a two-input child, so that the error's path runs through a multi-input call.
final class PairScorer: Module {
    /// (N, 4), (N, 5) → (N, 2).
    let bilinear = Bilinear(4, 5, 2)

    /// (N, 4) → (N, 2), scoring `x` against itself: the mistake (x has 4 features, not 5).
    override func forward(_ x: Tensor) -> Tensor { bilinear(x, x) }
}

let mistake = CommandLine.arguments.dropFirst().first ?? "conv"
switch mistake {
case "conv":
    let model = Sequential(ReLU(), Conv2d(8, 16, kernelSize: 3))
    print("calling the model")
    print(model(Tensor.randn([1, 3, 10, 10])).shape)
case "bilinear":
    let model = Sequential(Linear(6, 4), PairScorer())
    print(model(Tensor.randn([2, 6])).shape)
case "conv3d":
    let model = Sequential(ReLU(), Conv3d(8, 16, kernelSize: 3))
    print(model(Tensor.randn([1, 3, 6, 6, 6])).shape)
case "fused":
    let model = Sequential(Conv2d(1, 4, kernelSize: 3), BatchNorm2d(4), ReLU())
    model.eval()
    print("folded \(model.fuseForInference())")
    model.train()
    print(model(Tensor.randn([2, 1, 8, 8])).shape)
default:
    print("usage: shape-error-demo conv | bilinear | fused")
}
