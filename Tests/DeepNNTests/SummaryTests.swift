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

    func testCNNSummaryCountsConvolutionFlopsWithoutComputing() throws {
        let model = Sequential(Conv2d(1, 32, kernelSize: 3, padding: 1), ReLU(), MaxPool2d(2),
                               Conv2d(32, 64, kernelSize: 3, padding: 1, groups: 2), ReLU(), AdaptiveAvgPool2d(1),
                               Flatten(), Linear(64, 10))
        let s = try model.summary(input: [8, 1, 28, 28])
        XCTAssertEqual(s.rows.map(\.outputShape).dropFirst().map { $0 }, [[8, 32, 28, 28], [8, 32, 28, 28], [8, 32, 14, 14],
                                                                     [8, 64, 14, 14], [8, 64, 14, 14], [8, 64, 1, 1], [8, 64], [8, 10]])
        let conv1 = 2 * 8 * 32 * 28 * 28 * 9, conv2 = 2 * 8 * 64 * 14 * 14 * 16 * 9, fc = 2 * 8 * 64 * 10
        XCTAssertEqual(s.totalFlops, conv1 + conv2 + fc)
        XCTAssertEqual(s.totalParameters, 32 * 9 + 32 + 64 * 16 * 9 + 64 + 64 * 10 + 10)
        // A stitch whose channels do not fit names the module and both shapes.
        let bad = Sequential(Conv2d(1, 8, kernelSize: 3), Sequential(Conv2d(16, 4, kernelSize: 1)))
        XCTAssertThrowsError(try bad.summary(input: [1, 1, 10, 10])) { error in
            XCTAssertTrue("\(error)".contains("1.0 (Conv2d)") && "\(error)".contains("[1, 8, 8, 8]") && "\(error)".contains("[4, 16, 1, 1]"), "\(error)")
        }
    }
}
