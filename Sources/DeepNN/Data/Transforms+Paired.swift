import DeepCore

// Paired transforms for segmentation: one geometric draw applied to an image (…, C, H, W) and its
// mask (…, H, W) of class indices, the mask always by nearest interpolation and with its own fill
// (`maskFill`, e.g. 0 for background or an ignore index) where the image is padded or rotated in.
// Colour transforms touch the image only (``ImageOnly``).

/// A transform of an image and its segmentation mask, drawing any randomness once from `generator`.
public protocol PairedTransform {
    /// Transforms `image` (…, C, H, W) and `mask` (…, H, W) with the same geometry.
    func callAsFunction(image: Tensor, mask: Tensor, generator: inout RandomGenerator) -> (image: Tensor, mask: Tensor)
}

/// Applies paired transforms in order.
public struct PairedCompose: PairedTransform {
    let transforms: [PairedTransform]
    /// Creates the composition.
    public init(_ transforms: [PairedTransform]) { self.transforms = transforms }
    public func callAsFunction(image: Tensor, mask: Tensor, generator: inout RandomGenerator) -> (image: Tensor, mask: Tensor) {
        transforms.reduce((image: image, mask: mask)) { $1(image: $0.image, mask: $0.mask, generator: &generator) }
    }
}

/// Applies an image transform (colour, normalisation) to the image and leaves the mask alone.
public struct ImageOnly: PairedTransform {
    let transform: Transform
    /// Creates the transform.
    public init(_ transform: Transform) { self.transform = transform }
    public func callAsFunction(image: Tensor, mask: Tensor, generator: inout RandomGenerator) -> (image: Tensor, mask: Tensor) {
        (transform(image, generator: &generator), mask)
    }
}

/// Resizes image and mask to the same size, the mask by nearest interpolation (``Resize``).
public struct PairedResize: PairedTransform {
    let resize: Resize
    /// Creates the transform from the image's resize.
    public init(_ resize: Resize) { self.resize = resize }
    public func callAsFunction(image: Tensor, mask: Tensor, generator: inout RandomGenerator) -> (image: Tensor, mask: Tensor) {
        let image = resize(image, generator: &generator)
        return (image, DeepCore.resize(mask, size: [image.imageSize.height, image.imageSize.width], interpolation: .nearest))
    }
}

/// One random window of image and mask resized to `size` (``RandomResizedCrop``; the mask by
/// nearest interpolation).
public struct PairedRandomResizedCrop: PairedTransform {
    let crop: RandomResizedCrop
    /// Creates the transform from the image's crop.
    public init(_ crop: RandomResizedCrop) { self.crop = crop }
    public func callAsFunction(image: Tensor, mask: Tensor, generator: inout RandomGenerator) -> (image: Tensor, mask: Tensor) {
        let (h, w) = image.imageSize
        let win = crop.window(height: h, width: w, generator: &generator)
        return (image.resizedCrop(top: win.top, left: win.left, height: win.height, width: win.width, size: crop.size,
                                  interpolation: crop.interpolation, antialias: crop.antialias, pixels: crop.pixels),
                mask.resizedCrop(top: win.top, left: win.left, height: win.height, width: win.width, size: crop.size,
                                 interpolation: .nearest))
    }
}

/// One random window of image and mask, zero-padded (the mask with `maskFill`) (``RandomCrop``).
public struct PairedRandomCrop: PairedTransform {
    let crop: RandomCrop, maskFill: Float
    /// Creates the transform from the image's crop; the mask's padding is `maskFill`.
    public init(_ crop: RandomCrop, maskFill: Float = 0) { (self.crop, self.maskFill) = (crop, maskFill) }
    public func callAsFunction(image: Tensor, mask: Tensor, generator: inout RandomGenerator) -> (image: Tensor, mask: Tensor) {
        let (h, w) = image.imageSize
        let (top, left) = crop.corner(height: h, width: w, generator: &generator)
        let (ch, cw) = crop.size
        return (image.cropped(top: top, left: left, height: ch, width: cw),
                mask.cropped(top: top, left: left, height: ch, width: cw, fill: maskFill))
    }
}

/// Flips image and mask together with probability `p`: left–right, or top–bottom with `vertical`
/// (``RandomHorizontalFlip``, ``RandomVerticalFlip``).
public struct PairedRandomFlip: PairedTransform {
    let p: Float, vertical: Bool
    /// Creates the transform.
    public init(p: Float = 0.5, vertical: Bool = false) { (self.p, self.vertical) = (p, vertical) }
    public func callAsFunction(image: Tensor, mask: Tensor, generator: inout RandomGenerator) -> (image: Tensor, mask: Tensor) {
        guard generator.nextUniform() < p else { return (image, mask) }
        return (image.flippedImage(vertical: vertical), mask.flippedImage(vertical: vertical))
    }
}

/// Rotates image and mask by one random angle (``RandomRotation``; the mask by nearest
/// interpolation, filled with `maskFill`).
public struct PairedRandomRotation: PairedTransform {
    let rotation: RandomRotation, maskFill: Float
    /// Creates the transform from the image's rotation.
    public init(_ rotation: RandomRotation, maskFill: Float = 0) { (self.rotation, self.maskFill) = (rotation, maskFill) }
    public func callAsFunction(image: Tensor, mask: Tensor, generator: inout RandomGenerator) -> (image: Tensor, mask: Tensor) {
        let angle = rotation.angle(generator: &generator)
        return (rotation.rotate(image, by: angle), rotation.rotate(mask, by: angle, interpolation: .nearest, fill: maskFill))
    }
}
