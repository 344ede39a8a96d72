import DeepCore

extension Workloads {
    /// x 32×64×32×32, weight 64×64×3×3, padding 1, no bias.
    static func convInputs() -> (Tensor, Tensor) {
        var rng = RandomGenerator(seed: 0)
        return (Tensor.randn([32, 64, 32, 32], generator: &rng), Tensor.randn([64, 64, 3, 3], std: 0.05, generator: &rng))
    }

    /// Direct-loop 3×3, padding-1 convolution of image `n` of x (the reference the timed op is
    /// checked against).
    static func referenceConv(_ x: Tensor, _ w: Tensor, image n: Int) -> [Float] {
        let (c, h, wd, k) = (x.shape[1], x.shape[2], x.shape[3], w.shape[0])
        let xs = x[n].scalars, ws = w.scalars
        var out = [Float](repeating: 0, count: k * h * wd)
        for o in 0..<k { for i in 0..<c { for dy in 0..<3 { for dx in 0..<3 {
            let wv = ws[((o * c + i) * 3 + dy) * 3 + dx]
            for y in 0..<h { let sy = y + dy - 1; if sy < 0 || sy >= h { continue }
                for xx in 0..<wd { let sx = xx + dx - 1; if sx < 0 || sx >= wd { continue }
                    out[(o * h + y) * wd + xx] += wv * xs[(i * h + sy) * wd + sx]
                }
            }
        } } } }
        return out
    }

    /// GFLOP of one forward (multiply-adds counted as 2).
    static let convForwardGFLOP = 2.0 * 32 * 64 * 32 * 32 * 64 * 9 / 1e9

    /// conv2d forward without autograd.
    static let conv3x3Forward = Workload(name: "conv3x3_fwd") { timing in
        let (x, w) = convInputs()
        let y = withoutGrad { conv2d(x, w, padding: [1, 1]) }
        try validate("conv3x3_fwd", y[3].scalars, referenceConv(x, w, image: 3))
        let ms = timing.medianMilliseconds { _ = withoutGrad { conv2d(x, w, padding: [1, 1]) } }
        return [resultLine("conv3x3_fwd", ms: ms, extra: ["gflops": convForwardGFLOP / ms * 1e3])]
    }

    /// conv2d forward, then backward of y.sum() to x and the weight.
    static let conv3x3ForwardBackward = Workload(name: "conv3x3_fwd_bwd") { timing in
        let (x, w) = convInputs()
        x.requiresGrad = true
        w.requiresGrad = true
        func step() {
            x.grad = nil; w.grad = nil
            conv2d(x, w, padding: [1, 1]).sum().backward()
        }
        step()
        // d(sum y)/dx at an interior pixel is the sum of the weights over output channels.
        let expected = (0..<64).reduce(Float(0)) { s, o in s + (0..<9).reduce(0) { $0 + w.scalar(at: [o, 5, $1 / 3, $1 % 3]) } }
        try validate("conv3x3_fwd_bwd", [x.grad!.scalar(at: [2, 5, 10, 10])], [expected], tolerance: 1e-3)
        let ms = timing.medianMilliseconds(step)
        return [resultLine("conv3x3_fwd_bwd", ms: ms, extra: ["gflops": 3 * convForwardGFLOP / ms * 1e3])]
    }
}
