import XCTest
@testable import DeepCore

final class ConvolutionTests: XCTestCase {
    static let fixtures = loadFixtures("conv")

    /// Runs `body` with the default tuning (batched lowering for small planes); then with the
    /// per-image im2col path only, one output row per lowered band and work split among threads
    /// however small; then with Winograd for every
    /// 3×3 stride-1 convolution, one tile row per chunk, threads again. So the banded, parallel
    /// and Winograd paths all meet the same references.
    private func withEveryTuning(_ body: () -> Void) {
        body()
        let saved = (ConvolutionSettings.loweringBudget, ConvolutionSettings.winograd, ConvolutionSettings.winogradBudget,
                     ConvolutionSettings.batchedLoweringThreshold, Parallel.minimumWork, Gemm.threadCount)
        defer {
            (ConvolutionSettings.loweringBudget, ConvolutionSettings.winograd, ConvolutionSettings.winogradBudget,
             ConvolutionSettings.batchedLoweringThreshold, Parallel.minimumWork, Gemm.threadCount) = saved
        }
        (ConvolutionSettings.loweringBudget, ConvolutionSettings.winograd, ConvolutionSettings.batchedLoweringThreshold,
         Parallel.minimumWork, Gemm.threadCount) = (1, .never, 0, 0, 2)
        body()
        (ConvolutionSettings.winograd, ConvolutionSettings.winogradBudget) = (.always, 1)
        body()
    }

    func testConv2dMatchesPyTorch() {
        let cases = fixtureCases(Self.fixtures, "conv2d")
        XCTAssertGreaterThanOrEqual(cases.count, 16)
        withEveryTuning {
            for prefix in cases {
                assertMatchesFixture(Self.fixtures, prefix) { xs, p in
                    conv2d(xs[0], xs[1], bias: xs.count > 2 ? xs[2] : nil, stride: [p[0], p[1]], padding: [p[2], p[3]],
                           dilation: [p[4], p[5]], groups: p[6])
                }
            }
        }
    }

    func testConv1dMatchesPyTorch() {
        let cases = fixtureCases(Self.fixtures, "conv1d")
        XCTAssertGreaterThanOrEqual(cases.count, 4)
        withEveryTuning {
            for prefix in cases {
                assertMatchesFixture(Self.fixtures, prefix) { xs, p in
                    let y = conv1d(xs[0], xs[1], bias: xs.count > 2 ? xs[2] : nil, stride: p[0], padding: p[1],
                                   dilation: p[2], groups: p[3])
                    // Causal: keep the first L outputs.
                    return p[4] == 1 ? y.narrowed(axis: 2, start: 0, length: xs[0].shape[2]) : y
                }
            }
        }
    }

    func testConvTranspose2dMatchesPyTorch() {
        let cases = fixtureCases(Self.fixtures, "convTranspose2d")
        XCTAssertGreaterThanOrEqual(cases.count, 6)
        withEveryTuning {
            for prefix in cases {
                assertMatchesFixture(Self.fixtures, prefix) { xs, p in
                    convTranspose2d(xs[0], xs[1], bias: xs.count > 2 ? xs[2] : nil, stride: [p[0], p[1]],
                                    padding: [p[2], p[3]], outputPadding: [p[4], p[5]], dilation: [p[6], p[7]], groups: p[8])
                }
            }
        }
    }

    func testConv2dGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 3)
        // (x shape, weight shape, stride, padding, dilation, groups)
        let cases: [([Int], [Int], [Int], [Int], [Int], Int)] = [
            ([2, 3, 5, 6], [4, 3, 3, 3], [1, 1], [1, 1], [1, 1], 1),
            ([1, 4, 7, 6], [4, 2, 3, 2], [2, 1], [0, 2], [2, 1], 2),
            ([2, 3, 5, 5], [6, 1, 3, 3], [2, 2], [1, 1], [1, 1], 3),
            ([2, 4, 3, 4], [2, 4, 1, 1], [1, 1], [0, 0], [1, 1], 1),
        ]
        for (xs, ws, s, p, d, g) in cases {
            let x = Tensor.randn(xs, generator: &rng), w = Tensor.randn(ws, generator: &rng)
            let b = Tensor.randn([ws[0]], generator: &rng)
            assertGradientsMatchFiniteDifferences([x, w, b], "x \(xs) w \(ws)") {
                conv2d($0[0], $0[1], bias: $0[2], stride: s, padding: p, dilation: d, groups: g)
            }
        }
    }

    /// Kernel taps that only ever read padding (a 3×3 kernel on a 1×1 plane) are skipped, and a
    /// window covering the whole image runs as one product: the output equals the definition
    /// computed element by element, output and all gradients equal those of the same
    /// convolution on an explicitly zero-padded input, and the gradients match finite differences.
    func testTapsThatOnlyReadPaddingAreSkippedExactly() {
        var rng = RandomGenerator(seed: 5)
        // (x shape, weight shape, stride, padding, dilation)
        let cases: [([Int], [Int], [Int], [Int], [Int])] = [
            ([3, 4, 1, 1], [5, 4, 3, 3], [1, 1], [1, 1], [1, 1]),
            ([3, 4, 2, 2], [5, 4, 3, 3], [2, 2], [1, 1], [1, 1]),
            ([2, 3, 1, 4], [2, 3, 3, 3], [1, 1], [1, 1], [1, 1]),
            ([2, 3, 1, 1], [2, 3, 3, 3], [1, 1], [2, 2], [2, 2]),
        ]
        for (xs, ws, st, p, d) in cases {
            let x = Tensor.randn(xs, generator: &rng), w = Tensor.randn(ws, generator: &rng)
            let b = Tensor.randn([ws[0]], generator: &rng)
            func padded(_ x: Tensor) -> Tensor {
                let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3])
                let rowsPad = Tensor(zeros: [n, c, p[0], wd])
                let tall = Tensor.concatenate([rowsPad, x, rowsPad], axis: 2)
                let columnsPad = Tensor(zeros: [n, c, h + 2 * p[0], p[1]])
                return Tensor.concatenate([columnsPad, tall, columnsPad], axis: 3)
            }
            let r = Tensor.randn(conv2d(x, w, stride: st, padding: p, dilation: d).shape, generator: &rng)
            var grads: [[[Float]]] = []
            var outputs: [[Float]] = []
            for explicit in [false, true] {
                let (xi, wi, bi) = (x.copied(), w.copied(), b.copied())
                for t in [xi, wi, bi] { t.requiresGrad = true }
                let y = explicit ? conv2d(padded(xi), wi, bias: bi, stride: st, dilation: d)
                    : conv2d(xi, wi, bias: bi, stride: st, padding: p, dilation: d)
                (y * r).sum().backward()
                outputs.append(y.scalars)
                grads.append([xi.grad!.scalars, wi.grad!.scalars, bi.grad!.scalars])
            }
            assertClose(outputs[0], outputs[1], atol: 1e-5, "x \(xs) w \(ws)")
            assertClose(outputs[0], naiveConvolution(x, w, b, stride: st, padding: p, dilation: d), atol: 1e-5, "x \(xs) w \(ws)")
            for i in 0..<3 { assertClose(grads[0][i], grads[1][i], atol: 1e-5, "x \(xs) w \(ws) gradient \(i)") }
            assertGradientsMatchFiniteDifferences([x, w, b], "x \(xs) w \(ws)") {
                conv2d($0[0], $0[1], bias: $0[2], stride: st, padding: p, dilation: d)
            }
        }
    }

    /// conv2d by its definition, one output element at a time (groups 1).
    /// Stride-2 rows are lowered eight outputs at a time (even lanes of two loads): wide and odd
    /// output widths, one image and a batch, against the definition.
    func testStrideTwoLoweringMatchesTheDefinition() {
        var rng = RandomGenerator(seed: 21)
        for (xs, k, p) in [([1, 3, 9, 45], 7, 3), ([2, 4, 6, 38], 3, 1), ([3, 2, 5, 33], 1, 0), ([4, 3, 4, 18], 3, 0)] {
            let x = Tensor.randn(xs, generator: &rng), w = Tensor.randn([5, xs[1], k, k], generator: &rng)
            let b = Tensor.randn([5], generator: &rng)
            let y = withoutGrad { conv2d(x, w, bias: b, stride: [2, 2], padding: [p, p]) }
            assertClose(y.scalars, naiveConvolution(x, w, b, stride: [2, 2], padding: [p, p], dilation: [1, 1]), atol: 1e-4, "x \(xs) k \(k)")
        }
    }

    private func naiveConvolution(_ x: Tensor, _ w: Tensor, _ b: Tensor, stride: [Int], padding: [Int],
                                  dilation: [Int]) -> [Float] {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0] + 1
        let ow = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1] + 1
        let (xs, ws, bs) = (x.scalars, w.scalars, b.scalars)
        var y = [Float]()
        for i in 0..<n { for f in 0..<o { for r in 0..<oh { for q in 0..<ow {
            var acc = bs[f]
            for ch in 0..<c { for u in 0..<kh { for v in 0..<kw {
                let (row, col) = (r * stride[0] - padding[0] + u * dilation[0], q * stride[1] - padding[1] + v * dilation[1])
                guard row >= 0, row < h, col >= 0, col < wd else { continue }
                acc += xs[((i * c + ch) * h + row) * wd + col] * ws[((f * c + ch) * kh + u) * kw + v]
            } } }
            y.append(acc)
        } } } }
        return y
    }

    func testConvolutionGradientsThroughViewsAndReuse() {
        var rng = RandomGenerator(seed: 4)
        // A transposed (non-contiguous) input, and the input used twice.
        let x = Tensor.randn([2, 2, 5, 4], generator: &rng), w = Tensor.randn([3, 2, 3, 3], generator: &rng)
        assertGradientsMatchFiniteDifferences([x, w]) { xs in
            conv2d(xs[0].transposed(2, 3), xs[1], padding: 1).sum(axes: [1], keepingDims: true) * xs[0].mT
        }
        let seq = Tensor.randn([2, 3, 6], generator: &rng), k = Tensor.randn([3, 1, 4], generator: &rng)
        assertGradientsMatchFiniteDifferences([seq, k]) { xs in
            conv1d(xs[0], xs[1], padding: 3, groups: 3).narrowed(axis: 2, start: 0, length: 6) + xs[0]
        }
        let t = Tensor.randn([1, 4, 3, 3], generator: &rng), tw = Tensor.randn([4, 1, 3, 3], generator: &rng)
        assertGradientsMatchFiniteDifferences([t, tw, Tensor.randn([2], generator: &rng)]) { xs in
            convTranspose2d(xs[0], xs[1], bias: xs[2], stride: 2, padding: 1, outputPadding: 1, groups: 2)
        }
    }

    /// ⟨conv(x), y⟩ = ⟨x, convᵀ(y)⟩: the transposed convolution is the adjoint.
    func testConvTransposeIsTheAdjointOfConv() {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.randn([2, 4, 9, 8], generator: &rng), w = Tensor.randn([6, 2, 3, 2], generator: &rng)
        let y = conv2d(x, w, stride: [2, 3], padding: [1, 1], dilation: [2, 1], groups: 2)
        let v = Tensor.randn(y.shape, generator: &rng)
        let back = convTranspose2d(v, w, stride: [2, 3], padding: [1, 1], outputPadding: [0, 2], dilation: [2, 1], groups: 2)
        XCTAssertEqual(back.shape, x.shape)
        XCTAssertEqual((y * v).sum().item(), (x * back).sum().item(), accuracy: 1e-3)
    }

    func testIntConvenienceOverloadsAndDefaults() {
        var rng = RandomGenerator(seed: 6)
        let x = Tensor.randn([1, 2, 6, 6], generator: &rng), w = Tensor.randn([3, 2, 3, 3], generator: &rng)
        assertClose(conv2d(x, w, stride: 2, padding: 1), conv2d(x, w, stride: [2, 2], padding: [1, 1]))
        XCTAssertEqual(conv2d(x, w).shape, [1, 3, 4, 4])
        XCTAssertEqual(convTranspose2d(x, w.transposed(0, 1), stride: 2, padding: 1, outputPadding: 1).shape, [1, 3, 12, 12])
    }

    /// A batch large enough for the threaded paths at their default thresholds, against the same
    /// convolution one image at a time.
    func testBatchedConvolutionMatchesPerImage() {
        var rng = RandomGenerator(seed: 7)
        let x = Tensor.randn([4, 16, 12, 12], generator: &rng), w = Tensor.randn([16, 16, 3, 3], generator: &rng)
        let dw = Tensor.randn([16, 1, 3, 3], generator: &rng)
        for (weight, groups) in [(w, 1), (dw, 16)] {
            x.grad = nil; weight.requiresGrad = true; x.requiresGrad = true; weight.grad = nil
            conv2d(x, weight, padding: 1, groups: groups).sum().backward()
            let (gx, gw) = (x.grad!, weight.grad!)
            var gwSum = Tensor(zeros: weight.shape)
            for n in 0..<4 {
                let xn = x[n..<(n + 1)].detached()
                xn.requiresGrad = true; weight.grad = nil
                let yn = conv2d(xn, weight, padding: 1, groups: groups)
                assertClose(yn, withoutGrad { conv2d(x, weight, padding: 1, groups: groups)[n..<(n + 1)] }, atol: 1e-4)
                yn.sum().backward()
                assertClose(xn.grad!, gx[n..<(n + 1)], atol: 1e-4)
                gwSum = gwSum + weight.grad!
            }
            assertClose(gw, gwSum, atol: 1e-3)
        }
    }

    /// The batched lowering (a chunk of images in one matrix, one GEMM per group) against the
    /// per-image path: forward, input, weight and bias gradients, with groups, strides, padding,
    /// a pointwise kernel, one image per chunk and uneven chunks of a batch of 5.
    func testBatchedLoweringMatchesPerImagePath() {
        let saved = (ConvolutionSettings.batchedLoweringThreshold, ConvolutionSettings.batchedLoweringBudget,
                     ConvolutionSettings.winograd)
        defer {
            (ConvolutionSettings.batchedLoweringThreshold, ConvolutionSettings.batchedLoweringBudget,
             ConvolutionSettings.winograd) = saved
        }
        ConvolutionSettings.winograd = .never
        var rng = RandomGenerator(seed: 11)
        // (groups, kernel, stride, padding)
        for (groups, kernel, stride, padding) in [(1, 3, 1, 1), (2, 3, 1, 1), (1, 3, 2, 1), (2, 3, 2, 0), (1, 1, 2, 0), (2, 1, 1, 0)] {
            let x = Tensor.randn([5, 4, 6, 5], generator: &rng), w = Tensor.randn([6, 4 / groups, kernel, kernel], generator: &rng)
            let b = Tensor.randn([6], generator: &rng)
            let outShape = conv2d(x, w, bias: b, stride: stride, padding: padding, groups: groups).shape
            let v = Tensor.randn(outShape, generator: &rng)
            func run(threshold: Int, budget: Int) -> [Tensor] {
                (ConvolutionSettings.batchedLoweringThreshold, ConvolutionSettings.batchedLoweringBudget) = (threshold, budget)
                for t in [x, w, b] { t.grad = nil; t.requiresGrad = true }
                let y = conv2d(x, w, bias: b, stride: stride, padding: padding, groups: groups)
                (y * v).sum().backward()
                return [y.detached(), x.grad!, w.grad!, b.grad!]
            }
            let expected = run(threshold: 0, budget: 16 << 20)
            // Whole batch in one chunk; one image per chunk; chunks of 2, 2 and 1 images.
            let perImage = (4 / groups * kernel * kernel + 3) * outShape[2] * outShape[3] * 4
            for budget in [16 << 20, 1, 2 * perImage] {
                let actual = run(threshold: Int.max, budget: budget)
                for (a, e) in zip(actual, expected) {
                    assertClose(a, e, atol: 1e-4, rtol: 1e-4)
                }
            }
            // The transposed convolution runs the same plan with forward and input gradient swapped.
            let xt = Tensor.randn(outShape, generator: &rng), wt = Tensor.randn([6, 4 / groups, kernel, kernel], generator: &rng)
            func runTransposed(threshold: Int) -> [Tensor] {
                ConvolutionSettings.batchedLoweringThreshold = threshold
                for t in [xt, wt] { t.grad = nil; t.requiresGrad = true }
                let y = convTranspose2d(xt, wt, stride: stride, padding: padding, groups: groups)
                (y * y).sum().backward()
                return [y.detached(), xt.grad!, wt.grad!]
            }
            for (a, e) in zip(runTransposed(threshold: Int.max), runTransposed(threshold: 0)) {
                assertClose(a, e, atol: 1e-3, rtol: 1e-4)
            }
        }
    }

    /// The message of the shape check that `body` fails on shape-only inputs, or nil.
    private func failure(_ body: () -> Tensor) -> String? {
        ShapeErrors.recording { _ = body() }.failure
    }

    private func meta(_ shape: [Int]) -> Tensor { Tensor(metaShape: shape) }

    func testShapeErrorsNameTheOpAndShapes() {
        XCTAssertEqual(failure { conv2d(meta([2, 6, 5, 5]), meta([8, 2, 3, 3]), stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 4) },
                       "conv2d: input channels 6 of x [2, 6, 5, 5] are not divisible by groups 4")
        XCTAssertEqual(failure { conv2d(meta([2, 8, 5, 5]), meta([8, 4, 3, 3]), stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 4) },
                       "conv2d: weight [8, 4, 3, 3] takes 4 channels per group × 4 groups = 16 input channels, x [2, 8, 5, 5] has 8")
        XCTAssertEqual(failure { conv2d(meta([1, 3, 4, 4]), meta([2, 3, 3, 3]), stride: [1, 1], padding: [0, 0], dilation: [2, 2], groups: 1) },
                       "conv2d: kernel [3, 3] with dilation [2, 2] is larger than the input [4, 4] padded by [0, 0] (x [1, 3, 4, 4], weight [2, 3, 3, 3])")
        XCTAssertEqual(failure { conv1d(meta([1, 3, 4]), meta([2, 3, 6]), stride: 1, padding: 0, dilation: 1, groups: 1) },
                       "conv1d: kernel [6] with dilation [1] is larger than the input [4] padded by [0] (x [1, 3, 4], weight [2, 3, 6])")
        XCTAssertEqual(failure { convTranspose2d(meta([1, 4, 3, 3]), meta([3, 2, 3, 3]), stride: [2, 2], padding: [0, 0], outputPadding: [0, 0], dilation: [1, 1], groups: 1) },
                       "convTranspose2d: weight [3, 2, 3, 3] takes 3 input channels, x [1, 4, 3, 3] has 4")
        XCTAssertEqual(failure { convTranspose2d(meta([1, 4, 3, 3]), meta([4, 2, 3, 3]), stride: [2, 2], padding: [0, 0], outputPadding: [2, 0], dilation: [1, 1], groups: 1) },
                       "convTranspose2d: outputPadding [2, 0] must be smaller than stride [2, 2] or dilation [1, 1]")
        XCTAssertEqual(failure { maxPool2d(meta([1, 2, 5, 5]), kernelSize: [2, 2], padding: [2, 0], dilation: [1, 1]) },
                       "maxPool2d: padding [2, 0] should be at most half of kernelSize [2, 2]")
        XCTAssertEqual(failure { avgPool2d(meta([1, 2, 3, 3]), kernelSize: [4, 4], padding: [0, 0]) },
                       "avgPool2d: kernelSize [4, 4] with dilation [1, 1] is larger than the input [3, 3] padded by [0, 0] (x [1, 2, 3, 3])")
        XCTAssertNil(failure { conv2d(meta([2, 8, 5, 5]), meta([8, 2, 3, 3]), stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 4) })
    }

    /// Winograd's transforms add a little rounding; with many channels it stays near im2col's.
    /// F(4×4, 3×3) is less well conditioned than F(2×2, 3×3) (coefficients up to 8 in Aᵀ, 5 in
    /// Bᵀ): here its largest difference is 5.7e-6 of the largest output (F(2×2) stayed under
    /// 2e-6), as with oneDNN's F(4×4) against direct convolution.
    /// Its backward reads the output gradient with any strides: contiguous, broadcast (the
    /// gradient of a sum) and permuted.
    func testWinogradAgreesWithIm2colWithManyChannels() {
        var rng = RandomGenerator(seed: 8)
        let x = Tensor.randn([2, 192, 6, 7], generator: &rng), w = Tensor.randn([24, 192, 3, 3], generator: &rng)
        let b = Tensor.randn([24], generator: &rng)
        let v = Tensor.randn([2, 24, 6, 7], generator: &rng), vp = Tensor.randn([2, 6, 7, 24], generator: &rng)
        let losses: [(Tensor) -> Tensor] = [{ ($0 * v).sum() }, { $0.sum() }, { ($0.permuted([0, 2, 3, 1]) * vp).sum() }]
        let budget = ConvolutionSettings.winogradBudget
        defer { (Winograd.usesVectorExtensions, ConvolutionSettings.winogradBudget) = (true, budget) }
        // Both copies of the transforms: AVX2 and baseline x86-64 (CPUs without AVX2); chunks of
        // whole images, and of three tile rows (two per image), so that a chunk starts and ends
        // inside an image.
        let threeRows = 3 * 36 * (192 + 24) * 2 * MemoryLayout<Float>.stride
        for (vector, loss, chunkBytes) in [true, false].flatMap({ v in losses.flatMap { l in [budget, threeRows].map { (v, l, $0) } } }) {
            (Winograd.usesVectorExtensions, ConvolutionSettings.winogradBudget) = (vector, chunkBytes)
            func run(_ policy: WinogradPolicy) -> [Tensor] {
                let saved = ConvolutionSettings.winograd
                defer { ConvolutionSettings.winograd = saved }
                ConvolutionSettings.winograd = policy
                for t in [x, w, b] { t.grad = nil; t.requiresGrad = true }
                let y = conv2d(x, w, bias: b, padding: 1)
                loss(y).backward()
                return [y, x.grad!, w.grad!, b.grad!]
            }
            for (a, e) in zip(run(.always), run(.never)) {
                let scale = e.scalars.map(abs).max()!
                assertClose(a, e, atol: 1e-5 * scale, rtol: 0)
            }
        }
    }

    /// The chunks of a parallel loop cover every item once, are fixed by the counts alone, and
    /// OpenBLAS runs single-threaded inside the loop and gets its threads back after it.
    func testParallelChunksCoverEveryItemOnce() {
        let threads = Gemm.threadCount
        defer { Gemm.threadCount = threads }
        Gemm.threadCount = 2
        for (count, chunks) in [(0, 4), (1, 8), (7, 3), (32, 8), (5, 16)] {
            let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: Swift.max(count, 1))
            let ranges = UnsafeMutableBufferPointer<Range<Int>>.allocate(capacity: chunks)
            let blasThreads = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunks)
            defer { seen.deallocate(); ranges.deallocate(); blasThreads.deallocate() }
            seen.initialize(repeating: 0)
            Parallel.forEachChunk(count: count, chunks: chunks, workers: 2) { worker, chunk, range in
                XCTAssertTrue(worker < 2)
                ranges[chunk] = range
                blasThreads[chunk] = Gemm.threadCount
                for i in range { seen[i] += 1 }
            }
            XCTAssertEqual(Array(seen.prefix(count)), [Int](repeating: 1, count: count), "count \(count), chunks \(chunks)")
            let used = Swift.min(chunks, count)
            for c in 0..<used {
                XCTAssertEqual(ranges[c], Parallel.part(c, of: used, count: count))
                XCTAssertEqual(blasThreads[c], used > 1 ? 1 : 2)
            }
        }
        XCTAssertEqual(Gemm.threadCount, 2)
    }
}

