import DeepCore

/// y = x·Wᵀ + b (`nn.Linear`).
///
/// - weight: (outFeatures, inFeatures), bias: (outFeatures), both uniform in ±1/√inFeatures as
///   PyTorch initialises them.
/// - Shape: (…, inFeatures) → (…, outFeatures).
public final class Linear: Module {
    /// (outFeatures, inFeatures).
    public let weight: Tensor
    /// (outFeatures), or nil without bias.
    public let bias: Tensor?

    /// Creates the layer with PyTorch's default initialisation from the default generator.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        weight = Tensor(zeros: [outFeatures, inFeatures])
        self.bias = bias ? Tensor(zeros: [outFeatures]) : nil
        super.init()
        resetParameters(generator: &DefaultRandom.generator)
    }

    /// Re-draws the weights: kaiming-uniform with a = √5 (bound 1/√fan_in) and the bias in
    /// ±1/√fan_in, as `nn.Linear.reset_parameters`.
    public func resetParameters(generator: inout RandomGenerator) {
        initializeLayerWeights(weight, bias, generator: &generator)
    }

    /// (…, inFeatures) → (…, outFeatures).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank >= 1 && x.shape.last == weight.shape[1],
                         "Linear: input of shape \(x.shape) does not end in inFeatures \(weight.shape[1]) (weight \(weight.shape))")
        else { return .shapeFailure }
        return linear(x, weight: weight, bias: bias)
    }
}

/// PyTorch's default initialisation of Linear and convolution layers: weight kaiming-uniform
/// with a = √5, bias uniform in ±1/√fan_in; writes into the tensors in place.
func initializeLayerWeights(_ weight: Tensor, _ bias: Tensor?, generator: inout RandomGenerator) {
    let w = Initializer.kaimingUniform(weight.shape, nonlinearity: .leakyRelu(negativeSlope: Float(5).squareRoot()),
                                       generator: &generator)
    weight.assign(w)
    if let bias {
        bias.assign(Initializer.fanInUniform(bias.shape, weightShape: weight.shape, generator: &generator))
    }
}

/// Returns its input (`nn.Identity`).
public final class Identity: Module {
    /// Creates the layer.
    public override init() { super.init() }
    /// x → x.
    public override func forward(_ x: Tensor) -> Tensor { x }
}

/// Merges axes `startDim...endDim` (`nn.Flatten`, default from axis 1).
public final class Flatten: Module {
    let startDim: Int, endDim: Int
    /// Creates the layer.
    public init(startDim: Int = 1, endDim: Int = -1) {
        self.startDim = startDim
        self.endDim = endDim
        super.init()
    }
    /// (N, C, H, W) → (N, C·H·W) by default.
    public override func forward(_ x: Tensor) -> Tensor {
        let axes = -x.rank..<x.rank
        guard shapeCheck(x.rank == 0 || axes.contains(startDim) && axes.contains(endDim),
                         "Flatten: axes \(startDim) through \(endDim) of an input of shape \(x.shape)")
        else { return .shapeFailure }
        return x.flattened(from: startDim, through: endDim)
    }
}

/// Splits axis `dim` into `sizes` (`nn.Unflatten`).
public final class Unflatten: Module {
    let dim: Int, sizes: [Int]
    /// Creates the layer.
    public init(dim: Int, sizes: [Int]) {
        self.dim = dim
        self.sizes = sizes
        super.init()
    }
    /// (N, C·H·W) → (N, C, H, W) for dim 1, sizes [C, H, W].
    public override func forward(_ x: Tensor) -> Tensor {
        let d = dim < 0 ? dim + x.rank : dim
        guard shapeCheck(d >= 0 && d < x.rank, "Unflatten: dim \(dim) out of range for input of shape \(x.shape)") else { return .shapeFailure }
        return x.reshaped(Array(x.shape[..<d]) + sizes + Array(x.shape[(d + 1)...]))
    }
}
