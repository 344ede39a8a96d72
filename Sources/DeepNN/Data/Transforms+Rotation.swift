import DeepCore
import Foundation

// torchvision's RandomRotation and RandomErasing (`transforms.v2`) on images (…, C, H, W), with
// their deterministic parts `rotated(degrees:…)` and `erased(top:left:height:width:values:)`.

extension Tensor {
    /// Images (…, H, W) rotated counter-clockwise by `degrees` (torchvision's `rotate` on tensors:
    /// its affine grid sampled with `grid_sample`; multiples of 90° about the centre are exact
    /// transposes and flips, as there).
    /// - Parameters:
    ///   - interpolation: `.nearest` or `.bilinear`.
    ///   - expand: grow the output to hold the whole rotated image (torchvision's rounding of the
    ///     corners), else keep H × W.
    ///   - center: the centre of rotation (x, y) in pixels from the top-left corner; nil is the
    ///     image's centre.
    ///   - fill: the value of pixels from outside the image.
    ///   - pixels: `.uint8` rounds the results.
    public func rotated(degrees: Float, interpolation: ResizeInterpolation = .nearest, expand: Bool = false,
                        center: (x: Float, y: Float)? = nil, fill: Float = 0, pixels: PixelValues = .float) -> Tensor {
        var angle = Double(degrees).truncatingRemainder(dividingBy: 360)
        if angle < 0 { angle += 360 }
        let (h, w) = imageSize
        let (rows, columns) = (rank - 2, rank - 1)
        if center == nil {
            if angle == 0 { return self }
            if angle == 180 { return flipped(axes: [rows, columns]) }
            if expand || h == w {
                if angle == 90 { return flipped(axes: [columns]).transposed(rows, columns).contiguous() }
                if angle == 270 { return transposed(rows, columns).flipped(axes: [columns]) }
            }
        }
        let (cx, cy) = center.map { (Double($0.x) - Double(w) * 0.5, Double($0.y) - Double(h) * 0.5) } ?? (0, 0)
        let rotation: Double = -angle * .pi / 180
        let (c, s): (Double, Double) = (Foundation.cos(rotation), Foundation.sin(rotation))
        var m: [Double] = [c, s, 0, -s, c, 0]
        let shiftX: Double = cx - m[0] * cx - m[1] * cy
        let shiftY: Double = cy - m[3] * cx - m[4] * cy
        m[2] += shiftX
        m[5] += shiftY
        let matrix = m.map { Float($0) }
        let size = expand ? Self.expandedSize(matrix, height: h, width: w) : [h, w]
        return affineWarp(self, matrix: matrix, size: size, interpolation: interpolation, fill: fill, pixels: pixels)
    }

    /// The (height, width) holding the image's corners mapped by `m` (torchvision's
    /// `_compute_affine_output_size`, in Float, corners truncated to 10⁻⁴ before rounding out).
    static func expandedSize(_ m: [Float], height: Int, width: Int) -> [Int] {
        let (halfW, halfH) = (0.5 * Float(width), 0.5 * Float(height))
        let corners: [(Float, Float)] = [(-halfW, -halfH), (-halfW, halfH), (halfW, halfH), (halfW, -halfH)]
        let xs = corners.map { m[0] * $0.0 + m[1] * $0.1 + m[2] + halfW }
        let ys = corners.map { m[3] * $0.0 + m[4] * $0.1 + m[5] + halfH }
        func extent(_ v: [Float]) -> Int {
            let hi = ((v.max()! * 10_000).rounded(.towardZero) * 1e-4).rounded(.up)
            let lo = ((v.min()! * 10_000).rounded(.towardZero) * 1e-4).rounded(.down)
            return Int(hi - lo)
        }
        return [extent(ys), extent(xs)]
    }

    /// Images (…, C, H, W) with the window (`top`, `left`, `height`, `width`) set to `values`
    /// (torchvision's `erase`): one value for every channel, or one per channel.
    public func erased(top: Int, left: Int, height: Int, width: Int, values: [Float]) -> Tensor {
        require(rank >= 3 && top >= 0 && left >= 0 && top + height <= shape[rank - 2] && left + width <= shape[rank - 1],
                "erase: window (top \(top), left \(left), \(height)×\(width)) outside images of shape \(shape)")
        let c = shape[rank - 3]
        require(values.count == 1 || values.count == c || values.count == c * height * width,
                "erase: \(values.count) values for \(c) channels of a \(height)×\(width) window")
        let (h, w) = imageSize
        let images = count / Swift.max(1, c * h * w)
        return withUnsafeBufferPointer { src in
            Tensor.make(shape: shape) { dst in
                _ = dst.initialize(from: src)
                for i in 0..<images {
                    for k in 0..<c {
                        for r in 0..<height {
                            for q in 0..<width {
                                let v = values.count == 1 ? values[0] : values.count == c ? values[k] : values[(k * height + r) * width + q]
                                dst[((i * c + k) * h + top + r) * w + left + q] = v
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Rotates images by an angle drawn uniformly from `degrees` (`transforms.v2.RandomRotation`).
public struct RandomRotation: Transform {
    let degrees: ClosedRange<Float>, interpolation: ResizeInterpolation, expand: Bool
    let center: (x: Float, y: Float)?, fill: Float, pixels: PixelValues

    /// Rotates by an angle in −`degrees`…`degrees`.
    public init(_ degrees: Float, interpolation: ResizeInterpolation = .nearest, expand: Bool = false,
                center: (x: Float, y: Float)? = nil, fill: Float = 0, pixels: PixelValues = .float) {
        require(degrees >= 0, "RandomRotation: degrees \(degrees) is negative")
        self.init(-degrees...degrees, interpolation: interpolation, expand: expand, center: center, fill: fill, pixels: pixels)
    }

    /// Rotates by an angle in `degrees`; see ``Tensor/rotated(degrees:interpolation:expand:center:fill:pixels:)``.
    public init(_ degrees: ClosedRange<Float>, interpolation: ResizeInterpolation = .nearest, expand: Bool = false,
                center: (x: Float, y: Float)? = nil, fill: Float = 0, pixels: PixelValues = .float) {
        require(interpolation == .nearest || interpolation == .bilinear, "RandomRotation: interpolation \(interpolation) should be nearest or bilinear")
        (self.degrees, self.interpolation, self.expand, self.center, self.fill, self.pixels) = (degrees, interpolation, expand, center, fill, pixels)
    }

    /// The angle of one draw.
    public func angle(generator: inout RandomGenerator) -> Float {
        degrees.lowerBound + (degrees.upperBound - degrees.lowerBound) * generator.nextUniform()
    }

    /// `x` rotated by `angle` with this transform's settings (and `fill`, for a mask's).
    func rotate(_ x: Tensor, by angle: Float, interpolation: ResizeInterpolation? = nil, fill: Float? = nil) -> Tensor {
        x.rotated(degrees: angle, interpolation: interpolation ?? self.interpolation, expand: expand, center: center,
                  fill: fill ?? self.fill, pixels: interpolation == nil ? pixels : .float)
    }

    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        rotate(x, by: angle(generator: &generator))
    }
}

/// Sets a random rectangle of images (…, C, H, W) to `value` with probability `p`
/// (`transforms.v2.RandomErasing`).
public struct RandomErasing: Transform {
    let p: Float, scale: ClosedRange<Double>, ratio: ClosedRange<Double>, value: [Float]?

    /// Creates the transform.
    /// - Parameters:
    ///   - scale: the rectangle's area as a fraction of the image's, drawn uniformly.
    ///   - ratio: its height/width, drawn log-uniformly.
    ///   - value: one value, or one per channel; nil draws standard normal values per pixel
    ///     (torchvision's `value="random"`).
    public init(p: Float = 0.5, scale: ClosedRange<Double> = 0.02...0.33, ratio: ClosedRange<Double> = 0.3...3.3,
                value: [Float]? = [0]) {
        require(p >= 0 && p <= 1 && scale.lowerBound >= 0 && ratio.lowerBound > 0, "RandomErasing: p \(p), scale \(scale), ratio \(ratio)")
        (self.p, self.scale, self.ratio, self.value) = (p, scale, ratio, value)
    }

    /// The rectangle (top, left, height, width) of one draw on an image of `height` × `width`, as
    /// torchvision's `make_params`: up to 10 draws whose rounded rectangle is smaller than the
    /// image, else nil (nothing erased).
    public func window(height: Int, width: Int, generator: inout RandomGenerator) -> (top: Int, left: Int, height: Int, width: Int)? {
        for _ in 0..<10 {
            let (h, w) = generator.rectangleSides(area: Double(height * width), scale: scale, ratio: ratio)
            guard h < height && w < width else { continue }
            return (Int.random(in: 0...(height - h), using: &generator), Int.random(in: 0...(width - w), using: &generator), h, w)
        }
        return nil
    }

    public func callAsFunction(_ x: Tensor, generator: inout RandomGenerator) -> Tensor {
        guard generator.nextUniform() < p else { return x }
        let (h, w) = x.imageSize
        guard let win = window(height: h, width: w, generator: &generator) else { return x }
        let c = x.shape[x.rank - 3]
        let values = value ?? Tensor.randn([c * win.height * win.width], generator: &generator).scalars
        return x.erased(top: win.top, left: win.left, height: win.height, width: win.width, values: values)
    }
}
