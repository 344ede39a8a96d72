import CBLAS

extension Tensor {
    /// Computes the gradient of this tensor with respect to every leaf that requires one and adds
    /// it to that leaf's ``grad``.
    ///
    /// - Parameter gradient: the gradient of some scalar with respect to this tensor, of this
    ///   tensor's shape; omitted, this tensor must hold one element and the gradient is 1.
    /// - Parameter retainGraph: keep the recorded operations so that `backward` can run again;
    ///   by default they are released, so memory does not grow across training steps.
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) {
        require(requiresGrad, "backward: tensor of shape \(shape) does not require gradients")
        let seed: Tensor
        if let gradient {
            require(gradient.shape == shape,
                    "backward: gradient of shape \(gradient.shape) for a tensor of shape \(shape)")
            seed = gradient
        } else {
            require(count == 1, "backward: tensor of shape \(shape) is not a scalar; pass its gradient")
            seed = Tensor(ones: shape)
        }
        let observers = BackwardObservers.current
        withoutGrad {
            let order = topologicalOrder()
            var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
            for tensor in order.reversed() {
                let g = grads.removeValue(forKey: ObjectIdentifier(tensor))
                guard let node = tensor.gradNode else {
                    // A leaf comes after every op that uses it: its gradient is final (also when
                    // pullbacks added to it in place and `g` is nil).
                    if let g { tensor.accumulateGrad(g) }
                    for observer in observers { observer.gradientIsReady(tensor) }
                    continue
                }
                guard let g else { continue }
                let inputGrads = node.pullback(g)
                require(inputGrads.count == node.inputs.count,
                        "backward: \(node.op) returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
                for (input, inputGrad) in zip(node.inputs, inputGrads) {
                    guard input.requiresGrad, let inputGrad else { continue }
                    require(inputGrad.shape == input.shape,
                            "backward: \(node.op) gave a gradient of shape \(inputGrad.shape) for an input of shape \(input.shape)")
                    let key = ObjectIdentifier(input)
                    if let existing = grads[key] {
                        grads[key] = existing + inputGrad
                    } else {
                        grads[key] = inputGrad
                    }
                }
                if !retainGraph { tensor.gradNode = nil }
                for observer in observers { observer.pullbackFinished() }
            }
        }
        for observer in observers { observer.backwardFinished() }
    }

    /// Tensors reachable from `self` through recorded ops, each after all of its inputs.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative depth-first search: long recurrences would overflow the call stack.
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (tensor, expanded) = stack.popLast() {
            if expanded { order.append(tensor); continue }
            guard visited.insert(ObjectIdentifier(tensor)).inserted else { continue }
            stack.append((tensor, true))
            for input in tensor.gradNode?.inputs ?? [] where input.requiresGrad {
                if !visited.contains(ObjectIdentifier(input)) { stack.append((input, false)) }
            }
        }
        return order
    }

    /// Adds `g` into this leaf's gradient, keeping `grad` a contiguous tensor that this leaf owns
    /// (so optimisers may change it in place).
    private func accumulateGrad(_ g: Tensor) {
        guard requiresGrad else { return }
        if let existing = grad, existing.isContiguous, existing.shape == g.shape {
            existing.withUnsafeMutableBufferPointer { dst in
                g.withUnsafeBufferPointer { src in
                    // A memory-bound sum: large gradients are split among the threads.
                    Parallel.forEach(count: dst.count, work: dst.count) { range in
                        for i in range { dst[i] += src[i] }
                    }
                }
            }
        } else if g.isSoleOwnerOfWholeStorage {
            grad = g
        } else {
            grad = Tensor.ownedCopy(of: g)
        }
    }

    /// A contiguous copy of `g`. The transpose of a contiguous matrix (the gradient a `Linear`
    /// weight gets through `weight.mT`) is copied by OpenBLAS's out-of-place transpose instead of element by
    /// element along the long stride.
    private static func ownedCopy(of g: Tensor) -> Tensor {
        guard g.rank == 2, !g.isMeta, g.strides == [1, g.shape[0]], g.count > 0 else { return g.copied() }
        let (rows, columns) = (g.shape[0], g.shape[1])
        let out = TensorStorage(uninitializedCount: g.count)
        let source = g.storage.pointer + g.offset, o = out.pointer
        // o[i][j] = source[j][i], with `source` a contiguous (columns, rows) matrix.
        cblas_somatcopy(CblasRowMajor, CblasTrans, Int32(columns), Int32(rows), 1, source, Int32(rows),
                        o, Int32(columns))
        return Tensor(storage: out, shape: g.shape)
    }

    /// Whether this tensor is contiguous over its whole storage and nothing else can reach that
    /// storage: no other reference to this tensor object (`backward` holds the one it passes;
    /// an op like `a + b` hands the same gradient object to both inputs) and no other tensor on
    /// the storage (views, saved inputs). Retain counts only err upwards (a temporary retain the
    /// compiler adds), so a count of 1 proves sole ownership; otherwise the caller copies.
    private var isSoleOwnerOfWholeStorage: Bool {
        isContiguous && offset == 0 && count == storage.count && !storage.isMeta
            && _getRetainCount(self) == 1 && _getRetainCount(storage) == 1
    }
}
