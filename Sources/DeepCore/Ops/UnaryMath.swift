// Elementwise math on one tensor (exp, log, powers, trigonometry, clamping) and the power of two
// broadcast tensors, with PyTorch's gradients, including its conventions at kinks and poles.
//
// Every op is declared with `elementwise` (Ops/Elementwise.swift): a kernel over
// `Elementwise.map/zip/zip3` with a closure literal (specialised, no per-element allocation or
// dynamic call), and a gradient that is one more such kernel over the output gradient and
// whatever the derivative needs (the input `x` or the result `y`).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Exponentials, logarithms and powers

extension Tensor {
    /// e raised to each element. Shape unchanged: (*) → (*).
    public func exp() -> Tensor {
        elementwise("exp", export: OpExport("Exp"), { Elementwise.map(self) { expf($0) } }) { g, _, y in Elementwise.zip(g, y) { g, y in g * y } }
    }

    /// Natural logarithm of each element (−inf at 0, NaN below). (*) → (*).
    public func log() -> Tensor {
        elementwise("log", export: OpExport("Log"), { Elementwise.map(self) { logf($0) } }) { g, x, _ in Elementwise.zip(g, x) { g, x in g / x } }
    }

    /// Square root of each element (NaN below 0). (*) → (*).
    /// The gradient at 0 is +inf, as in PyTorch.
    public func sqrt() -> Tensor {
        elementwise("sqrt", export: OpExport("Sqrt"), { Elementwise.map(self) { sqrtf($0) } }) { g, _, y in Elementwise.zip(g, y) { g, y in g / (2 * y) } }
    }

    /// Reciprocal square root `1 / √x` of each element. (*) → (*).
    public func rsqrt() -> Tensor {
        elementwise("rsqrt", export: OpExport(nodes: [.init("Sqrt"), .init("Reciprocal", inputs: [.node(0, output: 0)])]), { Elementwise.map(self) { 1 / sqrtf($0) } }) { g, _, y in
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
            return elementwise("pow", { Elementwise.map(self) { $0 * $0 } }) { g, x, _ in Elementwise.zip(g, x) { g, x in g * 2 * x } }
        case 1:
            return elementwise("pow", { Elementwise.copy(self) }) { g, _, _ in g }
        case 0:
            return elementwise("pow", { Tensor(ones: shape) }) { g, _, _ in Tensor(zeros: g.shape) }
        default:
            return elementwise("pow", { Elementwise.map(self) { powf($0, e) } }) { g, x, _ in
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
        Tensor.elementwise(
            "pow", self, exponent, { x, e in Elementwise.zip(x, e) { powf($0, $1) } },
            lhsGradient: { g, x, e in
                Elementwise.zip3(g, x, e) { g, x, e in e == 0 ? 0 : g * e * powf(x, e - 1) }
            },
            rhsGradient: { g, x, e in
                Elementwise.zip3(g, x, e) { g, x, e in (x == 0 && e >= 0) ? 0 : g * powf(x, e) * logf(x) }
            })
    }

    /// Each element squared, `x · x`. (*) → (*).
    public func square() -> Tensor {
        elementwise("square", export: OpExport("Mul", inputs: [.input(0), .input(0)]), { Elementwise.map(self) { $0 * $0 } }) { g, x, _ in Elementwise.zip(g, x) { g, x in g * 2 * x } }
    }

    /// `1 / x` for each element. (*) → (*).
    public func reciprocal() -> Tensor {
        elementwise("reciprocal", export: OpExport("Reciprocal"), { Elementwise.map(self) { 1 / $0 } }) { g, _, y in Elementwise.zip(g, y) { g, y in -g * y * y } }
    }
}

// MARK: - Sign, magnitude and clamping

extension Tensor {
    /// Absolute value of each element. (*) → (*). The gradient is `sign(x)`, so 0 at 0.
    public func abs() -> Tensor {
        elementwise("abs", export: OpExport("Abs"), { Elementwise.map(self) { Swift.abs($0) } }) { g, x, _ in
            Elementwise.zip(g, x) { g, x in g * signum(x) }
        }
    }

    /// −1, 0 or 1 for negative, zero or positive elements (NaN stays NaN). (*) → (*).
    /// Piecewise constant: its gradient is zero everywhere (as in PyTorch, the input still
    /// receives a gradient, of zeros).
    public func sign() -> Tensor {
        elementwise("sign", { Elementwise.map(self) { signum($0) } }) { g, _, _ in Tensor(zeros: g.shape) }
    }

    /// Each element limited to `[min, max]` (`torch.clamp`); either bound may be omitted, not
    /// both. (*) → (*). NaN stays NaN.
    ///
    /// The gradient passes strictly inside, where `min < x < max`, and is 0 elsewhere, at the
    /// bounds too, as in PyTorch. When `min > max` every element becomes `max`.
    public func clamped(min: Float? = nil, max: Float? = nil) -> Tensor {
        require(min != nil || max != nil, "clamped: give at least one of min and max (shape \(shape))")
        let lo = min ?? -.infinity, hi = max ?? .infinity
        return elementwise("clamped", {
            Elementwise.map(self) { x in
                var v = x
                if v < lo { v = lo }
                if v > hi { v = hi }
                return v
            }
        }) { g, x, _ in
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
        elementwise("sin", export: OpExport("Sin"), { Elementwise.map(self) { sinf($0) } }) { g, x, _ in Elementwise.zip(g, x) { g, x in g * cosf(x) } }
    }

    /// Cosine of each element (radians). (*) → (*).
    public func cos() -> Tensor {
        elementwise("cos", export: OpExport("Cos"), { Elementwise.map(self) { cosf($0) } }) { g, x, _ in Elementwise.zip(g, x) { g, x in -g * sinf(x) } }
    }
}
