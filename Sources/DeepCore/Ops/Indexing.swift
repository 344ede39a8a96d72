// Indexing: gather and index-select (whose pullbacks scatter-add, so repeated indices accumulate),
// one-hot encoding and masked fill. Index tensors hold integers stored as Float.

extension Tensor {
    /// Picks, along `axis`, the element named by `indices` at every position, like
    /// `torch.gather`: for axis 1 of a 3-D tensor, `out[i][j][k] = self[i][indices[i][j][k]][k]`.
    ///
    ///     logProbs.gathered(axis: 1, indices: labels.unsqueezed(axis: 1))   // (N, K), (N, 1) → (N, 1)
    ///
    /// - Parameter axis: the axis the indices select along.
    /// - Parameter indices: integers in `0..<shape[axis]` stored as Float, of this tensor's rank,
    ///   no larger than this tensor along the other axes; the result has its shape.
    /// - Returns: a tensor of `indices.shape`. The pullback adds each gradient into the selected
    ///   position (repeated indices accumulate).
    public func gathered(axis: Int, indices: Tensor) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "gathered")
        guard shapeCheck(indices.rank == rank && (0..<rank).allSatisfy { $0 == a || indices.shape[$0] <= shape[$0] },
                         "gathered: indices of shape \(indices.shape) do not fit a tensor of shape \(shape) along axis \(a)")
        else { return .shapeFailure }
        let index = indices.detached()
        let inputShape = shape
        return Tensor.op("gathered", inputs: [self, index], shape: index.shape, export: OpExport(nodes: [
            .castToInt64(.input(1)), .init("GatherElements", inputs: [.input(0), .node(0, output: 0)], attributes: ["axis": .int(a)])])) {
            let src = storage.pointer
            return Tensor.make(shape: index.shape) { out in
                Tensor.forEachGathered(index, axis: a, from: shape, strides: strides, offset: offset) { i, p in
                    out[i] = src[p]
                }
            }
        } pullback: { g, _ in
            let gc = g.contiguous(), gp = gc.storage.pointer + gc.offset
            let dx = Tensor(zeros: inputShape), dp = dx.storage.pointer
            Tensor.forEachGathered(index, axis: a, from: inputShape, strides: dx.strides, offset: 0) { i, p in
                dp[p] += gp[i]
            }
            return [dx, nil]
        }
    }

    /// Calls `body(i, p)` for each element of `index` in row-major order `i`, with `p` the
    /// position of the element it selects in a tensor of `shape` with `strides` and `offset`.
    @inline(__always)
    private static func forEachGathered(_ index: Tensor, axis: Int, from shape: [Int], strides: [Int], offset: Int,
                                        _ body: (Int, Int) -> Void) {
        let size = shape[axis], step = strides[axis]
        var sourceStrides = strides
        sourceStrides[axis] = 0
        let ip = index.storage.pointer
        var position = 0
        StridedLoop.forEachRow(shape: index.shape, strides: [index.strides, sourceStrides],
                               offsets: [index.offset, offset]) { n, off, rs in
            for k in 0..<n {
                let j = checkedIndex(ip[off[0] + k * rs[0]], size: size, op: "gathered")
                body(position + k, off[1] + k * rs[1] + j * step)
            }
            position += n
        }
    }

    /// The slices at `indices` along `axis`, in that order (repeats allowed), like
    /// `torch.index_select`.
    ///
    ///     table.indexSelected(axis: 0, indices: [3, 1, 3])   // (V, D) → (3, D)
    ///
    /// - Parameter indices: positions in `0..<shape[axis]`.
    /// - Returns: this tensor's shape with `indices.count` along `axis`. The pullback adds each
    ///   slice's gradient back into its source slice.
    public func indexSelected(axis: Int, indices: [Int]) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "indexSelected")
        let n = shape[a]
        for i in indices {
            require(i >= 0 && i < n, "indexSelected: index \(i) out of range for axis \(a) of shape \(shape)")
        }
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        var outShape = shape
        outShape[a] = indices.count
        let inputShape = shape
        return Tensor.op("indexSelected", inputs: [self], shape: outShape) {
            let source = contiguous()
            let sp = source.storage.pointer + source.offset
            return Tensor.make(shape: outShape) { out in
                guard let op = out.baseAddress else { return }
                Tensor.forEachSelectedSlice(outer: outer, n: n, indices: indices, inner: inner) { from, to in
                    (op + to).update(from: sp + from, count: inner)
                }
            }
        } pullback: { g, _ in
            let gc = g.contiguous(), gp = gc.storage.pointer + gc.offset
            let dx = Tensor(zeros: inputShape), dp = dx.storage.pointer
            Tensor.forEachSelectedSlice(outer: outer, n: n, indices: indices, inner: inner) { from, to in
                let d = dp + from, s = gp + to
                for k in 0..<inner { d[k] += s[k] }
            }
            return [dx]
        }
    }

    /// Calls `body(from, to)` for each selected slice of `inner` contiguous elements: `from` is
    /// its offset in the contiguous source (outer, n, inner), `to` in the result
    /// (outer, indices.count, inner).
    @inline(__always)
    private static func forEachSelectedSlice(outer: Int, n: Int, indices: [Int], inner: Int, _ body: (Int, Int) -> Void) {
        let m = indices.count
        for o in 0..<outer {
            for (j, i) in indices.enumerated() { body((o * n + i) * inner, (o * m + j) * inner) }
        }
    }

    /// The integer held by an index element, stopping with `op` and the range when it is not an
    /// integer in `0..<size`.
    @inline(__always)
    static func checkedIndex(_ value: Float, size: Int, op: String) -> Int {
        require(value >= 0 && value < Float(size) && value == value.rounded(.towardZero),
                "\(op): index \(value) is not an integer in 0..<\(size)")
        return Int(value)
    }

    /// This tensor with `value` wherever `mask` is nonzero, like `torch.masked_fill`; the mask
    /// and this tensor broadcast together (a tensor-valued overload is in Ops/Scatter.swift).
    ///
    ///     scores.filled(where: causalMask, with: -.infinity)   // (B, H, L, L), mask (L, L)
    ///
    /// - Parameter mask: 1 (fill) / 0 (keep) as Float, broadcastable with this tensor's shape;
    ///   not differentiated.
    /// - Returns: the broadcast shape of this tensor and `mask` (this tensor's shape when the
    ///   mask broadcasts to it); the gradient is zero at filled positions.
    public func filled(where mask: Tensor, with value: Float) -> Tensor {
        guard let target = Shape.broadcast(shape, mask.shape, op: "filled(where:)") else { return .shapeFailure }
        let x = expanded(to: target), m = mask.detached().expanded(to: target)
        return Tensor.op("filled", inputs: [x, m], shape: target) {
            Elementwise.zip(x, m) { x, m in m != 0 ? value : x }
        } pullback: { g, _ in
            [Elementwise.zip(g, m) { g, m in m != 0 ? 0 : g }, nil]
        }
    }
}

/// Rows of zeros with a 1 at each class, like `torch.nn.functional.one_hot` (as Float).
///
///     oneHot([2, 0], count: 3)   // → [[0, 0, 1], [1, 0, 0]], shape (2, 3)
///
/// - Parameter classes: N class indices in `0..<count`.
/// - Returns: (N, count).
public func oneHot(_ classes: [Int], count: Int) -> Tensor {
    let out = Tensor(zeros: [classes.count, count])
    let p = out.storage.pointer
    for (i, c) in classes.enumerated() {
        require(c >= 0 && c < count, "oneHot: class \(c) out of range 0..<\(count)")
        p[i * count + c] = 1
    }
    return out
}
