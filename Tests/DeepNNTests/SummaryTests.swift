import XCTest
import DeepCore
import DeepNN

final class SummaryTests: XCTestCase {
    func testShapesParametersAndFlopsOfAnMLP() throws {
        let model = Sequential(Flatten(), Linear(784, 256), LayerNorm(256), Linear(256, 10))
        let s = try model.summary(input: [64, 1, 28, 28])
        XCTAssertEqual(s.outputShape, [64, 10])
        XCTAssertEqual(s.rows.map(\.path), ["", "0", "1", "2", "3"])
        XCTAssertEqual(s.rows.map(\.outputShape), [[64, 10], [64, 784], [64, 256], [64, 256], [64, 10]])
        XCTAssertEqual(s.totalParameters, 784 * 256 + 256 + 2 * 256 + 256 * 10 + 10)
        XCTAssertEqual(s.rows[1 + 1].flops, 2 * 64 * 784 * 256)
        XCTAssertEqual(s.totalFlops, 2 * 64 * 784 * 256 + 2 * 64 * 256 * 10)
        XCTAssertTrue(s.description.contains("Total params: 204,042"), s.description)
    }

    func testMismatchedStitchThrowsWithModulePath() {
        let model = Sequential(Flatten(), Linear(784, 256), Sequential(Linear(128, 10)))
        XCTAssertThrowsError(try model.summary(input: [2, 1, 28, 28])) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("2.0"), message)
            XCTAssertTrue(message.contains("[2, 256]"), message)
            XCTAssertTrue(message.contains("Linear"), message)
        }
        XCTAssertTrue(model.isTraining, "summary restores the mode")
    }
}
