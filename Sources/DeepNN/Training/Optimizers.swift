import CVectorKernels
import DeepCore
#if canImport(Glibc)
import Glibc
#endif

/// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay, with
/// `torch.optim.SGD`'s update rule:
/// d = g + wd·p; b = μ·b + (1 − dampening)·d (b = d at the first step); d = d + μ·b (Nesterov)
/// or b; p -= lr·d. Each group's `momentum`, `dampening`, `nesterov` and `weightDecay` are read
/// at every step (a momentum of 0 is plain SGD; ``OneCycleLR`` cycles the momentum).
public final class SGD: Optimizer {
    /// The state buffers of ``update(_:gradient:state:group:)``.
    public override var stateBufferNames: Set<String>? { ["momentum_buffer"] }

    /// Creates the optimiser over `parameters`.
    public convenience init(_ parameters: [Tensor], learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                            nesterov: Bool = false, weightDecay: Float = 0) {
        self.init(groups: [ParameterGroup(parameters, learningRate: learningRate)], momentum: momentum,
                  dampening: dampening, nesterov: nesterov, weightDecay: weightDecay)
    }

    /// Creates the optimiser over parameter groups; the values given are the defaults of groups
    /// that set none.
    public init(groups: [ParameterGroup], momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false,
                weightDecay: Float = 0) {
        require(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov needs momentum and zero dampening")
        super.init(groups: groups, defaults: ParameterGroup([], learningRate: groups.first?.learningRate ?? 0, weightDecay: weightDecay,
                                                            momentum: momentum, dampening: dampening, nesterov: nesterov))
    }

    public override func update(_ parameter: Tensor, gradient: Tensor, state: inout [String: Tensor], group: ParameterGroup) {
        let lr = group.learningRate, wd = group.setting(\.weightDecay, "weight decay", of: self)
        let mu = group.setting(\.momentum, "momentum", of: self)
        if mu == 0 {
            forEachElement([parameter, gradient]) { n, q in
                let (p, g) = (q[0], q[1])
                for i in 0..<n { p[i] -= lr * (g[i] + wd * p[i]) }
            }
            return
        }
        let damp = group.setting(\.dampening, "dampening", of: self), nest = group.setting(\.nesterov, "nesterov", of: self)
        let first = state["momentum_buffer"] == nil
        let buf = buffer("momentum_buffer", in: &state, like: parameter)
        forEachElement([parameter, gradient, buf]) { n, q in
            // One loop per flag combination, so that no branch is left in the element loop.
            switch (first, nest) {
            case (false, false): SGD.momentumLoop(n, q, lr, wd, mu, damp, first: false, nesterov: false)
            case (false, true): SGD.momentumLoop(n, q, lr, wd, mu, damp, first: false, nesterov: true)
            case (true, false): SGD.momentumLoop(n, q, lr, wd, mu, damp, first: true, nesterov: false)
            case (true, true): SGD.momentumLoop(n, q, lr, wd, mu, damp, first: true, nesterov: true)
            }
        }
    }

    /// The momentum update over one row of `n` elements of (parameter, gradient, buffer) `q`.
    @inline(__always)
    private static func momentumLoop(_ n: Int, _ q: [UnsafeMutablePointer<Float>],
                                     _ lr: Float, _ wd: Float, _ mu: Float, _ damp: Float,
                                     first: Bool, nesterov: Bool) {
        let (p, g, b) = (q[0], q[1], q[2])
        for i in 0..<n {
            let d = g[i] + wd * p[i]
            b[i] = first ? d : mu * b[i] + (1 - damp) * d
            p[i] -= lr * (nesterov ? d + mu * b[i] : b[i])
        }
    }
}

/// Adam (`torch.optim.Adam`), with L2 weight decay added to the gradient, or AdamW's decoupled
/// decay (``AdamW``); optional AMSGrad. Each group's `betas`, `eps`, `weightDecay` and `amsgrad`
/// are read at every step (``OneCycleLR`` cycles β1).
public class Adam: Optimizer {
    /// The state buffers of ``update(_:gradient:state:group:)``.
    public override var stateBufferNames: Set<String>? { ["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"] }

    let decoupled: Bool

    /// Creates the optimiser over `parameters`.
    public convenience init(_ parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                            eps: Float = 1e-8, weightDecay: Float = 0, amsgrad: Bool = false) {
        self.init(groups: [ParameterGroup(parameters, learningRate: learningRate)], betas: betas, eps: eps,
                  weightDecay: weightDecay, amsgrad: amsgrad)
    }

    /// Creates the optimiser over parameter groups; the values given are the defaults of groups
    /// that set none.
    public convenience init(groups: [ParameterGroup], betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8,
                            weightDecay: Float = 0, amsgrad: Bool = false) {
        self.init(groups: groups, betas: betas, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad, decoupled: false)
    }

    init(groups: [ParameterGroup], betas: (Float, Float), eps: Float, weightDecay: Float, amsgrad: Bool, decoupled: Bool) {
        self.decoupled = decoupled
        super.init(groups: groups, defaults: ParameterGroup([], learningRate: groups.first?.learningRate ?? 0, weightDecay: weightDecay,
                                                            betas: betas, eps: eps, amsgrad: amsgrad))
    }

    public override func update(_ parameter: Tensor, gradient: Tensor, state: inout [String: Tensor], group: ParameterGroup) {
        let (b1, b2) = group.setting(\.betas, "betas", of: self)
        let eps = group.setting(\.eps, "eps", of: self), ams = group.setting(\.amsgrad, "amsgrad", of: self)
        let lr = group.learningRate, wd = group.setting(\.weightDecay, "weight decay", of: self)
        let stepTensor = state["step"] ?? Tensor(scalar: 0)
        state["step"] = stepTensor
        let t = stepTensor.item() + 1
        stepTensor.withUnsafeMutableBufferPointer { $0[0] = t }
        let m = buffer("exp_avg", in: &state, like: parameter)
        let v = buffer("exp_avg_sq", in: &state, like: parameter)
        let vMax = ams ? buffer("max_exp_avg_sq", in: &state, like: parameter) : v
        let decoupled = self.decoupled
        let bias1 = 1 - Float(pow(Double(b1), Double(t)))
        let bias2Sqrt = Float(sqrt(1 - pow(Double(b2), Double(t))))
        let stepSize = lr / bias1
        let step = ds_adam_step(lr: lr, wd: wd, b1: b1, b2: b2, eps: eps, stepSize: stepSize, bias2Sqrt: bias2Sqrt,
                                decoupled: decoupled ? 1 : 0, amsgrad: ams ? 1 : 0)
        forEachElement([parameter, gradient, m, v, vMax]) { n, q in
            // The vector kernel where the CPU has AVX2 or AVX-512 (same floats as the loops below).
            if withUnsafePointer(to: step, { ds_adam(q[0], q[1], q[2], q[3], q[4], n, $0) }) != 0 { return }
            // One loop per flag combination, so that no branch is left in the element loop.
            switch (decoupled, ams) {
            case (false, false): Adam.adamLoop(n, q, step, decoupled: false, amsgrad: false)
            case (false, true): Adam.adamLoop(n, q, step, decoupled: false, amsgrad: true)
            case (true, false): Adam.adamLoop(n, q, step, decoupled: true, amsgrad: false)
            case (true, true): Adam.adamLoop(n, q, step, decoupled: true, amsgrad: true)
            }
        }
    }

    /// The Adam update over one row of `n` elements of (parameter, gradient, m, v, max v) `q`.
    @inline(__always)
    private static func adamLoop(_ n: Int, _ q: [UnsafeMutablePointer<Float>],
                                 _ c: ds_adam_step, decoupled: Bool, amsgrad: Bool) {
        let (p, g, m, v, vm) = (q[0], q[1], q[2], q[3], q[4])
        let (b1, b2) = (c.b1, c.b2)
        for i in 0..<n {
            var gi = g[i]
            if decoupled { p[i] *= 1 - c.lr * c.wd } else { gi += c.wd * p[i] }
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            var second = v[i]
            if amsgrad { vm[i] = Swift.max(vm[i], v[i]); second = vm[i] }
            p[i] -= c.stepSize * m[i] / (second.squareRoot() / c.bias2Sqrt + c.eps)
        }
    }
}

/// AdamW (`torch.optim.AdamW`): Adam with decoupled weight decay p *= 1 − lr·wd (default 0.01).
public final class AdamW: Adam {
    /// Creates the optimiser over `parameters`.
    public convenience init(_ parameters: [Tensor], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                            eps: Float = 1e-8, weightDecay: Float = 1e-2, amsgrad: Bool = false) {
        self.init(groups: [ParameterGroup(parameters, learningRate: learningRate)], betas: betas, eps: eps,
                  weightDecay: weightDecay, amsgrad: amsgrad)
    }

    /// Creates the optimiser over parameter groups; the values given are the defaults of groups
    /// that set none.
    public init(groups: [ParameterGroup], betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8,
                weightDecay: Float = 1e-2, amsgrad: Bool = false) {
        super.init(groups: groups, betas: betas, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad, decoupled: true)
    }
}

/// RMSprop (`torch.optim.RMSprop`): s = α·s + (1 − α)·g²; centred variant subtracts the squared
/// mean gradient; p -= lr·g / (√s + eps), through a momentum buffer when momentum > 0. Each
/// group's `alpha`, `eps`, `momentum`, `centered` and `weightDecay` are read at every step.
public final class RMSprop: Optimizer {
    /// The state buffers of ``update(_:gradient:state:group:)``.
    public override var stateBufferNames: Set<String>? { ["square_avg", "grad_avg", "momentum_buffer"] }

    /// Creates the optimiser over `parameters`.
    public convenience init(_ parameters: [Tensor], learningRate: Float = 1e-2, alpha: Float = 0.99, eps: Float = 1e-8,
                            weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false) {
        self.init(groups: [ParameterGroup(parameters, learningRate: learningRate)], alpha: alpha, eps: eps,
                  weightDecay: weightDecay, momentum: momentum, centered: centered)
    }

    /// Creates the optimiser over parameter groups; the values given are the defaults of groups
    /// that set none.
    public init(groups: [ParameterGroup], alpha: Float = 0.99, eps: Float = 1e-8, weightDecay: Float = 0,
                momentum: Float = 0, centered: Bool = false) {
        super.init(groups: groups, defaults: ParameterGroup([], learningRate: groups.first?.learningRate ?? 0, weightDecay: weightDecay,
                                                            momentum: momentum, eps: eps, alpha: alpha, centered: centered))
    }

    public override func update(_ parameter: Tensor, gradient: Tensor, state: inout [String: Tensor], group: ParameterGroup) {
        let lr = group.learningRate, wd = group.setting(\.weightDecay, "weight decay", of: self)
        let alpha = group.setting(\.alpha, "alpha", of: self), eps = group.setting(\.eps, "eps", of: self)
        let mu = group.setting(\.momentum, "momentum", of: self), centered = group.setting(\.centered, "centered", of: self)
        let s = buffer("square_avg", in: &state, like: parameter)
        let ga = centered ? buffer("grad_avg", in: &state, like: parameter) : s
        let mb = mu > 0 ? buffer("momentum_buffer", in: &state, like: parameter) : s
        forEachElement([parameter, gradient, s, ga, mb]) { n, q in
            let (p, g, s, ga, b) = (q[0], q[1], q[2], q[3], q[4])
            for i in 0..<n {
                let gi = g[i] + wd * p[i]
                s[i] = alpha * s[i] + (1 - alpha) * gi * gi
                var avg: Float
                if centered {
                    ga[i] = alpha * ga[i] + (1 - alpha) * gi
                    avg = (s[i] - ga[i] * ga[i]).squareRoot() + eps
                } else {
                    avg = s[i].squareRoot() + eps
                }
                if mu > 0 {
                    b[i] = mu * b[i] + gi / avg
                    p[i] -= lr * b[i]
                } else {
                    p[i] -= lr * gi / avg
                }
            }
        }
    }
}
