#if canImport(Glibc)
import Glibc
#endif

// Reductions beyond `sum` (Ops/Sum.swift): mean, max/min and their indices, variance, standard
// deviation, log-sum-exp and the L2 norm. Mean and variance are composed from `sum` and
// arithmetic; the others compute their forward with a strided kernel and record a pullback that
// broadcasts the output gradient back over the reduced axes.
//
// Inside `extension Tensor` the global `max`/`min` are shadowed by the methods below: write
// `Swift.max`/`Swift.min` there.

extension Tensor {
    /// Mean over `axes` (all axes when nil), like `torch.mean`.
    ///
    ///     x.mean(axes: [2, 3], keepingDims: true)   // (N, C, H, W) → (N, C, 1, 1)
    ///
    /// - Parameter axes: the axes to average over (negative counts from the end); nil for all.
    /// - Parameter keepingDims: keep the reduced axes as size 1 instead of dropping them.
    public func mean(axes: [Int]? = nil, keepingDims: Bool = false) -> Tensor {
        let axes = reductionAxes(axes, op: "mean")
        return sum(axes: axes, keepingDims: keepingDims) * (1 / Float(reducedCount(axes)))
    }

    /// Mean along one axis: (…, n, …) → (…, …), or (…, 1, …) keeping it.
    public func mean(axis: Int, keepingDims: Bool = false) -> Tensor {
        mean(axes: [axis], keepingDims: keepingDims)
    }

    /// Largest element over `axes` (all axes when nil), like `torch.amax`. NaN propagates.
    ///
    /// The gradient goes to the elements equal to the maximum, split evenly among ties.
    ///
    ///     x.max(axes: [1])   // (N, C, L) → (N, L)
    public func max(axes: [Int]? = nil, keepingDims: Bool = false) -> Tensor {
        extremum(axes: axes, keepingDims: keepingDims, op: "max") { $0 > $1 }
    }

    /// Largest element along one axis (see ``max(axes:keepingDims:)``).
    public func max(axis: Int, keepingDims: Bool = false) -> Tensor {
        max(axes: [axis], keepingDims: keepingDims)
    }

    /// Smallest element over `axes` (all axes when nil), like `torch.amin`. NaN propagates.
    ///
    /// The gradient goes to the elements equal to the minimum, split evenly among ties.
    public func min(axes: [Int]? = nil, keepingDims: Bool = false) -> Tensor {
        extremum(axes: axes, keepingDims: keepingDims, op: "min") { $0 < $1 }
    }

    /// Smallest element along one axis (see ``min(axes:keepingDims:)``).
    public func min(axis: Int, keepingDims: Bool = false) -> Tensor {
        min(axes: [axis], keepingDims: keepingDims)
    }

    /// Index of the largest element along `axis`, as a Float holding an integer; the first one
    /// among ties, and the first NaN if any (like `torch.argmax`). Not differentiable.
    ///
    ///     logits.argmax(axis: 1)   // (N, K) → (N,)
    public func argmax(axis: Int, keepingDims: Bool = false) -> Tensor {
        extremumIndex(axis: axis, keepingDims: keepingDims, op: "argmax") { $0 > $1 }
    }

    /// Index of the smallest element along `axis`, as a Float holding an integer; the first one
    /// among ties, and the first NaN if any (like `torch.argmin`). Not differentiable.
    public func argmin(axis: Int, keepingDims: Bool = false) -> Tensor {
        extremumIndex(axis: axis, keepingDims: keepingDims, op: "argmin") { $0 < $1 }
    }

    /// Variance over `axes` (all axes when nil), like `torch.var`: the sum of squared deviations
    /// from the mean divided by `n - correction` (1: unbiased, the default; 0: population).
    ///
    ///     x.variance(axes: [0], correction: 0)   // (N, D) → (D,)
    public func variance(axes: [Int]? = nil, keepingDims: Bool = false, correction: Int = 1) -> Tensor {
        let axes = reductionAxes(axes, op: "variance")
        let degrees = Swift.max(reducedCount(axes) - correction, 0)
        let centered = self - mean(axes: axes, keepingDims: true)
        return (centered * centered).sum(axes: axes, keepingDims: keepingDims) * (1 / Float(degrees))
    }

    /// Standard deviation over `axes`: the square root of
    /// ``variance(axes:keepingDims:correction:)``, like `torch.std`. Where it is zero the
    /// gradient is zero (as in PyTorch).
    public func standardDeviation(axes: [Int]? = nil, keepingDims: Bool = false, correction: Int = 1) -> Tensor {
        let v = variance(axes: axes, keepingDims: keepingDims, correction: correction)
        return Tensor.op("standardDeviation", inputs: [v], shape: v.shape) {
            Elementwise.map(v) { $0.squareRoot() }
        } pullback: { g, s in
            [Elementwise.zip(g, s) { g, s in s == 0 ? 0 : g / (2 * s) }]
        }
    }

    /// log(Σ exp(x)) over `axes` (all axes when nil), computed stably by shifting by the
    /// maximum, like `torch.logsumexp`.
    ///
    ///     x.logSumExp(axes: [1])   // (N, K) → (N,)
    public func logSumExp(axes: [Int]? = nil, keepingDims: Bool = false) -> Tensor {
        let axes = reductionAxes(axes, op: "logSumExp")
        let kept = reducedShape(axes, keepingDims: true)
        let x = detached()
        return Tensor.op("logSumExp", inputs: [self], shape: reducedShape(axes, keepingDims: keepingDims)) {
            // Shift by the maximum; an infinite maximum is left unshifted (like PyTorch).
            let shift = Elementwise.map(extremumValues(axes: axes, kept: kept) { $0 > $1 }) { $0.isInfinite ? 0 : $0 }
            let e = Elementwise.zip(self, shift.expanded(to: shape)) { expf($0 - $1) }
            let out = Elementwise.zip(e.sum(axes: axes, keepingDims: true), shift) { logf($0) + $1 }
            return (reducedResult(out, axes: axes, keepingDims: keepingDims), out)
        } pullback: { g, _, y in
            // d/dx = exp(x - lse), the softmax over the reduced axes.
            [Tensor.broadcastingBack(x, y, g, kept: kept) { x, y, g in g * expf(x - y) }]
        }
    }

    /// The Euclidean (L2) norm over `axes` (all axes when nil), like `torch.linalg.vector_norm`.
    /// Where the norm is zero the gradient is zero (as in PyTorch).
    ///
    ///     x.norm()   // any shape → ()
    public func norm(axes: [Int]? = nil, keepingDims: Bool = false) -> Tensor {
        let axes = reductionAxes(axes, op: "norm")
        let kept = reducedShape(axes, keepingDims: true)
        let x = detached()
        return Tensor.op("norm", inputs: [self], shape: reducedShape(axes, keepingDims: keepingDims)) {
            let squares = Elementwise.map(self) { $0 * $0 }.sum(axes: axes, keepingDims: true)
            return reducedResult(Elementwise.map(squares) { $0.squareRoot() }, axes: axes, keepingDims: keepingDims)
        } pullback: { g, n in
            [Tensor.broadcastingBack(x, n, g, kept: kept) { x, n, g in n == 0 ? 0 : g * x / n }]
        }
    }

    /// Number of elements reduced into each output element.
    private func reducedCount(_ axes: [Int]) -> Int {
        axes.reduce(1) { $0 * shape[$1] }
    }

    /// `out` (reduced axes kept as size 1) with those axes dropped unless `keepingDims`.
    private func reducedResult(_ out: Tensor, axes: [Int], keepingDims: Bool) -> Tensor {
        keepingDims ? out : out.reshaped(reducedShape(axes, keepingDims: false))
    }

    /// `f(x, y, g)` at every element of `x`, where `y` and the output gradient `g` (each of shape
    /// `kept` or with the reduced axes dropped) are broadcast back over the reduced axes.
    private static func broadcastingBack(_ x: Tensor, _ y: Tensor, _ g: Tensor, kept: [Int],
                                         _ f: (Float, Float, Float) -> Float) -> Tensor {
        Elementwise.zip3(x, y.reshaped(kept).expanded(to: x.shape), g.reshaped(kept).expanded(to: x.shape), f)
    }

    /// max or min over `axes` (`better(a, b)`: a replaces b), with the tie-splitting pullback.
    private func extremum(axes: [Int]?, keepingDims: Bool, op: String,
                          _ better: (Float, Float) -> Bool) -> Tensor {
        let axes = reductionAxes(axes, op: op)
        for a in axes {
            require(shape[a] > 0, "\(op): cannot reduce axis \(a) of size 0 (shape \(shape))")
        }
        let kept = reducedShape(axes, keepingDims: true)
        let x = detached()
        return Tensor.op(op, inputs: [self], shape: reducedShape(axes, keepingDims: keepingDims),
                         export: OpExport(op == "max" ? "ReduceMax" : "ReduceMin", attributes: ["axes": .ints(axes), "keepdims": .int(keepingDims ? 1 : 0)])) {
            reducedResult(extremumValues(axes: axes, kept: kept, better), axes: axes, keepingDims: keepingDims)
        } pullback: { g, m in
            let hits = Elementwise.zip(x, m.reshaped(kept).expanded(to: x.shape)) { $0 == $1 ? 1 : 0 }
            let ties = hits.sum(axes: axes, keepingDims: true)
            return [Tensor.broadcastingBack(hits, ties, g, kept: kept) { hit, ties, g in hit == 0 ? 0 : g / ties }]
        }
    }

    /// The extremum over `axes` as a contiguous tensor of shape `kept` (reduced axes of size 1),
    /// without autograd. NaN wins over any number.
    @inline(__always)
    private func extremumValues(axes: [Int], kept: [Int], _ better: (Float, Float) -> Bool) -> Tensor {
        let out = Tensor(repeating: better(1, 0) ? -.infinity : .infinity, shape: kept)
        var outStrides = out.strides
        for a in axes { outStrides[a] = 0 }
        let dst = out.storage.pointer, src = storage.pointer
        StridedLoop.forEachRow(shape: shape, strides: [strides, outStrides], offsets: [offset, 0]) { n, off, rs in
            let s = src + off[0], ts = rs[0], d = dst + off[1], td = rs[1]
            if td == 0 {
                var acc = d[0]
                for i in 0..<n {
                    let v = s[i * ts]
                    if better(v, acc) || v.isNaN { acc = v }
                }
                d[0] = acc
            } else {
                for i in 0..<n {
                    let v = s[i * ts]
                    if better(v, d[i * td]) || v.isNaN { d[i * td] = v }
                }
            }
        }
        return out
    }

    /// Index of the first extremum along `axis` (`better(a, b)`: a replaces b; the first NaN wins).
    private func extremumIndex(axis: Int, keepingDims: Bool, op: String, _ better: (Float, Float) -> Bool) -> Tensor {
        if rank == 0 { return withoutGrad { reshaped([1]) }.extremumIndex(axis: 0, keepingDims: false, op: op, better) }
        let a = Shape.normalize(axis: axis, rank: rank, op: op)
        let n = shape[a], step = strides[a]
        require(n > 0, "\(op): cannot reduce axis \(a) of size 0 (shape \(shape))")
        var kept = shape
        kept[a] = 1
        let result = reducedShape([a], keepingDims: keepingDims)
        return Tensor.op(op, inputs: [self], shape: result) {
            let out = Tensor(zeros: kept)
            let dst = out.storage.pointer, src = storage.pointer
            // Iterate over the output positions; each scans its line along `axis`.
            StridedLoop.forEachRow(shape: kept, strides: [strides, out.strides], offsets: [offset, 0]) { count, off, rs in
                for j in 0..<count {
                    let line = src + off[0] + j * rs[0]
                    var best = line[0], index = 0
                    if !best.isNaN {
                        for i in 1..<n {
                            let v = line[i * step]
                            if v.isNaN { index = i; break }
                            if better(v, best) { best = v; index = i }
                        }
                    }
                    dst[off[1] + j * rs[1]] = Float(index)
                }
            }
            return out.reshaped(result)
        }
    }
}
