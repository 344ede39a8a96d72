// Argument labels renamed so that one word means one thing across the library, declared
// unavailable with the new name so that old code (and PyTorch's `nhead`) gets a fix-it:
//
//   number of attention heads   numHeads     (was nhead, as PyTorch's nn.Transformer*; heads)
//   image channels of a model   inChannels   (was inputChannels), as Conv2d, UNet and ViT
//   classes of a classifier     numClasses   (was classes), as torchvision's num_classes
//   stacked layers              numLayers    (was MambaClassifier's depth), as TransformerEncoder
//   a module's kernel side      kernelSize   (was CBAM's spatialKernel)
//
// PyTorch's own labels stay the only spelling where PyTorch has one: MultiheadAttention's
// embedDim, the transformer layers' dModel and dimFeedforward, torchvision ViT's hiddenDim and
// mlpDim, Mamba's dModel, dState, dConv. Each old label has no default here, so no call that
// the current initialiser takes can reach these.

extension TransformerEncoderLayer {
    /// PyTorch's `nn.TransformerEncoderLayer(d_model, nhead)`.
    @available(*, unavailable, renamed: "init(dModel:numHeads:dimFeedforward:dropout:activation:layerNormEps:batchFirst:normFirst:bias:)")
    public convenience init(dModel: Int, nhead: Int, dimFeedforward: Int = 2048, dropout: Float = 0.1,
                            activation: TransformerActivation = .relu, layerNormEps: Float = 1e-5,
                            batchFirst: Bool = false, normFirst: Bool = false, bias: Bool = true) { fatalError() }
}

extension TransformerDecoderLayer {
    /// PyTorch's `nn.TransformerDecoderLayer(d_model, nhead)`.
    @available(*, unavailable, renamed: "init(dModel:numHeads:dimFeedforward:dropout:activation:layerNormEps:batchFirst:normFirst:bias:)")
    public convenience init(dModel: Int, nhead: Int, dimFeedforward: Int = 2048, dropout: Float = 0.1,
                            activation: TransformerActivation = .relu, layerNormEps: Float = 1e-5,
                            batchFirst: Bool = false, normFirst: Bool = false, bias: Bool = true) { fatalError() }
}

extension LowFrequencyMixer {
    /// The former label `heads`.
    @available(*, unavailable, renamed: "init(dim:numHeads:poolSize:qkvBias:)")
    public convenience init(dim: Int, heads: Int, poolSize: Int = 2, qkvBias: Bool = true) { fatalError() }

    /// The former name of ``numHeads``.
    @available(*, unavailable, renamed: "numHeads")
    public var heads: Int { fatalError() }
}

extension InceptionMixer {
    /// The former label `heads`.
    @available(*, unavailable, renamed: "init(dim:numHeads:attentionHeads:poolSize:qkvBias:)")
    public convenience init(dim: Int, heads: Int, attentionHeads: Int, poolSize: Int = 2, qkvBias: Bool = true) {
        fatalError()
    }
}

extension InceptionTransformerBlock {
    /// The former label `heads`.
    @available(*, unavailable, renamed: "init(dim:numHeads:attentionHeads:poolSize:mlpRatio:layerScale:dropPath:)")
    public convenience init(dim: Int, heads: Int, attentionHeads: Int, poolSize: Int = 2, mlpRatio: Int = 4,
                            layerScale: Float? = nil) { fatalError() }
}

extension CBAM {
    /// The former label `spatialKernel`.
    @available(*, unavailable, renamed: "init(channels:reduction:kernelSize:)")
    public convenience init(channels: Int, reduction: Int = 16, spatialKernel: Int) { fatalError() }
}

extension ResNet {
    /// The former label `inputChannels`.
    @available(*, unavailable, renamed: "init(block:layers:numClasses:inChannels:zeroInitResidual:groups:widthPerGroup:replaceStrideWithDilation:baseChannels:smallInputStem:)")
    public convenience init<Block: ResidualBlock>(block: Block.Type, layers: [Int], numClasses: Int = 1000, inputChannels: Int,
                                                  zeroInitResidual: Bool = false, groups: Int = 1, widthPerGroup: Int = 64,
                                                  replaceStrideWithDilation: [Bool] = [false, false, false],
                                                  baseChannels: Int = 64, smallInputStem: Bool = false) { fatalError() }

    /// The former label `inputChannels`.
    @available(*, unavailable, renamed: "resnet18(numClasses:inChannels:smallInputStem:zeroInitResidual:)")
    public static func resnet18(numClasses: Int = 1000, inputChannels: Int, smallInputStem: Bool = false,
                                zeroInitResidual: Bool = false) -> ResNet { fatalError() }

    /// The former label `inputChannels`.
    @available(*, unavailable, renamed: "resnet34(numClasses:inChannels:smallInputStem:zeroInitResidual:)")
    public static func resnet34(numClasses: Int = 1000, inputChannels: Int, smallInputStem: Bool = false,
                                zeroInitResidual: Bool = false) -> ResNet { fatalError() }

    /// The former label `inputChannels`.
    @available(*, unavailable, renamed: "resnet50(numClasses:inChannels:smallInputStem:zeroInitResidual:)")
    public static func resnet50(numClasses: Int = 1000, inputChannels: Int, smallInputStem: Bool = false,
                                zeroInitResidual: Bool = false) -> ResNet { fatalError() }

    /// The former label `inputChannels`.
    @available(*, unavailable, renamed: "resnet101(numClasses:inChannels:smallInputStem:zeroInitResidual:)")
    public static func resnet101(numClasses: Int = 1000, inputChannels: Int, smallInputStem: Bool = false,
                                 zeroInitResidual: Bool = false) -> ResNet { fatalError() }

    /// The former label `inputChannels`.
    @available(*, unavailable, renamed: "resnet152(numClasses:inChannels:smallInputStem:zeroInitResidual:)")
    public static func resnet152(numClasses: Int = 1000, inputChannels: Int, smallInputStem: Bool = false,
                                 zeroInitResidual: Bool = false) -> ResNet { fatalError() }

    /// The former label `inputChannels`.
    @available(*, unavailable, renamed: "resnext50_32x4d(numClasses:inChannels:smallInputStem:zeroInitResidual:)")
    public static func resnext50_32x4d(numClasses: Int = 1000, inputChannels: Int, smallInputStem: Bool = false,
                                       zeroInitResidual: Bool = false) -> ResNet { fatalError() }

    /// The former label `inputChannels`.
    @available(*, unavailable, renamed: "wideResnet50_2(numClasses:inChannels:smallInputStem:zeroInitResidual:)")
    public static func wideResnet50_2(numClasses: Int = 1000, inputChannels: Int, smallInputStem: Bool = false,
                                      zeroInitResidual: Bool = false) -> ResNet { fatalError() }
}

extension UMamba {
    /// The former labels `inputChannels` and `classes`.
    @available(*, unavailable, renamed: "init(inChannels:numClasses:variant:featuresPerStage:strides:kernelSize:blocksPerStage:decoderBlocksPerStage:imageSize:dState:dConv:expand:)")
    public convenience init(inputChannels: Int, classes: Int, variant: Variant = .bottleneck,
                            featuresPerStage: [Int] = [32, 64, 128, 256], strides: [Int]? = nil, kernelSize: Int = 3,
                            blocksPerStage: [Int]? = nil, decoderBlocksPerStage: [Int]? = nil, imageSize: [Int]? = nil,
                            dState: Int = 16, dConv: Int = 4, expand: Int = 2) { fatalError() }
}

extension MambaClassifier {
    /// The former labels `classes` and `depth`.
    @available(*, unavailable, renamed: "init(rowSize:numClasses:dModel:numLayers:dState:dConv:expand:)")
    public convenience init(rowSize: Int = 28, classes: Int, dModel: Int = 64, depth: Int = 2, dState: Int = 16,
                            dConv: Int = 4, expand: Int = 2) { fatalError() }

    /// The former label `depth`.
    @available(*, unavailable, renamed: "init(rowSize:numClasses:dModel:numLayers:dState:dConv:expand:)")
    public convenience init(rowSize: Int = 28, numClasses: Int = 10, dModel: Int = 64, depth: Int, dState: Int = 16,
                            dConv: Int = 4, expand: Int = 2) { fatalError() }
}

extension FashionModels {
    /// The former label `classes`.
    @available(*, unavailable, renamed: "smallCNN(numClasses:)")
    public static func smallCNN(classes: Int) -> Sequential { fatalError() }

    /// The former label `classes`.
    @available(*, unavailable, renamed: "batchNormCNN(numClasses:)")
    public static func batchNormCNN(classes: Int) -> Sequential { fatalError() }
}
