// PyTorch's `torch.nn.functional` spellings, declared unavailable so that a user who types them
// gets the compiler's fix-it to this library's function. Nothing here runs. The labels are the
// library's, except where PyTorch users pass an argument by position (`layer_norm(x, [D])`,
// `max_pool2d(x, 2)`): the fix-it then inserts the label.
//
//   F.cross_entropy, F.nll_loss           crossEntropy, nllLoss
//   F.mse_loss, F.l1_loss, F.smooth_l1_loss  mseLoss, l1Loss, smoothL1Loss
//   F.binary_cross_entropy_with_logits    binaryCrossEntropyWithLogits
//   F.kl_div                              klDivergence
//   F.one_hot(t, num_classes)             oneHot(_:count:)
//   F.layer_norm, F.rms_norm              layerNorm(_:normalizedShape:…), rmsNorm
//   F.group_norm, F.batch_norm            groupNorm(_:groups:…), batchNorm
//   F.max_pool2d, F.avg_pool2d            maxPool2d(_:kernelSize:…), avgPool2d
//   F.max_pool3d, F.avg_pool3d            maxPool3d(_:kernelSize:…), avgPool3d
//   F.adaptive_avg_pool2d / _max_         adaptiveAvgPool2d(_:outputSize:), adaptiveMaxPool2d
//   F.adaptive_avg_pool3d / _max_         adaptiveAvgPool3d(_:outputSize:), adaptiveMaxPool3d
//   F.conv_transpose2d / 3d               convTranspose2d, convTranspose3d
//   F.scaled_dot_product_attention        scaledDotProductAttention
//   F.softmax(x, dim), F.log_softmax      softmax(_:axis:), logSoftmax(_:axis:)
//   F.leaky_relu(x, slope)                leakyRelu(_:negativeSlope:)
//   F.relu, F.gelu, F.silu, F.sigmoid, F.tanh, F.softplus, F.linear, F.conv2d, F.conv3d, F.embedding,
//   F.interpolate, F.dropout              the same names

/// `F.cross_entropy(input, target)` with class ids.
@available(*, unavailable, renamed: "crossEntropy(_:_:weight:ignoreIndex:labelSmoothing:reduction:)")
public func cross_entropy(_ input: Tensor, _ target: [Int], weight: Tensor? = nil, ignoreIndex: Int = -100,
                          labelSmoothing: Float = 0, reduction: LossReduction = .mean) -> Tensor { fatalError() }

/// `F.cross_entropy(input, target)` with class ids in a tensor.
@available(*, unavailable, renamed: "crossEntropy(_:_:weight:ignoreIndex:labelSmoothing:reduction:)")
public func cross_entropy(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil, ignoreIndex: Int = -100,
                          labelSmoothing: Float = 0, reduction: LossReduction = .mean) -> Tensor { fatalError() }

/// `F.nll_loss(input, target)`.
@available(*, unavailable, renamed: "nllLoss(_:_:weight:ignoreIndex:reduction:)")
public func nll_loss(_ input: Tensor, _ target: [Int], weight: Tensor? = nil, ignoreIndex: Int = -100,
                     reduction: LossReduction = .mean) -> Tensor { fatalError() }

/// `F.mse_loss(input, target)`.
@available(*, unavailable, renamed: "mseLoss(_:_:reduction:)")
public func mse_loss(_ input: Tensor, _ target: Tensor, reduction: LossReduction = .mean) -> Tensor { fatalError() }

/// `F.l1_loss(input, target)`.
@available(*, unavailable, renamed: "l1Loss(_:_:reduction:)")
public func l1_loss(_ input: Tensor, _ target: Tensor, reduction: LossReduction = .mean) -> Tensor { fatalError() }

/// `F.smooth_l1_loss(input, target, beta=…)`.
@available(*, unavailable, renamed: "smoothL1Loss(_:_:beta:reduction:)")
public func smooth_l1_loss(_ input: Tensor, _ target: Tensor, beta: Float = 1,
                           reduction: LossReduction = .mean) -> Tensor { fatalError() }

/// `F.binary_cross_entropy_with_logits(input, target)`.
@available(*, unavailable, renamed: "binaryCrossEntropyWithLogits(_:_:weight:posWeight:reduction:)")
public func binary_cross_entropy_with_logits(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil,
                                             posWeight: Tensor? = nil, reduction: LossReduction = .mean) -> Tensor {
    fatalError()
}

/// `F.kl_div(input, target)`.
@available(*, unavailable, renamed: "klDivergence(_:_:reduction:logTarget:)")
public func kl_div(_ input: Tensor, _ target: Tensor, reduction: KLReduction = .batchMean,
                   logTarget: Bool = false) -> Tensor { fatalError() }

/// `F.one_hot(tensor, num_classes)`.
@available(*, unavailable, renamed: "oneHot(_:count:)")
public func one_hot(_ classes: [Int], _ numClasses: Int) -> Tensor { fatalError() }

/// `F.one_hot(tensor, num_classes=…)`.
@available(*, unavailable, renamed: "oneHot(_:count:)")
public func one_hot(_ classes: [Int], numClasses: Int) -> Tensor { fatalError() }

/// `F.layer_norm(input, normalized_shape, weight, bias, eps)`.
@available(*, unavailable, renamed: "layerNorm(_:normalizedShape:weight:bias:eps:)")
public func layer_norm(_ input: Tensor, _ normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil,
                       eps: Float = 1e-5) -> Tensor { fatalError() }

/// `F.rms_norm(input, normalized_shape, weight, eps)`.
@available(*, unavailable, renamed: "rmsNorm(_:normalizedShape:weight:eps:)")
public func rms_norm(_ input: Tensor, _ normalizedShape: [Int], weight: Tensor? = nil, eps: Float? = nil) -> Tensor {
    fatalError()
}

/// `F.group_norm(input, num_groups, weight, bias, eps)`.
@available(*, unavailable, renamed: "groupNorm(_:groups:weight:bias:eps:)")
public func group_norm(_ input: Tensor, _ numGroups: Int, weight: Tensor? = nil, bias: Tensor? = nil,
                       eps: Float = 1e-5) -> Tensor { fatalError() }

/// `F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)`.
@available(*, unavailable, renamed: "batchNorm(_:runningMean:runningVar:weight:bias:training:momentum:eps:followedByReLU:)")
public func batch_norm(_ input: Tensor, _ runningMean: Tensor?, _ runningVar: Tensor?, weight: Tensor? = nil,
                       bias: Tensor? = nil, training: Bool = false, momentum: Float = 0.1, eps: Float = 1e-5) -> Tensor {
    fatalError()
}

/// `F.max_pool2d(input, kernel_size, …)`.
@available(*, unavailable, renamed: "maxPool2d(_:kernelSize:stride:padding:dilation:ceilMode:)")
public func max_pool2d(_ input: Tensor, _ kernelSize: Int, stride: Int? = nil, padding: Int = 0, dilation: Int = 1,
                       ceilMode: Bool = false) -> Tensor { fatalError() }

/// `F.max_pool2d(input, (kh, kw), …)`.
@available(*, unavailable, renamed: "maxPool2d(_:kernelSize:stride:padding:dilation:ceilMode:)")
public func max_pool2d(_ input: Tensor, _ kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0],
                       dilation: [Int] = [1, 1], ceilMode: Bool = false) -> Tensor { fatalError() }

/// `F.avg_pool2d(input, kernel_size, …)`.
@available(*, unavailable, renamed: "avgPool2d(_:kernelSize:stride:padding:ceilMode:countIncludePad:divisorOverride:)")
public func avg_pool2d(_ input: Tensor, _ kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false,
                       countIncludePad: Bool = true, divisorOverride: Int? = nil) -> Tensor { fatalError() }

/// `F.avg_pool2d(input, (kh, kw), …)`.
@available(*, unavailable, renamed: "avgPool2d(_:kernelSize:stride:padding:ceilMode:countIncludePad:divisorOverride:)")
public func avg_pool2d(_ input: Tensor, _ kernelSize: [Int], stride: [Int]? = nil, padding: [Int] = [0, 0],
                       ceilMode: Bool = false, countIncludePad: Bool = true, divisorOverride: Int? = nil) -> Tensor {
    fatalError()
}

/// `F.adaptive_avg_pool2d(input, output_size)`.
@available(*, unavailable, renamed: "adaptiveAvgPool2d(_:outputSize:)")
public func adaptive_avg_pool2d(_ input: Tensor, _ outputSize: Int) -> Tensor { fatalError() }

/// `F.adaptive_avg_pool2d(input, (h, w))`.
@available(*, unavailable, renamed: "adaptiveAvgPool2d(_:outputSize:)")
public func adaptive_avg_pool2d(_ input: Tensor, _ outputSize: [Int]) -> Tensor { fatalError() }

/// `F.adaptive_max_pool2d(input, output_size)`.
@available(*, unavailable, renamed: "adaptiveMaxPool2d(_:outputSize:)")
public func adaptive_max_pool2d(_ input: Tensor, _ outputSize: Int) -> Tensor { fatalError() }

/// `F.adaptive_max_pool2d(input, (h, w))`.
@available(*, unavailable, renamed: "adaptiveMaxPool2d(_:outputSize:)")
public func adaptive_max_pool2d(_ input: Tensor, _ outputSize: [Int]) -> Tensor { fatalError() }

/// `F.conv_transpose2d(input, weight, bias, stride, padding, output_padding, …)`.
@available(*, unavailable, renamed: "convTranspose2d(_:_:bias:stride:padding:outputPadding:dilation:groups:)")
public func conv_transpose2d(_ input: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                             outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Tensor { fatalError() }

/// `F.conv_transpose3d(input, weight, bias, stride, padding, output_padding, …)`.
@available(*, unavailable, renamed: "convTranspose3d(_:_:bias:stride:padding:outputPadding:dilation:groups:)")
public func conv_transpose3d(_ input: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                             outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Tensor { fatalError() }

/// `F.scaled_dot_product_attention(q, k, v, …)`.
@available(*, unavailable, renamed: "scaledDotProductAttention(_:_:_:mask:additiveMask:isCausal:dropout:scale:)")
public func scaled_dot_product_attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor? = nil,
                                         additiveMask: Tensor? = nil, isCausal: Bool = false, dropout: Float = 0,
                                         scale: Float? = nil) -> Tensor { fatalError() }

/// `F.softmax(input, dim)`.
@available(*, unavailable, renamed: "softmax(_:axis:)")
public func softmax(_ input: Tensor, dim: Int) -> Tensor { fatalError() }

/// `F.log_softmax(input, dim)`.
@available(*, unavailable, renamed: "logSoftmax(_:axis:)")
public func log_softmax(_ input: Tensor, dim: Int = -1) -> Tensor { fatalError() }

/// `F.log_softmax(input, dim)` in camel case.
@available(*, unavailable, renamed: "logSoftmax(_:axis:)")
public func logSoftmax(_ input: Tensor, dim: Int) -> Tensor { fatalError() }

/// `F.leaky_relu(input, negative_slope)`.
@available(*, unavailable, renamed: "leakyRelu(_:negativeSlope:)")
public func leaky_relu(_ input: Tensor, _ negativeSlope: Float = 0.01) -> Tensor { fatalError() }
