import XCTest
import DeepCore
import DeepNN

final class SegmentationMetricsTests: XCTestCase {
    /// Six pixels of 4 classes, class 3 absent from both (counted by hand):
    /// truth 0 1 1 1 2 0, prediction 0 0 1 1 2 2.
    func testFiguresCountedByHand() {
        var m = SegmentationMetrics(classCount: 4)
        m.add(predictions: [0, 0, 1, 1, 2, 2], labels: [0, 1, 1, 1, 2, 0])
        XCTAssertEqual(m.matrix, [[1, 0, 1, 0], [1, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
        XCTAssertEqual(m.total, 6)
        let iou = m.intersectionOverUnion
        XCTAssertEqual(iou[0], 1.0 / 3, accuracy: 1e-12)   // 1 / (2 + 2 − 1)
        XCTAssertEqual(iou[1], 2.0 / 3, accuracy: 1e-12)   // 2 / (3 + 2 − 2)
        XCTAssertEqual(iou[2], 0.5, accuracy: 1e-12)       // 1 / (1 + 2 − 1)
        XCTAssertTrue(iou[3].isNaN)
        XCTAssertEqual(m.meanIoU, 0.5, accuracy: 1e-12)    // over the 3 classes present
        let dice = m.dice
        XCTAssertEqual(dice[0], 0.5, accuracy: 1e-12)      // 2·1 / (2 + 2)
        XCTAssertEqual(dice[1], 0.8, accuracy: 1e-12)      // 2·2 / (3 + 2)
        XCTAssertEqual(dice[2], 2.0 / 3, accuracy: 1e-12)  // 2·1 / (1 + 2)
        XCTAssertEqual(m.meanDice, (0.5 + 0.8 + 2.0 / 3) / 3, accuracy: 1e-12)
        XCTAssertEqual(m.pixelAccuracy, 4.0 / 6, accuracy: 1e-12)
        // The same per-class figures as the one-shot functions.
        let oneShot = intersectionOverUnion(predictions: [0, 0, 1, 1, 2, 2], labels: [0, 1, 1, 1, 2, 0], classCount: 4)
        XCTAssertEqual(Array(oneShot.prefix(3)), Array(iou.prefix(3)))
    }

    func testCountsAccumulateOverBatchesAndEmptyIsZero() {
        XCTAssertEqual(SegmentationMetrics(classCount: 3).meanIoU, 0)
        XCTAssertEqual(SegmentationMetrics(classCount: 3).pixelAccuracy, 0)
        var split = SegmentationMetrics(classCount: 3), whole = SegmentationMetrics(classCount: 3)
        split.add(predictions: [0, 1], labels: [0, 2])
        split.add(predictions: [2, 2], labels: [2, 1])
        whole.add(predictions: [0, 1, 2, 2], labels: [0, 2, 2, 1])
        XCTAssertEqual(split, whole)
        // A class predicted but never true counts, with IoU 0.
        var m = SegmentationMetrics(classCount: 3)
        m.add(predictions: [1, 1], labels: [0, 0])
        XCTAssertEqual(m.intersectionOverUnion[0], 0)
        XCTAssertEqual(m.intersectionOverUnion[1], 0)
        XCTAssertTrue(m.intersectionOverUnion[2].isNaN)
        XCTAssertEqual(m.meanIoU, 0)
    }

    func testPixelClassesComeInBatchRowColumnOrder() {
        // Logits (2, 2, 1, 3): class 1 wins where its logit is larger.
        let logits = Tensor([0, 0, 5, 1, 1, 1,
                             1, 1, 0, 0, 2, 0], shape: [2, 2, 1, 3])
        XCTAssertEqual(predictedPixelClasses(logits), [1, 1, 0, 0, 1, 0])
    }

    func testSheetPlacesImageTruthAndPrediction() throws {
        let image = Tensor([0, 1, 0.5, 0.25], shape: [1, 1, 2, 2])
        let sheet = SegmentationSheet(images: image, truth: [0, 1, 2, 10], predictions: [1, 1, 0, 0])
        let gap = SegmentationSheet.gap
        XCTAssertEqual(sheet.width, 3 * 2 + 4 * gap)
        XCTAssertEqual(sheet.height, 2 + 2 * gap)
        func rgb(_ x: Int, _ y: Int) -> [UInt8] { Array(sheet.pixels[(y * sheet.width + x) * 3 ..< (y * sheet.width + x) * 3 + 3]) }
        XCTAssertEqual(rgb(0, 0), [255, 255, 255])
        XCTAssertEqual(rgb(gap + 1, gap), [255, 255, 255])            // pixel value 1
        XCTAssertEqual(rgb(gap, gap + 1), [128, 128, 128])            // 0.5 rounded
        let p = SegmentationSheet.palette
        XCTAssertEqual(rgb(2 * gap + 2 + 1, gap + 1), [p[10].0, p[10].1, p[10].2])
        XCTAssertEqual(rgb(3 * gap + 4, gap), [p[1].0, p[1].1, p[1].2])
        // As a PNG, the same pixels come back.
        let decoded = try Image(data: sheet.image.encoded(as: .png))
        XCTAssertEqual([decoded.width, decoded.height, decoded.channels], [sheet.width, sheet.height, 3])
        XCTAssertEqual(decoded.samples, .uint8(sheet.pixels))
    }
}
