import DeepCore

/// einops' `Rearrange` layer: applies a rearrange pattern in `forward`, so patterns can sit in a
/// `Sequential`.
///
///     Sequential(Conv2d(3, 64, kernelSize: 4, stride: 4), Rearrange("b c h w -> b (h w) c"))
///
/// A pattern that does not fit the input stops with the einops message and the module path.
public final class Rearrange: Module {
    /// The einops pattern.
    public let pattern: String
    /// Axis sizes named in the pattern.
    public let sizes: [String: Int]

    /// Creates the layer.
    public init(_ pattern: String, _ sizes: [String: Int] = [:]) {
        self.pattern = pattern
        self.sizes = sizes
        super.init()
    }

    public override func forward(_ x: Tensor) -> Tensor {
        do {
            return try x.rearranged(pattern, sizes)
        } catch {
            shapeCheck(false, "Rearrange: \(error)")
            return .shapeFailure
        }
    }
}

/// einops' `Reduce` layer: applies a reduction pattern in `forward` (e.g. global average
/// pooling as `Reduce("b c h w -> b c", .mean)`).
public final class Reduce: Module {
    /// The einops pattern.
    public let pattern: String
    /// The reduction.
    public let reduction: EinopsReduction
    /// Axis sizes named in the pattern.
    public let sizes: [String: Int]

    /// Creates the layer.
    public init(_ pattern: String, _ reduction: EinopsReduction, _ sizes: [String: Int] = [:]) {
        self.pattern = pattern
        self.reduction = reduction
        self.sizes = sizes
        super.init()
    }

    public override func forward(_ x: Tensor) -> Tensor {
        do {
            return try x.reduced(pattern, reduction, sizes)
        } catch {
            shapeCheck(false, "Reduce: \(error)")
            return .shapeFailure
        }
    }
}
