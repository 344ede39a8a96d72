// Joining and splitting: concatenate (a copy; its pullback narrows the gradient), stack
// (unsqueeze + concatenate), and split/chunk (narrowed views, differentiable through `narrowed`).

extension Tensor {
    /// Joins `tensors` end to end along `axis`, like `torch.cat`.
    ///
    ///     Tensor.concatenate([a, b], axis: 1)   // (N, C₁, H, W), (N, C₂, H, W) → (N, C₁+C₂, H, W)
    ///
    /// - Parameter tensors: at least one tensor; all of one rank and equal in every axis but `axis`.
    /// - Returns: a new contiguous tensor. Each input's gradient is its slice of the result's.
    public static func concatenate(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        require(!tensors.isEmpty, "concatenate: no tensors to join")
        let first = tensors[0]
        guard shapeCheck(first.rank > 0, "concatenate: cannot join 0-D tensors; use stack") else { return .shapeFailure }
        let a = Shape.normalize(axis: axis, rank: first.rank, op: "concatenate")
        for t in tensors {
            guard shapeCheck(t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                             "concatenate: shapes \(tensors.map(\.shape)) differ outside axis \(a)")
            else { return .shapeFailure }
        }
        let sizes = tensors.map { $0.shape[a] }
        var outShape = first.shape
        outShape[a] = sizes.reduce(0, +)
        let needsGrad = tensors.map(\.requiresGrad)
        return Tensor.op("concatenate", inputs: tensors, shape: outShape, export: OpExport("Concat", attributes: ["axis": .int(a)])) {
            let out = Tensor(storage: TensorStorage(uninitializedCount: Shape.count(outShape)), shape: outShape)
            var start = 0
            for t in tensors {
                // Copy into the window of `out` that this input fills.
                Tensor(storage: out.storage, shape: t.shape, strides: out.strides, offset: start * out.strides[a]).assign(t)
                start += t.shape[a]
            }
            return out
        } pullback: { g, _ in
            var start = 0
            return zip(sizes, needsGrad).map { size, needed in
                defer { start += size }
                return needed ? g.narrowed(axis: a, start: start, length: size) : nil
            }
        }
    }

    /// Joins tensors of one shape along a new axis at `axis` (which may equal their rank), like
    /// `torch.stack`.
    ///
    ///     Tensor.stack([a, b, c], axis: 0)   // three (H, W) → (3, H, W)
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        require(!tensors.isEmpty, "stack: no tensors to join")
        let shape = tensors[0].shape
        guard shapeCheck(tensors.allSatisfy { $0.shape == shape }, "stack: shapes \(tensors.map(\.shape)) differ")
        else { return .shapeFailure }
        let a = axis < 0 ? axis + shape.count + 1 : axis
        require(a >= 0 && a <= shape.count, "stack: axis \(axis) out of range for tensors of rank \(shape.count)")
        return concatenate(tensors.map { $0.unsqueezed(axis: a) }, axis: a)
    }

    /// Consecutive pieces of `sizes` along `axis`, like `torch.split` with a list (views).
    ///
    ///     qkv.split(sizes: [d, d, d], axis: -1)   // (N, L, 3d) → three (N, L, d)
    ///
    /// - Parameter sizes: lengths that add up to `shape[axis]`.
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        let a = Shape.normalize(axis: axis, rank: rank, op: "split")
        require(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[a],
                "split: sizes \(sizes) do not add up to axis \(a) of shape \(shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return narrowed(axis: a, start: start, length: size)
        }
    }

    /// Consecutive pieces of `size` along `axis`, the last one shorter if the axis does not
    /// divide evenly, like `torch.split` with an integer (views).
    ///
    ///     x.split(size: 2, axis: 0)   // (5, D) → (2, D), (2, D), (1, D)
    public func split(size: Int, axis: Int) -> [Tensor] {
        let a = Shape.normalize(axis: axis, rank: rank, op: "split")
        require(size > 0, "split: piece size \(size) must be positive")
        let n = shape[a]
        if n == 0 { return [self] }
        return split(sizes: stride(from: 0, to: n, by: size).map { Swift.min(size, n - $0) }, axis: a)
    }

    /// Splits `axis` into at most `count` pieces of ⌈n / count⌉, the last one possibly shorter
    /// (and fewer pieces when later ones would be empty), like `torch.chunk` (views).
    ///
    ///     x.chunked(3, axis: 1)   // (N, 3C, L) → three (N, C, L)
    public func chunked(_ count: Int, axis: Int) -> [Tensor] {
        require(count > 0, "chunked: count \(count) must be positive")
        let a = Shape.normalize(axis: axis, rank: rank, op: "chunked")
        let n = shape[a]
        if n == 0 { return split(sizes: [Int](repeating: 0, count: count), axis: a) }
        return split(size: (n + count - 1) / count, axis: a)
    }
}
