import DeepCore

// Channel and spatial attention for CNNs: squeeze-and-excitation (Hu et al. 2018) and CBAM
// (Woo et al. 2018). Both keep the input's shape, so they drop into any stage of a CNN.

/// Squeeze-and-excitation (torchvision's `SqueezeExcitation`): each channel is scaled by a gate
/// computed from the global average of all channels,
/// s = sigmoid(fc2(relu(fc1(GAP(x))))), out = x ⊙ s.
///
/// Parameters (torchvision's names): `fc1` (1×1 conv C → C/r with bias), `fc2` (1×1 conv C/r → C
/// with bias), initialised like `nn.Conv2d`.
/// Shape: (N, C, H, W) → (N, C, H, W).
public final class SqueezeExcitation: Module {
    /// Squeeze: C → C/r.
    public let fc1: Conv2d
    /// Excite: C/r → C.
    public let fc2: Conv2d

    /// Creates the block with `squeezeChannels` in its bottleneck.
    public init(channels: Int, squeezeChannels: Int) {
        require(channels > 0 && squeezeChannels > 0,
                "SqueezeExcitation: channels \(channels) and squeeze channels \(squeezeChannels) must be positive")
        fc1 = Conv2d(channels, squeezeChannels, kernelSize: 1)
        fc2 = Conv2d(squeezeChannels, channels, kernelSize: 1)
        super.init()
    }

    /// Creates the block with max(1, channels / reduction) bottleneck channels.
    public convenience init(channels: Int, reduction: Int = 16) {
        self.init(channels: channels, squeezeChannels: Swift.max(1, channels / reduction))
    }

    /// (N, C, H, W) → x ⊙ s, s of shape (N, C, 1, 1).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 4 && x.shape[1] == fc1.weight.shape[1],
                         "SqueezeExcitation: input of shape \(x.shape), expected (N, \(fc1.weight.shape[1]), H, W)")
        else { return .shapeFailure }
        let scale = sigmoid(fc2(relu(fc1(adaptiveAvgPool2d(x, outputSize: [1, 1])))))
        return x * scale
    }
}

/// CBAM's channel attention: a shared two-layer bottleneck (1×1 convs without bias) applied to
/// the global average and the global maximum of each channel, summed, then a sigmoid:
/// s = sigmoid(fc2(relu(fc1(GAP(x)))) + fc2(relu(fc1(GMP(x))))).
///
/// Parameters: `fc1` (C/r, C, 1, 1), `fc2` (C, C/r, 1, 1).
/// Shape: (N, C, H, W) → the gate (N, C, 1, 1).
public final class ChannelAttention: Module {
    /// C → C/r, no bias.
    public let fc1: Conv2d
    /// C/r → C, no bias.
    public let fc2: Conv2d

    /// Creates the gate with max(1, channels / reduction) bottleneck channels.
    public init(channels: Int, reduction: Int = 16) {
        let hidden = Swift.max(1, channels / reduction)
        fc1 = Conv2d(channels, hidden, kernelSize: 1, bias: false)
        fc2 = Conv2d(hidden, channels, kernelSize: 1, bias: false)
        super.init()
    }

    /// (N, C, H, W) → (N, C, 1, 1) in (0, 1).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 4 && x.shape[1] == fc1.weight.shape[1],
                         "ChannelAttention: input of shape \(x.shape), expected (N, \(fc1.weight.shape[1]), H, W)")
        else { return .shapeFailure }
        let mlp = { (pooled: Tensor) in self.fc2(relu(self.fc1(pooled))) }
        return sigmoid(mlp(adaptiveAvgPool2d(x, outputSize: [1, 1])) + mlp(adaptiveMaxPool2d(x, outputSize: [1, 1])))
    }
}

/// CBAM's spatial attention: a k×k convolution (no bias, "same" padding) over the channel-wise
/// mean and maximum, then a sigmoid: s = sigmoid(conv([mean_c(x), max_c(x)])).
///
/// Parameter: `conv` (1, 2, k, k).
/// Shape: (N, C, H, W) → the gate (N, 1, H, W).
public final class SpatialAttention: Module {
    /// [mean, max] → 1 channel.
    public let conv: Conv2d

    /// Creates the gate with an odd `kernelSize`.
    public init(kernelSize: Int = 7) {
        require(kernelSize % 2 == 1, "SpatialAttention: kernel size \(kernelSize) should be odd to keep the size")
        conv = Conv2d(2, 1, kernelSize: kernelSize, padding: kernelSize / 2, bias: false)
        super.init()
    }

    /// (N, C, H, W) → (N, 1, H, W) in (0, 1).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 4, "SpatialAttention: input of shape \(x.shape) should be (N, C, H, W)")
        else { return .shapeFailure }
        let pooled = Tensor.concatenate([x.mean(axis: 1, keepingDims: true), x.max(axis: 1, keepingDims: true)], axis: 1)
        return sigmoid(conv(pooled))
    }
}

/// Convolutional block attention module (Woo et al. 2018): channel attention, then spatial
/// attention on the re-weighted features,
/// x' = x ⊙ Mc(x), out = x' ⊙ Ms(x').
///
/// Children: `channel_attention` (``ChannelAttention``: `fc1`, `fc2`) and `spatial_attention`
/// (``SpatialAttention``: `conv`).
/// Shape: (N, C, H, W) → (N, C, H, W).
public final class CBAM: Module {
    /// The channel gate.
    public let channelAttention: ChannelAttention
    /// The spatial gate.
    public let spatialAttention: SpatialAttention

    /// Creates the module for `channels` channels.
    /// - Parameters:
    ///   - reduction: bottleneck ratio of the channel gate (hidden = max(1, channels / reduction)).
    ///   - kernelSize: side of the spatial gate's odd convolution kernel.
    public init(channels: Int, reduction: Int = 16, kernelSize: Int = 7) {
        channelAttention = ChannelAttention(channels: channels, reduction: reduction)
        spatialAttention = SpatialAttention(kernelSize: kernelSize)
        super.init()
    }

    /// (N, C, H, W) → (N, C, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        let refined = x * channelAttention(x)
        return refined * spatialAttention(refined)
    }
}
