import XCTest
import DeepCore
@testable import DeepNN

/// Conv3d and ConvTranspose3d: PyTorch's state-dict names and shapes, its default initialisation
/// bounds, a forward equal to the functional op, and the ONNX nodes they export as.
final class Convolution3dModuleTests: XCTestCase {
    func testStateDictNamesAndShapesMatchPyTorch() {
        let conv = Conv3d(4, 6, kernelSize: [1, 3, 3], padding: [0, 1, 1], groups: 2)
        XCTAssertEqual(conv.stateDict().mapValues(\.shape), ["weight": [6, 2, 1, 3, 3], "bias": [6]])
        XCTAssertEqual(Conv3d(4, 6, kernelSize: 3, bias: false).stateDict().mapValues(\.shape), ["weight": [6, 4, 3, 3, 3]])
        let up = ConvTranspose3d(6, 4, kernelSize: 2, stride: 2, groups: 2)
        XCTAssertEqual(up.stateDict().mapValues(\.shape), ["weight": [6, 2, 2, 2, 2], "bias": [4]])
        XCTAssertEqual([conv.stride, conv.padding, conv.dilation, [conv.groups]], [[1, 1, 1], [0, 1, 1], [1, 1, 1], [2]])
    }

    /// kaiming-uniform with a = √5 gives weights in ±1/√fan_in, the bias too; fan_in is
    /// weight.shape[1]·kD·kH·kW (in/groups for Conv3d, out/groups for ConvTranspose3d).
    func testDefaultInitialisationBoundsMatchPyTorch() {
        let conv = Conv3d(16, 8, kernelSize: 3, groups: 2)
        let bound: Float = 1 / (8 * 27 as Float).squareRoot()
        for t in [conv.weight, conv.bias!] { XCTAssertTrue(t.scalars.allSatisfy { abs($0) <= bound }) }
        XCTAssertGreaterThan(conv.weight.scalars.map(abs).max()!, bound * 0.95)
        let up = ConvTranspose3d(8, 12, kernelSize: [2, 3, 3], stride: [1, 2, 2])
        let upBound: Float = 1 / (12 * 18 as Float).squareRoot()
        for t in [up.weight, up.bias!] { XCTAssertTrue(t.scalars.allSatisfy { abs($0) <= upBound }) }
        XCTAssertGreaterThan(up.weight.scalars.map(abs).max()!, upBound * 0.95)
    }

    func testForwardEqualsTheFunctionalOp() {
        var rng = RandomGenerator(seed: 2)
        let x = Tensor.randn([2, 4, 5, 6, 7], generator: &rng)
        let conv = Conv3d(4, 6, kernelSize: [3, 1, 3], stride: [2, 1, 1], padding: [1, 0, 1], dilation: [1, 1, 2], groups: 2)
        assertClose(conv(x), conv3d(x, conv.weight, bias: conv.bias, stride: [2, 1, 1], padding: [1, 0, 1],
                                    dilation: [1, 1, 2], groups: 2))
        let up = ConvTranspose3d(4, 2, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1)
        let y = up(x)
        XCTAssertEqual(y.shape, [2, 2, 10, 12, 14])
        assertClose(y, convTranspose3d(x, up.weight, bias: up.bias, stride: 2, padding: 1, outputPadding: 1))
        // Parameters receive gradients through the module.
        conv(x).sum().backward()
        XCTAssertEqual(conv.weight.grad?.shape, conv.weight.shape)
        XCTAssertEqual(conv.bias?.grad?.shape, [6])
    }

    /// Both export as ONNX `Conv` / `ConvTranspose` nodes with three entries per spatial setting
    /// (pads begin and end), their parameters as initializers under the state-dict names.
    func testExportsAsONNXConvolutionNodes() throws {
        let model = Sequential(Conv3d(2, 4, kernelSize: [3, 3, 1], stride: [1, 2, 1], padding: [1, 1, 0]),
                               ConvTranspose3d(4, 2, kernelSize: 2, stride: 2))
        let proto = try model.onnxModel(inputShapes: [[1, 2, 4, 6, 5]])
        let nodes = proto.graph.node.filter { $0.opType.hasPrefix("Conv") }
        XCTAssertEqual(nodes.map(\.opType), ["Conv", "ConvTranspose"])
        func ints(_ node: Int, _ name: String) -> [Int64] { nodes[node].attribute.first { $0.name == name }?.ints ?? [] }
        XCTAssertEqual(ints(0, "pads"), [1, 1, 0, 1, 1, 0])
        XCTAssertEqual(ints(0, "strides"), [1, 2, 1])
        XCTAssertEqual(ints(1, "strides"), [2, 2, 2])
        XCTAssertEqual(ints(1, "output_padding"), [0, 0, 0])
        XCTAssertTrue(Set(proto.graph.initializer.map(\.name)).isSuperset(of: ["0.weight", "0.bias", "1.weight", "1.bias"]))
    }
}
