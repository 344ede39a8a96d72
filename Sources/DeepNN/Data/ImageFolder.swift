import DeepCore
import Foundation

/// Image files arranged one sub-folder per class (`torchvision.datasets.ImageFolder`):
///
///     root/cat/001.png   root/cat/sub/002.jpg   root/dog/a.JPEG …
///
/// Classes are the sub-folders' names sorted by code point (Python's `sorted`), indexed from 0;
/// a class holds every file below its folder (sub-folders too) whose extension is `png`, `jpg` or
/// `jpeg` in any case, folders in sorted order and files sorted within each, as torchvision's
/// `make_dataset` walks them. Files are decoded in ``example(at:generator:)``, so on a
/// ``DataLoader``'s worker threads, and converted to RGB as torchvision's default loader does
/// (`convert("RGB")`); the input handed to `transform` is the (3, H, W) raw values 0…255 as Float
/// (torchvision's uint8 image): put ``ToTensor`` in the transform to scale them to [0, 1].
///
/// The initialiser checks each file's first bytes (PNG or JPEG signature), so a stray or empty
/// file is reported at once; a file that passes that check but then fails to decode stops the
/// program with an error naming the file (``Dataset/example(at:generator:)`` cannot throw).
public struct ImageFolder: Dataset {
    /// The extensions accepted, lower-case (torchvision's `IMG_EXTENSIONS` restricted to the
    /// formats decoded here).
    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// The folder holding one sub-folder per class.
    public let root: URL
    /// The class names (sub-folder names), sorted; a class's index is its position.
    public let classes: [String]
    /// Class name → index.
    public let classToIndex: [String: Int]
    /// Every image file and its class index, in order.
    public let samples: [(url: URL, classIndex: Int)]
    /// Applied to each decoded (3, H, W) input.
    public let transform: Transform?

    /// Lists the classes and files under `root`.
    /// - Throws: ``ImageFileError`` when `root` cannot be listed, has no class folder, a class has
    ///   no image file, or a file is neither PNG nor JPEG by its first bytes (naming it).
    public init(root: URL, transform: Transform? = nil) throws {
        self.root = root
        self.transform = transform
        classes = try ImageFolder.subfolders(of: root).map(\.lastPathComponent)
        guard !classes.isEmpty else { throw ImageFileError(path: root.path, reason: "no class folder in this folder") }
        classToIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var samples: [(url: URL, classIndex: Int)] = []
        for (index, name) in classes.enumerated() {
            let files = try ImageFolder.imageFiles(under: root.appendingPathComponent(name))
            guard !files.isEmpty else {
                throw ImageFileError(path: root.appendingPathComponent(name).path,
                                     reason: "class '\(name)' has no file with extension png, jpg or jpeg")
            }
            for url in files {
                try ImageFolder.checkSignature(url)
                samples.append((url, index))
            }
        }
        self.samples = samples
    }

    public var count: Int { samples.count }

    /// Decodes sample `index` (RGB, raw values 0…255) and applies the transform.
    public func example(at index: Int, generator: inout RandomGenerator) -> Example {
        let (url, classIndex) = samples[index]
        let input = ImageFolder.decodeOrStop(url).convertedToRGB().tensor(scaled: false)
        return Example(input: transform.map { $0(input, generator: &generator) } ?? input, label: classIndex)
    }

    // MARK: Listing files

    /// The sub-folders of `url` (following symbolic links), sorted by code point.
    static func subfolders(of url: URL) throws -> [URL] {
        try contents(of: url).filter(isDirectory).sorted(by: codePointOrder)
    }

    /// Files below `folder` (recursively, following links) with an accepted extension, walked as
    /// Python's `sorted(os.walk(folder))`: folders by path, files by name within each.
    static func imageFiles(under folder: URL) throws -> [URL] {
        var found: [(folder: String, name: String, url: URL)] = []
        var pending = [folder]
        var seen = Set<String>()
        while let next = pending.popLast() {
            guard seen.insert(next.resolvingSymlinksInPath().path).inserted else { continue }
            for entry in try contents(of: next) {
                if isDirectory(entry) {
                    pending.append(entry)
                } else if extensions.contains(entry.pathExtension.lowercased()) {
                    found.append((next.path, entry.lastPathComponent, entry))
                }
            }
        }
        return found.sorted {
            $0.folder != $1.folder ? codePointOrder($0.folder, $1.folder) : codePointOrder($0.name, $1.name)
        }.map(\.url)
    }

    /// The entries of a folder.
    static func contents(of url: URL) throws -> [URL] {
        do {
            return try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: [.isDirectoryKey])
        } catch {
            throw ImageFileError(path: url.path, reason: "cannot list the folder: \(error.localizedDescription)")
        }
    }

    /// Whether `url` is a folder (or a link to one).
    static func isDirectory(_ url: URL) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &directory) && directory.boolValue
    }

    /// Python's string order: by Unicode code points.
    static func codePointOrder(_ a: URL, _ b: URL) -> Bool { codePointOrder(a.lastPathComponent, b.lastPathComponent) }

    /// Python's string order: by Unicode code points.
    static func codePointOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }

    /// Throws unless the file starts as a PNG or a JPEG does.
    static func checkSignature(_ url: URL) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw ImageFileError(path: url.path, reason: "cannot open the file")
        }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 8)) ?? Data())
        guard head.starts(with: Image.pngSignature) || head.starts(with: Image.jpegSignature) else {
            throw ImageFileError(path: url.path, reason: head.isEmpty ? "empty file: neither PNG nor JPEG"
                                 : "neither PNG nor JPEG: the file starts with \(head.map { String(format: "%02x", $0) }.joined(separator: " "))")
        }
    }

    /// The decoded file, or a stop naming it (a data set's example cannot throw).
    static func decodeOrStop(_ url: URL) -> Image {
        do {
            return try Image(contentsOf: url)
        } catch {
            ShapeErrors.stop("ImageFolder: \(error)")
        }
    }
}

/// Images and their class-index masks (`root/images/x.png` with `root/masks/x.png`), for
/// segmentation. Images are PNG or JPEG (extensions as ``ImageFolder``'s), masks PNG with one
/// channel of class indices (gray values or palette indices); they pair by file name without
/// extension, sorted by code point.
///
/// An example's `input` is the image as (3, H, W) raw values 0…255 (RGB, as ``ImageFolder``) and its
/// `target` the mask as (H, W) class indices (Float), both after `transform`, a
/// ``PairedTransform``: geometric transforms draw once and move image and mask together (the mask
/// by nearest interpolation, so it stays class indices), image transforms go in ``ImageOnly``
/// (put ``ToTensor`` there to scale the image). Its random draws come from the ``DataLoader``'s
/// seeded generator, as a classification transform's do. Its `label` is 0. A file that fails to
/// decode, or a mask whose size differs from its image's, stops the program naming the files.
///
///     let data = try SegmentationFolder(root: url, transform: PairedCompose([
///         PairedRandomResizedCrop(RandomResizedCrop(128)), PairedRandomFlip(), ImageOnly(ToTensor())]))
public struct SegmentationFolder: Dataset {
    /// The folder holding `images/` and `masks/`.
    public let root: URL
    /// (image, mask) file pairs, sorted by name.
    public let pairs: [(image: URL, mask: URL)]
    /// Applied to each decoded (3, H, W) image and its (H, W) mask.
    public let transform: PairedTransform?

    /// Pairs the files of `root/images` and `root/masks`; `transform` is applied to each example's
    /// image and mask.
    /// - Throws: ``ImageFileError`` when a folder is missing or empty, a file has no partner
    ///   (naming it), two images share a name, or a file's first bytes are not PNG (masks) or PNG
    ///   or JPEG (images).
    public init(root: URL, transform: PairedTransform? = nil) throws {
        self.root = root
        self.transform = transform
        let imageFolder = root.appendingPathComponent("images"), maskFolder = root.appendingPathComponent("masks")
        func byStem(_ folder: URL, extensions: Set<String>) throws -> [String: URL] {
            guard ImageFolder.isDirectory(folder) else { throw ImageFileError(path: folder.path, reason: "no such folder") }
            var files: [String: URL] = [:]
            for url in try ImageFolder.contents(of: folder) where extensions.contains(url.pathExtension.lowercased()) {
                let stem = url.deletingPathExtension().lastPathComponent
                if let other = files[stem] {
                    throw ImageFileError(path: url.path, reason: "two files named '\(stem)': \(other.lastPathComponent) and \(url.lastPathComponent)")
                }
                files[stem] = url
            }
            guard !files.isEmpty else { throw ImageFileError(path: folder.path, reason: "no image file in this folder") }
            return files
        }
        let images = try byStem(imageFolder, extensions: ImageFolder.extensions)
        let masks = try byStem(maskFolder, extensions: ["png"])
        for (stem, url) in images where masks[stem] == nil {
            throw ImageFileError(path: url.path, reason: "no mask for this image (expected masks/\(stem).png)")
        }
        for (stem, url) in masks where images[stem] == nil {
            throw ImageFileError(path: url.path, reason: "no image for this mask (expected images/\(stem).png, .jpg or .jpeg)")
        }
        var pairs: [(image: URL, mask: URL)] = []
        for stem in images.keys.sorted(by: ImageFolder.codePointOrder) {
            try ImageFolder.checkSignature(images[stem]!)
            try ImageFolder.checkSignature(masks[stem]!)
            pairs.append((images[stem]!, masks[stem]!))
        }
        self.pairs = pairs
    }

    public var count: Int { pairs.count }

    /// Decodes pair `index`: the image (3, H, W) and its mask (H, W), after the transform.
    public func example(at index: Int, generator: inout RandomGenerator) -> Example {
        let (imageURL, maskURL) = pairs[index]
        let image = ImageFolder.decodeOrStop(imageURL)
        let mask: Image
        do {
            mask = try Image(maskContentsOf: maskURL)
        } catch {
            ShapeErrors.stop("SegmentationFolder: \(error)")
        }
        if mask.width != image.width || mask.height != image.height {
            ShapeErrors.stop("SegmentationFolder: \(maskURL.path) is \(mask.width) x \(mask.height) pixels, "
                             + "its image \(imageURL.path) \(image.width) x \(image.height)")
        }
        let input = image.convertedToRGB().tensor(scaled: false)
        let target = mask.tensor(scaled: false).reshaped([mask.height, mask.width])
        guard let transform else { return Example(input: input, label: 0, target: target) }
        let (x, y) = transform(image: input, mask: target, generator: &generator)
        return Example(input: x, label: 0, target: y)
    }
}
