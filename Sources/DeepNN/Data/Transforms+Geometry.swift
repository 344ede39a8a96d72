import DeepCore
import Foundation

// torchvision's geometric transforms (`transforms.v2`) on images (…, C, H, W) with the same
// numbers: Resize, CenterCrop, Pad, RandomVerticalFlip, RandomResizedCrop, and ToDtype. The
// deterministic parts are Tensor methods (`cropped`, `padded`, `resizedCrop`), the random
// transforms draw from the loader's generator.

/// How ``Tensor/padded(left:top:right:bottom:fill:mode:)`` fills the border (torchvision's
/// `padding_mode`).
public enum PaddingMode: Sendable {
    /// The constant `fill`.
    case constant
    /// The edge pixel repeated (`"edge"`).
    case edge
    /// Mirrored without repeating the edge pixel: 2 1 | 0 1 2 (`"reflect"`).
    case reflect
    /// Mirrored with the edge pixel repeated: 1 0 | 0 1 2 (`"symmetric"`).
    case symmetric

    /// The source index of padded position `i` (may be out of 0..<n: `-1` reads `fill`) on an
    /// axis of length `n`.
    func source(_ i: Int, length n: Int) -> Int {
        if i >= 0 && i < n { return i }
        switch self {
        case .constant: return -1
        case .edge: return i < 0 ? 0 : n - 1
        case .reflect: return i < 0 ? -i : 2 * (n - 1) - i
        case .symmetric: return i < 0 ? -i - 1 : 2 * n - 1 - i
        }
    }
}

extension Tensor {
    /// Image height and width: the last two sizes.
    var imageSize: (height: Int, width: Int) { (shape[rank - 2], shape[rank - 1]) }

    /// y[…, i, j] = x[…, rows[i], columns[j]], or `fill` where either index is −1: every crop, pad
    /// and flip here is one such remapping of (…, H, W).
    func remappingPixels(rows: [Int], columns: [Int], fill: Float) -> Tensor {
        let (h, w) = imageSize
        let planes = count / Swift.max(1, h * w)
        let (outH, outW) = (rows.count, columns.count)
        return withUnsafeBufferPointer { src in
            Tensor.make(shape: Array(shape.dropLast(2)) + [outH, outW]) { dst in
                for p in 0..<planes {
                    let plane = p * h * w
                    for i in 0..<outH {
                        let out = (p * outH + i) * outW, r = rows[i]
                        for j in 0..<outW {
                            let c = columns[j]
                            dst[out + j] = r < 0 || c < 0 ? fill : src[plane + r * w + c]
                        }
                    }
                }
            }
        }
    }

    /// The window of `height` × `width` pixels at (`top`, `left`) of images (…, H, W) (torchvision's
    /// `crop`): parts of the window outside the image are 0.
    ///
    ///     image.cropped(top: 2, left: 3, height: 8, width: 8)   // (3, 13, 17) → (3, 8, 8)
    public func cropped(top: Int, left: Int, height: Int, width: Int) -> Tensor {
        cropped(top: top, left: left, height: height, width: width, fill: 0)
    }

    /// The window, with `fill` outside the image.
    func cropped(top: Int, left: Int, height: Int, width: Int, fill: Float) -> Tensor {
        require(rank >= 2 && height > 0 && width > 0, "crop: window \(height)×\(width) of images of shape \(shape)")
        let (h, w) = imageSize
        return remappingPixels(rows: (top..<(top + height)).map { $0 >= 0 && $0 < h ? $0 : -1 },
                               columns: (left..<(left + width)).map { $0 >= 0 && $0 < w ? $0 : -1 }, fill: fill)
    }

    /// Images (…, H, W) padded by `left`, `top`, `right`, `bottom` pixels (torchvision's `pad`; a
    /// negative amount crops in `.constant` mode).
    /// - Parameters:
    ///   - fill: the value of the border in `.constant` mode.
    ///   - mode: see ``PaddingMode``; `.reflect` needs each amount below the side's length and
    ///     `.symmetric` at most that length.
    /// - Returns: (…, H + top + bottom, W + left + right).
    public func padded(left: Int, top: Int, right: Int, bottom: Int, fill: Float = 0, mode: PaddingMode = .constant) -> Tensor {
        require(rank >= 2, "pad: images of shape \(shape) should be (…, H, W)")
        let (h, w) = imageSize
        let limit = mode == .reflect ? 1 : 0
        require(mode == .constant || [top, bottom].allSatisfy { $0 >= 0 && $0 <= h - limit } && [left, right].allSatisfy { $0 >= 0 && $0 <= w - limit },
                "pad: padding (left \(left), top \(top), right \(right), bottom \(bottom)) in mode \(mode) for images of shape \(shape)")
        let (outH, outW) = (h + top + bottom, w + left + right)
        require(outH > 0 && outW > 0, "pad: padding (left \(left), top \(top), right \(right), bottom \(bottom)) leaves nothing of images of shape \(shape)")
        return remappingPixels(rows: (0..<outH).map { mode.source($0 - top, length: h) },
                               columns: (0..<outW).map { mode.source($0 - left, length: w) }, fill: fill)
    }

    /// Images (…, H, W) mirrored top–bottom (`vertical`) or left–right.
    func flippedImage(vertical: Bool) -> Tensor {
        let (h, w) = imageSize
        return remappingPixels(rows: vertical ? Array((0..<h).reversed()) : Array(0..<h),
                               columns: vertical ? Array(0..<w) : Array((0..<w).reversed()), fill: 0)
    }

    /// The window (`top`, `left`, `height`, `width`) of images (…, H, W) resized to `size`
    /// (torchvision's `resized_crop`, RandomResizedCrop's deterministic part).
    public func resizedCrop(top: Int, left: Int, height: Int, width: Int, size: (Int, Int),
                            interpolation: ResizeInterpolation = .bilinear, antialias: Bool = true,
                            pixels: PixelValues = .float) -> Tensor {
        resize(cropped(top: top, left: left, height: height, width: width), size: [size.0, size.1],
               interpolation: interpolation, antialias: antialias, pixels: pixels)
    }
}

/// Python's `round`: to the nearest integer, ties to even.
@inline(__always)
func pythonRound(_ x: Double) -> Int { Int(x.rounded(.toNearestOrEven)) }

/// Resizes images (…, C, H, W) (`transforms.v2.Resize`).
///
///     Resize(256)                               // shorter side 256, aspect ratio kept
///     Resize((224, 224), interpolation: .bicubic)
public struct Resize: Transform {
    let size: [Int], maxSize: Int?, interpolation: ResizeInterpolation, antialias: Bool, pixels: PixelValues

    /// Resizes the shorter side to `size`, the longer one to ⌊size·long/short⌋; with `maxSize`,
    /// the longer side is at most that (the shorter shrunk to ⌊maxSize·short/long⌋).
    /// - Parameters: see ``resize(_:size:interpolation:antialias:pixels:)``.
    public init(_ size: Int, interpolation: ResizeInterpolation = .bilinear, maxSize: Int? = nil, antialias: Bool = true,
                pixels: PixelValues = .float) {
        require(size > 0 && (maxSize.map { $0 > size } ?? true), "Resize: size \(size) should be positive and below maxSize \(String(describing: maxSize))")
        self.size = [size]
        (self.maxSize, self.interpolation, self.antialias, self.pixels) = (maxSize, interpolation, antialias, pixels)
    }

    /// Resizes to (height, width).
    public init(_ size: (Int, Int), interpolation: ResizeInterpolation = .bilinear, antialias: Bool = true,
                pixels: PixelValues = .float) {
        require(size.0 > 0 && size.1 > 0, "Resize: size \(size) should be positive")
        self.size = [size.0, size.1]
        (self.maxSize, self.interpolation, self.antialias, self.pixels) = (nil, interpolation, antialias, pixels)
    }

    /// Resizes the longer side to `maxSize`, the shorter to ⌊maxSize·short/long⌋ (torchvision's
    /// `Resize(size=None, max_size=maxSize)`).
    public init(maxSize: Int, interpolation: ResizeInterpolation = .bilinear, antialias: Bool = true, pixels: PixelValues = .float) {
        require(maxSize > 0, "Resize: maxSize \(maxSize) should be positive")
        self.size = []
        (self.maxSize, self.interpolation, self.antialias, self.pixels) = (maxSize, interpolation, antialias, pixels)
    }

    /// The output (height, width) for an input of `height` × `width` (torchvision's
    /// `_compute_resized_output_size`).
    public func outputSize(height: Int, width: Int) -> (Int, Int) {
        if size.count == 2 { return (size[0], size[1]) }
        let (short, long) = width <= height ? (width, height) : (height, width)
        if size.isEmpty, let maxSize {
            let newShort = Int(Double(maxSize) * Double(short) / Double(long))
            return width <= height ? (maxSize, newShort) : (newShort, maxSize)
        }
        var (newShort, newLong) = (size[0], Int(Double(size[0]) * Double(long) / Double(short)))
        if let maxSize, newLong > maxSize {
            (newShort, newLong) = (Int(Double(maxSize) * Double(newShort) / Double(newLong)), maxSize)
        }
        return width <= height ? (newLong, newShort) : (newShort, newLong)
    }

    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        let (h, w) = outputSize(height: x.imageSize.height, width: x.imageSize.width)
        return resize(x, size: [h, w], interpolation: interpolation, antialias: antialias, pixels: pixels)
    }
}

/// Cuts the central `size` window of images (…, H, W), padding with 0 where the window is larger
/// (`transforms.v2.CenterCrop`; the top-left corner is round((H − h)/2), ties to even).
public struct CenterCrop: Transform {
    let size: (Int, Int)
    /// Creates the transform with a square window.
    public init(_ size: Int) { self.init((size, size)) }
    /// Creates the transform with a (height, width) window.
    public init(_ size: (Int, Int)) {
        require(size.0 > 0 && size.1 > 0, "CenterCrop: size \(size) should be positive")
        self.size = size
    }

    /// The corner along one axis: inside the image as torchvision's anchor, or the negated left
    /// padding when the window is larger.
    static func start(image: Int, window: Int) -> Int {
        window > image ? -((window - image) / 2) : pythonRound(Double(image - window) / 2)
    }

    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        let (h, w) = x.imageSize
        return x.cropped(top: Self.start(image: h, window: size.0), left: Self.start(image: w, window: size.1),
                         height: size.0, width: size.1)
    }
}

/// Pads images (…, H, W) on each side (`transforms.v2.Pad`).
public struct Pad: Transform {
    let left: Int, top: Int, right: Int, bottom: Int, fill: Float, mode: PaddingMode
    /// Pads every side by `padding`.
    public init(_ padding: Int, fill: Float = 0, mode: PaddingMode = .constant) {
        self.init(left: padding, top: padding, right: padding, bottom: padding, fill: fill, mode: mode)
    }
    /// Pads left and right by `horizontal`, top and bottom by `vertical` (torchvision's 2-element padding).
    public init(horizontal: Int, vertical: Int, fill: Float = 0, mode: PaddingMode = .constant) {
        self.init(left: horizontal, top: vertical, right: horizontal, bottom: vertical, fill: fill, mode: mode)
    }
    /// Pads each side by its own amount (torchvision's 4-element padding, left, top, right, bottom).
    public init(left: Int, top: Int, right: Int, bottom: Int, fill: Float = 0, mode: PaddingMode = .constant) {
        (self.left, self.top, self.right, self.bottom, self.fill, self.mode) = (left, top, right, bottom, fill, mode)
    }
    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        x.padded(left: left, top: top, right: right, bottom: bottom, fill: fill, mode: mode)
    }
}

/// Flips images (…, H, W) top–bottom with probability `p` (`transforms.v2.RandomVerticalFlip`).
public struct RandomVerticalFlip: Transform {
    let p: Float
    /// Creates the transform.
    public init(p: Float = 0.5) { self.p = p }
    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        generator.nextUniform() < p ? x.flippedImage(vertical: true) : x
    }
}

/// Converts between torchvision's pixel types (`transforms.v2.ToDtype`). Values stay Floats here;
/// the conversion is what torchvision does to them.
public struct ToDtype: Transform {
    let target: PixelValues, scale: Bool
    /// Creates the transform.
    /// - Parameters:
    ///   - target: `.float` (from 0…255 bytes) or `.uint8` (from floats).
    ///   - scale: rescale the values: bytes → x/255; floats → ⌊x·(256 − 10⁻³)⌋ (torchvision's
    ///     `x.mul(255 + 1 − eps).to(uint8)`). Without it, `.uint8` truncates toward zero (clamped to
    ///     0…255) and `.float` keeps the values.
    public init(_ target: PixelValues, scale: Bool = false) { (self.target, self.scale) = (target, scale) }
    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        switch target {
        case .float: return scale ? withoutGrad { x * (1 / 255) } : x
        case .uint8:
            let factor: Float = scale ? 255 + 1 - 1e-3 : 1
            return x.withUnsafeBufferPointer { src in
                Tensor.make(shape: x.shape) { dst in
                    for i in src.indices { dst[i] = min(max((src[i] * factor).rounded(.towardZero), 0), 255) }
                }
            }
        }
    }
}

/// A random window of random area and aspect ratio, resized to `size`
/// (`transforms.v2.RandomResizedCrop`).
public struct RandomResizedCrop: Transform {
    let size: (Int, Int), scale: ClosedRange<Double>, ratio: ClosedRange<Double>
    let interpolation: ResizeInterpolation, antialias: Bool, pixels: PixelValues

    /// Creates the transform with a square output.
    public init(_ size: Int, scale: ClosedRange<Double> = 0.08...1, ratio: ClosedRange<Double> = 3.0 / 4...4.0 / 3,
                interpolation: ResizeInterpolation = .bilinear, antialias: Bool = true, pixels: PixelValues = .float) {
        self.init((size, size), scale: scale, ratio: ratio, interpolation: interpolation, antialias: antialias, pixels: pixels)
    }

    /// Creates the transform.
    /// - Parameters:
    ///   - size: output (height, width).
    ///   - scale: the window's area as a fraction of the image's, drawn uniformly.
    ///   - ratio: the window's width/height, drawn log-uniformly.
    public init(_ size: (Int, Int), scale: ClosedRange<Double> = 0.08...1, ratio: ClosedRange<Double> = 3.0 / 4...4.0 / 3,
                interpolation: ResizeInterpolation = .bilinear, antialias: Bool = true, pixels: PixelValues = .float) {
        require(size.0 > 0 && size.1 > 0 && scale.lowerBound >= 0 && ratio.lowerBound > 0,
                "RandomResizedCrop: size \(size), scale \(scale), ratio \(ratio)")
        (self.size, self.scale, self.ratio) = (size, scale, ratio)
        (self.interpolation, self.antialias, self.pixels) = (interpolation, antialias, pixels)
    }

    /// The window (top, left, height, width) for an image of `height` × `width`, as torchvision's
    /// `make_params`: up to 10 draws of area and aspect ratio whose rounded window fits, then the
    /// largest central window whose ratio is within `ratio`.
    public func window(height: Int, width: Int, generator: inout RandomGenerator) -> (top: Int, left: Int, height: Int, width: Int) {
        for _ in 0..<10 {
            let (w, h) = generator.rectangleSides(area: Double(height * width), scale: scale, ratio: ratio)
            if w > 0 && w <= width && h > 0 && h <= height {
                let top = Int.random(in: 0...(height - h), using: &generator)
                let left = Int.random(in: 0...(width - w), using: &generator)
                return (top, left, h, w)
            }
        }
        let inRatio = Double(width) / Double(height)
        var (h, w) = (height, width)
        if inRatio < ratio.lowerBound { h = pythonRound(Double(w) / ratio.lowerBound) }
        else if inRatio > ratio.upperBound { w = pythonRound(Double(h) * ratio.upperBound) }
        return ((height - h) / 2, (width - w) / 2, h, w)
    }

    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        let (h, w) = x.imageSize
        let win = window(height: h, width: w, generator: &generator)
        return x.resizedCrop(top: win.top, left: win.left, height: win.height, width: win.width, size: size,
                             interpolation: interpolation, antialias: antialias, pixels: pixels)
    }
}

extension RandomGenerator {
    /// One draw of torchvision's rectangle sampling (RandomResizedCrop, RandomErasing): an area
    /// `area`·U(`scale`) and an aspect r = exp(U(log `ratio`)), as the rounded sides (√(area·r),
    /// √(area/r)).
    mutating func rectangleSides(area: Double, scale: ClosedRange<Double>, ratio: ClosedRange<Double>) -> (Int, Int) {
        let target = area * (scale.lowerBound + (scale.upperBound - scale.lowerBound) * nextUnitDouble())
        let (low, high) = (log(ratio.lowerBound), log(ratio.upperBound))
        let aspect = exp(low + (high - low) * nextUnitDouble())
        return (pythonRound((target * aspect).squareRoot()), pythonRound((target / aspect).squareRoot()))
    }
}
