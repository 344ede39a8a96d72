import XCTest
import DeepCore
import DeepNN

final class EmbeddingTests: XCTestCase {
    func testLookupShapesAndValues() {
        let table = Embedding(5, 3)
        let ids = Tensor([4, 0, 4, 2, 1, 3], shape: [2, 3])
        let y = table(ids)
        XCTAssertEqual(y.shape, [2, 3, 3])
        let w = table.weight.scalars
        for (position, id) in [4, 0, 4, 2, 1, 3].enumerated() {
            XCTAssertEqual(Array(y.scalars[(position * 3)..<(position * 3 + 3)]), Array(w[(id * 3)..<(id * 3 + 3)]))
        }
        XCTAssertEqual(table([1, 1]).shape, [2, 3])
        XCTAssertEqual(table.namedParameters().map(\.0), ["weight"])
    }

    func testBackwardScatterAddsRepeatedIds() {
        let table = Embedding(4, 2)
        let g = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2])
        (table([2, 0, 2]) * g).sum().backward()
        XCTAssertEqual(table.weight.grad!.scalars, [3, 4, 0, 0, 1 + 5, 2 + 6, 0, 0])
        assertGradientsMatchFiniteDifferences([table.weight]) { _ in table([3, 1, 3, 0]) }
    }

    func testPaddingRowStartsAtZeroAndGetsNoGradient() {
        let table = Embedding(4, 3, paddingIdx: -1)
        XCTAssertEqual(table.paddingIdx, 3)
        XCTAssertEqual(table.weight[3].scalars, [0, 0, 0])
        withoutGrad { table.weight[3].assign(Tensor([7, 8, 9])) }
        let y = table([3, 1, 3])
        XCTAssertEqual(y[0].scalars, [7, 8, 9])
        y.sum().backward()
        XCTAssertEqual(table.weight.grad!.scalars, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    }

    func testInitialisationIsStandardNormal() {
        let w = Embedding(200, 50).weight.scalars
        let mean = w.reduce(0, +) / Float(w.count)
        let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(w.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(std, 1, accuracy: 0.03)
    }
}
