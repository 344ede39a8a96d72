// Image resampling kernels over raw buffers (torchvision's `resize` on tensors, PyTorch's
// `interpolate` with nearest, nearest-exact, bilinear and bicubic modes, with or without
// antialiasing). Every mode is separable: an output column reads K input columns with weights, an
// output row K input rows; each axis is described by its taps (``ResampleAxis``) and one kernel
// applies any of them: the width pass first, then the height pass, as PyTorch's separable kernels do.
//
// Legend: P planes, H×W input plane, H'×W' output plane, K taps per output index.

/// The input indices and weights that each output index along one axis reads.
struct ResampleAxis {
    /// Taps per output index.
    var taps: Int
    /// Input index of tap t for output o at `t·outputSize + o` (always a valid index; padding taps
    /// have weight 0).
    var indices: [Int]
    /// Weight of tap t for output o at `t·outputSize + o`.
    var weights: [Float]
    var outputSize: Int

    /// An axis with `taps` taps per output, all reading index 0 with weight 0.
    private init(taps: Int, output: Int) {
        self.taps = taps
        outputSize = output
        indices = [Int](repeating: 0, count: taps * output)
        weights = [Float](repeating: 0, count: taps * output)
    }

    /// PyTorch's scale in/out, in Float as its kernels compute it.
    private static func scale(_ input: Int, _ output: Int) -> Float { Float(input) / Float(output) }

    /// Nearest: output o reads min(⌊o·in/out⌋, in − 1) (PyTorch's `"nearest"`); with `exact`,
    /// min(⌊(o + ½)·in/out⌋, in − 1) (`"nearest-exact"`).
    init(nearestInput input: Int, output: Int, exact: Bool) {
        self.init(taps: 1, output: output)
        let scale = Self.scale(input, output)
        for o in 0..<output {
            let source = exact ? (Float(o) + 0.5) * scale : Float(o) * scale
            indices[o] = input == output ? o : Swift.min(Int(source.rounded(.down)), input - 1)
            weights[o] = 1
        }
    }

    /// Linear without antialiasing (PyTorch's `"bilinear"`, align_corners false): the two inputs
    /// around max((o + ½)·in/out − ½, 0).
    init(linearInput input: Int, output: Int) {
        self.init(taps: 2, output: output)
        let scale = Self.scale(input, output)
        for o in 0..<output {
            let source = Swift.max(scale * (Float(o) + 0.5) - 0.5, 0)
            let i0 = Swift.min(Int(source), input - 1)
            let lambda = source - Float(i0)
            indices[o] = i0
            indices[output + o] = i0 + (i0 < input - 1 ? 1 : 0)
            weights[o] = 1 - lambda
            weights[output + o] = lambda
        }
    }

    /// Cubic convolution without antialiasing (PyTorch's `"bicubic"`, align_corners false, a = −0.75):
    /// the four inputs ⌊s⌋ − 1 … ⌊s⌋ + 2 (clamped to the edge) around s = (o + ½)·in/out − ½.
    init(cubicInput input: Int, output: Int) {
        self.init(taps: 4, output: output)
        let scale = Self.scale(input, output)
        for o in 0..<output {
            let source = scale * (Float(o) + 0.5) - 0.5
            let floor = source.rounded(.down), t = source - floor
            let w = [Self.cubic(t + 1, a: -0.75), Self.cubic(t, a: -0.75), Self.cubic(1 - t, a: -0.75), Self.cubic(2 - t, a: -0.75)]
            for k in 0..<4 {
                indices[k * output + o] = Swift.min(Swift.max(Int(floor) - 1 + k, 0), input - 1)
                weights[k * output + o] = w[k]
            }
        }
    }

    /// Keys' cubic convolution kernel with parameter `a` at distance |x|.
    static func cubic(_ x: Float, a: Float) -> Float {
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    /// Antialiased resampling (PyTorch's `_upsample_bilinear2d_aa` / `_upsample_bicubic2d_aa`):
    /// output o is centred at c = (o + ½)·s (s = in/out); when down-scaling the filter is
    /// stretched by s (support `support`·s); the inputs j with ⌊c − support + ½⌋ ≤ j <
    /// ⌊c + support + ½⌋ get filter((j − c + ½)/s), normalised to sum 1.
    /// - Parameters: cubic: the cubic filter with a = −0.5 (support 2) instead of the triangle
    ///   (support 1).
    init(antialiasedInput input: Int, output: Int, cubic: Bool) {
        let scale = Self.scale(input, output)
        let base: Float = cubic ? 2 : 1
        let support = scale >= 1 ? base * scale : base
        let invScale = scale >= 1 ? 1 / scale : 1
        let taps = Int(support.rounded(.up)) * 2 + 1
        self.init(taps: taps, output: output)
        var filtered = [Float](repeating: 0, count: taps)
        for o in 0..<output {
            let center = scale * (Float(o) + 0.5)
            let start = Swift.max(Int(center - support + 0.5), 0)
            let count = Swift.min(Swift.min(Int(center + support + 0.5), input) - start, taps)
            var total: Float = 0
            for j in 0..<count {
                let x = (Float(j + start) - center + 0.5) * invScale
                filtered[j] = cubic ? Self.cubic(x, a: -0.5) : Swift.max(0, 1 - abs(x))
                total += filtered[j]
            }
            for j in 0..<count {
                indices[j * output + o] = j + start
                weights[j * output + o] = total != 0 ? filtered[j] / total : filtered[j]
            }
            for j in count..<taps { indices[j * output + o] = start }
        }
    }
}

/// The separable resampling loop: columns first (into a scratch plane), then rows.
enum ResampleKernel {
    /// Resamples `planes` planes of H×W from `x` into H'×W' planes of `y`; a nil axis is kept as
    /// it is. With `bytes`, every pass rounds its result and clamps it to 0…255, as PyTorch's
    /// uint8 kernels do.
    static func resample(_ x: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                         rows: ResampleAxis?, columns: ResampleAxis?, bytes: Bool,
                         into y: UnsafeMutablePointer<Float>) {
        let outH = rows?.outputSize ?? height, outW = columns?.outputSize ?? width
        let work = planes * (height * outW * (columns?.taps ?? 1) + outH * outW * (rows?.taps ?? 1))
        Parallel.forEach(count: planes, work: work) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: rows != nil && columns != nil ? height * outW : 0)
            defer { scratch.deallocate() }
            for p in range {
                let src = x + p * height * width, dst = y + p * outH * outW
                switch (rows, columns) {
                case let (rows?, columns?):
                    resampleColumns(src, height: height, width: width, columns: columns, bytes: bytes, into: scratch)
                    resampleRows(UnsafePointer(scratch), width: outW, rows: rows, bytes: bytes, into: dst)
                case let (rows?, nil):
                    resampleRows(src, width: width, rows: rows, bytes: bytes, into: dst)
                case let (nil, columns?):
                    resampleColumns(src, height: height, width: width, columns: columns, bytes: bytes, into: dst)
                case (nil, nil):
                    dst.update(from: src, count: height * width)
                }
            }
        }
    }

    /// Rounds to the nearest integer and clamps to 0…255.
    @inline(__always)
    private static func byte(_ v: Float) -> Float { Swift.min(Swift.max(v.rounded(), 0), 255) }

    /// y[h, o] = Σ_t w[t, o]·x[h, i[t, o]] over each of `height` rows.
    private static func resampleColumns(_ x: UnsafePointer<Float>, height: Int, width: Int, columns: ResampleAxis,
                                        bytes: Bool, into y: UnsafeMutablePointer<Float>) {
        let outW = columns.outputSize, taps = columns.taps
        columns.indices.withUnsafeBufferPointer { ci in
            columns.weights.withUnsafeBufferPointer { cw in
                for h in 0..<height {
                    let row = x + h * width, out = y + h * outW
                    for o in 0..<outW {
                        var acc: Float = 0
                        for t in 0..<taps { acc += cw[t * outW + o] * row[ci[t * outW + o]] }
                        out[o] = bytes ? byte(acc) : acc
                    }
                }
            }
        }
    }

    /// y[o, :] = Σ_t w[t, o]·x[i[t, o], :].
    private static func resampleRows(_ x: UnsafePointer<Float>, width: Int, rows: ResampleAxis, bytes: Bool,
                                     into y: UnsafeMutablePointer<Float>) {
        let outH = rows.outputSize, taps = rows.taps
        rows.indices.withUnsafeBufferPointer { ri in
            rows.weights.withUnsafeBufferPointer { rw in
                for o in 0..<outH {
                    let out = y + o * width
                    out.initialize(repeating: 0, count: width)
                    for t in 0..<taps {
                        let w = rw[t * outH + o]
                        if w == 0 && t > 0 { continue }
                        let row = x + ri[t * outH + o] * width
                        for j in 0..<width { out[j] += w * row[j] }
                    }
                    if bytes { for j in 0..<width { out[j] = byte(out[j]) } }
                }
            }
        }
    }
}
