import DeepCore
import Foundation

/// A picture of segmentation results: one row per image, holding the image (gray), its true
/// mask and the predicted mask side by side, one colour per class (background black, then the
/// ten colours of matplotlib's `tab10`), 2-pixel white gaps between panels and rows.
///
/// The pixels are an HWC `UInt8` RGB buffer (height × width × 3, row-major).
public struct SegmentationSheet {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// RGB bytes, row-major, `width · height · 3`.
    public let pixels: [UInt8]

    /// Colours of classes 0…10 (a class id past the palette wraps around after the background).
    public static let palette: [(UInt8, UInt8, UInt8)] = [
        (0, 0, 0), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
        (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    ]
    /// White space between panels and around the sheet.
    public static let gap = 2

    /// Wraps composed pixels.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        require(pixels.count == width * height * 3, "SegmentationSheet: \(pixels.count) bytes for \(width)×\(height) RGB")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Composes the sheet of `images` (N, C, H, W) with values in 0…1 (the first channel is
    /// shown), their true masks and predicted masks (class ids in (N, H, W) order).
    public init(images: Tensor, truth: [Int], predictions: [Int]) {
        require(images.rank == 4, "SegmentationSheet: images of shape \(images.shape), expected (N, C, H, W)")
        let (n, h, w) = (images.shape[0], images.shape[2], images.shape[3])
        require(truth.count == n * h * w && predictions.count == n * h * w,
                "SegmentationSheet: \(truth.count) true and \(predictions.count) predicted classes for images \(images.shape)")
        let gap = Self.gap
        let width = 3 * w + 4 * gap, height = n * h + (n + 1) * gap
        var out = [UInt8](repeating: 255, count: width * height * 3)
        let gray = images[.all, 0].contiguous().scalars
        func put(_ x: Int, _ y: Int, _ rgb: (UInt8, UInt8, UInt8)) {
            let o = (y * width + x) * 3
            out[o] = rgb.0; out[o + 1] = rgb.1; out[o + 2] = rgb.2
        }
        func colour(_ c: Int) -> (UInt8, UInt8, UInt8) {
            c <= 0 ? Self.palette[0] : Self.palette[1 + (c - 1) % (Self.palette.count - 1)]
        }
        for i in 0..<n {
            let top = gap + i * (h + gap)
            for y in 0..<h {
                for x in 0..<w {
                    let p = (i * h + y) * w + x
                    let v = UInt8(max(0, min(255, (gray[p] * 255).rounded())))
                    put(gap + x, top + y, (v, v, v))
                    put(2 * gap + w + x, top + y, colour(truth[p]))
                    put(3 * gap + 2 * w + x, top + y, colour(predictions[p]))
                }
            }
        }
        self.init(width: width, height: height, pixels: out)
    }

    /// The sheet as an 8-bit RGB image, to write as PNG.
    public var image: Image {
        Image(width: width, height: height, channels: 3, samples: .uint8(pixels))
    }
}
