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
            let p = x + b * blockStride, d = dxhat + b * blockLength
            var accD = FloatVector.zero, accDX = FloatVector.zero
            var i = 0
            while i + FloatVector.scalarCount <= blockLength {
                let dv = VectorMath.load(d + i, count: FloatVector.scalarCount)
                accD += dv
                accDX += dv * (VectorMath.load(p + i, count: FloatVector.scalarCount) - mean)
                i += FloatVector.scalarCount
            }
            sumD += VectorMath.horizontalSum(accD)
            sumDX += VectorMath.horizontalSum(accDX)
            while i < blockLength {
                sumD += d[i]
                sumDX += d[i] * (p[i] - mean)
                i += 1
            }
        }
        let meanD = centered ? sumD / n : 0, meanDX = sumDX * rstd / n
        for b in 0..<blocks {
            let p = x + b * blockStride, q = dx + b * blockStride, d = dxhat + b * blockLength
            for i in 0..<blockLength {
                q[i] = rstd * (d[i] - meanD - (p[i] - mean) * rstd * meanDX)
            }
        }
    }
}
