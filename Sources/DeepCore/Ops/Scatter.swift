// Scatter ops, out of place: scatter and scatter-add along an axis (the inverse of `gathered`),
// index-add of slices, masked fill with a tensor value and masked select. Index tensors hold
// integers stored as Float, as for `gathered`; index lists are [Int], as for `indexSelected`.
// Gradients as PyTorch defines them: an overwritten position gets no gradient, a source element
// gets the gradient of the position it was written to (a gather).

extension Tensor {
    /// This tensor with, along `axis`, the elements of `source` written at the positions
    /// `indices` names, like `torch.scatter(self, axis, indices, source)`: for axis 1 of a 3-D
    /// tensor, `out[i][indices[i][j][k]][k] = source[i][j][k]` for every position of `indices`.
    ///
    ///     Tensor(zeros: [N, K]).scattered(axis: 1, indices: labels, source: Tensor(ones: [N, 1]))   // one-hot rows
    ///
    /// - Parameters:
    ///   - indices: integers in `0..<shape[axis]` stored as Float, of this tensor's rank, no
    ///     larger than `source` along every axis and than this tensor along the others. Where two
    ///     name the same position, the later one in row-major order is written (as PyTorch on CPU).
    ///   - source: this tensor's rank; only its leading part of `indices.shape` is read.
    /// - Returns: this tensor's shape. This tensor's gradient is zero at the written positions;
    ///   `source`'s is the output gradient gathered at `indices` (zero where not read).
    public func scattered(axis: Int, indices: Tensor, source: Tensor) -> Tensor {
        scattering("scattered", axis: axis, indices: indices, source: source, .assign) { g, a, index in
            g.scattered(axis: a, indices: index, value: 0)
        }
    }

    /// This tensor with `value` written, along `axis`, at the positions `indices` names, like
    /// `torch.scatter(self, axis, indices, value)`.
    ///
    ///     x.scattered(axis: 1, indices: topClasses, value: 0)   // (N, K), (N, k) → (N, K)
    ///
    /// - Parameter indices: integers in `0..<shape[axis]` stored as Float, of this tensor's rank,
    ///   no larger than this tensor along the other axes.
    /// - Returns: this tensor's shape; the gradient is zero at the written positions.
    public func scattered(axis: Int, indices: Tensor, value: Float) -> Tensor {
        guard let a = scatterAxis(axis, indices: indices, source: nil, op: "scattered") else { return .shapeFailure }
        let index = indices.detached()
        return Tensor.op("scattered", inputs: [self, index], shape: shape) {
            scatterForward(axis: a, index: index, source: nil, .fill(value), op: "scattered")
        } pullback: { g, _ in
            [g.scattered(axis: a, indices: index, value: 0), nil]
        }
    }

    /// This tensor plus, along `axis`, the elements of `source` added at the positions `indices`
    /// names, like `torch.scatter_add`: for axis 1 of a 3-D tensor,
    /// `out[i][indices[i][j][k]][k] += source[i][j][k]` (repeated positions accumulate).
    ///
    ///     Tensor(zeros: [B, E]).scatteredAdding(axis: 1, indices: expertOfToken, source: gates)   // (B, E)
    ///
    /// - Parameters: as ``scattered(axis:indices:source:)``.
    /// - Returns: this tensor's shape. This tensor's gradient is the output's; `source`'s is the
    ///   output gradient gathered at `indices` (zero where not read).
    public func scatteredAdding(axis: Int, indices: Tensor, source: Tensor) -> Tensor {
        scattering("scatteredAdding", axis: axis, indices: indices, source: source, .add) { g, _, _ in g }
    }

    /// This tensor plus `alpha` times the slices of `source` added, along `axis`, into the slices
    /// `indices` names, like `torch.index_add`: `out.select(axis, indices[j]) += alpha ·
    /// source.select(axis, j)` (repeated indices accumulate).
    ///
    ///     Tensor(zeros: [T, D]).indexAdded(axis: 0, indices: tokenRows, source: expertOutputs)   // (n, D) → (T, D)
    ///
    /// - Parameters:
    ///   - indices: positions in `0..<shape[axis]`, one per slice of `source`.
    ///   - source: this tensor's shape with `indices.count` along `axis`.
    ///   - alpha: the scale of `source`.
    /// - Returns: this tensor's shape. This tensor's gradient is the output's; `source`'s is
    ///   `alpha` times the output gradient's slices `indices`.
    public func indexAdded(axis: Int, indices: [Int], source: Tensor, alpha: Float = 1) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "indexAdded")
        var expected = shape
        if rank > 0 { expected[a] = indices.count }
        guard shapeCheck(rank > 0 && source.shape == expected,
                         "indexAdded: source of shape \(source.shape) for \(indices.count) indices along axis \(a) of shape \(shape) (expected \(expected))")
        else { return .shapeFailure }
        let n = shape[a]
        for i in indices { require(i >= 0 && i < n, "indexAdded: index \(i) out of range for axis \(a) of shape \(shape)") }
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *), m = indices.count
        return Tensor.op("indexAdded", inputs: [self, source], shape: shape, flops: source.count) {
            let out = Elementwise.copy(self)
            let scaled = alpha == 1 ? source.contiguous() : Elementwise.map(source) { $0 * alpha }
            let dst = out.storage.pointer, src = scaled.storage.pointer + scaled.offset
            withExtendedLifetime(scaled) {
                for o in 0..<outer {
                    RowScatterKernels.addRows(src + o * m * inner, rows: indices, width: inner, into: dst + o * n * inner)
                }
            }
            return out
        } pullback: { g, _ in
            let slices = g.indexSelected(axis: a, indices: indices)
            return [g, alpha == 1 ? slices : slices * alpha]
        }
    }

    /// This tensor with `value` wherever `mask` is nonzero, like `torch.masked_fill` with a 0-D
    /// tensor value; broadcasting as the overload with a Float value.
    ///
    ///     x.filled(where: padding, with: learnedFill)   // (N, L, D), (N, L, 1), () → (N, L, D)
    ///
    /// - Parameter value: a 0-D tensor, differentiable: its gradient is the sum of the output
    ///   gradient over the filled positions.
    /// - Returns: the broadcast shape of this tensor and `mask`; this tensor's gradient is zero at
    ///   the filled positions.
    public func filled(where mask: Tensor, with value: Tensor) -> Tensor {
        guard shapeCheck(value.rank == 0, "filled(where:with:): the value must be a 0-D tensor, not of shape \(value.shape)")
        else { return .shapeFailure }
        return select(where: mask, value, otherwise: self)
    }

    /// The elements where `mask` is nonzero, in row-major order, like `torch.masked_select`;
    /// `mask` and this tensor are broadcast together first.
    ///
    ///     x.maskedSelected(x.isGreater(than: 0))   // (N, D) → (count,)
    ///
    /// - Parameter mask: 1 (select) / 0 as Float, broadcastable with this tensor; not
    ///   differentiated. It must hold values (not shape-only): the result's length is its count
    ///   of nonzero elements.
    /// - Returns: a 1-D tensor; its gradient goes back to the selected positions (summed over
    ///   the positions a broadcast element was selected at).
    public func maskedSelected(_ mask: Tensor) -> Tensor {
        guard shapeCheck(!mask.isMeta, "maskedSelected: the result's length depends on the mask's values; a shape-only mask of shape \(mask.shape) has none")
        else { return .shapeFailure }
        guard let target = Shape.broadcast(shape, mask.shape, op: "maskedSelected") else { return .shapeFailure }
        let x = expanded(to: target)
        let positions = mask.detached().expanded(to: target).withUnsafeBufferPointer { m in
            m.indices.filter { m[$0] != 0 }
        }
        return Tensor.op("maskedSelected", inputs: [x], shape: [positions.count]) {
            Elementwise.copy(x).withUnsafeBufferPointer { source in
                Tensor.make(shape: [positions.count]) { out in
                    for (i, p) in positions.enumerated() { out[i] = source[p] }
                }
            }
        } pullback: { g, _ in
            let dx = Tensor(zeros: target)
            g.withUnsafeBufferPointer { gradient in
                let d = dx.storage.pointer
                for (i, p) in positions.enumerated() { d[p] = gradient[i] }
            }
            return [dx]
        }
    }

    /// Declares a scatter of `source` into this tensor: this tensor's gradient is
    /// `selfGradient(g, axis, index)`, `source`'s the output gradient gathered at the indices.
    private func scattering(_ op: String, axis: Int, indices: Tensor, source: Tensor, _ combine: ScatterKernels.Combine,
                            selfGradient: @escaping (_ g: Tensor, _ axis: Int, _ index: Tensor) -> Tensor) -> Tensor {
        guard let a = scatterAxis(axis, indices: indices, source: source, op: op) else { return .shapeFailure }
        let index = indices.detached(), sourceShape = source.shape
        // ONNX's ScatterElements takes updates of the indices' shape.
        var reduction: String? = nil
        if source.shape == index.shape {
            switch combine { case .assign: reduction = "none"; case .add: reduction = "add"; case .fill: break }
        }
        return Tensor.op(op, inputs: [self, source, index], shape: shape, export: reduction.map { reduction in
            OpExport(nodes: [.castToInt64(.input(2)),
                             .init("ScatterElements", inputs: [.input(0), .node(0, output: 0), .input(1)],
                                   attributes: ["axis": .int(a), "reduction": .string(reduction)])])
        }) {
            scatterForward(axis: a, index: index, source: source, combine, op: op)
        } pullback: { g, _ in
            [selfGradient(g, a, index), Tensor.zeroPadded(g.gathered(axis: a, indices: index), to: sourceShape), nil]
        }
    }

    /// `axis` normalised, after checking `indices` (and `source`) against this tensor as
    /// `torch.scatter` does; nil after a shape failure recorded in a summary.
    private func scatterAxis(_ axis: Int, indices: Tensor, source: Tensor?, op: String) -> Int? {
        let a = Shape.normalize(axis: axis, rank: rank, op: op)
        let fits = indices.rank == rank && (source.map { $0.rank == rank } ?? true)
            && (0..<rank).allSatisfy { d in
                (d == a || indices.shape[d] <= shape[d]) && (source.map { indices.shape[d] <= $0.shape[d] } ?? true)
            }
        let sourceText = source.map { ", source of shape \($0.shape)" } ?? ""
        guard shapeCheck(indices.count == 0 || fits,
                         "\(op): indices of shape \(indices.shape)\(sourceText) do not fit a tensor of shape \(shape) along axis \(a)")
        else { return nil }
        return a
    }

    /// A contiguous copy of this tensor with `source` (or the value of `.fill`) combined into the
    /// positions along `axis` that `index` names.
    private func scatterForward(axis a: Int, index: Tensor, source: Tensor?, _ combine: ScatterKernels.Combine, op: String) -> Tensor {
        let out = Elementwise.copy(self)
        guard index.count > 0 else { return out }
        Tensor.checkIndices(index, size: rank > 0 ? shape[a] : 1, op: op)
        var destinationStrides = out.strides
        let step = rank > 0 ? destinationStrides[a] : 0
        if rank > 0 { destinationStrides[a] = 0 }
        let read = source ?? index
        withExtendedLifetime((index, read)) {
            ScatterKernels.scatter(combine, shape: index.shape, index: index.storage.pointer,
                                   source: source == nil ? nil : read.storage.pointer, into: out.storage.pointer,
                                   strides: [index.strides, read.strides, destinationStrides],
                                   offsets: [index.offset, read.offset, 0], step: step)
        }
        return out
    }

    /// Stops, naming `op`, unless every element of `index` is an integer in `0..<size`.
    private static func checkIndices(_ index: Tensor, size: Int, op: String) {
        let ip = index.storage.pointer
        StridedLoop.forEachRow(shape: index.shape, strides: [index.strides], offsets: [index.offset]) { n, off, rs in
            for k in 0..<n { _ = checkedIndex(ip[off[0] + k * rs[0]], size: size, op: op) }
        }
    }

    /// `t` in the leading corner of zeros of `shape` (each axis of `t` at most as long), or `t`
    /// itself when it has that shape: the gradient of a source read only in part.
    private static func zeroPadded(_ t: Tensor, to shape: [Int]) -> Tensor {
        if t.shape == shape { return t }
        let out = Tensor(zeros: shape)
        Tensor(storage: out.storage, shape: t.shape, strides: out.strides, offset: 0).assign(t)
        return out
    }
}
