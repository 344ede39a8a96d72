// conv3d: the tensor op over Convolution3dPlan (Kernels/Convolution3dPlan.swift), which runs it
// by lowering and GEMM on buffers; and the op body it shares with convTranspose3d.

extension Convolution3dPlan {
    /// Plans a convolution of an input of shape `input` (N, C, D, H, W) with a weight of shape
    /// (C', C/groups, kD, kH, kW); `stride`, `padding` and `dilation` have one entry per spatial
    /// axis. Throws a ``ShapeCheckFailure`` naming `op` and the shapes when they do not fit together.
    init(op: String, input: [Int], weight: [Int], stride: [Int], padding: [Int], dilation: [Int], groups: Int) throws {
        try ShapeCheckFailure.require(input.count == 5, "\(op): x of shape \(input) should be (N, C, D, H, W)")
        try ShapeCheckFailure.require(weight.count == 5, "\(op): weight of shape \(weight) should be (C', C/groups, kD, kH, kW)")
        try Self.checkWindow(op: op, stride: stride, padding: padding, dilation: dilation, groups: groups)
        let (channels, outChannels) = (input[1], weight[0])
        try ShapeCheckFailure.require(channels % groups == 0,
            "\(op): input channels \(channels) of x \(input) are not divisible by groups \(groups)")
        try ShapeCheckFailure.require(outChannels % groups == 0,
            "\(op): output channels \(outChannels) of weight \(weight) are not divisible by groups \(groups)")
        try ShapeCheckFailure.require(weight[1] * groups == channels,
            "\(op): weight \(weight) takes \(weight[1]) channels per group × \(groups) groups = \(weight[1] * groups) input channels, x \(input) has \(channels)")
        let size = Array(input[2...]), kernel = Array(weight[2...])
        let out = (0..<3).map {
            ConvGeometry.outputSize(input: size[$0], kernel: kernel[$0], stride: stride[$0], padding: padding[$0], dilation: dilation[$0])
        }
        try ShapeCheckFailure.require(out.allSatisfy { $0 > 0 },
            "\(op): kernel \(kernel) with dilation \(dilation) is larger than the input \(size) padded by \(padding) (x \(input), weight \(weight))")
        self.init(batch: input[0], groups: groups,
                  geometry: VolumeGeometry(channels: channels / groups, input: size, kernel: kernel, stride: stride,
                                           padding: padding, dilation: dilation, output: out),
                  outputChannelsPerGroup: outChannels / groups)
    }

    /// Checks the window settings of a 3-D convolution `op`: three entries each, stride and
    /// dilation positive, padding non-negative, groups positive.
    static func checkWindow(op: String, stride: [Int], padding: [Int], dilation: [Int], groups: Int) throws {
        try ShapeCheckFailure.require(stride.count == 3 && padding.count == 3 && dilation.count == 3,
            "\(op): stride \(stride), padding \(padding) and dilation \(dilation) need 3 entries each (depth, height, width)")
        try ShapeCheckFailure.require(stride.allSatisfy { $0 > 0 } && dilation.allSatisfy { $0 > 0 } && padding.allSatisfy { $0 >= 0 },
            "\(op): stride \(stride) and dilation \(dilation) must be positive and padding \(padding) non-negative")
        try ShapeCheckFailure.require(groups > 0, "\(op): groups \(groups) must be positive")
    }

    /// The output shape (N, C', D', H', W').
    var outputShape: [Int] {
        let g = geometry
        return [batch, outputChannels, g.outputDepth, g.plane.outputHeight, g.plane.outputWidth]
    }

    /// The input shape (N, C, D, H, W).
    var inputShape: [Int] {
        let g = geometry
        return [batch, inputChannels, g.inputDepth, g.plane.inputHeight, g.plane.inputWidth]
    }
}

/// 3-D convolution of a batch of volumes (PyTorch's `conv3d`, a cross-correlation).
///
///     conv3d(x, w, bias: b, padding: [1, 1, 1])   // (N, C, D, H, W) ⊛ (C', C/g, kD, kH, kW) → (N, C', D', H', W')
///
/// D' = ⌊(D + 2·padding[0] − dilation[0]·(kD − 1) − 1) / stride[0]⌋ + 1, and likewise H', W'.
/// Runs as lowering and GEMM: input depth slices lowered once and shared by the output slices that
/// read them (stride 1 along depth), or bands of output rows lowered by vol2col; a plain GEMM for
/// 1×1×1 stride-1 kernels without padding (see ``Convolution3dSettings``).
/// - Parameters:
///   - x: (N, C, D, H, W).
///   - weight: (C', C/groups, kD, kH, kW).
///   - bias: (C'), added to every output position, or nil.
///   - stride: step of the window, (depth, height, width).
///   - padding: zeros added on both sides, (depth, height, width).
///   - dilation: spacing between kernel taps, (depth, height, width).
///   - groups: the channels split into `groups` independent convolutions; C and C' must be
///     divisible by it. `groups == C` is a depthwise convolution.
/// - Returns: (N, C', D', H', W').
public func conv3d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1, 1], padding: [Int] = [0, 0, 0],
                   dilation: [Int] = [1, 1, 1], groups: Int = 1) -> Tensor {
    let op = "conv3d"
    guard let plan = ShapeCheckFailure.checked({
        try Convolution3dPlan(op: op, input: x.shape, weight: weight.shape, stride: stride, padding: padding,
                              dilation: dilation, groups: groups)
    }) else { return .shapeFailure }
    return convolution3d(op, x, weight, bias: bias, plan: plan, transposed: false,
                         export: .convolution("Conv", stride: stride, padding: padding, dilation: dilation, groups: groups))
}

/// Runs `plan` as the op `op` on x and the weight: its convolution (conv3d), or with
/// `transposed` its adjoint (convTranspose3d, whose output is the plan's input), whose forward is
/// the convolution's input gradient, input gradient the convolution's forward and weight
/// gradient the convolution's with x and the output gradient in swapped roles.
func convolution3d(_ op: String, _ x: Tensor, _ weight: Tensor, bias: Tensor?, plan: Convolution3dPlan, transposed: Bool,
                   export: @autoclosure () -> OpExport?) -> Tensor {
    let outputShape = transposed ? plan.inputShape : plan.outputShape, channels = outputShape[1]
    if let bias {
        guard shapeCheck(bias.shape == [channels], "\(op): bias of shape \(bias.shape) for \(channels) output channels (weight \(weight.shape))")
        else { return .shapeFailure }
    }
    let x = x.contiguous(), weight = weight.contiguous(), bias = bias?.contiguous()
    let needsX = x.requiresGrad, needsWeight = weight.requiresGrad, needsBias = bias?.requiresGrad ?? false
    // Keep only what the pullback reads.
    let savedX = needsWeight ? x.detached() : nil, savedWeight = needsX ? weight.detached() : nil
    let (xShape, weightShape) = (x.shape, weight.shape)
    // The whole kernel counts, taps that read padding included (as PyTorch counts).
    return Tensor.op(op, inputs: [x, weight, bias], shape: outputShape, flops: 2 * plan.work, export: export()) {
        let y = Tensor.uninitialized(outputShape)
        withExtendedLifetime((x, weight, bias)) {
            if transposed {
                plan.backward(outputGradient: x.basePointer, x: nil, weight: weight.basePointer, inputGradient: y.basePointer,
                              weightGradient: nil)
                if let bias {
                    ChannelPlanes.addBias(bias.basePointer, to: y.basePointer, images: plan.batch, channels: channels,
                                          plane: plan.geometry.inputVolume)
                }
            } else {
                plan.forward(x: x.basePointer, weight: weight.basePointer, bias: bias.map { UnsafePointer($0.basePointer) },
                             into: y.basePointer)
            }
        }
        return y
    } pullback: { grad, _ in
        let dy = grad.contiguous()
        let dx = needsX ? Tensor.uninitialized(xShape) : nil
        let dw = needsWeight ? Tensor.uninitialized(weightShape) : nil
        withExtendedLifetime((dy, savedX, savedWeight)) {
            if !transposed {
                plan.backward(outputGradient: dy.basePointer, x: savedX.map { UnsafePointer($0.basePointer) },
                              weight: savedWeight.map { UnsafePointer($0.basePointer) },
                              inputGradient: dx?.basePointer, weightGradient: dw?.basePointer)
                return
            }
            if let dx, let savedWeight {
                plan.forward(x: dy.basePointer, weight: savedWeight.basePointer, bias: nil, into: dx.basePointer)
            }
            if let dw, let savedX {
                plan.backward(outputGradient: savedX.basePointer, x: dy.basePointer, weight: nil,
                              inputGradient: nil, weightGradient: dw.basePointer)
            }
        }
        return [dx, dw, needsBias ? dy.channelSums() : nil]
    }
}

/// 3-D convolution with the same stride, padding and dilation along depth, height and width (see
/// the overload taking `[Int]` triples).
///
///     conv3d(x, w, padding: 1)   // (N, C, D, H, W) ⊛ (C', C/g, kD, kH, kW) → (N, C', D', H', W')
@_disfavoredOverload
public func conv3d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                   dilation: Int = 1, groups: Int = 1) -> Tensor {
    conv3d(x, weight, bias: bias, stride: [stride, stride, stride], padding: [padding, padding, padding],
           dilation: [dilation, dilation, dilation], groups: groups)
}
