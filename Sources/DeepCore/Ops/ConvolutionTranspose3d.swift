// 3-D transposed convolution: the adjoint of conv3d with the same weight. As in 2-D
// (Ops/ConvolutionTranspose.swift), its forward pass is conv3d's input gradient, its input
// gradient is conv3d's forward pass, and its weight gradient is conv3d's weight gradient with
// the roles of input and output swapped; all three run on one Convolution3dPlan whose "input" is
// the transposed convolution's output (`convolution3d` in Ops/Convolution3d.swift).

extension Convolution3dPlan {
    /// Plans the convolution whose adjoint is the transposed convolution of an input of shape
    /// `input` (N, C, D, H, W) with a weight of shape (C, C'/groups, kD, kH, kW). Throws a
    /// ``ShapeCheckFailure`` naming `op` and the shapes when they do not fit together.
    init(transposedOp op: String, input: [Int], weight: [Int], stride: [Int], padding: [Int], outputPadding: [Int],
         dilation: [Int], groups: Int) throws {
        try ShapeCheckFailure.require(input.count == 5, "\(op): x of shape \(input) should be (N, C, D, H, W)")
        try ShapeCheckFailure.require(weight.count == 5, "\(op): weight of shape \(weight) should be (C, C'/groups, kD, kH, kW)")
        try Self.checkWindow(op: op, stride: stride, padding: padding, dilation: dilation, groups: groups)
        try ShapeCheckFailure.require(outputPadding.count == 3 && (0..<3).allSatisfy {
            outputPadding[$0] >= 0 && (outputPadding[$0] < stride[$0] || outputPadding[$0] < dilation[$0])
        }, "\(op): outputPadding \(outputPadding) must have 3 entries, each smaller than stride \(stride) or dilation \(dilation)")
        let channels = input[1]
        try ShapeCheckFailure.require(weight[0] == channels, "\(op): weight \(weight) takes \(weight[0]) input channels, x \(input) has \(channels)")
        try ShapeCheckFailure.require(channels % groups == 0, "\(op): input channels \(channels) of x \(input) are not divisible by groups \(groups)")
        let out = (0..<3).map { (axis: Int) -> Int in
            let span = dilation[axis] * (weight[2 + axis] - 1) + outputPadding[axis] + 1
            return (input[2 + axis] - 1) * stride[axis] - 2 * padding[axis] + span
        }
        try ShapeCheckFailure.require(out.allSatisfy { $0 > 0 },
            "\(op): output size \(out) is empty for x \(input), weight \(weight), stride \(stride), padding \(padding)")
        self.init(batch: input[0], groups: groups,
                  geometry: VolumeGeometry(channels: weight[1], input: out, kernel: Array(weight[2...]), stride: stride,
                                           padding: padding, dilation: dilation, output: Array(input[2...])),
                  outputChannelsPerGroup: channels / groups)
    }
}

/// 3-D transposed convolution (PyTorch's `conv_transpose3d`): the adjoint of `conv3d` with the
/// same weight, the learned upsampling of 3-D U-Nets.
///
///     convTranspose3d(x, w, stride: [2, 2, 2])   // (N, C, D, H, W) ⊛ᵀ (C, C'/g, kD, kH, kW) → (N, C', D', H', W')
///
/// D' = (D − 1)·stride[0] − 2·padding[0] + dilation[0]·(kD − 1) + outputPadding[0] + 1, and
/// likewise H', W'.
/// - Parameters:
///   - x: (N, C, D, H, W).
///   - weight: (C, C'/groups, kD, kH, kW), as PyTorch lays it out.
///   - bias: (C') or nil.
///   - stride, padding, dilation: those of the convolution this is the adjoint of, (depth,
///     height, width).
///   - outputPadding: extra slices, rows and columns on the far side of the output, to pick
///     among the output sizes that a strided convolution maps to the same size; each smaller
///     than the stride or the dilation.
///   - groups: C and C' split into independent groups.
/// - Returns: (N, C', D', H', W').
public func convTranspose3d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1, 1],
                            padding: [Int] = [0, 0, 0], outputPadding: [Int] = [0, 0, 0], dilation: [Int] = [1, 1, 1],
                            groups: Int = 1) -> Tensor {
    let op = "convTranspose3d"
    guard let plan = ShapeCheckFailure.checked({
        try Convolution3dPlan(transposedOp: op, input: x.shape, weight: weight.shape, stride: stride, padding: padding,
                              outputPadding: outputPadding, dilation: dilation, groups: groups)
    }) else { return .shapeFailure }
    return convolution3d(op, x, weight, bias: bias, plan: plan, transposed: true,
                         export: .convolution("ConvTranspose", stride: stride, padding: padding, dilation: dilation,
                                              groups: groups, outputPadding: outputPadding))
}

/// 3-D transposed convolution with the same stride, padding, output padding and dilation along
/// depth, height and width (see the overload taking `[Int]` triples).
///
///     convTranspose3d(x, w, stride: 2)   // (N, C, D, H, W) → (N, C', 2D, 2H, 2W) for a 2×2×2 kernel
@_disfavoredOverload
public func convTranspose3d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                            outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Tensor {
    convTranspose3d(x, weight, bias: bias, stride: [stride, stride, stride], padding: [padding, padding, padding],
                    outputPadding: [outputPadding, outputPadding, outputPadding],
                    dilation: [dilation, dilation, dilation], groups: groups)
}
