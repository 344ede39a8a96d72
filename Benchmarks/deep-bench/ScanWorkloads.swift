import DeepCore
import DeepNN
import Foundation

extension Workloads {
    /// Mamba's selective scan as `torch_bench.py` times it: u, delta (8, 256, 256), A (256, 16),
    /// B, C (8, 16, 256), D (256), softplus on delta, no z, no bias; forward, then the backward of
    /// y.sum() to all six inputs. Validated against the recurrence and its adjoint written out in
    /// Double, state by state, before timing.
    static let selectiveScanFwdBwd = Workload(name: "selective_scan_fwd_bwd") { timing in
        let (batch, channels, length, stateSize) = (8, 256, 256, 16)
        var rng = RandomGenerator(seed: 0)
        let u = Tensor.randn([batch, channels, length], generator: &rng)
        let delta = Tensor.randn([batch, channels, length], generator: &rng)
        let A = -Tensor.rand([channels, stateSize], generator: &rng)
        let B = Tensor.randn([batch, stateSize, length], generator: &rng)
        let C = Tensor.randn([batch, stateSize, length], generator: &rng)
        let D = Tensor.randn([channels], generator: &rng)
        let inputs = [u, delta, A, B, C, D]
        for t in inputs { t.requiresGrad = true }
        func step() {
            selectiveScan(u, delta, A, B, C, D, deltaSoftplus: true).sum().backward()
        }

        let y = selectiveScan(u, delta, A, B, C, D, deltaSoftplus: true)
        y.sum().backward()
        let reference = NaiveSelectiveScan(u: u, delta: delta, A: A, B: B, C: C, D: D)
        try validate("selective_scan_fwd_bwd output", y.scalars, reference.output)
        for (i, name) in ["u", "delta", "A", "B", "C", "D"].enumerated() {
            try validate("selective_scan_fwd_bwd gradient of \(name)", inputs[i].grad!.scalars, reference.gradients[i])
        }

        let ms = timing.medianMilliseconds(step)
        let elements = Double(batch * channels * length * stateSize)
        // Per state element and step, counting each exp as one operation: forward 7 (Δ·A, exp,
        // ·h, +, B·Δu, ·C, +); backward 5 to recompute the state, 15 for the adjoint.
        let flops = elements * (7 + 5 + 15)
        return [resultLine("selective_scan_fwd_bwd", ms: ms,
                           extra: ["gflops": flops / ms / 1e6, "state_elements_per_ns": elements / ms / 1e6])]
    }
}

/// The selective scan (softplus on delta, D, no z, no bias) and the gradients of y.sum(), by the
/// definition: every state stored, the adjoint recurrence run backwards, all in Double.
private struct NaiveSelectiveScan {
    var output: [Float] = []
    /// Gradients of u, delta, A, B, C, D, row-major.
    var gradients: [[Float]] = []

    init(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor) {
        let (bt, dm, l, n) = (u.shape[0], u.shape[1], u.shape[2], A.shape[1])
        let (us, ds, As, Bs, Cs, Ds) = (u.scalars, delta.scalars, A.scalars, B.scalars, C.scalars, D.scalars)
        var out = [Float](repeating: 0, count: bt * dm * l)
        var du = out, dDelta = out
        var dA = [Double](repeating: 0, count: dm * n), dB = [Double](repeating: 0, count: bt * n * l)
        var dC = dB, dD = [Double](repeating: 0, count: dm)
        var h = [Double](repeating: 0, count: (l + 1) * n)   // h[t + 1] is the state after step t
        for b in 0..<bt {
            for d in 0..<dm {
                let row = (b * dm + d) * l
                var dt = [Double](repeating: 0, count: l)
                for t in 0..<l {
                    let raw = Double(ds[row + t])
                    dt[t] = raw > 20 ? raw : Foundation.log1p(Foundation.exp(raw))
                    var y = Double(Ds[d]) * Double(us[row + t])
                    for i in 0..<n {
                        let bIndex = (b * n + i) * l + t
                        h[(t + 1) * n + i] = Foundation.exp(dt[t] * Double(As[d * n + i])) * h[t * n + i]
                            + dt[t] * Double(Bs[bIndex]) * Double(us[row + t])
                        y += h[(t + 1) * n + i] * Double(Cs[bIndex])
                    }
                    out[row + t] = Float(y)
                }
                var dh = [Double](repeating: 0, count: n)
                for t in stride(from: l - 1, through: 0, by: -1) {
                    let x = Double(us[row + t])
                    var gu = Double(Ds[d]), gdt = 0.0
                    dD[d] += x
                    for i in 0..<n {
                        let bIndex = (b * n + i) * l + t
                        let a = Double(As[d * n + i]), decay = Foundation.exp(dt[t] * a)
                        dh[i] += Double(Cs[bIndex])
                        dC[bIndex] += h[(t + 1) * n + i]
                        dB[bIndex] += dh[i] * dt[t] * x
                        gu += dh[i] * dt[t] * Double(Bs[bIndex])
                        gdt += dh[i] * (Double(Bs[bIndex]) * x + a * decay * h[t * n + i])
                        dA[d * n + i] += dh[i] * dt[t] * decay * h[t * n + i]
                        dh[i] *= decay
                    }
                    let raw = Double(ds[row + t])
                    du[row + t] = Float(gu)
                    dDelta[row + t] = Float(raw > 20 ? gdt : gdt / (1 + Foundation.exp(-raw)))
                }
            }
        }
        output = out
        gradients = [du, dDelta, dA.map(Float.init), dB.map(Float.init), dC.map(Float.init), dD.map(Float.init)]
    }
}
