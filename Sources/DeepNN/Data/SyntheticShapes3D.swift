import DeepCore

/// A toy 3-D segmentation set for volumetric models (``UMamba`` on volumes): each volume
/// (1, D, H, W) holds one to a few balls (brightness 1) and cubes (brightness `cubeBrightness`)
/// in Gaussian noise, and its mask (D, H, W) marks them — 0 background, 1 ball, 2 cube
/// (``classNames``). With the noise near the brightness gap, one voxel's value does not tell the
/// classes apart: a model must pool its neighbourhood (and, with `cubeBrightness` 1, read the
/// shape alone — a much harder task). Each example depends only on `seed` and its index (the
/// loader's generator is not used), so a set is the same on every call and every machine.
public struct SyntheticShapes3D: Dataset {
    /// The classes of the masks.
    public static let classNames = ["background", "ball", "cube"]

    /// Number of volumes.
    public let count: Int
    /// (D, H, W) of every volume.
    public let size: [Int]
    /// How many objects a volume holds (drawn uniformly; later ones cover earlier ones).
    public let objects: ClosedRange<Int>
    /// Standard deviation of the noise added everywhere (the background is 0).
    public let noise: Float
    /// The brightness of the cubes (the balls are 1).
    public let cubeBrightness: Float
    /// The seed of the whole set.
    public let seed: UInt64

    /// Creates the set.
    /// - Parameters:
    ///   - size: (D, H, W), each at least 8.
    ///   - objects: objects per volume, at least 1.
    public init(count: Int, size: [Int] = [16, 32, 32], objects: ClosedRange<Int> = 1...3, noise: Float = 0.3,
                cubeBrightness: Float = 0.6, seed: UInt64 = 0) {
        require(count >= 0 && size.count == 3 && size.allSatisfy { $0 >= 8 } && objects.lowerBound >= 1 && noise >= 0,
                "SyntheticShapes3D: count \(count), size \(size) (three sides of at least 8), objects \(objects) (from 1) and noise \(noise) (≥ 0)")
        (self.count, self.size, self.objects, self.noise, self.cubeBrightness, self.seed) = (count, size, objects, noise, cubeBrightness, seed)
    }

    /// The volume (1, D, H, W) and its mask (D, H, W) of class ids as Float; `label` is the
    /// class of the first object.
    public func example(at index: Int, generator _: inout RandomGenerator) -> Example {
        require(index >= 0 && index < count, "SyntheticShapes3D: index \(index) is outside 0..<\(count)")
        var rng = RandomGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index) &+ 1)
        let (d, h, w) = (size[0], size[1], size[2])
        var mask = [Float](repeating: 0, count: d * h * w)
        let smallest = size.min()!
        let total = objects.lowerBound + Int(rng.next() % UInt64(objects.count))
        var first = 0
        for k in 0..<total {
            let isCube = rng.next() % 2 == 1
            if k == 0 { first = isCube ? 2 : 1 }
            // Radius from 2 to a quarter of the smallest side; a cube's half-side is 0.8 of it,
            // so both hold about the same number of voxels.
            let radius = 2 + Float(rng.nextUniform()) * Float(smallest / 4 - 2)
            let reach = Int(radius.rounded(.up))
            let centre = size.map { Float(reach + Int(rng.next() % UInt64(Swift.max(1, $0 - 2 * reach)))) }
            for z in 0..<d {
                for y in 0..<h {
                    for x in 0..<w {
                        let (dz, dy, dx) = (Float(z) - centre[0], Float(y) - centre[1], Float(x) - centre[2])
                        let inside = isCube ? Swift.max(abs(dz), abs(dy), abs(dx)) <= 0.8 * radius
                            : dz * dz + dy * dy + dx * dx <= radius * radius
                        if inside { mask[(z * h + y) * w + x] = isCube ? 2 : 1 }
                    }
                }
            }
        }
        var volume = mask.map { $0 == 2 ? cubeBrightness : $0 }
        var i = 0
        while i < volume.count {
            let (a, b) = rng.nextNormalPair()
            volume[i] += noise * a
            if i + 1 < volume.count { volume[i + 1] += noise * b }
            i += 2
        }
        return Example(input: Tensor(volume, shape: [1, d, h, w]), label: first, target: Tensor(mask, shape: [d, h, w]))
    }
}
