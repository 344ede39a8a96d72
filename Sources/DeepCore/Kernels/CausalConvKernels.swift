#if canImport(Glibc)
import Glibc
#endif

// The causal depthwise 1-D convolution of a Mamba block over raw rows: forward (SiLU optionally
// fused), backward and one decoding step.
//
// Letters: B batch, D channels, L length, K kernel size. x, out: (B, D, L) contiguous; weight
// (D, K); bias (D).

/// Sizes of one causal depthwise convolution and its row kernels.
struct CausalConvKernels {
    let batch: Int, channels: Int, length: Int, kernelSize: Int
    /// Whether SiLU is applied to the convolution's output.
    let silu: Bool

    /// Runs `body(rows, scratch)` over chunks of the B·D rows in parallel (``Parallel``);
    /// `scratch` holds 2·(L + K) floats.
    func forEachUnit(_ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        Parallel.forEach(count: batch * channels, work: batch * channels * length * kernelSize) { rows in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * (length + kernelSize))
            defer { scratch.deallocate() }
            body(rows, scratch)
        }
    }

    /// Copies row `x` after K − 1 zeros into `padded` (L + K − 1 floats).
    func pad(_ x: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>) {
        padded.update(repeating: 0, count: kernelSize - 1)
        (padded + kernelSize - 1).update(from: x, count: length)
    }

    /// pre[t] = b + Σ_k w[k]·padded[t + k], eight steps at a time.
    func convolveRow(_ padded: UnsafePointer<Float>, _ w: UnsafePointer<Float>, bias: Float, into pre: UnsafeMutablePointer<Float>) {
        var t = 0
        while t < length {
            let n = Swift.min(8, length - t)
            var acc = FloatVector(repeating: bias)
            for k in 0..<kernelSize { acc += VectorMath.load(padded + t + k, count: n) * w[k] }
            VectorMath.store(acc, pre + t, count: n)
            t += 8
        }
    }

    /// out[b, d, t] = act(bias[d] + Σ_k weight[d, k]·x[b, d, t − K + 1 + k]), x = 0 before the start.
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        forEachUnit { rows, scratch in
            for row in rows {
                let d = row % channels
                pad(x + row * length, into: scratch)
                let o = out + row * length
                convolveRow(scratch, weight + d * kernelSize, bias: bias?[d] ?? 0, into: o)
                if silu { VectorMath.map(o, o, count: length) { $0 * VectorMath.sigmoid($0) } }
            }
        }
    }

    /// With dpre = dout·act'(pre): dx[t] = Σ_k w[k]·dpre[t + K − 1 − k], dw[k] = Σ_t dpre[t]·x[t − K + 1 + k],
    /// dbias = Σ_t dpre[t]; weight and bias gradients are summed over the batch. Writes every
    /// element of dx (B, D, L), dWeight (D, K) and dBias (D).
    func backward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                  outputGradient dout: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                  dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>) {
        let rows = batch * channels
        let slots = UnsafeMutablePointer<Float>.allocate(capacity: rows * (kernelSize + 1))   // per row: dw, db
        defer { slots.deallocate() }
        forEachUnit { range, scratch in
            let padded = scratch, dpre = scratch + length + kernelSize
            for row in range {
                let d = row % channels, w = weight + d * kernelSize
                pad(x + row * length, into: padded)
                let g = dout + row * length
                if silu {
                    convolveRow(padded, w, bias: bias?[d] ?? 0, into: dpre)
                    var t = 0
                    while t < length {
                        let n = Swift.min(8, length - t)
                        let p = VectorMath.load(dpre + t, count: n), s = VectorMath.sigmoid(p)
                        VectorMath.store(VectorMath.load(g + t, count: n) * s * (1 + p * (1 - s)), dpre + t, count: n)
                        t += 8
                    }
                } else {
                    dpre.update(from: g, count: length)
                }
                (dpre + length).update(repeating: 0, count: kernelSize - 1)
                let slot = slots + row * (kernelSize + 1)
                for k in 0..<kernelSize {
                    var acc: Float = 0
                    for t in 0..<length { acc += dpre[t] * padded[t + k] }
                    slot[k] = acc
                }
                var sum: Float = 0
                for t in 0..<length { sum += dpre[t] }
                slot[kernelSize] = sum
                let dxRow = dx + row * length
                for t in 0..<length {
                    var acc: Float = 0
                    for k in 0..<kernelSize { acc += w[k] * dpre[t + kernelSize - 1 - k] }
                    dxRow[t] = acc
                }
            }
        }
        for d in 0..<channels {
            for k in 0...kernelSize {
                var acc: Float = 0
                for b in 0..<batch { acc += slots[(b * channels + d) * (kernelSize + 1) + k] }
                if k < kernelSize { dWeight[d * kernelSize + k] = acc } else { dBias[d] = acc }
            }
        }
    }

    /// One decoding step for every (batch, channel) row (L = 1): shifts the row's window of the
    /// last K inputs, `window` (B, D, K), left by one in place, appends x (B, D), and writes
    /// act(bias + Σ_k weight[d, k]·window[k]) to out (B, D).
    func step(x: UnsafePointer<Float>, window: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>,
              bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let k = kernelSize
        for row in 0..<(batch * channels) {
            let s = window + row * k, d = row % channels, wd = weight + d * k
            for i in 0..<(k - 1) { s[i] = s[i + 1] }
            s[k - 1] = x[row]
            var acc = bias?[d] ?? 0
            for i in 0..<k { acc += s[i] * wd[i] }
            out[row] = silu ? acc / (1 + Float(exp(Double(-acc)))) : acc
        }
    }
}
