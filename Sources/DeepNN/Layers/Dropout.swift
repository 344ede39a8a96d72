import DeepCore

/// Zeroes each element with probability `p` in training and scales the rest by 1/(1 − p)
/// (`nn.Dropout`); the identity in evaluation. Masks come from the default generator (reseed it
/// with `manualSeed`) or from the layer's own generator when given a seed.
///
/// Shape: any → same.
public final class Dropout: Module {
    /// Probability of zeroing an element.
    public let p: Float
    private var generator: RandomGenerator?

    /// Creates the layer; `seed` gives it a generator of its own.
    public init(_ p: Float = 0.5, seed: UInt64? = nil) {
        require(p >= 0 && p <= 1, "Dropout: probability \(p) is not in [0, 1]")
        self.p = p
        generator = seed.map { RandomGenerator(seed: $0) }
        super.init()
    }

    public override func forward(_ x: Tensor) -> Tensor {
        guard isTraining, p > 0, !x.isMeta else { return x }
        if p == 1 { return x * 0 }
        if generator != nil {
            return dropout(x, p: p, generator: &generator!)
        }
        return dropout(x, p: p, generator: &DefaultRandom.generator)
    }
}
