import DeepCore

/// The depthwise causal convolution of a Mamba block as a layer: `weight` (D, 1, K) and `bias`
/// (D), the state-dict layout of mamba-ssm's `conv1d` (`nn.Conv1d(D, D, K, groups: D,
/// padding: K − 1)` cut to the first L outputs), initialised like PyTorch's Conv1d (uniform in
/// ±1/√K for both). Shape: (B, D, L) → (B, D, L); see ``causalConv1d(_:weight:bias:activation:)``.
public final class CausalDepthwiseConv1d: Module {
    /// (D, 1, K).
    public let weight: Tensor
    /// (D), or nil.
    public let bias: Tensor?
    /// The activation fused into the output (none in the state dict).
    public let activation: CausalConvActivation

    /// Creates the layer for `channels` channels and kernel size `kernelSize`.
    public init(channels: Int, kernelSize: Int, bias: Bool = true, activation: CausalConvActivation = .none) {
        weight = Tensor(zeros: [channels, 1, kernelSize])
        self.bias = bias ? Tensor(zeros: [channels]) : nil
        self.activation = activation
        super.init()
        initializeLayerWeights(weight, self.bias, generator: &DefaultRandom.generator)
    }

    /// (B, D, L) → (B, D, L).
    public override func forward(_ x: Tensor) -> Tensor {
        causalConv1d(x, weight: weight, bias: bias, activation: activation)
    }

    /// One decoding step, (B, D) → (B, D), advancing `window` (B, D, K) in place; see
    /// ``causalConv1dStep(_:window:weight:bias:activation:)``.
    public func step(_ x: Tensor, window: Tensor) -> Tensor {
        causalConv1dStep(x, window: window, weight: weight, bias: bias, activation: activation)
    }
}
