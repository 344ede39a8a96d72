extension Tensor {
    /// Normalises and sorts reduction axes; all axes when `axes` is nil.
    func reductionAxes(_ axes: [Int]?, op: String) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        let normalized = Set(axes.map { Shape.normalize(axis: $0, rank: rank, op: op) })
        require(normalized.count == axes.count, "\(op): repeated axis in \(axes)")
        return normalized.sorted()
    }

    /// The shape after reducing `axes`, keeping them as size 1 or dropping them.
    func reducedShape(_ axes: [Int], keepingDims: Bool) -> [Int] {
        var out: [Int] = []
        for (i, d) in shape.enumerated() {
            if axes.contains(i) { if keepingDims { out.append(1) } } else { out.append(d) }
        }
        return out
    }

    /// Sum over `axes` (all axes when nil).
    ///
    ///     x.sum(axes: [1], keepingDims: true)   // (N, C, L) → (N, 1, L)
    public func sum(axes: [Int]? = nil, keepingDims: Bool = false) -> Tensor {
        let axes = reductionAxes(axes, op: "sum")
        let kept = reducedShape(axes, keepingDims: true)
        let inputShape = shape
        return Tensor.op("sum", inputs: [self], shape: reducedShape(axes, keepingDims: keepingDims),
                         export: OpExport("ReduceSum", inputs: [.input(0), .int64s(axes)], attributes: ["keepdims": .int(keepingDims ? 1 : 0)])) {
            let out = sumKeepingDims(axes: axes, into: kept)
            return keepingDims ? out : out.reshaped(reducedShape(axes, keepingDims: false))
        } pullback: { g, _ in
            [g.reshaped(kept).expanded(to: inputShape)]
        }
    }

    /// The sum over `axes` into a new contiguous tensor of shape `kept` (the reduced axes kept as
    /// size 1), without recording.
    private func sumKeepingDims(axes: [Int], into kept: [Int]) -> Tensor {
        let out = Tensor(zeros: kept)
        // The output viewed with the input's shape: stride 0 along reduced axes.
        var outStrides = out.strides
        for a in axes { outStrides[a] = 0 }
        let dst = out.storage.pointer, src = storage.pointer
        StridedLoop.forEachRow(shape: shape, strides: [strides, outStrides], offsets: [offset, 0]) { n, off, rs in
            let s = src + off[0], ts = rs[0]
            if rs[1] == 0 {
                if ts == 1 {
                    dst[off[1]] += VectorMath.sum(s, count: n) { $0 }
                } else {
                    var acc: Float = 0
                    for i in 0..<n { acc += s[i * ts] }
                    dst[off[1]] += acc
                }
            } else {
                let d = dst + off[1], td = rs[1]
                // Unit strides (a bias gradient: rows of (N, C) summed into (C)) vectorise.
                if ts == 1 && td == 1 { for i in 0..<n { d[i] += s[i] } } else { for i in 0..<n { d[i * td] += s[i * ts] } }
            }
        }
        return out
    }

    /// Sum along one axis.
    public func sum(axis: Int, keepingDims: Bool = false) -> Tensor {
        sum(axes: [axis], keepingDims: keepingDims)
    }
}
