// Elementwise math on one tensor (exp, log, powers, trigonometry, clamping) and the power of two
// broadcast tensors, with PyTorch's gradients, including its conventions at kinks and poles.
//
// Every op is a kernel over `Elementwise.map/zip/zip3` with a closure literal (specialised, no
// per-element allocation or dynamic call) and a pullback that is one more such kernel over the
// output gradient and whatever the derivative needs (the input `x` or the result `y`).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Recording helpers shared by the elementwise families

extension Tensor {
    /// Applies `f` to every element and records a pullback computed from the output gradient and
    /// this tensor's (the input's) values; use it when the derivative is a function of `x`.
    ///
    ///     mappedSavingInput("sin", { sinf($0) }) { g, x in Elementwise.zip(g, x) { g, x in g * cosf(x) } }
    @inline(__always)
    func mappedSavingInput(_ op: String, _ f: (Float) -> Float,
                           pullback: @escaping (_ g: Tensor, _ x: Tensor) -> Tensor) -> Tensor {
        let x = detached()
        return Elementwise.map(self, f).recording(op, inputs: [self]) { g in [pullback(g, x)] }
    }

    /// Applies `f` to every element and records a pullback computed from the output gradient and
    /// the result `y`; use it when the derivative is cheaper from `y` (exp, sqrt, tanh, sigmoid).
    @inline(__always)
    func mappedSavingOutput(_ op: String, _ f: (Float) -> Float,
                            pullback: @escaping (_ g: Tensor, _ y: Tensor) -> Tensor) -> Tensor {
        let result = Elementwise.map(self, f)
        let y = result.detached()
        return result.recording(op, inputs: [self]) { g in [pullback(g, y)] }
    }

    /// ``mappedSavingInput(_:_:pullback:)`` with `f` evaluated eight lanes at a time.
    @inline(__always)
    func vectorMappedSavingInput(_ op: String, _ f: (FloatVector) -> FloatVector,
                                 pullback: @escaping (_ g: Tensor, _ x: Tensor) -> Tensor) -> Tensor {
        let x = detached()
        return Elementwise.mapVectors(self, f).recording(op, inputs: [self]) { g in [pullback(g, x)] }
    }

    /// ``mappedSavingOutput(_:_:pullback:)`` with `f` evaluated eight lanes at a time.
    @inline(__always)
    func vectorMappedSavingOutput(_ op: String, _ f: (FloatVector) -> FloatVector,
                                  pullback: @escaping (_ g: Tensor, _ y: Tensor) -> Tensor) -> Tensor {
        let result = Elementwise.mapVectors(self, f)
        let y = result.detached()
        return result.recording(op, inputs: [self]) { g in [pullback(g, y)] }
    }

    /// Broadcasts `lhs` and `rhs`, applies `f` elementwise and records a pullback whose two
    /// gradients are computed (only for inputs that need them) from the output gradient and the
    /// broadcast inputs `a`, `b`. Broadcasting is undone by `expanded(to:)`'s own pullback.
    @inline(__always)
    static func zippedSavingInputs(
        _ op: String, _ lhs: Tensor, _ rhs: Tensor, _ f: (Float, Float) -> Float,
        lhsGradient: @escaping (_ g: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor,
        rhsGradient: @escaping (_ g: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor
    ) -> Tensor {
        let (a, b) = broadcastPair(lhs, rhs, op: op)
        let (da, db) = (a.detached(), b.detached())
        return Elementwise.zip(a, b, f).recording(op, inputs: [a, b]) { g in
            [a.requiresGrad ? lhsGradient(g, da, db) : nil,
             b.requiresGrad ? rhsGradient(g, da, db) : nil]
        }
    }
}

// MARK: - Exponentials, logarithms and powers

extension Tensor {
    /// e raised to each element. Shape unchanged: (*) → (*).
    public func exp() -> Tensor {
        mappedSavingOutput("exp", { expf($0) }) { g, y in Elementwise.zip(g, y) { g, y in g * y } }
    }

    /// Natural logarithm of each element (−inf at 0, NaN below). (*) → (*).
    public func log() -> Tensor {
        mappedSavingInput("log", { logf($0) }) { g, x in Elementwise.zip(g, x) { g, x in g / x } }
    }

    /// Square root of each element (NaN below 0). (*) → (*).
    /// The gradient at 0 is +inf, as in PyTorch.
    public func sqrt() -> Tensor {
        mappedSavingOutput("sqrt", { sqrtf($0) }) { g, y in Elementwise.zip(g, y) { g, y in g / (2 * y) } }
    }

    /// Reciprocal square root `1 / √x` of each element. (*) → (*).
    public func rsqrt() -> Tensor {
        mappedSavingOutput("rsqrt", { 1 / sqrtf($0) }) { g, y in
            Elementwise.zip(g, y) { g, y in -0.5 * g * y * y * y }
        }
    }

    /// Each element raised to `exponent` (`torch.pow(x, exponent)`). (*) → (*).
    ///
    /// The gradient is `exponent · x^(exponent − 1)`, and exactly 0 everywhere when `exponent`
    /// is 0 (PyTorch's convention, even where `x` is 0).
    public func pow(_ exponent: Float) -> Tensor {
        let e = exponent
        switch e {
        case 2:
            return mappedSavingInput("pow", { $0 * $0 }) { g, x in Elementwise.zip(g, x) { g, x in g * 2 * x } }
        case 1:
            return mappedSavingInput("pow", { $0 }) { g, _ in g }
        case 0:
            return mappedSavingInput("pow", { _ in 1 }) { g, _ in Tensor(zeros: g.shape) }
        default:
            return mappedSavingInput("pow", { powf($0, e) }) { g, x in
                Elementwise.zip(g, x) { g, x in g * e * powf(x, e - 1) }
            }
        }
    }

    /// Each element raised to the matching element of `exponent`, broadcasting both
    /// (`torch.pow(x, exponent)`): (*A), (*B) → broadcast(*A, *B).
    ///
    /// Gradients follow PyTorch: with respect to the base `e · x^(e − 1)` (0 where `e` is 0);
    /// with respect to the exponent `x^e · ln x`, except 0 where `x` is 0 and `e ≥ 0`.
    public func pow(_ exponent: Tensor) -> Tensor {
        Tensor.zippedSavingInputs(
            "pow", self, exponent, { powf($0, $1) },
            lhsGradient: { g, x, e in
                Elementwise.zip3(g, x, e) { g, x, e in e == 0 ? 0 : g * e * powf(x, e - 1) }
            },
            rhsGradient: { g, x, e in
                Elementwise.zip3(g, x, e) { g, x, e in (x == 0 && e >= 0) ? 0 : g * powf(x, e) * logf(x) }
            })
    }

    /// Each element squared, `x · x`. (*) → (*).
    public func square() -> Tensor {
        mappedSavingInput("square", { $0 * $0 }) { g, x in Elementwise.zip(g, x) { g, x in g * 2 * x } }
    }

    /// `1 / x` for each element. (*) → (*).
    public func reciprocal() -> Tensor {
        mappedSavingOutput("reciprocal", { 1 / $0 }) { g, y in Elementwise.zip(g, y) { g, y in -g * y * y } }
    }
}

// MARK: - Sign, magnitude and clamping

extension Tensor {
    /// Absolute value of each element. (*) → (*). The gradient is `sign(x)`, so 0 at 0.
    public func abs() -> Tensor {
        mappedSavingInput("abs", { Swift.abs($0) }) { g, x in
            Elementwise.zip(g, x) { g, x in g * signum(x) }
        }
    }

    /// −1, 0 or 1 for negative, zero or positive elements (NaN stays NaN). (*) → (*).
    /// Piecewise constant: its gradient is zero everywhere (as in PyTorch, the input still
    /// receives a gradient, of zeros).
    public func sign() -> Tensor {
        mappedSavingInput("sign", signum) { g, _ in Tensor(zeros: g.shape) }
    }

    /// Each element limited to `[min, max]` (`torch.clamp`); either bound may be omitted, not
    /// both. (*) → (*). NaN stays NaN.
    ///
    /// The gradient passes strictly inside, where `min < x < max`, and is 0 elsewhere, at the
    /// bounds too, as in PyTorch. When `min > max` every element becomes `max`.
    public func clamped(min: Float? = nil, max: Float? = nil) -> Tensor {
        require(min != nil || max != nil, "clamped: give at least one of min and max (shape \(shape))")
        let lo = min ?? -.infinity, hi = max ?? .infinity
        return mappedSavingInput("clamped", { x in
            var v = x
            if v < lo { v = lo }
            if v > hi { v = hi }
            return v
        }) { g, x in
            Elementwise.zip(g, x) { g, x in (x > lo && x < hi) ? g : 0 }
        }
    }
}

/// −1, 0 or 1 by the sign of `x`; NaN for NaN (PyTorch's `sign`).
@inline(__always)
func signum(_ x: Float) -> Float {
    x > 0 ? 1 : (x < 0 ? -1 : (x.isNaN ? x : 0))
}

// MARK: - Trigonometry

extension Tensor {
    /// Sine of each element (radians). (*) → (*).
    public func sin() -> Tensor {
        mappedSavingInput("sin", { sinf($0) }) { g, x in Elementwise.zip(g, x) { g, x in g * cosf(x) } }
    }

    /// Cosine of each element (radians). (*) → (*).
    public func cos() -> Tensor {
        mappedSavingInput("cos", { cosf($0) }) { g, x in Elementwise.zip(g, x) { g, x in -g * sinf(x) } }
    }
}
