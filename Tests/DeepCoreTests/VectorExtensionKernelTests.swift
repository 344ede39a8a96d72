import XCTest
@testable import DeepCore
import TestSupport

/// The AVX2 / AVX-512 elementwise kernels (CVectorKernels: exact GELU and its gradient, the
/// shifted exponentials of attention rows) against the portable Swift loops they stand in for,
/// over lengths that leave vector tails and values across both tails of the Gaussian.
final class VectorExtensionKernelTests: XCTestCase {
    /// Runs `body` with the native kernels off, then on; returns both results.
    private func bothWays<T>(_ body: () -> T) -> (portable: T, native: T) {
        let saved = Elementwise.usesVectorExtensions
        defer { Elementwise.usesVectorExtensions = saved }
        Elementwise.usesVectorExtensions = false
        let portable = body()
        Elementwise.usesVectorExtensions = true
        return (portable, body())
    }

    func testGELUAndItsGradientMatchThePortableLoops() throws {
        try XCTSkipUnless(Elementwise.usesVectorExtensions, "the CPU has neither AVX2 with FMA nor AVX-512")
        var rng = RandomGenerator(seed: 5)
        for n in [1, 7, 8, 9, 17, 33, 4099] {
            let grid = (0..<n).map { Float(-12 + 24 * Double($0) / Double(Swift.max(n - 1, 1))) }
            for x in [Tensor(grid, shape: [n]), Tensor.randn([n], generator: &rng) * 3] {
                let g = Tensor.randn([n], generator: &rng)
                let (portable, native) = bothWays { () -> [Tensor] in
                    let leaf = x.detached()
                    leaf.requiresGrad = true
                    let y = gelu(leaf)
                    (y * g).sum().backward()
                    return [y.detached(), leaf.grad!]
                }
                assertClose(native[0], portable[0], atol: 1e-6, rtol: 1e-6, "gelu, n = \(n)")
                assertClose(native[1], portable[1], atol: 1e-6, rtol: 1e-5, "gelu gradient, n = \(n)")
            }
        }
        // Far tails and special values: Φ is 0 or 1 there, infinities and NaN pass as in the Swift loop.
        let special: [Float] = [0, -0.0, 1e-30, -1e-30, 40, -40, 1e30, -1e30, .infinity, -.infinity, .nan, 5, -5]
        let (portable, native) = bothWays { gelu(Tensor(special, shape: [special.count])).scalars }
        for (i, (a, b)) in zip(native, portable).enumerated() {
            XCTAssert(a == b || (a.isNaN && b.isNaN) || abs(a - b) <= 1e-6 * Swift.max(1, abs(b)), "gelu(\(special[i])): \(a) against \(b)")
        }
    }

    func testAttentionRowExponentialsMatchThePortableLoops() throws {
        try XCTSkipUnless(Elementwise.usesVectorExtensions, "the CPU has neither AVX2 with FMA nor AVX-512")
        var rng = RandomGenerator(seed: 6)
        // Key lengths that leave 8- and 16-lane tails; causal rows of every visible length.
        for (l, s, causal) in [(5, 7, false), (19, 19, true), (33, 45, false), (64, 64, true)] {
            let q = Tensor.randn([2, 3, l, 16], generator: &rng) * 2, k = Tensor.randn([2, 3, s, 16], generator: &rng)
            let v = Tensor.randn([2, 3, s, 16], generator: &rng), g = Tensor.randn([2, 3, l, 16], generator: &rng)
            let (portable, native) = bothWays { () -> [Tensor] in
                let leaves = [q, k, v].map { t -> Tensor in let c = t.detached(); c.requiresGrad = true; return c }
                let y = scaledDotProductAttention(leaves[0], leaves[1], leaves[2], isCausal: causal)
                (y * g).sum().backward()
                return [y.detached()] + leaves.map { $0.grad! }
            }
            for (i, (a, b)) in zip(native, portable).enumerated() {
                assertClose(a, b, atol: 1e-5, rtol: 1e-5, "attention (\(l), \(s), causal \(causal)): tensor \(i)")
            }
        }
    }

    /// The forward over whole rows of scores (`ds_attention_rows`) against the blocked portable
    /// path, at this CPU's width and at AVX2's: outputs, and gradients (whose backward reads the
    /// forward's log-sum-exp). Shapes with vector tails of keys, value widths of whole double
    /// tiles, single tiles and scalar columns, query blocks of rows not a multiple of 4, causal
    /// rows with fewer and more keys than queries, and one group split into query blocks.
    func testWholeRowAttentionMatchesTheBlockedPath() throws {
        try XCTSkipUnless(Elementwise.usesVectorExtensions, "the CPU has neither AVX2 with FMA nor AVX-512")
        defer { VectorKernels.widthLimit = 16 }
        var rng = RandomGenerator(seed: 7)
        let cases: [(groups: Int, l: Int, s: Int, d: Int, dv: Int, causal: Bool)] = [
            (8, 65, 65, 32, 32, false), (2, 5, 7, 16, 16, false), (3, 19, 19, 8, 24, true),
            (2, 70, 130, 64, 40, true), (1, 150, 40, 16, 48, false), (1, 130, 97, 12, 3, true)]
        for width in [16, 8] {
            VectorKernels.widthLimit = width
            for c in cases {
                let q = Tensor.randn([c.groups, c.l, c.d], generator: &rng) * 2
                let k = Tensor.randn([c.groups, c.s, c.d], generator: &rng)
                let v = Tensor.randn([c.groups, c.s, c.dv], generator: &rng)
                let g = Tensor.randn([c.groups, c.l, c.dv], generator: &rng)
                let (portable, native) = bothWays { () -> [Tensor] in
                    let leaves = [q, k, v].map { t -> Tensor in let c = t.detached(); c.requiresGrad = true; return c }
                    let y = scaledDotProductAttention(leaves[0], leaves[1], leaves[2], isCausal: c.causal)
                    (y * g).sum().backward()
                    return [y.detached()] + leaves.map { $0.grad! }
                }
                for (i, (a, b)) in zip(native, portable).enumerated() {
                    assertClose(a, b, atol: 2e-5, rtol: 1e-4, "width \(width), \(c): tensor \(i)")
                }
            }
        }
    }

    func testExpShiftedHandlesTailsAndUnderflow() throws {
        try XCTSkipUnless(Elementwise.usesVectorExtensions, "the CPU has neither AVX2 with FMA nor AVX-512")
        for n in [1, 7, 9, 16, 23] {
            let values = (0..<n).map { Float($0) * 7 - 100 }   // down to e^(−100 − shift): underflows to 0
            let (portable, native) = bothWays { () -> ([Float], Float) in
                var row = values
                let sum = row.withUnsafeMutableBufferPointer { RowMath.exponentiate($0.baseAddress!, n, shift: 3) }
                return (row, sum)
            }
            XCTAssertEqual(native.0.count, portable.0.count)
            for (a, b) in zip(native.0, portable.0) { XCTAssertEqual(a, b, accuracy: 1e-6 * Swift.max(1, abs(b)), "n = \(n)") }
            XCTAssertEqual(native.1, portable.1, accuracy: 1e-6 * Swift.max(1, abs(portable.1)), "sum, n = \(n)")
        }
    }
}
