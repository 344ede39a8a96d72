import DeepCore
import Foundation

/// A decoded picture: `height` rows of `width` pixels of `channels` samples each, interleaved
/// (HWC, as a PIL image or a numpy array holds it). Channels: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
/// Samples are 8-bit, or 16-bit for 16-bit PNGs.
///
///     let image = try Image(contentsOf: url)            // PNG or JPEG, by its magic bytes
///     let x = image.tensor()                            // (C, H, W) in [0, 1], as ToTensor
///     try Image(tensor: x).write(to: out, format: .png)
public struct Image: Equatable, Sendable {
    /// The samples of an image in HWC order.
    public enum Samples: Equatable, Sendable {
        /// 8-bit samples, 0…255.
        case uint8([UInt8])
        /// 16-bit samples, 0…65535.
        case uint16([UInt16])

        /// The number of samples.
        public var count: Int {
            switch self {
            case .uint8(let values): return values.count
            case .uint16(let values): return values.count
            }
        }
    }

    /// The most pixels a decoded file may have (2^28): larger headers are refused before any
    /// allocation.
    public static let maxPixelCount = 1 << 28

    /// Pixels per row.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Samples per pixel: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    public let channels: Int
    /// `height * width * channels` samples, HWC.
    public let samples: Samples

    /// Bits per sample: 8 or 16.
    public var bitDepth: Int {
        if case .uint16 = samples { return 16 }
        return 8
    }

    /// An image of the given samples (HWC); `samples.count` must be `height * width * channels`
    /// and `channels` 1…4.
    public init(width: Int, height: Int, channels: Int, samples: Samples) {
        require((1...4).contains(channels), "Image: \(channels) channels (expected 1 gray, 2 gray+alpha, 3 RGB or 4 RGBA)")
        require(width >= 0 && height >= 0, "Image: negative size \(width) x \(height)")
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        let (count, overflow2) = pixels.multipliedReportingOverflow(by: channels)
        require(!overflow && !overflow2 && count == samples.count,
                "Image: \(samples.count) samples for \(width) x \(height) pixels of \(channels) channels")
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }

    /// The image as a (C, H, W) tensor: `scaled` (the default) divides by the largest sample value
    /// (255, or 65535 for 16-bit), as torchvision's `ToImage()` + `ToDtype(torch.float32,
    /// scale=True)` does (`x.float() * (1 / 255)`; the older `ToTensor` divides instead, which
    /// differs by at most one unit in the last place); unscaled gives the raw values 0…255
    /// (torchvision's uint8 tensor, as Float).
    public func tensor(scaled: Bool = true) -> Tensor {
        let planeSize = width * height
        var values = [Float](repeating: 0, count: planeSize * channels)
        values.withUnsafeMutableBufferPointer { out in
            switch samples {
            case .uint8(let source):
                source.withUnsafeBufferPointer { Image.planar(from: $0, to: out, channels: channels, scale: scaled ? 1 / 255 : 1) }
            case .uint16(let source):
                source.withUnsafeBufferPointer { Image.planar(from: $0, to: out, channels: channels, scale: scaled ? 1 / 65535 : 1) }
            }
        }
        return Tensor(values, shape: [channels, height, width])
    }

    /// Copies interleaved samples (HWC) to planes (CHW), times `scale`.
    private static func planar<T: BinaryInteger>(from source: UnsafeBufferPointer<T>, to out: UnsafeMutableBufferPointer<Float>,
                                                 channels: Int, scale: Float) {
        let planeSize = source.count / channels
        for c in 0..<channels {
            let plane = out.baseAddress! + c * planeSize
            var i = c
            for p in 0..<planeSize {
                plane[p] = Float(source[i]) * scale
                i += channels
            }
        }
    }

    /// An 8-bit image from a (C, H, W) tensor of values in [0, 1], as torchvision's `ToPILImage`
    /// converts one: `x.mul(255).byte()`, i.e. truncated towards zero (values outside [0, 1] are
    /// clamped first, NaN becomes 0; torchvision wraps them around instead).
    public init(tensor: Tensor) {
        require(tensor.shape.count == 3 && (1...4).contains(tensor.shape[0]),
                "Image(tensor:): shape \(tensor.shape), expected (C, H, W) with C 1…4")
        let channels = tensor.shape[0], height = tensor.shape[1], width = tensor.shape[2]
        let planeSize = height * width
        var bytes = [UInt8](repeating: 0, count: planeSize * channels)
        tensor.withUnsafeBufferPointer { values in
            bytes.withUnsafeMutableBufferPointer { out in
                for c in 0..<channels {
                    var i = c
                    for p in 0..<planeSize {
                        let v = values[c * planeSize + p] * 255
                        out[i] = v >= 255 ? 255 : (v > 0 ? UInt8(v) : 0)
                        i += channels
                    }
                }
            }
        }
        self.init(width: width, height: height, channels: channels, samples: .uint8(bytes))
    }

    /// The image with 3 channels (RGB), as PIL's `convert("RGB")` (torchvision's ImageFolder
    /// loader): gray is repeated, alpha dropped; 16-bit samples become 8-bit (v / 257, rounded).
    public func convertedToRGB() -> Image {
        let eightBit: [UInt8]
        switch samples {
        case .uint8(let values): eightBit = values
        case .uint16(let values): eightBit = values.map { UInt8((UInt32($0) + 128) / 257) }
        }
        if channels == 3 { return Image(width: width, height: height, channels: 3, samples: .uint8(eightBit)) }
        let pixels = width * height
        var rgb = [UInt8](repeating: 0, count: pixels * 3)
        let colour = channels >= 3
        eightBit.withUnsafeBufferPointer { source in
            rgb.withUnsafeMutableBufferPointer { out in
                for p in 0..<pixels {
                    let s = p * channels
                    out[3 * p] = source[s]
                    out[3 * p + 1] = colour ? source[s + 1] : source[s]
                    out[3 * p + 2] = colour ? source[s + 2] : source[s]
                }
            }
        }
        return Image(width: width, height: height, channels: 3, samples: .uint8(rgb))
    }
}

/// An image file that could not be read or written: the file and what was wrong with it.
public struct ImageFileError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The file (`<in-memory data>` for bytes held in memory).
    public let path: String
    /// What was wrong.
    public let reason: String

    /// Creates the error.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
    public var errorDescription: String? { description }

    /// The name given to bytes that come from memory, not from a file.
    public static let inMemory = "<in-memory data>"
}
