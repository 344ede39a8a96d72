// Branch-free exp, exp2, softplus, sigmoid, tanh, erf and erfc on eight Float32 lanes, for kernels whose inner loops
// would otherwise call scalar libm once per element (the selective scan, fused SiLU). Cephes'
// single-precision polynomials: relative error within a few ulp over the ranges documented.

/// Eight Float32 lanes: the vector unit of the fused kernels.
public typealias FloatVector = SIMD8<Float>

/// Vector transcendental functions on ``FloatVector``.
public enum VectorMath {
    /// eˣ per lane. Arguments are clamped to [−87, 88] (e⁻⁸⁷ ≈ 1.6e−38 stands in for smaller
    /// results; larger arguments saturate at e⁸⁸ ≈ 1.7e38 instead of +∞).
    @inlinable @inline(always)
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

    /// 2ʸ per lane, for y in [−125, 127] (clamped there): the fast exponential of the scan, whose
    /// callers fold log₂(e) into a factor they compute once. Relative error about 1e−7.
    /// With `clamping` false the caller guarantees y ∈ [−125, 127] and saves the clamp.
    @inlinable @inline(always)
    public static func exp2(_ y: FloatVector, clamping: Bool = true) -> FloatVector {
        var v = y
        if clamping {
            let lo = FloatVector(repeating: -125), hi = FloatVector(repeating: 127)
            v = v.replacing(with: lo, where: v .< lo)
            v = v.replacing(with: hi, where: v .> hi)
        }
        let magic = FloatVector(repeating: 12582912)
        let t = v + magic
        let f = v - (t - magic)                      // in [−½, ½]
        // 2^f = 1 + f·P(f), P a minimax fit on [−½, ½] (relative error 2e−9 before rounding).
        var p = f * 1.535335443321903e-4 + 1.3398874140700017e-3
        p = p * f + 9.618437378195224e-3
        p = p * f + 5.5503324718485e-2
        p = p * f + 2.4022647913515552e-1
        p = p * f + 6.931472028547077e-1
        p = p * f + 1
        let scale = unsafeBitCast(t, to: SIMD8<Int32>.self) &<< 23
        return unsafeBitCast(unsafeBitCast(p, to: SIMD8<Int32>.self) &+ scale, to: FloatVector.self)
    }

    /// softplus(x) = log(1 + eˣ) per lane and its derivative sigmoid(x), sharing one exponential:
    /// softplus = max(x, 0) + log1p(e^−|x|). Beyond x = 20 the result rounds to x and the
    /// derivative to 1, which is PyTorch's threshold rule.
    @inlinable @inline(always)
    public static func softplusAndDerivative(_ x: FloatVector) -> (value: FloatVector, derivative: FloatVector) {
        let absX = unsafeBitCast(unsafeBitCast(x, to: SIMD8<Int32>.self) & 0x7FFF_FFFF, to: FloatVector.self)
        let t = exp(-absX)                            // in (0, 1]
        // log1p(t) = t·q(t), q a minimax fit on [0, 1] (relative error 3e−8).
        var q = t * 5.2327198790841625e-3 - 2.9505378318030327e-2
        q = q * t + 7.822625028386142e-2
        q = q * t - 1.366327861838551e-1
        q = q * t + 1.9106026894104713e-1
        q = q * t - 2.4842989120984327e-1
        q = q * t + 3.3319098054034063e-1
        q = q * t - 4.9999493241358156e-1
        q = q * t + 9.999999699036708e-1
        let value = x.replacing(with: 0, where: x .< 0) + t * q
        let r = 1 / (1 + t)
        return (value, (t * r).replacing(with: r, where: x .>= 0))
    }

    /// softplus(x) = log(1 + eˣ) per lane (PyTorch's, threshold 20 included).
    @inlinable @inline(always)
    public static func softplus(_ x: FloatVector) -> FloatVector {
        softplusAndDerivative(x).value
    }

    /// The logistic sigmoid 1 / (1 + e⁻ˣ) per lane.
    @inlinable @inline(always)
    public static func sigmoid(_ x: FloatVector) -> FloatVector {
        1 / (1 + exp(-x))
    }

    /// The hyperbolic tangent per lane, as 1 − 2 / (e²ˣ + 1) (saturating at ±1).
    @inlinable @inline(always)
    public static func tanh(_ x: FloatVector) -> FloatVector {
        // For |x| < 0.625 the subtraction loses bits; an odd Taylor-like polynomial takes over.
        let e = exp(x + x)
        let big = 1 - 2 / (e + 1)
        let z = x * x
        // tanh x = x (1 + z·q(z)), Cephes' tanhf minimax for |x| < 0.625.
        var q = z * -5.70498872745e-3 + 2.06390887954e-2
        q = q * z - 5.37397155531e-2
        q = q * z + 1.33314422036e-1
        q = q * z - 3.33332819422e-1
        let small = x + x * z * q
        return big.replacing(with: small, where: z .< 0.390625)
    }

    /// erfc(|x|) for the lanes' magnitudes z = |x|, with relative error about 1e−7 for every z
    /// (Numerical Recipes' Chebyshev fit, `t = 1 / (1 + z/2)`).
    @inlinable @inline(always)
    static func erfcOfMagnitude(_ z: FloatVector) -> FloatVector {
        let t = 1 / (1 + 0.5 * z)
        var p = t * 0.17087277 - 0.82215223
        p = p * t + 1.48851587
        p = p * t - 1.13520398
        p = p * t + 0.27886807
        p = p * t - 0.18628806
        p = p * t + 0.09678418
        p = p * t + 0.37409196
        p = p * t + 1.00002368
        p = p * t - 1.26551223
        let a = p - z * z
        // Below e⁻⁸⁷ (z > 9.3) the result underflows to 0 instead of `exp`'s clamp value.
        return (t * exp(a)).replacing(with: 0, where: a .< -87)
    }

    /// erf(x) for |x| ≤ ½ from its Maclaurin series x·2/√π·Σ (−x²)ⁿ / (n! (2n + 1)) (seven terms,
    /// truncation error below 1e−9).
    @inlinable @inline(always)
    static func erfNearZero(_ x: FloatVector) -> FloatVector {
        let z = x * x
        var s = z * (-1.0 / 75600) + 1.0 / 9360
        s = s * z - 1.0 / 1320
        s = s * z + 1.0 / 216
        s = s * z - 1.0 / 42
        s = s * z + 1.0 / 10
        s = s * z - 1.0 / 3
        s = s * z + 1
        return x * s * 1.12837916709551257
    }

    /// The error function per lane, with absolute error below 1e−6 on the whole real line.
    @inlinable @inline(always)
    public static func erf(_ x: FloatVector) -> FloatVector {
        let absX = unsafeBitCast(unsafeBitCast(x, to: SIMD8<Int32>.self) & 0x7FFF_FFFF, to: FloatVector.self)
        let tail = 1 - erfcOfMagnitude(absX)
        let signed = tail.replacing(with: -tail, where: x .< 0)
        return signed.replacing(with: erfNearZero(x), where: absX .<= 0.5)
    }

    /// The standard normal CDF Φ(x) and e^(−x²/2) per lane, sharing one exponential, by
    /// Abramowitz–Stegun 7.1.26 (the approximation of PyTorch's vectorised `erf`, absolute error
    /// of Φ below 1e−7): with z = |x|/√2 and t = 1/(1 + p·z), ½·erfc(z) = ½·t·r(t)·e^(−z²), and
    /// Φ is that for x < 0 (no cancellation in the left tail) or 1 minus it. The exponential
    /// underflows to 0 below e⁻⁸⁷ instead of `exp`'s clamp value.
    @inlinable @inline(always)
    public static func normalCDFAndGaussian(_ x: FloatVector) -> (cdf: FloatVector, gaussian: FloatVector) {
        let absX = unsafeBitCast(unsafeBitCast(x, to: SIMD8<Int32>.self) & 0x7FFF_FFFF, to: FloatVector.self)
        let z = absX * 0.70710678118654752
        let t = 1 / (1 + 0.3275911 * z)
        var r = t * 1.061405429 - 1.453152027
        r = r * t + 1.421413741
        r = r * t - 0.284496736
        r = r * t + 0.254829592
        let zz = z * z
        let e = exp(-zz).replacing(with: 0, where: zz .> 87)
        let q = 0.5 * r * t * e
        return (q.replacing(with: 1 - q, where: x .>= 0), e)
    }

    /// The complementary error function 1 − erf(x) per lane, with relative error about 1e−7 for
    /// x ≥ 0 (no cancellation in the right tail) and absolute error below 1e−6 everywhere.
    @inlinable @inline(always)
    public static func erfc(_ x: FloatVector) -> FloatVector {
        let absX = unsafeBitCast(unsafeBitCast(x, to: SIMD8<Int32>.self) & 0x7FFF_FFFF, to: FloatVector.self)
        let e = erfcOfMagnitude(absX)
        let signed = e.replacing(with: 2 - e, where: x .< 0)
        return signed.replacing(with: 1 - erfNearZero(x), where: absX .<= 0.5)
    }

    /// Loads `count` (1...8) floats from `p`, zeros in the missing lanes.
    @inlinable @inline(always)
    public static func load(_ p: UnsafePointer<Float>, count: Int) -> FloatVector {
        if count >= FloatVector.scalarCount { return UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self) }
        var v = FloatVector.zero
        for j in 0..<count { v[j] = p[j] }
        return v
    }

    /// The eight floats p[0], p[2], …, p[14] (a stride-2 row); reads nothing past p[14]: the even
    /// lanes of the eight from p and the odd lanes of the eight from p + 7.
    @inline(__always)
    static func loadEveryOther(_ p: UnsafePointer<Float>) -> FloatVector {
        let low = UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self)
        let high = UnsafeRawPointer(p + 7).loadUnaligned(as: FloatVector.self)
        return FloatVector(lowHalf: low.evenHalf, highHalf: high.oddHalf)
    }

    /// Stores the first `count` (1...8) lanes of `v` at `p`.
    @inlinable @inline(always)
    public static func store(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count >= FloatVector.scalarCount {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: FloatVector.self)
            return
        }
        for j in 0..<count { p[j] = v[j] }
    }

    /// Sum of the lanes by halves (a shorter dependency chain than `sum()`).
    @inlinable @inline(always)
    public static func horizontalSum(_ v: FloatVector) -> Float {
        let four = v.lowHalf + v.highHalf
        let two = four.lowHalf + four.highHalf
        return two[0] + two[1]
    }

    /// Σ f(x[i]) over `count` floats: whole vectors eight lanes at a time into four independent
    /// sums (one sum would wait on each addition's latency: a 2 MB sum took 57 µs, four take a
    /// quarter), the rest one by one (`f` is applied to single floats through lane 0).
    @inlinable @inline(always)
    public static func sum(_ x: UnsafePointer<Float>, count: Int, _ f: (FloatVector) -> FloatVector) -> Float {
        let width = FloatVector.scalarCount
        var (a0, a1, a2, a3) = (FloatVector.zero, FloatVector.zero, FloatVector.zero, FloatVector.zero)
        var i = 0
        func vector(_ j: Int) -> FloatVector { f(UnsafeRawPointer(x + j).loadUnaligned(as: FloatVector.self)) }
        while i + 4 * width <= count {
            a0 += vector(i)
            a1 += vector(i + width)
            a2 += vector(i + 2 * width)
            a3 += vector(i + 3 * width)
            i += 4 * width
        }
        while i + width <= count {
            a0 += vector(i)
            i += width
        }
        var total = horizontalSum((a0 + a1) + (a2 + a3))
        while i < count {
            total += f(FloatVector(repeating: x[i]))[0]
            i += 1
        }
        return total
    }

    /// `out[i] = f(x[i])` for `count` floats, eight at a time (`out` may equal `x`).
    @inlinable @inline(always)
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
