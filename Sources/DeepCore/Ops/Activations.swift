// Activation functions as free functions (`relu(x)`, `gelu(x)`, ...), PyTorch's
// `torch.nn.functional` counterparts with the same defaults, values and gradients (including
// the gradient PyTorch picks at each kink). All keep the shape: (*) → (*).

import CVectorKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rectified linear unit `max(x, 0)` (NaN stays NaN). (*) → (*).
/// The gradient is 1 where `x > 0` and 0 elsewhere, including at 0.
public func relu(_ x: Tensor) -> Tensor {
    // Vector selects (NaN is not < 0, so it passes through, as in PyTorch).
    x.elementwise("relu", export: OpExport("Relu"), { Elementwise.mapVectors(x) { $0.replacing(with: 0, where: $0 .< 0) } }) { g, x, _ in
        Elementwise.zipVectors(g, x) { g, x in g.replacing(with: 0, where: x .<= 0) }
    }
}

/// Leaky ReLU: `x` where `x > 0`, else `negativeSlope · x`. (*) → (*).
/// At 0 the gradient is `negativeSlope`, as in PyTorch.
public func leakyRelu(_ x: Tensor, negativeSlope: Float = 0.01) -> Tensor {
    let slope = negativeSlope
    return x.elementwise("leakyRelu", export: OpExport("LeakyRelu", attributes: ["alpha": .float(slope)]), { Elementwise.map(x) { $0 > 0 ? $0 : $0 * slope } }) { g, x, _ in
        Elementwise.zip(g, x) { g, x in x > 0 ? g : g * slope }
    }
}

/// Exponential linear unit: `x` where `x > 0`, else `alpha · (eˣ − 1)`. (*) → (*).
/// At 0 the gradient is `alpha`, as in PyTorch.
public func elu(_ x: Tensor, alpha: Float = 1) -> Tensor {
    x.elementwise("elu", export: OpExport("Elu", attributes: ["alpha": .float(alpha)]), { Elementwise.map(x) { $0 > 0 ? $0 : alpha * expm1f($0) } }) { g, x, _ in
        Elementwise.zip(g, x) { g, x in x > 0 ? g : g * alpha * expf(x) }
    }
}

/// How ``gelu(_:approximation:)`` evaluates the Gaussian CDF (PyTorch's `approximate=`).
public enum GELUApproximation: Sendable {
    /// The exact CDF `Φ(x) = ½ (1 + erf(x / √2))` (`approximate='none'`).
    case none
    /// `½ (1 + tanh(√(2/π) (x + 0.044715 x³)))` (`approximate='tanh'`).
    case tanh
}

/// Gaussian error linear unit `x · Φ(x)`, exact or with the tanh approximation. (*) → (*).
public func gelu(_ x: Tensor, approximation: GELUApproximation = .none) -> Tensor {
    switch approximation {
    case .none:
        // x·Φ(x), and the derivative Φ(x) + x·φ(x) with φ(x) = e^(−x²/2)/√(2π) from the same
        // exponential; Φ without cancellation for x ≪ 0.
        let invSqrt2Pi: Float = 0.39894228040143268
        // The same formula runs in AVX2/AVX-512 where the CPU has it (CVectorKernels).
        return x.elementwise("gelu", export: .exactGELU, {
            Elementwise.mapNative(x) { ds_gelu($0, $1, $2) }
                ?? Elementwise.mapVectors(x) { x in x * VectorMath.normalCDFAndGaussian(x).cdf }
        }) { g, x, _ in
            Elementwise.zipNative(g, x) { ds_gelu_backward($0, $1, $2, $3) } ?? Elementwise.zipVectors(g, x) { g, x in
                let (cdf, gaussian) = VectorMath.normalCDFAndGaussian(x)
                return g * (cdf + x * invSqrt2Pi * gaussian)
            }
        }
    case .tanh:
        let beta: Float = 0.79788456080286536  // √(2/π)
        let kappa: Float = 0.044715
        return x.elementwise("gelu", export: .tanhGELU(beta: beta, kappa: kappa), {
            Elementwise.mapVectors(x) { x in 0.5 * x * (1 + VectorMath.tanh(beta * (x + kappa * x * x * x))) }
        }) { g, x, _ in
            Elementwise.zipVectors(g, x) { g, x in
                let t = VectorMath.tanh(beta * (x + kappa * x * x * x))
                let innerDerivative = beta * (1 + 3 * kappa * x * x)
                return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * innerDerivative)
            }
        }
    }
}

/// Logistic sigmoid `1 / (1 + e⁻ˣ)`, stable for large |x|. (*) → (*).
public func sigmoid(_ x: Tensor) -> Tensor {
    x.elementwise("sigmoid", export: OpExport("Sigmoid"), { Elementwise.mapVectors(x) { stableSigmoid($0) } }) { g, _, y in
        Elementwise.zipVectors(g, y) { g, y in g * y * (1 - y) }
    }
}

/// SiLU (swish) `x · sigmoid(x)`. (*) → (*).
public func silu(_ x: Tensor) -> Tensor {
    x.elementwise("silu", export: OpExport(nodes: [.init("Sigmoid"), .init("Mul", inputs: [.input(0), .node(0, output: 0)])]), { Elementwise.mapVectors(x) { $0 * stableSigmoid($0) } }) { g, x, _ in
        Elementwise.zipVectors(g, x) { g, x in
            let s = stableSigmoid(x)
            return g * s * (1 + x * (1 - s))
        }
    }
}

/// Hyperbolic tangent of each element. (*) → (*).
public func tanh(_ x: Tensor) -> Tensor {
    x.elementwise("tanh", export: OpExport("Tanh"), { Elementwise.mapVectors(x) { VectorMath.tanh($0) } }) { g, _, y in
        Elementwise.zipVectors(g, y) { g, y in g * (1 - y * y) }
    }
}

/// Softplus `log(1 + e^(βx)) / β`, and `x` itself where `βx > threshold` (PyTorch's
/// `F.softplus`, whose gradient there is exactly 1). (*) → (*).
/// - Parameter beta: sharpness β of the curve.
/// - Parameter threshold: above this value of `βx` the function is linear.
public func softplus(_ x: Tensor, beta: Float = 1, threshold: Float = 20) -> Tensor {
    // ONNX's Softplus has no threshold: above it log(1 + eᶻ) and z agree in Float32 anyway.
    x.elementwise("softplus", export: beta == 1 ? OpExport("Softplus") : OpExport(nodes: [
        .init("Mul", inputs: [.input(0), .scalar(beta)]), .init("Softplus", inputs: [.node(0, output: 0)]),
        .init("Div", inputs: [.node(1, output: 0), .scalar(beta)])]), {
        Elementwise.map(x) { x in
            let z = x * beta
            // log(1 + eᶻ) = max(z, 0) + log1p(e^−|z|), which never overflows.
            return z > threshold ? x : (Swift.max(z, 0) + log1pf(expf(-Swift.abs(z)))) / beta
        }
    }) { g, x, _ in
        Elementwise.zip(g, x) { g, x in
            let z = x * beta
            return z > threshold ? g : g * stableSigmoid(z)
        }
    }
}

/// Hard swish `x · min(max(x + 3, 0), 6) / 6` (MobileNetV3). (*) → (*).
/// Gradient as PyTorch: 0 up to −3, `x/3 + ½` strictly between −3 and 3, 1 from 3 on.
public func hardswish(_ x: Tensor) -> Tensor {
    x.elementwise("hardswish", export: OpExport("HardSwish"), { Elementwise.map(x) { x in x * Swift.min(Swift.max(x + 3, 0), 6) / 6 } }) { g, x, _ in
        Elementwise.zip(g, x) { g, x in x <= -3 ? 0 : (x < 3 ? g * (x / 3 + 0.5) : g) }
    }
}

/// `1 / (1 + e⁻ˣ)` computed from `e^−|x|`, so it neither overflows nor loses precision in the
/// tails.
@inline(__always)
func stableSigmoid(_ x: Float) -> Float {
    let e = expf(-Swift.abs(x))
    let s = 1 / (1 + e)
    return x >= 0 ? s : e * s
}

/// ``stableSigmoid(_:)-(Float)`` on eight lanes: the vector formula, with the scalar one for
/// vectors holding a lane beyond |x| = 80, where the vector exponential's clamping would show.
@inline(__always)
func stableSigmoid(_ x: FloatVector) -> FloatVector {
    let absX = unsafeBitCast(unsafeBitCast(x, to: SIMD8<Int32>.self) & 0x7FFF_FFFF, to: FloatVector.self)
    if any(absX .> 80) {
        var result = x
        for lane in 0..<FloatVector.scalarCount { result[lane] = stableSigmoid(x[lane]) }
        return result
    }
    return VectorMath.sigmoid(x)
}

extension OpExport {
    /// GELU as opset-17 nodes: x · ½ · (1 + erf(x / √2)).
    static var exactGELU: OpExport {
        OpExport(nodes: [
            .init("Mul", inputs: [.input(0), .scalar(0.70710678118654752)]),
            .init("Erf", inputs: [.node(0, output: 0)]),
            .init("Add", inputs: [.node(1, output: 0), .scalar(1)]),
            .init("Mul", inputs: [.input(0), .node(2, output: 0)]),
            .init("Mul", inputs: [.node(3, output: 0), .scalar(0.5)]),
        ])
    }

    /// GELU's tanh approximation as nodes: ½ · x · (1 + tanh(β · (x + κ · x³))).
    static func tanhGELU(beta: Float, kappa: Float) -> OpExport {
        OpExport(nodes: [
            .init("Mul", inputs: [.input(0), .input(0)]),
            .init("Mul", inputs: [.node(0, output: 0), .input(0)]),
            .init("Mul", inputs: [.node(1, output: 0), .scalar(kappa)]),
            .init("Add", inputs: [.input(0), .node(2, output: 0)]),
            .init("Mul", inputs: [.node(3, output: 0), .scalar(beta)]),
            .init("Tanh", inputs: [.node(4, output: 0)]),
            .init("Add", inputs: [.node(5, output: 0), .scalar(1)]),
            .init("Mul", inputs: [.input(0), .node(6, output: 0)]),
            .init("Mul", inputs: [.node(7, output: 0), .scalar(0.5)]),
        ])
    }
}
