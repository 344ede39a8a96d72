// The causal depthwise 1-D convolution of a Mamba block (mamba-ssm's `conv1d(x)[..., :L]` with
// groups = channels and padding K − 1, or the fused
// `causal_conv1d_fn(x, weight, bias, activation="silu")`) over the row kernels of
// `CausalConvKernels`, with the optional SiLU inside, and its decoding step.

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
    guard let k = causalKernelSize(weight: weight, bias: bias, channels: channels, op: "causalConv1d") else { return .shapeFailure }
    let kernels = CausalConvKernels(batch: batch, channels: channels, length: length, kernelSize: k, silu: activation == .silu)
    let (weightShape, hasBias) = (weight.shape, bias != nil)
    // ONNX: a depthwise Conv padded by K − 1 on the left only, then SiLU as x · sigmoid(x).
    let conv = OpExport.Node("Conv", attributes: ["group": .int(channels), "pads": .ints([k - 1, 0]), "kernel_shape": .ints([k])])
    let export = activation == .none ? OpExport(nodes: [conv])
        : OpExport(nodes: [conv, .init("Sigmoid", inputs: [.node(0, output: 0)]),
                           .init("Mul", inputs: [.node(0, output: 0), .node(1, output: 0)])])
    return Tensor.op("causal_conv1d", inputs: [x, weight, bias], shape: x.shape, flops: 2 * batch * channels * length * k,
                     export: export) {
        let (xs, ws, bs) = (plain(x), plain(weight), bias.map(plain))
        let out = Tensor.make(shape: x.shape) { o in
            kernels.forward(x: first(xs), weight: first(ws), bias: bs.map(first), out: o.baseAddress!)
        }
        return (out, (xs, ws, bs))
    } pullback: { g, _, saved in
        let (xs, ws, bs) = saved
        let dout = g.contiguous()
        let dx = Tensor(zeros: g.shape), dw = Tensor(zeros: weightShape), db = Tensor(zeros: [channels])
        withExtendedLifetime(dout) {
            kernels.backward(x: first(xs), weight: first(ws), bias: bs.map(first), outputGradient: first(dout),
                             dx: dx.storage.pointer, dWeight: dw.storage.pointer, dBias: db.storage.pointer)
        }
        return [dx, dw, hasBias ? db : nil]
    }
}

/// One decoding step of ``causalConv1d(_:weight:bias:activation:)`` (causal-conv1d's
/// `causal_conv1d_update`): shifts `window` left by one in place, appends `x` and returns
/// act(bias[d] + Σ_k weight[d, k]·window[b, d, k]). Inference only: not differentiated.
///
/// - Parameters:
///   - x: (B, D), the new input of each row.
///   - window: (B, D, K), contiguous: the last K inputs of each row, oldest first; updated.
///   - weight: (D, 1, K) or (D, K); bias: (D), or nil.
/// - Returns: (B, D).
public func causalConv1dStep(_ x: Tensor, window: Tensor, weight: Tensor, bias: Tensor? = nil,
                             activation: CausalConvActivation = .none) -> Tensor {
    guard shapeCheck(x.rank == 2, "causalConv1dStep: input \(x.shape) is not (B, D)") else { return .shapeFailure }
    let (batch, channels) = (x.shape[0], x.shape[1])
    guard let k = causalKernelSize(weight: weight, bias: bias, channels: channels, op: "causalConv1dStep"),
          shapeCheck(window.shape == [batch, channels, k], "causalConv1dStep: window \(window.shape) is not \([batch, channels, k])")
    else { return .shapeFailure }
    require(window.isContiguous, "causalConv1dStep: window \(window.shape) must be contiguous (it is updated in place)")
    let kernels = CausalConvKernels(batch: batch, channels: channels, length: 1, kernelSize: k, silu: activation == .silu)
    return Tensor.op("causal_conv1d_step", inputs: [x, window, weight, bias], shape: [batch, channels]) {
        let (xs, ws, bs) = (x.contiguous(), weight.contiguous(), bias?.contiguous())
        return Tensor.make(shape: [batch, channels]) { out in
            withExtendedLifetime((xs, ws, bs)) {
                kernels.step(x: first(xs), window: window.storage.pointer + window.offset, weight: first(ws),
                             bias: bs.map(first), out: out.baseAddress!)
            }
        }
    }
}

/// K of a (D, 1, K) or (D, K) weight for `channels` channels with a (D) bias, or nil after a
/// failed shape check.
private func causalKernelSize(weight: Tensor, bias: Tensor?, channels: Int, op: String) -> Int? {
    let flatWeight = weight.rank == 3 && weight.shape[1] == 1 ? [weight.shape[0], weight.shape[2]] : weight.shape
    guard shapeCheck(flatWeight.count == 2 && flatWeight[0] == channels && flatWeight[1] > 0,
                     "\(op): weight \(weight.shape) is not (D, 1, K) or (D, K) for D = \(channels)"),
          shapeCheck(bias == nil || bias!.shape == [channels], "\(op): bias \(bias?.shape ?? []) is not (\(channels))")
    else { return nil }
    return flatWeight[1]
}

/// A contiguous copy of `t` (or `t` itself), detached.
private func plain(_ t: Tensor) -> Tensor { withoutGrad { t.contiguous().detached() } }

/// The first element of a contiguous tensor.
private func first(_ t: Tensor) -> UnsafePointer<Float> { UnsafePointer(t.storage.pointer + t.offset) }
