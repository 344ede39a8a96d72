import DeepCore

/// Batch normalisation over the channel axis (shared by ``BatchNorm1d`` and ``BatchNorm2d``).
///
/// Parameters `weight` (ones) and `bias` (zeros) when `affine`; buffers `running_mean` (zeros),
/// `running_var` (ones) and `num_batches_tracked` when `trackRunningStats`, as PyTorch names them.
public class BatchNorm: Module {
    /// (C) scale, or nil without affine.
    public let weight: Tensor?
    /// (C) shift, or nil without affine.
    public let bias: Tensor?
    /// (C) running mean.
    @Buffer public var runningMean: Tensor
    /// (C) running (unbiased) variance.
    @Buffer public var runningVar: Tensor
    /// Number of training batches seen (a 0-D tensor).
    @Buffer public var numBatchesTracked: Tensor
    /// Weight of the newest batch in the running statistics; nil for a cumulative average.
    public let momentum: Float?
    /// Added to the variance.
    public let eps: Float
    let tracksRunningStats: Bool
    let expectedRanks: Set<Int>

    init(_ numFeatures: Int, eps: Float, momentum: Float?, affine: Bool, trackRunningStats: Bool, ranks: Set<Int>) {
        weight = affine ? Tensor(ones: [numFeatures]) : nil
        bias = affine ? Tensor(zeros: [numFeatures]) : nil
        runningMean = Tensor(zeros: [numFeatures])
        runningVar = Tensor(ones: [numFeatures])
        numBatchesTracked = Tensor(zeros: [])
        self.momentum = momentum
        self.eps = eps
        tracksRunningStats = trackRunningStats
        expectedRanks = ranks
        super.init()
    }

    public override func forward(_ x: Tensor) -> Tensor { normalized(x, followedByReLU: false) }

    /// `relu(self(x))`, with the ReLU applied in BatchNorm's own passes while training (see
    /// `batchNorm(_:…:followedByReLU:)`): what ``Sequential`` and ResNet's blocks run for a
    /// BatchNorm followed by a ``ReLU``. Under a summary (which records each layer's output) and
    /// for SyncBatchNorm the two layers run in turn. Shape: as ``forward(_:)``.
    public func callAsFunction(_ x: Tensor, then relu: ReLU) -> Tensor {
        guard fusesFollowingReLU && !ModuleScope.isObserved else { return relu(self(x)) }
        return ModuleScope.run(self, input: x) { normalized(x, followedByReLU: true) }
    }

    /// Whether ``callAsFunction(_:then:)`` may fuse the ReLU (false where `forward`
    /// computes differently).
    var fusesFollowingReLU: Bool { true }

    private func normalized(_ x: Tensor, followedByReLU: Bool) -> Tensor {
        guard shapeCheck(expectedRanks.contains(x.rank) && x.shape[1] == runningMean.shape[0],
                   "\(typeName): input of shape \(x.shape), expected rank \(expectedRanks.sorted()) with \(runningMean.shape[0]) channels") else { return .shapeFailure }
        var factor = momentum ?? 0
        if isTraining && tracksRunningStats {
            numBatchesTracked.withUnsafeMutableBufferPointer { $0[0] += 1 }
            if momentum == nil { factor = 1 / numBatchesTracked.item() }
        }
        let useRunning = tracksRunningStats
        return batchNorm(x, runningMean: useRunning ? runningMean : nil, runningVar: useRunning ? runningVar : nil,
                         weight: weight, bias: bias, training: isTraining || !useRunning, momentum: factor, eps: eps,
                         followedByReLU: followedByReLU)
    }
}

/// Batch normalisation of (N, C) or (N, C, L) (`nn.BatchNorm1d`).
public final class BatchNorm1d: BatchNorm {
    /// Creates the layer for `numFeatures` channels.
    public init(_ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) {
        super.init(numFeatures, eps: eps, momentum: momentum, affine: affine, trackRunningStats: trackRunningStats, ranks: [2, 3])
    }
}

/// Batch normalisation of (N, C, H, W) (`nn.BatchNorm2d`).
public final class BatchNorm2d: BatchNorm {
    /// Creates the layer for `numFeatures` channels.
    public init(_ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) {
        super.init(numFeatures, eps: eps, momentum: momentum, affine: affine, trackRunningStats: trackRunningStats, ranks: [4])
    }
}

/// Layer normalisation over the trailing `normalizedShape` axes (`nn.LayerNorm`): `weight` ones,
/// `bias` zeros. Shape: (…, *normalizedShape) → same.
public final class LayerNorm: Module {
    /// (*normalizedShape), or nil without elementwise affine.
    public let weight: Tensor?
    /// (*normalizedShape), or nil.
    public let bias: Tensor?
    let normalizedShape: [Int]
    let eps: Float

    /// Creates the layer.
    public init(_ normalizedShape: [Int], eps: Float = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        self.normalizedShape = normalizedShape
        self.eps = eps
        weight = elementwiseAffine ? Tensor(ones: normalizedShape) : nil
        self.bias = elementwiseAffine && bias ? Tensor(zeros: normalizedShape) : nil
        super.init()
    }

    /// Creates the layer over one trailing axis of size `normalizedSize`.
    public convenience init(_ normalizedSize: Int, eps: Float = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        self.init([normalizedSize], eps: eps, elementwiseAffine: elementwiseAffine, bias: bias)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        layerNorm(x, normalizedShape: normalizedShape, weight: weight, bias: bias, eps: eps)
    }
}

/// Root-mean-square normalisation (`nn.RMSNorm`): `weight` ones; `eps` nil means Float32's
/// machine epsilon, as PyTorch. Shape: (…, *normalizedShape) → same.
public final class RMSNorm: Module {
    /// (*normalizedShape), or nil.
    public let weight: Tensor?
    let normalizedShape: [Int]
    let eps: Float?

    /// Creates the layer.
    public init(_ normalizedShape: [Int], eps: Float? = nil, elementwiseAffine: Bool = true) {
        self.normalizedShape = normalizedShape
        self.eps = eps
        weight = elementwiseAffine ? Tensor(ones: normalizedShape) : nil
        super.init()
    }

    /// Creates the layer over one trailing axis.
    public convenience init(_ normalizedSize: Int, eps: Float? = nil, elementwiseAffine: Bool = true) {
        self.init([normalizedSize], eps: eps, elementwiseAffine: elementwiseAffine)
    }

    public override func forward(_ x: Tensor) -> Tensor {
        rmsNorm(x, normalizedShape: normalizedShape, weight: weight, eps: eps)
    }
}

/// Group normalisation (`nn.GroupNorm`): `weight` ones, `bias` zeros, per channel.
/// Shape: (N, C, *) → same.
public final class GroupNorm: Module {
    /// (C), or nil.
    public let weight: Tensor?
    /// (C), or nil.
    public let bias: Tensor?
    let numGroups: Int
    let eps: Float

    /// Creates the layer; `numChannels` must be divisible by `numGroups`.
    public init(_ numGroups: Int, _ numChannels: Int, eps: Float = 1e-5, affine: Bool = true) {
        require(numChannels % numGroups == 0, "GroupNorm: \(numChannels) channels do not split into \(numGroups) groups")
        self.numGroups = numGroups
        self.eps = eps
        weight = affine ? Tensor(ones: [numChannels]) : nil
        bias = affine ? Tensor(zeros: [numChannels]) : nil
        super.init()
    }

    public override func forward(_ x: Tensor) -> Tensor {
        groupNorm(x, groups: numGroups, weight: weight, bias: bias, eps: eps)
    }
}

/// Instance normalisation over the spatial axes of (N, C, *) of one rank (the base of
/// ``InstanceNorm2d`` and ``InstanceNorm3d``): each sample's channel
/// normalised over its positions; `weight` (ones) and `bias` (zeros) per channel when `affine`.
/// Running statistics are not tracked (PyTorch's default).
public class InstanceNorm: Module {
    /// (C), or nil.
    public let weight: Tensor?
    /// (C), or nil.
    public let bias: Tensor?
    let eps: Float
    let rank: Int, layout: String

    init(_ numFeatures: Int, eps: Float, affine: Bool, rank: Int, layout: String) {
        (self.eps, self.rank, self.layout) = (eps, rank, layout)
        weight = affine ? Tensor(ones: [numFeatures]) : nil
        bias = affine ? Tensor(zeros: [numFeatures]) : nil
        super.init()
    }

    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == rank, "\(typeName): input of shape \(x.shape), expected \(layout)") else { return .shapeFailure }
        return groupNorm(x, groups: x.shape[1], weight: weight, bias: bias, eps: eps)
    }
}

/// Instance normalisation of (N, C, H, W) (`nn.InstanceNorm2d`): each sample's channel
/// normalised over its spatial positions; without affine parameters by default. Running
/// statistics are not tracked (PyTorch's default).
public final class InstanceNorm2d: InstanceNorm {
    /// Creates the layer.
    public init(_ numFeatures: Int, eps: Float = 1e-5, affine: Bool = false) {
        super.init(numFeatures, eps: eps, affine: affine, rank: 4, layout: "(N, C, H, W)")
    }
}
