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
