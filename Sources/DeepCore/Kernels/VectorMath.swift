// Branch-free exp, log, softplus and sigmoid on eight Float32 lanes, for kernels whose inner loops
// would otherwise call scalar libm once per element (the selective scan, fused SiLU). Cephes'
// single-precision polynomials: relative error within a few ulp over the ranges documented.

/// Eight Float32 lanes: the vector unit of the fused kernels.
public typealias FloatVector = SIMD8<Float>

/// Vector transcendental functions on ``FloatVector``.
public enum VectorMath {
    /// eˣ per lane. Arguments are clamped to [−87, 88] (e⁻⁸⁷ ≈ 1.6e−38 stands in for smaller
    /// results; larger arguments saturate at e⁸⁸ ≈ 1.7e38 instead of +∞).
    @inlinable @inline(__always)
    public static func exp(_ x: FloatVector) -> FloatVector {
        let lo = FloatVector(repeating: -87), hi = FloatVector(repeating: 88)
        var v = x.replacing(with: lo, where: x .< lo)
        v = v.replacing(with: hi, where: v .> hi)
        // Round v·log2(e) to the nearest integer n with the 1.5·2²³ trick: the low mantissa bits
        // of t then hold n in two's complement.
        let magic = FloatVector(repeating: 12582912)
        let t = v * 1.44269504088896341 + magic
        let n = t - magic
        let r = (v - n * 0.693359375) - n * -2.12194440e-4
        var p = r * 1.9875691500e-4 + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        p = p * (r * r) + r + 1
        // Scale by 2ⁿ: add n to the exponent field (the magic's own bits shift out).
        let scale = unsafeBitCast(t, to: SIMD8<Int32>.self) &<< 23
        return unsafeBitCast(unsafeBitCast(p, to: SIMD8<Int32>.self) &+ scale, to: FloatVector.self)
    }

    /// Natural logarithm per lane, for positive normal arguments.
    @inlinable @inline(__always)
    public static func log(_ x: FloatVector) -> FloatVector {
        let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
        // x = m·2^e with m in [0.5, 1).
        var e = FloatVector((bits &>> 23) &- 126)
        var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: FloatVector.self)
        let small = m .< 0.707106781186547524
        e = e.replacing(with: e - 1, where: small)
        m = m.replacing(with: m + m, where: small) - 1
        let z = m * m
        var y = m * 7.0376836292e-2 - 1.1514610310e-1
        y = y * m + 1.1676998740e-1
        y = y * m - 1.2420140846e-1
        y = y * m + 1.4249322787e-1
        y = y * m - 1.6668057665e-1
        y = y * m + 2.0000714765e-1
        y = y * m - 2.4999993993e-1
        y = y * m + 3.3333331174e-1
        y = y * m * z
        y = y + e * -2.12194440e-4 - z * 0.5
        return (m + y) + e * 0.693359375
    }

    /// softplus(x) = log(1 + eˣ) per lane, and x itself where x > `threshold` (PyTorch's rule).
    /// Accurate for very negative x too (log1p, not log(1 + ·)).
    @inlinable @inline(__always)
    public static func softplus(_ x: FloatVector, threshold: Float = 20) -> FloatVector {
        let e = exp(x.replacing(with: FloatVector(repeating: threshold), where: x .> threshold))
        let w = 1 + e
        // log1p(e) = log(w)·e/(w − 1), exact where w rounds to 1 (Goldberg's trick).
        let roundsToOne = w .== 1
        let safeDenominator = (w - 1).replacing(with: 1, where: roundsToOne)
        let lp = (log(w) * e / safeDenominator).replacing(with: e, where: roundsToOne)
        return lp.replacing(with: x, where: x .> threshold)
    }

    /// The logistic sigmoid 1 / (1 + e⁻ˣ) per lane.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: FloatVector) -> FloatVector {
        1 / (1 + exp(-x))
    }

    /// Loads `count` (1...8) floats from `p`, zeros in the missing lanes.
    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>, count: Int) -> FloatVector {
        if count >= FloatVector.scalarCount { return UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self) }
        var v = FloatVector.zero
        for i in 0..<count { v[i] = p[i] }
        return v
    }

    /// Stores the first `count` (1...8) lanes of `v` at `p`.
    @inlinable @inline(__always)
    public static func store(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count >= FloatVector.scalarCount {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: FloatVector.self)
            return
        }
        for i in 0..<count { p[i] = v[i] }
    }

    /// `out[i] = f(x[i])` for `count` floats, eight at a time (`out` may equal `x`).
    @inlinable @inline(__always)
    public static func map(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int,
                           _ f: (FloatVector) -> FloatVector) {
        var i = 0
        while i < count {
            let k = Swift.min(FloatVector.scalarCount, count - i)
            store(f(load(x + i, count: k)), out + i, count: k)
            i += FloatVector.scalarCount
        }
    }
}
