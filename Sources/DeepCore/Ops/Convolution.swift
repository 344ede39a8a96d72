// conv2d and conv1d: the tensor ops over ConvolutionPlan (Kernels/ConvolutionPlan.swift), which
// chooses the algorithm and runs it on buffers. conv2d first drops the kernel taps that only ever read
// padding (a 3×3 kernel on ResNet's 1×1 last stage): they contribute nothing and get zero
// gradient; the plan keeps the window of taps left, and the op copies it out of the weight.

extension ConvolutionPlan {
    /// Plans a convolution of an input of shape `input`, (N, C, H, W) or (N, C, L), with a weight
    /// of shape (C', C/groups, kH, kW) or (C', C/groups, k); `stride`, `padding` and `dilation`
    /// have one entry per spatial axis. With `conv2dBias` (conv2d's: whether it has a bias) the
    /// plan drops the taps that only read padding and may run one window over the whole image as
    /// a GEMM. Throws a ``ShapeCheckFailure`` naming `op` and the shapes when they do not fit
    /// together.
    init(op: String, input: [Int], weight: [Int], stride: [Int], padding: [Int], dilation: [Int], groups: Int,
         conv2dBias: Bool? = nil) throws {
        let axes = input.count - 2
        try ShapeCheckFailure.require(axes == 1 || axes == 2, "\(op): x of shape \(input) should have rank 3 (N, C, L) or 4 (N, C, H, W)")
        try ShapeCheckFailure.require(weight.count == input.count,
            "\(op): weight of shape \(weight) should have rank \(input.count) like x of shape \(input)")
        try ShapeCheckFailure.require(stride.count == axes && padding.count == axes && dilation.count == axes,
            "\(op): stride \(stride), padding \(padding) and dilation \(dilation) need \(axes) entries each")
        try ShapeCheckFailure.require(stride.allSatisfy { $0 > 0 } && dilation.allSatisfy { $0 > 0 } && padding.allSatisfy { $0 >= 0 },
            "\(op): stride \(stride) and dilation \(dilation) must be positive and padding \(padding) non-negative")
        try ShapeCheckFailure.require(groups > 0, "\(op): groups \(groups) must be positive")
        let (channels, outChannels) = (input[1], weight[0])
        try ShapeCheckFailure.require(channels % groups == 0,
            "\(op): input channels \(channels) of x \(input) are not divisible by groups \(groups)")
        try ShapeCheckFailure.require(outChannels % groups == 0,
            "\(op): output channels \(outChannels) of weight \(weight) are not divisible by groups \(groups)")
        try ShapeCheckFailure.require(weight[1] * groups == channels,
            "\(op): weight \(weight) takes \(weight[1]) channels per group × \(groups) groups = \(weight[1] * groups) input channels, x \(input) has \(channels)")
        // A 1-D convolution is a 2-D one over a height of 1.
        func spatial(_ values: [Int], _ unit: Int) -> [Int] { axes == 1 ? [unit] + values : values }
        let size = spatial(Array(input[2...]), 1), kernel = spatial(Array(weight[2...]), 1)
        let s = spatial(stride, 1), p = spatial(padding, 0), d = spatial(dilation, 1)
        let out = (0..<2).map { ConvGeometry.outputSize(input: size[$0], kernel: kernel[$0], stride: s[$0], padding: p[$0], dilation: d[$0]) }
        try ShapeCheckFailure.require(out.allSatisfy { $0 > 0 },
            "\(op): kernel \(Array(weight[2...])) with dilation \(dilation) is larger than the input \(Array(input[2...])) padded by \(padding) (x \(input), weight \(weight))")
        var geometry = ConvGeometry(channels: channels / groups, inputHeight: size[0], inputWidth: size[1],
                                    kernelHeight: kernel[0], kernelWidth: kernel[1],
                                    strideHeight: s[0], strideWidth: s[1], paddingHeight: p[0], paddingWidth: p[1],
                                    dilationHeight: d[0], dilationWidth: d[1], outputHeight: out[0], outputWidth: out[1])
        let window = conv2dBias == nil ? nil : KernelWindow(reachableIn: geometry)
        if let window { geometry = window.applied(to: geometry) }
        self.init(batch: input[0], groups: groups, geometry: geometry, outputChannelsPerGroup: outChannels / groups,
                  window: window, wholeImageBias: conv2dBias)
    }
}

/// A shape or setting that does not fit an op; its description names the op and the shapes.
/// Ops check their arguments in throwing functions, so that tests can read the messages, and
/// stop with the message: a mismatch is a programming error.
struct ShapeCheckFailure: Error, CustomStringConvertible {
    let description: String

    /// Throws `message` unless `condition` holds.
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ShapeCheckFailure(description: message()) }
    }

    /// The value of `body`, or nil after reporting its failure through ``shapeCheck(_:_:file:line:)``
    /// (a stop with the message and module path, or a recorded failure in a shape-only run).
    static func checked<T>(_ body: () throws -> T) -> T? {
        do { return try body() } catch {
            shapeCheck(false, "\(error)")
            return nil
        }
    }
}

extension Tensor {
    /// The first element of a contiguous tensor (valid while the tensor lives).
    var basePointer: UnsafeMutablePointer<Float> { storage.pointer + offset }

    /// A contiguous tensor of `shape` whose elements are not initialised yet.
    static func uninitialized(_ shape: [Int]) -> Tensor {
        Tensor(storage: TensorStorage(uninitializedCount: Shape.count(shape)), shape: shape)
    }

    /// Per-channel sums of an (N, C, ...) tensor, a (C) tensor: the gradient of a bias added to
    /// every position of every image.
    func channelSums() -> Tensor {
        guard isContiguous else { return sum(axes: [0] + Array(2..<rank)) }
        let c = self, channels = shape[1], plane = count / Swift.max(1, shape[0] * channels)
        return Tensor.make(shape: [channels]) { out in
            ChannelPlanes.sums(c.basePointer, images: shape[0], channels: channels, plane: plane, into: out.baseAddress!)
        }
    }
}

extension StridedImages {
    /// The elements of a 4-D tensor, which must stay alive while they are read.
    init(_ t: Tensor) {
        require(t.rank == 4, "StridedImages: tensor of shape \(t.shape) is not 4-D")
        self.init(base: UnsafePointer(t.basePointer), image: t.strides[0], channel: t.strides[1], row: t.strides[2],
                  column: t.strides[3])
    }
}

/// What follows a convolution in its output pass (``conv2d(_:_:bias:stride:padding:dilation:groups:weightCache:residual:activation:)``).
public enum ConvolutionActivation: Sendable {
    /// The output as computed.
    case none
    /// max(·, 0), PyTorch's `relu`.
    case relu
}

/// Runs `plan` on the 4-D (N, C, H, W) input and (C', C/g, kH, kW) weight as the op `op`, then
/// adds `residual` (the output's shape) and applies `activation`: in the kernel's output pass when
/// no gradient is recorded and no export traces, else as the ops `+` and `relu` afterwards.
private func convolution(_ x: Tensor, _ weight: Tensor, bias: Tensor?, plan: ConvolutionPlan, op: String,
                         weightCache: ConvolutionWeightCache? = nil, residual: Tensor? = nil, activation: ConvolutionActivation = .none,
                         export: @autoclosure () -> OpExport?) -> Tensor {
    if let bias {
        guard shapeCheck(bias.shape == [plan.outputChannels],
                         "\(op): bias of shape \(bias.shape) for \(plan.outputChannels) output channels (weight \(weight.shape))")
        else { return .shapeFailure }
    }
    let g = plan.geometry
    let outputShape = [plan.batch, plan.outputChannels, g.outputHeight, g.outputWidth]
    if let residual {
        guard shapeCheck(residual.shape == outputShape,
                         "\(op): residual of shape \(residual.shape) is not the output's shape \(outputShape) (x \(x.shape), weight \(weight.shape))")
        else { return .shapeFailure }
    }
    let fusing = residual != nil || activation != .none
    let recordsGradient = isGradEnabled && [x, weight, bias, residual].contains { $0?.requiresGrad ?? false }
    if fusing && (recordsGradient || ExportTrace.isRecording) {
        let y = convolution(x, weight, bias: bias, plan: plan, op: op, weightCache: weightCache, export: export())
        let sum = residual.map { y + $0 } ?? y
        return activation == .relu ? relu(sum) : sum
    }
    // The whole kernel counts, taps that only read padding included (as PyTorch counts).
    let flops = 2 * Shape.count(outputShape) * (weight.count / Swift.max(plan.outputChannels, 1))
        + Shape.count(outputShape) * ((residual == nil ? 0 : 1) + (activation == .none ? 0 : 1))
    let x = x.contiguous(), weight = weight.contiguous(), bias = bias?.contiguous(), residual = residual?.contiguous()
    let needsX = x.requiresGrad, needsWeight = weight.requiresGrad, needsBias = bias?.requiresGrad ?? false
    // Keep only what the pullback reads.
    let savedX = needsWeight ? x.detached() : nil
    let windowShape = [plan.outputChannels, g.channels, g.kernelHeight, g.kernelWidth]
    let (xShape, weightShape) = (x.shape, weight.shape)
    // A cache serves only calls that record no gradient to the weight: it keeps the window of
    // taps the plan computes with, or the plan's own transform of the whole kernel.
    let cache = needsWeight && isGradEnabled ? nil : weightCache
    let epilogueInputs = fusing ? [residual] : []
    return Tensor.op(op, inputs: [x, weight, bias] + epilogueInputs, shape: outputShape, flops: flops, export: export()) {
        // The weight the plan computes with: the window of taps it keeps, or the weight itself.
        let w = plan.window.map { window in
            let planes = windowShape[0] * windowShape[1]
            func gathered() -> TensorStorage {
                let out = TensorStorage(uninitializedCount: planes * g.kernelHeight * g.kernelWidth)
                window.gather(weight.basePointer, planes: planes, into: out.pointer)
                return out
            }
            let key = [1, window.rows.lowerBound, window.rows.upperBound, window.columns.lowerBound, window.columns.upperBound,
                       window.kernelHeight, window.kernelWidth, planes]
            return Tensor(storage: cache?.weights(for: key, gathered) ?? gathered(), shape: windowShape)
        } ?? weight
        let y = Tensor.uninitialized(outputShape)
        withExtendedLifetime((x, w, bias, residual)) {
            plan.forward(x: x.basePointer, weight: w.basePointer, bias: bias.map { UnsafePointer($0.basePointer) }, into: y.basePointer,
                         weightCache: plan.window == nil ? cache : nil,
                         epilogue: ConvolutionEpilogue(residual: residual.map { UnsafePointer($0.basePointer) }, clampsAtZero: activation == .relu))
        }
        return (y, needsX ? w.detached() : nil)
    } pullback: { grad, _, savedWeight in
        // A fused epilogue runs only where nothing records (see above).
        require(!fusing, "\(op): no gradient through a fused residual or activation")
        let dy = plan.readsStridedOutputGradient ? grad : grad.contiguous()
        let dx = needsX ? Tensor.uninitialized(xShape) : nil
        let dw = needsWeight ? Tensor.uninitialized(windowShape) : nil
        withExtendedLifetime((dy, savedX, savedWeight)) {
            plan.backward(outputGradient: StridedImages(dy), x: savedX.map { UnsafePointer($0.basePointer) },
                          weight: savedWeight.map { UnsafePointer($0.basePointer) },
                          inputGradient: dx?.basePointer, weightGradient: dw?.basePointer)
        }
        // The taps outside the window get zero gradient.
        let fullDw = dw.map { dw in
            plan.window.map { window in
                Tensor.make(shape: weightShape) { out in
                    window.scatter(dw.basePointer, planes: windowShape[0] * windowShape[1], into: out.baseAddress!)
                }
            } ?? dw
        }
        return [dx, fullDw, needsBias ? dy.channelSums() : nil]
    }
}

/// 2-D convolution of a batch of images (PyTorch's `conv2d`, a cross-correlation).
///
///     conv2d(x, w, bias: b, padding: [1, 1])   // (N, C, H, W) ⊛ (C', C/g, kH, kW) → (N, C', H', W')
///
/// H' = ⌊(H + 2·padding[0] − dilation[0]·(kH − 1) − 1) / stride[0]⌋ + 1, and likewise W'.
/// Runs as im2col and GEMM (a plain GEMM for 1×1 stride-1 kernels without padding, or for one
/// window over the whole image), Winograd F(4×4, 3×3) for 3×3 stride-1 kernels with enough
/// channels, or direct loops when groups have one input channel (depthwise); see
/// ``ConvolutionSettings``.
/// - Parameters:
///   - x: (N, C, H, W).
///   - weight: (C', C/groups, kH, kW).
///   - bias: (C'), added to every output position, or nil.
///   - stride: step of the window, (height, width).
///   - padding: zeros added on both sides, (height, width).
///   - dilation: spacing between kernel taps, (height, width).
///   - groups: the channels split into `groups` independent convolutions; C and C' must be
///     divisible by it. `groups == C` is a depthwise convolution.
///   - weightCache: where the weight, once transformed for its algorithm, is kept for the next
///     calls (inference with weights that no longer change); used only when no gradient to the
///     weight is recorded. Clear it after changing the weight.
///   - residual: (N, C', H', W') added to the output (a residual connection), or nil.
///   - activation: applied last, to the sum. With a residual or an activation the call is
///     `relu(conv2d(x, w, bias: b) + residual)` computed in the convolution's output pass (no
///     extra passes over memory, no intermediate tensors) when no gradient is recorded, else
///     as those ops one after another.
/// - Returns: (N, C', H', W').
public func conv2d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1], padding: [Int] = [0, 0],
                   dilation: [Int] = [1, 1], groups: Int = 1, weightCache: ConvolutionWeightCache? = nil,
                   residual: Tensor? = nil, activation: ConvolutionActivation = .none) -> Tensor {
    guard shapeCheck(x.rank == 4, "conv2d: x of shape \(x.shape) should be (N, C, H, W)") else { return .shapeFailure }
    guard let plan = ShapeCheckFailure.checked({
        try ConvolutionPlan(op: "conv2d", input: x.shape, weight: weight.shape, stride: stride,
                            padding: padding, dilation: dilation, groups: groups, conv2dBias: bias != nil)
    }) else { return .shapeFailure }
    return convolution(x, weight, bias: bias, plan: plan, op: "conv2d", weightCache: weightCache, residual: residual, activation: activation,
                       export: .convolution("Conv", stride: stride, padding: padding, dilation: dilation, groups: groups))
}

/// 2-D convolution with the same stride, padding and dilation along height and width (see the
/// overload taking `[Int]` pairs).
///
///     conv2d(x, w, padding: 1)   // (N, C, H, W) ⊛ (C', C/g, kH, kW) → (N, C', H', W')
@_disfavoredOverload
public func conv2d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                   dilation: Int = 1, groups: Int = 1) -> Tensor {
    conv2d(x, weight, bias: bias, stride: [stride, stride], padding: [padding, padding],
           dilation: [dilation, dilation], groups: groups)
}

/// 1-D convolution of a batch of sequences (PyTorch's `conv1d`).
///
///     conv1d(x, w, padding: 1)   // (N, C, L) ⊛ (C', C/g, k) → (N, C', L')
///
/// L' = ⌊(L + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1. Padding is symmetric; a causal
/// convolution (each output sees only the current and earlier positions, as in Mamba) pads by
/// `dilation·(k − 1)` and keeps the first L outputs:
///
///     conv1d(x, w, padding: k - 1, groups: C).narrowed(axis: 2, start: 0, length: L)
/// - Parameters:
///   - x: (N, C, L).
///   - weight: (C', C/groups, k).
///   - bias: (C') or nil.
///   - groups: `groups == C` is a depthwise convolution (direct loops, no GEMM).
/// - Returns: (N, C', L').
public func conv1d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                   dilation: Int = 1, groups: Int = 1) -> Tensor {
    guard shapeCheck(x.rank == 3, "conv1d: x of shape \(x.shape) should be (N, C, L)") else { return .shapeFailure }
    guard let plan = ShapeCheckFailure.checked({
        try ConvolutionPlan(op: "conv1d", input: x.shape, weight: weight.shape, stride: [stride],
                            padding: [padding], dilation: [dilation], groups: groups)
    }) else { return .shapeFailure }
    return convolution(x.unsqueezed(axis: 2), weight.unsqueezed(axis: 2), bias: bias, plan: plan, op: "conv1d",
                       export: .convolution("Conv", stride: [1, stride], padding: [0, padding], dilation: [1, dilation], groups: groups))
        .squeezed(axis: 2)
}

extension OpExport {
    /// An ONNX `Conv` or `ConvTranspose` node over (x, weight, bias) with PyTorch's symmetric
    /// `padding` per spatial axis (and `outputPadding` for the transposed one).
    static func convolution(_ opType: String, stride: [Int], padding: [Int], dilation: [Int], groups: Int,
                            outputPadding: [Int]? = nil) -> OpExport {
        var attributes: [String: Attribute] = ["strides": .ints(stride), "pads": .ints(padding + padding),
                                               "dilations": .ints(dilation), "group": .int(groups)]
        if let outputPadding { attributes["output_padding"] = .ints(outputPadding) }
        return OpExport(opType, attributes: attributes)
    }
}
