// Softmax and log-softmax along one axis: fused, numerically stable kernels (shift by the
// maximum, Kernels/SoftmaxKernels.swift) with hand-written backward. The input is read as a
// contiguous (outer, n, inner) block around the axis.

/// exp(xᵢ − max) / Σⱼ exp(xⱼ − max) along `axis`, like `torch.softmax`. Finite for any finite
/// input (the maximum is subtracted first).
///
///     softmax(logits, axis: -1)   // (N, K) → (N, K), each row sums to 1
///
/// - Parameter x: any shape; the result has the same shape.
/// - Parameter axis: the axis that sums to 1 (negative counts from the end).
public func softmax(_ x: Tensor, axis: Int = -1) -> Tensor {
    softmax(x, axis: axis, log: false, op: "softmax")
}

/// xᵢ − max − log Σⱼ exp(xⱼ − max) along `axis`, like `torch.log_softmax`: the logarithm of
/// ``softmax(_:axis:)`` without its underflow.
///
///     logSoftmax(logits, axis: 1)   // (N, K) → (N, K)
///
/// - Parameter x: any shape; the result has the same shape.
/// - Parameter axis: the normalised axis (negative counts from the end).
public func logSoftmax(_ x: Tensor, axis: Int = -1) -> Tensor {
    softmax(x, axis: axis, log: true, op: "logSoftmax")
}

/// Softmax (`log` false) or log-softmax along `axis`: the forward kernel, and the backward one
/// as pullback.
private func softmax(_ x: Tensor, axis: Int, log: Bool, op: String) -> Tensor {
    if x.rank == 0 { return softmax(x.reshaped([1]), axis: 0, log: log, op: op).reshaped([]) }
    let a = Shape.normalize(axis: axis, rank: x.rank, op: op)
    let n = x.shape[a]
    let outer = x.shape[..<a].reduce(1, *), inner = x.shape[(a + 1)...].reduce(1, *)
    return Tensor.op(op, inputs: [x], shape: x.shape, export: OpExport(log ? "LogSoftmax" : "Softmax", attributes: ["axis": .int(a)])) {
        let source = x.contiguous()
        return Tensor.make(shape: x.shape) { y in
            guard let base = y.baseAddress else { return }
            SoftmaxKernels.forward(source.storage.pointer + source.offset, base, outer: outer, n: n, inner: inner, log: log)
        }
    } pullback: { g, y in
        let gc = g.contiguous()
        return [Tensor.make(shape: y.shape) { dx in
            guard let base = dx.baseAddress else { return }
            SoftmaxKernels.backward(y: y.storage.pointer + y.offset, g: gc.storage.pointer + gc.offset, dx: base,
                                    outer: outer, n: n, inner: inner, log: log)
        }]
    }
}
