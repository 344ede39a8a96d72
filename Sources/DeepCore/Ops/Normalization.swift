// Fused normalisation ops (LayerNorm, RMSNorm, GroupNorm, BatchNorm) with hand-written
// backward: one pass for statistics, one for the output, and the closed-form input gradient.
// Each op describes where its groups lie (a GroupLayout); the loops are in
// Kernels/NormalizationKernels.swift.

/// What the backward of ``normalize(_:weight:bias:eps:centered:layout:op:fixedStatistics:statisticsOut:)``
/// reads: the contiguous input, the affine weight (ones when absent) and each group's statistics.
private struct NormalizationSaved {
    let x: Tensor, weight: Tensor
    let mean: [Float], rstd: [Float]
    /// The bias of a pass that applied ReLU, nil otherwise.
    let rectifiedBias: Tensor?
}

/// "Normalise each group, then y = xhat·w + b" with the given layout (the loops are in
/// ``NormalizationKernels``). With `fixedStatistics` the mean and 1/std are given (evaluation
/// BatchNorm, read when the forward runs) and the input gradient is just w·rstd·g;
/// `statisticsOut` receives the batch statistics otherwise. With `rectified` (layouts with
/// `NormalizationKernels.rectifies`) the op is relu(y), in the same passes.
private func normalize(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, centered: Bool,
                       layout: GroupLayout, op: String, export: @autoclosure () -> OpExport? = nil,
                       fixedStatistics: (() -> (mean: [Float], rstd: [Float]))? = nil, rectified: Bool = false,
                       statisticsOut: ((_ mean: [Float], _ variance: [Float]) -> Void)? = nil) -> Tensor {
    let groups = layout.groups, frozen = fixedStatistics != nil
    let (weightShape, biasShape) = (weight?.shape, bias?.shape)
    return Tensor.op(op, inputs: [x, weight, bias], shape: x.shape, export: export()) {
        let xc = x.contiguous()
        // Absent affine parameters act as ones and zeros, so the loops need no optionals.
        let w = weight?.contiguous() ?? Tensor(ones: [layout.affineCount])
        let b = bias?.contiguous() ?? Tensor(zeros: [layout.affineCount])
        let out = Tensor.uninitialized(x.shape)
        let fixed = fixedStatistics?()
        var mean = fixed?.mean ?? [Float](repeating: 0, count: groups), rstd = fixed?.rstd ?? [Float](repeating: 0, count: groups)
        var variance = [Float](repeating: 0, count: groups)
        withExtendedLifetime((xc, w, b)) {
            NormalizationKernels.forward(xc.basePointer, weight: w.basePointer, bias: b.basePointer, layout, eps: eps,
                                         centered: centered, fixedStatistics: frozen, mean: &mean, rstd: &rstd,
                                         variance: &variance, rectified: rectified, into: out.basePointer)
        }
        if !frozen { statisticsOut?(mean, variance) }
        return (out, NormalizationSaved(x: xc.detached(), weight: w.detached(), mean: mean, rstd: rstd,
                                        rectifiedBias: rectified ? b.detached() : nil))
    } pullback: { gradOut, _, saved in
        let gc = gradOut.contiguous()
        let dx = Tensor.uninitialized(saved.x.shape)
        let dw = weightShape.map(Tensor.uninitialized), db = biasShape.map(Tensor.uninitialized)
        withExtendedLifetime((gc, saved)) {
            NormalizationKernels.backward(gc.basePointer, x: saved.x.basePointer, weight: saved.weight.basePointer, layout,
                                          mean: saved.mean, rstd: saved.rstd, centered: centered, frozen: frozen,
                                          rectifiedBias: saved.rectifiedBias.map { UnsafePointer($0.basePointer) },
                                          into: dx.basePointer, weightGradient: dw?.basePointer, biasGradient: db?.basePointer)
        }
        return [dx, dw, db]
    }
}

/// Layer normalisation over the trailing `normalizedShape` axes (`F.layer_norm`).
///
/// - Parameters:
///   - x: (…, *normalizedShape).
///   - weight, bias: (*normalizedShape), or nil.
/// - Returns: x's shape.
public func layerNorm(_ x: Tensor, normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil,
                      eps: Float = 1e-5) -> Tensor {
    rowNorm(x, normalizedShape: normalizedShape, weight: weight, bias: bias, eps: eps, centered: true, op: "layerNorm")
}

/// Root-mean-square normalisation over the trailing `normalizedShape` axes (`F.rms_norm`):
/// y = x / √(mean(x²) + eps) · weight. `eps` defaults to Float32's machine epsilon, as PyTorch.
///
/// - Parameters:
///   - x: (…, *normalizedShape).
///   - weight: (*normalizedShape), or nil.
public func rmsNorm(_ x: Tensor, normalizedShape: [Int], weight: Tensor? = nil, eps: Float? = nil) -> Tensor {
    rowNorm(x, normalizedShape: normalizedShape, weight: weight, bias: nil, eps: eps ?? Float.ulpOfOne,
            centered: false, op: "rmsNorm")
}

private func rowNorm(_ x: Tensor, normalizedShape: [Int], weight: Tensor?, bias: Tensor?, eps: Float,
                     centered: Bool, op: String) -> Tensor {
    let k = normalizedShape.count
    guard shapeCheck(x.rank >= k && Array(x.shape.suffix(k)) == normalizedShape,
               "\(op): input of shape \(x.shape) does not end in normalized shape \(normalizedShape)") else { return .shapeFailure }
    for p in [weight, bias].compactMap({ $0 }) {
        guard shapeCheck(p.shape == normalizedShape, "\(op): affine parameter of shape \(p.shape), expected \(normalizedShape)") else { return .shapeFailure }
    }
    let d = Shape.count(normalizedShape)
    let layout = GroupLayout(groups: d == 0 ? 0 : x.count / d, start: { $0 * d }, blocks: 1, blockLength: d,
                             blockStride: d, affineBase: { _ in 0 }, perElementAffine: true, affineRun: 1,
                             affineCount: d)
    return normalize(x, weight: weight, bias: bias, eps: eps, centered: centered, layout: layout, op: op,
                     export: centered ? .layerNorm(normalizedShape, weight: weight, bias: bias, eps: eps)
                                      : .rmsNorm(normalizedShape, weight: weight, eps: eps))
}

/// Group normalisation (`F.group_norm`): channels split into `groups`, each (sample, group)
/// normalised over its channels and spatial positions, then a per-channel affine transform.
///
/// - Parameters:
///   - x: (N, C, *) with C divisible by `groups`.
///   - weight, bias: (C), or nil.
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
    guard shapeCheck(x.rank >= 2 && groups > 0 && x.shape[1] % groups == 0,
               "groupNorm: input of shape \(x.shape) does not split into \(groups) channel groups") else { return .shapeFailure }
    let c = x.shape[1], spatial = x.shape.dropFirst(2).reduce(1, *)
    guard checkChannelParameters(weight, bias, channels: c, op: "groupNorm", input: x.shape) else { return .shapeFailure }
    let groupLength = c / groups * spatial
    let layout = GroupLayout(groups: x.shape[0] * groups, start: { $0 * groupLength }, blocks: 1,
                             blockLength: groupLength, blockStride: groupLength,
                             affineBase: { g in (g % groups) * (c / groups) }, perElementAffine: false,
                             affineRun: Swift.max(spatial, 1), affineCount: c)
    return normalize(x, weight: weight, bias: bias, eps: eps, centered: true, layout: layout, op: "groupNorm",
                     export: .groupNorm(x.shape, groups: groups, weight: weight, bias: bias, eps: eps))
}

private func checkChannelParameters(_ weight: Tensor?, _ bias: Tensor?, channels: Int, op: String, input: [Int]) -> Bool {
    [weight, bias].compactMap { $0 }.allSatisfy { p in
        shapeCheck(p.shape == [channels], "\(op): affine parameter of shape \(p.shape) for input \(input) with \(channels) channels")
    }
}

/// Batch normalisation (`F.batch_norm`) over axis 1 of (N, C, *).
///
/// In training (or without running statistics) each channel is normalised with its batch mean
/// and biased variance, and the running statistics, when given, are updated in place:
/// running = (1 − momentum)·running + momentum·batch (unbiased variance). In evaluation the
/// running statistics are used.
///
/// With `followedByReLU` the result is `relu(batchNorm(…))`, computed in BatchNorm's own passes
/// where the layout allows it (batch statistics on planes of 16 positions or more; elsewhere
/// the two ops run one after the other): the normalised values are not stored before the ReLU,
/// and the backward pass masks the gradient as it reads it.
///
/// - Parameters:
///   - x: (N, C, *).
///   - runningMean, runningVar: (C), or nil.
///   - weight, bias: (C), or nil.
public func batchNorm(_ x: Tensor, runningMean: Tensor?, runningVar: Tensor?, weight: Tensor? = nil,
                      bias: Tensor? = nil, training: Bool, momentum: Float = 0.1, eps: Float = 1e-5,
                      followedByReLU: Bool = false) -> Tensor {
    guard shapeCheck(x.rank >= 2, "batchNorm: input of shape \(x.shape) needs (N, C, ...)") else { return .shapeFailure }
    let (n, c) = (x.shape[0], x.shape[1])
    let spatial = x.shape.dropFirst(2).reduce(1, *)
    guard checkChannelParameters(weight, bias, channels: c, op: "batchNorm", input: x.shape) else { return .shapeFailure }
    for p in [runningMean, runningVar].compactMap({ $0 }) {
        guard shapeCheck(p.shape == [c], "batchNorm: running statistic of shape \(p.shape) for input \(x.shape)") else { return .shapeFailure }
    }
    let layout = GroupLayout(groups: c, start: { $0 * spatial }, blocks: n, blockLength: spatial,
                             blockStride: c * spatial, affineBase: { $0 }, perElementAffine: false,
                             affineRun: Swift.max(spatial, 1), affineCount: c, channelsOfImages: true)
    let useBatch = training || runningMean == nil || runningVar == nil
    if followedByReLU && !(useBatch && NormalizationKernels.rectifies(layout)) {
        return relu(batchNorm(x, runningMean: runningMean, runningVar: runningVar, weight: weight, bias: bias,
                              training: training, momentum: momentum, eps: eps))
    }
    if useBatch {
        // PyTorch's check and message: one value per channel has no variance to normalise by.
        guard shapeCheck(!training || n * spatial > 1,
                   "batchNorm: Expected more than 1 value per channel when training, got input size \(x.shape)") else { return .shapeFailure }
        return normalize(x, weight: weight, bias: bias, eps: eps, centered: true, layout: layout,
                         op: followedByReLU ? "batchNorm+relu" : "batchNorm", rectified: followedByReLU,
                         statisticsOut: { mean, variance in
            guard training, let runningMean, let runningVar else { return }
            let count = Float(n * spatial)
            let unbias = count > 1 ? count / (count - 1) : 1
            runningMean.withUnsafeMutableBufferPointer { rm in
                for i in 0..<c { rm[i] = (1 - momentum) * rm[i] + momentum * mean[i] }
            }
            runningVar.withUnsafeMutableBufferPointer { rv in
                for i in 0..<c { rv[i] = (1 - momentum) * rv[i] + momentum * variance[i] * unbias }
            }
        })
    }
    return normalize(x, weight: weight, bias: bias, eps: eps, centered: true, layout: layout, op: "batchNorm",
                     export: .batchNorm(channels: c, runningMean: runningMean!, runningVar: runningVar!,
                                        weight: weight, bias: bias, eps: eps),
                     fixedStatistics: { (runningMean!.scalars, runningVar!.scalars.map { 1 / ($0 + eps).squareRoot() }) })
}

extension OpExport {
    /// Evaluation BatchNorm as ONNX `BatchNormalization` over (x, scale, bias, mean, var); absent
    /// affine parameters become ones and zeros.
    static func batchNorm(channels: Int, runningMean: Tensor, runningVar: Tensor, weight: Tensor?, bias: Tensor?,
                          eps: Float) -> OpExport {
        OpExport("BatchNormalization",
                 inputs: [.input(0), .tensor(weight ?? Tensor(ones: [channels])), .tensor(bias ?? Tensor(zeros: [channels])),
                          .tensor(runningMean), .tensor(runningVar)],
                 attributes: ["epsilon": .float(eps)])
    }

    /// `LayerNormalization` over the trailing `normalizedShape` axes (opset 17).
    static func layerNorm(_ normalizedShape: [Int], weight: Tensor?, bias: Tensor?, eps: Float) -> OpExport {
        OpExport("LayerNormalization",
                 inputs: [.input(0), weight.map { _ in .input(1) } ?? .tensor(Tensor(ones: normalizedShape)),
                          bias.map { _ in .input(2) } ?? .absent],
                 attributes: ["axis": .int(-normalizedShape.count), "epsilon": .float(eps)])
    }

    /// RMSNorm as nodes: x / √(mean(x²) + eps) · weight, the mean over the trailing axes.
    static func rmsNorm(_ normalizedShape: [Int], weight: Tensor?, eps: Float) -> OpExport {
        let axes = Array(-normalizedShape.count..<0)
        var nodes: [Node] = [
            .init("Mul", inputs: [.input(0), .input(0)]),
            .init("ReduceMean", inputs: [.node(0, output: 0)], attributes: ["axes": .ints(axes), "keepdims": .int(1)]),
            .init("Add", inputs: [.node(1, output: 0), .scalar(eps)]),
            .init("Sqrt", inputs: [.node(2, output: 0)]),
            .init("Div", inputs: [.input(0), .node(3, output: 0)]),
        ]
        if weight != nil { nodes.append(.init("Mul", inputs: [.node(4, output: 0), .input(1)])) }
        return OpExport(nodes: nodes)
    }
}

extension OpExport {
    /// GroupNorm (and InstanceNorm, one group per channel) as nodes: x seen as (N, groups, rest),
    /// `InstanceNormalization` over each group, back to x's shape, then the per-channel affine.
    static func groupNorm(_ shape: [Int], groups: Int, weight: Tensor?, bias: Tensor?, eps: Float) -> OpExport {
        let channelShape = [shape[1]] + [Int](repeating: 1, count: shape.count - 2)
        var nodes: [Node] = [
            .init("Reshape", inputs: [.input(0), .shape([shape[0], groups, Shape.count(shape) / Swift.max(shape[0] * groups, 1)])]),
            .init("InstanceNormalization", inputs: [.node(0, output: 0), .tensor(Tensor(ones: [groups])), .tensor(Tensor(zeros: [groups]))],
                  attributes: ["epsilon": .float(eps)]),
            .init("Reshape", inputs: [.node(1, output: 0), .shape(shape)]),
        ]
        for (slot, opType) in [(1, "Mul"), (2, "Add")] where (slot == 1 ? weight : bias) != nil {
            nodes.append(.init("Reshape", inputs: [.input(slot), .int64s(channelShape)]))
            nodes.append(.init(opType, inputs: [.node(nodes.count - 2, output: 0), .node(nodes.count - 1, output: 0)]))
        }
        return OpExport(nodes: nodes)
    }
}
