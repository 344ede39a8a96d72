/// Kernels shared by the normalisation ops. A "group" is a set of elements normalised together:
/// `blocks` runs of `blockLength` contiguous elements, the runs `blockStride` apart (one run for
/// LayerNorm and GroupNorm; N runs for a BatchNorm channel).
enum NormalizationKernels {
    /// Mean and 1/√(var + eps) (biased variance) of a group; with `centered` false the mean is
    /// taken as 0 (RMSNorm's mean square).
    @inline(__always)
    static func statistics(_ x: UnsafePointer<Float>, blocks: Int, blockLength: Int, blockStride: Int,
                           eps: Float, centered: Bool = true) -> (mean: Float, rstd: Float, variance: Float) {
        let n = Double(blocks * blockLength)
        var mean = 0.0
        if centered {
            var sum = 0.0
            for b in 0..<blocks { sum += Double(VectorMath.sum(x + b * blockStride, count: blockLength) { $0 }) }
            mean = sum / n
        }
        let m = Float(mean)
        var sq = 0.0
        for b in 0..<blocks {
            sq += Double(VectorMath.sum(x + b * blockStride, count: blockLength) { v in let d = v - m; return d * d })
        }
        let variance = Float(sq / n)
        return (m, 1 / (variance + eps).squareRoot(), variance)
    }

    /// Input gradient of one group from `dxhat` (the gradient with respect to the normalised
    /// value, already multiplied by the affine weight, stored run after run without gaps):
    /// dx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)); without centring the
    /// mean(dxhat) term is dropped (RMSNorm).
    static func inputGradient(x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, dxhat: UnsafePointer<Float>,
                              blocks: Int, blockLength: Int, blockStride: Int,
                              mean: Float, rstd: Float, centered: Bool) {
        let n = Float(blocks * blockLength)
        var sumD: Float = 0, sumDX: Float = 0
        for b in 0..<blocks {
            let sums = gradientSums(dxhat + b * blockLength, x + b * blockStride, count: blockLength, mean: mean)
            sumD += sums.g
            sumDX += sums.gx
        }
        let meanD = centered ? sumD / n : 0, meanDX = sumDX * rstd / n
        for b in 0..<blocks {
            affineInputGradient(dxhat + b * blockLength, x + b * blockStride, into: dx + b * blockStride, count: blockLength,
                                scale: rstd, meanGradient: meanD, mean: mean, slope: rstd * meanDX)
        }
    }

    /// Σ g and Σ g·(x − mean) over `count` elements; with a `rectifier`, g is first set to 0
    /// where the rectified output was (see ``Rectifier``).
    @inline(__always)
    static func gradientSums(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int,
                             mean: Float, rectifier: Rectifier? = nil) -> (g: Float, gx: Float) {
        var accG = FloatVector.zero, accGX = FloatVector.zero
        var i = 0
        while i + FloatVector.scalarCount <= count {
            let xv = VectorMath.load(x + i, count: FloatVector.scalarCount) - mean
            var gv = VectorMath.load(g + i, count: FloatVector.scalarCount)
            if let rectifier { gv = rectifier.gradient(gv, centered: xv) }
            accG += gv
            accGX += gv * xv
            i += FloatVector.scalarCount
        }
        var sumG = VectorMath.horizontalSum(accG), sumGX = VectorMath.horizontalSum(accGX)
        while i < count {
            let xi = x[i] - mean
            var gi = g[i]
            if let rectifier { gi = rectifier.gradient(gi, centered: xi) }
            sumG += gi
            sumGX += gi * xi
            i += 1
        }
        return (sumG, sumGX)
    }

    /// A ReLU applied in the same pass as a normalisation with one affine weight per group:
    /// y = max((x − mean)·scale + shift, 0), where scale = rstd·w and shift = b. The forward and
    /// backward passes compute the pre-activation with the same operations, so the gradient's
    /// mask is exactly ReLU's on the value the forward pass rectified.
    struct Rectifier {
        let scale: Float, shift: Float

        /// The normalised, affine value of a centred vector x − mean: the forward pass's output
        /// without the ReLU, and what both passes rectify.
        @inline(__always) func preactivation(centered xv: FloatVector) -> FloatVector { xv * scale + shift }

        /// The rectified output of a centred vector x − mean (NaN passes, as in ``relu(_:)``).
        @inline(__always) func output(centered xv: FloatVector) -> FloatVector {
            let v = preactivation(centered: xv)
            return v.replacing(with: 0, where: v .< 0)
        }

        /// The output gradient `gv` where the pre-activation was positive, else 0 (ReLU's
        /// gradient).
        @inline(__always) func gradient(_ gv: FloatVector, centered xv: FloatVector) -> FloatVector {
            gv.replacing(with: 0, where: preactivation(centered: xv) .<= 0)
        }

        /// One lane of ``gradient(_:centered:)``.
        @inline(__always) func gradient(_ g: Float, centered x: Float) -> Float {
            x * scale + shift <= 0 ? 0 : g
        }
    }

    /// dx = scale·(g − meanGradient − (x − mean)·slope) over `count` elements: the closed-form
    /// input gradient of a group with one affine weight w, where scale = rstd·w, meanGradient =
    /// mean(g) and slope = rstd²·mean(g·(x − mean)) (both 0 with fixed statistics).
    /// With a `rectifier`, g is first set to 0 where the rectified output was.
    @inline(__always)
    static func affineInputGradient(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                                    count: Int, scale: Float, meanGradient: Float, mean: Float, slope: Float,
                                    rectifier: Rectifier? = nil) {
        var i = 0
        while i + FloatVector.scalarCount <= count {
            var gv = VectorMath.load(g + i, count: FloatVector.scalarCount)
            let xv = VectorMath.load(x + i, count: FloatVector.scalarCount) - mean
            if let rectifier { gv = rectifier.gradient(gv, centered: xv) }
            VectorMath.store(scale * (gv - meanGradient - xv * slope), dx + i, count: FloatVector.scalarCount)
            i += FloatVector.scalarCount
        }
        while i < count {
            let xi = x[i] - mean
            var gi = g[i]
            if let rectifier { gi = rectifier.gradient(gi, centered: xi) }
            dx[i] = scale * (gi - meanGradient - xi * slope)
            i += 1
        }
    }
}

/// Where the elements of each normalisation group lie and which affine parameter each uses.
///
/// Group g's elements start at `g·groupStride` (after the outer split, see `start`) in `blocks`
/// runs of `blockLength` contiguous elements `blockStride` apart. Within a run, element i uses
/// affine index `affineBase(g) + i` when `perElementAffine`, else `affineBase(g) + i / affineRun`.
struct GroupLayout {
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
    /// Whether the groups are the channels of (N, C, spatial) images with one affine parameter
    /// each (BatchNorm: group g's runs are at n·C·spatial + g·spatial), which lets small planes
    /// run over whole image rows (BatchNormSmallPlanes.swift).
    var channelsOfImages = false

    /// Elements of all the groups.
    var elementCount: Int { groups * blocks * blockLength }

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

extension NormalizationKernels {
    /// Normalises every group of `layout` and applies the affine transform, y = (x − mean)·rstd·w + b,
    /// groups split among threads (``Parallel``).
    ///
    /// - Parameters:
    ///   - x, y: the elements (`layout.elementCount`); y is overwritten.
    ///   - weight, bias: (`layout.affineCount`).
    ///   - mean, rstd, variance: (`layout.groups`), written; with `fixedStatistics` mean and rstd
    ///     are read instead (evaluation BatchNorm) and variance is set to 0.
    ///   - centered: subtract the mean (false: RMSNorm, the mean taken as 0).
    ///   - rectified: apply ReLU to y in the same pass (layouts with ``rectifies(_:)`` only).
    static func forward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        _ layout: GroupLayout, eps: Float, centered: Bool, fixedStatistics: Bool,
                        mean pMean: UnsafeMutablePointer<Float>, rstd pRstd: UnsafeMutablePointer<Float>,
                        variance pVar: UnsafeMutablePointer<Float>, rectified: Bool = false, into y: UnsafeMutablePointer<Float>) {
        let (px, py, pw, pb) = (x, y, weight, bias)
        precondition(!rectified || (centered && rectifies(layout)), "NormalizationKernels.forward: no fused ReLU on this layout")
        if centered && takesSmallPlanePath(layout) {
            smallPlaneForward(x, weight: weight, bias: bias, layout, eps: eps, fixedStatistics: fixedStatistics,
                              mean: pMean, rstd: pRstd, variance: pVar, into: y)
            return
        }
        Parallel.forEach(count: layout.groups, work: layout.elementCount) { range in
            for g in range {
                let s = layout.start(g)
                if fixedStatistics {
                    pVar[g] = 0
                } else {
                    let st = statistics(px + s, blocks: layout.blocks, blockLength: layout.blockLength,
                                        blockStride: layout.blockStride, eps: eps, centered: centered)
                    (pMean[g], pRstd[g], pVar[g]) = (st.mean, st.rstd, st.variance)
                }
                let (m, r) = (pMean[g], pRstd[g])
                for blk in 0..<layout.blocks {
                    let xs = px + s + blk * layout.blockStride, ys = py + s + blk * layout.blockStride
                    layout.forEachAffineChunk(group: g) { range, a, step in
                        if step == 0 {
                            let affine = Rectifier(scale: r * pw[a], shift: pb[a])
                            VectorMath.map(xs + range.lowerBound, ys + range.lowerBound, count: range.count) {
                                rectified ? affine.output(centered: $0 - m) : affine.preactivation(centered: $0 - m)
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

    /// The gradients of ``forward(_:weight:bias:_:eps:centered:fixedStatistics:mean:rstd:variance:into:)``:
    /// groups split among threads, each chunk of groups summing its own affine gradients, added
    /// up in chunk order afterwards. With `frozen` statistics (evaluation BatchNorm) the input
    /// gradient is just w·rstd·g.
    ///
    /// - Parameters:
    ///   - g, x: the output gradient and the input (`layout.elementCount`).
    ///   - weight: (`layout.affineCount`).
    ///   - mean, rstd: (`layout.groups`), as the forward left them.
    ///   - dx: overwritten; weightGradient, biasGradient: (`layout.affineCount`), overwritten
    ///     when given.
    ///   - rectifiedBias: the bias of a forward pass that applied ReLU (`rectified`); g is the
    ///     gradient of the rectified output.
    static func backward(_ g: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         _ layout: GroupLayout, mean means: UnsafePointer<Float>, rstd rstds: UnsafePointer<Float>,
                         centered: Bool, frozen: Bool, rectifiedBias: UnsafePointer<Float>? = nil,
                         into dx: UnsafeMutablePointer<Float>,
                         weightGradient: UnsafeMutablePointer<Float>?, biasGradient: UnsafeMutablePointer<Float>?) {
        let (pg, px, pw, pdx) = (g, x, weight, dx)
        precondition(rectifiedBias == nil || (centered && rectifies(layout)), "NormalizationKernels.backward: no fused ReLU on this layout")
        if centered && takesSmallPlanePath(layout) {
            smallPlaneBackward(g, x: x, weight: weight, layout, mean: means, rstd: rstds, frozen: frozen, into: dx,
                               weightGradient: weightGradient, biasGradient: biasGradient)
            return
        }
        let groups = layout.groups
        let workers = Parallel.workers(items: groups, work: layout.elementCount)
        let chunks = Swift.min(groups, workers * Parallel.chunksPerWorker)
        let groupSize = layout.blocks * layout.blockLength, affine = layout.affineCount
        // dxhat of one group per worker (not with one affine weight per group), then the weight
        // and bias gradient sums per chunk.
        let sums = layout.hasOneAffinePerGroup ? 0 : workers * groupSize
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(sums + chunks * 2 * affine, 1))
        defer { scratch.deallocate() }
        scratch.initialize(repeating: 0, count: sums + chunks * 2 * affine)
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
                    let rectifier = rectifiedBias.map { Rectifier(scale: r * wv, shift: $0[a]) }
                    var sumG: Float = 0, sumGX: Float = 0
                    for blk in 0..<layout.blocks {
                        let o = s + blk * layout.blockStride
                        let sums = NormalizationKernels.gradientSums(pg + o, px + o, count: layout.blockLength, mean: m,
                                                                     rectifier: rectifier)
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
                                                                 scale: scale, meanGradient: meanD, mean: m, slope: slope,
                                                                 rectifier: rectifier)
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
        /// Writes the affine gradient at `offset` in each chunk's sums, added in chunk order.
        func affineGradient(_ offset: Int, into out: UnsafeMutablePointer<Float>) {
            for k in 0..<affine { out[k] = 0 }
            for chunk in 0..<chunks {
                let acc = scratch + sums + chunk * 2 * affine + offset
                for k in 0..<affine { out[k] += acc[k] }
            }
        }
        if let weightGradient { affineGradient(0, into: weightGradient) }
        if let biasGradient { affineGradient(affine, into: biasGradient) }
    }
}

extension NormalizationKernels {
    /// Whether ``forward(_:weight:bias:_:eps:centered:fixedStatistics:mean:rstd:variance:rectified:into:)``
    /// can apply ReLU in its pass: groups with one affine weight each (BatchNorm) on planes of
    /// the group kernels (not the small-plane path).
    static func rectifies(_ layout: GroupLayout) -> Bool {
        layout.hasOneAffinePerGroup && !takesSmallPlanePath(layout)
    }
}
