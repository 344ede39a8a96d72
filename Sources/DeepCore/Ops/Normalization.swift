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
    /// Number of affine parameters (the size of weight and bias).
    var affineCount: Int

    /// Whether every element of a group uses the same affine parameter (BatchNorm).
    var hasOneAffinePerGroup: Bool { !perElementAffine && blockLength <= affineRun }

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
/// gradient is just w·rstd·g. Groups are split among threads (``Parallel``); in the backward
/// each chunk of groups sums its own affine gradients, added up in chunk order afterwards.
private func normalize(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, centered: Bool,
                       layout: GroupLayout, op: String,
                       fixedStatistics: (mean: [Float], rstd: [Float])? = nil,
                       statisticsOut: ((_ mean: [Float], _ variance: [Float]) -> Void)? = nil) -> Tensor {
    if let meta = Tensor.metaResult(x.shape, x) { return meta }
    let xc = withoutGrad { x.contiguous() }
    // Absent affine parameters act as ones and zeros, so the loops below need no optionals.
    let w = withoutGrad { weight?.contiguous() } ?? Tensor(ones: [layout.affineCount])
    let b = withoutGrad { bias?.contiguous() } ?? Tensor(zeros: [layout.affineCount])
    let groups = layout.groups
    let out = Tensor(storage: TensorStorage(uninitializedCount: x.count), shape: x.shape)
    let stats = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(3 * groups, 1))
    defer { stats.deallocate() }
    let (pMean, pRstd, pVar) = (stats, stats + groups, stats + 2 * groups)
    withExtendedLifetime((xc, w, b)) {
        let px = base(xc), py = base(out), pw = base(w), pb = base(b)
        Parallel.forEach(count: groups, work: x.count) { range in
            for g in range {
                let s = layout.start(g)
                if let fixed = fixedStatistics {
                    (pMean[g], pRstd[g], pVar[g]) = (fixed.mean[g], fixed.rstd[g], 0)
                } else {
                    let st = NormalizationKernels.statistics(px + s, blocks: layout.blocks, blockLength: layout.blockLength,
                                                             blockStride: layout.blockStride, eps: eps, centered: centered)
                    (pMean[g], pRstd[g], pVar[g]) = (st.mean, st.rstd, st.variance)
                }
                let (m, r) = (pMean[g], pRstd[g])
                for blk in 0..<layout.blocks {
                    let xs = px + s + blk * layout.blockStride, ys = py + s + blk * layout.blockStride
                    layout.forEachAffineChunk(group: g) { range, a, step in
                        if step == 0 {
                            let scale = r * pw[a], shift = pb[a]
                            VectorMath.map(xs + range.lowerBound, ys + range.lowerBound, count: range.count) {
                                ($0 - m) * scale + shift
                            }
                        } else {
                            let ws = pw + a - range.lowerBound, bs = pb + a - range.lowerBound
                            for i in range { ys[i] = (xs[i] - m) * r * ws[i] + bs[i] }
                        }
                    }
                }
            }
        }
    }
    let means = Array(UnsafeBufferPointer(start: pMean, count: groups))
    let rstds = Array(UnsafeBufferPointer(start: pRstd, count: groups))
    if fixedStatistics == nil { statisticsOut?(means, Array(UnsafeBufferPointer(start: pVar, count: groups))) }
    let frozen = fixedStatistics != nil
    let xd = xc.detached(), wd = w.detached()
    let inputs = [x] + [weight, bias].compactMap { $0 }
    let (weightShape, biasShape) = (weight?.shape, bias?.shape)
    return out.recording(op, inputs: inputs) { gradOut in
        let gc = gradOut.contiguous()
        let dx = Tensor(storage: TensorStorage(uninitializedCount: xd.count), shape: xd.shape)
        let workers = Parallel.workers(items: groups, work: xd.count)
        let chunks = Swift.min(groups, workers * Parallel.chunksPerWorker)
        let groupSize = layout.blocks * layout.blockLength, affine = layout.affineCount
        // dxhat of one group per worker, then the weight and bias gradient sums per chunk.
        let sums = workers * groupSize
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(sums + chunks * 2 * affine, 1))
        defer { scratch.deallocate() }
        scratch.initialize(repeating: 0, count: sums + chunks * 2 * affine)
        withExtendedLifetime((gc, xd, wd)) {
            let pg = base(gc), px = base(xd), pw = base(wd), pdx = base(dx)
            Parallel.forEachChunk(count: groups, chunks: chunks, workers: workers) { worker, chunk, range in
                let dxhat = scratch + worker * groupSize
                let accW = scratch + sums + chunk * 2 * affine, accB = accW + affine
                for g in range {
                    let s = layout.start(g)
                    let (m, r) = (means[g], rstds[g])
                    if layout.hasOneAffinePerGroup {
                        // BatchNorm: with one weight per group the sums of dxhat and dxhat·x̂
                        // are the bias and weight gradients times w, so dx takes one more pass.
                        let a = layout.affineBase(g), wv = pw[a]
                        var sumG: Float = 0, sumGX: Float = 0
                        for blk in 0..<layout.blocks {
                            let o = s + blk * layout.blockStride
                            let sums = NormalizationKernels.gradientSums(pg + o, px + o, count: layout.blockLength, mean: m)
                            sumG += sums.g
                            sumGX += sums.gx
                        }
                        accW[a] += sumGX * r
                        accB[a] += sumG
                        let n = Float(layout.blocks * layout.blockLength)
                        let scale = r * wv
                        let meanD = frozen || !centered ? 0 : sumG / n
                        let slope = frozen ? 0 : r * r * sumGX / n
                        for blk in 0..<layout.blocks {
                            let o = s + blk * layout.blockStride
                            NormalizationKernels.affineInputGradient(pg + o, px + o, into: pdx + o, count: layout.blockLength,
                                                                     scale: scale, meanGradient: meanD, mean: m, slope: slope)
                        }
                        continue
                    }
                    for blk in 0..<layout.blocks {
                        let o = s + blk * layout.blockStride, d = dxhat + blk * layout.blockLength
                        let gs = pg + o, xs = px + o
                        layout.forEachAffineChunk(group: g) { range, a, step in
                            // Whole vectors, then the rest one lane at a time (runs can be short).
                            let shift = a - range.lowerBound
                            var sumW = FloatVector.zero, sumB = FloatVector.zero
                            var i = range.lowerBound
                            @inline(__always) func visit(_ k: Int, _ gv: FloatVector, _ xv: FloatVector) {
                                if step == 0 {
                                    sumW += gv * xv
                                    sumB += gv
                                    VectorMath.store(gv * pw[a], d + i, count: k)
                                } else {
                                    let j = i + shift
                                    VectorMath.store(VectorMath.load(accW + j, count: k) + gv * xv * r, accW + j, count: k)
                                    VectorMath.store(VectorMath.load(accB + j, count: k) + gv, accB + j, count: k)
                                    VectorMath.store(gv * VectorMath.load(pw + j, count: k), d + i, count: k)
                                }
                            }
                            while i + FloatVector.scalarCount <= range.upperBound {
                                let k = FloatVector.scalarCount
                                visit(k, VectorMath.load(gs + i, count: k), VectorMath.load(xs + i, count: k) - m)
                                i += k
                            }
                            var sumW1: Float = 0, sumB1: Float = 0
                            while i < range.upperBound {
                                let gi = gs[i], xi = xs[i] - m
                                if step == 0 {
                                    sumW1 += gi * xi
                                    sumB1 += gi
                                    d[i] = gi * pw[a]
                                } else {
                                    accW[i + shift] += gi * xi * r
                                    accB[i + shift] += gi
                                    d[i] = gi * pw[i + shift]
                                }
                                i += 1
                            }
                            if step == 0 {
                                accW[a] += (VectorMath.horizontalSum(sumW) + sumW1) * r
                                accB[a] += VectorMath.horizontalSum(sumB) + sumB1
                            }
                        }
                    }
                    if frozen {
                        for blk in 0..<layout.blocks {
                            let q = pdx + s + blk * layout.blockStride, d = dxhat + blk * layout.blockLength
                            for i in 0..<layout.blockLength { q[i] = r * d[i] }
                        }
                    } else {
                        NormalizationKernels.inputGradient(x: px + s, dx: pdx + s, dxhat: dxhat, blocks: layout.blocks,
                                                           blockLength: layout.blockLength, blockStride: layout.blockStride,
                                                           mean: m, rstd: r, centered: centered)
                    }
                }
            }
        }
        /// The affine gradient at `offset` in each chunk's sums, added in chunk order.
        func affineGradient(_ offset: Int, shape: [Int]) -> Tensor {
            Tensor.make(shape: shape) { out in
                for k in 0..<affine { out[k] = 0 }
                for chunk in 0..<chunks {
                    let acc = scratch + sums + chunk * 2 * affine + offset
                    for k in 0..<affine { out[k] += acc[k] }
                }
            }
        }
        let dw = weightShape.map { affineGradient(0, shape: $0) }
        let db = biasShape.map { affineGradient(affine, shape: $0) }
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
                             blockStride: d, affineBase: { _ in 0 }, perElementAffine: true, affineRun: 1,
                             affineCount: d)
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
                             affineRun: Swift.max(spatial, 1), affineCount: c)
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
                             affineRun: Swift.max(spatial, 1), affineCount: c)
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
