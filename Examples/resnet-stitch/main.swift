// A ResNet with a block stitched in: a small ResNet gets a CBAM attention block (channel and
// spatial gates) after one of its residual blocks, by path, keeping every other weight; the
// summary checks that the shapes fit before any computation, and the stitched model trains.
//
//     swift run -c release example-resnet-stitch
import DeepNN
import ExampleSupport

manualSeed(0)

// A ResNet-10 (one BasicBlock per stage) for 3×16×16 images: 8, 16, 32, 64 channels, a 3×3 stem.
func smallResNet() -> ResNet {
    ResNet(block: BasicBlock.self, layers: [1, 1, 1, 1], numClasses: 3, inChannels: 3, baseChannels: 8, smallInputStem: true)
}
let model = smallResNet()
let plain = try model.summary(input: [1, 3, 16, 16])
print(plain)

// MARK: Stitching

// `layer3.0` is the first block of stage 3 (32 channels at 4×4). Put it and a CBAM in sequence
// where it was; every other module, and its weights, stays as it is.
let block = model.module(at: "layer3.0")!
let firstConvolution = model.module(at: "layer1.0.conv1") as! Conv2d
try model.replace(path: "layer3.0", with: Sequential(block, CBAM(channels: 32, reduction: 4)))
let stitched = try model.summary(input: [1, 3, 16, 16])
print("after stitching:\n\(stitched)")

let added = CBAM(channels: 32, reduction: 4).parameterCount
check(stitched.outputShape == [1, 3], "the stitched model still maps (1, 3, 16, 16) to (1, 3)")
check(stitched.totalParameters == plain.totalParameters + added,
      "it has the CBAM's \(added) parameters more: \(plain.totalParameters) → \(stitched.totalParameters)")
check(model.module(at: "layer3.0.0") === block && model.module(at: "layer1.0.conv1") === firstConvolution,
      "the replaced block is now layer3.0.0 and the other layers are the same objects")
check(model.namedParameters().map(\.0).contains("layer3.0.1.channel_attention.fc1.weight"),
      "the new weights are named by their path: layer3.0.1.channel_attention.fc1.weight")

// A block built for the wrong width is caught by the summary, with the path, before any training.
let probe = smallResNet()
try probe.replace(path: "layer4.0", with: Sequential(probe.module(at: "layer4.0")!, CBAM(channels: 32, reduction: 4)))
do {
    _ = try probe.summary(input: [1, 3, 16, 16])
    check(false, "a 32-channel CBAM after the 64-channel layer4.0 should not fit")
} catch let error as ShapeMismatchError {
    print("summary of a mis-sized stitch: \(error)")
    check(error.message.contains("layer4.0.1"), "the summary names the mis-sized block layer4.0.1")
}

// MARK: Training

// Classify the size of a bright square (small, medium, large) in noisy images; the library's
// Trainer runs the loop (Support/SquareClassification.swift).
try trainSquareClassifier(model, optimizer: Adam(model.parameters, learningRate: 3e-3), label: .size, side: 16, channels: 3,
                          trainCount: 384, epochs: 4)
