import DeepCore

/// 3-D convolution (`nn.Conv3d`): weight (out, in/groups, kD, kH, kW) and bias (out), initialised
/// like PyTorch (kaiming-uniform with a = √5, bias in ±1/√fan_in, fan_in = in/groups·kD·kH·kW).
///
/// Shape: (N, in, D, H, W) → (N, out, D', H', W').
public final class Conv3d: Module {
    /// (out, in/groups, kD, kH, kW).
    public let weight: Tensor
    /// (out), or nil.
    public let bias: Tensor?
    /// Step, zero padding and tap spacing, (depth, height, width).
    public let stride: [Int], padding: [Int], dilation: [Int]
    /// Channel groups.
    public let groups: Int

    /// Creates the layer with per-axis sizes, (depth, height, width).
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: [Int], stride: [Int] = [1, 1, 1],
                padding: [Int] = [0, 0, 0], dilation: [Int] = [1, 1, 1], groups: Int = 1, bias: Bool = true) {
        require(inChannels % groups == 0 && outChannels % groups == 0,
                "Conv3d: channels \(inChannels) → \(outChannels) are not divisible by groups \(groups)")
        require(kernelSize.count == 3, "Conv3d: kernelSize \(kernelSize) needs 3 entries (depth, height, width)")
        weight = Tensor(zeros: [outChannels, inChannels / groups] + kernelSize)
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        (self.stride, self.padding, self.dilation, self.groups) = (stride, padding, dilation, groups)
        super.init()
        resetParameters(generator: &DefaultRandom.generator)
    }

    /// Creates the layer with the same size along depth, height and width.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                            dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        self.init(inChannels, outChannels, kernelSize: [kernelSize, kernelSize, kernelSize], stride: [stride, stride, stride],
                  padding: [padding, padding, padding], dilation: [dilation, dilation, dilation], groups: groups, bias: bias)
    }

    /// Re-draws the weights as `nn.Conv3d.reset_parameters`.
    public func resetParameters(generator: inout RandomGenerator) {
        initializeLayerWeights(weight, bias, generator: &generator)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        conv3d(x, weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }
}

/// Transposed 3-D convolution (`nn.ConvTranspose3d`): weight (in, out/groups, kD, kH, kW), bias
/// (out), initialised like PyTorch (fan_in = out/groups·kD·kH·kW, from the weight's layout).
///
/// Shape: (N, in, D, H, W) → (N, out, (D − 1)·stride − 2·padding + dilation·(kD − 1) + outputPadding + 1, …).
public final class ConvTranspose3d: Module {
    /// (in, out/groups, kD, kH, kW).
    public let weight: Tensor
    /// (out), or nil.
    public let bias: Tensor?
    /// Step, zero padding, extra output size and tap spacing of the adjoint convolution,
    /// (depth, height, width).
    public let stride: [Int], padding: [Int], outputPadding: [Int], dilation: [Int]
    /// Channel groups.
    public let groups: Int

    /// Creates the layer with per-axis sizes, (depth, height, width).
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: [Int], stride: [Int] = [1, 1, 1],
                padding: [Int] = [0, 0, 0], outputPadding: [Int] = [0, 0, 0], dilation: [Int] = [1, 1, 1],
                groups: Int = 1, bias: Bool = true) {
        require(inChannels % groups == 0 && outChannels % groups == 0,
                "ConvTranspose3d: channels \(inChannels) → \(outChannels) are not divisible by groups \(groups)")
        require(kernelSize.count == 3, "ConvTranspose3d: kernelSize \(kernelSize) needs 3 entries (depth, height, width)")
        weight = Tensor(zeros: [inChannels, outChannels / groups] + kernelSize)
        self.bias = bias ? Tensor(zeros: [outChannels]) : nil
        (self.stride, self.padding, self.outputPadding, self.dilation, self.groups) = (stride, padding, outputPadding, dilation, groups)
        super.init()
        resetParameters(generator: &DefaultRandom.generator)
    }

    /// Creates the layer with the same size along depth, height and width.
    public convenience init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                            outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1, bias: Bool = true) {
        self.init(inChannels, outChannels, kernelSize: [kernelSize, kernelSize, kernelSize], stride: [stride, stride, stride],
                  padding: [padding, padding, padding], outputPadding: [outputPadding, outputPadding, outputPadding],
                  dilation: [dilation, dilation, dilation], groups: groups, bias: bias)
    }

    /// Re-draws the weights as `nn.ConvTranspose3d.reset_parameters`.
    public func resetParameters(generator: inout RandomGenerator) {
        initializeLayerWeights(weight, bias, generator: &generator)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        convTranspose3d(x, weight, bias: bias, stride: stride, padding: padding, outputPadding: outputPadding,
                        dilation: dilation, groups: groups)
    }
}
