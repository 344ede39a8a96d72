import DeepCore

/// `nn.ReLU`: max(x, 0). Shape: any → same.
public final class ReLU: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ x: Tensor) -> Tensor { relu(x) }
}

/// `nn.LeakyReLU`: x for x ≥ 0, slope·x otherwise. Shape: any → same.
public final class LeakyReLU: Module {
    let negativeSlope: Float
    /// Creates the layer.
    public init(negativeSlope: Float = 0.01) {
        self.negativeSlope = negativeSlope
        super.init()
    }
    public override func forward(_ x: Tensor) -> Tensor { leakyRelu(x, negativeSlope: negativeSlope) }
}

/// `nn.GELU`: x·Φ(x), exact or tanh-approximated. Shape: any → same.
public final class GELU: Module {
    let approximation: GELUApproximation
    /// Creates the layer.
    public init(approximation: GELUApproximation = .none) {
        self.approximation = approximation
        super.init()
    }
    public override func forward(_ x: Tensor) -> Tensor { gelu(x, approximation: approximation) }
}

/// `nn.SiLU` (swish): x·σ(x). Shape: any → same.
public final class SiLU: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ x: Tensor) -> Tensor { silu(x) }
}

/// `nn.Sigmoid`. Shape: any → same.
public final class Sigmoid: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ x: Tensor) -> Tensor { sigmoid(x) }
}

/// `nn.Tanh`. Shape: any → same.
public final class Tanh: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ x: Tensor) -> Tensor { tanh(x) }
}

/// `nn.Hardswish`: x·relu6(x + 3)/6. Shape: any → same.
public final class Hardswish: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ x: Tensor) -> Tensor { hardswish(x) }
}

/// `nn.Softmax` along `dim`. Shape: any → same.
public final class Softmax: Module {
    let dim: Int
    /// Creates the layer.
    public init(dim: Int = -1) {
        self.dim = dim
        super.init()
    }
    public override func forward(_ x: Tensor) -> Tensor { softmax(x, axis: dim) }
}
