import DeepCore
@testable import DeepNN
import TestSupport
import XCTest

/// `fuseForInference()`: BatchNorm folded into the preceding Conv2d or Linear leaves the
/// evaluation-mode outputs as they were.
final class InferenceFusionTests: XCTestCase {
    /// Gives every BatchNorm of `model` running statistics and affine parameters away from the
    /// defaults, so that folding has something to fold.
    func randomizeNorms(_ model: Module) {
        withoutGrad {
            for case let norm as BatchNorm in model.namedModules().map(\.1) {
                let c = norm.runningMean.count
                norm.runningMean.assign(Tensor.randn([c]) * 0.5)
                norm.runningVar.assign(Tensor.rand([c], low: 0.5, high: 2))
                norm.weight?.assign(Tensor.rand([c], low: 0.5, high: 1.5))
                norm.bias?.assign(Tensor.randn([c]) * 0.2)
            }
        }
    }

    func testResNetFoldsEveryNormAndKeepsItsOutputs() {
        manualSeed(1)
        let model = ResNet.resnet18(numClasses: 10)
        randomizeNorms(model)
        model.eval()
        let x = Tensor.randn([2, 3, 32, 32])
        let before = withoutGrad { model(x) }
        let parametersBefore = model.parameterCount
        // The stem, two per block (8 blocks) and the three downsample paths.
        XCTAssertEqual(model.fuseForInference(), 1 + 16 + 3)
        assertClose(withoutGrad { model(x) }, before, atol: 1e-4, rtol: 1e-4)
        let keys = model.stateDict().keys
        XCTAssertFalse(keys.contains { $0.hasSuffix("running_mean") }, "\(keys.sorted())")
        XCTAssertTrue(keys.contains("layer1.0.conv1.bias") && keys.contains("layer2.0.downsample.0.bias") && keys.contains("conv1.bias"))
        XCTAssertLessThan(model.parameterCount, parametersBefore)
        XCTAssertEqual(model.fuseForInference(), 0, "a second call finds nothing left")
    }

    func testSequentialFoldsConvolutionAndLinearPairs() {
        manualSeed(2)
        let model = Sequential(Conv2d(3, 8, kernelSize: 3, padding: 1, groups: 1, bias: true), BatchNorm2d(8), ReLU(),
                               Conv2d(8, 8, kernelSize: 3, stride: 2, padding: 2, dilation: 2, groups: 4, bias: false),
                               BatchNorm2d(8, affine: false), Flatten(), Linear(8 * 4 * 4, 6), BatchNorm1d(6), ReLU(), Linear(6, 2))
        randomizeNorms(model)
        model.eval()
        let x = Tensor.randn([3, 3, 8, 8])
        let before = withoutGrad { model(x) }
        let draw = DefaultRandom.generator
        XCTAssertEqual(model.fuseForInference(), 3)
        XCTAssertEqual(DefaultRandom.generator.state, draw.state, "folding draws nothing from the default generator")
        assertClose(withoutGrad { model(x) }, before, atol: 1e-5, rtol: 1e-4)
        XCTAssertTrue(model.layers[1] is Identity && model.layers[4] is Identity && model.layers[7] is Identity)
        XCTAssertEqual((model.layers[3] as? Conv2d)?.groups, 4)
        // The ReLU after the first convolution (past its folded norm) moved into it; the one after
        // the Linear stays.
        XCTAssertEqual((model.layers[0] as? Conv2d)?.activation, .relu)
        XCTAssertTrue(model.layers[2] is Identity && model.layers[8] is ReLU)
        XCTAssertEqual((model.layers[3] as? Conv2d)?.activation, ConvolutionActivation.none)
    }

    /// ResNet's blocks after fusion: the stem and each block's first convolution apply their ReLU,
    /// the last convolution of each block adds the shortcut and applies the ReLU in its output
    /// pass; outputs as before (BasicBlock and Bottleneck); training the unfused model is
    /// unchanged; the fused model still exports to ONNX with its Add and Relu nodes.
    func testResNetBlocksFuseTheirReLUsAndResiduals() throws {
        manualSeed(6)
        for model in [ResNet.resnet18(numClasses: 10), ResNet(block: Bottleneck.self, layers: [1, 1, 1, 1], numClasses: 10)] {
            randomizeNorms(model)
            model.eval()
            let x = Tensor.randn([2, 3, 32, 32])
            let before = withoutGrad { model(x) }
            let nodesBefore = try model.onnxModel(inputShapes: [[2, 3, 32, 32]]).graph.node.map(\.opType)
            model.fuseForInference()
            XCTAssertEqual((model.conv1 as? Conv2d)?.activation, .relu)
            let block = model.layer1.namedChildren()[0].1
            XCTAssertEqual((block.namedChildren().first { $0.0 == "conv1" }?.1 as? Conv2d)?.activation, .relu)
            let last = block is Bottleneck ? "conv3" : "conv2"
            XCTAssertEqual((block.namedChildren().first { $0.0 == last }?.1 as? Conv2d)?.activation, ConvolutionActivation.none,
                           "the block fuses the residual and its ReLU itself")
            assertClose(withoutGrad { model(x) }, before, atol: 1e-4, rtol: 1e-4)
            let nodes = try model.onnxModel(inputShapes: [[2, 3, 32, 32]]).graph.node.map(\.opType)
            XCTAssertEqual(nodes.filter { $0 == "Relu" }.count, nodesBefore.filter { $0 == "Relu" }.count)
            XCTAssertEqual(nodes.filter { $0 == "Add" }.count, nodesBefore.filter { $0 == "Add" }.count)
            XCTAssertFalse(nodes.contains("BatchNormalization"))
        }
    }

    func testNormsThatCannotFoldAreLeft() {
        let model = Sequential(ReLU(), BatchNorm2d(4), Conv2d(4, 4, kernelSize: 1), BatchNorm2d(3, trackRunningStats: false))
        model.eval()
        XCTAssertEqual(model.fuseForInference(), 0)
        XCTAssertTrue(model.layers[1] is BatchNorm2d && model.layers[3] is BatchNorm2d)
    }

    /// A 3×3 stride-1 convolution of 64 channels runs Winograd: its transformed weight is kept by
    /// the cache between calls that record no gradient, and only by those.
    func testWeightCacheKeepsTheTransformForInferenceOnly() {
        manualSeed(4)
        let conv = Conv2d(64, 64, kernelSize: 3, padding: 1)
        let x = Tensor.randn([1, 64, 16, 16])
        let plain = withoutGrad { conv(x) }
        let cache = ConvolutionWeightCache()
        _ = conv2d(x, conv.weight, bias: conv.bias, padding: [1, 1], weightCache: cache)
        XCTAssertFalse(cache.isFilled, "a call recording the weight's gradient does not use the cache")
        let first = withoutGrad { conv2d(x, conv.weight, bias: conv.bias, padding: [1, 1], weightCache: cache) }
        XCTAssertTrue(cache.isFilled)
        assertClose(first, plain, atol: 1e-5)
        assertClose(withoutGrad { conv2d(x, conv.weight, bias: conv.bias, padding: [1, 1], weightCache: cache) }, plain, atol: 1e-5)
        // Changed weights need the cache cleared.
        withoutGrad { conv.weight.assign(conv.weight * 2) }
        cache.clear()
        assertClose(withoutGrad { conv2d(x, conv.weight, bias: conv.bias, padding: [1, 1], weightCache: cache) },
                    withoutGrad { conv(x) }, atol: 1e-5)
        // fuseForInference gives every Conv2d a cache, filled by the first evaluation call.
        let model = Sequential(conv, ReLU())
        model.eval()
        model.fuseForInference()
        XCTAssertNotNil(conv.inferenceCache)
        _ = withoutGrad { model(x) }
        XCTAssertEqual(conv.inferenceCache?.isFilled, true)
    }
}
