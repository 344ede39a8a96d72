import DeepCore

// Residual networks with torchvision's layout, parameter names and initialisation
// (torchvision/models/resnet.py): the same state-dict keys, so torchvision weights written as
// safetensors load unchanged.

/// 3×3 convolution without bias, padded to keep the size at stride 1 (torchvision's `conv3x3`).
private func conv3x3(_ inPlanes: Int, _ outPlanes: Int, stride: Int = 1, groups: Int = 1, dilation: Int = 1) -> Conv2d {
    Conv2d(inPlanes, outPlanes, kernelSize: 3, stride: stride, padding: dilation, dilation: dilation, groups: groups, bias: false)
}

/// 1×1 convolution without bias (torchvision's `conv1x1`).
private func conv1x1(_ inPlanes: Int, _ outPlanes: Int, stride: Int = 1) -> Conv2d {
    Conv2d(inPlanes, outPlanes, kernelSize: 1, stride: stride, bias: false)
}

/// relu(norm(conv(x))), the ReLU skipped where ``Module/fuseForInference()`` folded the norm into
/// the convolution and gave it the ReLU, and applied in a BatchNorm's own passes while training
/// (``BatchNorm/callAsFunction(_:then:)``, as `Sequential` does).
func convolutionNormReLU(_ conv: Module, _ norm: Module, _ relu: Module, _ x: Tensor) -> Tensor {
    if let norm = norm as? BatchNorm, let relu = relu as? ReLU { return norm(conv(x), then: relu) }
    let y = norm(conv(x))
    return (conv as? Conv2d)?.activation == .relu && norm is Identity && relu is ReLU ? y : relu(y)
}

/// relu(norm(conv(x)) + residual): in the convolution's output pass when the norm was folded away
/// (``Module/fuseForInference()``) and `block` evaluates.
private func convolutionNormAddReLU(_ conv: Module, _ norm: Module, _ relu: Module, _ x: Tensor, residual: () -> Tensor,
                                    in block: Module) -> Tensor {
    if !block.isTraining, norm is Identity, relu is ReLU, let conv = conv as? Conv2d, conv.activation == .none {
        return conv(x, adding: residual(), then: .relu)
    }
    let out = norm(conv(x))
    return relu(out + residual())
}

/// A residual block that ``ResNet`` stacks into its stages: ``BasicBlock`` or ``Bottleneck``.
public protocol ResidualBlock: Module {
    /// Output channels per `planes` (1 for ``BasicBlock``, 4 for ``Bottleneck``).
    static var expansion: Int { get }
    /// Creates a block from `inPlanes` to `planes · expansion` channels, torchvision's arguments.
    init(inPlanes: Int, planes: Int, stride: Int, downsample: Sequential?, groups: Int, baseWidth: Int, dilation: Int)
    /// The last BatchNorm of the residual branch (zeroed by `zeroInitResidual`).
    var lastNorm: Module { get }
}

/// ResNet-18/34 block: conv3×3–BN–ReLU–conv3×3–BN, plus the (possibly down-sampled) input, then
/// ReLU. Children `conv1`, `bn1`, `relu`, `conv2`, `bn2`, `downsample` as torchvision names them;
/// each may be swapped with ``Module/replace(path:with:)``.
///
/// Shape: (N, inPlanes, H, W) → (N, planes, H/stride, W/stride).
public final class BasicBlock: Module, ResidualBlock {
    /// Output channels per `planes`.
    public static let expansion = 1
    /// 3×3 convolution carrying the block's stride.
    @Child public var conv1: Module
    /// BatchNorm after `conv1`.
    @Child public var bn1: Module
    /// The ReLU used after `bn1` and after the sum.
    @Child public var relu: Module
    /// Second 3×3 convolution.
    @Child public var conv2: Module
    /// BatchNorm of the residual branch's output.
    @Child public var bn2: Module
    /// 1×1 convolution and BatchNorm matching the shortcut to the branch, or nil for identity.
    public let downsample: Sequential?

    /// Creates the block; `groups` must be 1 and `baseWidth` 64 (as torchvision), `dilation` 1.
    public init(inPlanes: Int, planes: Int, stride: Int = 1, downsample: Sequential? = nil, groups: Int = 1,
                baseWidth: Int = 64, dilation: Int = 1) {
        require(groups == 1 && baseWidth == 64, "BasicBlock only supports groups = 1 and baseWidth = 64")
        require(dilation == 1, "BasicBlock does not support dilation > 1")
        conv1 = conv3x3(inPlanes, planes, stride: stride)
        bn1 = BatchNorm2d(planes)
        relu = ReLU()
        conv2 = conv3x3(planes, planes)
        bn2 = BatchNorm2d(planes)
        self.downsample = downsample
        super.init()
    }

    /// `bn2`.
    public var lastNorm: Module { bn2 }

    /// (N, inPlanes, H, W) → (N, planes, H', W').
    public override func forward(_ x: Tensor) -> Tensor {
        let h = convolutionNormReLU(conv1, bn1, relu, x)
        return convolutionNormAddReLU(conv2, bn2, relu, h, residual: { self.downsample.map { $0(x) } ?? x }, in: self)
    }
}

/// ResNet-50/101/152 block (torchvision's "v1.5", stride on the 3×3): conv1×1–BN–ReLU,
/// conv3×3 (stride, groups, dilation)–BN–ReLU, conv1×1–BN to `planes · 4`, plus the shortcut,
/// then ReLU. The inner width is `⌊planes · baseWidth / 64⌋ · groups` (ResNeXt, wide ResNet).
///
/// Shape: (N, inPlanes, H, W) → (N, 4·planes, H/stride, W/stride).
public final class Bottleneck: Module, ResidualBlock {
    /// Output channels per `planes`.
    public static let expansion = 4
    /// 1×1 reduction.
    @Child public var conv1: Module
    /// BatchNorm after `conv1`.
    @Child public var bn1: Module
    /// 3×3 convolution carrying stride, groups and dilation.
    @Child public var conv2: Module
    /// BatchNorm after `conv2`.
    @Child public var bn2: Module
    /// 1×1 expansion to `planes · 4`.
    @Child public var conv3: Module
    /// BatchNorm of the residual branch's output.
    @Child public var bn3: Module
    /// The ReLU used inside the branch and after the sum.
    @Child public var relu: Module
    /// 1×1 convolution and BatchNorm matching the shortcut to the branch, or nil for identity.
    public let downsample: Sequential?

    /// Creates the block as torchvision's `Bottleneck(inplanes, planes, stride, downsample, groups, base_width, dilation)`.
    public init(inPlanes: Int, planes: Int, stride: Int = 1, downsample: Sequential? = nil, groups: Int = 1,
                baseWidth: Int = 64, dilation: Int = 1) {
        let width = Int(Double(planes) * (Double(baseWidth) / 64)) * groups
        conv1 = conv1x1(inPlanes, width)
        bn1 = BatchNorm2d(width)
        conv2 = conv3x3(width, width, stride: stride, groups: groups, dilation: dilation)
        bn2 = BatchNorm2d(width)
        conv3 = conv1x1(width, planes * Self.expansion)
        bn3 = BatchNorm2d(planes * Self.expansion)
        relu = ReLU()
        self.downsample = downsample
        super.init()
    }

    /// `bn3`.
    public var lastNorm: Module { bn3 }

    /// (N, inPlanes, H, W) → (N, 4·planes, H', W').
    public override func forward(_ x: Tensor) -> Tensor {
        let h = convolutionNormReLU(conv2, bn2, relu, convolutionNormReLU(conv1, bn1, relu, x))
        return convolutionNormAddReLU(conv3, bn3, relu, h, residual: { self.downsample.map { $0(x) } ?? x }, in: self)
    }
}

/// A residual network with torchvision's layout and parameter names: `conv1`, `bn1`, `relu`,
/// `maxpool`, stages `layer1` … `layer4` (``Sequential``s of ``BasicBlock`` or ``Bottleneck``,
/// so `replace(path: "layer3.1", with: block)` swaps one block), `avgpool`, `fc`.
///
/// Initialised as torchvision: convolutions kaiming-normal (fan-out, ReLU gain), BatchNorm
/// weight 1 and bias 0, `fc` as ``Linear``'s default; with `zeroInitResidual` the last
/// BatchNorm of every block starts at weight 0 so each block starts as the identity.
///
/// Options beyond torchvision (the defaults give torchvision's model exactly):
/// - `inChannels`: channels of the input image (1 for Fashion-MNIST);
/// - `smallInputStem`: for small images (CIFAR, Fashion-MNIST) `conv1` is a 3×3 stride-1
///   convolution and `maxpool` an ``Identity``, so a 32×32 input reaches `layer4` at 4×4;
/// - `baseChannels`: the stem's and `layer1`'s planes (64 in torchvision); the stages use
///   `baseChannels · [1, 2, 4, 8]` planes. A smaller value builds the same structure at reduced
///   width (the tests compare such a model with torchvision's own classes).
///
///     let model = ResNet.resnet18(numClasses: 10, inChannels: 1, smallInputStem: true)
///     try model.replace(path: "layer3.1", with: myBlock)
///
/// Shape: (N, inChannels, H, W) → (N, numClasses).
public final class ResNet: Module {
    /// The stem convolution: 7×7 stride 2 (3×3 stride 1 with `smallInputStem`).
    @Child public var conv1: Module
    /// The stem's BatchNorm.
    @Child public var bn1: Module
    /// The stem's ReLU.
    @Child public var relu: Module
    /// 3×3 stride-2 max pooling (``Identity`` with `smallInputStem`).
    @Child public var maxpool: Module
    /// Stage 1 at `baseChannels` planes, stride 1.
    @Child public var layer1: Module
    /// Stage 2 at 2·`baseChannels` planes, stride 2 (or dilated).
    @Child public var layer2: Module
    /// Stage 3 at 4·`baseChannels` planes, stride 2 (or dilated).
    @Child public var layer3: Module
    /// Stage 4 at 8·`baseChannels` planes, stride 2 (or dilated).
    @Child public var layer4: Module
    /// Global average pooling to 1×1.
    @Child public var avgpool: Module
    /// The classifier, 8·`baseChannels`·expansion → `numClasses`.
    @Child public var fc: Module
    /// Channels of the features entering `fc` (512 for ResNet-18/34, 2048 for ResNet-50+).
    public let featureChannels: Int

    /// Creates a ResNet as torchvision's `ResNet(block, layers, num_classes, zero_init_residual,
    /// groups, width_per_group, replace_stride_with_dilation)`.
    ///
    /// - Parameters:
    ///   - block: ``BasicBlock`` or ``Bottleneck``.
    ///   - layers: blocks per stage, four numbers (`[2, 2, 2, 2]` for ResNet-18).
    ///   - replaceStrideWithDilation: for stages 2–4, whether to dilate instead of striding.
    ///   - groups, widthPerGroup: the bottleneck's grouped width (ResNeXt: 32, 4).
    public init<Block: ResidualBlock>(block: Block.Type, layers: [Int], numClasses: Int = 1000, inChannels: Int = 3,
                                      zeroInitResidual: Bool = false, groups: Int = 1, widthPerGroup: Int = 64,
                                      replaceStrideWithDilation: [Bool] = [false, false, false],
                                      baseChannels: Int = 64, smallInputStem: Bool = false) {
        require(layers.count == 4, "ResNet: layers must give 4 stage depths, got \(layers)")
        require(replaceStrideWithDilation.count == 3,
                "ResNet: replaceStrideWithDilation must have 3 entries, got \(replaceStrideWithDilation)")
        conv1 = smallInputStem
            ? Conv2d(inChannels, baseChannels, kernelSize: 3, stride: 1, padding: 1, bias: false)
            : Conv2d(inChannels, baseChannels, kernelSize: 7, stride: 2, padding: 3, bias: false)
        bn1 = BatchNorm2d(baseChannels)
        relu = ReLU()
        maxpool = smallInputStem ? Identity() : MaxPool2d(3, stride: 2, padding: 1)

        // torchvision's `_make_layer`, with its running `inplanes` and `dilation`.
        var inPlanes = baseChannels, dilation = 1
        func makeLayer(planes: Int, blocks: Int, stride: Int = 1, dilate: Bool = false) -> Sequential {
            let previousDilation = dilation
            var stride = stride
            if dilate { dilation *= stride; stride = 1 }
            let outPlanes = planes * Block.expansion
            var downsample: Sequential? = nil
            if stride != 1 || inPlanes != outPlanes {
                downsample = Sequential(conv1x1(inPlanes, outPlanes, stride: stride), BatchNorm2d(outPlanes))
            }
            var stage: [Module] = [Block(inPlanes: inPlanes, planes: planes, stride: stride, downsample: downsample,
                                         groups: groups, baseWidth: widthPerGroup, dilation: previousDilation)]
            inPlanes = outPlanes
            for _ in 1..<max(blocks, 1) {
                stage.append(Block(inPlanes: inPlanes, planes: planes, stride: 1, downsample: nil,
                                   groups: groups, baseWidth: widthPerGroup, dilation: dilation))
            }
            return Sequential(stage)
        }
        require(layers.allSatisfy { $0 >= 1 }, "ResNet: every stage needs at least one block, got \(layers)")
        layer1 = makeLayer(planes: baseChannels, blocks: layers[0])
        layer2 = makeLayer(planes: 2 * baseChannels, blocks: layers[1], stride: 2, dilate: replaceStrideWithDilation[0])
        layer3 = makeLayer(planes: 4 * baseChannels, blocks: layers[2], stride: 2, dilate: replaceStrideWithDilation[1])
        layer4 = makeLayer(planes: 8 * baseChannels, blocks: layers[3], stride: 2, dilate: replaceStrideWithDilation[2])
        avgpool = AdaptiveAvgPool2d(1)
        featureChannels = 8 * baseChannels * Block.expansion
        fc = Linear(featureChannels, numClasses)
        super.init()
        initializeWeights(zeroInitResidual: zeroInitResidual)
    }

    /// torchvision's initialisation loop over every descendant.
    private func initializeWeights(zeroInitResidual: Bool) {
        for (_, module) in namedModules() {
            if let conv = module as? Conv2d {
                conv.weight.assign(Initializer.kaimingNormal(conv.weight.shape, mode: .fanOut, nonlinearity: .relu,
                                                             generator: &DefaultRandom.generator))
            } else if let norm = module as? BatchNorm {
                norm.weight?.assign(Tensor(ones: norm.weight!.shape))
                norm.bias?.assign(Tensor(zeros: norm.bias!.shape))
            }
        }
        guard zeroInitResidual else { return }
        for (_, module) in namedModules() {
            if let block = module as? ResidualBlock, let weight = (block.lastNorm as? BatchNorm)?.weight {
                weight.assign(Tensor(zeros: weight.shape))
            }
        }
    }

    /// Everything before `fc`: (N, inChannels, H, W) → (N, featureChannels).
    public func features(_ x: Tensor) -> Tensor {
        avgpool(stageOutputs(x)[3]).flattened(from: 1)
    }

    /// The outputs of `layer1` … `layer4` (C2 … C5 of a feature pyramid), for necks and
    /// segmentation heads: (N, inChannels, H, W) → four maps of `baseChannels·expansion·[1, 2, 4, 8]`
    /// channels at strides 4, 8, 16, 32 (1, 2, 4, 8 with `smallInputStem`; dilated stages keep
    /// their input's stride).
    public func stageOutputs(_ x: Tensor) -> [Tensor] {
        var y = maxpool(convolutionNormReLU(conv1, bn1, relu, x))
        return [layer1, layer2, layer3, layer4].map { stage in
            y = stage(y)
            return y
        }
    }

    /// (N, inChannels, H, W) → (N, numClasses).
    public override func forward(_ x: Tensor) -> Tensor { fc(features(x)) }

    // MARK: torchvision's configurations

    /// ResNet-18: ``BasicBlock`` × [2, 2, 2, 2] (11,689,512 parameters for 1000 classes).
    public static func resnet18(numClasses: Int = 1000, inChannels: Int = 3, smallInputStem: Bool = false,
                                zeroInitResidual: Bool = false) -> ResNet {
        ResNet(block: BasicBlock.self, layers: [2, 2, 2, 2], numClasses: numClasses, inChannels: inChannels,
               zeroInitResidual: zeroInitResidual, smallInputStem: smallInputStem)
    }

    /// ResNet-34: ``BasicBlock`` × [3, 4, 6, 3].
    public static func resnet34(numClasses: Int = 1000, inChannels: Int = 3, smallInputStem: Bool = false,
                                zeroInitResidual: Bool = false) -> ResNet {
        ResNet(block: BasicBlock.self, layers: [3, 4, 6, 3], numClasses: numClasses, inChannels: inChannels,
               zeroInitResidual: zeroInitResidual, smallInputStem: smallInputStem)
    }

    /// ResNet-50: ``Bottleneck`` × [3, 4, 6, 3] (25,557,032 parameters for 1000 classes).
    public static func resnet50(numClasses: Int = 1000, inChannels: Int = 3, smallInputStem: Bool = false,
                                zeroInitResidual: Bool = false) -> ResNet {
        ResNet(block: Bottleneck.self, layers: [3, 4, 6, 3], numClasses: numClasses, inChannels: inChannels,
               zeroInitResidual: zeroInitResidual, smallInputStem: smallInputStem)
    }

    /// ResNet-101: ``Bottleneck`` × [3, 4, 23, 3].
    public static func resnet101(numClasses: Int = 1000, inChannels: Int = 3, smallInputStem: Bool = false,
                                 zeroInitResidual: Bool = false) -> ResNet {
        ResNet(block: Bottleneck.self, layers: [3, 4, 23, 3], numClasses: numClasses, inChannels: inChannels,
               zeroInitResidual: zeroInitResidual, smallInputStem: smallInputStem)
    }

    /// ResNet-152: ``Bottleneck`` × [3, 8, 36, 3].
    public static func resnet152(numClasses: Int = 1000, inChannels: Int = 3, smallInputStem: Bool = false,
                                 zeroInitResidual: Bool = false) -> ResNet {
        ResNet(block: Bottleneck.self, layers: [3, 8, 36, 3], numClasses: numClasses, inChannels: inChannels,
               zeroInitResidual: zeroInitResidual, smallInputStem: smallInputStem)
    }

    /// ResNeXt-50 32×4d: ``Bottleneck`` × [3, 4, 6, 3], 32 groups of width 4.
    public static func resnext50_32x4d(numClasses: Int = 1000, inChannels: Int = 3, smallInputStem: Bool = false,
                                       zeroInitResidual: Bool = false) -> ResNet {
        ResNet(block: Bottleneck.self, layers: [3, 4, 6, 3], numClasses: numClasses, inChannels: inChannels,
               zeroInitResidual: zeroInitResidual, groups: 32, widthPerGroup: 4, smallInputStem: smallInputStem)
    }

    /// Wide ResNet-50-2: ``Bottleneck`` × [3, 4, 6, 3] with twice the inner width.
    public static func wideResnet50_2(numClasses: Int = 1000, inChannels: Int = 3, smallInputStem: Bool = false,
                                      zeroInitResidual: Bool = false) -> ResNet {
        ResNet(block: Bottleneck.self, layers: [3, 4, 6, 3], numClasses: numClasses, inChannels: inChannels,
               zeroInitResidual: zeroInitResidual, widthPerGroup: 128, smallInputStem: smallInputStem)
    }
}
