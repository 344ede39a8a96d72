// BatchNorm over small planes (ResNet's last stages on small images: 4, 2×2 or 1×1 positions per
// channel): the group kernels of NormalizationKernels.swift visit each (image, channel) run of a
// few floats in turn, so their vector loops hardly run. Here a channel range's runs are
// contiguous within each image row (C·H·W floats), so every pass runs over long row segments
// with one accumulator lane per (channel, position) and folds the positions of a channel at the
// end. Same formulas and outputs as the group kernels (sums in another order). On larger planes
// the group kernels are faster (their sums stay in registers; measured on the main job's 28×28
// and 14×14 maps: rows 67 ms against 61 ms per step), hence the threshold.

extension NormalizationKernels {
    /// Positions per channel below which a BatchNorm takes these kernels (0: never; tests).
    nonisolated(unsafe) static var smallPlane = 16

    /// Whether `layout` is a BatchNorm whose planes are small enough for these kernels.
    static func takesSmallPlanePath(_ layout: GroupLayout) -> Bool {
        layout.channelsOfImages && layout.blockLength < smallPlane && layout.blocks > 1 && layout.groups > 0
    }

    /// Calls `body(channels, segment)` for ranges of channels split among threads, `segment`
    /// being their contiguous part of each image row, and a scratch of 4·segment.count floats.
    @inline(__always)
    private static func forEachChannelRange(_ layout: GroupLayout,
                                            _ body: (_ channels: Range<Int>, _ segment: Range<Int>, _ scratch: UnsafeMutablePointer<Float>) -> Void) {
        let plane = layout.blockLength
        Parallel.forEach(count: layout.groups, work: layout.elementCount) { channels in
            let segment = (channels.lowerBound * plane)..<(channels.upperBound * plane)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 4 * segment.count)
            defer { scratch.deallocate() }
            body(channels, segment, scratch)
        }
    }

    /// `acc[j] = Σₙ f(row n)[j]` over the images, j in the segment.
    @inline(__always)
    private static func sumOverImages(_ layout: GroupLayout, segment: Range<Int>, into acc: UnsafeMutablePointer<Float>,
                                      _ f: (_ row: Int, _ count: Int, _ acc: UnsafeMutablePointer<Float>) -> Void) {
        acc.update(repeating: 0, count: segment.count)
        for n in 0..<layout.blocks { f(n * layout.blockStride + segment.lowerBound, segment.count, acc) }
    }

    /// Writes `value(c)` into the `plane` lanes of each channel c of `channels`, one after
    /// another from `v`.
    @inline(__always)
    private static func expandChannels(_ channels: Range<Int>, plane: Int, _ value: (Int) -> Float,
                                       into v: UnsafeMutablePointer<Float>) {
        for (k, c) in channels.enumerated() { (v + k * plane).update(repeating: value(c), count: plane) }
    }

    /// The sum of the `plane` lanes of each channel in `acc`, in Double.
    @inline(__always)
    private static func channelSum(_ acc: UnsafePointer<Float>, channel k: Int, plane: Int) -> Double {
        var s = 0.0
        for i in 0..<plane { s += Double(acc[k * plane + i]) }
        return s
    }

    /// ``forward(_:weight:bias:_:eps:centered:fixedStatistics:mean:rstd:variance:into:)`` for a
    /// centred BatchNorm with ``takesSmallPlanePath(_:)``.
    static func smallPlaneForward(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                  _ layout: GroupLayout, eps: Float, fixedStatistics: Bool,
                                  mean pMean: UnsafeMutablePointer<Float>, rstd pRstd: UnsafeMutablePointer<Float>,
                                  variance pVar: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let plane = layout.blockLength, count = Double(layout.blocks * plane)
        forEachChannelRange(layout) { channels, segment, scratch in
            // Three rows of lanes: sums (then the shifts), the means, the scales.
            let (acc, means, scales) = (scratch, scratch + segment.count, scratch + 2 * segment.count)
            let c0 = channels.lowerBound
            if fixedStatistics {
                for c in channels { pVar[c] = 0 }
                expandChannels(channels, plane: plane, { pMean[$0] }, into: means)
            } else {
                sumOverImages(layout, segment: segment, into: acc) { row, n, acc in
                    for j in 0..<n { acc[j] += x[row + j] }
                }
                for k in 0..<channels.count { pMean[c0 + k] = Float(channelSum(acc, channel: k, plane: plane) / count) }
                expandChannels(channels, plane: plane, { pMean[$0] }, into: means)
                sumOverImages(layout, segment: segment, into: acc) { row, n, acc in
                    for j in 0..<n { let d = x[row + j] - means[j]; acc[j] += d * d }
                }
                for k in 0..<channels.count {
                    let variance = Float(channelSum(acc, channel: k, plane: plane) / count)
                    (pVar[c0 + k], pRstd[c0 + k]) = (variance, 1 / (variance + eps).squareRoot())
                }
            }
            // (x − mean)·(rstd·w) + b per lane, as the group kernels round it.
            let shifts = acc
            expandChannels(channels, plane: plane, { pRstd[$0] * weight[$0] }, into: scales)
            expandChannels(channels, plane: plane, { bias[$0] }, into: shifts)
            for n in 0..<layout.blocks {
                let row = n * layout.blockStride + segment.lowerBound
                for j in 0..<segment.count { y[row + j] = (x[row + j] - means[j]) * scales[j] + shifts[j] }
            }
        }
    }

    /// ``backward(_:x:weight:_:mean:rstd:centered:frozen:into:weightGradient:biasGradient:)`` for
    /// a centred BatchNorm with ``takesSmallPlanePath(_:)``.
    static func smallPlaneBackward(_ g: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                   _ layout: GroupLayout, mean means: UnsafePointer<Float>, rstd rstds: UnsafePointer<Float>,
                                   frozen: Bool, into dx: UnsafeMutablePointer<Float>,
                                   weightGradient: UnsafeMutablePointer<Float>?, biasGradient: UnsafeMutablePointer<Float>?) {
        let plane = layout.blockLength, count = Float(layout.blocks * plane)
        forEachChannelRange(layout) { channels, segment, scratch in
            let (acc, expanded) = (scratch, scratch + segment.count)
            let c0 = channels.lowerBound, lanes = segment.count
            // Σ g and Σ g·(x − mean) per channel, in one pass.
            let accGX = scratch + 2 * lanes
            expandChannels(channels, plane: plane, { means[$0] }, into: expanded)
            accGX.update(repeating: 0, count: lanes)
            sumOverImages(layout, segment: segment, into: acc) { row, n, acc in
                for j in 0..<n {
                    let gv = g[row + j]
                    acc[j] += gv
                    accGX[j] += gv * (x[row + j] - expanded[j])
                }
            }
            var sumG = [Float](repeating: 0, count: channels.count), sumGX = sumG
            for k in 0..<channels.count {
                sumG[k] = Float(channelSum(acc, channel: k, plane: plane))
                sumGX[k] = Float(channelSum(accGX, channel: k, plane: plane))
            }
            for k in 0..<channels.count {
                weightGradient?[c0 + k] = sumGX[k] * rstds[c0 + k]
                biasGradient?[c0 + k] = sumG[k]
            }
            // dx = scale·(g − mean(g) − (x − mean)·slope), scale = rstd·w, slope = rstd²·mean(g·(x − mean)).
            let (scales, slopes, offsets) = (acc, accGX, scratch + 3 * lanes)
            expandChannels(channels, plane: plane, { rstds[$0] * weight[$0] }, into: scales)
            expandChannels(channels, plane: plane, { c in frozen ? 0 : rstds[c] * rstds[c] * sumGX[c - c0] / count }, into: slopes)
            expandChannels(channels, plane: plane, { c in frozen ? 0 : sumG[c - c0] / count }, into: offsets)
            for n in 0..<layout.blocks {
                let row = n * layout.blockStride + segment.lowerBound
                for j in 0..<lanes {
                    dx[row + j] = scales[j] * (g[row + j] - offsets[j] - (x[row + j] - expanded[j]) * slopes[j])
                }
            }
        }
    }
}
