import XCTest
import DeepCore

final class CumulativeTests: XCTestCase {
    private let anySign = { Tensor.randn([3, 4, 5]) }
    /// Normal samples with zeros in lines along both tested axes: two in one line, one at a
    /// line's start and one at its end.
    private let withZeros = { () -> Tensor in
        var values = Tensor.randn([3, 4, 5]).scalars
        for i in [7, 12, 30, 39, 41, 43] { values[i] = 0 }
        return Tensor(values, shape: [3, 4, 5])
    }

    // MARK: The op table: PyTorch values, finite differences, strided inputs, shape-only mode

    func testCumulativeSum() {
        assertOpCases([
            OpCase("cumsum along 1", input: anySign, fixture: sortingCase("cumsum_1")) { $0.cumulativeSum(along: 1) },
            OpCase("cumsum along the last axis", input: anySign, fixture: sortingCase("cumsum_last")) {
                $0.cumulativeSum(along: -1)
            },
            OpCase("cumsum along 0", input: anySign, fixture: sortingCase("cumsum_0")) { $0.cumulativeSum(along: 0) },
        ])
    }

    /// The cumulative product is a polynomial of degree 1 in each element, so finite differences
    /// are exact at zeros too.
    func testCumulativeProduct() {
        assertOpCases([
            OpCase("cumprod along 1", input: anySign, fixture: sortingCase("cumprod_1")) { $0.cumulativeProduct(along: 1) },
            OpCase("cumprod along the last axis", input: anySign, fixture: sortingCase("cumprod_last")) {
                $0.cumulativeProduct(along: -1)
            },
            OpCase("cumprod with zeros, last axis", input: withZeros, fixture: sortingCase("cumprod_zeros_last")) {
                $0.cumulativeProduct(along: 2)
            },
            OpCase("cumprod with zeros along 1", input: withZeros, fixture: sortingCase("cumprod_zeros_1")) {
                $0.cumulativeProduct(along: 1)
            },
            OpCase("cumprod along 0", input: withZeros) { $0.cumulativeProduct(along: 0) },
        ])
    }

    // MARK: Properties

    func testSmallCasesAndShapes() {
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        XCTAssertEqual(x.cumulativeSum(along: 1).scalars, [1, 3, 6, 4, 9, 15])
        XCTAssertEqual(x.cumulativeSum(along: 0).scalars, [1, 2, 3, 5, 7, 9])
        XCTAssertEqual(x.mT.cumulativeProduct(along: 0).scalars, [1, 4, 2, 20, 6, 120])
        XCTAssertEqual(Tensor(scalar: 3).cumulativeSum(along: 0).item(), 3)
        XCTAssertEqual(Tensor(zeros: [2, 0]).cumulativeProduct(along: 1).shape, [2, 0])
        // Zeros: the gradient at the first zero is the product of the others, after it zero.
        let z = Tensor([2, 0, 3, 0, 5])
        z.requiresGrad = true
        z.cumulativeProduct(along: 0).sum().backward()
        XCTAssertEqual(z.grad!.scalars, [1, 2 + 6, 0, 0, 0])
    }

    /// Long lines and many of them, on several threads, against running sums in Double.
    func testLargeTensors() {
        let x = Tensor.randn([64, 2000])
        let rows = x.scalars, sums = x.cumulativeSum(along: 1).scalars
        for r in [0, 31, 63] {
            var running = 0.0
            for j in 0..<2000 {
                running += Double(rows[r * 2000 + j])
                XCTAssertEqual(sums[r * 2000 + j], Float(running), accuracy: 1e-3)
            }
        }
    }
}
