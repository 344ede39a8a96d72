import DeepCore

/// 2-D convolution (`nn.Conv2d`): weight (out, in/groups, kH, kW) and bias (out), initialised
/// like PyTorch (kaiming-uniform with a = √5, bias in ±1/√fan_in).
///
/// Shape: (N, in, H, W) → (N, out, H', W').
public final class Conv2d: Module {
    /// (out, in/groups, kH, kW).
    public let weight: Tensor
    /// (out), or nil.
    public let bias: Tensor?
    /// Step, zero padding and tap spacing, (height, width).
    public let stride: [Int], padding: [Int], dilation: [Int]
    /// Channel groups.
    public let groups: Int

    /// Creates the layer with per-axis sizes.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: [Int], stride: [Int] = [1, 1], padding: [Int] = [0, 0],
                dilation: [Int] = [1, 1], groups: Int = 1, bias: Bool = true) {
        require(inChannels % groups == 0 && outChannels % groups == 0,
                "Conv2d: channels \(inChannels) → \(outChannels) are not divisible by groups \(groups)")
        weight = Tensor(zeros: [outChannels, inChannels / groups] + kernelSize)
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
        super.init()
        resetParameters(generator: &DefaultRandom.generator)
    }

    /// Creates the layer with the same size along height and width.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                            dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        self.init(inChannels, outChannels, kernelSize: [kernelSize, kernelSize], stride: [stride, stride],
                  padding: [padding, padding], dilation: [dilation, dilation], groups: groups, bias: bias)
    }

    /// Re-draws the weights as `nn.Conv2d.reset_parameters`.
    public func resetParameters(generator: inout RandomGenerator) {
        initializeLayerWeights(weight, bias, generator: &generator)
    }

    /// Keeps the weight as the convolution's algorithm computes with it, from call to call in
    /// evaluation mode; set by ``Module/fuseForInference()``, for weights that no longer change
    /// (training this layer again is refused while it is set; clear it after assigning weights).
    public var inferenceCache: ConvolutionWeightCache?

    /// Applied to the output in the convolution's output pass; ``Module/fuseForInference()`` sets
    /// `.relu` where a ReLU followed (the ReLU module then becomes an ``Identity``, or its
    /// parent skips it).
    public var activation: ConvolutionActivation = .none

    public override func forward(_ x: Tensor) -> Tensor {
        require(!isTraining || inferenceCache == nil,
                "Conv2d: this layer was prepared for inference (fuseForInference) and is in training mode; build the model again to train it")
        return conv2d(x, weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups, weightCache: inferenceCache,
                      activation: activation)
    }

    /// The convolution with `residual` added, then `activation` (instead of the layer's own),
    /// all in the convolution's output pass when no gradient is recorded: a residual block's
    /// `relu(conv(x) + identity)` in one pass.
    ///
    /// Shapes: x (N, in, H, W), residual (N, out, H', W') → (N, out, H', W').
    public func callAsFunction(_ x: Tensor, adding residual: Tensor, then activation: ConvolutionActivation) -> Tensor {
        traced(inputs: [x, residual]) {
            require(!isTraining || inferenceCache == nil,
                    "Conv2d: this layer was prepared for inference (fuseForInference) and is in training mode; build the model again to train it")
            return conv2d(x, weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups,
                          weightCache: inferenceCache, residual: residual, activation: activation)
        }
    }
}

/// 1-D convolution (`nn.Conv1d`): weight (out, in/groups, k), bias (out).
///
/// Shape: (N, in, L) → (N, out, L').
public final class Conv1d: Module {
    /// (out, in/groups, k).
    public let weight: Tensor
    /// (out), or nil.
    public let bias: Tensor?
    let stride: Int, padding: Int, dilation: Int, groups: Int

    /// Creates the layer.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        require(inChannels % groups == 0 && outChannels % groups == 0,
                "Conv1d: channels \(inChannels) → \(outChannels) are not divisible by groups \(groups)")
        weight = Tensor(zeros: [outChannels, inChannels / groups, kernelSize])
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
        super.init()
        initializeLayerWeights(weight, self.bias, generator: &DefaultRandom.generator)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        conv1d(x, weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// Transposed 2-D convolution (`nn.ConvTranspose2d`): weight (in, out/groups, kH, kW), bias (out).
///
/// Shape: (N, in, H, W) → (N, out, (H − 1)·stride − 2·padding + dilation·(kH − 1) + outputPadding + 1, …).
public final class ConvTranspose2d: Module {
    /// (in, out/groups, kH, kW).
    public let weight: Tensor
    /// (out), or nil.
    public let bias: Tensor?
    let stride: [Int], padding: [Int], outputPadding: [Int], dilation: [Int], groups: Int

    /// Creates the layer with per-axis sizes.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: [Int], stride: [Int] = [1, 1], padding: [Int] = [0, 0],
                outputPadding: [Int] = [0, 0], dilation: [Int] = [1, 1], groups: Int = 1, bias: Bool = true) {
        require(inChannels % groups == 0 && outChannels % groups == 0,
                "ConvTranspose2d: channels \(inChannels) → \(outChannels) are not divisible by groups \(groups)")
        weight = Tensor(zeros: [inChannels, outChannels / groups] + kernelSize)
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        (self.stride, self.padding, self.outputPadding, self.dilation, self.groups) = (stride, padding, outputPadding, dilation, groups)
        super.init()
        initializeLayerWeights(weight, self.bias, generator: &DefaultRandom.generator)
    }

    /// Creates the layer with the same size along height and width.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                            outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        self.init(inChannels, outChannels, kernelSize: [kernelSize, kernelSize], stride: [stride, stride],
                  padding: [padding, padding], outputPadding: [outputPadding, outputPadding],
                  dilation: [dilation, dilation], groups: groups, bias: bias)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        convTranspose2d(x, weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding,
                        dilation: dilation, groups: groups)
    }
}
