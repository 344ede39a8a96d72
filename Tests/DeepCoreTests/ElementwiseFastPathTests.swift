import XCTest
@testable import DeepCore
import TestSupport

/// The repeated-row (broadcast bias) fast path of `Elementwise.zip`, against a scalar reference
/// computed from row-major elements.
final class ElementwiseFastPathTests: XCTestCase {
    /// `f(a[i], b[i])` from the row-major elements of both operands.
    private func reference(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> [Float] {
        zip(a.contiguous().scalars, b.contiguous().scalars).map(f)
    }

    private func check(_ a: Tensor, _ b: Tensor, file: StaticString = #filePath, line: UInt = #line) {
        let f: (Float, Float) -> Float = { x, y in x - 2 * y }
        XCTAssertEqual(Elementwise.zip(a, b, f).scalars, reference(a, b, f), file: file, line: line)
        XCTAssertEqual(Elementwise.zip(b, a, f).scalars, reference(b, a, f), file: file, line: line)
    }

    func testRepeatedRowLengthRecognisesBiasLayoutsOnly() {
        let bias = Tensor.randn([5])
        XCTAssertEqual(Elementwise.repeatedRowLength(bias.expanded(to: [3, 5])), 5)
        XCTAssertEqual(Elementwise.repeatedRowLength(Tensor.randn([4, 5]).expanded(to: [2, 3, 4, 5])), 20)
        XCTAssertEqual(Elementwise.repeatedRowLength(Tensor(scalar: 2).expanded(to: [3, 4])), 1)
        XCTAssertNil(Elementwise.repeatedRowLength(Tensor.randn([3, 1]).expanded(to: [3, 4])))
        XCTAssertNil(Elementwise.repeatedRowLength(Tensor.randn([4, 3]).mT))
        XCTAssertNil(Elementwise.repeatedRowLength(Tensor.randn([2, 1, 4]).expanded(to: [2, 3, 4])))
    }

    func testBiasBroadcastsMatchTheStridedPath() {
        let x = Tensor.randn([6, 7])
        check(x, Tensor.randn([7]).expanded(to: [6, 7]))
        check(x, Tensor(scalar: 3).expanded(to: [6, 7]))
        check(x, Tensor.randn([1, 7]).expanded(to: [6, 7]))
        let y = Tensor.randn([2, 3, 4, 5])
        check(y, Tensor.randn([4, 5]).expanded(to: [2, 3, 4, 5]))
        check(y, Tensor.randn([3, 1, 5]).expanded(to: [2, 3, 4, 5]))   // not a repeated row
        check(y, Tensor.randn([5, 4]).mT.expanded(to: [2, 3, 4, 5]))   // block not contiguous
        // Contiguous but offset operand, and an empty broadcast.
        let z = Tensor.randn([7, 7])[1..<7]
        XCTAssertTrue(z.isContiguous && z.offset == 7)
        check(z, Tensor.randn([7]).expanded(to: [6, 7]))
        check(Tensor(zeros: [0, 7]), Tensor.randn([7]).expanded(to: [0, 7]))
    }

    func testBiasAddAndItsGradient() {
        let x = Tensor.randn([4, 3]), b = Tensor.randn([3])
        x.requiresGrad = true
        b.requiresGrad = true
        assertGradientsMatchFiniteDifferences([x, b]) { xs in (xs[0] * xs[1] + xs[1]).sum() }
    }
}

extension ElementwiseFastPathTests {
    func testThreadedPathsMatchTheSerialOnes() {
        // Above the threshold the contiguous zip is split over threads; the chunks must tile it.
        let count = Elementwise.parallelElementCount + 13
        let a = Tensor((0..<count).map { Float($0 % 1000) * 0.01 })
        let b = Tensor((0..<count).map { Float($0 % 777) * -0.02 })
        let sum = (a + b).scalars
        let (sa, sb) = (a.scalars, b.scalars)
        XCTAssertTrue((0..<count).allSatisfy { sum[$0] == sa[$0] + sb[$0] })

        // Vector kernels split whenever the work exceeds `Parallel.minimumWork`: force it.
        let x = Tensor((0..<1001).map { Float($0 - 500) * 0.011 })
        let serial = [gelu(x).scalars, tanh(x).scalars, (gelu(x) * x).scalars]
        let saved = (Parallel.minimumWork, Gemm.threadCount)
        (Parallel.minimumWork, Gemm.threadCount) = (1, 2)
        defer { (Parallel.minimumWork, Gemm.threadCount) = saved }
        XCTAssertEqual([gelu(x).scalars, tanh(x).scalars, (gelu(x) * x).scalars], serial)
        let g = Tensor((0..<1001).map { Float($0 % 7) })
        x.requiresGrad = true
        gelu(x).backward(g)
        let threadedGrad = x.grad!.scalars
        (Parallel.minimumWork, Gemm.threadCount) = saved
        x.grad = nil
        gelu(x).backward(g)
        XCTAssertEqual(threadedGrad, x.grad!.scalars)
    }
}
