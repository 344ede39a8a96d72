import XCTest
@testable import DeepCore
import Foundation

/// Accuracy of the eight-lane transcendental functions against Double libm on dense grids.
final class VectorMathTests: XCTestCase {
    /// Largest |f(x) − reference(x)| over `xs`, evaluated eight at a time.
    private func maxError(_ xs: [Float], _ f: (FloatVector) -> FloatVector,
                          _ reference: (Double) -> Double, relative: Bool = false) -> (error: Double, at: Float) {
        var worst = (error: 0.0, at: Float(0))
        var i = 0
        while i < xs.count {
            var v = FloatVector.zero
            let k = min(8, xs.count - i)
            for lane in 0..<k { v[lane] = xs[i + lane] }
            let y = f(v)
            for lane in 0..<k {
                let x = xs[i + lane], r = reference(Double(x))
                var e = abs(Double(y[lane]) - r)
                if relative { e /= max(abs(r), 1e-300) }
                if !(e <= worst.error) { worst = (e, x) }
            }
            i += 8
        }
        return worst
    }

    /// −12 … 12 in steps of 1e−4, plus far tails and special points.
    private let grid: [Float] = {
        var xs = (-120_000...120_000).map { Float($0) * 1e-4 }
        xs += [-1e30, -1000, -100, -30, -9.3, -9.2, 0, 9.2, 9.3, 30, 100, 1000, 1e30, 1e-30, -1e-30]
        return xs
    }()

    func testErfIsWithinOneMillionthEverywhere() {
        let (error, at) = maxError(grid, VectorMath.erf, Foundation.erf)
        XCTAssertLessThanOrEqual(error, 1e-6, "worst at x = \(at)")
    }

    func testErfcIsWithinOneMillionthEverywhere() {
        let (error, at) = maxError(grid, VectorMath.erfc, Foundation.erfc)
        XCTAssertLessThanOrEqual(error, 1e-6, "worst at x = \(at)")
    }

    func testErfcIsRelativelyAccurateInTheRightTail() {
        // erfc(x) for x in [0, 9] down to 4e−37: the relative accuracy GELU needs for x ≪ 0.
        // Rounding x² in Float costs relative error up to x²·2⁻²⁴ (8e−6 at x = 9).
        let near = (0...40_000).map { Float($0) * 1e-4 }
        let (error, at) = maxError(near, VectorMath.erfc, Foundation.erfc, relative: true)
        XCTAssertLessThanOrEqual(error, 2e-6, "worst at x = \(at)")
        let far = (40_000...90_000).map { Float($0) * 1e-4 }
        let (farError, farAt) = maxError(far, VectorMath.erfc, Foundation.erfc, relative: true)
        XCTAssertLessThanOrEqual(farError, 1.2e-5, "worst at x = \(farAt)")
    }

    func testErfIsOddAndSaturates() {
        let y = VectorMath.erf(FloatVector(-1e30, -50, -0.3, 0, 0.3, 50, 1e30, .infinity))
        XCTAssertEqual(y[0], -1)
        XCTAssertEqual(y[1], -1)
        XCTAssertEqual(y[2], -y[4])
        XCTAssertEqual(y[3], 0)
        XCTAssertEqual(y[5], 1)
        XCTAssertEqual(y[6], 1)
        XCTAssertEqual(y[7], 1)
    }

    func testTanhIsWithinOneMillionthEverywhere() {
        let (error, at) = maxError(grid, VectorMath.tanh, Foundation.tanh)
        XCTAssertLessThanOrEqual(error, 1e-6, "worst at x = \(at)")
        let (relativeError, relAt) = maxError((-6000...6000).map { Float($0) * 1e-4 }, VectorMath.tanh,
                                              Foundation.tanh, relative: true)
        XCTAssertLessThanOrEqual(relativeError, 1e-6, "worst at x = \(relAt)")
    }

    func testSigmoidIsWithinOneMillionthEverywhere() {
        let (error, at) = maxError(grid, stableSigmoid, { 1 / (1 + Foundation.exp(-$0)) })
        XCTAssertLessThanOrEqual(error, 1e-6, "worst at x = \(at)")
    }

    func testGeluOnLongContiguousAndStridedInputsMatchesScalarFormula() {
        // 1003 elements: many full vectors plus a tail; the transposed view takes the strided path.
        let values = (0..<1003).map { Float($0 - 501) * 0.013 }
        let exact: (Float) -> Float = { x in
            Float(Double(x) * 0.5 * Foundation.erfc(-Double(x) / 2.0.squareRoot()))
        }
        let y = gelu(Tensor(values))
        for (x, v) in zip(values, y.scalars) { XCTAssertEqual(v, exact(x), accuracy: 2e-6, "x = \(x)") }
        let m = Tensor(values[0..<1000].map { $0 }).reshaped([20, 50]).mT
        let expected = m.contiguous().scalars.map(exact)
        for (v, e) in zip(gelu(m).scalars, expected) { XCTAssertEqual(v, e, accuracy: 2e-6) }
    }
}
