import DeepCore

/// y = x1ᵀ·A·x2 + b (`nn.Bilinear`): weight (out, in1, in2) and bias (out), uniform in
/// ±1/√in1 as PyTorch initialises them.
///
/// Shape: (N, in1), (N, in2) → (N, out).
public final class Bilinear: Module {
    /// (out, in1, in2).
    public let weight: Tensor
    /// (out), or nil.
    public let bias: Tensor?

    /// Creates the layer.
    public init(_ in1Features: Int, _ in2Features: Int, _ outFeatures: Int, bias: Bool = true) {
        let bound = 1 / Float(in1Features).squareRoot()
        weight = Tensor.rand([outFeatures, in1Features, in2Features], low: -bound, high: bound)
        self.bias = bias ? Tensor.rand([outFeatures], low: -bound, high: bound) : nil
        super.init()
    }

    /// (N, in1), (N, in2) → (N, out).
    public func callAsFunction(_ x1: Tensor, _ x2: Tensor) -> Tensor {
        traced(inputs: [x1, x2]) { product(x1, x2) }
    }

    /// The computation of the call.
    private func product(_ x1: Tensor, _ x2: Tensor) -> Tensor {
        let (out, in1, in2) = (weight.shape[0], weight.shape[1], weight.shape[2])
        guard shapeCheck(x1.rank == 2 && x2.rank == 2 && x1.shape[1] == in1 && x2.shape[1] == in2 && x1.shape[0] == x2.shape[0],
                         "Bilinear: inputs of shapes \(x1.shape) and \(x2.shape) for weight \(weight.shape)")
        else { return .shapeFailure }
        // (N, in1)·(in1, out·in2) → (N, out, in2), then contract in2 with x2.
        let t = matmul(x1, weight.permuted([1, 0, 2]).reshaped([in1, out * in2])).reshaped([-1, out, in2])
        let y = (t * x2.unsqueezed(axis: 1)).sum(axes: [2])
        return bias.map { y + $0 } ?? y
    }
}
