import DeepCore

// CFPNet's neck (Quan et al. 2023, "Centralized Feature Pyramid for Object Detection";
// QY1994-0919/CFPNet, cfp/models/yolo_pafpn.py `YOLOPAFPN` without its backbone): YOLOX's PAFPN
// with the explicit visual center (``EVCBlock``) on the deepest level. The global centralized
// regulation (GCR) is the top-down path: the EVC's output of the deepest level is concatenated
// into the next level and, through it, reaches every shallower one; the bottom-up path then
// carries the regulated features back up. Names are the official ones, so the neck's keys
// line up with CFPNet checkpoints (under their `backbone.`-less part).

/// CFPNet's centralized feature pyramid over three backbone levels C3, C4, C5 (strides s, 2s,
/// 4s; channels c₃, c₄, c₅), e.g. `ResNet.stageOutputs(_:)[1...3]`:
///
///     p5  = lateral_conv0(C5)                                  // 1×1, c₅ → c₄
///     t4  = C3_p4(concat[evcblock(up(p5)), C4])                // EVC at C4's size (GCR), 2c₄ → c₄
///     p4  = reduce_conv1(t4)                                   // 1×1, c₄ → c₃
///     P3  = C3_p3(concat[up(p4), C3])                          // 2c₃ → c₃
///     P4  = C3_n3(concat[bu_conv2(P3), p4])                    // 3×3 stride 2; 2c₃ → c₄
///     P5  = C3_n4(concat[bu_conv1(P4), p5])                    // 3×3 stride 2; 2c₄ → c₅
///
/// `up` is nearest up-sampling ×2; the convolutions are YOLOX `BaseConv`s (``ConvBatchNormSiLU``);
/// the `C3_…` are ``CSPLayer``s without shortcuts. CFPNet builds its EVC block for 2c₃ input
/// channels (`EVCBlock(2·c₃, c₄)`), so its checkpoints have c₄ = 2c₃, as every YOLOX width does.
/// YOLOX's training recipe sets BatchNorm eps 1e-3 and momentum 0.03 after building; here they
/// keep PyTorch's defaults.
///
/// Children: `lateral_conv0`, `evcblock`, `C3_p4`, `reduce_conv1`, `C3_p3`, `bu_conv2`, `C3_n3`,
/// `bu_conv1`, `C3_n4`.
/// Shape: [(N, c₃, H, W), (N, c₄, H/2, W/2), (N, c₅, H/4, W/4)] → the same shapes, H and W
/// divisible by 4.
public final class CentralizedFeaturePyramid: Module {
    /// 1×1 lateral convolution of the deepest level, c₅ → c₄.
    public let lateralConv0: ConvBatchNormSiLU
    /// The explicit visual center on the up-sampled deepest level (c₄ channels).
    public let evcblock: EVCBlock
    /// Top-down CSP layer at C4's level, 2c₄ → c₄ (`C3_p4`).
    @Child public var topDown4: CSPLayer
    /// 1×1 reduction c₄ → c₃ before the up-sampling to C3's level.
    public let reduceConv1: ConvBatchNormSiLU
    /// Top-down CSP layer at C3's level, 2c₃ → c₃, output P3 (`C3_p3`).
    @Child public var topDown3: CSPLayer
    /// Bottom-up 3×3 stride-2 convolution P3 → C4's level, c₃ → c₃.
    public let buConv2: ConvBatchNormSiLU
    /// Bottom-up CSP layer at C4's level, 2c₃ → c₄, output P4 (`C3_n3`).
    @Child public var bottomUp4: CSPLayer
    /// Bottom-up 3×3 stride-2 convolution P4 → C5's level, c₄ → c₄.
    public let buConv1: ConvBatchNormSiLU
    /// Bottom-up CSP layer at C5's level, 2c₄ → c₅, output P5 (`C3_n4`).
    @Child public var bottomUp5: CSPLayer

    /// Creates the neck.
    ///
    ///     let neck = CentralizedFeaturePyramid(inChannels: [128, 256, 512])      // ResNet-18's C3…C5
    ///     let (p3, p4, p5) = neck(Array(backbone.stageOutputs(x)[1...]))
    ///
    /// - Parameters:
    ///   - inChannels: c₃, c₄, c₅ (c₄ a multiple of 4, for the EVC's bottleneck).
    ///   - depth: bottlenecks per CSP layer (CFPNet-S: round(3·0.33) = 1).
    ///   - positionLinear: create the unused `Linear` of CFPNet's LightMLP, so its checkpoints
    ///     load strictly (see ``EVCBlock/init(channels:positionLinear:)``).
    public init(inChannels: [Int], depth: Int = 1, positionLinear: Bool = false) {
        require(inChannels.count == 3 && inChannels.allSatisfy { $0 > 0 } && inChannels[1] % 4 == 0 && depth >= 0,
                "CentralizedFeaturePyramid: inChannels \(inChannels) should be three positive counts, the second a multiple of 4; depth \(depth)")
        let (c3, c4, c5) = (inChannels[0], inChannels[1], inChannels[2])
        lateralConv0 = ConvBatchNormSiLU(c5, c4)
        evcblock = EVCBlock(channels: c4, positionLinear: positionLinear)
        _topDown4 = Child(wrappedValue: CSPLayer(2 * c4, c4, depth: depth, shortcut: false), key: "C3_p4")
        reduceConv1 = ConvBatchNormSiLU(c4, c3)
        _topDown3 = Child(wrappedValue: CSPLayer(2 * c3, c3, depth: depth, shortcut: false), key: "C3_p3")
        buConv2 = ConvBatchNormSiLU(c3, c3, kernelSize: 3, stride: 2)
        _bottomUp4 = Child(wrappedValue: CSPLayer(2 * c3, c4, depth: depth, shortcut: false), key: "C3_n3")
        buConv1 = ConvBatchNormSiLU(c4, c4, kernelSize: 3, stride: 2)
        _bottomUp5 = Child(wrappedValue: CSPLayer(2 * c4, c5, depth: depth, shortcut: false), key: "C3_n4")
        super.init()
    }

    /// The pyramid P3, P4, P5 of backbone levels C3, C4, C5 (finest first).
    public func callAsFunction(_ features: [Tensor]) -> [Tensor] {
        traced(inputs: features) { pyramid(features) }
    }

    /// The computation of the call.
    private func pyramid(_ features: [Tensor]) -> [Tensor] {
        let channels = [reduceConv1.conv.weight.shape[0], lateralConv0.conv.weight.shape[0], lateralConv0.conv.weight.shape[1]]
        guard shapeCheck(features.count == 3 && zip(features, channels).allSatisfy { $0.rank == 4 && $0.shape[1] == $1 },
                         "CentralizedFeaturePyramid: feature maps of shapes \(features.map(\.shape)), expected three (N, C, H, W) with C = \(channels)")
        else { return [.shapeFailure] }
        let (c3, c4, c5) = (features[0], features[1], features[2])
        func up(_ x: Tensor) -> Tensor { interpolate(x, scale: 2, mode: .nearest) }
        let p5 = lateralConv0(c5)
        let regulated = evcblock(up(p5))
        guard shapeCheck(regulated.shape[2...] == c4.shape[2...] && up(regulated).shape[2...] == c3.shape[2...],
                         "CentralizedFeaturePyramid: levels of shapes \(features.map(\.shape)) should halve in size level by level")
        else { return [.shapeFailure] }
        let p4 = reduceConv1(topDown4(Tensor.concatenate([regulated, c4], axis: 1)))
        let out3 = topDown3(Tensor.concatenate([up(p4), c3], axis: 1))
        let out4 = bottomUp4(Tensor.concatenate([buConv2(out3), p4], axis: 1))
        let out5 = bottomUp5(Tensor.concatenate([buConv1(out4), p5], axis: 1))
        return [out3, out4, out5]
    }
}

/// YOLOX's CSP layer (YOLOv5's C3): two 1×1 branches of hidden = out/2 channels, `depth`
/// bottlenecks on the first, concatenation, 1×1 fusion:
///
///     out = conv3(concat[m(conv1(x)), conv2(x)])
///
/// Children: `conv1`, `conv2`, `conv3` (``ConvBatchNormSiLU``), `m` (``Sequential`` of
/// ``CSPBottleneck``).
/// Shape: (N, in, H, W) → (N, out, H, W).
public final class CSPLayer: Module {
    /// 1×1, in → hidden, into the bottlenecks.
    public let conv1: ConvBatchNormSiLU
    /// 1×1, in → hidden, the bypass.
    public let conv2: ConvBatchNormSiLU
    /// 1×1, 2·hidden → out.
    public let conv3: ConvBatchNormSiLU
    /// The bottlenecks.
    public let m: Sequential

    /// Creates the layer (YOLOX: expansion 0.5, so hidden = out/2).
    public init(_ inChannels: Int, _ outChannels: Int, depth: Int = 1, shortcut: Bool = true) {
        let hidden = outChannels / 2
        require(hidden > 0, "CSPLayer: \(outChannels) output channels leave no hidden channel")
        conv1 = ConvBatchNormSiLU(inChannels, hidden)
        conv2 = ConvBatchNormSiLU(inChannels, hidden)
        conv3 = ConvBatchNormSiLU(2 * hidden, outChannels)
        m = Sequential((0..<depth).map { _ in CSPBottleneck(hidden, hidden, shortcut: shortcut) })
        super.init()
    }

    /// (N, in, H, W) → (N, out, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        conv3(Tensor.concatenate([m(conv1(x)), conv2(x)], axis: 1))
    }
}

/// YOLOX's `Bottleneck` inside a CSP layer (expansion 1): conv2(conv1(x)) with a 1×1 `conv1` and
/// a 3×3 `conv2` (``ConvBatchNormSiLU``), plus x when `shortcut` and the widths agree.
/// Shape: (N, in, H, W) → (N, out, H, W).
public final class CSPBottleneck: Module {
    /// 1×1, in → out.
    public let conv1: ConvBatchNormSiLU
    /// 3×3, out → out.
    public let conv2: ConvBatchNormSiLU
    /// Whether the input is added (shortcut with equal widths).
    public let usesShortcut: Bool

    /// Creates the bottleneck.
    public init(_ inChannels: Int, _ outChannels: Int, shortcut: Bool = true) {
        conv1 = ConvBatchNormSiLU(inChannels, outChannels)
        conv2 = ConvBatchNormSiLU(outChannels, outChannels, kernelSize: 3)
        usesShortcut = shortcut && inChannels == outChannels
        super.init()
    }

    /// (N, in, H, W) → (N, out, H, W).
    public override func forward(_ x: Tensor) -> Tensor {
        let y = conv2(conv1(x))
        return usesShortcut ? y + x : y
    }
}
