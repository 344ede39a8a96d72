import XCTest
@testable import DeepCore

/// `conv2d(…, residual:, activation:)`: the residual and the ReLU applied in each algorithm's
/// output pass give exactly what the ops one after another give; with gradients recorded the call
/// is those ops (same values, same gradients); a residual of another shape is refused.
final class ConvolutionEpilogueTests: XCTestCase {
    /// (x, C', kernel, stride, padding, groups, the algorithm the plan takes)
    private let cases: [([Int], Int, Int, Int, Int, Int, ConvolutionAlgorithm)] = [
        ([8, 64, 8, 8], 64, 3, 1, 1, 1, .winograd),
        ([1, 64, 16, 16], 64, 3, 1, 1, 1, .winograd),             // one image: each step split among threads
        // ResNet's stem: direct where the CPU has the vector kernels (bias and ReLU as it stores,
        // a residual after), on images per thread and on one image's rows split among threads.
        ([2, 3, 32, 32], 16, 7, 2, 3, 1, VectorKernels.width > 0 ? .direct : .im2col),
        ([1, 3, 64, 64], 16, 7, 2, 3, 1, VectorKernels.width > 0 ? .direct : .im2col),
        ([2, 8, 32, 32], 16, 7, 2, 3, 1, .im2col),                // a stem on eight channels
        ([1, 8, 64, 64], 16, 7, 2, 3, 1, .im2col),                // … on one image: bands split among threads
        ([32, 64, 16, 16], 128, 1, 1, 0, 1, .im2col),             // pointwise
        ([32, 64, 8, 8], 128, 3, 2, 1, 1, .batchedLowering),      // stride 2 to 4×4
        ([32, 128, 4, 4], 128, 3, 1, 1, 1, .winograd),            // one tile per plane
        ([4, 16, 12, 12], 16, 3, 1, 1, 16, .depthwise),
        ([32, 512, 1, 1], 64, 3, 1, 1, 1, .wholeImage(pieceWork: 1 << 20)),
        ([16, 32, 2, 2], 48, 3, 1, 1, 1, .denseMatrix),           // 3×3 on 2×2: the dense matrix, cached
    ]

    func testEveryAlgorithmFusesExactly() throws {
        var rng = RandomGenerator(seed: 3)
        for (shape, outputChannels, k, stride, padding, groups, algorithm) in cases {
            let plan = try ConvolutionPlan(op: "conv2d", input: shape, weight: [outputChannels, shape[1] / groups, k, k],
                                           stride: [stride, stride], padding: [padding, padding], dilation: [1, 1], groups: groups,
                                           conv2dBias: true)
            XCTAssertEqual(plan.algorithm, algorithm, "\(shape)")
            let x = Tensor.randn(shape, generator: &rng)
            let w = Tensor.randn([outputChannels, shape[1] / groups, k, k], generator: &rng) * 0.1
            let b = Tensor.randn([outputChannels], generator: &rng)
            func conv(residual: Tensor? = nil, activation: ConvolutionActivation = .none) -> Tensor {
                withoutGrad { conv2d(x, w, bias: b, stride: [stride, stride], padding: [padding, padding], groups: groups,
                                     residual: residual, activation: activation) }
            }
            let y = conv()
            let r = Tensor.randn(y.shape, generator: &rng)
            let label = "\(algorithm) \(shape)"
            XCTAssertEqual(conv(residual: r, activation: .relu).scalars, withoutGrad { relu(y + r) }.scalars, label)
            XCTAssertEqual(conv(activation: .relu).scalars, withoutGrad { relu(y) }.scalars, label)
            XCTAssertEqual(conv(residual: r).scalars, withoutGrad { y + r }.scalars, label)
            // A cached weight transform and a strided residual change nothing.
            let cache = ConvolutionWeightCache()
            let strided = r.transposed(2, 3).contiguous().transposed(2, 3)
            for _ in 0..<2 {
                let cached = withoutGrad {
                    conv2d(x, w, bias: b, stride: [stride, stride], padding: [padding, padding], groups: groups, weightCache: cache,
                           residual: strided, activation: .relu)
                }
                XCTAssertEqual(cached.scalars, withoutGrad { relu(y + r) }.scalars, label)
            }
        }
    }

    /// With a gradient recorded the fused call is conv2d, +, relu: same values and gradients.
    func testRecordedCallsComposeTheOps() {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.randn([2, 8, 6, 6], generator: &rng), w = Tensor.randn([8, 8, 3, 3], generator: &rng) * 0.2
        let b = Tensor.randn([8], generator: &rng), r = Tensor.randn([2, 8, 6, 6], generator: &rng)
        for t in [x, w, b, r] { t.requiresGrad = true }
        func gradients(_ body: () -> Tensor) -> [[Float]] {
            for t in [x, w, b, r] { t.grad = nil }
            let y = body()
            (y * y).sum().backward()
            return [y.scalars] + [x, w, b, r].map { $0.grad!.scalars }
        }
        let fused = gradients { conv2d(x, w, bias: b, padding: [1, 1], residual: r, activation: .relu) }
        let composed = gradients { relu(conv2d(x, w, bias: b, padding: [1, 1]) + r) }
        XCTAssertEqual(fused, composed)
    }

    /// The ReLU of a fused epilogue keeps a NaN, as `relu` does: the direct kernels clamp as they
    /// store, the others in the epilogue pass.
    func testFusedReLUKeepsNaN() {
        var rng = RandomGenerator(seed: 4)
        for (shape, k, stride, padding) in [([2, 3, 32, 36], 7, 2, 3), ([2, 16, 8, 8], 3, 1, 1)] {
            let x = Tensor.randn(shape, generator: &rng)
            x.withUnsafeMutableBufferPointer { $0[45] = .nan }
            let w = Tensor.randn([8, shape[1], k, k], generator: &rng), b = Tensor.randn([8], generator: &rng)
            let fused = withoutGrad { conv2d(x, w, bias: b, stride: [stride, stride], padding: [padding, padding], activation: .relu) }
            let apart = withoutGrad { relu(conv2d(x, w, bias: b, stride: [stride, stride], padding: [padding, padding])) }
            XCTAssertTrue(fused.scalars.contains { $0.isNaN }, "\(shape)")
            XCTAssertEqual(fused.scalars.map { $0.isNaN }, apart.scalars.map { $0.isNaN }, "\(shape)")
            XCTAssertEqual(fused.scalars.filter { !$0.isNaN }, apart.scalars.filter { !$0.isNaN }, "\(shape)")
        }
    }

    func testAResidualOfAnotherShapeIsRefused() {
        let failure = ShapeErrors.recording {
            _ = conv2d(Tensor(metaShape: [2, 4, 6, 6]), Tensor(metaShape: [8, 4, 3, 3]), padding: [1, 1], residual: Tensor(metaShape: [2, 4, 6, 6]))
        }.failure
        XCTAssertEqual(failure, "conv2d: residual of shape [2, 4, 6, 6] is not the output's shape [2, 8, 6, 6] (x [2, 4, 6, 6], weight [8, 4, 3, 3])")
    }
}
