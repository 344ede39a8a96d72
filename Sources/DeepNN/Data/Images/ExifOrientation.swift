import Foundation

/// The EXIF orientation of a JPEG (tag 0x0112 of IFD0 in its APP1 `Exif` segment): how the stored
/// pixels must be turned to be seen upright. 1 upright, 2 mirrored, 3 turned 180°, 4 flipped,
/// 5 transposed, 6 turned 90° clockwise to view, 7 transversed, 8 turned 90° counter-clockwise.
struct ExifOrientation: Equatable {
    /// 1…8.
    let value: Int

    /// Orientation 1: nothing to do.
    static let upright = ExifOrientation(value: 1)

    private init(value: Int) { self.value = value }

    /// The orientation a JPEG's bytes announce, or ``upright`` when they announce none, an
    /// invalid one (outside 1…8), or their EXIF data is malformed (every read is bounds-checked).
    init(jpeg bytes: Data) {
        let data = [UInt8](bytes.prefix(1 << 20))
        self = ExifOrientation.find(in: data) ?? .upright
    }

    /// Walks the JPEG segments before the image data to the first APP1 `Exif` segment.
    private static func find(in data: [UInt8]) -> ExifOrientation? {
        var offset = 2
        while offset + 4 <= data.count, data[offset] == 0xFF {
            let marker = data[offset + 1]
            if marker == 0xFF { offset += 1; continue }   // fill byte
            if marker == 0xDA || marker == 0xD9 { return nil }   // start of scan, end of image
            let length = Int(data[offset + 2]) << 8 | Int(data[offset + 3])
            guard length >= 2, offset + 2 + length <= data.count else { return nil }
            let payload = (offset + 4)..<(offset + 2 + length)
            if marker == 0xE1, payload.count >= 6, Array(data[payload.prefix(6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return parseTIFF(Array(data[(payload.lowerBound + 6)..<payload.upperBound]))
            }
            offset += 2 + length
        }
        return nil
    }

    /// The orientation entry of IFD0 of the TIFF structure `tiff` (byte order `II` or `MM`).
    private static func parseTIFF(_ tiff: [UInt8]) -> ExifOrientation? {
        guard tiff.count >= 8 else { return nil }
        let little: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let a = u16(at), let b = u16(at + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let entries = u16(ifd) else { return nil }
        for i in 0..<entries {
            let entry = ifd + 2 + 12 * i
            guard let tag = u16(entry) else { return nil }
            guard tag == 0x0112 else { continue }
            // Type SHORT (3), count 1: the value is in the entry's first two value bytes.
            guard u16(entry + 2) == 3, u32(entry + 4) == 1, let value = u16(entry + 8), (1...8).contains(value) else { return nil }
            return ExifOrientation(value: value)
        }
        return nil
    }
}

extension Image {
    /// The image turned upright according to `orientation` (PIL's `ImageOps.exif_transpose`);
    /// orientations 5–8 swap width and height.
    func oriented(_ orientation: ExifOrientation) -> Image {
        let o = orientation.value
        if o == 1 { return self }
        let swaps = o >= 5
        let outWidth = swaps ? height : width, outHeight = swaps ? width : height
        let w = width, h = height
        // The source pixel (row, column) of output pixel (y, x).
        func source(_ y: Int, _ x: Int) -> (Int, Int) {
            switch o {
            case 2: return (y, w - 1 - x)
            case 3: return (h - 1 - y, w - 1 - x)
            case 4: return (h - 1 - y, x)
            case 5: return (x, y)
            case 6: return (h - 1 - x, y)
            case 7: return (h - 1 - x, w - 1 - y)
            default: return (x, w - 1 - y)   // 8
            }
        }
        func remap<T>(_ values: [T]) -> [T] {
            var out = values
            for y in 0..<outHeight {
                for x in 0..<outWidth {
                    let (sy, sx) = source(y, x)
                    let s = (sy * w + sx) * channels, d = (y * outWidth + x) * channels
                    for c in 0..<channels { out[d + c] = values[s + c] }
                }
            }
            return out
        }
        switch samples {
        case .uint8(let values): return Image(width: outWidth, height: outHeight, channels: channels, samples: .uint8(remap(values)))
        case .uint16(let values): return Image(width: outWidth, height: outHeight, channels: channels, samples: .uint16(remap(values)))
        }
    }
}
