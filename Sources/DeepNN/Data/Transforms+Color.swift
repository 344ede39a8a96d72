import DeepCore

// torchvision's colour transforms (`transforms.v2`) on images (…, C, H, W), C = 1 or 3, with the
// same numbers: Grayscale, RandomGrayscale, ColorJitter and the adjustments it draws
// (brightness, contrast, saturation, hue through torchvision's `_rgb_to_hsv`/`_hsv_to_rgb`). On
// `.uint8` images the results are truncated to whole numbers as torchvision's `.to(uint8)` does.

extension Tensor {
    /// Channels and the number of images (…, C, H, W) holds.
    private func colorLayout(_ op: String) -> (channels: Int, images: Int, plane: Int) {
        require(rank >= 3 && (shape[rank - 3] == 1 || shape[rank - 3] == 3),
                "\(op): images of shape \(shape) should be (…, C, H, W) with 1 or 3 channels")
        let (c, plane) = (shape[rank - 3], shape[rank - 2] * shape[rank - 1])
        return (c, count / Swift.max(1, c * plane), plane)
    }

    /// Calls `body(src, dst, image)` for each image's C·H·W values, into a tensor of `channels`
    /// output channels.
    private func mapImages(_ op: String, channels out: Int? = nil,
                           _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, _ channels: Int, _ plane: Int) -> Void) -> Tensor {
        let (c, images, plane) = colorLayout(op)
        let outC = out ?? c
        var outShape = shape
        outShape[rank - 3] = outC
        return withUnsafeBufferPointer { src in
            Tensor.make(shape: outShape) { dst in
                for i in 0..<images {
                    body(src.baseAddress! + i * c * plane, dst.baseAddress! + i * outC * plane, c, plane)
                }
            }
        }
    }

    /// Luma 0.2989·R + 0.587·G + 0.114·B of pixel `j` (floored for bytes, as torchvision does
    /// before blending), the channel itself for one channel.
    @inline(__always)
    private static func luma(_ s: UnsafePointer<Float>, _ j: Int, channels: Int, plane: Int) -> Float {
        channels == 1 ? s[j] : s[j] * 0.2989 + s[plane + j] * 0.587 + s[2 * plane + j] * 0.114
    }

    /// A finished value: clamped to 0…max and, for bytes, truncated.
    @inline(__always)
    private static func finish(_ v: Float, _ pixels: PixelValues) -> Float {
        let c = Swift.min(Swift.max(v, 0), pixels.maxValue)
        return pixels == .uint8 ? c.rounded(.towardZero) : c
    }

    /// Images (…, 3, H, W) as gray (torchvision's `rgb_to_grayscale`: 0.2989·R + 0.587·G + 0.114·B),
    /// repeated to `outputChannels` (1 or 3); one-channel images are repeated as they are.
    public func grayscaled(outputChannels: Int = 1, pixels: PixelValues = .float) -> Tensor {
        require(outputChannels == 1 || outputChannels == 3, "grayscale: outputChannels \(outputChannels) should be 1 or 3")
        return mapImages("grayscale", channels: outputChannels) { s, d, c, plane in
            for j in 0..<plane {
                var v = Self.luma(s, j, channels: c, plane: plane)
                if pixels == .uint8 && c == 3 { v = v.rounded(.towardZero) }
                for k in 0..<outputChannels { d[k * plane + j] = v }
            }
        }
    }

    /// x·factor clamped to the value range (torchvision's `adjust_brightness`).
    public func brightnessAdjusted(by factor: Float, pixels: PixelValues = .float) -> Tensor {
        require(factor >= 0, "adjustBrightness: factor \(factor) is negative")
        return mapImages("adjustBrightness") { s, d, c, plane in
            for j in 0..<(c * plane) { d[j] = Self.finish(s[j] * factor, pixels) }
        }
    }

    /// Each image blended with the mean of its gray image (torchvision's `adjust_contrast`):
    /// factor·x + (1 − factor)·mean.
    public func contrastAdjusted(by factor: Float, pixels: PixelValues = .float) -> Tensor {
        require(factor >= 0, "adjustContrast: factor \(factor) is negative")
        return mapImages("adjustContrast") { s, d, c, plane in
            var sum: Float = 0
            for j in 0..<plane {
                let l = Self.luma(s, j, channels: c, plane: plane)
                sum += pixels == .uint8 && c == 3 ? l.rounded(.down) : l
            }
            let mean = sum / Float(plane)
            for j in 0..<(c * plane) { d[j] = Self.finish(s[j] * factor + mean * (1 - factor), pixels) }
        }
    }

    /// Each pixel blended with its gray value (torchvision's `adjust_saturation`): factor·x +
    /// (1 − factor)·gray; one-channel images are returned as they are.
    public func saturationAdjusted(by factor: Float, pixels: PixelValues = .float) -> Tensor {
        require(factor >= 0, "adjustSaturation: factor \(factor) is negative")
        return mapImages("adjustSaturation") { s, d, c, plane in
            for j in 0..<plane {
                var l = Self.luma(s, j, channels: c, plane: plane)
                if pixels == .uint8 { l = l.rounded(.down) }
                for k in 0..<c { d[k * plane + j] = c == 1 ? s[j] : Self.finish(s[k * plane + j] * factor + l * (1 - factor), pixels) }
            }
        }
    }

    /// The hue of each pixel shifted by `factor` turns, in −½…½ (torchvision's `adjust_hue`, through
    /// its HSV conversions); one-channel images are returned as they are.
    public func hueAdjusted(by factor: Float, pixels: PixelValues = .float) -> Tensor {
        require(factor >= -0.5 && factor <= 0.5, "adjustHue: factor \(factor) is not in -0.5...0.5")
        return mapImages("adjustHue") { s, d, c, plane in
            guard c == 3 else { d.update(from: s, count: plane); return }
            let scale: Float = pixels == .uint8 ? 1 / 255 : 1
            for j in 0..<plane {
                var (h, sat, v) = HSV.fromRGB(s[j] * scale, s[plane + j] * scale, s[2 * plane + j] * scale)
                h += factor
                h -= h.rounded(.down)
                let (r, g, b) = HSV.toRGB(h, sat, v)
                for (k, value) in [r, g, b].enumerated() {
                    d[k * plane + j] = pixels == .uint8 ? (value * (255 + 1 - 1e-3)).rounded(.towardZero) : value
                }
            }
        }
    }
}

/// torchvision's RGB ↔ HSV conversions on tensors, per pixel (values 0…1).
enum HSV {
    /// torchvision's `_rgb_to_hsv` (after Pillow): hue in [0, 1), 0 for grays.
    static func fromRGB(_ r: Float, _ g: Float, _ b: Float) -> (Float, Float, Float) {
        let maxc = max(r, g, b), minc = min(r, g, b), equal = maxc == minc
        let range = maxc - minc
        let s = range / (equal ? 1 : maxc)
        let divisor = equal ? 1 : range
        let (rc, gc, bc) = ((maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor)
        var h: Float
        if maxc == r { h = bc - gc } else if maxc == g { h = rc + 2 - bc } else { h = gc + 4 - rc }
        h = h * (1.0 / 6.0) + 1
        h = h.truncatingRemainder(dividingBy: 1)
        return (h, s, maxc)
    }

    /// torchvision's `_hsv_to_rgb`.
    static func toRGB(_ h: Float, _ s: Float, _ v: Float) -> (Float, Float, Float) {
        let h6 = h * 6, i0 = h6.rounded(.down), f = h6 - i0
        let i = ((Int(i0) % 6) + 6) % 6
        let sxf = s * f, oneMinusS = 1 - s
        let q = min(max((1 - sxf) * v, 0), 1), t = min(max((sxf + oneMinusS) * v, 0), 1), p = min(max(oneMinusS * v, 0), 1)
        switch i {
        case 0: return (v, t, p)
        case 1: return (q, v, p)
        case 2: return (p, v, t)
        case 3: return (p, q, v)
        case 4: return (t, p, v)
        default: return (v, p, q)
        }
    }
}

/// Converts RGB images (…, 3, H, W) to gray (`transforms.v2.Grayscale`).
public struct Grayscale: Transform {
    let outputChannels: Int, pixels: PixelValues
    /// Creates the transform; `numOutputChannels` 1 or 3.
    public init(numOutputChannels: Int = 1, pixels: PixelValues = .float) {
        require(numOutputChannels == 1 || numOutputChannels == 3, "Grayscale: numOutputChannels \(numOutputChannels) should be 1 or 3")
        (outputChannels, self.pixels) = (numOutputChannels, pixels)
    }
    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        x.grayscaled(outputChannels: outputChannels, pixels: pixels)
    }
}

/// Converts images to gray with probability `p`, keeping their channel count
/// (`transforms.v2.RandomGrayscale`).
public struct RandomGrayscale: Transform {
    let p: Float, pixels: PixelValues
    /// Creates the transform.
    public init(p: Float = 0.1, pixels: PixelValues = .float) { (self.p, self.pixels) = (p, pixels) }
    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        guard generator.nextUniform() < p else { return x }
        return x.grayscaled(outputChannels: x.shape[x.rank - 3], pixels: pixels)
    }
}

/// Random brightness, contrast, saturation and hue, applied in a random order
/// (`transforms.v2.ColorJitter`).
///
///     ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1)
public struct ColorJitter: Transform {
    let brightness: ClosedRange<Float>?, contrast: ClosedRange<Float>?, saturation: ClosedRange<Float>?, hue: ClosedRange<Float>?
    let pixels: PixelValues

    /// Creates the transform: factors drawn uniformly from [max(0, 1 − b), 1 + b] for brightness,
    /// contrast and saturation, and from [−h, h] for hue (h ≤ ½); 0 leaves that adjustment out.
    public init(brightness: Float = 0, contrast: Float = 0, saturation: Float = 0, hue: Float = 0, pixels: PixelValues = .float) {
        require([brightness, contrast, saturation].allSatisfy { $0 >= 0 } && hue >= 0 && hue <= 0.5,
                "ColorJitter: brightness \(brightness), contrast \(contrast), saturation \(saturation) should be ≥ 0 and hue \(hue) in 0...0.5")
        func range(_ v: Float) -> ClosedRange<Float>? { v == 0 ? nil : Swift.max(0, 1 - v)...(1 + v) }
        (self.brightness, self.contrast, self.saturation) = (range(brightness), range(contrast), range(saturation))
        self.hue = hue == 0 ? nil : -hue...hue
        self.pixels = pixels
    }

    /// The order (a permutation of 0 brightness, 1 contrast, 2 saturation, 3 hue) and the factors
    /// (nil when left out), drawn as torchvision's `make_params` does.
    public func parameters(generator: inout RandomGenerator) -> (order: [Int], factors: [Float?]) {
        let order = Array(0..<4).shuffled(using: &generator)
        let factors = [brightness, contrast, saturation, hue].map { r in
            r.map { $0.lowerBound + ($0.upperBound - $0.lowerBound) * generator.nextUniform() }
        }
        return (order, factors)
    }

    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        let (order, factors) = parameters(generator: &generator)
        return order.reduce(x) { y, k in
            guard let f = factors[k] else { return y }
            switch k {
            case 0: return y.brightnessAdjusted(by: f, pixels: pixels)
            case 1: return y.contrastAdjusted(by: f, pixels: pixels)
            case 2: return y.saturationAdjusted(by: f, pixels: pixels)
            default: return y.hueAdjusted(by: f, pixels: pixels)
            }
        }
    }
}
