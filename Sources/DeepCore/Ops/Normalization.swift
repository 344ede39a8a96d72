// Fused normalisation ops (LayerNorm, RMSNorm, GroupNorm, BatchNorm) with hand-written
// backward: one pass for statistics, one for the output, and the closed-form input gradient.

/// A contiguous row-major copy's base pointer (the tensor must be contiguous).
@inline(__always)
private func base(_ t: Tensor) -> UnsafeMutablePointer<Float> { t.storage.pointer + t.offset }

/// Where the elements of each normalisation group lie and which affine parameter each uses.
///
/// Group g's elements start at `g·groupStride` (after the outer split, see `start`) in `blocks`
/// runs of `blockLength` contiguous elements `blockStride` apart. Within a run, element i uses
/// affine index `affineBase(g) + i` when `perElementAffine`, else `affineBase(g) + i / affineRun`.
private struct GroupLayout {
    var groups: Int
    var start: (Int) -> Int
    var blocks: Int
    var blockLength: Int
    var blockStride: Int
    var affineBase: (Int) -> Int
    var perElementAffine: Bool
    var affineRun: Int

    /// Calls `body(range, affineIndexOfRangeStart, step)` over one run: `step` is 1 when the
    /// affine index advances with the element, 0 when it is constant over the range.
    @inline(__always)
    func forEachAffineChunk(group g: Int, _ body: (Range<Int>, Int, Int) -> Void) {
        let a0 = affineBase(g)
        if perElementAffine { body(0..<blockLength, a0, 1); return }
        var j = 0
        while j < blockLength {
            let end = Swift.min(j + affineRun, blockLength)
            body(j..<end, a0 + j / affineRun, 0)
            j = end
        }
    }
}

/// Forward and backward of "normalise each group, then y = xhat·w + b" with the given layout.
/// With `fixedStatistics` the mean and 1/std are given (evaluation BatchNorm) and the input
/// gradient is just w·rstd·g.
private func normalize(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, centered: Bool,
                       layout: GroupLayout, op: String,
                       fixedStatistics: (mean: [Float], rstd: [Float])? = nil,
                       statisticsOut: ((_ mean: [Float], _ variance: [Float]) -> Void)? = nil) -> Tensor {
    if let meta = Tensor.metaResult(x.shape, x) { return meta }
    let xc = withoutGrad { x.contiguous() }
    let w = weight.map { t in withoutGrad { t.contiguous() } }, b = bias.map { t in withoutGrad { t.contiguous() } }
    var means = [Float](repeating: 0, count: layout.groups)
    var rstds = [Float](repeating: 1, count: layout.groups)
    var variances = [Float](repeating: 0, count: layout.groups)
    let out = Tensor(storage: TensorStorage(uninitializedCount: x.count), shape: x.shape)
    let px = base(xc), py = base(out)
    let pw = w.map(base), pb = b.map(base)
    for g in 0..<layout.groups {
        let s = layout.start(g)
        if let fixed = fixedStatistics {
            means[g] = fixed.mean[g]; rstds[g] = fixed.rstd[g]
        } else {
            let stats = NormalizationKernels.statistics(px + s, blocks: layout.blocks, blockLength: layout.blockLength,
                                                        blockStride: layout.blockStride, eps: eps, centered: centered)
            means[g] = stats.mean; rstds[g] = stats.rstd; variances[g] = stats.variance
        }
        let (m, r) = (means[g], rstds[g])
        for blk in 0..<layout.blocks {
            let o = s + blk * layout.blockStride
            layout.forEachAffineChunk(group: g) { range, a, step in
                for i in range {
                    let ai = a + (i - range.lowerBound) * step
                    py[o + i] = (px[o + i] - m) * r * (pw?[ai] ?? 1) + (pb?[ai] ?? 0)
                }
            }
        }
    }
    if fixedStatistics == nil { statisticsOut?(means, variances) }
    let frozen = fixedStatistics != nil
    let xd = xc.detached()
    let inputs = [x] + [weight, bias].compactMap { $0 }
    return out.recording(op, inputs: inputs) { gradOut in
        let gc = gradOut.contiguous()
        let pg = base(gc)
        let dx = Tensor(storage: TensorStorage(uninitializedCount: xd.count), shape: xd.shape)
        let dw = weight.map { Tensor(zeros: $0.shape) }, db = bias.map { Tensor(zeros: $0.shape) }
        let pdx = base(dx), pdw = dw.map(base), pdb = db.map(base)
        let px = base(xd)
        let groupSize = layout.blocks * layout.blockLength
        let dxhat = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(groupSize, 1))
        defer { dxhat.deallocate() }
        for g in 0..<layout.groups {
            let s = layout.start(g)
            let (m, r) = (means[g], rstds[g])
            for blk in 0..<layout.blocks {
                let o = s + blk * layout.blockStride, d = dxhat + blk * layout.blockLength
                layout.forEachAffineChunk(group: g) { range, a, step in
                    for i in range {
                        let ai = a + (i - range.lowerBound) * step
                        let gi = pg[o + i]
                        pdw?[ai] += gi * (px[o + i] - m) * r
                        pdb?[ai] += gi
                        d[i] = gi * (pw?[ai] ?? 1)
                    }
                }
            }
            if frozen {
                for blk in 0..<layout.blocks {
                    let o = s + blk * layout.blockStride, d = dxhat + blk * layout.blockLength
                    for i in 0..<layout.blockLength { pdx[o + i] = r * d[i] }
                }
            } else {
                NormalizationKernels.inputGradient(x: px + s, dx: pdx + s, dxhat: dxhat, blocks: layout.blocks,
                                                   blockLength: layout.blockLength, blockStride: layout.blockStride,
                                                   mean: m, rstd: r, centered: centered)
            }
        }
        return [dx] + [dw, db].compactMap { $0 }.map { Optional($0) }
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
                             blockStride: d, affineBase: { _ in 0 }, perElementAffine: true, affineRun: 1)
    return normalize(x, weight: weight, bias: bias, eps: eps, centered: centered, layout: layout, op: op)
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
                             affineRun: Swift.max(spatial, 1))
    return normalize(x, weight: weight, bias: bias, eps: eps, centered: true, layout: layout, op: "groupNorm")
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
/// - Parameters:
///   - x: (N, C, *).
///   - runningMean, runningVar: (C), or nil.
///   - weight, bias: (C), or nil.
public func batchNorm(_ x: Tensor, runningMean: Tensor?, runningVar: Tensor?, weight: Tensor? = nil,
                      bias: Tensor? = nil, training: Bool, momentum: Float = 0.1, eps: Float = 1e-5) -> Tensor {
    guard shapeCheck(x.rank >= 2, "batchNorm: input of shape \(x.shape) needs (N, C, ...)") else { return .shapeFailure }
    let (n, c) = (x.shape[0], x.shape[1])
    let spatial = x.shape.dropFirst(2).reduce(1, *)
    guard checkChannelParameters(weight, bias, channels: c, op: "batchNorm", input: x.shape) else { return .shapeFailure }
    for p in [runningMean, runningVar].compactMap({ $0 }) {
        guard shapeCheck(p.shape == [c], "batchNorm: running statistic of shape \(p.shape) for input \(x.shape)") else { return .shapeFailure }
    }
    if let meta = Tensor.metaResult(x.shape, x) { return meta }
    let layout = GroupLayout(groups: c, start: { $0 * spatial }, blocks: n, blockLength: spatial,
                             blockStride: c * spatial, affineBase: { $0 }, perElementAffine: false,
                             affineRun: Swift.max(spatial, 1))
    let useBatch = training || runningMean == nil || runningVar == nil
    if useBatch {
        guard shapeCheck(!training || n * spatial > 1,
                   "batchNorm: expected more than 1 value per channel when training, got input of shape \(x.shape)") else { return .shapeFailure }
        return normalize(x, weight: weight, bias: bias, eps: eps, centered: true, layout: layout, op: "batchNorm") { mean, variance in
            guard training, let runningMean, let runningVar else { return }
            let count = Float(n * spatial)
            let unbias = count > 1 ? count / (count - 1) : 1
            runningMean.withUnsafeMutableBufferPointer { rm in
                for i in 0..<c { rm[i] = (1 - momentum) * rm[i] + momentum * mean[i] }
            }
            runningVar.withUnsafeMutableBufferPointer { rv in
                for i in 0..<c { rv[i] = (1 - momentum) * rv[i] + momentum * variance[i] * unbias }
            }
        }
    }
    let mean = runningMean!.scalars
    let rstd = runningVar!.scalars.map { 1 / ($0 + eps).squareRoot() }
    return normalize(x, weight: weight, bias: bias, eps: eps, centered: true, layout: layout, op: "batchNorm",
                     fixedStatistics: (mean, rstd))
}
