import DeepCore

/// An image classifier that reads an image row by row with Mamba: each of the H rows (its
/// C·W pixels) is a token, embedded to dModel, passed through residual ``MambaBlock``s and a
/// final RMSNorm (mamba-ssm's `MixerModel`: `layers.i`, `norm_f`), averaged over the rows and
/// classified by a linear head.
///
/// Shape: (N, C, H, W) → (N, numClasses), with C·W = `rowSize`.
public final class MambaClassifier: Module {
    /// Row pixels → dModel.
    public let embedding: Linear
    /// The residual Mamba layers.
    public let layers: [Module]
    /// The final normalisation.
    public let normF: RMSNorm
    /// dModel → numClasses.
    public let head: Linear

    /// Creates the classifier for rows of `rowSize` values (28 for Fashion-MNIST).
    public init(rowSize: Int = 28, numClasses: Int = 10, dModel: Int = 64, numLayers: Int = 2, dState: Int = 16,
                dConv: Int = 4, expand: Int = 2) {
        embedding = Linear(rowSize, dModel)
        layers = (0..<numLayers).map { _ in MambaBlock(dModel: dModel, dState: dState, dConv: dConv, expand: expand) }
        normF = RMSNorm(dModel, eps: 1e-5)
        head = Linear(dModel, numClasses)
        super.init()
    }

    /// (N, C, H, W) → (N, numClasses).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 4 && x.shape[1] * x.shape[3] == embedding.weight.shape[1],
                         "MambaClassifier: input \(x.shape) does not have rows of \(embedding.weight.shape[1]) values")
        else { return .shapeFailure }
        let rows = x.permuted([0, 2, 1, 3]).reshaped([x.shape[0], x.shape[2], x.shape[1] * x.shape[3]])   // (N, H, C·W)
        let h = layers.reduce(embedding(rows)) { $1($0) }
        return head(normF(h).mean(axes: [1]))
    }
}
