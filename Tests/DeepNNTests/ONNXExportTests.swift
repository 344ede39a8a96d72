import DeepCore
@testable import DeepNN
import Foundation
import TestSupport
import XCTest

/// ONNX export of the model zoo: each model, with seeded weights and randomised normalisation
/// statistics (and a non-zero ViT head), exports; the graph has opset 17, the state-dict names as initializers, a dynamic
/// batch axis and the expected node types; and the library's forward matches ONNX Runtime's
/// outputs on the exported file (Tests/Fixtures/onnx_reference.json, from scripts/check-onnx.sh).
///
/// With ONNX_EXPORT_DIR set (scripts/check-onnx.sh), each case also writes `<name>.onnx` and the
/// library's inputs and outputs (`<name>.input.npy`, `<name>.output.npy`, and a batch of 3 as
/// `<name>.batch3.*`) there for the live check, and skips the committed reference.
final class ONNXExportTests: XCTestCase {
    /// A model of the zoo in a small configuration, its input shape and node types its graph must have.
    struct Case {
        let name: String
        let inputShape: [Int]
        let ops: Set<String>
        /// State-dict prefixes the forward does not read (no initializer for them).
        var unused: [String] = []
        let make: () -> Module
    }

    static let resnet18 = Case(name: "resnet18", inputShape: [1, 3, 32, 32],
                               ops: ["Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "GlobalAveragePool", "Gemm"]) {
        ResNet.resnet18(numClasses: 10)
    }
    static let unet = Case(name: "unet", inputShape: [1, 3, 16, 16],
                           ops: ["Conv", "BatchNormalization", "Relu", "MaxPool", "ConvTranspose", "Concat"]) {
        UNet(inChannels: 3, numClasses: 2, depth: 2, baseChannels: 8)
    }
    static let unetBilinear = Case(name: "unet_bilinear", inputShape: [1, 3, 16, 16],
                                   ops: ["Conv", "BatchNormalization", "Relu", "MaxPool", "Resize", "Concat"]) {
        UNet(inChannels: 3, numClasses: 2, depth: 2, baseChannels: 8, bilinear: true)
    }

    static let vit = Case(name: "vit", inputShape: [1, 3, 16, 16],
                          ops: ["LayerNormalization", "MatMul", "Softmax", "Erf", "Gemm", "Expand", "Concat", "Transpose", "Slice"]) {
        smallViT()
    }
    /// The ViT with a mixture of 4 experts (top-2) as the feed-forward of every block.
    static let vitMoE = Case(name: "vit_moe", inputShape: [1, 3, 16, 16],
                             ops: ["TopK", "GatherElements", "ScatterElements", "Softmax", "MatMul"]) {
        let model = smallViT()
        for block in 0..<2 {
            try! model.replace(path: "encoder.layers.encoder_layer_\(block).mlp", with: MoE(dModel: 16, numExperts: 4, hidden: 32, topK: 2))
        }
        return model
    }

    static let mamba = Case(name: "mamba", inputShape: [1, 1, 8, 8],
                            ops: ["Scan", "Conv", "Softplus", "Exp", "Sigmoid", "ReduceMean", "Gemm"]) {
        MambaClassifier(rowSize: 8, numClasses: 10, dModel: 16, numLayers: 2, dState: 4)
    }
    static let umamba = Case(name: "umamba", inputShape: [1, 1, 16, 16],
                             ops: ["Scan", "InstanceNormalization", "LeakyRelu", "Conv"],
                             unused: ["decoder.seg_layers.0."]) {   // deep supervision's extra head
        UMamba(inChannels: 1, numClasses: 3, featuresPerStage: [4, 8, 16], dState: 4)
    }

    /// einops layers: patches by `Rearrange`, a `Linear` per patch, a mean over patches by `Reduce`.
    static let einops = Case(name: "einops", inputShape: [1, 3, 8, 8], ops: ["Reshape", "Transpose", "ReduceSum"]) {
        Sequential(Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", ["p1": 4, "p2": 4]), Linear(48, 8),
                   Reduce("b n d -> b d", .mean))
    }

    static func smallViT() -> VisionTransformer {
        VisionTransformer(imageSize: 16, patchSize: 4, numLayers: 2, numHeads: 2, hiddenDim: 16, mlpDim: 32,
                          numClasses: 10, inChannels: 3)
    }

    func testResNet18() throws { try check(Self.resnet18) }
    func testViT() throws { try check(Self.vit) }
    func testViTWithMoE() throws { try check(Self.vitMoE) }
    func testMambaClassifier() throws { try check(Self.mamba) }
    func testUMamba() throws { try check(Self.umamba) }
    func testUNet() throws { try check(Self.unet) }
    func testUNetBilinear() throws { try check(Self.unetBilinear) }
    func testEinopsLayers() throws { try check(Self.einops) }

    /// An op without an ONNX form throws, naming the op and the module path.
    func testUnsupportedOpNamesOpAndModule() {
        let model = Sequential(Linear(4, 4), ExportProbe { $0.cumulativeSum(along: 1) })
        XCTAssertThrowsError(try model.onnxModel(inputShapes: [[2, 4]])) { error in
            let error = error as? ONNXExportError
            XCTAssertEqual(error?.kind, .unsupportedOp)
            XCTAssertTrue(error?.message.contains("cumulativeSum") ?? false, error?.message ?? "")
            XCTAssertTrue(error?.message.contains("1 (ExportProbe)") ?? false, error?.message ?? "")
        }
    }

    /// A constant built from the batch size cannot be fixed in the graph: the export throws.
    func testBatchDependentConstantThrows() {
        let model = ExportProbe { x in x + Tensor(zeros: x.shape) }
        XCTAssertThrowsError(try model.onnxModel(inputShapes: [[2, 3]])) { error in
            XCTAssertEqual((error as? ONNXExportError)?.kind, .inputDependent)
        }
    }

    /// A file is written only when the export succeeds; reshapes keep the batch open.
    func testExportWritesFileWithDynamicReshape() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-test-\(getpid()).onnx")
        defer { try? FileManager.default.removeItem(at: url) }
        let model = Sequential(Flatten(), Linear(12, 5))
        try model.exportONNX(to: url, inputShapes: [[2, 3, 4]])
        let proto = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: url))
        XCTAssertEqual(proto.graph.node.map(\.opType), ["Reshape", "Gemm", "Identity"])
        let target = proto.graph.initializer.first { $0.name == proto.graph.node[0].input[1] }
        XCTAssertEqual(target?.int64Data, [-1, 12])
        XCTAssertEqual(Set(proto.graph.initializer.map(\.name)).isSuperset(of: ["1.weight", "1.bias"]), true)
    }

    // MARK: Helpers

    private func check(_ testCase: Case, file: StaticString = #filePath, line: UInt = #line) throws {
        manualSeed(20)
        let model = testCase.make()
        randomizeNormalization(model)
        model.eval()
        var generator = RandomGenerator(seed: 7)
        let x = Tensor.randn(testCase.inputShape, generator: &generator)
        let y = withoutGrad { model(x) }
        let proto = try model.onnxModel(inputShapes: [testCase.inputShape])

        XCTAssertEqual(proto.opsetImport.map(\.version), [17], file: file, line: line)
        let stateNames = Set(model.stateDict().keys.filter { name in
            !name.hasSuffix("num_batches_tracked") && !testCase.unused.contains { name.hasPrefix($0) }
        })
        let initializers = Set(proto.graph.initializer.map(\.name))
        XCTAssertTrue(stateNames.isSubset(of: initializers), "missing initializers \(stateNames.subtracting(initializers).sorted())",
                      file: file, line: line)
        XCTAssertEqual(proto.graph.input.first?.type.tensorType.shape.dim.first?.dimParam, "batch", file: file, line: line)
        XCTAssertEqual(proto.graph.output.first?.type.tensorType.shape.dim.first?.dimParam, "batch", file: file, line: line)
        let ops = Set(proto.graph.node.map(\.opType))
        XCTAssertTrue(testCase.ops.isSubset(of: ops), "missing node types \(testCase.ops.subtracting(ops).sorted())", file: file, line: line)

        if let directory = ProcessInfo.processInfo.environment["ONNX_EXPORT_DIR"] {
            let base = URL(fileURLWithPath: directory).appendingPathComponent(testCase.name)
            try model.exportONNX(to: base.appendingPathExtension("onnx"), inputShapes: [testCase.inputShape])
            try x.writeNpy(to: base.appendingPathExtension("input.npy"))
            try y.writeNpy(to: base.appendingPathExtension("output.npy"))
            var shape3 = testCase.inputShape
            shape3[0] = 3
            let x3 = Tensor.randn(shape3, generator: &generator)
            try x3.writeNpy(to: base.appendingPathExtension("batch3.input.npy"))
            try withoutGrad { model(x3) }.writeNpy(to: base.appendingPathExtension("batch3.output.npy"))
            return
        }
        guard let reference = loadFixtures("onnx_reference")[testCase.name + ".output"] else {
            return XCTFail("no ONNX Runtime reference for \(testCase.name): run scripts/check-onnx.sh --write-fixture", file: file, line: line)
        }
        assertClose(y, reference, atol: 1e-4, rtol: 1e-4, "\(testCase.name) against ONNX Runtime", file: file, line: line)
    }

    /// BatchNorm affine parameters and running statistics drawn away from 1 and 0, so that the
    /// export of evaluation BatchNorm is tested on statistics that matter.
    private func randomizeNormalization(_ model: Module) {
        var generator = RandomGenerator(seed: 11)
        for (_, module) in model.namedModules() {
            // A ViT's head starts at zero, which would make every output its bias.
            if let linear = module as? Linear, linear.weight.scalars.allSatisfy({ $0 == 0 }) {
                linear.weight.assign(Tensor.randn(linear.weight.shape, std: 0.1, generator: &generator))
            }
            guard let norm = module as? BatchNorm else { continue }
            let c = norm.runningMean.shape
            norm.runningMean.assign(Tensor.randn(c, std: 0.1, generator: &generator))
            norm.runningVar.assign(Tensor.rand(c, low: 0.5, high: 1.5, generator: &generator))
            norm.weight?.assign(Tensor.rand(c, low: 0.5, high: 1.5, generator: &generator))
            norm.bias?.assign(Tensor.randn(c, std: 0.1, generator: &generator))
        }
    }
}

/// A module whose forward is a closure, for export tests.
final class ExportProbe: Module {
    let body: (Tensor) -> Tensor
    init(_ body: @escaping (Tensor) -> Tensor) {
        self.body = body
        super.init()
    }
    override func forward(_ x: Tensor) -> Tensor { body(x) }
}
