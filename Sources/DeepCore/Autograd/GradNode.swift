/// One recorded operation: the inputs that need gradients and the pullback that maps the
/// gradient of the output to gradients of those inputs.
final class GradNode {
    /// The op's name, for error messages.
    let op: String
    /// Inputs in the order the pullback returns their gradients.
    let inputs: [Tensor]
    /// Maps the output's gradient to one gradient per input (`nil` where the input needs none).
    let pullback: (Tensor) -> [Tensor?]

    init(op: String, inputs: [Tensor], pullback: @escaping (Tensor) -> [Tensor?]) {
        self.op = op
        self.inputs = inputs
        self.pullback = pullback
    }
}

extension Tensor {
    /// Records that `self` was computed by `op` from `inputs`, if recording is on and any input
    /// requires gradients, and returns `self`.
    ///
    /// The pullback receives the gradient of `self` (same shape) and returns one gradient per
    /// input, each of that input's shape, or `nil`. It must not capture `self` (that would be a
    /// reference cycle); capture `self.detached()` instead.
    @discardableResult
    public func recording(_ op: String, inputs: [Tensor], pullback: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, !isMeta, inputs.contains(where: { $0.requiresGrad }) else { return self }
        gradNode = GradNode(op: op, inputs: inputs, pullback: pullback)
        requiresGrad = true
        return self
    }
}

extension Tensor {
    /// For a pullback that can add its gradient for this input straight into the place `backward`
    /// would add it (saving the separate addition) and then return nil for this input: the
    /// existing `.grad` of a leaf that requires gradients, when it is a contiguous tensor of this
    /// tensor's shape. nil otherwise (a computed tensor, no gradient yet, another layout); then the
    /// pullback returns its gradient as usual.
    public var accumulatingGradient: Tensor? {
        guard gradNode == nil, requiresGrad, let grad, !grad.isMeta, grad.isContiguous, grad.shape == shape else { return nil }
        return grad
    }
}
