import XCTest
import DeepCore

/// conv3d and convTranspose3d against PyTorch (Tests/Fixtures/make_conv3d.py): values and
/// gradients, finite differences, strided inputs and shape-only inputs through the op table, under
/// the default tuning and the others (bands of one output row, slices lowered once, the input
/// gradient by col2vol or by the flipped weight, work split among threads); plus
/// properties (adjoint, agreement with conv2d, per-image batches) and the shape messages.
final class Convolution3dTests: XCTestCase {
    static let fixtures = loadFixtures("conv3d")

    /// The op-table rows of the fixture cases of `op`, run by `run(inputs, params)`; with
    /// `finiteDifferences`, each row also draws fresh inputs of the fixture's shapes.
    private func rows(_ op: String, finiteDifferences: Bool, file: StaticString = #filePath, line: UInt = #line,
                      _ run: @escaping ([Tensor], [Int]) -> Tensor) -> [OpCase] {
        let f = Self.fixtures
        var rows: [OpCase] = []
        while let params = f["\(op)/\(rows.count).params"]?.scalars.map({ Int($0) }) {
            let name = "\(op)/\(rows.count)"
            let names = ["x0", "x1", "x2"].filter { f["\(name).\($0)"] != nil }
            let shapes = names.map { f["\(name).\($0)"]!.shape }
            let draw = { () -> [Tensor] in
                var rng = RandomGenerator(seed: 21)
                return shapes.map { Tensor.randn($0, generator: &rng) }
            }
            rows.append(OpCase(name, inputs: finiteDifferences ? draw : nil,
                               fixture: .named(name, in: f, inputs: names, atol: 1e-4, rtol: 1e-4),
                               file: file, line: line) { run($0, params) })
        }
        return rows
    }

    private static func conv3dCase(_ xs: [Tensor], _ p: [Int]) -> Tensor {
        conv3d(xs[0], xs[1], bias: xs.count > 2 ? xs[2] : nil, stride: Array(p[0..<3]), padding: Array(p[3..<6]),
               dilation: Array(p[6..<9]), groups: p[9])
    }

    private static func convTranspose3dCase(_ xs: [Tensor], _ p: [Int]) -> Tensor {
        convTranspose3d(xs[0], xs[1], bias: xs.count > 2 ? xs[2] : nil, stride: Array(p[0..<3]), padding: Array(p[3..<6]),
                        outputPadding: Array(p[6..<9]), dilation: Array(p[9..<12]), groups: p[12])
    }

    /// Runs `body` under the tunings other than the default: one output row per band, work split
    /// among two threads however small and the input gradient by GEMM and col2vol; then the same
    /// threads with input slices lowered once wherever the shape allows and the input gradient of
    /// stride-1 convolutions by the flipped weight.
    private func withOtherTunings(_ body: () -> Void) {
        let saved = (ConvolutionSettings.loweringBudget, Parallel.minimumWork, Gemm.threadCount,
                     Convolution3dSettings.sliceLoweringThreshold, Convolution3dSettings.inputGradientByFlippedWeight)
        defer {
            (ConvolutionSettings.loweringBudget, Parallel.minimumWork, Gemm.threadCount,
             Convolution3dSettings.sliceLoweringThreshold, Convolution3dSettings.inputGradientByFlippedWeight) = saved
        }
        (ConvolutionSettings.loweringBudget, Parallel.minimumWork, Gemm.threadCount,
         Convolution3dSettings.sliceLoweringThreshold, Convolution3dSettings.inputGradientByFlippedWeight) = (1, 0, 2, Int.max, false)
        body()
        (Convolution3dSettings.sliceLoweringThreshold, Convolution3dSettings.inputGradientByFlippedWeight) = (0, true)
        body()
    }

    func testConv3dMatchesPyTorchAndFiniteDifferences() {
        let cases = rows("conv3d", finiteDifferences: true, Self.conv3dCase)
        XCTAssertGreaterThanOrEqual(cases.count, 12)
        assertOpCases(cases)
        withOtherTunings { assertOpCases(rows("conv3d", finiteDifferences: false, Self.conv3dCase)) }
    }

    func testConvTranspose3dMatchesPyTorchAndFiniteDifferences() {
        let cases = rows("convTranspose3d", finiteDifferences: true, Self.convTranspose3dCase)
        XCTAssertGreaterThanOrEqual(cases.count, 5)
        assertOpCases(cases)
        withOtherTunings { assertOpCases(rows("convTranspose3d", finiteDifferences: false, Self.convTranspose3dCase)) }
    }

    /// ⟨conv3d(x), v⟩ = ⟨x, convTranspose3d(v)⟩: the transposed convolution is the adjoint.
    func testConvTranspose3dIsTheAdjointOfConv3d() {
        var rng = RandomGenerator(seed: 5)
        let x = Tensor.randn([2, 4, 7, 9, 8], generator: &rng), w = Tensor.randn([6, 2, 3, 3, 2], generator: &rng)
        let y = conv3d(x, w, stride: [2, 2, 3], padding: [1, 1, 1], dilation: [1, 2, 1], groups: 2)
        let v = Tensor.randn(y.shape, generator: &rng)
        let back = convTranspose3d(v, w, stride: [2, 2, 3], padding: [1, 1, 1], outputPadding: [0, 0, 2],
                                   dilation: [1, 2, 1], groups: 2)
        XCTAssertEqual(back.shape, x.shape)
        XCTAssertEqual((y * v).sum().item(), (x * back).sum().item(), accuracy: 1e-2)
    }

    /// A (1, kH, kW) kernel over a depth of one is a 2-D convolution: values and gradients agree
    /// with conv2d (its own, separately tuned paths), with groups, stride, padding and dilation.
    func testDepthOneAgreesWithConv2d() {
        var rng = RandomGenerator(seed: 6)
        for (groups, stride, padding, dilation) in [(1, 1, 1, 1), (2, 2, 1, 1), (1, 1, 2, 2), (4, 1, 1, 1)] {
            let x = Tensor.randn([3, 4, 9, 10], generator: &rng), w = Tensor.randn([8, 4 / groups, 3, 3], generator: &rng)
            let b = Tensor.randn([8], generator: &rng)
            func run(_ volume: Bool) -> [Tensor] {
                for t in [x, w, b] { t.grad = nil; t.requiresGrad = true }
                let y = volume
                    ? conv3d(x.unsqueezed(axis: 2), w.unsqueezed(axis: 2), bias: b, stride: [1, stride, stride],
                             padding: [0, padding, padding], dilation: [1, dilation, dilation], groups: groups).squeezed(axis: 2)
                    : conv2d(x, w, bias: b, stride: [stride, stride], padding: [padding, padding],
                             dilation: [dilation, dilation], groups: groups)
                (y * y).sum().backward()
                return [y.detached(), x.grad!, w.grad!, b.grad!]
            }
            for (a, e) in zip(run(true), run(false)) { assertClose(a, e, atol: 1e-3, rtol: 1e-4, "groups \(groups)") }
        }
    }

    /// A batch large enough for the threaded paths (and per-chunk weight-gradient sums), against
    /// the same convolution one image at a time.
    func testBatchedConv3dMatchesPerImage() {
        var rng = RandomGenerator(seed: 7)
        let x = Tensor.randn([5, 8, 6, 7, 6], generator: &rng), w = Tensor.randn([8, 8, 3, 3, 3], generator: &rng)
        for t in [x, w] { t.requiresGrad = true }
        conv3d(x, w, padding: 1).sum().backward()
        let (gx, gw) = (x.grad!, w.grad!)
        var gwSum = Tensor(zeros: w.shape)
        for n in 0..<5 {
            let xn = x[n..<(n + 1)].detached()
            xn.requiresGrad = true; w.grad = nil
            let yn = conv3d(xn, w, padding: 1)
            assertClose(yn, withoutGrad { conv3d(x, w, padding: 1)[n..<(n + 1)] }, atol: 1e-4)
            yn.sum().backward()
            assertClose(xn.grad!, gx[n..<(n + 1)], atol: 1e-4)
            gwSum = gwSum + w.grad!
        }
        assertClose(gw, gwSum, atol: 1e-3, rtol: 1e-5)
    }

    /// The two lowerings (bands of output rows; input slices lowered once, in chunks of one,
    /// two (uneven) or all output slices) and the two input gradients (col2vol; the flipped
    /// weight) give the same values and gradients, single- and multi-threaded.
    func testLoweringPathsAgree() {
        let saved = (Convolution3dSettings.sliceLoweringThreshold, Convolution3dSettings.sliceLoweringBudget,
                     Convolution3dSettings.inputGradientByFlippedWeight, Parallel.minimumWork, Gemm.threadCount)
        defer {
            (Convolution3dSettings.sliceLoweringThreshold, Convolution3dSettings.sliceLoweringBudget,
             Convolution3dSettings.inputGradientByFlippedWeight, Parallel.minimumWork, Gemm.threadCount) = saved
        }
        var rng = RandomGenerator(seed: 9)
        // (x shape, weight shape, stride, padding, dilation, groups)
        let cases: [([Int], [Int], [Int], [Int], [Int], Int)] = [
            ([3, 4, 5, 6, 7], [6, 4, 3, 3, 3], [1, 1, 1], [1, 1, 1], [1, 1, 1], 1),
            ([2, 4, 6, 5, 6], [6, 2, 3, 2, 3], [1, 1, 1], [2, 0, 1], [1, 2, 1], 2),
            ([2, 3, 5, 6, 6], [4, 3, 2, 3, 3], [1, 2, 1], [0, 1, 1], [1, 1, 1], 1),
            ([2, 3, 7, 5, 5], [4, 3, 3, 3, 3], [2, 1, 1], [1, 1, 1], [1, 1, 1], 1),
            ([2, 4, 5, 5, 5], [4, 1, 3, 3, 3], [1, 1, 1], [1, 1, 1], [1, 1, 1], 4),
        ]
        for (xs, ws, st, p, d, g) in cases {
            let x = Tensor.randn(xs, generator: &rng), w = Tensor.randn(ws, generator: &rng)
            let b = Tensor.randn([ws[0]], generator: &rng)
            let v = Tensor.randn(conv3d(x, w, stride: st, padding: p, dilation: d, groups: g).shape, generator: &rng)
            // One lowered input slice of a group: (C/g)·kH·kW·H'·W' floats.
            let sliceBytes = ws[1] * ws[3] * ws[4] * v.shape[3] * v.shape[4] * 4
            func run(threshold: Int, budget: Int, flipped: Bool, threads: Int) -> [Tensor] {
                (Convolution3dSettings.sliceLoweringThreshold, Convolution3dSettings.sliceLoweringBudget,
                 Convolution3dSettings.inputGradientByFlippedWeight) = (threshold, budget, flipped)
                (Parallel.minimumWork, Gemm.threadCount) = threads > 1 ? (0, threads) : (saved.3, 1)
                for t in [x, w, b] { t.grad = nil; t.requiresGrad = true }
                let y = conv3d(x, w, bias: b, stride: st, padding: p, dilation: d, groups: g)
                (y * v).sum().backward()
                return [y.detached(), x.grad!, w.grad!, b.grad!]
            }
            let expected = run(threshold: Int.max, budget: 0, flipped: false, threads: 1)
            for (threshold, budget, flipped, threads) in [(0, 16 << 20, true, 1), (0, ws[2] * sliceBytes, true, 2),
                                                          (0, (ws[2] + 1) * sliceBytes, false, 2), (Int.max, 0, true, 2)] {
                for (i, (a, e)) in zip(run(threshold: threshold, budget: budget, flipped: flipped, threads: threads), expected).enumerated() {
                    assertClose(a, e, atol: 1e-4, rtol: 1e-4, "x \(xs) w \(ws) budget \(budget) flipped \(flipped) threads \(threads): tensor \(i)")
                }
            }
        }
    }

    func testIntConvenienceOverloadsShapesAndFlops() {
        var rng = RandomGenerator(seed: 8)
        let x = Tensor.randn([1, 2, 6, 6, 6], generator: &rng), w = Tensor.randn([3, 2, 3, 3, 3], generator: &rng)
        assertClose(conv3d(x, w, stride: 2, padding: 1), conv3d(x, w, stride: [2, 2, 2], padding: [1, 1, 1]))
        XCTAssertEqual(conv3d(x, w).shape, [1, 3, 4, 4, 4])
        let up = Tensor.randn([2, 3, 2, 2, 2], generator: &rng)
        assertClose(convTranspose3d(x, up, stride: 2, padding: 1, outputPadding: 1),
                    convTranspose3d(x, up, stride: [2, 2, 2], padding: [1, 1, 1], outputPadding: [1, 1, 1]))
        XCTAssertEqual(convTranspose3d(x, up, stride: 2).shape, [1, 3, 12, 12, 12])
        // An empty batch: an empty output, and zero weight and bias gradients.
        let empty = Tensor(zeros: [0, 2, 6, 6, 6]), w0 = w.copied(), b0 = Tensor(zeros: [3])
        for t in [empty, w0, b0] { t.requiresGrad = true }
        let none = conv3d(empty, w0, bias: b0, padding: 1)
        XCTAssertEqual(none.shape, [0, 3, 6, 6, 6])
        none.sum().backward()
        XCTAssertEqual(w0.grad?.scalars, [Float](repeating: 0, count: w.count))
        XCTAssertEqual(b0.grad?.scalars, [0, 0, 0])
        // FLOPs as PyTorch counts them: 2 · output elements · (C/g)·kD·kH·kW.
        let start = FlopCounter.total
        let y = conv3d(Tensor(metaShape: [4, 32, 16, 32, 32]), Tensor(metaShape: [32, 32, 3, 3, 3]), padding: 1)
        XCTAssertTrue(y.isMeta)
        XCTAssertEqual(y.shape, [4, 32, 16, 32, 32])
        XCTAssertEqual(FlopCounter.total - start, 2 * 4 * 32 * 16 * 32 * 32 * 32 * 27)
    }

    /// The message of the shape check that `body` fails on shape-only inputs, or nil.
    private func failure(_ body: () -> Tensor) -> String? {
        ShapeErrors.recording { _ = body() }.failure
    }

    private func meta(_ shape: [Int]) -> Tensor { Tensor(metaShape: shape) }

    func testShapeErrorsNameTheOpAndShapes() {
        XCTAssertEqual(failure { conv3d(meta([2, 6, 5, 5]), meta([8, 6, 3, 3])) },
                       "conv3d: x of shape [2, 6, 5, 5] should be (N, C, D, H, W)")
        XCTAssertEqual(failure { conv3d(meta([2, 6, 5, 5, 5]), meta([8, 2, 3, 3, 3]), groups: 4) },
                       "conv3d: input channels 6 of x [2, 6, 5, 5, 5] are not divisible by groups 4")
        XCTAssertEqual(failure { conv3d(meta([2, 8, 5, 5, 5]), meta([8, 4, 3, 3, 3]), groups: 4) },
                       "conv3d: weight [8, 4, 3, 3, 3] takes 4 channels per group × 4 groups = 16 input channels, x [2, 8, 5, 5, 5] has 8")
        XCTAssertEqual(failure { conv3d(meta([1, 3, 4, 4, 4]), meta([2, 3, 3, 3, 3]), dilation: [1, 2, 1]) },
                       "conv3d: kernel [3, 3, 3] with dilation [1, 2, 1] is larger than the input [4, 4, 4] padded by [0, 0, 0] (x [1, 3, 4, 4, 4], weight [2, 3, 3, 3, 3])")
        XCTAssertEqual(failure { conv3d(meta([1, 3, 4, 4, 4]), meta([2, 3, 3, 3, 3]), stride: [1, 1]) },
                       "conv3d: stride [1, 1], padding [0, 0, 0] and dilation [1, 1, 1] need 3 entries each (depth, height, width)")
        XCTAssertEqual(failure { conv3d(meta([1, 3, 4, 4, 4]), meta([2, 3, 3, 3, 3]), bias: meta([3])) },
                       "conv3d: bias of shape [3] for 2 output channels (weight [2, 3, 3, 3, 3])")
        XCTAssertEqual(failure { convTranspose3d(meta([1, 4, 3, 3, 3]), meta([3, 2, 3, 3, 3]), stride: 2) },
                       "convTranspose3d: weight [3, 2, 3, 3, 3] takes 3 input channels, x [1, 4, 3, 3, 3] has 4")
        XCTAssertEqual(failure { convTranspose3d(meta([1, 4, 3, 3, 3]), meta([4, 2, 3, 3, 3]), stride: [2, 2, 2], outputPadding: [2, 0, 0]) },
                       "convTranspose3d: outputPadding [2, 0, 0] must have 3 entries, each smaller than stride [2, 2, 2] or dilation [1, 1, 1]")
        XCTAssertNil(failure { conv3d(meta([2, 8, 5, 5, 5]), meta([8, 2, 3, 3, 3]), padding: 1, groups: 4) })
    }
}
