import XCTest
@testable import DeepCore

/// The algorithm a convolution plan chooses for representative shapes, and every algorithm
/// against im2col on the same plan (values and both gradients).
final class ConvolutionPlanTests: XCTestCase {
    private var savedSettings: (WinogradPolicy, Int, Int, Int, Int)!

    override func setUp() {
        savedSettings = (ConvolutionSettings.winograd, ConvolutionSettings.batchedLoweringThreshold,
                         ConvolutionSettings.loweringBudget, ConvolutionSettings.winogradBudget,
                         ConvolutionSettings.batchedLoweringBudget)
    }

    override func tearDown() {
        (ConvolutionSettings.winograd, ConvolutionSettings.batchedLoweringThreshold, ConvolutionSettings.loweringBudget,
         ConvolutionSettings.winogradBudget, ConvolutionSettings.batchedLoweringBudget) = savedSettings
    }

    /// conv2d's plan of x (N, C, H, W) and a weight (C', C/groups, k, k).
    private func plan(_ x: [Int], outputChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1,
                      bias: Bool = false) throws -> ConvolutionPlan {
        try ConvolutionPlan(op: "conv2d", input: x, weight: [outputChannels, x[1] / groups, kernel, kernel],
                            stride: [stride, stride], padding: [padding, padding], dilation: [1, 1], groups: groups,
                            conv2dBias: bias)
    }

    func testDefaultChoices() throws {
        // Few input channels run directly where the CPU has the vector kernels.
        let direct: ConvolutionAlgorithm = VectorKernels.width > 0 ? .direct : .im2col
        // (plan, expected, what it is)
        let cases: [(ConvolutionPlan, ConvolutionAlgorithm, String)] = [
            (try plan([32, 64, 32, 32], outputChannels: 64, kernel: 3, padding: 1), .winograd, "conv3x3 benchmark"),
            (try plan([64, 32, 14, 14], outputChannels: 64, kernel: 3, padding: 1), .winograd, "fmnist CNN second conv"),
            (try plan([32, 64, 8, 8], outputChannels: 64, kernel: 3, padding: 1), .winograd, "8×8, 64 channels"),
            (try plan([64, 1, 28, 28], outputChannels: 32, kernel: 3, padding: 1), direct, "fmnist CNN first conv (grey image)"),
            (try plan([32, 3, 32, 32], outputChannels: 64, kernel: 7, stride: 2, padding: 3), direct, "ResNet stem"),
            (try plan([1, 3, 224, 224], outputChannels: 64, kernel: 7, stride: 2, padding: 3), direct, "ResNet stem, one image"),
            (try plan([32, 3, 12, 12], outputChannels: 64, kernel: 3, stride: 2, padding: 1), .batchedLowering,
             "few channels, output rows narrower than a vector"),
            (try plan([32, 5, 32, 32], outputChannels: 64, kernel: 3, padding: 1), .im2col, "five input channels"),
            (try plan([32, 64, 16, 16], outputChannels: 128, kernel: 1), .im2col, "pointwise"),
            (try plan([32, 128, 4, 4], outputChannels: 128, kernel: 3, padding: 1), .winograd, "4×4 plane: one tile each, 32 in the batch"),
            (try plan([8, 128, 4, 4], outputChannels: 128, kernel: 3, padding: 1), .batchedLowering, "4×4 planes, 8 tiles in the batch"),
            (try plan([32, 256, 2, 2], outputChannels: 256, kernel: 3, padding: 1), .denseMatrix, "ResNet's 2×2 stage"),
            (try plan([4, 256, 2, 2], outputChannels: 256, kernel: 3, padding: 1), .batchedLowering, "2×2 plane, four images"),
            (try plan([32, 64, 3, 3], outputChannels: 64, kernel: 3, stride: 2, padding: 1), .denseMatrix, "3×3 plane, stride 2"),
            (try plan([32, 64, 4, 4], outputChannels: 128, kernel: 3, stride: 2, padding: 1), .batchedLowering,
             "4×4 plane, more positions than taps"),
            (try plan([32, 512, 2, 2], outputChannels: 4096, kernel: 3, padding: 1), .batchedLowering, "dense matrix above 64 MB"),
            (try plan([32, 64, 8, 8], outputChannels: 128, kernel: 3, stride: 2, padding: 1), .batchedLowering, "stride 2 to 4×4"),
            (try plan([1, 128, 4, 4], outputChannels: 128, kernel: 3, padding: 1), .im2col, "4×4 plane, one image"),
            (try plan([8, 16, 12, 12], outputChannels: 16, kernel: 3, padding: 1, groups: 16), .depthwise, "depthwise"),
            (try plan([8, 16, 12, 12], outputChannels: 32, kernel: 3, padding: 1, groups: 16), .depthwise, "channel multiplier 2"),
            (try plan([8, 16, 12, 12], outputChannels: 48, kernel: 3, padding: 1, groups: 16), .im2col, "channel multiplier 3"),
            (try plan([32, 256, 2, 2], outputChannels: 512, kernel: 3, stride: 2, padding: 1), .wholeImage(pieceWork: nil),
             "ResNet layer4 on 32×32 images: 2×2 window over the 2×2 image"),
            (try plan([32, 512, 1, 1], outputChannels: 512, kernel: 3, padding: 1), .wholeImage(pieceWork: nil), "3×3 on 1×1"),
            (try plan([32, 512, 1, 1], outputChannels: 512, kernel: 3, padding: 1, bias: true), .wholeImage(pieceWork: 1 << 20),
             "3×3 on 1×1 with a bias, small batch: pieces, as linear"),
            (try plan([128, 512, 1, 1], outputChannels: 512, kernel: 3, padding: 1, bias: true), .wholeImage(pieceWork: nil),
             "3×3 on 1×1 with a bias, batch above 64"),
        ]
        for (plan, expected, label) in cases {
            XCTAssertEqual(plan.algorithm, expected, label)
        }
    }

    /// Taps that only read padding are dropped when the plan is made; conv1d and the transposed
    /// convolution never drop them nor take the whole-image GEMM.
    func testWindowAndWhichOpsGetIt() throws {
        let layer4 = try plan([32, 256, 2, 2], outputChannels: 512, kernel: 3, stride: 2, padding: 1)
        XCTAssertEqual(layer4.window?.rows, 1..<3)
        XCTAssertEqual(layer4.window?.columns, 1..<3)
        XCTAssertEqual([layer4.geometry.kernelHeight, layer4.geometry.kernelWidth, layer4.geometry.paddingHeight], [2, 2, 0])
        XCTAssertNil(try plan([32, 64, 8, 8], outputChannels: 64, kernel: 3, padding: 1).window)

        let conv1d = try ConvolutionPlan(op: "conv1d", input: [8, 16, 5], weight: [16, 16, 5], stride: [1], padding: [0],
                                         dilation: [1], groups: 1)
        XCTAssertNil(conv1d.window)
        XCTAssertEqual(conv1d.algorithm, .batchedLowering)
        let padded1d = try ConvolutionPlan(op: "conv1d", input: [8, 16, 1], weight: [16, 16, 3], stride: [1], padding: [1],
                                           dilation: [1], groups: 1)
        XCTAssertNil(padded1d.window)

        let transposed = try ConvolutionPlan(transposedOp: "convTranspose2d", input: [8, 64, 16, 16], weight: [64, 64, 3, 3],
                                             stride: [1, 1], padding: [1, 1], outputPadding: [0, 0], dilation: [1, 1], groups: 1)
        XCTAssertEqual(transposed.algorithm, .winograd)
        let fromPoint = try ConvolutionPlan(transposedOp: "convTranspose2d", input: [8, 64, 1, 1], weight: [64, 32, 4, 4],
                                            stride: [1, 1], padding: [0, 0], outputPadding: [0, 0], dilation: [1, 1], groups: 1)
        XCTAssertEqual(fromPoint.algorithm, .batchedLowering, "a DCGAN-style first layer keeps the batched lowering")
    }

    /// The settings are read when a plan is made.
    func testSettingsSteerTheChoice() throws {
        ConvolutionSettings.winograd = .never
        XCTAssertEqual(try plan([32, 64, 32, 32], outputChannels: 64, kernel: 3, padding: 1).algorithm, .im2col)
        XCTAssertEqual(try plan([32, 64, 8, 8], outputChannels: 64, kernel: 3, padding: 1).algorithm, .batchedLowering)
        ConvolutionSettings.winograd = .always
        XCTAssertEqual(try plan([2, 1, 6, 6], outputChannels: 1, kernel: 3, padding: 1).algorithm, .winograd,
                       "Winograd before depthwise when forced")
        XCTAssertEqual(try plan([32, 128, 4, 4], outputChannels: 128, kernel: 3, padding: 1).algorithm, .winograd)
        XCTAssertEqual(try plan([32, 512, 1, 1], outputChannels: 512, kernel: 3, padding: 1).algorithm, .wholeImage(pieceWork: nil),
                       "the whole-image GEMM comes first")
        ConvolutionSettings.winograd = .automatic
        ConvolutionSettings.batchedLoweringThreshold = 0
        XCTAssertEqual(try plan([32, 64, 8, 8], outputChannels: 128, kernel: 3, stride: 2, padding: 1).algorithm, .im2col)
        ConvolutionSettings.batchedLoweringThreshold = Int.max
        XCTAssertEqual(try plan([4, 16, 12, 12], outputChannels: 16, kernel: 3, padding: 1, groups: 16).algorithm, .depthwise,
                       "depthwise never takes the batched lowering")
        XCTAssertEqual(try plan([4, 8, 12, 12], outputChannels: 8, kernel: 3, padding: 1).algorithm, .batchedLowering)
    }

    /// y, dx and dw of `plan` run by `algorithm` on the buffers of x, weight, bias and dy.
    private func run(_ plan: ConvolutionPlan, _ algorithm: ConvolutionAlgorithm,
                     x: Tensor, weight: Tensor, bias: Tensor, dy: Tensor) -> [Tensor] {
        let p = plan.using(algorithm)
        let y = Tensor(zeros: dy.shape), dx = Tensor(zeros: x.shape), dw = Tensor(zeros: weight.shape)
        p.forward(x: x.basePointer, weight: weight.basePointer, bias: bias.basePointer, into: y.basePointer)
        p.backward(outputGradient: p.outputImages(dy.basePointer), x: x.basePointer, weight: weight.basePointer,
                   inputGradient: dx.basePointer, weightGradient: dw.basePointer)
        return [y, dx, dw]
    }

    /// Every algorithm that suits a shape computes what im2col computes, with the work split
    /// among threads however small and with small scratch budgets (several bands, chunks and
    /// tile-row chunks).
    func testEveryAlgorithmMatchesIm2col() throws {
        let saved = (Parallel.minimumWork, Gemm.threadCount, ConvolutionPlan.threadBandColumns)
        defer { (Parallel.minimumWork, Gemm.threadCount, ConvolutionPlan.threadBandColumns) = saved }
        var rng = RandomGenerator(seed: 21)
        // (x, output channels, kernel, stride, padding, groups, algorithms besides im2col)
        let cases: [([Int], Int, Int, Int, Int, Int, [ConvolutionAlgorithm])] = [
            ([3, 16, 6, 7], 16, 3, 1, 1, 1, [.winograd, .batchedLowering]),
            // One image: Winograd splits each step (channels, positions, output channels) among the threads.
            ([1, 16, 14, 13], 16, 3, 1, 1, 1, [.winograd]),
            // Winograd's tile rows of exactly one vector of eight tiles and of one more than that
            // (the kernels' last-lane carry and masked lanes), and padding 2 (output wider than input).
            ([2, 16, 9, 32], 16, 3, 1, 1, 1, [.winograd, .batchedLowering]),
            ([1, 16, 6, 35], 16, 3, 1, 1, 1, [.winograd]),
            ([2, 16, 7, 33], 16, 3, 1, 2, 1, [.winograd]),
            // Narrow planes (one or two tiles per row): the gathered input transform, runs of
            // tiles across images, padding 2.
            ([5, 8, 6, 7], 8, 3, 1, 1, 1, [.winograd, .batchedLowering]),
            ([3, 4, 2, 3], 6, 3, 1, 2, 1, [.winograd]),
            ([20, 16, 4, 4], 16, 3, 1, 1, 1, [.winograd, .batchedLowering]),     // one tile per plane, steps split by threads
            ([2, 4, 5, 5], 4, 3, 2, 1, 4, [.depthwise, .batchedLowering]),
            ([2, 3, 6, 6], 6, 3, 1, 1, 3, [.depthwise, .batchedLowering]),
            ([4, 3, 3, 3], 5, 3, 1, 0, 1, [.wholeImage(pieceWork: nil), .wholeImage(pieceWork: 16), .winograd, .batchedLowering]),
            ([5, 6, 2, 3], 4, 1, 1, 0, 2, [.batchedLowering]),
            ([1, 3, 20, 19], 8, 7, 2, 3, 1, [.batchedLowering]),                 // a stem on one image
            // The dense matrix: without zeros (3×3 on 2×2), with zeros (stride 2 on 3×3, padding 2 on 2×3, a 1×1 kernel).
            ([9, 6, 2, 2], 5, 3, 1, 1, 1, [.denseMatrix, .batchedLowering]),
            ([8, 3, 3, 3], 4, 3, 2, 1, 1, [.denseMatrix, .batchedLowering]),
            ([8, 4, 2, 3], 3, 3, 1, 2, 1, [.denseMatrix]),
            ([8, 4, 1, 1], 3, 1, 1, 1, 1, [.denseMatrix]),
        ]
        defer { Winograd.usesVectorExtensions = true }
        // Tuning 2: the baseline (SSE2) copies of Winograd's transforms, which CPUs without AVX2 run.
        for tuning in 0..<3 {
            Winograd.usesVectorExtensions = tuning != 2
            if tuning == 1 {
                // One image's bands split among the threads however narrow (im2col, the reference, on one image).
                (Parallel.minimumWork, Gemm.threadCount, ConvolutionPlan.threadBandColumns) = (0, 2, 1)
                (ConvolutionSettings.loweringBudget, ConvolutionSettings.winogradBudget, ConvolutionSettings.batchedLoweringBudget) = (1, 1, 1)
            }
            for (shape, outputChannels, kernel, stride, padding, groups, algorithms) in cases {
                let p = try plan(shape, outputChannels: outputChannels, kernel: kernel, stride: stride, padding: padding, groups: groups)
                let g = p.geometry
                let x = Tensor.randn(shape, generator: &rng)
                let weight = Tensor.randn([outputChannels, shape[1] / groups, kernel, kernel], generator: &rng)
                let bias = Tensor.randn([outputChannels], generator: &rng)
                let dy = Tensor.randn([shape[0], outputChannels, g.outputHeight, g.outputWidth], generator: &rng)
                let expected = run(p, .im2col, x: x, weight: weight, bias: bias, dy: dy)
                for algorithm in algorithms {
                    let actual = run(p, algorithm, x: x, weight: weight, bias: bias, dy: dy)
                    for (i, name) in ["y", "dx", "dw"].enumerated() {
                        let (a, e) = (actual[i], expected[i])
                        let scale = e.scalars.map(abs).max()!
                        assertClose(a, e, atol: 1e-5 * scale, rtol: 0, "\(algorithm) \(name) of x \(shape), tuning \(tuning)")
                    }
                }
            }
        }
    }

    /// The direct kernels (few input channels) compute what im2col computes, at this CPU's vector
    /// width and at AVX2's, on whole images per thread and on one image's rows split among the
    /// threads: a ResNet stem (stride 2, whole panels of output channels at AVX-512), a partial
    /// last vector of a row and a partial panel, a grey image, stride 3, and an odd count of
    /// position vectors (the tile's second vector repeats the first).
    func testDirectConvolutionMatchesIm2colOnEachWidth() throws {
        try XCTSkipIf(VectorKernels.width == 0, "the CPU has neither AVX-512 nor AVX2 with FMA")
        let saved = (Parallel.minimumWork, Gemm.threadCount)
        defer { (Parallel.minimumWork, Gemm.threadCount, VectorKernels.widthLimit) = (saved.0, saved.1, 16) }
        (Parallel.minimumWork, Gemm.threadCount) = (0, 2)
        var rng = RandomGenerator(seed: 23)
        // (x, output channels, kernel, stride, padding)
        let cases: [([Int], Int, Int, Int, Int)] = [
            ([2, 3, 32, 32], 64, 7, 2, 3), ([1, 3, 40, 37], 10, 7, 2, 3), ([3, 1, 28, 28], 32, 3, 1, 1),
            ([2, 4, 17, 60], 5, 5, 3, 2), ([1, 2, 9, 16], 7, 3, 1, 1), ([3, 2, 9, 16], 7, 3, 1, 0),
        ]
        for width in [16, 8] {
            VectorKernels.widthLimit = width
            for (shape, outputChannels, kernel, stride, padding) in cases {
                let p = try plan(shape, outputChannels: outputChannels, kernel: kernel, stride: stride, padding: padding)
                guard p.fitsDirect else { continue }
                let g = p.geometry
                let x = Tensor.randn(shape, generator: &rng)
                let weight = Tensor.randn([outputChannels, shape[1], kernel, kernel], generator: &rng)
                let bias = Tensor.randn([outputChannels], generator: &rng)
                let dy = Tensor.randn([shape[0], outputChannels, g.outputHeight, g.outputWidth], generator: &rng)
                let expected = run(p, .im2col, x: x, weight: weight, bias: bias, dy: dy)
                let actual = run(p, .direct, x: x, weight: weight, bias: bias, dy: dy)
                let scale = expected[0].scalars.map(abs).max()!
                assertClose(actual[0], expected[0], atol: 1e-5 * scale, rtol: 0, "direct y of x \(shape), width \(width)")
            }
        }
    }

    /// A conv2d whose plan keeps a window of the kernel (and runs it as one GEMM where the window
    /// covers the image) equals im2col on the weight cropped to the window beforehand, and the
    /// taps outside the window get zero gradient.
    func testWindowedConvolutionMatchesTheCroppedWeight() throws {
        var rng = RandomGenerator(seed: 22)
        // (height, width, stride, bias): the first two run as one GEMM, the others keep a 3×1 window.
        for (height, width, stride, bias) in [(2, 2, 2, false), (1, 1, 1, true), (4, 1, 1, true), (6, 1, 2, false)] {
            let size = [height, width]
            let x = Tensor.randn([3, 4, height, width], generator: &rng), w = Tensor.randn([5, 4, 3, 3], generator: &rng)
            let b = Tensor.randn([5], generator: &rng)
            let p = try plan(x.shape, outputChannels: 5, kernel: 3, stride: stride, padding: 1, bias: bias)
            let window = try XCTUnwrap(p.window, "size \(size)")
            for t in [x, w, b] { t.requiresGrad = true; t.grad = nil }
            let y = conv2d(x, w, bias: bias ? b : nil, stride: stride, padding: 1)
            let dy = Tensor.randn(y.shape, generator: &rng)
            (y * dy).sum().backward()

            // The cropped weight through a plan of the same geometry without a window, by im2col.
            let cropped = w.detached().narrowed(axis: 2, start: window.rows.lowerBound, length: window.rows.count)
                .narrowed(axis: 3, start: window.columns.lowerBound, length: window.columns.count).contiguous()
            let reference = ConvolutionPlan(batch: p.batch, groups: 1, geometry: p.geometry, outputChannelsPerGroup: 5)
            let expected = run(reference, .im2col, x: x.detached(), weight: cropped,
                               bias: bias ? b.detached() : Tensor(zeros: [5]), dy: dy)
            assertClose(y, expected[0], atol: 1e-5, rtol: 1e-5, "y, size \(size)")
            assertClose(x.grad!, expected[1], atol: 1e-5, rtol: 1e-5, "dx, size \(size)")
            let gwWindow = w.grad!.narrowed(axis: 2, start: window.rows.lowerBound, length: window.rows.count)
                .narrowed(axis: 3, start: window.columns.lowerBound, length: window.columns.count)
            assertClose(gwWindow, expected[2], atol: 1e-5, rtol: 1e-5, "dw, size \(size)")
            XCTAssertEqual((w.grad! * w.grad!).sum().item(), (gwWindow * gwWindow).sum().item(), accuracy: 1e-3,
                           "no gradient outside the window, size \(size)")
        }
    }
}
