import DeepCore

/// A transform of one example's input (C, H, W), drawing any randomness from `generator`.
public protocol Transform {
    /// Transforms `x`.
    func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor
}

/// Applies transforms in order (`transforms.Compose`).
public struct Compose: Transform {
    let transforms: [Transform]
    /// Creates the composition.
    public init(_ transforms: [Transform]) { self.transforms = transforms }
    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        transforms.reduce(x) { $1($0, generator: &generator) }
    }
}

/// Scales raw pixel values 0…255 to 0…1 (`transforms.ToTensor`; datasets here already give
/// (C, H, W)).
public struct ToTensor: Transform {
    /// Creates the transform.
    public init() {}
    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        withoutGrad { x * (1 / 255) }
    }
}

/// (x − mean[c]) / std[c] per channel (`transforms.Normalize`).
public struct Normalize: Transform {
    let mean: [Float], std: [Float]
    /// Creates the transform; one mean and std per channel (or one for all).
    public init(mean: [Float], std: [Float]) {
        require(mean.count == std.count, "Normalize: \(mean.count) means and \(std.count) stds")
        self.mean = mean
        self.std = std
    }
    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        let c = x.shape[0]
        require(mean.count == 1 || mean.count == c, "Normalize: \(mean.count) means for \(c) channels")
        let m = Tensor(mean.count == 1 ? Array(repeating: mean[0], count: c) : mean, shape: [c, 1, 1])
        let s = Tensor(std.count == 1 ? Array(repeating: std[0], count: c) : std, shape: [c, 1, 1])
        return withoutGrad { (x - m) / s }
    }
}

/// Flips images (…, H, W) left–right with probability `p` (`transforms.RandomHorizontalFlip`).
public struct RandomHorizontalFlip: Transform {
    let p: Float
    /// Creates the transform.
    public init(p: Float = 0.5) { self.p = p }
    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        generator.nextUniform() < p ? x.flippedImage(vertical: false) : x
    }
}

/// Pads images (…, H, W) with zeros by `padding` on every side, then cuts a random `size` window
/// (`transforms.RandomCrop(size, padding)`).
public struct RandomCrop: Transform {
    let size: (Int, Int), padding: Int
    /// Creates the transform.
    public init(size: Int, padding: Int = 0) { self.init(size: (size, size), padding: padding) }
    /// Creates the transform with a rectangular window (height, width).
    public init(size: (Int, Int), padding: Int = 0) {
        self.size = size
        self.padding = padding
    }
    /// The window's top-left corner in the unpadded image (negative inside the padding) for an
    /// image of `height` × `width`: one draw.
    func corner(height h: Int, width w: Int, generator: inout RandomGenerator) -> (top: Int, left: Int) {
        let (ph, pw) = (h + 2 * padding, w + 2 * padding)
        require(size.0 <= ph && size.1 <= pw, "RandomCrop: window \(size) larger than padded input (\(ph), \(pw))")
        let top = Int(generator.next() % UInt64(ph - size.0 + 1))
        let left = Int(generator.next() % UInt64(pw - size.1 + 1))
        return (top - padding, left - padding)
    }

    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        let (top, left) = corner(height: x.shape[x.rank - 2], width: x.shape[x.rank - 1], generator: &generator)
        return x.cropped(top: top, left: left, height: size.0, width: size.1)
    }
}
