// Views: ops that change how elements are addressed without copying them (reshape of a
// contiguous tensor, permute, transpose, expand, narrow, squeeze, unsqueeze) and the copy that
// makes any view contiguous. Each op's pullback sits beside it.

extension Tensor {
    /// A contiguous copy of the elements (differentiable; the gradient passes through).
    public func copied() -> Tensor {
        Tensor.op("copy", inputs: [self], shape: shape, export: .identity) { Elementwise.copy(self) } pullback: { g, _ in [g] }
    }

    /// The same elements seen with `shape`; one axis may be `-1` and is inferred. A view when
    /// this tensor is contiguous, else a copy.
    ///
    ///     x.reshaped([4, -1])   // (2, 3, 4) → (4, 6)
    public func reshaped(_ newShape: [Int]) -> Tensor {
        guard let resolved = Tensor.resolve(shape: newShape, count: count, op: "reshaped", from: shape) else { return .shapeFailure }
        if resolved == shape { return self }
        let inputShape = shape
        return Tensor.op("reshaped", inputs: [self], shape: resolved, export: OpExport("Reshape", inputs: [.input(0), .shape(resolved)])) {
            let source = contiguous()
            return Tensor(storage: source.storage, shape: resolved, strides: Shape.contiguousStrides(resolved), offset: source.offset)
        } pullback: { g, _ in [g.reshaped(inputShape)] }
    }

    /// Alias of ``reshaped(_:)`` for readers coming from PyTorch's `view`.
    public func view(_ newShape: [Int]) -> Tensor { reshaped(newShape) }

    /// `newShape` with its `-1` inferred, checked to hold `count` elements; nil after a recorded
    /// shape failure.
    static func resolve(shape newShape: [Int], count: Int, op: String, from old: [Int]) -> [Int]? {
        var shape = newShape
        let inferred = shape.indices.filter { shape[$0] == -1 }
        guard shapeCheck(inferred.count <= 1 && shape.allSatisfy({ $0 >= -1 }),
                         "\(op): invalid target shape \(newShape) for shape \(old)") else { return nil }
        if let axis = inferred.first {
            let known = shape.enumerated().filter { $0.offset != axis }.map(\.element).reduce(1, *)
            guard shapeCheck(known > 0 && count % known == 0,
                             "\(op): cannot view shape \(old) (\(count) elements) as \(newShape)") else { return nil }
            shape[axis] = count / known
        }
        guard shapeCheck(Shape.count(shape) == count,
                         "\(op): cannot view shape \(old) (\(count) elements) as \(newShape)") else { return nil }
        return shape
    }

    /// Merges axes `start...end` into one.
    ///
    ///     x.flattened(from: 1)   // (N, C, H, W) → (N, C·H·W)
    public func flattened(from start: Int = 0, through end: Int = -1) -> Tensor {
        if rank == 0 { return reshaped([1]) }
        let s = Shape.normalize(axis: start, rank: rank, op: "flattened")
        let e = Shape.normalize(axis: end, rank: rank, op: "flattened")
        guard shapeCheck(s <= e, "flattened: start axis \(start) is after end axis \(end)") else { return .shapeFailure }
        let merged = shape[s...e].reduce(1, *)
        return reshaped(Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    /// Reorders the axes: axis i of the result is axis `order[i]` of this tensor (a view).
    ///
    ///     x.permuted([0, 2, 3, 1])   // (N, C, H, W) → (N, H, W, C)
    public func permuted(_ order: [Int]) -> Tensor {
        guard shapeCheck(order.count == rank && Set(order.map { Shape.normalize(axis: $0, rank: rank, op: "permuted") }).count == rank,
                     "permuted: \(order) is not a permutation of the \(rank) axes of a tensor of shape \(shape)") else { return .shapeFailure }
        let axes = order.map { Shape.normalize(axis: $0, rank: rank, op: "permuted") }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        let newShape = axes.map { shape[$0] }
        return Tensor.op("permuted", inputs: [self], shape: newShape, export: OpExport("Transpose", attributes: ["perm": .ints(axes)])) {
            Tensor(storage: storage, shape: newShape, strides: axes.map { strides[$0] }, offset: offset)
        } pullback: { g, _ in [g.permuted(inverse)] }
    }

    /// Swaps two axes (a view).
    public func transposed(_ axis0: Int, _ axis1: Int) -> Tensor {
        let a = Shape.normalize(axis: axis0, rank: rank, op: "transposed")
        let b = Shape.normalize(axis: axis1, rank: rank, op: "transposed")
        var order = Array(0..<rank)
        order.swapAt(a, b)
        return permuted(order)
    }

    /// Swaps the last two axes of a matrix or batch of matrices (a view).
    public var mT: Tensor { transposed(-2, -1) }

    /// Broadcasts to `newShape` by repeating size-1 axes and prepending axes (a view with stride
    /// 0). The pullback sums the gradient back to this tensor's shape: broadcasting in every
    /// binary op goes through here.
    public func expanded(to newShape: [Int]) -> Tensor {
        if newShape == shape { return self }
        guard shapeCheck(newShape.count >= rank, "expanded: cannot expand shape \(shape) to fewer axes \(newShape)") else { return .shapeFailure }
        let lead = newShape.count - rank
        var newStrides = [Int](repeating: 0, count: newShape.count)
        for i in 0..<newShape.count {
            if i < lead { continue }
            let d = shape[i - lead]
            if d == newShape[i] {
                newStrides[i] = strides[i - lead]
            } else {
                guard shapeCheck(d == 1, "expanded: cannot expand shape \(shape) to \(newShape) (axis \(i): \(d) vs \(newShape[i]))") else { return .shapeFailure }
            }
        }
        let inputShape = shape
        return Tensor.op("expanded", inputs: [self], shape: newShape, export: OpExport("Expand", inputs: [.input(0), .shape(newShape)])) {
            Tensor(storage: storage, shape: newShape, strides: newStrides, offset: offset)
        } pullback: { g, _ in [g.summed(toShape: inputShape)] }
    }

    /// Sums a broadcast gradient back to `target`, the shape it was broadcast from.
    public func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        guard shapeCheck(lead >= 0, "summed(toShape:): shape \(shape) has fewer axes than \(target)") else { return .shapeFailure }
        var axes = Array(0..<lead)
        for (i, d) in target.enumerated() where d == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        return sum(axes: axes, keepingDims: true).reshaped(target)
    }

    /// The elements `start..<start+length` along `axis` (a view).
    public func narrowed(axis: Int, start: Int, length: Int) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "narrowed")
        guard shapeCheck(start >= 0 && length >= 0 && start + length <= shape[a],
                     "narrowed: range \(start)..<\(start + length) out of bounds for axis \(a) of shape \(shape)") else { return .shapeFailure }
        var newShape = shape
        newShape[a] = length
        let inputShape = shape
        return Tensor.op("narrowed", inputs: [self], shape: newShape,
                         export: OpExport("Slice", inputs: [.input(0), .int64s([start]), .int64s([start + length]), .int64s([a])])) {
            Tensor(storage: storage, shape: newShape, strides: strides, offset: offset + start * strides[a])
        } pullback: { g, _ in [Tensor.scattering(g, intoZerosOf: inputShape, axis: a, start: start)] }
    }

    /// Zeros of `shape` with `g` written at `start` along `axis`: the pullback of a slice.
    static func scattering(_ g: Tensor, intoZerosOf shape: [Int], axis: Int, start: Int) -> Tensor {
        let out = Tensor(zeros: shape)
        let window = Tensor(storage: out.storage, shape: g.shape, strides: out.strides,
                            offset: start * out.strides[axis])
        window.assign(g)
        return out
    }

    /// Writes `source`'s elements into this view's elements in place (no autograd record).
    /// `source` must have this tensor's shape.
    public func assign(_ source: Tensor) {
        require(source.shape == shape, "assign: source of shape \(source.shape) into a view of shape \(shape)")
        if isMeta || source.isMeta { return }
        let dst = storage.pointer, src = source.storage.pointer
        StridedLoop.forEachRow(shape: shape, strides: [strides, source.strides], offsets: [offset, source.offset]) { n, off, rs in
            let d = dst + off[0], s = src + off[1], td = rs[0], ts = rs[1]
            for i in 0..<n { d[i * td] = s[i * ts] }
        }
    }

    // `x[i]` (the sub-tensor at i along axis 0) and `x[a..<b]` (rows a..<b) are the one-item
    // cases of the multi-axis subscript in Subscripts.swift.

    /// Removes `axis`, which must have size 1 (a view).
    public func squeezed(axis: Int) -> Tensor {
        let a = Shape.normalize(axis: axis, rank: rank, op: "squeezed")
        guard shapeCheck(shape[a] == 1, "squeezed: axis \(axis) of shape \(shape) has size \(shape[a]), not 1") else { return .shapeFailure }
        var s = shape; s.remove(at: a)
        var t = strides; t.remove(at: a)
        return unitAxesView("squeezed", shape: s, strides: t)
    }

    /// Removes every axis of size 1 (a view).
    public func squeezed() -> Tensor {
        var out = self
        for axis in stride(from: rank - 1, through: 0, by: -1) where shape[axis] == 1 {
            out = out.squeezed(axis: axis)
        }
        return out
    }

    /// Inserts an axis of size 1 at `axis` (which may equal `rank`) (a view).
    public func unsqueezed(axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        guard shapeCheck(a >= 0 && a <= rank, "unsqueezed: axis \(axis) out of range for a tensor of rank \(rank)") else { return .shapeFailure }
        var s = shape; s.insert(1, at: a)
        var t = strides; t.insert(a < rank ? strides[a] * shape[a] : 1, at: a)
        return unitAxesView("unsqueezed", shape: s, strides: t)
    }

    /// A view of the same elements in the same order with `shape` and `strides` (axes of size 1
    /// removed or inserted); the gradient is reshaped back.
    private func unitAxesView(_ name: String, shape newShape: [Int], strides newStrides: [Int]) -> Tensor {
        let inputShape = shape
        return Tensor.op(name, inputs: [self], shape: newShape, export: OpExport("Reshape", inputs: [.input(0), .shape(newShape)])) {
            Tensor(storage: storage, shape: newShape, strides: newStrides, offset: offset)
        } pullback: { g, _ in [g.reshaped(inputShape)] }
    }
}
