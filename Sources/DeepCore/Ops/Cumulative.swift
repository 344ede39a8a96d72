// Running sums and products along an axis (`torch.cumsum`, `torch.cumprod`), with their
// pullbacks: the reversed running sum of the gradient, and the cumulative product's gradient
// computed without dividing by the input, so zeros in it are handled as PyTorch handles them.
// The loops are in Kernels/CumulativeKernels.swift.

extension Tensor {
    /// The running sum along `axis`, like `torch.cumsum`: `out[…, j, …] = Σ_{i ≤ j} x[…, i, …]`.
    ///
    ///     x.cumulativeSum(along: 1)   // (N, L) → (N, L)
    ///
    /// - Returns: this tensor's shape; the gradient is the running sum of the output gradient
    ///   taken from the end.
    public func cumulativeSum(along axis: Int) -> Tensor {
        let (outer, n, inner) = scanLayout(axis, op: "cumulativeSum")
        return Tensor.op("cumulativeSum", inputs: [self], shape: shape, flops: count) {
            Tensor.scanned([self], shape: shape) { p, out in
                CumulativeKernels.scan(p[0], outer: outer, n: n, inner: inner, reversed: false, into: out, +)
            }
        } pullback: { g, _ in
            [Tensor.scanned([g], shape: g.shape) { p, out in
                CumulativeKernels.scan(p[0], outer: outer, n: n, inner: inner, reversed: true, into: out, +)
            }]
        }
    }

    /// The running product along `axis`, like `torch.cumprod`: `out[…, j, …] = Π_{i ≤ j} x[…, i, …]`.
    ///
    ///     probabilities.cumulativeProduct(along: -1)   // (N, L) → (N, L)
    ///
    /// - Returns: this tensor's shape. The gradient is exact where the input holds zeros (it
    ///   never divides by the input), as PyTorch's.
    public func cumulativeProduct(along axis: Int) -> Tensor {
        let (outer, n, inner) = scanLayout(axis, op: "cumulativeProduct")
        let x = detached()
        return Tensor.op("cumulativeProduct", inputs: [self], shape: shape, flops: count) {
            Tensor.scanned([self], shape: shape) { p, out in
                CumulativeKernels.scan(p[0], outer: outer, n: n, inner: inner, reversed: false, into: out, *)
            }
        } pullback: { g, _ in
            [Tensor.scanned([x, g], shape: x.shape) { p, dx in
                CumulativeKernels.productGradient(p[0], p[1], outer: outer, n: n, inner: inner, into: dx)
            }]
        }
    }

    /// This tensor seen as (outer, n, inner) around `axis` (a 0-D tensor as one element).
    private func scanLayout(_ axis: Int, op: String) -> (outer: Int, n: Int, inner: Int) {
        let a = Shape.normalize(axis: axis, rank: rank, op: op)
        guard rank > 0 else { return (1, 1, 1) }
        return (shape[..<a].reduce(1, *), shape[a], shape[(a + 1)...].reduce(1, *))
    }

    /// A new contiguous tensor of `shape` written by `kernel` from the elements of `inputs` in
    /// row-major order (strided inputs are copied first).
    private static func scanned(_ inputs: [Tensor], shape: [Int],
                                _ kernel: (_ inputs: [UnsafePointer<Float>], _ out: UnsafeMutablePointer<Float>) -> Void) -> Tensor {
        let sources = inputs.map { $0.contiguous() }
        return withExtendedLifetime(sources) {
            Tensor.make(shape: shape) { out in
                guard let o = out.baseAddress else { return }
                kernel(sources.map { UnsafePointer($0.storage.pointer + $0.offset) }, o)
            }
        }
    }
}
