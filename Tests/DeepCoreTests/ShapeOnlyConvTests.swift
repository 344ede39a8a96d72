import XCTest
import DeepCore

/// Convolution, pooling, interpolation, normalisation, products and linear algebra on shape-only
/// inputs: each gives the real op's output shape and its declared FLOPs without reading a value
/// (a read would be recorded as a failure here, and stop the program outside a recording).
final class ShapeOnlyConvTests: XCTestCase {
    private func meta(_ shape: [Int]) -> Tensor { Tensor(metaShape: shape) }

    /// Runs `body` on shape-only inputs and checks its result's shape, that it is shape-only, the
    /// FLOPs it counted, and that nothing failed or read values; then, when `real` is given, that
    /// the same op on real inputs has that shape.
    private func check(_ label: String, shape: [Int], flops: Int = 0, file: StaticString = #filePath, line: UInt = #line,
                       _ body: () throws -> Tensor) rethrows {
        let before = FlopCounter.total
        let (result, failure) = try ShapeErrors.recording { try body() }
        XCTAssertNil(failure, label, file: file, line: line)
        XCTAssertEqual(result.shape, shape, label, file: file, line: line)
        XCTAssertTrue(result.isMeta, "\(label) gives a shape-only result", file: file, line: line)
        XCTAssertEqual(FlopCounter.total - before, flops, "\(label) FLOPs", file: file, line: line)
    }

    /// `op` on real tensors of the shapes of `inputs` (random values) has output shape `shape`.
    private func assertRealShape(_ shape: [Int], _ inputs: [[Int]], file: StaticString = #filePath, line: UInt = #line,
                                 _ op: ([Tensor]) -> Tensor) {
        var rng = RandomGenerator(seed: 3)
        XCTAssertEqual(op(inputs.map { Tensor.randn($0, generator: &rng) }).shape, shape, file: file, line: line)
    }

    func testConvolutions() {
        let convolutions: [(String, [[Int]], [Int], Int, ([Tensor]) -> Tensor)] = [
            ("conv2d", [[2, 3, 8, 8], [4, 3, 3, 3], [4]], [2, 4, 8, 8], 2 * 2 * 4 * 64 * 27,
             { conv2d($0[0], $0[1], bias: $0[2], padding: 1) }),
            ("conv2d stride 2, grouped", [[2, 4, 9, 9], [6, 2, 3, 3]], [2, 6, 4, 4], 2 * 2 * 6 * 16 * 18,
             { conv2d($0[0], $0[1], stride: 2, groups: 2) }),
            ("conv2d depthwise", [[2, 4, 6, 6], [4, 1, 3, 3]], [2, 4, 6, 6], 2 * 2 * 4 * 36 * 9,
             { conv2d($0[0], $0[1], padding: 1, groups: 4) }),
            // The taps that only read padding count, as in PyTorch (the run drops them).
            ("conv2d on a 1×1 plane", [[2, 8, 1, 1], [16, 8, 3, 3]], [2, 16, 1, 1], 2 * 2 * 16 * 72,
             { conv2d($0[0], $0[1], padding: 1) }),
            ("conv2d, window over the whole image", [[2, 8, 3, 3], [16, 8, 3, 3], [16]], [2, 16, 1, 1], 2 * 2 * 16 * 72,
             { conv2d($0[0], $0[1], bias: $0[2]) }),
            ("conv2d Winograd shape", [[2, 16, 8, 8], [16, 16, 3, 3]], [2, 16, 8, 8], 2 * 2 * 16 * 64 * 144,
             { conv2d($0[0], $0[1], padding: 1) }),
            ("conv1d", [[2, 3, 10], [4, 3, 3], [4]], [2, 4, 8], 2 * 2 * 4 * 8 * 9,
             { conv1d($0[0], $0[1], bias: $0[2]) }),
            ("convTranspose2d", [[1, 4, 3, 3], [4, 2, 3, 3], [2]], [1, 2, 7, 7], 2 * 36 * 18,
             { convTranspose2d($0[0], $0[1], bias: $0[2], stride: 2) }),
        ]
        for (label, inputs, shape, flops, op) in convolutions {
            check(label, shape: shape, flops: flops) { op(inputs.map(meta)) }
            assertRealShape(shape, inputs, op)
        }
    }

    func testProducts() {
        let products: [(String, [[Int]], [Int], Int, ([Tensor]) -> Tensor)] = [
            ("matmul", [[3, 4], [4, 5]], [3, 5], 2 * 3 * 5 * 4, { matmul($0[0], $0[1]) }),
            ("matmul, batch folded into rows", [[2, 3, 4], [4, 5]], [2, 3, 5], 2 * 6 * 5 * 4, { matmul($0[0], $0[1]) }),
            ("matmul, broadcast batch", [[2, 1, 3, 4], [5, 4, 6]], [2, 5, 3, 6], 2 * 10 * 3 * 6 * 4, { matmul($0[0], $0[1]) }),
            ("matmul, vector", [[4], [4, 5]], [5], 2 * 5 * 4, { matmul($0[0], $0[1]) }),
            ("matmul, transposed operand", [[4, 3], [4, 5]], [3, 5], 2 * 3 * 5 * 4, { matmul($0[0].mT, $0[1]) }),
            ("linear", [[7, 4], [3, 4], [3]], [7, 3], 2 * 7 * 3 * 4, { linear($0[0], weight: $0[1], bias: $0[2]) }),
            ("linear on a sequence", [[2, 7, 4], [3, 4], [3]], [2, 7, 3], 2 * 14 * 3 * 4,
             { linear($0[0], weight: $0[1], bias: $0[2]) }),
            ("linear without bias", [[7, 4], [3, 4]], [7, 3], 2 * 7 * 3 * 4, { linear($0[0], weight: $0[1]) }),
        ]
        for (label, inputs, shape, flops, op) in products {
            check(label, shape: shape, flops: flops) { op(inputs.map(meta)) }
            assertRealShape(shape, inputs, op)
        }
    }

    func testPoolingAndInterpolation() {
        let x = [2, 3, 8, 8]
        let ops: [(String, [Int], (Tensor) -> Tensor)] = [
            ("maxPool2d", [2, 3, 4, 4], { maxPool2d($0, kernelSize: 2) }),
            ("maxPool2d padded, ceil mode", [2, 3, 5, 5], { maxPool2d($0, kernelSize: 3, stride: 2, padding: 1, ceilMode: true) }),
            ("maxPool2d on (C, H, W)", [3, 4, 4], { maxPool2d($0[0], kernelSize: 2) }),
            ("avgPool2d", [2, 3, 4, 4], { avgPool2d($0, kernelSize: 3, stride: 2, padding: 1) }),
            ("adaptiveAvgPool2d", [2, 3, 1, 1], { adaptiveAvgPool2d($0, outputSize: 1) }),
            ("adaptiveMaxPool2d", [2, 3, 3, 5], { adaptiveMaxPool2d($0, outputSize: [3, 5]) }),
            ("interpolate nearest", [2, 3, 16, 16], { interpolate($0, scale: 2) }),
            ("interpolate bilinear", [2, 3, 5, 11], { interpolate($0, size: [5, 11], mode: .bilinear, alignCorners: true) }),
        ]
        for (label, shape, op) in ops {
            check(label, shape: shape) { op(meta(x)) }
            assertRealShape(shape, [x]) { op($0[0]) }
        }
    }

    func testNormalization() {
        let x = [4, 6, 5, 5]
        let (weight, bias) = (Tensor(ones: [6]), Tensor(zeros: [6]))
        let ops: [(String, (Tensor) -> Tensor)] = [
            ("layerNorm", { layerNorm($0, normalizedShape: [5, 5], weight: Tensor(ones: [5, 5]), bias: Tensor(zeros: [5, 5])) }),
            ("rmsNorm", { rmsNorm($0, normalizedShape: [5], weight: Tensor(ones: [5])) }),
            ("groupNorm", { groupNorm($0, groups: 3, weight: weight, bias: bias) }),
            ("batchNorm, training", { x in
                batchNorm(x, runningMean: Tensor(zeros: [6]), runningVar: Tensor(ones: [6]), weight: weight, bias: bias, training: true)
            }),
            ("batchNorm, running statistics", { x in
                batchNorm(x, runningMean: Tensor(zeros: [6]), runningVar: Tensor(ones: [6]), weight: weight, bias: bias, training: false)
            }),
        ]
        for (label, op) in ops {
            check(label, shape: x) { op(meta(x)) }
            assertRealShape(x, [x]) { op($0[0]) }
        }
        // A shape-only run leaves the running statistics alone.
        let runningMean = Tensor(zeros: [6])
        check("batchNorm statistics", shape: x) {
            batchNorm(meta(x), runningMean: runningMean, runningVar: Tensor(ones: [6]), training: true)
        }
        XCTAssertEqual(runningMean.scalars, [Float](repeating: 0, count: 6))
    }

    func testLinearAlgebra() throws {
        try check("solve", shape: [4, 2]) { try Linalg.solve(meta([4, 4]), meta([4, 2])) }
        try check("solve, vector", shape: [4]) { try Linalg.solve(meta([4, 4]), meta([4])) }
        try check("inverse", shape: [3, 3]) { try Linalg.inverse(meta([3, 3])) }
        try check("cholesky", shape: [3, 3]) { try Linalg.cholesky(meta([3, 3])) }
        try check("qr R", shape: [3, 3]) { try Linalg.qr(meta([5, 3])).r }
        try check("qr Q", shape: [5, 3]) { try Linalg.qr(meta([5, 3])).q }
        XCTAssertThrowsError(try Linalg.inverse(meta([3, 4])))
        // Real inputs keep their results and errors.
        let q = try Linalg.qr(Tensor.randn([5, 3]))
        XCTAssertEqual([q.q.shape, q.r.shape], [[5, 3], [3, 3]])
        XCTAssertThrowsError(try Linalg.inverse(Tensor(zeros: [2, 2]))) { error in
            XCTAssertEqual(error as? LinalgError, .singular(operation: "inverse", pivot: 1))
        }
    }
}
