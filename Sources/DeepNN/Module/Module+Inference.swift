import DeepCore

/// A module whose forward passes the output of a convolution or linear child straight into a
/// BatchNorm child, and uses it nowhere else: it names those pairs of children so that
/// ``Module/fuseForInference()`` may fold them (as torchvision's quantizable models name theirs
/// in `fuse_model`). Pairs of adjacent layers in a ``Sequential`` need no declaration.
public protocol ConvolutionThenNorm: Module {
    /// The children's names, each pair (layer, the BatchNorm that follows it).
    var convolutionNormPairs: [(layer: String, norm: String)] { get }
    /// The layers of ``convolutionNormPairs`` whose normalised output goes through a ReLU and
    /// nowhere else: once the norm is folded, the convolution applies the ReLU in its output
    /// pass (``Conv2d/activation``) and the forward must then skip its own ReLU (ResNet's blocks
    /// do). Default: none.
    var convolutionsFollowedByReLU: [String] { get }
}

extension ConvolutionThenNorm {
    /// None.
    public var convolutionsFollowedByReLU: [String] { [] }
}

extension BasicBlock: ConvolutionThenNorm {
    /// conv1 → bn1, conv2 → bn2.
    public var convolutionNormPairs: [(layer: String, norm: String)] { [("conv1", "bn1"), ("conv2", "bn2")] }
    /// conv1 (conv2's ReLU comes after the residual sum: the block fuses both itself).
    public var convolutionsFollowedByReLU: [String] { ["conv1"] }
}

extension Bottleneck: ConvolutionThenNorm {
    /// conv1 → bn1, conv2 → bn2, conv3 → bn3.
    public var convolutionNormPairs: [(layer: String, norm: String)] { [("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")] }
    /// conv1, conv2.
    public var convolutionsFollowedByReLU: [String] { ["conv1", "conv2"] }
}

extension ResNet: ConvolutionThenNorm {
    /// The stem: conv1 → bn1.
    public var convolutionNormPairs: [(layer: String, norm: String)] { [("conv1", "bn1")] }
    /// The stem's conv1.
    public var convolutionsFollowedByReLU: [String] { ["conv1"] }
}

extension Module {
    /// Folds, in place, every BatchNorm that follows a `Conv2d` or `Linear` layer (adjacent in a
    /// ``Sequential``, or named by ``ConvolutionThenNorm``) into that layer, for inference: the
    /// layer's weight is scaled by γ/√(running var + eps) per output channel and it gets the bias
    /// (b − running mean)·γ/√(running var + eps) + β; the BatchNorm becomes an ``Identity``. The
    /// outputs in evaluation mode stay the same (to rounding); PyTorch's
    /// `torch.ao.quantization.fuse_modules` in eval mode does the same. A ReLU that follows a
    /// convolution (adjacent in a ``Sequential``, past folded norms, or named by
    /// ``ConvolutionThenNorm/convolutionsFollowedByReLU``) moves into the convolution's output
    /// pass (``Conv2d/activation``; the ReLU of a `Sequential` becomes an ``Identity``), and
    /// ResNet's blocks add their residual there too. The state dict changes
    /// (no BatchNorm entries; biases on the folded layers) and the model is for inference only:
    /// every `Conv2d` also keeps its weight transformed for its algorithm from the first call on
    /// (``Conv2d/inferenceCache``), and refuses training mode.
    ///
    /// - Precondition: evaluation mode (``eval()``): a BatchNorm in training mode normalises with
    ///   the batch's statistics, which cannot be folded. BatchNorms without running statistics
    ///   and layers shared elsewhere are left as they are.
    /// - Returns: the number of pairs folded.
    @discardableResult
    public func fuseForInference() -> Int {
        require(!isTraining, "fuseForInference: \(typeName) is in training mode; call eval() first (BatchNorm folds only with its running statistics)")
        var folds: [(parent: Module, layer: String, norm: String)] = []
        for (_, parent) in namedModules() {
            let children = parent.namedChildren()
            var pairs = (parent as? ConvolutionThenNorm)?.convolutionNormPairs ?? []
            if parent is Sequential { pairs += zip(children, children.dropFirst()).map { ($0.0.0, $0.1.0) } }
            for (layer, norm) in pairs { folds.append((parent, layer, norm)) }
        }
        // The new layers' initial draws must not move the default generator.
        let generator = DefaultRandom.generator
        defer { DefaultRandom.generator = generator }
        var count = 0
        for (parent, layerName, normName) in folds {
            let children = Dictionary(parent.namedChildren(), uniquingKeysWith: { first, _ in first })
            guard let layer = children[layerName], let norm = children[normName] as? BatchNorm, !norm.isTraining,
                  norm.tracksRunningStats, let folded = Self.folded(layer, into: norm)
            else { continue }
            _ = parent.replaceChild(named: layerName, with: folded)
            _ = parent.replaceChild(named: normName, with: Identity())
            count += 1
        }
        fuseReLUs()
        for case let conv as Conv2d in namedModules().map(\.1) where conv.inferenceCache == nil { conv.inferenceCache = ConvolutionWeightCache() }
        return count
    }

    /// Gives each convolution that a ReLU follows the ReLU: in ``Sequential``s (a Conv2d, any
    /// Identity — folded norms —, then a ReLU, which becomes an Identity), and where a
    /// ``ConvolutionThenNorm`` names it, its norm folded.
    private func fuseReLUs() {
        for (_, parent) in namedModules() {
            let children = parent.namedChildren()
            if parent is Sequential {
                var last: Conv2d?
                for (name, child) in children {
                    if let conv = child as? Conv2d, conv.activation == .none {
                        last = conv
                    } else if child is ReLU, let conv = last {
                        conv.activation = .relu
                        _ = parent.replaceChild(named: name, with: Identity())
                        last = nil
                    } else if !(child is Identity) {
                        last = nil
                    }
                }
            }
            guard let declared = parent as? ConvolutionThenNorm else { continue }
            let byName = Dictionary(children, uniquingKeysWith: { first, _ in first })
            for (layer, norm) in declared.convolutionNormPairs where declared.convolutionsFollowedByReLU.contains(layer) {
                if let conv = byName[layer] as? Conv2d, byName[norm] is Identity { conv.activation = .relu }
            }
        }
    }

    /// `layer` (Conv2d or Linear, whose outputs `norm` normalises) with `norm` folded in, or nil
    /// for another layer or a channel count that does not match.
    private static func folded(_ layer: Module, into norm: BatchNorm) -> Module? {
        let channels = norm.runningMean.count
        let scale = (norm.weight ?? Tensor(ones: [channels])) / (norm.runningVar + norm.eps).sqrt()          // (C)
        let shift = norm.bias ?? Tensor(zeros: [channels])
        func bias(_ old: Tensor?) -> Tensor { ((old ?? Tensor(zeros: [channels])) - norm.runningMean) * scale + shift }
        return withoutGrad {
            if let conv = layer as? Conv2d, conv.weight.shape[0] == channels {
                let w = conv.weight.shape
                let fused = Conv2d(w[1] * conv.groups, w[0], kernelSize: Array(w[2...]), stride: conv.stride, padding: conv.padding,
                                   dilation: conv.dilation, groups: conv.groups, bias: true)
                fused.weight.assign(conv.weight * scale.reshaped([channels, 1, 1, 1]))
                fused.bias!.assign(bias(conv.bias))
                fused.eval()
                return fused
            }
            if let linear = layer as? Linear, linear.weight.shape[0] == channels {
                let fused = Linear(linear.weight.shape[1], channels, bias: true)
                fused.weight.assign(linear.weight * scale.reshaped([channels, 1]))
                fused.bias!.assign(bias(linear.bias))
                fused.eval()
                return fused
            }
            return nil
        }
    }
}
