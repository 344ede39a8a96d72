// Sorting along an axis: sort, argsort, the k largest or smallest, the k-th smallest and the
// median. Each finds the positions along the axis with a line sort (Kernels/SortingKernels.swift,
// no gradient) and takes the values with `gathered`, whose pullback scatters the gradient back to
// the chosen positions, as PyTorch's does. Positions are Floats holding integers, like `argmax`.
//
// Order as PyTorch's: NaN is larger than every number; equal elements keep their original order
// (PyTorch's stable sort; where PyTorch leaves the order among ties unspecified, as in `topk`,
// `kthvalue` and the unstable `sort`, the first occurrence comes first here).

extension Tensor {
    /// The elements sorted along `axis`, and where each came from, like `torch.sort`.
    ///
    ///     let (values, indices) = scores.sorted(along: 1, descending: true)   // (N, K) → (N, K), (N, K)
    ///
    /// - Parameters:
    ///   - axis: the axis to sort along (negative counts from the end).
    ///   - descending: largest first (NaN first); ascending by default (NaN last).
    ///   - stable: accepted for PyTorch's signature; the sort is always stable (equal elements
    ///     keep their order, which PyTorch's unstable sort leaves unspecified).
    /// - Returns: `values` of this tensor's shape, differentiable (the gradient goes back to each
    ///   element's original position), and `indices` of the same shape: positions along `axis`.
    public func sorted(along axis: Int = -1, descending: Bool = false, stable: Bool = false) -> (values: Tensor, indices: Tensor) {
        selectedAlong(axis, op: "sorted", descending: descending) { .range(0..<$0) }
    }

    /// The positions along `axis` that sort this tensor, like `torch.argsort` (see
    /// ``sorted(along:descending:stable:)``). (*) → (*), not differentiable.
    ///
    ///     x.argsorted(along: 0)   // (L, D) → (L, D)
    public func argsorted(along axis: Int = -1, descending: Bool = false, stable: Bool = false) -> Tensor {
        sortedPositions(along: axis, op: "argsorted", descending: descending) { .range(0..<$0) }.positions
    }

    /// The `k` largest (or smallest) elements along `axis` and their positions, like
    /// `torch.topk`.
    ///
    ///     let (top, classes) = logits.topK(5, along: 1)   // (N, K) → (N, 5), (N, 5)
    ///
    /// - Parameters:
    ///   - k: how many, in `0...shape[axis]`.
    ///   - largest: the largest (NaN counting as the largest); false: the smallest.
    ///   - sorted: accepted for PyTorch's signature; the result is always in order (largest
    ///     first, or smallest first), which PyTorch's unsorted result may not be.
    /// - Returns: `values` and `indices`, this tensor's shape with `k` along `axis`; the values'
    ///   gradient goes back to the chosen positions. Among equal elements the first ones are
    ///   chosen (PyTorch leaves that choice unspecified).
    public func topK(_ k: Int, along axis: Int = -1, largest: Bool = true, sorted: Bool = true) -> (values: Tensor, indices: Tensor) {
        selectedAlong(axis, op: "topK", descending: largest) { n in
            require(k >= 0 && k <= n, "topK: k = \(k) is out of range 0...\(n) for axis \(axis) of shape \(shape)")
            return .range(0..<k)
        }
    }

    /// The `k`-th smallest element along `axis` (k counts from 1) and its position, like
    /// `torch.kthvalue`; NaN counts as larger than every number.
    ///
    ///     x.kthValue(2, along: 1)   // (N, L) → (N,), (N,)
    ///
    /// - Returns: `values` and `indices` with `axis` removed (kept as size 1 with
    ///   `keepingDims`); the values' gradient goes to the chosen position. Among equal elements
    ///   the chosen one is the k-th in order of position (PyTorch leaves that unspecified).
    public func kthValue(_ k: Int, along axis: Int = -1, keepingDims: Bool = false) -> (values: Tensor, indices: Tensor) {
        let selected = selectedAlong(axis, op: "kthValue", descending: false) { n in
            require(k >= 1 && k <= n, "kthValue: k = \(k) is out of range 1...\(n) for axis \(axis) of shape \(shape)")
            return .range((k - 1)..<k)
        }
        return keepingDims ? selected : droppingAxis(axis, of: selected)
    }

    /// The lower median along `axis` (of an even count, the smaller of the two middle elements)
    /// and its position, like `torch.median(dim=)`: NaN wherever a line holds one (the first
    /// one's position), and among equal elements the one at that rank in order of position (as
    /// PyTorch).
    ///
    ///     x.median(along: 0)   // (N, D) → (D,), (D,)
    ///
    /// - Returns: `values` and `indices` with `axis` removed (kept as size 1 with
    ///   `keepingDims`); the values' gradient goes to the chosen position.
    public func median(along axis: Int, keepingDims: Bool = false) -> (values: Tensor, indices: Tensor) {
        let selected = selectedAlong(axis, op: "median", descending: false) { n in
            require(n > 0, "median: cannot reduce axis \(axis) of size 0 (shape \(shape))")
            return .median
        }
        return keepingDims ? selected : droppingAxis(axis, of: selected)
    }

    /// The lower median of all elements, like `torch.median()`: NaN if any element is NaN (and
    /// for no elements). (*) → ().
    ///
    /// The gradient is split evenly among the elements equal to the median (the NaNs, for a NaN
    /// median), as PyTorch's.
    public func median() -> Tensor {
        let x = detached()
        return Tensor.op("median", inputs: [self], shape: []) {
            guard count > 0 else { return Tensor(scalar: .nan) }
            let flat = x.reshaped([count])
            let position = flat.sortedPositions(along: 0, op: "median", descending: false) { _ in .median }.positions
            return Tensor(scalar: flat.scalar(at: [Int(position.item())]))
        } pullback: { g, m in
            let median = m.item(), weight = g.item()
            let hits = Elementwise.map(x) { v in (v == median || (v.isNaN && median.isNaN)) ? 1 : 0 }
            let share = weight / hits.sum().item()
            return [Elementwise.map(hits) { $0 * share }]
        }
    }

    /// The elements at the sorted positions that `ranks(n)` names (n: the size along `axis`) and
    /// those positions, both with `ranks.count` along `axis`; the values through `gathered`.
    private func selectedAlong(_ axis: Int, op: String, descending: Bool,
                               ranks: (Int) -> SortedRanks) -> (values: Tensor, indices: Tensor) {
        let (source, positions) = sortedPositions(along: axis, op: op, descending: descending, ranks: ranks)
        let values = source.gathered(axis: Shape.normalize(axis: axis, rank: source.rank, op: op), indices: positions)
        if rank > 0 { return (values, positions) }
        // A 0-D tensor was sorted as one element: the results are 0-D too (or empty for k = 0).
        return positions.count == 1 ? (values.reshaped([]), positions.reshaped([])) : (values, positions)
    }

    /// The sorted positions along `axis` at `ranks(n)`, as Floats (not differentiable), and the
    /// tensor they index (this one, or a 0-D tensor seen as one element).
    private func sortedPositions(along axis: Int, op: String, descending: Bool,
                                 ranks: (Int) -> SortedRanks) -> (source: Tensor, positions: Tensor) {
        if rank == 0 { return reshaped([1]).sortedPositions(along: 0, op: op, descending: descending, ranks: ranks) }
        let a = Shape.normalize(axis: axis, rank: rank, op: op), n = shape[a]
        require(n <= 1 << 24, "\(op): axis \(a) of shape \(shape) is longer than 2^24, the positions a Float holds exactly")
        let selection = ranks(n)
        var outShape = shape
        outShape[a] = selection.count
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        let logN = Swift.max(1, Int.bitWidth - n.leadingZeroBitCount)
        // Only top-k has an ONNX form (TopK: the larger, or smaller, first; ties to the lower index).
        let export = op == "topK" ? OpExport(nodes: [
            .init("TopK", inputs: [.input(0), .int64s([selection.count])],
                  attributes: ["axis": .int(a), "largest": .int(descending ? 1 : 0), "sorted": .int(1)], outputCount: 2),
            .init("Cast", inputs: [.node(0, output: 1)], attributes: ["to": .int(OpExport.floatType)])]) : nil
        let positions = Tensor.op(op, inputs: [self], shape: outShape, flops: count * logN, export: export) {
            withUnsafeBufferPointer { x in
                Tensor.make(shape: outShape) { out in
                    guard let source = x.baseAddress, let target = out.baseAddress else { return }
                    SortingKernels.sortedPositions(source, outer: outer, n: n, inner: inner, descending: descending,
                                                   ranks: selection, into: target)
                }
            }
        }
        return (self, positions)
    }

    /// `selected` with `axis` (of size 1) removed from both tensors.
    private func droppingAxis(_ axis: Int, of selected: (values: Tensor, indices: Tensor)) -> (values: Tensor, indices: Tensor) {
        guard rank > 0 else { return selected }
        let a = Shape.normalize(axis: axis, rank: rank, op: "droppingAxis")
        return (selected.values.squeezed(axis: a), selected.indices.squeezed(axis: a))
    }
}
