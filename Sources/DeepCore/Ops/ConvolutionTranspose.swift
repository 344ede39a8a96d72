// Transposed convolution: the adjoint of conv2d with the same weight. Its forward pass is
// conv2d's input gradient (GEMM, then col2im), its input gradient is conv2d's forward pass, and
// its weight gradient is conv2d's weight gradient with the roles of input and output swapped; all
// three run on one ConvolutionPlan whose "input" is the transposed convolution's output.

extension ConvolutionPlan {
    /// Plans the convolution whose adjoint is the transposed convolution of an input of shape
    /// `input` (N, C, H, W) with a weight of shape (C, C'/groups, kH, kW). Throws a
    /// ``ShapeCheckFailure`` naming `op` and the shapes when they do not fit together.
    init(transposedOp op: String, input: [Int], weight: [Int], stride: [Int], padding: [Int], outputPadding: [Int],
         dilation: [Int], groups: Int) throws {
        try ShapeCheckFailure.require(input.count == 4, "\(op): x of shape \(input) should be (N, C, H, W)")
        try ShapeCheckFailure.require(weight.count == 4, "\(op): weight of shape \(weight) should be (C, C'/groups, kH, kW)")
        try ShapeCheckFailure.require([stride, padding, outputPadding, dilation].allSatisfy { $0.count == 2 },
            "\(op): stride \(stride), padding \(padding), outputPadding \(outputPadding) and dilation \(dilation) need 2 entries each")
        try ShapeCheckFailure.require(stride.allSatisfy { $0 > 0 } && dilation.allSatisfy { $0 > 0 } && padding.allSatisfy { $0 >= 0 },
            "\(op): stride \(stride) and dilation \(dilation) must be positive and padding \(padding) non-negative")
        try ShapeCheckFailure.require((0..<2).allSatisfy { outputPadding[$0] >= 0 && (outputPadding[$0] < stride[$0] || outputPadding[$0] < dilation[$0]) },
            "\(op): outputPadding \(outputPadding) must be smaller than stride \(stride) or dilation \(dilation)")
        try ShapeCheckFailure.require(groups > 0, "\(op): groups \(groups) must be positive")
        let channels = input[1]
        try ShapeCheckFailure.require(weight[0] == channels, "\(op): weight \(weight) takes \(weight[0]) input channels, x \(input) has \(channels)")
        try ShapeCheckFailure.require(channels % groups == 0, "\(op): input channels \(channels) of x \(input) are not divisible by groups \(groups)")
        let out = (0..<2).map { (axis: Int) -> Int in
            let span = dilation[axis] * (weight[2 + axis] - 1) + outputPadding[axis] + 1
            return (input[2 + axis] - 1) * stride[axis] - 2 * padding[axis] + span
        }
        try ShapeCheckFailure.require(out.allSatisfy { $0 > 0 },
            "\(op): output size \(out) is empty for x \(input), weight \(weight), stride \(stride), padding \(padding)")
        self.init(batch: input[0], groups: groups,
                  geometry: ConvGeometry(channels: weight[1], inputHeight: out[0], inputWidth: out[1],
                                         kernelHeight: weight[2], kernelWidth: weight[3],
                                         strideHeight: stride[0], strideWidth: stride[1],
                                         paddingHeight: padding[0], paddingWidth: padding[1],
                                         dilationHeight: dilation[0], dilationWidth: dilation[1],
                                         outputHeight: input[2], outputWidth: input[3]),
                  outputChannelsPerGroup: channels / groups)
    }
}

/// 2-D transposed convolution (PyTorch's `conv_transpose2d`): the adjoint of `conv2d` with the
/// same weight, the usual learned upsampling.
///
///     convTranspose2d(x, w, stride: [2, 2])   // (N, C, H, W) ⊛ᵀ (C, C'/g, kH, kW) → (N, C', H', W')
///
/// H' = (H − 1)·stride[0] − 2·padding[0] + dilation[0]·(kH − 1) + outputPadding[0] + 1, and
/// likewise W'.
/// - Parameters:
///   - x: (N, C, H, W).
///   - weight: (C, C'/groups, kH, kW), as PyTorch lays it out.
///   - bias: (C') or nil.
///   - stride, padding, dilation: those of the convolution this is the adjoint of, (height, width).
///   - outputPadding: extra rows and columns on the bottom and right of the output, to pick
///     among the output sizes that a strided convolution maps to the same H; each smaller
///     than the stride or the dilation.
///   - groups: C and C' split into independent groups.
/// - Returns: (N, C', H', W').
public func convTranspose2d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1],
                            padding: [Int] = [0, 0], outputPadding: [Int] = [0, 0], dilation: [Int] = [1, 1],
                            groups: Int = 1) -> Tensor {
    let op = "convTranspose2d"
    guard let plan = ShapeCheckFailure.checked({
        try ConvolutionPlan(transposedOp: op, input: x.shape, weight: weight.shape, stride: stride, padding: padding,
                            outputPadding: outputPadding, dilation: dilation, groups: groups)
    }) else { return .shapeFailure }
    let g = plan.geometry, channels = plan.inputChannels
    if let bias {
        guard shapeCheck(bias.shape == [channels], "\(op): bias of shape \(bias.shape) for \(channels) output channels (weight \(weight.shape))")
        else { return .shapeFailure }
    }
    let outputShape = [plan.batch, channels, g.inputHeight, g.inputWidth]
    let flops = 2 * x.count * (weight.count / Swift.max(x.shape[1], 1))
    let x = x.contiguous(), weight = weight.contiguous(), bias = bias?.contiguous()
    let needsX = x.requiresGrad, needsWeight = weight.requiresGrad, needsBias = bias?.requiresGrad ?? false
    // Keep only what the pullback reads.
    let savedX = needsWeight ? x.detached() : nil, savedWeight = needsX ? weight.detached() : nil
    let (xShape, weightShape) = (x.shape, weight.shape)
    return Tensor.op(op, inputs: [x, weight, bias], shape: outputShape, flops: flops,
                     export: .convolution("ConvTranspose", stride: stride, padding: padding, dilation: dilation,
                                          groups: groups, outputPadding: outputPadding)) {
        let y = Tensor.uninitialized(outputShape)
        withExtendedLifetime((x, weight, bias)) {
            plan.backward(outputGradient: plan.outputImages(x.basePointer), x: nil, weight: weight.basePointer,
                          inputGradient: y.basePointer, weightGradient: nil)
            if let bias {
                ChannelPlanes.addBias(bias.basePointer, to: y.basePointer, images: plan.batch, channels: channels, plane: g.inputPlane)
            }
        }
        return y
    } pullback: { grad, _ in
        let dy = grad.contiguous()
        let dx = needsX ? Tensor.uninitialized(xShape) : nil
        let dw = needsWeight ? Tensor.uninitialized(weightShape) : nil
        withExtendedLifetime((dy, savedX, savedWeight)) {
            if let dx, let savedWeight {
                plan.forward(x: dy.basePointer, weight: savedWeight.basePointer, bias: nil, into: dx.basePointer)
            }
            if let dw, let savedX {
                plan.backward(outputGradient: plan.outputImages(savedX.basePointer), x: dy.basePointer, weight: nil,
                              inputGradient: nil, weightGradient: dw.basePointer)
            }
        }
        return [dx, dw, needsBias ? dy.channelSums() : nil]
    }
}

/// 2-D transposed convolution with the same stride, padding, output padding and dilation along
/// height and width (see the overload taking `[Int]` pairs).
///
///     convTranspose2d(x, w, stride: 2, padding: 1, outputPadding: 1)   // (N, C, H, W) → (N, C', 2H, 2W) for kH = kW = 3
@_disfavoredOverload
public func convTranspose2d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                            outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Tensor {
    convTranspose2d(x, weight, bias: bias, stride: [stride, stride], padding: [padding, padding],
                    outputPadding: [outputPadding, outputPadding], dilation: [dilation, dilation], groups: groups)
}
