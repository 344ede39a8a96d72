// A user's program written with PyTorch's spellings, type-checked by PyTorchSpellingTests against
// the built DeepNN module. Each annotated line must draw exactly one error: "has been renamed to
// 'X'" (or "replaced by") for `// renamed: X`, "is unavailable: text…" for `// unavailable: text`,
// Swift's own message (with its fix-it) for `// error: text`; lines marked `// ok` use the
// library's own names next to them and must draw nothing.
import DeepNN

func tensorMethods(_ x: Tensor, _ y: Tensor, _ mask: Tensor, _ index: Tensor) {
    _ = x.reshape([3, 2])                         // renamed: reshaped(_:)
    _ = x.reshape(3, 2)                           // unavailable: use reshaped with the shape as an array
    _ = x.view(3, 2)                              // unavailable: use view or reshaped
    _ = x.view([3, 2])                            // ok
    _ = x.permute([1, 0])                         // renamed: permuted(_:)
    _ = x.permute(1, 0)                           // unavailable: use permuted with the axes as an array
    _ = x.transpose(0, 1)                         // renamed: transposed(_:_:)
    _ = x.unsqueeze(0)                            // renamed: unsqueezed(axis:)
    _ = x.squeeze()                               // renamed: squeezed()
    _ = x.squeeze(0)                              // renamed: squeezed(axis:)
    _ = x.flatten()                               // renamed: flattened(from:through:)
    _ = x.flatten(1)                              // renamed: flattened(from:through:)
    _ = x.flatten(startDim: 1)                    // renamed: flattened(from:through:)
    _ = x.flattened(from: 1)                      // ok
    _ = x.expand([4, 2, 3])                       // renamed: expanded(to:)
    _ = x.expand(4, 2, 3)                         // unavailable: use expanded(to:)
    _ = x.narrow(0, 0, 1)                         // renamed: narrowed(axis:start:length:)
    _ = x.chunk(2, dim: 1)                        // renamed: chunked(_:axis:)
    _ = x.split(1, dim: 1)                        // renamed: split(size:axis:)
    _ = x.split([1, 2], dim: 1)                   // renamed: split(sizes:axis:)
    _ = x.split(size: 1, axis: 1)                 // ok
    _ = x.detach()                                // renamed: detached()
    _ = x.clone()                                 // renamed: copied()
    _ = x.contiguous()                            // ok
    _ = x.item()                                  // ok
    _ = x.size()                                  // unavailable: use the shape property
    _ = x.size(0)                                 // unavailable: use the shape property
    _ = x.dim()                                   // unavailable: use the rank property
    _ = x.ndim                                    // renamed: rank
    _ = x.numel()                                 // unavailable: use the count property
    _ = x.t()                                     // unavailable: use x.transposed(0, 1)
    _ = x.T                                       // unavailable: use x.mT
    _ = x.mT                                      // ok
    _ = x.mm(y)                                   // unavailable: use the function matmul(x, y)
    _ = x.bmm(y)                                  // unavailable: use the function matmul(x, y)
    _ = x.masked_fill(mask, 0)                    // renamed: filled(where:with:)
    _ = x.index_select(0, [1, 0])                 // renamed: indexSelected(axis:indices:)
    _ = x.indexSelect(0, [1, 0])                  // renamed: indexSelected(axis:indices:)
    _ = x.gather(1, index)                        // renamed: gathered(axis:indices:)
    _ = x.gather(dim: 1, index: index)            // renamed: gathered(axis:indices:)
    _ = x.sum(dim: 1)                             // renamed: sum(axis:keepingDims:)
    _ = x.sum(dim: 1, keepdim: true)              // renamed: sum(axis:keepingDims:)
    _ = x.sum(dim: [0, 1])                        // renamed: sum(axes:keepingDims:)
    _ = x.sum()                                   // ok
    _ = x.sum(axis: 1)                            // ok
    _ = x.mean(dim: 1)                            // renamed: mean(axis:keepingDims:)
    _ = x.mean(dim: [0, 1], keepdim: true)        // renamed: mean(axes:keepingDims:)
    _ = x.mean()                                  // ok
    _ = x.argmax(dim: 1)                          // renamed: argmax(axis:keepingDims:)
    _ = x.argmin(dim: 1, keepdim: true)           // renamed: argmin(axis:keepingDims:)
    _ = x.argmax(axis: 1)                         // ok
    _ = x.max(dim: 1)                             // unavailable: use max(axis:keepingDims:) for the values
    _ = x.min(dim: 1)                             // unavailable: use min(axis:keepingDims:) for the values
    _ = x.max()                                   // ok
    _ = x.clamp(min: 0)                           // renamed: clamped(min:max:)
    _ = x.clip(min: 0, max: 1)                    // renamed: clamped(min:max:)
    x.requires_grad = true                        // renamed: requiresGrad
    _ = x.requires_grad_()                        // unavailable: set the property
    _ = x.is_leaf                                 // renamed: isLeaf
    _ = x.zero_()                                 // unavailable: use x.assign(Tensor(zeros: x.shape))
    _ = x.tolist()                                // unavailable: use x.scalars
    _ = x.numpy()                                 // unavailable: use x.scalars
}

func torchFunctions(_ x: Tensor, _ y: Tensor) {
    _ = cat([x, y], dim: 1)                       // renamed: Tensor.concatenate(_:axis:)
    _ = cat([x, y])                               // renamed: Tensor.concatenate(_:axis:)
    _ = concat([x, y], dim: 0)                    // renamed: Tensor.concatenate(_:axis:)
    _ = stack([x, y], dim: 1)                     // renamed: Tensor.stack(_:axis:)
    _ = Tensor.cat([x, y], dim: 1)                // renamed: concatenate(_:axis:)
    _ = Tensor.concatenate([x, y], dim: 1)        // renamed: concatenate(_:axis:)
    _ = Tensor.concatenate([x, y])                // ok
    _ = Tensor.stack([x, y], dim: 1)              // renamed: stack(_:axis:)
    _ = Tensor.stack([x, y])                      // ok
    _ = Tensor.zeros([2, 3])                      // renamed: init(zeros:)
    _ = Tensor.ones([2, 3])                       // renamed: init(ones:)
    _ = Tensor.full([2, 3], 7)                    // unavailable: use Tensor(repeating:
    _ = mm(x, y)                                  // renamed: matmul(_:_:)
    _ = bmm(x, y)                                 // renamed: matmul(_:_:)
    _ = matmul(x, y)                              // ok
    _ = no_grad { x.sum() }                       // renamed: withoutGrad(_:)
    _ = noGrad { x.sum() }                        // renamed: withoutGrad(_:)
    _ = withoutGrad { x.sum() }                   // ok
    manual_seed(0)                                // renamed: manualSeed(_:)
}

func functional(_ x: Tensor, _ y: Tensor, _ labels: [Int]) {
    _ = cross_entropy(x, labels)                  // renamed: crossEntropy(_:_:weight:ignoreIndex:labelSmoothing:reduction:)
    _ = cross_entropy(x, y, labelSmoothing: 0.1)  // renamed: crossEntropy(_:_:weight:ignoreIndex:labelSmoothing:reduction:)
    _ = crossEntropy(x, labels)                   // ok
    _ = nll_loss(x, labels)                       // renamed: nllLoss(_:_:weight:ignoreIndex:reduction:)
    _ = mse_loss(x, y)                            // renamed: mseLoss(_:_:reduction:)
    _ = l1_loss(x, y, reduction: .sum)            // renamed: l1Loss(_:_:reduction:)
    _ = smooth_l1_loss(x, y, beta: 0.5)           // renamed: smoothL1Loss(_:_:beta:reduction:)
    _ = binary_cross_entropy_with_logits(x, y)    // renamed: binaryCrossEntropyWithLogits(_:_:weight:posWeight:reduction:)
    _ = kl_div(x, y)                              // renamed: klDivergence(_:_:reduction:logTarget:)
    _ = one_hot(labels, 10)                       // renamed: oneHot(_:count:)
    _ = one_hot(labels, numClasses: 10)           // renamed: oneHot(_:count:)
    _ = layer_norm(x, [3])                        // renamed: layerNorm(_:normalizedShape:weight:bias:eps:)
    _ = layer_norm(x, [3], eps: 1e-6)             // renamed: layerNorm(_:normalizedShape:weight:bias:eps:)
    _ = rms_norm(x, [3])                          // renamed: rmsNorm(_:normalizedShape:weight:eps:)
    _ = group_norm(x, 2)                          // renamed: groupNorm(_:groups:weight:bias:eps:)
    _ = batch_norm(x, nil, nil, training: true)   // renamed: batchNorm(_:runningMean:runningVar:weight:bias:training:momentum:eps:followedByReLU:)
    _ = max_pool2d(x, 2)                          // renamed: maxPool2d(_:kernelSize:stride:padding:dilation:ceilMode:)
    _ = max_pool2d(x, [2, 2], stride: [1, 1])     // renamed: maxPool2d(_:kernelSize:stride:padding:dilation:ceilMode:)
    _ = maxPool2d(x, kernelSize: 2)               // ok
    _ = avg_pool2d(x, 2, stride: 2)               // renamed: avgPool2d(_:kernelSize:stride:padding:ceilMode:countIncludePad:divisorOverride:)
    _ = avg_pool2d(x, [2, 2])                     // renamed: avgPool2d(_:kernelSize:stride:padding:ceilMode:countIncludePad:divisorOverride:)
    _ = adaptive_avg_pool2d(x, 1)                 // renamed: adaptiveAvgPool2d(_:outputSize:)
    _ = adaptive_avg_pool2d(x, [1, 1])            // renamed: adaptiveAvgPool2d(_:outputSize:)
    _ = adaptive_max_pool2d(x, 1)                 // renamed: adaptiveMaxPool2d(_:outputSize:)
    _ = adaptive_max_pool2d(x, [2, 1])            // renamed: adaptiveMaxPool2d(_:outputSize:)
    _ = conv_transpose2d(x, y, stride: 2)         // renamed: convTranspose2d(_:_:bias:stride:padding:outputPadding:dilation:groups:)
    _ = scaled_dot_product_attention(x, x, x, isCausal: true)  // renamed: scaledDotProductAttention(_:_:_:mask:additiveMask:isCausal:dropout:scale:)
    _ = softmax(x, dim: 1)                        // renamed: softmax(_:axis:)
    _ = softmax(x)                                // ok
    _ = softmax(x, axis: 0)                       // ok
    _ = log_softmax(x, dim: 1)                    // renamed: logSoftmax(_:axis:)
    _ = logSoftmax(x, dim: 1)                     // renamed: logSoftmax(_:axis:)
    _ = logSoftmax(x)                             // ok
    _ = leaky_relu(x, 0.2)                        // renamed: leakyRelu(_:negativeSlope:)
    _ = leaky_relu(x)                             // renamed: leakyRelu(_:negativeSlope:)
}

func modules(_ model: Module, _ optimizer: Optimizer, _ scheduler: LRScheduler, _ state: [String: Tensor]) {
    _ = model.named_parameters()                  // renamed: namedParameters()
    _ = model.named_buffers()                     // renamed: namedBuffers()
    _ = model.named_modules()                     // renamed: namedModules()
    _ = model.named_children()                    // renamed: namedChildren()
    _ = model.state_dict()                        // renamed: stateDict()
    model.load_state_dict(state)                  // renamed: loadStateDict(_:strict:)
    model.load_state_dict(state, strict: false)   // renamed: loadStateDict(_:strict:)
    model.zero_grad()                             // unavailable: clear gradients with the optimizer
    model.requires_grad_(false)                   // unavailable: use freeze()
    model.register_buffer("mean", nil)            // unavailable: declare a stored property
    model.register_parameter("scale", nil)        // unavailable: declare a stored Tensor property
    model.eval()                                  // ok
    model.train()                                 // ok
    _ = model.parameters                          // ok
    _ = model.parameters()                        // error: cannot call value of non-function type
    optimizer.zero_grad()                         // renamed: zeroGrad()
    _ = optimizer.param_groups                    // renamed: parameterGroups
    _ = optimizer.state_dict()                    // renamed: stateDict()
    optimizer.load_state_dict(state)              // renamed: loadStateDict(_:)
    optimizer.zeroGrad()                          // ok
    _ = scheduler.get_last_lr()                   // unavailable: use the property currentLearningRates
    _ = scheduler.last_epoch                      // renamed: lastEpoch
    _ = clip_grad_norm_(model.parameters, 1)      // renamed: clipGradNorm(_:maxNorm:)
}

func renamedLabels() {
    _ = TransformerEncoderLayer(dModel: 8, nhead: 2)                // renamed: init(dModel:numHeads:dimFeedforward:dropout:activation:layerNormEps:batchFirst:normFirst:bias:)
    _ = TransformerEncoderLayer(dModel: 8, nhead: 2, dropout: 0)    // renamed: init(dModel:numHeads:dimFeedforward:dropout:activation:layerNormEps:batchFirst:normFirst:bias:)
    _ = TransformerEncoderLayer(dModel: 8, numHeads: 2)             // ok
    _ = TransformerDecoderLayer(dModel: 8, nhead: 2, batchFirst: true)  // renamed: init(dModel:numHeads:dimFeedforward:dropout:activation:layerNormEps:batchFirst:normFirst:bias:)
    _ = TransformerDecoderLayer(dModel: 8, numHeads: 2)             // ok
    _ = LowFrequencyMixer(dim: 8, heads: 2)                         // renamed: init(dim:numHeads:poolSize:qkvBias:)
    _ = LowFrequencyMixer(dim: 8, numHeads: 2).heads                // renamed: numHeads
    _ = InceptionMixer(dim: 16, heads: 2, attentionHeads: 1)        // renamed: init(dim:numHeads:attentionHeads:poolSize:qkvBias:)
    _ = InceptionTransformerBlock(dim: 16, heads: 2, attentionHeads: 1)  // renamed: init(dim:numHeads:attentionHeads:poolSize:mlpRatio:layerScale:dropPath:)
    _ = CBAM(channels: 8, spatialKernel: 3)                         // renamed: init(channels:reduction:kernelSize:)
    _ = CBAM(channels: 8)                                           // ok
    _ = ResNet(block: BasicBlock.self, layers: [1, 1, 1, 1], inputChannels: 1)  // renamed: init(block:layers:numClasses:inChannels:zeroInitResidual:groups:widthPerGroup:replaceStrideWithDilation:baseChannels:smallInputStem:)
    _ = ResNet(block: BasicBlock.self, layers: [1, 1, 1, 1])        // ok
    _ = ResNet.resnet18(numClasses: 10, inputChannels: 1)           // renamed: resnet18(numClasses:inChannels:smallInputStem:zeroInitResidual:)
    _ = ResNet.resnet18(numClasses: 10)                             // ok
    _ = ResNet.resnet34(inputChannels: 1)                           // renamed: resnet34(numClasses:inChannels:smallInputStem:zeroInitResidual:)
    _ = ResNet.resnet50(inputChannels: 1)                           // renamed: resnet50(numClasses:inChannels:smallInputStem:zeroInitResidual:)
    _ = ResNet.resnet101(inputChannels: 1)                          // renamed: resnet101(numClasses:inChannels:smallInputStem:zeroInitResidual:)
    _ = ResNet.resnet152(inputChannels: 1)                          // renamed: resnet152(numClasses:inChannels:smallInputStem:zeroInitResidual:)
    _ = ResNet.resnext50_32x4d(inputChannels: 1)                    // renamed: resnext50_32x4d(numClasses:inChannels:smallInputStem:zeroInitResidual:)
    _ = ResNet.wideResnet50_2(inputChannels: 1)                     // renamed: wideResnet50_2(numClasses:inChannels:smallInputStem:zeroInitResidual:)
    _ = UMamba(inputChannels: 1, classes: 2)                        // renamed: init(inChannels:numClasses:variant:featuresPerStage:strides:kernelSize:blocksPerStage:decoderBlocksPerStage:imageSize:dState:dConv:expand:)
    _ = UMamba(inChannels: 1, numClasses: 2)                        // ok
    _ = MambaClassifier(classes: 3)                                 // renamed: init(rowSize:numClasses:dModel:numLayers:dState:dConv:expand:)
    _ = MambaClassifier(classes: 3, depth: 1)                       // renamed: init(rowSize:numClasses:dModel:numLayers:dState:dConv:expand:)
    _ = MambaClassifier(depth: 1)                                   // renamed: init(rowSize:numClasses:dModel:numLayers:dState:dConv:expand:)
    _ = MambaClassifier()                                           // ok
    _ = MambaClassifier(numClasses: 3, numLayers: 1)                // ok
    _ = FashionModels.smallCNN(classes: 10)                         // renamed: smallCNN(numClasses:)
    _ = FashionModels.batchNormCNN(classes: 10)                     // renamed: batchNormCNN(numClasses:)
    _ = FashionModels.smallCNN()                                    // ok
}
