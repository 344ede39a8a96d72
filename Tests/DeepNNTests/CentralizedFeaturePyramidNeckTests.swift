import XCTest
import Foundation
import DeepCore
import DeepNN

/// CFPNet's neck against CFPNet's own `YOLOPAFPN` (Tests/Fixtures/make_cfp_neck.py): state-dict
/// keys and shapes, outputs in eval mode; a summary over ResNet-18's stages; training on top of
/// a ResNet.
final class CentralizedFeaturePyramidNeckTests: XCTestCase {
    /// CFPNet-S at width 0.0625: levels of 8, 16 and 32 channels, one bottleneck per CSP layer.
    private func fixtureNeck() -> CentralizedFeaturePyramid {
        CentralizedFeaturePyramid(inChannels: [8, 16, 32], depth: 1, positionLinear: true)
    }

    func testStateDictKeysAndShapesEqualCFPNet() throws {
        let data = try Data(contentsOf: fixtureURL("cfp_neck_keys.json"))
        let entries = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [[Any]])
        let official = entries.map { "\($0[0]) \(($0[1] as? [Int]) ?? [-1])" }
        let library = TorchModelFixtures.moduleOrderedState(fixtureNeck()).map { "\($0.key) \($0.shape)" }
        XCTAssertEqual(library, official)
        XCTAssertEqual(official.count, 215)
    }

    func testOutputsMatchCFPNetInEvalMode() throws {
        let neck = fixtureNeck()
        try fillByFormula(neck)
        neck.eval()
        let levels = [[1, 8, 8, 8], [1, 16, 4, 4], [1, 32, 2, 2]].enumerated().map { formulaTensor($0.element, k: 1000 + $0.offset) }
        let outputs = neck(levels)
        let expected = loadFixtures("cfp_neck")
        XCTAssertEqual(outputs.count, 3)
        for (i, y) in outputs.enumerated() {
            assertClose(y, try XCTUnwrap(expected["neck.y\(i)"]), atol: 1e-4, rtol: 1e-4, "P\(i + 3)")
        }
    }

    func testSummaryOverResNet18Stages() throws {
        let neck = CentralizedFeaturePyramid(inChannels: [128, 256, 512])
        let shapes = [[2, 128, 28, 28], [2, 256, 14, 14], [2, 512, 7, 7]]
        let s = try neck.summary(inputs: shapes) { neck($0)[2] }
        XCTAssertEqual(s.outputShape, [2, 512, 7, 7])
        XCTAssertEqual(s.rows.first { $0.path.isEmpty }?.inputShapes, shapes)
        for (path, shape) in [("lateral_conv0", [2, 256, 7, 7]), ("evcblock", [2, 256, 14, 14]), ("C3_p3", [2, 128, 28, 28]),
                              ("C3_n3", [2, 256, 14, 14]), ("C3_n4", [2, 512, 7, 7])] {
            XCTAssertEqual(s.rows.first { $0.path == path }?.outputShape, shape, path)
        }
        XCTAssertEqual(s.totalParameters, neck.parameterCount)
        XCTAssertThrowsError(try neck.summary(inputs: [[2, 128, 28, 28], [2, 256, 14, 14], [2, 512, 6, 6]]) { neck($0)[0] })
    }

    /// A ResNet's C3…C5 through the neck, pooled and classified.
    private final class PyramidClassifier: Module {
        let backbone = ResNet(block: BasicBlock.self, layers: [1, 1, 1, 1], numClasses: 2, baseChannels: 8)
        let neck = CentralizedFeaturePyramid(inChannels: [16, 32, 64])
        let fc = Linear(16 + 32 + 64, 3)

        override func forward(_ x: Tensor) -> Tensor {
            let pyramid = neck(Array(backbone.stageOutputs(x)[1...]))
            return fc(Tensor.concatenate(pyramid.map { $0.mean(axes: [2, 3]) }, axis: 1))
        }
    }

    func testTrainingStepsThroughAResNetBackbone() {
        manualSeed(7)
        let model = PyramidClassifier()
        let losses = trainOnBatch(model, inputs: Tensor.randn([6, 3, 32, 32]), labels: [0, 1, 2, 0, 1, 2], steps: 12, learningRate: 1e-2)
        assertLossFalls(losses)
        XCTAssertNotNil(model.neck.evcblock.conv1.weight.grad)
        XCTAssertNotNil(model.neck.lateralConv0.conv.weight.grad)
    }
}
