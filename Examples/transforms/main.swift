// Preprocessing with Compose: raw 0…255 images become normalised, augmented batches through a
// pipeline of transforms (ToTensor, RandomCrop, RandomHorizontalFlip, Normalize, and one of our
// own), applied by a dataset as the loader asks for examples.
//
//     swift run -c release example-transforms
import DeepNN
import ExampleSupport

// MARK: Raw data

// 64 RGB images of 16×16 with raw pixel values 0…255, as decoded from PNG files; the channels
// have different brightness (red around 200, green around 120, blue around 40) and spread.
var generator = RandomGenerator(seed: 0)
let (imageCount, side) = (64, 16)
let raw = Tensor.make(shape: [imageCount, 3, side, side]) { pixels in
    let (centre, spread): ([Float], [Float]) = ([200, 120, 40], [30, 50, 20])
    for i in pixels.indices {
        let channel = (i / (side * side)) % 3
        pixels[i] = min(255, max(0, (centre[channel] + spread[channel] * generator.nextNormalPair().0).rounded()))
    }
}
let labels = (0..<imageCount).map { $0 % 2 }

/// A data set that passes each image through `transform` when it is read (torchvision's
/// `transform=` argument): random transforms draw from the generator the loader gives, so
/// every run sees the same augmentations.
struct RawImages: Dataset {
    /// (N, 3, H, W) values 0…255.
    let pixels: Tensor
    let labels: [Int]
    let transform: Transform
    var count: Int { labels.count }
    func example(at index: Int, generator: inout RandomGenerator) -> Example {
        Example(input: transform(pixels[index], generator: &generator), label: labels[index])
    }
}

/// Adds Gaussian noise of standard deviation `std`: a transform of our own is one method.
struct AddGaussianNoise: Transform {
    let std: Float
    func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        x + Tensor.randn(x.shape, std: std, generator: &generator)
    }
}

// MARK: Normalisation statistics

/// The mean and standard deviation of each channel over every image that `loader` gives.
func channelStatistics(_ loader: DataLoader) -> (mean: [Float], std: [Float]) {
    let all = Tensor.concatenate(loader.map(\.inputs), axis: 0)           // (N, 3, H, W)
    return (all.mean(axes: [0, 2, 3]).scalars, all.standardDeviation(axes: [0, 2, 3], correction: 0).scalars)
}

// As a tutorial does: measure the channels after ToTensor, then normalise with what was measured.
let (mean, std) = channelStatistics(DataLoader(RawImages(pixels: raw, labels: labels, transform: ToTensor()), batchSize: 16))
print("channel means \(mean.map { fmt($0, 3) }), standard deviations \(std.map { fmt($0, 3) })")
check(abs(mean[0] - 200 / 255) < 0.02 && abs(mean[2] - 40 / 255) < 0.02, "ToTensor scales 0…255 to 0…1")

let evaluationTransform = Compose([ToTensor(), Normalize(mean: mean, std: std)])
let normalised = channelStatistics(DataLoader(RawImages(pixels: raw, labels: labels, transform: evaluationTransform), batchSize: 16))
print("after Normalize: means \(normalised.mean.map { fmt($0, 3) }), stds \(normalised.std.map { fmt($0, 3) })")
check(normalised.mean.allSatisfy { abs($0) < 1e-3 } && normalised.std.allSatisfy { abs($0 - 1) < 1e-3 },
      "after Normalize every channel has mean 0 and standard deviation 1")

// MARK: Augmentation

let trainTransform = Compose([
    ToTensor(),
    RandomCrop(size: side, padding: 2),                    // shift by up to 2 pixels, zeros coming in
    RandomHorizontalFlip(),
    Normalize(mean: mean, std: std),
    AddGaussianNoise(std: 0.05),
])
// Two worker threads prepare the batches (num_workers=2); the results do not depend on their number.
let trainLoader = DataLoader(RawImages(pixels: raw, labels: labels, transform: trainTransform), batchSize: 16, shuffle: true, seed: 7,
                             numWorkers: 2)
let firstEpoch = trainLoader.map { $0 }, secondEpoch = trainLoader.map { $0 }
print("batch inputs \(firstEpoch[0].inputs.shape), labels \(firstEpoch[0].labels)")
check(firstEpoch.count == 4 && firstEpoch.allSatisfy { $0.inputs.shape == [16, 3, side, side] },
      "4 batches of (16, 3, \(side), \(side)) per epoch")
check(firstEpoch[0].inputs.scalars != secondEpoch[0].inputs.scalars, "each epoch draws new augmentations (and a new order)")
let again = DataLoader(RawImages(pixels: raw, labels: labels, transform: trainTransform), batchSize: 16, shuffle: true, seed: 7).map { $0 }
check(again[0].inputs.scalars == firstEpoch[0].inputs.scalars, "the same seed gives the same batches again, without workers")

// What the transforms do, one at a time, on one image.
let image = evaluationTransform(raw[0], generator: &generator)                   // (3, H, W)
let flipped = RandomHorizontalFlip(p: 1)(image, generator: &generator)
check(flipped.transposed(0, 2)[0].scalars == image.transposed(0, 2)[side - 1].scalars,
      "a horizontal flip puts the last column first")
check(RandomHorizontalFlip(p: 1)(flipped, generator: &generator).scalars == image.scalars, "flipping twice restores the image")
let cropped = RandomCrop(size: 10)(image, generator: &generator)                // a random 10×10 window
let windows = (0...side - 10).flatMap { top in (0...side - 10).map { left in
    image[.all, top..<top + 10, left..<left + 10]                                 // image[:, top:top+10, left:left+10]
} }
check(cropped.shape == [3, 10, 10] && windows.filter { $0.scalars == cropped.scalars }.count == 1,
      "RandomCrop(size: 10) cuts one 10×10 window of the image")
