// A multi-scale network: a small CNN backbone gives feature maps at three resolutions, a feature
// pyramid (FPN) brings them to one width with top-down paths, an Inception-Transformer block
// (convolution, max-pooling and attention branches side by side) refines the finest level, and
// a classifier reads all three levels to tell the size of a square.
//
//     swift run -c release example-multiscale
import DeepNN
import ExampleSupport

manualSeed(0)

/// 3×3 convolution (stride `stride`), BatchNorm, ReLU: (N, cin, H, W) → (N, cout, H/stride, W/stride).
func convBlock(_ cin: Int, _ cout: Int, stride: Int) -> Sequential {
    Sequential(Conv2d(cin, cout, kernelSize: 3, stride: stride, padding: 1, bias: false), BatchNorm2d(cout), ReLU())
}

/// (N, 1, 24, 24) → (N, 3).
final class PyramidClassifier: Module {
    let stem = convBlock(1, 8, stride: 1)                     // (N, 8, 24, 24)
    let stage1 = convBlock(8, 16, stride: 2)                  // C1 (N, 16, 12, 12)
    let stage2 = convBlock(16, 32, stride: 2)                 // C2 (N, 32, 6, 6)
    let stage3 = convBlock(32, 64, stride: 2)                 // C3 (N, 64, 3, 3)
    let fpn = FPN(inChannels: [16, 32, 64], outChannels: 16)   // P1, P2, P3: 16 channels each
    let mixer = InceptionTransformerBlock(dim: 16, numHeads: 2, attentionHeads: 1)   // 8 channels to attention, 8 to convolutions
    let head = Linear(3 * 16, 3)

    /// The three levels of the pyramid, finest first, the finest refined by the mixer.
    func pyramid(_ x: Tensor) -> [Tensor] {
        let c1 = stage1(stem(x)), c2 = stage2(c1), c3 = stage3(c2)
        var levels = fpn([c1, c2, c3])
        levels[0] = mixer(levels[0])
        return levels
    }

    override func forward(_ x: Tensor) -> Tensor {
        let pooled = pyramid(x).map { $0.mean(axes: [2, 3]) }     // global average pooling of each level
        return head(Tensor.concatenate(pooled, axis: 1))
    }
}

let model = PyramidClassifier()
print(try model.summary(input: [2, 1, 24, 24]))
let levels = withoutGrad { model.pyramid(Tensor.randn([2, 1, 24, 24])) }
print("pyramid levels: \(levels.map(\.shape))")
check(levels.map(\.shape) == [[2, 16, 12, 12], [2, 16, 6, 6], [2, 16, 3, 3]],
      "the pyramid has three levels of 16 channels at 12×12, 6×6 and 3×3")

// MARK: Training

// Is the bright square small (3 pixels), medium (6) or large (12)? The library's Trainer runs the
// loop (Support/SquareClassification.swift).
try trainSquareClassifier(model, optimizer: Adam(model.parameters, learningRate: 3e-3), label: .size, side: 24,
                          trainCount: 384, epochs: 3)
