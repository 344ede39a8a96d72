// A U-Net with skip connections, written from its parts, learns to segment bright squares in
// noisy images: an encoder that halves the resolution twice, a decoder that doubles it back and
// joins each level's encoder features (the skip connections), and a per-pixel classifier.
//
//     swift run -c release example-unet
import DeepNN
import ExampleSupport

manualSeed(0)

// MARK: Data

/// `count` noisy 1×side×side images with 1 to 3 bright squares, and their masks (1 inside a
/// square) as (count, side, side) class ids in row-major order.
func squaresAndMasks(count: Int, side: Int, seed: UInt64) -> (images: Tensor, masks: [Int]) {
    var generator = RandomGenerator(seed: seed)
    var masks = [Int](repeating: 0, count: count * side * side)
    for i in 0..<count {
        for _ in 0..<Int.random(in: 1...3, using: &generator) {
            let size = Int.random(in: 3...side / 3, using: &generator)
            let top = Int.random(in: 0...side - size, using: &generator), left = Int.random(in: 0...side - size, using: &generator)
            for row in top..<(top + size) { for column in left..<(left + size) { masks[(i * side + row) * side + column] = 1 } }
        }
    }
    let noise = Tensor.randn([count, 1, side, side], std: 0.5, generator: &generator)
    return (noise + Tensor(masks.map(Float.init), shape: [count, 1, side, side]), masks)
}
let side = 24
let train = squaresAndMasks(count: 96, side: side, seed: 1), test = squaresAndMasks(count: 32, side: side, seed: 2)

// MARK: Model

/// (3×3 convolution → BatchNorm → ReLU) twice: the U-Net's building block. (N, cin, H, W) → (N, cout, H, W).
func doubleConv(_ cin: Int, _ cout: Int) -> Sequential {
    Sequential(Conv2d(cin, cout, kernelSize: 3, padding: 1, bias: false), BatchNorm2d(cout), ReLU(),
               Conv2d(cout, cout, kernelSize: 3, padding: 1, bias: false), BatchNorm2d(cout), ReLU())
}

/// A two-level U-Net. (N, 1, H, W) → (N, 2, H, W) logits, H and W divisible by 4.
final class TinyUNet: Module {
    let encoder1 = doubleConv(1, 8)                           // (N, 8, H, W)       → skip 1
    let encoder2 = doubleConv(8, 16)                          // (N, 16, H/2, W/2)  → skip 2
    let bottom = doubleConv(16, 32)                           // (N, 32, H/4, W/4)
    let up2 = ConvTranspose2d(32, 16, kernelSize: 2, stride: 2)
    let decoder2 = doubleConv(16 + 16, 16)                    // skip 2 ⊕ upsampled
    let up1 = ConvTranspose2d(16, 8, kernelSize: 2, stride: 2)
    let decoder1 = doubleConv(8 + 8, 8)                       // skip 1 ⊕ upsampled
    let head = Conv2d(8, 2, kernelSize: 1)                    // per-pixel logits

    override func forward(_ x: Tensor) -> Tensor {
        let skip1 = encoder1(x)
        let skip2 = encoder2(maxPool2d(skip1, kernelSize: 2))
        let deepest = bottom(maxPool2d(skip2, kernelSize: 2))
        let y2 = decoder2(Tensor.concatenate([skip2, up2(deepest)], axis: 1))      // torch.cat([skip, up], dim=1)
        let y1 = decoder1(Tensor.concatenate([skip1, up1(y2)], axis: 1))
        return head(y1)
    }
}

let model = TinyUNet()
let summary = try model.summary(input: [1, 1, side, side])
print(summary)
check(summary.outputShape == [1, 2, side, side], "the U-Net keeps the image size: (1, 2, \(side), \(side))")
// The library's UNet is the same network (milesial/Pytorch-UNet's layout) at depth 2 and 8 channels.
let libraryUNet = UNet(inChannels: 1, numClasses: 2, depth: 2, baseChannels: 8)
check(model.parameterCount == libraryUNet.parameterCount,
      "it has as many parameters as the library's UNet(depth: 2, baseChannels: 8): \(model.parameterCount)")

// MARK: Training

/// Class 1 (square) where its logit is the larger: (N, 2, H, W) → N·H·W ids.
func predictedMasks(_ logits: Tensor) -> [Int] { logits.argmax(axis: 1).scalars.map { Int($0) } }

let optimizer = Adam(model.parameters, learningRate: 1e-2)
let batchSize = 16, pixelsPerImage = side * side
var losses: [Float] = []
for epoch in 1...10 {
    for start in stride(from: 0, to: 96, by: batchSize) {
        let images = train.images[start..<(start + batchSize)]
        let masks = Array(train.masks[(start * pixelsPerImage)..<((start + batchSize) * pixelsPerImage)])
        optimizer.zeroGrad()
        let logits = model(images)
        // Cross-entropy per pixel plus the soft Dice loss, a common pair for segmentation.
        let loss = crossEntropy(logits, masks) + diceLoss(logits, masks)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    }
    print("epoch \(epoch)  loss \(fmt(losses.last!))")
}

// MARK: Evaluation

model.eval()
let predicted = withoutGrad { predictedMasks(model(test.images)) }
let iou = intersectionOverUnion(predictions: predicted, labels: test.masks, classCount: 2)
let dice = diceCoefficient(predictions: predicted, labels: test.masks, classCount: 2)
let pixelAccuracy = Double(zip(predicted, test.masks).filter { $0 == $1 }.count) / Double(predicted.count)
// Without the network: call a pixel a square where it is brighter than 0.5.
let thresholded = test.images.scalars.map { $0 > 0.5 ? 1 : 0 }
let thresholdIoU = intersectionOverUnion(predictions: thresholded, labels: test.masks, classCount: 2)[1]
print("test: pixel accuracy \(fmt(pixelAccuracy)), IoU of the squares \(fmt(iou[1])), Dice \(fmt(dice[1])); thresholding alone: IoU \(fmt(thresholdIoU))")

check(losses.suffix(6).reduce(0, +) < losses.prefix(6).reduce(0, +) / 3,
      "the loss fell more than 3× (first batches \(fmt(losses[0])), last \(fmt(losses.last!)))")
check(iou[1] > 0.85, "IoU of the squares on test images \(fmt(iou[1])) > 0.85")
check(iou[1] > thresholdIoU + 0.1, "the U-Net beats thresholding each pixel by more than 0.1 IoU (\(fmt(thresholdIoU)))")
