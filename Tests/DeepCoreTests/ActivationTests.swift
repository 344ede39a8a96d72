import XCTest
import DeepCore

final class ActivationTests: XCTestCase {
    private let anySign = { Tensor.randn([3, 4], std: 2) }

    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    /// PyTorch's fixture includes the kinks (0 for relu, leaky relu and elu, ±3 for hardswish).
    func testPiecewiseActivations() {
        assertOpCases([
            OpCase("relu", input: { awayFromZero([3, 4]) }, fixture: pytorch("relu")) { relu($0) },
            OpCase("leakyRelu", input: { awayFromZero([3, 4]) }, fixture: pytorch("leaky_relu")) { leakyRelu($0) },
            OpCase("leakyRelu 0.2", input: { awayFromZero([3, 4]) }, fixture: pytorch("leaky_relu_0_2")) {
                leakyRelu($0, negativeSlope: 0.2)
            },
            OpCase("elu", input: { awayFromZero([3, 4]) }, fixture: pytorch("elu")) { elu($0) },
            OpCase("elu 1.5", input: { awayFromZero([3, 4]) }, fixture: pytorch("elu_1_5")) { elu($0, alpha: 1.5) },
            OpCase("hardswish", input: { awayFrom([-3, 3], [3, 4]) * 2 }, fixture: pytorch("hardswish")) { hardswish($0) },
        ])
    }

    /// PyTorch's fixture includes large magnitudes (±30, ±100), where only stable forms hold.
    func testSmoothActivations() {
        assertOpCases([
            OpCase("gelu", input: anySign, fixture: pytorch("gelu")) { gelu($0) },
            OpCase("gelu tanh", input: anySign, fixture: pytorch("gelu_tanh")) { gelu($0, approximation: .tanh) },
            OpCase("silu", input: anySign, fixture: pytorch("silu")) { silu($0) },
            OpCase("sigmoid", input: anySign, fixture: pytorch("sigmoid")) { sigmoid($0) },
            OpCase("tanh", input: anySign, fixture: pytorch("tanh")) { tanh($0) },
            OpCase("softplus", input: anySign, fixture: pytorch("softplus")) { softplus($0) },
            // βx spans both sides of the threshold 1 (x = 0.5), kept away from it.
            OpCase("softplus beta 2 threshold 1", input: { awayFrom([0.5], [3, 4]) },
                   fixture: pytorch("softplus_beta2_threshold1")) { softplus($0, beta: 2, threshold: 1) },
        ])
    }

    // MARK: Properties

    func testStableFormsDoNotOverflow() {
        let x = Tensor([-1000, -100, 0, 100, 1000])
        XCTAssertEqual(sigmoid(x).scalars, [0, expf(-100) / (1 + expf(-100)), 0.5, 1, 1])
        XCTAssertEqual(softplus(x, threshold: 2000).scalars.map { $0.isFinite }, [true, true, true, true, true])
        XCTAssertEqual(softplus(x, threshold: 2000).scalars[4], 1000)
        XCTAssertEqual(silu(x).scalars[0], 0)
        XCTAssertEqual(silu(x).scalars[4], 1000)
        XCTAssertEqual(gelu(x).scalars, [0, 0, 0, 100, 1000])

        // Gradients stay finite in the tails too.
        x.requiresGrad = true
        (sigmoid(x) + silu(x) + softplus(x, threshold: 2000) + tanh(x) + gelu(x)).sum().backward()
        XCTAssertTrue(x.grad!.scalars.allSatisfy { $0.isFinite }, "\(x.grad!.scalars)")
    }

    func testReluPropagatesNaN() {
        let y = relu(Tensor([.nan, -1, 2]))
        XCTAssertTrue(y.scalars[0].isNaN)
        XCTAssertEqual(Array(y.scalars[1...]), [0, 2])
    }
}
