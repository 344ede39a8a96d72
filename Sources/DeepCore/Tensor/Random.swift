/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64): the same seed
/// gives the same numbers on every run and machine.
public struct RandomGenerator: RandomNumberGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// Creates a generator whose stream is fixed by `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// The generator's whole state, to save in a checkpoint.
    public var state: [UInt64] {
        get { [s.0, s.1, s.2, s.3] }
        set {
            require(newValue.count == 4, "RandomGenerator.state: expected 4 words, got \(newValue.count)")
            s = (newValue[0], newValue[1], newValue[2], newValue[3])
        }
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// A uniform Float in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A pair of independent standard normal samples (Box–Muller).
    public mutating func nextNormalPair() -> (Float, Float) {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u1 = 1 - Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let r = (-2 * _log(u1)).squareRoot()
        return (Float(r * _cos(2 * .pi * u2)), Float(r * _sin(2 * .pi * u2)))
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Glibc.sin(x) }
#endif

/// The library's default generator, used where no generator is passed (layer initialisation).
/// Reseed it with ``manualSeed(_:)`` for reproducible runs.
public enum DefaultRandom {
    nonisolated(unsafe) public static var generator = RandomGenerator(seed: 0)
}

/// Reseeds the default generator (PyTorch's `torch.manual_seed`).
public func manualSeed(_ seed: UInt64) {
    DefaultRandom.generator = RandomGenerator(seed: seed)
}

extension Tensor {
    /// Samples uniformly from `[low, high)`.
    public static func rand(_ shape: [Int], low: Float = 0, high: Float = 1,
                            generator: inout RandomGenerator) -> Tensor {
        make(shape: shape) { out in
            for i in out.indices { out[i] = low + (high - low) * generator.nextUniform() }
        }
    }

    /// Samples uniformly from `[low, high)` with the default generator.
    public static func rand(_ shape: [Int], low: Float = 0, high: Float = 1) -> Tensor {
        rand(shape, low: low, high: high, generator: &DefaultRandom.generator)
    }

    /// Samples from a normal distribution.
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1,
                             generator: inout RandomGenerator) -> Tensor {
        make(shape: shape) { out in
            var i = 0
            while i < out.count {
                let (z0, z1) = generator.nextNormalPair()
                out[i] = mean + std * z0
                if i + 1 < out.count { out[i + 1] = mean + std * z1 }
                i += 2
            }
        }
    }

    /// Samples from a normal distribution with the default generator.
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1) -> Tensor {
        randn(shape, mean: mean, std: std, generator: &DefaultRandom.generator)
    }
}
