// Affine resampling over raw buffers (torchvision's `_apply_grid_transform` of an `_affine_grid`:
// PyTorch's `grid_sample` with zeros padding, align_corners false, and torchvision's fill mask).
// The sampling taps depend on the output pixel only, so they are computed once and applied to
// every plane.
//
// Legend: P planes, H×W input plane, H'×W' output plane.

/// Up to four input pixels per output pixel with their weights (0 outside the image), and the
/// sampled mask (the weight that fell inside the image).
struct AffineTaps {
    var indices: [Int]
    var weights: [Float]
    var inside: [Float]
    let taps: Int

    /// The taps of `matrix` = [a, b, c, d, e, f]: output pixel (x, y), relative to the output's
    /// centre, reads the input at (a·x + b·y + c, d·x + e·y + f) relative to the input's centre,
    /// computed in Float as PyTorch's affine grid and grid sampler do; `nearest` rounds to the
    /// nearest pixel (ties to even), else bilinear.
    init(matrix m: [Float], height: Int, width: Int, outputHeight outH: Int, outputWidth outW: Int, nearest: Bool) {
        taps = nearest ? 1 : 4
        indices = [Int](repeating: 0, count: taps * outH * outW)
        weights = [Float](repeating: 0, count: taps * outH * outW)
        inside = [Float](repeating: 0, count: outH * outW)
        let (halfW, halfH) = (0.5 * Float(width), 0.5 * Float(height))
        let theta = [m[0] / halfW, m[1] / halfW, m[2] / halfW, m[3] / halfH, m[4] / halfH, m[5] / halfH]
        for oy in 0..<outH {
            let y = Self.linspace(oy, count: outH)
            for ox in 0..<outW {
                let x = Self.linspace(ox, count: outW), o = oy * outW + ox
                let gx = x * theta[0] + y * theta[1] + theta[2], gy = x * theta[3] + y * theta[4] + theta[5]
                let ix = ((gx + 1) * Float(width) - 1) / 2, iy = ((gy + 1) * Float(height) - 1) / 2
                if nearest {
                    let (c, r) = (Int(ix.rounded(.toNearestOrEven)), Int(iy.rounded(.toNearestOrEven)))
                    if c >= 0 && c < width && r >= 0 && r < height {
                        indices[o] = r * width + c
                        weights[o] = 1
                        inside[o] = 1
                    }
                    continue
                }
                let (c0, r0) = (Int(ix.rounded(.down)), Int(iy.rounded(.down)))
                let (fx, fy) = (ix - Float(c0), iy - Float(r0))
                let corners = [(r0, c0, (1 - fx) * (1 - fy)), (r0, c0 + 1, fx * (1 - fy)),
                               (r0 + 1, c0, (1 - fx) * fy), (r0 + 1, c0 + 1, fx * fy)]
                for (t, (r, c, w)) in corners.enumerated() where c >= 0 && c < width && r >= 0 && r < height {
                    indices[t * outH * outW + o] = r * width + c
                    weights[t * outH * outW + o] = w
                    inside[o] += w
                }
            }
        }
    }

    /// torch.linspace((1 − n)/2, (n − 1)/2, n)[i]: pixel i's coordinate relative to the centre.
    @inline(__always)
    static func linspace(_ i: Int, count n: Int) -> Float { Float(i) - Float(n - 1) / 2 }
}

/// Applies ``AffineTaps`` to planes.
enum AffineKernel {
    /// y[p, o] = Σ_t w[t, o]·x[p, i[t, o]], then with a `fill`: (y − fill)·inside + fill (bilinear)
    /// or fill where inside < ½ (nearest); with `bytes`, rounded (ties to even).
    static func warp(_ x: UnsafePointer<Float>, planes: Int, planeSize: Int, taps: AffineTaps, fill: Float?, bytes: Bool,
                     into y: UnsafeMutablePointer<Float>) {
        let outCount = taps.inside.count, n = taps.taps
        Parallel.forEach(count: planes, work: planes * outCount * n) { range in
            taps.indices.withUnsafeBufferPointer { idx in
                taps.weights.withUnsafeBufferPointer { w in
                    taps.inside.withUnsafeBufferPointer { inside in
                        for p in range {
                            let src = x + p * planeSize, dst = y + p * outCount
                            for o in 0..<outCount {
                                var v: Float = 0
                                for t in 0..<n { v += w[t * outCount + o] * src[idx[t * outCount + o]] }
                                if let fill {
                                    v = n == 1 ? (inside[o] < 0.5 ? fill : v) : (v - fill) * inside[o] + fill
                                }
                                dst[o] = bytes ? v.rounded(.toNearestOrEven) : v
                            }
                        }
                    }
                }
            }
        }
    }
}
