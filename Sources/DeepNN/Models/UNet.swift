import DeepCore

/// U-Net for segmentation with the layout and parameter names of the common PyTorch
/// implementation (milesial/Pytorch-UNet): `inc` (``DoubleConv``), `down1` … `downD` (max pool
/// then ``DoubleConv``), `up1` … `upD` (up-sampling, skip concatenation, ``DoubleConv``) and `outc`
/// (1×1 convolution to class logits). With `depth: 4, baseChannels: 64` the state dict equals
/// that implementation's, key for key.
///
/// Channels: level k (0…depth) has `baseChannels · 2^k`. With `bilinear` up-sampling (bilinear,
/// corners aligned, then convolutions that reduce channels) the deepest level and each decoder
/// output carry half of that, as in the reference; with transposed convolutions (2×2, stride 2)
/// they carry the full count. Odd sizes work: each up-sampled map is zero-padded (or cropped)
/// to its skip connection's size, centred, as `F.pad(x1, [dX/2, dX − dX/2, dY/2, dY − dY/2])`.
///
/// An extra parameter-free child `bottleneck` (``Identity``) runs on the deepest features, so a
/// block can be stitched in with `try unet.replace(path: "bottleneck", with: block)` without
/// changing any weight name.
///
///     let unet = UNet(inChannels: 3, numClasses: 2)
///     let logits = unet(images)                          // (N, 3, H, W) → (N, 2, H, W)
///     let loss = crossEntropy(logits, masks)             // masks flattened in (N, H, W) order
///
/// Shape: (N, inChannels, H, W) → (N, numClasses, H, W) for any H, W ≥ 2^depth.
public final class UNet: Module {
    /// Input block: (N, inChannels, H, W) → (N, baseChannels, H, W).
    @Child public var inc: Module
    /// Encoder stages `down1` … `downD`, each halving the size.
    public private(set) var downs: [Module]
    /// Runs on the deepest features (``Identity`` unless replaced).
    @Child public var bottleneck: Module
    /// Decoder stages `up1` … `upD`, each doubling the size and joining a skip connection.
    public private(set) var ups: [Up]
    /// 1×1 convolution to the class logits.
    @Child public var outc: Module
    /// Number of down-sampling steps.
    public let depth: Int

    /// Creates the network.
    ///
    /// - Parameters:
    ///   - depth: down-sampling steps (4 in the original U-Net); inputs need sides ≥ 2^depth.
    ///   - baseChannels: channels of the first level (64 in the original).
    ///   - bilinear: bilinear up-sampling (true) or 2×2 transposed convolutions (false).
    public init(inChannels: Int, numClasses: Int, depth: Int = 4, baseChannels: Int = 64, bilinear: Bool = false) {
        require(depth >= 1, "UNet: depth must be at least 1, got \(depth)")
        let factor = bilinear ? 2 : 1
        let channels = (0...depth).map { baseChannels << $0 }
        inc = DoubleConv(inChannels, channels[0])
        downs = (1...depth).map { k in Down(channels[k - 1], channels[k] / (k == depth ? factor : 1)) }
        bottleneck = Identity()
        ups = (1...depth).map { k in
            let level = depth - k
            return Up(channels[level + 1], channels[level] / (level == 0 ? 1 : factor), bilinear: bilinear)
        }
        outc = OutConv(channels[0], numClasses)
        self.depth = depth
        super.init()
    }

    public override func namedChildren() -> [(String, Module)] {
        [("inc", inc)] + downs.enumerated().map { ("down\($0.offset + 1)", $0.element) }
            + [("bottleneck", bottleneck)]
            + ups.enumerated().map { ("up\($0.offset + 1)", $0.element as Module) } + [("outc", outc)]
    }

    /// Replaces `inc`, `bottleneck`, `outc` or `downK` with any module, and `upK` with another ``Up``
    /// (a decoder stage takes two inputs; replace `upK.conv` or `upK.up` to change its parts).
    public override func replaceChild(named name: String, with module: Module) -> Bool {
        if name.hasPrefix("down"), let k = Int(name.dropFirst(4)), downs.indices.contains(k - 1) {
            downs[k - 1] = module
            return true
        }
        if name.hasPrefix("up"), let k = Int(name.dropFirst(2)), ups.indices.contains(k - 1), let up = module as? Up {
            ups[k - 1] = up
            return true
        }
        return super.replaceChild(named: name, with: module)
    }

    /// (N, inChannels, H, W) → (N, numClasses, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        let minimum = 1 << depth
        guard shapeCheck(x.rank == 4 && x.shape[2] >= minimum && x.shape[3] >= minimum,
                         "UNet: input of shape \(x.shape), expected (N, C, H, W) with H, W ≥ 2^depth = \(minimum)")
        else { return .shapeFailure }
        var skips = [inc(x)]
        for down in downs { skips.append(down(skips[skips.count - 1])) }
        var y = bottleneck(skips.removeLast())
        for up in ups { y = up(y, skip: skips.removeLast()) }
        return outc(y)
    }

    // MARK: Parts

    /// (3×3 convolution without bias → BatchNorm → ReLU) × 2, as `double_conv.0` … `double_conv.5`.
    /// Shape: (N, in, H, W) → (N, out, H, W).
    public final class DoubleConv: Module {
        /// The six layers.
        public let doubleConv: Sequential

        /// Creates the block; `midChannels` defaults to `outChannels`.
        public init(_ inChannels: Int, _ outChannels: Int, midChannels: Int? = nil) {
            let mid = midChannels ?? outChannels
            doubleConv = Sequential(
                Conv2d(inChannels, mid, kernelSize: 3, padding: 1, bias: false), BatchNorm2d(mid), ReLU(),
                Conv2d(mid, outChannels, kernelSize: 3, padding: 1, bias: false), BatchNorm2d(outChannels), ReLU())
            super.init()
        }

        public override func forward(_ x: Tensor) -> Tensor { doubleConv(x) }
    }

    /// 2×2 max pooling then ``DoubleConv``, as `maxpool_conv.0`, `maxpool_conv.1`.
    /// Shape: (N, in, H, W) → (N, out, ⌊H/2⌋, ⌊W/2⌋).
    public final class Down: Module {
        /// Pooling and convolutions.
        public let maxpoolConv: Sequential

        /// Creates the stage.
        public init(_ inChannels: Int, _ outChannels: Int) {
            maxpoolConv = Sequential(MaxPool2d(2), DoubleConv(inChannels, outChannels))
            super.init()
        }

        public override func forward(_ x: Tensor) -> Tensor { maxpoolConv(x) }
    }

    /// Up-sampling by 2 (`up`), padding to the skip connection's size, concatenation
    /// `[skip, upsampled]` along channels, then ``DoubleConv`` (`conv`).
    public final class Up: Module {
        /// Bilinear ``Upsample`` (channels kept) or ``ConvTranspose2d`` (channels halved).
        @Child public var up: Module
        /// Convolutions on the joined features.
        @Child public var conv: Module

        /// Creates the stage from `inChannels` (after concatenation) to `outChannels`.
        public init(_ inChannels: Int, _ outChannels: Int, bilinear: Bool) {
            if bilinear {
                up = Upsample(scale: 2, mode: .bilinear, alignCorners: true)
                conv = DoubleConv(inChannels, outChannels, midChannels: inChannels / 2)
            } else {
                up = ConvTranspose2d(inChannels, inChannels / 2, kernelSize: 2, stride: 2)
                conv = DoubleConv(inChannels, outChannels)
            }
            super.init()
        }

        /// - Parameters:
        ///   - x: (N, C, h, w) deeper features.
        ///   - skip: (N, C', H, W) encoder features; the up-sampled `x` is padded or cropped to H × W.
        /// - Returns: (N, outChannels, H, W).
        public func callAsFunction(_ x: Tensor, skip: Tensor) -> Tensor {
            traced(inputs: [x, skip]) { join(x, skip: skip) }
        }

        /// The computation of the call.
        private func join(_ x: Tensor, skip: Tensor) -> Tensor {
            let upsampled = up(x)
            guard shapeCheck(upsampled.rank == 4 && skip.rank == 4 && upsampled.shape[0] == skip.shape[0],
                             "UNet.Up: up-sampled features \(upsampled.shape) do not match skip connection \(skip.shape)")
            else { return .shapeFailure }
            let dy = skip.shape[2] - upsampled.shape[2], dx = skip.shape[3] - upsampled.shape[3]
            let aligned = padded(upsampled, axis: 2, before: floorHalf(dy), after: dy - floorHalf(dy))
            let fitted = padded(aligned, axis: 3, before: floorHalf(dx), after: dx - floorHalf(dx))
            return conv(Tensor.concatenate([skip, fitted], axis: 1))
        }
    }

    /// 1×1 convolution with bias, as `conv`. Shape: (N, in, H, W) → (N, out, H, W).
    public final class OutConv: Module {
        /// The convolution.
        @Child public var conv: Module

        /// Creates the head.
        public init(_ inChannels: Int, _ outChannels: Int) {
            conv = Conv2d(inChannels, outChannels, kernelSize: 1)
            super.init()
        }

        public override func forward(_ x: Tensor) -> Tensor { conv(x) }
    }
}

/// ⌊n / 2⌋ rounding toward −∞ (Python's `n // 2`).
private func floorHalf(_ n: Int) -> Int { n >= 0 ? n / 2 : -((1 - n) / 2) }

/// `x` with `before`/`after` zeros added along `axis`, or elements cut where they are negative
/// (`F.pad` on one axis). Differentiable: through `narrowed` and `concatenate`.
private func padded(_ x: Tensor, axis: Int, before: Int, after: Int) -> Tensor {
    let cutBefore = max(-before, 0), cutAfter = max(-after, 0)
    var y = x
    if cutBefore + cutAfter > 0 {
        guard shapeCheck(cutBefore + cutAfter < x.shape[axis],
                         "UNet.Up: cannot crop \(cutBefore + cutAfter) of \(x.shape[axis]) along axis \(axis) of \(x.shape)")
        else { return .shapeFailure }
        y = y.narrowed(axis: axis, start: cutBefore, length: x.shape[axis] - cutBefore - cutAfter)
    }
    func zeros(_ n: Int) -> Tensor {
        var shape = y.shape
        shape[axis] = n
        return y.isMeta ? Tensor(metaShape: shape) : Tensor(zeros: shape)
    }
    let pieces = (before > 0 ? [zeros(before)] : []) + [y] + (after > 0 ? [zeros(after)] : [])
    return pieces.count == 1 ? y : Tensor.concatenate(pieces, axis: axis)
}
