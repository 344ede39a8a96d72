import DeepCore

// Inputs for op tests: finite differences need inputs away from kinks and ties.

extension Tensor {
    /// Values of `shape` that are pairwise at least 0.05 apart, in a seeded random order: inputs
    /// for finite-difference checks of max/min-like ops, which need no near-ties.
    public static func distinctRandom(_ shape: [Int], seed: UInt64 = 0) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        var values = (0..<Shape.count(shape)).map { Float($0) * 0.05 - Float(Shape.count(shape)) * 0.025 }
        values.shuffle(using: &rng)
        return Tensor(values, shape: shape)
    }
}

/// Normal samples pushed at least 0.1 away from 0 (the kink of relu, abs, sign, ...).
public func awayFromZero(_ shape: [Int]) -> Tensor {
    awayFrom([0], shape)
}

/// Normal samples (scaled by 1.5) moved at least 0.1 away from every point in `kinks`, so
/// finite differences never straddle one.
public func awayFrom(_ kinks: [Float], _ shape: [Int]) -> Tensor {
    let values = Tensor.randn(shape, std: 1.5).scalars.map { v -> Float in
        var v = v
        for k in kinks where Swift.abs(v - k) < 0.1 { v += v < k ? -0.1 : 0.1 }
        return v
    }
    return Tensor(values, shape: shape)
}
