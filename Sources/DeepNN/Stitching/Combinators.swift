import DeepCore

// Stitching combinators: wrap, join and adapt blocks so that one built for one layout or width
// fits a host built for another. Each is a thin module whose children keep their own names,
// so weights load and `replace(path:with:)` reaches inside.

/// Where a tensor keeps its channels, which decides how channel counts are projected.
public enum ChannelLayout {
    /// Images (N, C, H, W): channels on axis 1, projected by a 1×1 ``Conv2d``.
    case image
    /// Sequences (…, C): channels last, projected by a ``Linear``.
    case sequence

    /// The channel axis of a tensor of `rank` in this layout.
    func channelAxis(rank: Int) -> Int { self == .image ? 1 : rank - 1 }
}

/// A learned change of channel count: a 1×1 ``Conv2d`` for images, a ``Linear`` for sequences.
///
///     channelProjection(64, 128)                      // (N, 64, H, W) → (N, 128, H, W)
///     channelProjection(64, 128, layout: .sequence)   // (B, L, 64) → (B, L, 128)
/// - Parameters:
///   - inChannels: channels of the input.
///   - outChannels: channels of the output.
///   - layout: where the channels are.
///   - bias: whether the projection adds a bias.
public func channelProjection(_ inChannels: Int, _ outChannels: Int, layout: ChannelLayout = .image,
                              bias: Bool = true) -> Module {
    switch layout {
    case .image: return Conv2d(inChannels, outChannels, kernelSize: 1, bias: bias)
    case .sequence: return Linear(inChannels, outChannels, bias: bias)
    }
}

/// y = block(x) + shortcut(x): a residual connection around any block. The shortcut is the
/// identity, or `projection` when the block changes the shape (ResNet's `downsample`).
///
///     Residual(Sequential(Conv2d(64, 64, kernelSize: 3, padding: 1), ReLU()))
///     Residual(block, inChannels: 64, outChannels: 128)   // 1×1 conv shortcut 64 → 128
///
/// Children: `block` (replaceable by path) and `projection` when there is one.
/// Shape: x → block(x), which must have the shortcut's shape.
public final class Residual: Module {
    /// The residual branch.
    @Child public var block: Module
    /// The shortcut's projection, or nil for the identity.
    public let projection: Module?

    /// Wraps `block` with an identity shortcut, or with `projection` on the shortcut.
    public init(_ block: Module, projection: Module? = nil) {
        self.projection = projection
        _block = Child(wrappedValue: block)
        super.init()
    }

    /// Wraps a block that maps `inChannels` to `outChannels`; the shortcut gets a
    /// ``channelProjection(_:_:layout:bias:)`` when the two differ.
    public convenience init(_ block: Module, inChannels: Int, outChannels: Int, layout: ChannelLayout = .image) {
        self.init(block, projection: inChannels == outChannels ? nil : channelProjection(inChannels, outChannels, layout: layout))
    }

    /// x → block(x) + shortcut(x).
    public override func forward(_ x: Tensor) -> Tensor {
        let y = block(x)
        let shortcut = projection.map { $0(x) } ?? x
        guard shapeCheck(y.shape == shortcut.shape,
                         "Residual: block output of shape \(y.shape) does not match the shortcut's \(shortcut.shape) "
                         + "(input \(x.shape)); give a projection or Residual(_:inChannels:outChannels:)")
        else { return .shapeFailure }
        return y + shortcut
    }
}

/// Runs several branches on the same input and merges their outputs: concatenated along the
/// channel axis (Inception), summed, or averaged.
///
///     Parallel([Conv2d(64, 32, kernelSize: 1), Conv2d(64, 32, kernelSize: 3, padding: 1)])   // → 64 channels
///     Parallel([blockA, blockB], merge: .sum)
///
/// Children: `branches.0`, `branches.1`, … (replaceable by path).
/// Shape: x → concatenation along `axis` (default 1, the channels of (N, C, H, W)), or the
/// common shape of the branches' outputs for `.sum` and `.mean`.
public final class Parallel: Module {
    /// How the branches' outputs are combined.
    public enum Merge {
        /// Joined along the merge axis; the outputs must agree on every other axis.
        case concat
        /// Added; the outputs must have one shape.
        case sum
        /// Averaged; the outputs must have one shape.
        case mean
    }

    /// The branches, in merge order.
    public let branches: ModuleList
    /// How outputs are combined.
    public let merge: Merge
    /// The axis of `.concat` (negative counts from the end).
    public let axis: Int

    /// Creates the block from `branches`.
    public init(_ branches: [Module], merge: Merge = .concat, axis: Int = 1) {
        require(!branches.isEmpty, "Parallel: needs at least one branch")
        self.branches = ModuleList(branches)
        self.merge = merge
        self.axis = axis
        super.init()
    }

    /// Creates the block from `branches`.
    public convenience init(_ branches: Module..., merge: Merge = .concat, axis: Int = 1) {
        self.init(branches, merge: merge, axis: axis)
    }

    /// x → merge(branch₀(x), branch₁(x), …).
    public override func forward(_ x: Tensor) -> Tensor {
        let outputs = branches.modules.map { $0(x) }
        if merge == .concat { return Tensor.concatenate(outputs, axis: axis) }
        let shape = outputs[0].shape
        guard shapeCheck(outputs.allSatisfy { $0.shape == shape },
                         "Parallel: branch outputs of shapes \(outputs.map(\.shape)) cannot be \(merge == .sum ? "summed" : "averaged") (they differ)")
        else { return .shapeFailure }
        let total = outputs.dropFirst().reduce(outputs[0]) { $0 + $1 }
        return merge == .sum ? total : total / Float(outputs.count)
    }
}

/// Fits a block whose channel counts differ from its host's: a projection in (host → block
/// channels) and out (block → host channels), each only when the counts differ.
///
///     // An SE block built for 32 channels inside a 64-channel stage.
///     Adapt(SqueezeExcitation(channels: 32), inChannels: 64, outChannels: 64, blockChannels: 32)
///     // A sequence block of width 96 on (B, L, 64) tokens; its widths are read from its layers.
///     Adapt(mlp, inChannels: 64, outChannels: 64, layout: .sequence)
///
/// Without `blockInChannels`/`blockOutChannels` the block's widths are read from its first and
/// last layer with parameters (Conv, Linear or normalisation layers, in declaration order); a
/// block whose output width then differs is reported when it runs.
///
/// Children: `proj_in`, `block` (replaceable by path), `proj_out`.
/// Shape: (N, inChannels, H, W) → (N, outChannels, H', W') for images, (…, inChannels) →
/// (…, outChannels) for sequences.
public final class Adapt: Module {
    /// Host → block channels, or nil when they agree.
    public let projIn: Module?
    /// The adapted block.
    @Child public var block: Module
    /// Block → host channels, or nil when they agree.
    public let projOut: Module?
    /// Where the channels are.
    public let layout: ChannelLayout
    /// Channels the block takes and gives.
    public let blockInChannels: Int, blockOutChannels: Int

    /// Wraps `block` for a host with `inChannels` in and `outChannels` out.
    /// - Parameters:
    ///   - blockInChannels: the block's input channels; read from its first layer when nil.
    ///   - blockOutChannels: the block's output channels; read from its last layer when nil.
    ///   - layout: where the channels are (1×1 convolutions for images, Linear for sequences).
    public init(_ block: Module, inChannels: Int, outChannels: Int, blockInChannels: Int? = nil,
                blockOutChannels: Int? = nil, layout: ChannelLayout = .image) {
        let widths = Adapt.layerWidths(of: block)
        guard let bin = blockInChannels ?? widths.first?.in, let bout = blockOutChannels ?? widths.last?.out else {
            ShapeErrors.stop("Adapt: cannot read the channels of \(block.typeName) from its layers; pass blockInChannels and blockOutChannels")
        }
        projIn = inChannels == bin ? nil : channelProjection(inChannels, bin, layout: layout)
        projOut = bout == outChannels ? nil : channelProjection(bout, outChannels, layout: layout)
        (self.layout, self.blockInChannels, self.blockOutChannels) = (layout, bin, bout)
        _block = Child(wrappedValue: block)
        super.init()
    }

    /// Wraps a block that keeps `blockChannels` channels.
    public convenience init(_ block: Module, inChannels: Int, outChannels: Int, blockChannels: Int,
                            layout: ChannelLayout = .image) {
        self.init(block, inChannels: inChannels, outChannels: outChannels, blockInChannels: blockChannels,
                  blockOutChannels: blockChannels, layout: layout)
    }

    /// x → proj_out(block(proj_in(x))).
    public override func forward(_ x: Tensor) -> Tensor {
        let y = block(projIn.map { $0(x) } ?? x)
        let axis = layout.channelAxis(rank: y.rank)
        guard shapeCheck(y.rank >= 2 && y.shape[axis] == blockOutChannels,
                         "Adapt: \(block.typeName) gave output of shape \(y.shape), expected \(blockOutChannels) channels on axis \(axis); pass blockOutChannels")
        else { return .shapeFailure }
        return projOut.map { $0(y) } ?? y
    }

    /// (input, output) widths of the layers with parameters in `block`, in declaration order.
    static func layerWidths(of block: Module) -> [(in: Int, out: Int)] {
        block.namedModules().compactMap { _, m in
            switch m {
            case let c as Conv2d: return (c.weight.shape[1] * c.groups, c.weight.shape[0])
            case let c as Conv1d: return (c.weight.shape[1] * c.groups, c.weight.shape[0])
            case let l as Linear: return (l.weight.shape[1], l.weight.shape[0])
            case let n as BatchNorm: return (n.runningMean.count, n.runningMean.count)
            case let n as GroupNorm: return n.weight.map { ($0.count, $0.count) }
            case let n as LayerNorm: return n.weight.flatMap { $0.rank == 1 ? ($0.count, $0.count) : nil }
            default: return nil
            }
        }
    }
}

/// Turns an image into a sequence of pixel tokens: (B, C, H, W) → (B, H·W, C), row-major over
/// the pixels (einops `b c h w -> b (h w) c`), for sequence blocks (attention, Mamba, MoE).
public final class ImageToSequence: Module {
    /// Creates the adapter.
    public override init() { super.init() }

    /// (B, C, H, W) → (B, H·W, C).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 4, "ImageToSequence: input of shape \(x.shape) should be (B, C, H, W)")
        else { return .shapeFailure }
        return pixelTokens(x)
    }
}

/// (B, C, H, W) → (B, H·W, C), a view.
private func pixelTokens(_ x: Tensor) -> Tensor { x.flattened(from: 2).transposed(1, 2) }

/// (B, H·W, C) → (B, C, H, W).
private func pixelImage(_ tokens: Tensor, height: Int, width: Int) -> Tensor {
    tokens.transposed(1, 2).reshaped([tokens.shape[0], tokens.shape[2], height, width])
}

/// Turns a sequence of pixel tokens back into an image: (B, H·W, C) → (B, C, H, W), the
/// inverse of ``ImageToSequence``.
public final class SequenceToImage: Module {
    /// Image height and width; a square image is assumed when nil.
    public let height: Int?, width: Int?

    /// Creates the adapter for `height` × `width` images (square, from the length, when nil).
    public init(height: Int? = nil, width: Int? = nil) {
        require((height == nil) == (width == nil), "SequenceToImage: give both height and width, or neither")
        (self.height, self.width) = (height, width)
        super.init()
    }

    /// (B, H·W, C) → (B, C, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 3, "SequenceToImage: input of shape \(x.shape) should be (B, L, C)") else { return .shapeFailure }
        let side = Int(Double(x.shape[1]).squareRoot().rounded())
        let (h, w) = (height ?? side, width ?? side)
        guard shapeCheck(h * w == x.shape[1],
                         "SequenceToImage: length \(x.shape[1]) of input \(x.shape) is not \(height == nil ? "a square" : "\(h)·\(w)")")
        else { return .shapeFailure }
        return pixelImage(x, height: h, width: w)
    }
}

/// Applies a sequence block (B, L, C) → (B, L, C') to an image by treating its pixels as tokens:
/// (B, C, H, W) → (B, H·W, C) → block → (B, C', H, W). Use it to put attention, Mamba or a
/// ``MoE`` layer inside a CNN.
///
/// Child: `block` (replaceable by path).
/// Shape: (B, C, H, W) → (B, C', H, W).
public final class SequenceBlock2d: Module {
    /// The sequence block.
    @Child public var block: Module

    /// Wraps `block`.
    public init(_ block: Module) {
        _block = Child(wrappedValue: block)
        super.init()
    }

    /// (B, C, H, W) → (B, C', H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        guard shapeCheck(x.rank == 4, "SequenceBlock2d: input of shape \(x.shape) should be (B, C, H, W)")
        else { return .shapeFailure }
        let (b, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let y = block(pixelTokens(x))
        guard shapeCheck(y.rank == 3 && y.shape[0] == b && y.shape[1] == h * w,
                         "SequenceBlock2d: \(block.typeName) turned tokens of shape \([b, h * w, x.shape[1]]) into \(y.shape), expected (\(b), \(h * w), C')")
        else { return .shapeFailure }
        return pixelImage(y, height: h, width: w)
    }
}
