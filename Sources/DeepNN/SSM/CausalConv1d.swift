import DeepCore

// The causal depthwise 1-D convolution of a Mamba block (mamba-ssm's
// `conv1d(x)[..., :L]` with groups = channels and padding K − 1, or the fused
// `causal_conv1d_fn(x, weight, bias, activation="silu")`): a fused kernel over raw rows with the
// optional SiLU inside, its backward, and the module holding the parameters.

/// The activation fused into ``causalConv1d(_:weight:bias:activation:)``.
public enum CausalConvActivation {
    /// None: the convolution alone.
    case none
    /// SiLU, x·sigmoid(x), on the convolution's output.
    case silu
}

/// Causal depthwise convolution: out[b, d, t] = act(bias[d] + Σ_k weight[d, k]·x[b, d, t − K + 1 + k]),
/// with x = 0 before the sequence start, so no output sees a later input.
///
/// - Parameters:
///   - x: (B, D, L).
///   - weight: (D, 1, K) as `nn.Conv1d(D, D, K, groups: D)` stores it, or (D, K).
///   - bias: (D), or nil.
///   - activation: `.silu` to fuse SiLU into the output.
/// - Returns: (B, D, L).
public func causalConv1d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil,
                         activation: CausalConvActivation = .none) -> Tensor {
    guard shapeCheck(x.rank == 3, "causalConv1d: input \(x.shape) is not (B, D, L)") else { return .shapeFailure }
    let (batch, channels, length) = (x.shape[0], x.shape[1], x.shape[2])
    let flatWeight = weight.rank == 3 && weight.shape[1] == 1 ? [weight.shape[0], weight.shape[2]] : weight.shape
    guard shapeCheck(flatWeight.count == 2 && flatWeight[0] == channels && flatWeight[1] > 0,
                     "causalConv1d: weight \(weight.shape) is not (D, 1, K) or (D, K) for D = \(channels)"),
          shapeCheck(bias == nil || bias!.shape == [channels], "causalConv1d: bias \(bias?.shape ?? []) is not (\(channels))")
    else { return .shapeFailure }
    let k = flatWeight[1]
    if let meta = Tensor.metaResult(x.shape, x, weight, bias) {
        FlopCounter.add(2 * batch * channels * length * k)
        return meta
    }
    func plain(_ t: Tensor) -> Tensor { withoutGrad { t.contiguous().detached() } }
    let (xs, ws, bs) = (plain(x), plain(weight), bias.map(plain))
    let geometry = CausalConvKernel(batch: batch, channels: channels, length: length, kernelSize: k, silu: activation == .silu)
    let out = Tensor.make(shape: x.shape) { o in
        geometry.forward(x: pointer(xs), weight: pointer(ws), bias: bs.map(pointer), out: o.baseAddress!)
    }
    let inputs = [x, weight] + (bias.map { [$0] } ?? [])
    return out.recording("causal_conv1d", inputs: inputs) { g in
        let dout = g.contiguous()
        let dx = Tensor(zeros: x.shape), dw = Tensor(zeros: weight.shape), db = Tensor(zeros: [channels])
        geometry.backward(x: pointer(xs), weight: pointer(ws), bias: bs.map(pointer), outputGradient: pointer(dout),
                          dx: dx.storage.pointer, dWeight: dw.storage.pointer, dBias: db.storage.pointer)
        return bias == nil ? [dx, dw] : [dx, dw, db]
    }
}

/// The first element of a contiguous tensor.
private func pointer(_ t: Tensor) -> UnsafePointer<Float> { UnsafePointer(t.storage.pointer + t.offset) }

/// Sizes of one causal depthwise convolution and its row kernels (x, out: (B, D, L) contiguous;
/// weight (D, K)).
private struct CausalConvKernel {
    let batch: Int, channels: Int, length: Int, kernelSize: Int
    let silu: Bool

    /// Runs `body(rows, scratch)` over chunks of the B·D rows in parallel (DeepCore's ``DeepCore/Parallel``);
    /// `scratch` holds 2·(L + K) floats.
    func forEachUnit(_ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        DeepCore.Parallel.forEach(count: batch * channels, work: batch * channels * length * kernelSize) { rows in
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
    /// dbias = Σ_t dpre[t]; weight and bias gradients are summed over the batch.
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
}

/// The depthwise causal convolution of a Mamba block as a layer: `weight` (D, 1, K) and `bias`
/// (D), the state-dict layout of mamba-ssm's `conv1d` (`nn.Conv1d(D, D, K, groups: D,
/// padding: K − 1)` cut to the first L outputs), initialised like PyTorch's Conv1d (uniform in
/// ±1/√K for both). Shape: (B, D, L) → (B, D, L).
public final class CausalDepthwiseConv1d: Module {
    /// (D, 1, K).
    public let weight: Tensor
    /// (D), or nil.
    public let bias: Tensor?
    /// The activation fused into the output (none in the state dict).
    public let activation: CausalConvActivation

    /// Creates the layer for `channels` channels and kernel size `kernelSize`.
    public init(channels: Int, kernelSize: Int, bias: Bool = true, activation: CausalConvActivation = .none) {
        weight = Tensor(zeros: [channels, 1, kernelSize])
        self.bias = bias ? Tensor(zeros: [channels]) : nil
        self.activation = activation
        super.init()
        initializeLayerWeights(weight, self.bias, generator: &DefaultRandom.generator)
    }

    /// (B, D, L) → (B, D, L).
    public override func forward(_ x: Tensor) -> Tensor {
        causalConv1d(x, weight: weight, bias: bias, activation: activation)
    }
}
