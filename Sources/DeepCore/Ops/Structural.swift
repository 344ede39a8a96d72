// Structural ops: flip, roll, the triangles (tril/triu), diagonal, meshgrid, repeat_interleave and
// tile, with PyTorch's semantics. `flipped`, the triangles and `diagonal` are declared here with
// their pullbacks; roll, meshgrid, repeat_interleave and tile are composed from views,
// `concatenate`, `expanded` and `indexSelected`, whose pullbacks give their gradients.

extension Tensor {
    // MARK: Flip and roll

    /// The elements in reverse order along `axes`, like `torch.flip` (a copy).
    ///
    ///     x.flipped(axes: [-1])   // (N, L) → (N, L), each row reversed
    ///
    /// - Parameter axes: distinct axes (negative ones count from the end); none gives a copy.
    /// - Returns: this tensor's shape. The gradient is the output's, flipped back.
    public func flipped(axes: [Int]) -> Tensor {
        let normalized = axes.map { Shape.normalize(axis: $0, rank: rank, op: "flipped") }
        require(Set(normalized).count == normalized.count, "flipped: axis repeated in \(axes) (tensor of shape \(shape))")
        var layout = ViewLayout(identityOf: shape)
        for a in normalized where rank > 0 {
            layout.start[a] = Swift.max(shape[a] - 1, 0)
            layout.steps[a][a] = -1
        }
        return Tensor.op("flipped", inputs: [self], shape: shape) {
            Elementwise.copy(layout.view(of: self))
        } pullback: { g, _ in [g.flipped(axes: normalized)] }
    }

    /// The elements shifted by `shifts[i]` places along `axes[i]`, those pushed past the end
    /// coming back at the start, like `torch.roll` (a copy). Without axes the tensor is rolled
    /// as if flattened, by one shift.
    ///
    ///     x.rolled(shifts: [1], axes: [1])   // [[0, 1, 2], [3, 4, 5]] → [[2, 0, 1], [5, 3, 4]]
    ///     x.rolled(shifts: [1])              // [[0, 1, 2], [3, 4, 5]] → [[5, 0, 1], [2, 3, 4]]
    ///
    /// - Parameters:
    ///   - shifts: places to move towards higher indices (negative: lower), any size.
    ///   - axes: one axis per shift (repeats roll again), or nil to roll the flattened elements.
    /// - Returns: this tensor's shape; the gradient is the output's rolled back.
    public func rolled(shifts: [Int], axes: [Int]? = nil) -> Tensor {
        guard let axes else {
            require(shifts.count == 1, "rolled: \(shifts.count) shifts without axes; the flattened tensor takes one shift")
            return flattened().rolled(shift: shifts[0], along: 0).reshaped(shape)
        }
        require(!shifts.isEmpty && shifts.count == axes.count,
                "rolled: \(shifts.count) shifts for \(axes.count) axes \(axes) (tensor of shape \(shape))")
        var out = self
        for (shift, axis) in zip(shifts, axes) {
            out = out.rolled(shift: shift, along: Shape.normalize(axis: axis, rank: rank, op: "rolled"))
        }
        return out
    }

    /// ``rolled(shifts:axes:)`` by one shift along one axis (nil: the flattened tensor).
    public func rolled(shift: Int, axis: Int? = nil) -> Tensor {
        rolled(shifts: [shift], axes: axis.map { [$0] })
    }

    /// The last `shift` (mod n) slices along normalised `axis` followed by the others.
    private func rolled(shift: Int, along axis: Int) -> Tensor {
        guard rank > 0 else { return copied() }
        let n = shape[axis]
        let k = n == 0 ? 0 : (shift % n + n) % n
        return Tensor.concatenate([narrowed(axis: axis, start: n - k, length: k), narrowed(axis: axis, start: 0, length: n - k)],
                                  axis: axis)
    }

    // MARK: Triangles and diagonals

    /// The lower triangle of each matrix in the last two axes, the rest zero, like `torch.tril`.
    ///
    ///     scores.lowerTriangle()   // (B, L, L): element (i, j) kept where j ≤ i
    ///
    /// - Parameter diagonal: the last diagonal kept: 0 the main one, positive above it, negative
    ///   below it (element (i, j) is kept where j ≤ i + diagonal).
    /// - Returns: (*, M, N) → (*, M, N); the gradient is the output's lower triangle.
    public func lowerTriangle(diagonal: Int = 0) -> Tensor {
        triangle("lowerTriangle", diagonal: diagonal, lower: true)
    }

    /// The upper triangle of each matrix in the last two axes, the rest zero, like `torch.triu`.
    ///
    ///     x.upperTriangle(diagonal: 1)   // (M, N): element (i, j) kept where j ≥ i + 1
    ///
    /// - Parameter diagonal: the first diagonal kept: 0 the main one, positive above it,
    ///   negative below it (element (i, j) is kept where j ≥ i + diagonal).
    /// - Returns: (*, M, N) → (*, M, N); the gradient is the output's upper triangle.
    public func upperTriangle(diagonal: Int = 0) -> Tensor {
        triangle("upperTriangle", diagonal: diagonal, lower: false)
    }

    /// A copy with the elements outside the lower (or upper) triangle of each matrix zeroed.
    private func triangle(_ name: String, diagonal: Int, lower: Bool) -> Tensor {
        guard shapeCheck(rank >= 2, "\(name): a tensor of shape \(shape) has fewer than 2 axes") else { return .shapeFailure }
        let rows = shape[rank - 2], cols = shape[rank - 1]
        return Tensor.op(name, inputs: [self], shape: shape) {
            let out = Elementwise.copy(self)
            StructuralKernels.zeroOutsideTriangle(out.storage.pointer, matrices: rows * cols == 0 ? 0 : count / (rows * cols),
                                                  rows: rows, cols: cols, diagonal: diagonal, lower: lower)
            return out
        } pullback: { g, _ in [g.triangle(name, diagonal: diagonal, lower: lower)] }
    }

    /// The elements (i, i + offset) of the matrices spanned by `axis1` and `axis2`, like
    /// `torch.diagonal` (a view: it shares this tensor's storage).
    ///
    ///     x.diagonal()                               // (N, N) → (N)
    ///     x.diagonal(offset: 1, axis1: -2, axis2: -1) // (B, M, N) → (B, min(M, N - 1))
    ///
    /// - Parameters:
    ///   - offset: the diagonal: 0 the main one, positive above it (along `axis2`), negative
    ///     below it.
    ///   - axis1, axis2: two different axes.
    /// - Returns: the other axes in order, then the diagonal (empty when `offset` lies outside
    ///   the matrix). The gradient is the output's, written on the diagonal of zeros.
    public func diagonal(offset: Int = 0, axis1: Int = 0, axis2: Int = 1) -> Tensor {
        guard shapeCheck(rank >= 2, "diagonal: a tensor of shape \(shape) has fewer than 2 axes") else { return .shapeFailure }
        let a1 = Shape.normalize(axis: axis1, rank: rank, op: "diagonal")
        let a2 = Shape.normalize(axis: axis2, rank: rank, op: "diagonal")
        require(a1 != a2, "diagonal: axis1 \(axis1) and axis2 \(axis2) are the same axis of shape \(shape)")
        let n1 = shape[a1], n2 = shape[a2]
        let length = offset >= 0 ? (offset >= n2 ? 0 : Swift.min(n1, n2 - offset))
                                 : (offset <= -n1 ? 0 : Swift.min(n1 + offset, n2))
        let identity = ViewLayout(identityOf: shape)
        let others = (0..<rank).filter { $0 != a1 && $0 != a2 }
        var layout = ViewLayout(shape: others.map { shape[$0] } + [length], start: identity.start,
                                steps: others.map { identity.steps[$0] })
        layout.steps.append(zip(identity.steps[a1], identity.steps[a2]).map { $0 + $1 })
        if length > 0 { layout.start[offset >= 0 ? a2 : a1] = Swift.abs(offset) }
        return viewed("diagonal", as: layout)
    }

    // MARK: Grids and repetition

    /// How ``meshgrid(_:indexing:)`` orders its axes.
    public enum MeshgridIndexing: Sendable {
        /// Matrix indexing: axis i of every grid follows input i (PyTorch's default).
        case ij
        /// Cartesian indexing: the first two axes swapped, so axis 0 follows input 1 and axis 1
        /// input 0 (NumPy's default).
        case xy
    }

    /// Coordinate grids from 1-D tensors, like `torch.meshgrid`: grid i holds input i's values
    /// repeated along every other axis.
    ///
    ///     let (ys, xs) = (Tensor.arange(0, 3), Tensor.arange(0, 4))
    ///     Tensor.meshgrid([ys, xs])                  // two (3, 4)
    ///     Tensor.meshgrid([xs, ys], indexing: .xy)   // two (3, 4)
    ///
    /// - Parameter tensors: at least one tensor, each 1-D (N₀, N₁, …) or 0-D (size 1).
    /// - Returns: one grid per input, each (N₀, N₁, …) (`.xy`: (N₁, N₀, …)), views with stride 0
    ///   along the repeated axes; each input's gradient sums its grid's.
    public static func meshgrid(_ tensors: [Tensor], indexing: MeshgridIndexing = .ij) -> [Tensor] {
        require(!tensors.isEmpty, "meshgrid: no tensors")
        for t in tensors {
            guard shapeCheck(t.rank <= 1, "meshgrid: tensors of shapes \(tensors.map(\.shape)) are not all 0-D or 1-D")
            else { return tensors.map { _ in .shapeFailure } }
        }
        let sizes = tensors.map(\.count)
        // Cartesian indexing is matrix indexing with the first two inputs' axes swapped.
        var axisOf = Array(sizes.indices)
        if indexing == .xy && sizes.count >= 2 { axisOf.swapAt(0, 1) }
        var gridShape = sizes
        for (i, size) in sizes.enumerated() { gridShape[axisOf[i]] = size }
        return tensors.enumerated().map { i, t in
            var along = [Int](repeating: 1, count: sizes.count)
            along[axisOf[i]] = sizes[i]
            return t.reshaped(along).expanded(to: gridShape)
        }
    }

    /// Each slice along `axis` repeated `repeats` times in place, like `torch.repeat_interleave`
    /// with an integer.
    ///
    ///     Tensor([1, 2]).repeatedInterleave(2)   // → [1, 1, 2, 2]
    ///     x.repeatedInterleave(2, axis: 1)       // (N, L, D) → (N, 2L, D)
    ///
    /// - Parameters:
    ///   - repeats: copies of each slice, ≥ 0.
    ///   - axis: the axis repeated along; nil flattens the tensor first.
    /// - Returns: this tensor's shape with `repeats` times as many along `axis` (nil: 1-D of
    ///   `repeats · count`). Each input element's gradient sums its copies'.
    public func repeatedInterleave(_ repeats: Int, axis: Int? = nil) -> Tensor {
        require(repeats >= 0, "repeatedInterleave: repeats \(repeats) must not be negative")
        guard let a = repeatAxis(axis) else { return flattened().repeatedInterleave(repeats, axis: 0) }
        if repeats == 1 { return copied() }   // a new tensor, as PyTorch's
        var copies = shape
        copies.insert(repeats, at: a + 1)
        var outShape = shape
        outShape[a] *= repeats
        return unsqueezed(axis: a + 1).expanded(to: copies).reshaped(outShape)
    }

    /// Slice i along `axis` repeated `repeats[i]` times in place, like `torch.repeat_interleave`
    /// with a tensor of counts.
    ///
    ///     x.repeatedInterleave([1, 0, 2], axis: 1)   // (N, 3) → (N, 3): columns 0, 2, 2
    ///
    /// - Parameters:
    ///   - repeats: one count ≥ 0 per slice along `axis`, or a single count for all.
    ///   - axis: the axis repeated along; nil flattens the tensor first.
    /// - Returns: this tensor's shape with Σ repeats along `axis`; each input element's gradient
    ///   sums its copies'.
    public func repeatedInterleave(_ repeats: [Int], axis: Int? = nil) -> Tensor {
        require(repeats.allSatisfy { $0 >= 0 }, "repeatedInterleave: repeats \(repeats) must not be negative")
        guard let a = repeatAxis(axis) else { return flattened().repeatedInterleave(repeats, axis: 0) }
        if repeats.count == 1 { return repeatedInterleave(repeats[0], axis: a) }
        require(repeats.count == shape[a], "repeatedInterleave: \(repeats.count) repeats for axis \(a) of shape \(shape)")
        let indices = repeats.enumerated().flatMap { i, n in [Int](repeating: i, count: n) }
        return indexSelected(axis: a, indices: indices)
    }

    /// The normalised axis of ``repeatedInterleave(_:axis:)``, nil when it flattens.
    private func repeatAxis(_ axis: Int?) -> Int? {
        guard let axis else { return nil }
        require(rank > 0, "repeatedInterleave: axis \(axis) of a 0-D tensor; pass no axis to repeat its element")
        return Shape.normalize(axis: axis, rank: rank, op: "repeatedInterleave")
    }

    /// The tensor repeated `reps[i]` times along axis i, like `torch.tile` (a copy).
    ///
    ///     x.tiled([2, 3])   // (M, N) → (2M, 3N)
    ///     x.tiled([2])      // (M, N) → (M, 2N): fewer reps than axes repeat the last axes
    ///
    /// - Parameter reps: counts ≥ 0, aligned with the last axes; more reps than axes add leading
    ///   axes of size 1 first.
    /// - Returns: (d₀·r₀, d₁·r₁, …); each input element's gradient sums its copies'.
    public func tiled(_ reps: [Int]) -> Tensor {
        require(reps.allSatisfy { $0 >= 0 }, "tiled: reps \(reps) must not be negative")
        if reps.allSatisfy({ $0 == 1 }) && reps.count <= rank { return copied() }   // a new tensor, as PyTorch's
        let r = Swift.max(rank, reps.count)
        let sizes = [Int](repeating: 1, count: r - rank) + shape
        let counts = [Int](repeating: 1, count: r - reps.count) + reps
        // (1, d₀, 1, d₁, …) expanded to (r₀, d₀, r₁, d₁, …), then merged pairwise.
        let single = sizes.flatMap { [1, $0] }
        let repeated = zip(counts, sizes).flatMap { [$0, $1] }
        return reshaped(single).expanded(to: repeated).reshaped(zip(counts, sizes).map { $0 * $1 })
    }
}
