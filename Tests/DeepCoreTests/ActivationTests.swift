import XCTest
import DeepCore

final class ActivationTests: XCTestCase {
    // MARK: Values and gradients against PyTorch (Tests/Fixtures/make_elementwise.py)

    func testPiecewiseActivationsMatchPyTorchIncludingKinks() {
        assertUnaryMatchesPyTorch("relu") { relu($0) }
        assertUnaryMatchesPyTorch("leaky_relu") { leakyRelu($0) }
        assertUnaryMatchesPyTorch("leaky_relu_0_2") { leakyRelu($0, negativeSlope: 0.2) }
        assertUnaryMatchesPyTorch("elu") { elu($0) }
        assertUnaryMatchesPyTorch("elu_1_5") { elu($0, alpha: 1.5) }
        assertUnaryMatchesPyTorch("hardswish") { hardswish($0) }
    }

    func testSmoothActivationsMatchPyTorchIncludingTails() {
        assertUnaryMatchesPyTorch("gelu") { gelu($0) }
        assertUnaryMatchesPyTorch("gelu_tanh") { gelu($0, approximation: .tanh) }
        assertUnaryMatchesPyTorch("silu") { silu($0) }
        assertUnaryMatchesPyTorch("sigmoid") { sigmoid($0) }
        assertUnaryMatchesPyTorch("tanh") { tanh($0) }
        assertUnaryMatchesPyTorch("softplus") { softplus($0) }
        assertUnaryMatchesPyTorch("softplus_beta2_threshold1") { softplus($0, beta: 2, threshold: 1) }
    }

    // MARK: Finite differences

    func testGradientsMatchFiniteDifferences() {
        let anySign = { Tensor.randn([3, 4], std: 2) }
        let rows: [(String, () -> Tensor, (Tensor) -> Tensor)] = [
            ("relu", { awayFromZero([3, 4]) }, { relu($0) }),
            ("leakyRelu", { awayFromZero([3, 4]) }, { leakyRelu($0, negativeSlope: 0.2) }),
            ("elu", { awayFromZero([3, 4]) }, { elu($0, alpha: 1.5) }),
            ("gelu", anySign, { gelu($0) }),
            ("gelu tanh", anySign, { gelu($0, approximation: .tanh) }),
            ("silu", anySign, { silu($0) }),
            ("sigmoid", anySign, { sigmoid($0) }),
            ("tanh", anySign, { tanh($0) }),
            ("softplus", anySign, { softplus($0) }),
            // βx spans both sides of the threshold 1 (x = 0.5), kept away from it.
            ("softplus beta 2 threshold 1", { awayFrom([0.5], [3, 4]) }, { softplus($0, beta: 2, threshold: 1) }),
            ("hardswish", { awayFrom([-3, 3], [3, 4]) * 2 }, { hardswish($0) }),
        ]
        for (name, input, op) in rows {
            assertUnaryGradientsMatchFiniteDifferences(name, input, op)
        }
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
