import DeepCore

/// Zeroes each element with probability `p` in training and scales the rest by 1/(1 − p)
/// (`nn.Dropout`); the identity in evaluation. Masks come from the default generator (reseed it
/// with `manualSeed`) or from the layer's own generator when given a seed.
///
/// Shape: any → same.
public final class Dropout: Module {
    /// Probability of zeroing an element.
    public let p: Float
    private var randomness: LayerRandomness

    /// Creates the layer; `seed` gives it a generator of its own.
    public init(_ p: Float = 0.5, seed: UInt64? = nil) {
        require(p >= 0 && p <= 1, "Dropout: probability \(p) is not in [0, 1]")
        self.p = p
        randomness = LayerRandomness(seed: seed)
        super.init()
    }

    public override func forward(_ x: Tensor) -> Tensor {
        guard isTraining, p > 0, !x.isMeta else { return x }
        if p == 1 { return x * 0 }
        return randomness.using { dropout(x, p: p, generator: &$0) }
    }
}

/// Stochastic depth (timm's `DropPath`, `drop_path` in residual blocks): in training, each
/// sample of the batch has its whole branch zeroed with probability `p` and the other samples'
/// branches scaled by 1/(1 − p) (all dropped at `p` = 1); the identity in evaluation or at
/// `p` = 0. No parameters, so a model's state dict is the same with or without it.
///
///     x = x + dropPath(branch(x))
///
/// Shape: (N, …) → (N, …); one draw per sample (index of the first axis).
public final class DropPath: Module {
    /// Probability of dropping a sample's branch.
    public let p: Float
    private var randomness: LayerRandomness

    /// Creates the layer; `seed` gives it a generator of its own (else the default generator,
    /// reseeded by `manualSeed`).
    public init(_ p: Float = 0, seed: UInt64? = nil) {
        require(p >= 0 && p <= 1, "DropPath: probability \(p) is not in [0, 1]")
        self.p = p
        randomness = LayerRandomness(seed: seed)
        super.init()
    }

    public override func forward(_ x: Tensor) -> Tensor {
        guard isTraining, p > 0, !x.isMeta, x.rank >= 1 else { return x }
        if p == 1 { return x * 0 }   // timm: every branch dropped
        let keep = 1 - p, samples = x.shape[0]
        func draw(_ g: inout RandomGenerator) -> [Float] {
            // timm: floor(keep + U[0, 1)) is 1 with probability keep; kept samples scale by 1/keep.
            (0..<samples).map { _ in (keep + g.nextUniform()).rounded(.down) / keep }
        }
        let scales = randomness.using(draw)
        return x * Tensor(scales, shape: [samples] + [Int](repeating: 1, count: x.rank - 1))
    }
}

/// The random source of a stochastic layer (``Dropout``, ``DropPath``): a generator of its own
/// when made with a seed, else the default generator (reseeded by `manualSeed`).
struct LayerRandomness {
    private var own: RandomGenerator?

    init(seed: UInt64?) { own = seed.map { RandomGenerator(seed: $0) } }

    /// What `body` computes with the layer's generator, which it advances.
    mutating func using<T>(_ body: (inout RandomGenerator) -> T) -> T {
        if own != nil { return body(&own!) }
        return body(&DefaultRandom.generator)
    }
}
