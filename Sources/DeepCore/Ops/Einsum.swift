// Einstein summation (`torch.einsum`), composed from differentiable ops: each operand's repeated
// labels become one strided axis (its diagonal, a view), axes of size 1 that broadcast are
// squeezed away, labels needed by nothing later are summed out, and the operands are contracted
// left to right, two at a time, each pair as permute → merge axes (a view where the layout allows)
// → one batched `matmul` → reshape. A pair with nothing to sum is an elementwise product (outer
// and Hadamard products); a pair of dot products per batch element is a product and a row sum.

import Foundation

/// Einstein summation with PyTorch's grammar (`torch.einsum`).
///
///     try einsum("ij,jk->ik", a, b)             // matmul: (I, J), (J, K) → (I, K)
///     try einsum("bhqd,bhkd->bhqk", q, k)       // attention scores: (B, H, Q, D), (B, H, K, D) → (B, H, Q, K)
///     try einsum("ii", m)                       // trace: (N, N) → ()
///     try einsum("...ij,...jk->...ik", a, b)    // batched matmul, batch axes broadcast
///
/// Grammar: a letter in `a-zA-Z` labels an axis; `,` separates operands; `...` (once per
/// operand) stands for the axes no letter names, broadcast across operands and right-aligned;
/// spaces are ignored. A label repeated within an operand takes its diagonal; a label absent
/// from the output is summed over. Without `->` the output is the ellipsis, then the labels that
/// appear exactly once, in ASCII order (`A`–`Z` before `a`–`z`). One label has one size in every
/// operand, except that a size of 1 broadcasts.
///
/// Every product that sums over labels runs as batched GEMM (``matmul(_:_:)``), contracting the
/// operands left to right. Differentiable in every operand.
/// - Parameters:
///   - equation: e.g. `"bn,anm,bm->ba"`.
///   - operands: one tensor per operand of the equation.
/// - Throws: ``EinsumError`` quoting the equation and the shapes when the equation is malformed
///   (an invalid character, a stray `.`, two ellipses, an output label that no operand has or
///   that repeats, a count of operands that differs from the tensors given), when an operand's
///   rank does not match its subscripts, when one label has sizes that do not broadcast, or when
///   a result would not fit in memory.
public func einsum(_ equation: String, _ operands: [Tensor]) throws -> Tensor {
    do {
        return try EinsumEquation(pytorch: equation, operandCount: operands.count).evaluate(operands)
    } catch let problem as EinsumProblem {
        throw EinsumError(equation: equation, shapes: operands.map(\.shape), reason: problem.reason)
    }
}

/// ``einsum(_:_:)-(String,[Tensor])`` with the operands listed: `try einsum("ij,jk->ik", a, b)`.
public func einsum(_ equation: String, _ operands: Tensor...) throws -> Tensor {
    try einsum(equation, operands)
}

/// An equation bound to its operands' shapes.
struct EinsumBinding {
    /// Each operand's label per axis. The axes of the broadcast ellipsis are labels
    /// `labelNames.count + k`, k counted from its first axis.
    var axisLabels: [[Int]]
    /// Each label's size after broadcasting (-1 where unused).
    var sizes: [Int]
    /// The output's labels, the ellipsis expanded.
    var output: [Int]
}

extension EinsumEquation {
    /// The equation evaluated on `operands` (one per operand of the equation).
    func evaluate(_ operands: [Tensor]) throws -> Tensor {
        let binding = try bind(operands.map(\.shape))
        let terms = zip(operands, binding.axisLabels).map { tensor, labels in
            EinsumTerm(tensor: tensor, labels: labels).diagonalized().droppingBroadcastAxes(binding.sizes)
        }
        let wanted = Set(binding.output)
        let checkMemory = !operands.contains(where: \.isMeta)
        var result = terms[0]
        for i in terms.indices.dropFirst() {
            var keep = wanted
            for later in terms[(i + 1)...] { keep.formUnion(later.labels) }
            result = try result.contracted(with: terms[i], keeping: keep, checkingMemory: checkMemory, names: describe)
        }
        return result.summing { !wanted.contains($0) }.permuted(to: binding.output)
    }

    /// Each axis's label, each label's size, the output's labels; throws when the ranks or the
    /// sizes do not fit the equation.
    func bind(_ shapes: [[Int]]) throws -> EinsumBinding {
        var widths: [Int] = []
        for (i, (subscripts, shape)) in zip(operands, shapes).enumerated() {
            let named = subscripts.filter { $0 != .ellipsis }.count
            if subscripts.contains(.ellipsis) {
                guard shape.count >= named else {
                    throw EinsumProblem("operand \(i) has \(counted(shape.count, "axis")), fewer than its "
                                        + "\(counted(named, labelNoun)) (\(spelled(subscripts)))")
                }
            } else {
                guard shape.count == named else {
                    throw EinsumProblem("operand \(i) has \(counted(shape.count, "axis")) but "
                                        + "\(counted(named, labelNoun)) (\(spelled(subscripts))) and no ellipsis")
                }
            }
            widths.append(shape.count - named)
        }
        let base = labelNames.count, width = widths.max() ?? 0
        var sizes = [Int](repeating: -1, count: base + width)
        var axisLabels: [[Int]] = []
        for (i, (subscripts, shape)) in zip(operands, shapes).enumerated() {
            let labels = subscripts.flatMap { s -> [Int] in
                if case .label(let l) = s { return [l] }
                return Array((base + width - widths[i])..<(base + width))
            }
            var own: [Int: Int] = [:]
            for (label, size) in zip(labels, shape) {
                if let previous = own.updateValue(size, forKey: label), previous != size {
                    throw EinsumProblem("\(describe(label)) is repeated in operand \(i) with sizes \(previous) and \(size)")
                }
                let seen = sizes[label]
                if seen == -1 || seen == 1 {
                    sizes[label] = size
                } else if size != 1 && size != seen {
                    throw EinsumProblem("\(describe(label)) has size \(size) in operand \(i), "
                                        + "which does not broadcast with size \(seen) seen before")
                }
            }
            axisLabels.append(labels)
        }
        let output = self.output.flatMap { s -> [Int] in
            if case .label(let l) = s { return [l] }
            return Array(base..<(base + width))
        }
        return EinsumBinding(axisLabels: axisLabels, sizes: sizes, output: output)
    }

    /// A label as messages name it: `subscript j`, `axis head`, or `axis 1 of the ellipsis`.
    func describe(_ label: Int) -> String {
        label < labelNames.count ? "\(labelNoun) \(labelNames[label])" : "axis \(label - labelNames.count) of the ellipsis"
    }

    /// `n` and `noun` (`axis` or `subscript`), in the plural unless n is 1: `3 axes`.
    private func counted(_ n: Int, _ noun: String) -> String {
        "\(n) \(n == 1 ? noun : noun == "axis" ? "axes" : noun + "s")"
    }

    /// An operand's subscripts as written: `ij` (PyTorch) or `b h q d` (einops).
    private func spelled(_ subscripts: [Subscript]) -> String {
        subscripts.map { s in
            if case .label(let l) = s { return labelNames[l] }
            return "..."
        }.joined(separator: labelNoun == "subscript" ? "" : " ")
    }
}

/// A tensor whose axes carry einsum labels, on its way through the contraction.
struct EinsumTerm {
    var tensor: Tensor
    var labels: [Int]

    /// Each repeated label's axes replaced by one axis walking their diagonal (a view).
    func diagonalized() -> EinsumTerm {
        var unique: [Int] = [], groups: [[Int]] = []
        for (axis, label) in labels.enumerated() {
            if let g = unique.firstIndex(of: label) { groups[g].append(axis) } else { unique.append(label); groups.append([axis]) }
        }
        if unique.count == labels.count { return self }
        return EinsumTerm(tensor: tensor.walkingDiagonals(groups), labels: unique)
    }

    /// Axes of size 1 whose label has another size in another operand squeezed away: that
    /// operand's values then meet this one's single value, as broadcasting does.
    func droppingBroadcastAxes(_ sizes: [Int]) -> EinsumTerm {
        var term = self
        for axis in labels.indices.reversed() where tensor.shape[axis] == 1 && sizes[labels[axis]] != 1 {
            term.tensor = term.tensor.squeezed(axis: axis)
            term.labels.remove(at: axis)
        }
        return term
    }

    /// The axes whose label `isSummed` sums over.
    func summing(where isSummed: (Int) -> Bool) -> EinsumTerm {
        let axes = labels.indices.filter { isSummed(labels[$0]) }
        if axes.isEmpty { return self }
        return EinsumTerm(tensor: tensor.sum(axes: axes), labels: labels.enumerated().filter { !axes.contains($0.offset) }.map(\.element))
    }

    /// The tensor with its axes in the order of `order` (a permutation of ``labels``).
    func permuted(to order: [Int]) -> Tensor {
        order == labels ? tensor : tensor.permuted(order.map { labels.firstIndex(of: $0)! })
    }

    /// The sizes of the axes labelled `subset`.
    func shape(of subset: [Int]) -> [Int] {
        subset.map { tensor.shape[labels.firstIndex(of: $0)!] }
    }

    /// This term times `other`, summed over the labels they share that `keep` lacks; labels of one
    /// term alone that neither the other nor `keep` has are summed first. The result's labels
    /// are the shared kept ones (batch), this term's own, then the other's.
    /// - Throws: when the result would hold more elements than `Int` counts, or (with
    ///   `checkingMemory`) more bytes than the machine's memory.
    func contracted(with other: EinsumTerm, keeping keep: Set<Int>, checkingMemory: Bool,
                    names: (Int) -> String) throws -> EinsumTerm {
        let a = summing { !other.labels.contains($0) && !keep.contains($0) }
        let b = other.summing { !a.labels.contains($0) && !keep.contains($0) }
        let common = a.labels.filter(b.labels.contains)
        let batch = common.filter(keep.contains), summed = common.filter { !keep.contains($0) }
        let left = a.labels.filter { !b.labels.contains($0) }, right = b.labels.filter { !a.labels.contains($0) }
        let (batchShape, leftShape, rightShape) = (a.shape(of: batch), a.shape(of: left), b.shape(of: right))
        let labels = batch + left + right
        try Self.checkCount(of: batchShape + leftShape + rightShape, labels: labels, checkingMemory: checkingMemory, names: names)
        let summedShape = a.shape(of: summed)
        if summed.isEmpty || (left.isEmpty && right.isEmpty && !batch.isEmpty) || summedShape.contains(0) {
            // An elementwise product, broadcast, then a sum over `summed`: outer and Hadamard
            // products, one dot product per batch element (not a 1×K · K×1 GEMM each), and empty sums.
            var x = a.permuted(to: batch + left + summed), y = b.permuted(to: batch + right + summed)
            for _ in right { x = x.unsqueezed(axis: batch.count + left.count) }
            for _ in left { y = y.unsqueezed(axis: batch.count) }
            let product = x * y
            return EinsumTerm(tensor: summed.isEmpty ? product : product.sum(axes: Array(labels.count..<product.rank)), labels: labels)
        }
        // (B, M, K) · (B, K, N), or (M, K) · (K, N) without batch labels.
        let lead = batch.isEmpty ? [] : [batch.count]
        let x = a.permuted(to: batch + left + summed).mergingAxes(lead + [left.count, summed.count])
        let y = b.permuted(to: batch + summed + right).mergingAxes(lead + [summed.count, right.count])
        return EinsumTerm(tensor: matmul(x, y).reshaped(batchShape + leftShape + rightShape), labels: labels)
    }

    /// Throws when a result of `shape` would hold more elements than `Int` counts or, with
    /// `checkingMemory`, take more bytes than the machine's memory.
    private static func checkCount(of shape: [Int], labels: [Int], checkingMemory: Bool, names: (Int) -> String) throws {
        if shape.contains(0) { return }
        var bytes = MemoryLayout<Float>.stride, overflow = false
        for size in shape where !overflow { (bytes, overflow) = bytes.multipliedReportingOverflow(by: size) }
        guard overflow || (checkingMemory && UInt64(bytes) > EinopsRecipe.memoryLimit) else { return }
        let factors = zip(labels, shape).map { "\(names($0)) (\($1))" }.joined(separator: " × ")
        let limit = overflow ? "Int.max (\(Int.max)) bytes" : "this machine's \(EinopsRecipe.memoryLimit >> 20) MiB of memory"
        throw EinsumProblem("a product over \(factors) would take more than \(limit)")
    }
}

extension Tensor {
    /// The view whose axis i walks the axes `groups[i]` of this tensor together (axes of one
    /// size): their diagonal, as `einsum("ii->i")` takes it. Differentiable: the gradient is
    /// written into the diagonal of zeros.
    fileprivate func walkingDiagonals(_ groups: [[Int]]) -> Tensor {
        let newShape = groups.map { shape[$0[0]] }
        let inputShape = shape
        func diagonalStrides(_ strides: [Int]) -> [Int] { groups.map { $0.reduce(0) { $0 + strides[$1] } } }
        return Tensor.op("einsum_diagonal", inputs: [self], shape: newShape) {
            Tensor(storage: storage, shape: newShape, strides: diagonalStrides(strides), offset: offset)
        } pullback: { g, _ in
            let dx = Tensor(zeros: inputShape)
            Tensor(storage: dx.storage, shape: newShape, strides: diagonalStrides(dx.strides), offset: 0).assign(g)
            return [dx]
        }
    }

    /// Consecutive axes merged: `counts[i]` axes become axis i (none: a unit axis). A view when
    /// each group's axes lie one inside the other in memory (a transposed matrix with merged
    /// batch axes stays a view, for BLAS to read transposed), else a copy.
    fileprivate func mergingAxes(_ counts: [Int]) -> Tensor {
        var newShape: [Int] = [], newStrides: [Int] = [], isView = true
        var axis = 0
        for count in counts {
            let axes = axis..<(axis + count)
            axis += count
            var stride = 1, expected: Int?
            for a in axes.reversed() where shape[a] != 1 {
                if let expected, strides[a] != expected { isView = false }
                if expected == nil { stride = strides[a] }
                expected = strides[a] * shape[a]
            }
            newShape.append(axes.reduce(1) { $0 * shape[$1] })
            newStrides.append(stride)
        }
        if newShape == shape { return self }
        guard isView else { return reshaped(newShape) }
        let inputShape = shape
        return Tensor.op("reshaped", inputs: [self], shape: newShape) {
            Tensor(storage: storage, shape: newShape, strides: newStrides, offset: offset)
        } pullback: { g, _ in [g.reshaped(inputShape)] }
    }
}
