/// Weight initialisations with `torch.nn.init`'s formulas, drawing from a seeded generator.
public enum Initializer {
    /// The nonlinearity after a layer, which sets the gain (`torch.nn.init.calculate_gain`).
    public enum Nonlinearity {
        case linear, sigmoid, tanh, relu
        /// Leaky ReLU with the given negative slope.
        case leakyRelu(negativeSlope: Float)
        /// SELU's gain, 3/4.
        case selu

        /// The recommended gain.
        public var gain: Float {
            switch self {
            case .linear, .sigmoid: return 1
            case .tanh: return 5.0 / 3.0
            case .relu: return Float(2).squareRoot()
            case .leakyRelu(let slope): return (2.0 / (1 + slope * slope)).squareRoot()
            case .selu: return 0.75
            }
        }
    }

    /// Whether Kaiming scaling preserves the variance of the forward or the backward pass.
    public enum FanMode { case fanIn, fanOut }

    /// `(fan_in, fan_out)` of a weight shape as PyTorch computes them: for `(out, in, k…)`,
    /// fan_in = in·∏k and fan_out = out·∏k.
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        require(shape.count >= 2, "Initializer.fans: shape \(shape) needs at least 2 axes")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Uniform in [-b, b] with b = gain·√(3 / fan) (`kaiming_uniform_`).
    public static func kaimingUniform(_ shape: [Int], mode: FanMode = .fanIn,
                                      nonlinearity: Nonlinearity = .leakyRelu(negativeSlope: 0),
                                      generator: inout RandomGenerator) -> Tensor {
        let fan = Float(mode == .fanIn ? fans(shape).fanIn : fans(shape).fanOut)
        let bound = nonlinearity.gain * (3 / fan).squareRoot()
        return Tensor.rand(shape, low: -bound, high: bound, generator: &generator)
    }

    /// Normal with std = gain / √fan (`kaiming_normal_`).
    public static func kaimingNormal(_ shape: [Int], mode: FanMode = .fanIn,
                                     nonlinearity: Nonlinearity = .leakyRelu(negativeSlope: 0),
                                     generator: inout RandomGenerator) -> Tensor {
        let fan = Float(mode == .fanIn ? fans(shape).fanIn : fans(shape).fanOut)
        return Tensor.randn(shape, std: nonlinearity.gain / fan.squareRoot(), generator: &generator)
    }

    /// Uniform in [-b, b] with b = gain·√(6 / (fan_in + fan_out)) (`xavier_uniform_`).
    public static func xavierUniform(_ shape: [Int], gain: Float = 1, generator: inout RandomGenerator) -> Tensor {
        let (fanIn, fanOut) = fans(shape)
        let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
        return Tensor.rand(shape, low: -bound, high: bound, generator: &generator)
    }

    /// Normal with std = gain·√(2 / (fan_in + fan_out)) (`xavier_normal_`).
    public static func xavierNormal(_ shape: [Int], gain: Float = 1, generator: inout RandomGenerator) -> Tensor {
        let (fanIn, fanOut) = fans(shape)
        return Tensor.randn(shape, std: gain * (2 / Float(fanIn + fanOut)).squareRoot(), generator: &generator)
    }

    /// Normal with `std`, each sample outside the absolute bounds [−2, 2] drawn again
    /// (`trunc_normal_` with its default bounds).
    public static func truncatedNormal(_ shape: [Int], std: Float, generator: inout RandomGenerator) -> Tensor {
        Tensor.make(shape: shape) { out in
            for i in out.indices {
                var v: Float
                repeat { v = std * generator.nextNormalPair().0 } while Swift.abs(v) > 2
                out[i] = v
            }
        }
    }

    /// Uniform in [-1/√fan_in, 1/√fan_in]: PyTorch's default bias initialisation for Linear and
    /// convolution layers whose weight has `weightShape`.
    public static func fanInUniform(_ shape: [Int], weightShape: [Int], generator: inout RandomGenerator) -> Tensor {
        let fanIn = Float(fans(weightShape).fanIn)
        let bound = fanIn > 0 ? 1 / fanIn.squareRoot() : 0
        return Tensor.rand(shape, low: -bound, high: bound, generator: &generator)
    }
}
