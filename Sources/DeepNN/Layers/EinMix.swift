import DeepCore

/// einops' `EinMix` layer: a linear layer written as an einsum between the input and a weight
/// whose axes are named, with einops' rearrangements on either side (`einops.layers.torch.EinMix`).
///
///     try EinMix("t b cin -> t b cout", weightShape: "cin cout", biasShape: "cout", ["cin": 10, "cout": 20])
///     try EinMix("b (h cin) -> b (h cout)", weightShape: "h cin cout", ["h": 4, "cin": 8, "cout": 8])  // per-head linear
///     try EinMix("b hw c -> b hw2 c", weightShape: "hw hw2", biasShape: "hw2", ["hw": 64, "hw2": 64])   // token mixing (MLP-Mixer)
///
/// - weight: the lengths of `weightShape`'s axes, uniform in ±√(3 / fan_in), fan_in the
///   product of the weight's axes that the output lacks; bias: the right side's axes with
///   `biasShape`'s lengths and 1 elsewhere (after any ellipsis), uniform in ±√(1 / fan_in) — as
///   einops initialises them. Named `weight` and `bias` as in einops, so state dicts load both ways.
/// - Shape: the pattern's left side → its right side.
public final class EinMix: Module {
    /// The weight, of ``recipe``'s `weightShape`.
    public let weight: Tensor
    /// The bias, of ``recipe``'s `biasShape`, or nil.
    public let bias: Tensor?
    /// The pattern, e.g. `"t b cin -> t b cout"`.
    public let pattern: String
    /// The rearrangements, the einsum equation and the parameters' shapes and bounds.
    public let recipe: EinMixRecipe

    /// Creates the layer with einops' initialisation from the default generator.
    /// - Parameters:
    ///   - pattern: `"left -> right"` in einops' notation.
    ///   - weightShape: the weight's axes, e.g. `"cin cout"`.
    ///   - biasShape: the bias's axes, or nil for no bias.
    ///   - sizes: the length of every axis of the weight and the bias.
    /// - Throws: ``EinopsError`` as ``EinMixRecipe/init(_:weightShape:biasShape:_:)`` does.
    public init(_ pattern: String, weightShape: String, biasShape: String? = nil, _ sizes: [String: Int] = [:]) throws {
        let recipe = try EinMixRecipe(pattern, weightShape: weightShape, biasShape: biasShape, sizes)
        self.pattern = pattern
        self.recipe = recipe
        weight = Tensor(zeros: recipe.weightShape)
        bias = recipe.biasShape.map { Tensor(zeros: $0) }
        super.init()
        resetParameters(generator: &DefaultRandom.generator)
    }

    /// Re-draws the weight uniform in ±√(3 / fan_in) and the bias in ±√(1 / fan_in), as einops.
    public func resetParameters(generator: inout RandomGenerator) {
        weight.assign(Tensor.rand(weight.shape, low: -recipe.weightBound, high: recipe.weightBound, generator: &generator))
        if let bias {
            bias.assign(Tensor.rand(bias.shape, low: -recipe.biasBound, high: recipe.biasBound, generator: &generator))
        }
    }

    /// The pattern's left side → its right side. A shape that does not fit stops with einops'
    /// message and the module path.
    public override func forward(_ x: Tensor) -> Tensor {
        do {
            var y = x
            if let (pattern, sizes) = recipe.preRearrange { y = try y.rearranged(pattern, sizes) }
            y = try einsum(recipe.einsumEquation, y, weight)
            if let bias { y = y + bias }
            if let pattern = recipe.postRearrange { y = try y.rearranged(pattern) }
            return y
        } catch {
            shapeCheck(false, "EinMix: \(error)")
            return .shapeFailure
        }
    }
}
