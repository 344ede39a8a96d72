import XCTest
@testable import DeepCore

/// Every public op of the core families (arithmetic, elementwise math, activations, comparisons,
/// reductions, softmax, views, joining, indexing, einops) on shape-only inputs, as model
/// summaries run them: the result has the shape that real inputs give, and no value is read.
final class ShapeOnlyTests: XCTestCase {
    /// Runs `body` on `inputs`, then on shape-only stand-ins: all of them, and (for several
    /// inputs) each one alone among the real others. Each run must give the real run's shapes
    /// and read no value; with every input shape-only, every result must be shape-only.
    /// The shape-only runs go inside `ShapeErrors.recording`, where reading a value is recorded
    /// (and reported here) instead of stopping the process.
    private func check(_ inputs: Tensor..., file: StaticString = #filePath, line: UInt = #line,
                       _ body: ([Tensor]) throws -> [Tensor]) rethrows {
        let expected = try body(inputs).map(\.shape)
        let meta = inputs.map { Tensor(metaShape: $0.shape) }
        var variants = [("all inputs shape-only", meta)]
        if inputs.count > 1 {
            for i in inputs.indices {
                var mixed = inputs
                mixed[i] = meta[i]
                variants.append(("input \(i) shape-only", mixed))
            }
        }
        for (index, (label, variant)) in variants.enumerated() {
            let (results, failure) = try ShapeErrors.recording { try body(variant) }
            XCTAssertNil(failure, label, file: file, line: line)
            XCTAssertEqual(results.map(\.shape), expected, label, file: file, line: line)
            if index == 0 {
                XCTAssertTrue(results.allSatisfy(\.isMeta), "\(label): a result holds values", file: file, line: line)
            }
        }
    }

    private let x = Tensor.randn([2, 3, 4])
    private let positive = Tensor.rand([2, 3, 4], low: 0.5, high: 2)
    private let column = Tensor.randn([3, 1])

    func testArithmetic() {
        check(x, column) { t in [t[0] + t[1], t[0] - t[1], t[0] * t[1], t[0] / t[1], -t[0]] }
        check(x) { t in [t[0] + 1, 1 + t[0], t[0] - 1, 1 - t[0], t[0] * 2, 2 * t[0], t[0] / 2, 2 / t[0]] }
        check(x, column) { t in
            let (a, b) = Tensor.broadcastPair(t[0], t[1], op: "test")
            return [a, b]
        }
    }

    func testUnaryMath() {
        check(positive) { t in
            let p = t[0]
            return [p.exp(), p.log(), p.sqrt(), p.rsqrt(), p.pow(2), p.pow(1), p.pow(0), p.pow(1.5), p.square(),
                    p.reciprocal(), p.abs(), p.sign(), p.clamped(min: 1), p.clamped(max: 1), p.clamped(min: 0.7, max: 1.2),
                    p.sin(), p.cos()]
        }
        check(positive, column) { t in [t[0].pow(t[1])] }
    }

    func testActivations() {
        check(x) { t in
            let v = t[0]
            return [relu(v), leakyRelu(v), elu(v), gelu(v), gelu(v, approximation: .tanh), sigmoid(v), silu(v),
                    tanh(v), softplus(v), hardswish(v)]
        }
    }

    func testComparisonsAndSelection() {
        check(x, column) { t in
            let (a, b) = (t[0], t[1])
            return [a.isEqual(to: b), a.isNotEqual(to: b), a.isLess(than: b), a.isLessOrEqual(to: b),
                    a.isGreater(than: b), a.isGreaterOrEqual(to: b), maximum(a, b), minimum(a, b)]
        }
        check(x) { t in
            let a = t[0]
            return [a.isEqual(to: 0), a.isNotEqual(to: 0), a.isLess(than: 0), a.isLessOrEqual(to: 0),
                    a.isGreater(than: 0), a.isGreaterOrEqual(to: 0)]
        }
        check(column.isGreater(than: 0), x, Tensor.randn([4])) { t in [select(where: t[0], t[1], otherwise: t[2])] }
    }

    func testReductions() {
        check(x) { t in
            let v = t[0]
            return [v.sum(), v.sum(axes: [0, 2]), v.sum(axis: 1, keepingDims: true),
                    v.mean(), v.mean(axes: [0, -1], keepingDims: true), v.mean(axis: 1),
                    v.max(), v.max(axes: [1]), v.max(axis: -1, keepingDims: true),
                    v.min(), v.min(axes: [0, 2], keepingDims: true), v.min(axis: 0),
                    v.argmax(axis: 1), v.argmax(axis: 0, keepingDims: true), v.argmin(axis: -1),
                    v.variance(), v.variance(axes: [0], correction: 0), v.standardDeviation(axes: [1], keepingDims: true),
                    v.logSumExp(), v.logSumExp(axes: [2], keepingDims: true), v.norm(), v.norm(axes: [0, 1])]
        }
        check(Tensor(scalar: 3)) { t in [t[0].argmax(axis: 0), t[0].argmin(axis: 0), t[0].max(), t[0].sum()] }
    }

    func testSoftmax() {
        check(x) { t in
            [softmax(t[0]), softmax(t[0], axis: 1), softmax(t[0], axis: 0),
             logSoftmax(t[0]), logSoftmax(t[0], axis: 1), logSoftmax(t[0], axis: 0)]
        }
        check(Tensor(scalar: 3)) { t in [softmax(t[0]), logSoftmax(t[0])] }
    }

    func testViews() {
        check(x) { t in
            let v = t[0]
            return [v.copied(), v.mT.contiguous(), v.reshaped([4, -1]), v.view([6, 4]), v.flattened(from: 1),
                    v.permuted([2, 0, 1]), v.transposed(0, 2), v.mT, v.unsqueezed(axis: 1).expanded(to: [2, 5, 3, 4]),
                    v.summed(toShape: [3, 1]), v.narrowed(axis: 2, start: 1, length: 2), v[1], v[0..<1],
                    v[0..<1].squeezed(axis: 0), v[0..<1].squeezed(), v.unsqueezed(axis: -1)]
        }
        check(column) { t in [t[0].expanded(to: [2, 3, 5]), t[0].mT.reshaped([3])] }
    }

    func testJoiningAndSplitting() {
        check(x, Tensor.randn([2, 5, 4])) { t in [Tensor.concatenate(t, axis: 1)] }
        check(x, positive) { t in [Tensor.stack(t), Tensor.stack(t, axis: -1)] }
        check(x) { t in
            t[0].split(sizes: [1, 2], axis: 1) + t[0].split(size: 3, axis: -1) + t[0].chunked(2, axis: 0)
        }
    }

    func testIndexing() {
        let indices = Tensor([0, 2, 2, 1, 0, 0], shape: [2, 1, 3])
        check(x, indices) { t in [t[0].gathered(axis: 1, indices: t[1])] }
        check(x) { t in [t[0].indexSelected(axis: 1, indices: [2, 0, 2]), t[0].indexSelected(axis: 0, indices: [])] }
        check(x, column.isGreater(than: 0)) { t in [t[0].filled(where: t[1], with: -.infinity)] }
    }

    func testEinops() throws {
        let image = Tensor.randn([2, 3, 4, 6])
        try check(image) { t in
            let v = t[0]
            return [try v.rearranged("b c h w -> b h w c"), try v.rearranged("b c (h h2) w -> b (c h2) h w", ["h2": 2]),
                    try v.rearranged("b ... -> b (...)"), try v.repeated("b c h w -> b c h w r", ["r": 2]),
                    try v.repeated("b c h w -> b c (h 2) (w 2)")]
        }
        for reduction in EinopsReduction.allCases {
            try check(image) { t in
                let v = t[0]
                return [try v.reduced("b c (h 2) (w 2) -> b c h w", reduction), try v.reduced("b c h w -> b c 1 1", reduction),
                        try v.reduced("b c h w -> b c", reduction), try v.reduced("(b1 b2) ... -> b1", reduction, ["b1": 2]),
                        try v.reduced("b c h w -> ", reduction), try v.reduced("b c h w -> b c", reduction.rawValue)]
            }
        }
        try check(x, positive) { t in [try Tensor.rearranged(t, "n b h w -> b h (n w)")] }
    }
}

final class ShapeOnlyDescriptionTests: XCTestCase {
    /// Printing a shape-only tensor shows its shape and maker instead of reading values.
    func testDescriptionOfShapeOnlyTensor() {
        let y = Tensor(metaShape: [2, 3]).exp()
        XCTAssertEqual(y.description, "tensor(shape-only, shape: [2, 3], made by: exp)")
    }
}
