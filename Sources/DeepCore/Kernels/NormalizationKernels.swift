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

    /// Σ g and Σ g·(x − mean) over `count` elements.
    @inline(__always)
    static func gradientSums(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int,
                             mean: Float) -> (g: Float, gx: Float) {
        var accG = FloatVector.zero, accGX = FloatVector.zero
        var i = 0
        while i + FloatVector.scalarCount <= count {
            let gv = VectorMath.load(g + i, count: FloatVector.scalarCount)
            accG += gv
            accGX += gv * (VectorMath.load(x + i, count: FloatVector.scalarCount) - mean)
            i += FloatVector.scalarCount
        }
        var sumG = VectorMath.horizontalSum(accG), sumGX = VectorMath.horizontalSum(accGX)
        while i < count {
            sumG += g[i]
            sumGX += g[i] * (x[i] - mean)
            i += 1
        }
        return (sumG, sumGX)
    }

    /// dx = scale·(g − meanGradient − (x − mean)·slope) over `count` elements: the closed-form
    /// input gradient of a group with one affine weight w, where scale = rstd·w, meanGradient =
    /// mean(g) and slope = rstd²·mean(g·(x − mean)) (both 0 with fixed statistics).
    @inline(__always)
    static func affineInputGradient(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                                    count: Int, scale: Float, meanGradient: Float, mean: Float, slope: Float) {
        var i = 0
        while i + FloatVector.scalarCount <= count {
            let gv = VectorMath.load(g + i, count: FloatVector.scalarCount)
            let xv = VectorMath.load(x + i, count: FloatVector.scalarCount) - mean
            VectorMath.store(scale * (gv - meanGradient - xv * slope), dx + i, count: FloatVector.scalarCount)
            i += FloatVector.scalarCount
        }
        while i < count {
            dx[i] = scale * (g[i] - meanGradient - (x[i] - mean) * slope)
            i += 1
        }
    }
}
