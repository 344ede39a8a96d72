import DeepCore

extension Workloads {
    /// GFLOP of one conv3d_fwd_bwd forward (multiply-adds counted as 2).
    static let conv3dForwardGFLOP = 2.0 * 4 * 32 * 16 * 32 * 32 * 32 * 27 / 1e9

    /// conv3d forward, x 4×32×16×32×32, weight 32×32×3×3×3, padding 1, no bias; then backward of
    /// y.sum() to x and the weight.
    static let conv3dForwardBackward = Workload(name: "conv3d_fwd_bwd") { timing in
        var rng = RandomGenerator(seed: 0)
        let x = Tensor.randn([4, 32, 16, 32, 32], generator: &rng), w = Tensor.randn([32, 32, 3, 3, 3], std: 0.05, generator: &rng)
        x.requiresGrad = true
        w.requiresGrad = true
        var y = Tensor(zeros: [])
        func step() {
            x.grad = nil; w.grad = nil
            y = conv3d(x, w, padding: [1, 1, 1])
            y.sum().backward()
        }
        step()
        // An interior output voxel by its definition; d(sum y)/dx at an interior voxel is the sum
        // of the weights over output channels and taps.
        let (n, o, c, d, h, wd) = (1, 7, 5, 8, 10, 20)
        var voxel: Float = 0
        for i in 0..<32 { for tap in 0..<27 {
            let (kd, kh, kw) = (tap / 9, tap / 3 % 3, tap % 3)
            voxel += w.scalar(at: [o, i, kd, kh, kw]) * x.scalar(at: [n, i, d + kd - 1, h + kh - 1, wd + kw - 1])
        } }
        try validate("conv3d_fwd_bwd", [y.scalar(at: [n, o, d, h, wd])], [voxel], tolerance: 1e-3)
        let expected = (0..<32).reduce(Float(0)) { s, o in s + (0..<27).reduce(0) { $0 + w.scalar(at: [o, c, $1 / 9, $1 / 3 % 3, $1 % 3]) } }
        try validate("conv3d_fwd_bwd", [x.grad!.scalar(at: [2, c, d, h, wd])], [expected], tolerance: 1e-3)
        let ms = timing.medianMilliseconds(step)
        return [resultLine("conv3d_fwd_bwd", ms: ms, extra: ["gflops": 3 * conv3dForwardGFLOP / ms * 1e3])]
    }
}
