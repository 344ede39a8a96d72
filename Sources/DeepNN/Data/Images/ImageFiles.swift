internal import CJPEG
internal import CPNG
import DeepCore
import Foundation

/// An image file format to write.
public enum ImageFormat: Equatable, Sendable {
    /// PNG, lossless: 8- or 16-bit, 1–4 channels.
    case png
    /// Baseline JPEG of the given quality (1–100; PIL's default is 75), gray or RGB, 8-bit.
    case jpeg(quality: Int)
}

extension Image {
    /// The 8 bytes every PNG file starts with.
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The 3 bytes every JPEG file starts with (SOI and the next marker's FF).
    static let jpegSignature: [UInt8] = [0xFF, 0xD8, 0xFF]

    /// Reads a PNG or JPEG file, recognised by its first bytes (not its extension). A JPEG's EXIF
    /// orientation is applied, as PIL's `ImageOps.exif_transpose` (and torchvision's `decode_jpeg(…,
    /// apply_exif_orientation=True)`) do.
    /// - Throws: ``ImageFileError`` naming the file and what is wrong: unreadable, neither PNG nor
    ///   JPEG, corrupt, truncated, CMYK, or more than ``maxPixelCount`` pixels.
    public init(contentsOf url: URL) throws {
        try self.init(data: Image.bytes(of: url), path: url.path)
    }

    /// Decodes the bytes of a PNG or JPEG file (see ``init(contentsOf:)``); `path` names them in errors.
    public init(data: Data, path: String = ImageFileError.inMemory) throws {
        try self.init(data: data, path: path, maxPixels: Image.maxPixelCount)
    }

    /// ``init(data:path:)`` refusing more than `maxPixels` pixels (the fuzz targets use a smaller
    /// limit than ``maxPixelCount`` to stay within their memory and time limits).
    init(data: Data, path: String, maxPixels: Int) throws {
        if data.starts(with: Image.pngSignature) {
            self = try Image.decodePNG(data, path: path, rawIndices: false, maxPixels: maxPixels)
        } else if data.starts(with: Image.jpegSignature) {
            let decoded = try Image.decodeJPEG(data, path: path, maxPixels: maxPixels)
            self = decoded.oriented(ExifOrientation(jpeg: data))
        } else if data.isEmpty {
            throw ImageFileError(path: path, reason: "empty file: neither PNG nor JPEG")
        } else {
            let head = data.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw ImageFileError(path: path, reason: "neither PNG nor JPEG: the file starts with \(head)")
        }
    }

    /// The class indices of a mask PNG (one channel): a palette image gives its palette indices and
    /// gray gives its values, unscaled (1-, 2- and 4-bit gray too). A mask with more channels is
    /// refused.
    /// - Throws: ``ImageFileError`` as ``init(contentsOf:)`` does, or when the file is not a
    ///   one-channel PNG.
    public init(maskContentsOf url: URL) throws {
        try self.init(maskData: Image.bytes(of: url), path: url.path)
    }

    /// The bytes of the file at `url`.
    /// - Throws: ``ImageFileError`` naming the file when it cannot be read.
    private static func bytes(of url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url)
        } catch {
            throw ImageFileError(path: url.path, reason: "cannot read the file: \(error.localizedDescription)")
        }
    }

    /// Decodes the bytes of a mask PNG (see ``init(maskContentsOf:)``); `path` names them in errors.
    public init(maskData data: Data, path: String = ImageFileError.inMemory) throws {
        try self.init(maskData: data, path: path, maxPixels: Image.maxPixelCount)
    }

    /// ``init(maskData:path:)`` refusing more than `maxPixels` pixels (for the fuzz target).
    init(maskData data: Data, path: String, maxPixels: Int) throws {
        guard data.starts(with: Image.pngSignature) else {
            throw ImageFileError(path: path, reason: "a mask must be a PNG file of class indices")
        }
        let mask = try Image.decodePNG(data, path: path, rawIndices: true, maxPixels: maxPixels)
        guard mask.channels == 1 else {
            throw ImageFileError(path: path, reason: "a mask must have 1 channel of class indices (gray or palette), "
                                 + "this one has \(mask.channels)")
        }
        self = mask
    }

    /// The image encoded in `format`.
    /// - Throws: ``ImageFileError`` when the format cannot hold the image (JPEG: 8-bit gray or
    ///   RGB only, quality 1–100, at most 65,500 pixels a side; any format: no empty image).
    public func encoded(as format: ImageFormat, path: String = ImageFileError.inMemory) throws -> Data {
        var message = [CChar](repeating: 0, count: Image.messageCapacity)
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var status: Int32 = -1
        guard width <= UInt32.max, height <= UInt32.max else {
            throw ImageFileError(path: path, reason: "\(width) x \(height) pixels are too many to encode")
        }
        switch format {
        case .png:
            switch samples {
            case .uint8(let values):
                status = values.withUnsafeBytes {
                    cpng_encode($0.baseAddress, UInt32(width), UInt32(height), Int32(channels), 8, &out, &size, &message, Image.messageCapacity)
                }
            case .uint16(let values):
                status = values.withUnsafeBytes {
                    cpng_encode($0.baseAddress, UInt32(width), UInt32(height), Int32(channels), 16, &out, &size, &message, Image.messageCapacity)
                }
            }
        case .jpeg(let quality):
            guard (1...100).contains(quality) else {
                throw ImageFileError(path: path, reason: "JPEG quality \(quality) is outside 1…100")
            }
            guard case .uint8(let values) = samples else {
                throw ImageFileError(path: path, reason: "JPEG holds 8-bit samples only, this image has 16-bit ones")
            }
            status = values.withUnsafeBufferPointer {
                cjpeg_encode($0.baseAddress, UInt32(width), UInt32(height), Int32(channels), Int32(quality), &out, &size,
                             &message, Image.messageCapacity)
            }
        }
        guard status == 0, let out else {
            throw ImageFileError(path: path, reason: "cannot encode: " + String(cString: message))
        }
        defer { free(out) }
        return Data(bytes: out, count: size)
    }

    /// Writes the image to `url` in `format` atomically (a temporary file renamed over the target,
    /// see `AtomicWrite`): an existing file is replaced, and nothing changes on an error.
    /// - Throws: ``ImageFileError`` as ``encoded(as:path:)``, or `TensorFileError` of kind `.io`
    ///   naming the file when it cannot be written.
    public func write(to url: URL, format: ImageFormat) throws {
        let data = try encoded(as: format, path: url.path)
        try AtomicWrite.write(to: url, format: format == .png ? "png" : "jpeg") { sink in try sink.write(data) }
    }

    /// Room for a codec's error message.
    static let messageCapacity = 512

    /// Decodes PNG bytes through CPNG (see `cpng_decode`).
    static func decodePNG(_ data: Data, path: String, rawIndices: Bool, maxPixels: Int) throws -> Image {
        var raw = cpng_image()
        var message = [CChar](repeating: 0, count: messageCapacity)
        let status = data.withUnsafeBytes { bytes in
            cpng_decode(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, UInt64(maxPixels),
                        rawIndices ? 1 : 0, &raw, &message, messageCapacity)
        }
        guard status == 0, let pixels = raw.pixels else {
            throw ImageFileError(path: path, reason: "corrupt PNG: " + String(cString: message))
        }
        defer { cpng_free(pixels) }
        let width = Int(raw.width), height = Int(raw.height), channels = Int(raw.channels)
        let count = try sampleCount(width, height, channels, maxPixels: maxPixels, path: path)
        if raw.bit_depth == 16 {
            let values = Array(UnsafeBufferPointer(start: pixels.assumingMemoryBound(to: UInt16.self), count: count))
            return Image(width: width, height: height, channels: channels, samples: .uint16(values))
        }
        let values = Array(UnsafeBufferPointer(start: pixels.assumingMemoryBound(to: UInt8.self), count: count))
        return Image(width: width, height: height, channels: channels, samples: .uint8(values))
    }

    /// Decodes JPEG bytes through CJPEG (see `cjpeg_decode`), without applying the EXIF orientation.
    static func decodeJPEG(_ data: Data, path: String, maxPixels: Int) throws -> Image {
        var raw = cjpeg_image()
        var message = [CChar](repeating: 0, count: messageCapacity)
        let status = data.withUnsafeBytes { bytes in
            cjpeg_decode(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, UInt64(maxPixels),
                         &raw, &message, messageCapacity)
        }
        guard status == 0, let pixels = raw.pixels else {
            throw ImageFileError(path: path, reason: "corrupt JPEG: " + String(cString: message))
        }
        defer { cjpeg_free(pixels) }
        let width = Int(raw.width), height = Int(raw.height), channels = Int(raw.channels)
        let count = try sampleCount(width, height, channels, maxPixels: maxPixels, path: path)
        let values = Array(UnsafeBufferPointer(start: pixels, count: count))
        return Image(width: width, height: height, channels: channels, samples: .uint8(values))
    }

    /// `width * height * channels`, checked.
    private static func sampleCount(_ width: Int, _ height: Int, _ channels: Int, maxPixels: Int, path: String) throws -> Int {
        let (pixels, o1) = width.multipliedReportingOverflow(by: height)
        let (count, o2) = pixels.multipliedReportingOverflow(by: channels)
        guard !o1, !o2, pixels <= maxPixels, (1...4).contains(channels) else {
            throw ImageFileError(path: path, reason: "\(width) x \(height) pixels of \(channels) channels are too many")
        }
        return count
    }
}
