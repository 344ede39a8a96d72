// Loss functions with PyTorch's names and reductions; cross-entropy against class ids is one fused
// op over the log-softmax kernel, the others compose differentiable ops.

/// How a loss over many elements is reduced, as PyTorch's `reduction`.
public enum LossReduction {
    /// The mean over elements (for weighted class losses, the weighted mean).
    case mean
    /// The sum.
    case sum
    /// No reduction: one value per element.
    case none
}

/// Applies `reduction` to per-element losses.
private func reduce(_ losses: Tensor, _ reduction: LossReduction) -> Tensor {
    switch reduction {
    case .mean: return losses.mean()
    case .sum: return losses.sum()
    case .none: return losses
    }
}

/// Moves the class axis of (N, C, d1, …) last and flattens: (N·d1·…, C).
private func classRows(_ logits: Tensor, op: String) -> Tensor {
    require(logits.rank >= 2, "\(op): logits of shape \(logits.shape), expected (N, C, ...)")
    if logits.rank == 2 { return logits }
    var order = [0] + Array(2..<logits.rank)
    order.append(1)
    return logits.permuted(order).reshaped([-1, logits.shape[1]])
}

/// The (N, C) coefficient matrix M and the normaliser for a class-id loss
/// −Σ M[i,c]·logp[i,c]: (1 − ε)·w[y] at the label, ε·w[c]/C on every class, zero rows for
/// ignored labels; the normaliser is Σ w[y] over kept rows (PyTorch's weighted mean).
private func classCoefficients(labels: [Int], classes: Int, weight: Tensor?, ignoreIndex: Int,
                               labelSmoothing: Float, op: String) -> (Tensor, Float) {
    let w = weight?.scalars ?? Array(repeating: 1, count: classes)
    require(w.count == classes, "\(op): \(w.count) class weights for \(classes) classes")
    var normaliser: Float = 0
    let m = Tensor.make(shape: [labels.count, classes]) { m in
        for (i, y) in labels.enumerated() {
            let row = i * classes
            if y == ignoreIndex {
                for c in 0..<classes { m[row + c] = 0 }
                continue
            }
            require(y >= 0 && y < classes, "\(op): label \(y) at index \(i) is outside 0..<\(classes)")
            for c in 0..<classes { m[row + c] = labelSmoothing * w[c] / Float(classes) }
            m[row + y] += (1 - labelSmoothing) * w[y]
            normaliser += w[y]
        }
    }
    return (m, normaliser)
}

/// Cross-entropy of logits against class ids (`F.cross_entropy`), with label smoothing, an
/// ignored label and class weights.
///
/// - Parameters:
///   - logits: (N, C) or (N, C, d1, …) unnormalised scores.
///   - labels: class ids, N (or N·d1·… in row-major order of (N, d1, …)).
///   - weight: (C) class weights, or nil.
/// - Returns: a scalar for `.mean`/`.sum`, else the per-element losses.
public func crossEntropy(_ logits: Tensor, _ labels: [Int], weight: Tensor? = nil, ignoreIndex: Int = -100,
                         labelSmoothing: Float = 0, reduction: LossReduction = .mean) -> Tensor {
    classIdLoss(classRows(logits, op: "crossEntropy"), fromLogits: true, labels, weight: weight,
                ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing, reduction: reduction, op: "crossEntropy")
}

/// Cross-entropy against class ids given as a tensor of integer values.
public func crossEntropy(_ logits: Tensor, _ labels: Tensor, weight: Tensor? = nil, ignoreIndex: Int = -100,
                         labelSmoothing: Float = 0, reduction: LossReduction = .mean) -> Tensor {
    crossEntropy(logits, labels.scalars.map { Int($0) }, weight: weight, ignoreIndex: ignoreIndex,
                 labelSmoothing: labelSmoothing, reduction: reduction)
}

/// Cross-entropy against class probabilities (N, C) (soft labels), with label smoothing and
/// class weights; `.mean` divides by N.
public func crossEntropy(_ logits: Tensor, probabilities target: Tensor, weight: Tensor? = nil,
                         labelSmoothing: Float = 0, reduction: LossReduction = .mean) -> Tensor {
    let logp = logSoftmax(classRows(logits, op: "crossEntropy"), axis: 1)
    var p = classRows(target, op: "crossEntropy").detached()
    require(p.shape == logp.shape, "crossEntropy: probabilities of shape \(target.shape) for logits \(logits.shape)")
    let classes = logp.shape[1]
    if labelSmoothing > 0 { p = p * (1 - labelSmoothing) + labelSmoothing / Float(classes) }
    if let weight { p = p * weight.reshaped([1, classes]) }
    return reduce(-(p * logp).sum(axes: [1]), reduction)
}

/// Negative log-likelihood of log-probabilities (N, C) (`F.nll_loss`).
public func nllLoss(_ logProbabilities: Tensor, _ labels: [Int], weight: Tensor? = nil, ignoreIndex: Int = -100,
                    reduction: LossReduction = .mean) -> Tensor {
    classIdLoss(classRows(logProbabilities, op: "nllLoss"), fromLogits: false, labels, weight: weight,
                ignoreIndex: ignoreIndex, labelSmoothing: 0, reduction: reduction, op: "nllLoss")
}

/// −Σ_c M[i,c]·logp[i,c] per row with the coefficients of ``classCoefficients``, reduced;
/// `scores` (N, C) are logits (cross-entropy, fused with the log-softmax) or log-probabilities.
private func classIdLoss(_ scores: Tensor, fromLogits: Bool, _ labels: [Int], weight: Tensor?, ignoreIndex: Int,
                         labelSmoothing: Float, reduction: LossReduction, op: String) -> Tensor {
    require(scores.shape[0] == labels.count, "\(op): \(labels.count) labels for \(scores.shape[0]) rows (scores \(scores.shape))")
    let (m, normaliser) = classCoefficients(labels: labels, classes: scores.shape[1], weight: weight,
                                            ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing, op: op)
    let perRow = fromLogits ? softmaxCrossEntropyRows(scores, coefficients: m) : -(m * scores).sum(axes: [1])
    switch reduction {
    case .mean: return perRow.sum() / normaliser
    case .sum: return perRow.sum()
    case .none: return perRow
    }
}

/// −Σ_c M[i,c]·log softmax(x)[i,c] for each row of logits x (N, C), one op over `logSoftmax`'s
/// kernel instead of three more (the product with M, the row sums, the sign), with the gradient
/// g_i·((Σ_c M[i,c])·softmax(x_i) − M[i,:]).
private func softmaxCrossEntropyRows(_ logits: Tensor, coefficients m: Tensor) -> Tensor {
    let (n, c) = (logits.shape[0], logits.shape[1])
    let coefficients = m.detached()
    return Tensor.op("softmaxCrossEntropy", inputs: [logits], shape: [n]) {
        let logp = logSoftmax(logits, axis: 1)
        var rowWeights = [Float](repeating: 0, count: n)
        let losses = Tensor.make(shape: [n]) { loss in
            logp.withUnsafeBufferPointer { lp in
                coefficients.withUnsafeBufferPointer { ms in
                    for i in 0..<n {
                        var weightSum: Float = 0, dot: Float = 0
                        for j in (i * c)..<(i * c + c) {
                            weightSum += ms[j]
                            dot += ms[j] * lp[j]
                        }
                        rowWeights[i] = weightSum
                        loss[i] = -dot
                    }
                }
            }
        }
        return (losses, (logp, rowWeights))
    } pullback: { g, _, saved in
        let (logp, rowWeights) = saved
        let gradient = Tensor.make(shape: [n, c]) { dx in
            guard let out = dx.baseAddress else { return }
            // softmax = exp(log-softmax), every exponential in one vector pass.
            logp.withUnsafeBufferPointer { VectorMath.map($0.baseAddress!, out, count: n * c) { VectorMath.exp($0) } }
            g.contiguous().withUnsafeBufferPointer { gs in
                coefficients.withUnsafeBufferPointer { ms in
                    for i in 0..<n {
                        let (gi, w) = (gs[i], rowWeights[i])
                        for j in (i * c)..<(i * c + c) { dx[j] = gi * (w * dx[j] - ms[j]) }
                    }
                }
            }
        }
        return [gradient]
    }
}

/// Mean squared error (`F.mse_loss`). Shapes must match.
public func mseLoss(_ prediction: Tensor, _ target: Tensor, reduction: LossReduction = .mean) -> Tensor {
    require(prediction.shape == target.shape, "mseLoss: prediction \(prediction.shape) and target \(target.shape) differ")
    let d = prediction - target
    return reduce(d * d, reduction)
}

/// Mean absolute error (`F.l1_loss`).
public func l1Loss(_ prediction: Tensor, _ target: Tensor, reduction: LossReduction = .mean) -> Tensor {
    require(prediction.shape == target.shape, "l1Loss: prediction \(prediction.shape) and target \(target.shape) differ")
    return reduce((prediction - target).abs(), reduction)
}

/// Smooth L1 (`F.smooth_l1_loss`): 0.5·d²/β where |d| < β, else |d| − 0.5·β.
public func smoothL1Loss(_ prediction: Tensor, _ target: Tensor, beta: Float = 1, reduction: LossReduction = .mean) -> Tensor {
    require(prediction.shape == target.shape, "smoothL1Loss: prediction \(prediction.shape) and target \(target.shape) differ")
    let d = (prediction - target).abs()
    if beta == 0 { return reduce(d, reduction) }
    let quadratic = d.clamped(max: beta)
    // 0.5·q²/β + (d − q): equals both branches, with the right gradient on each side.
    return reduce(quadratic * quadratic * (0.5 / beta) + (d - quadratic), reduction)
}

/// Binary cross-entropy with logits (`F.binary_cross_entropy_with_logits`), stable for large
/// logits: (1 − y)·x + (1 + (pw − 1)·y)·(log(1 + e^−|x|) + max(−x, 0)).
///
/// - Parameters:
///   - logits, target: the same shape; target in [0, 1].
///   - weight: broadcastable rescaling of each element's loss.
///   - posWeight: broadcastable weight of positive examples (per class, last axis).
public func binaryCrossEntropyWithLogits(_ logits: Tensor, _ target: Tensor, weight: Tensor? = nil,
                                         posWeight: Tensor? = nil, reduction: LossReduction = .mean) -> Tensor {
    require(logits.shape == target.shape, "binaryCrossEntropyWithLogits: logits \(logits.shape) and target \(target.shape) differ")
    let y = target.detached()
    let logSigmoidTerm = softplus(-logits.abs()) + relu(-logits)
    var loss: Tensor
    if let posWeight {
        loss = (1 - y) * logits + (1 + (posWeight - 1) * y) * logSigmoidTerm
    } else {
        loss = (1 - y) * logits + logSigmoidTerm
    }
    if let weight { loss = loss * weight }
    return reduce(loss, reduction)
}

/// How ``klDivergence(_:_:reduction:logTarget:)`` reduces.
public enum KLReduction {
    /// Sum divided by the batch size (the mathematically correct KL per example).
    case batchMean
    /// Mean over every element (PyTorch's default, C times smaller than `batchMean`).
    case mean
    /// Sum.
    case sum
    /// None.
    case none
}

/// Kullback–Leibler divergence `F.kl_div(input, target)`: target·(log target − input), with
/// `input` log-probabilities; 0 where target is 0.
public func klDivergence(_ input: Tensor, _ target: Tensor, reduction: KLReduction = .batchMean,
                         logTarget: Bool = false) -> Tensor {
    require(input.shape == target.shape, "klDivergence: input \(input.shape) and target \(target.shape) differ")
    let pointwise: Tensor
    if logTarget {
        pointwise = target.exp() * (target - input)
    } else {
        let safeLog = target.clamped(min: Float.leastNormalMagnitude).log()
        pointwise = (target * (safeLog - input)).filled(where: target.isEqual(to: 0), with: 0)
    }
    switch reduction {
    case .batchMean: return pointwise.sum() / Float(input.shape.first ?? 1)
    case .mean: return pointwise.mean()
    case .sum: return pointwise.sum()
    case .none: return pointwise
    }
}

/// Soft Dice loss for segmentation: 1 − mean over classes of (2·Σ p·t + ε) / (Σ p + Σ t + ε),
/// with p = softmax of `logits` (N, C, …) over classes and t the one-hot labels.
public func diceLoss(_ logits: Tensor, _ labels: [Int], smooth: Float = 1) -> Tensor {
    let rows = classRows(logits, op: "diceLoss")
    let classes = rows.shape[1]
    require(rows.shape[0] == labels.count, "diceLoss: \(labels.count) labels for scores \(logits.shape)")
    let p = softmax(rows, axis: 1)
    let t = oneHot(labels, count: classes)
    let intersection = (p * t).sum(axes: [0])
    let denominator = p.sum(axes: [0]) + t.sum(axes: [0])
    return 1 - ((2 * intersection + smooth) / (denominator + smooth)).mean()
}

/// Hinton's knowledge-distillation loss:
/// α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, y), the teacher detached.
///
/// - Parameters:
///   - student, teacher: (N, C) logits.
///   - labels: N class ids.
///   - klReduction: `.batchMean` (default, correct scale) or `.mean` (as some reference code).
public func distillationLoss(student: Tensor, teacher: Tensor, labels: [Int], temperature: Float = 4,
                             alpha: Float = 0.9, klReduction: KLReduction = .batchMean) -> Tensor {
    require(student.shape == teacher.shape, "distillationLoss: student \(student.shape) and teacher \(teacher.shape) differ")
    let soft = klDivergence(logSoftmax(student / temperature, axis: 1),
                            softmax(teacher.detached() / temperature, axis: 1), reduction: klReduction)
    return soft * (alpha * temperature * temperature) + crossEntropy(student, labels) * (1 - alpha)
}

/// CLIP's contrastive loss (Radford et al. 2021; open_clip's `ClipLoss`): the logits
/// exp(logitScale) · I Tᵀ compare every image with every text of the batch, and the loss is the
/// mean of the cross-entropies image → text (rows) and text → image (columns) against `targets`.
///
/// - Parameters:
///   - imageEmbeddings: (N, D), usually each row of length 1.
///   - textEmbeddings: (N, D), row i the text of image i.
///   - logitScale: the learnable log of the inverse temperature, a scalar (CLIP starts it at
///     log(1/0.07) and clamps it at log 100).
///   - targets: (N, N) probabilities, row i the texts that match image i (rows summing to 1; the
///     columns of its transpose are used for text → image); nil: the identity, text i for image
///     i alone. With class captions a batch holds several texts of one class: give them equal
///     shares.
/// - Returns: a scalar.
public func clipLoss(imageEmbeddings: Tensor, textEmbeddings: Tensor, logitScale: Tensor, targets: Tensor? = nil) -> Tensor {
    let n = imageEmbeddings.shape.first ?? 0
    shapeCheck(imageEmbeddings.rank == 2 && textEmbeddings.shape == imageEmbeddings.shape && logitScale.count == 1,
               "clipLoss: image embeddings \(imageEmbeddings.shape), text embeddings \(textEmbeddings.shape) and logit scale \(logitScale.shape); expected (N, D), (N, D) and a scalar")
    shapeCheck(targets == nil || targets!.shape == [n, n], "clipLoss: targets \(targets?.shape ?? []) for a batch of \(n); expected (\(n), \(n))")
    let logits = matmul(imageEmbeddings, textEmbeddings.mT) * logitScale.reshaped([]).exp()
    let target = targets ?? Tensor((0..<(n * n)).map { $0 % (n + 1) == 0 ? 1 : 0 }, shape: [n, n])
    return (crossEntropy(logits, probabilities: target) + crossEntropy(logits.mT, probabilities: target.mT)) * 0.5
}
