import DeepCore
import TestSupport
import XCTest

/// Max pooling without a recorded gradient skips the indices (the same kernels, by rows of column
/// maxima, or the plain 2×2 loop): it must give what the recording path gives (checked against
/// PyTorch in PoolingTests, and its indices in MaxPoolIndicesTests), NaN included.
final class MaxPoolInferenceTests: XCTestCase {
    func recorded(_ x: Tensor, _ pool: (Tensor) -> Tensor) -> Tensor {
        let leaf = x.detached()
        leaf.requiresGrad = true
        return pool(leaf).detached()
    }

    func assertSame(_ a: Tensor, _ b: Tensor, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
        let (u, v) = (a.scalars, b.scalars)
        let same = zip(u, v).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
        XCTAssertTrue(same, message, file: file, line: line)
    }

    func testWindowsMatchTheRecordingPath() {
        manualSeed(5)
        let cases: [(String, (Tensor) -> Tensor)] = [
            ("3x3 s2 p1 (ResNet stem)", { maxPool2d($0, kernelSize: 3, stride: 2, padding: 1) }),
            ("3x3 s1 p1", { maxPool2d($0, kernelSize: 3, stride: 1, padding: 1) }),
            ("2x3 s(1,3) dilation 2 ceil", { maxPool2d($0, kernelSize: [2, 3], stride: [1, 3], padding: [1, 1], dilation: [2, 2], ceilMode: true) }),
            ("5x5 s3 p2", { maxPool2d($0, kernelSize: 5, stride: 3, padding: 2) }),
            ("adaptive 7x9", { adaptiveMaxPool2d($0, outputSize: [7, 9]) }),
        ]
        for (width, height) in [(37, 20), (64, 9), (16, 16), (13, 11)] {
            var x = Tensor.randn([2, 3, height, width])
            // A NaN and infinities in the middle of rows, where vector blocks run.
            var values = x.scalars
            values[5 * width + 20 % width] = .nan
            values[height * width + 3 * width + 11] = .infinity
            values[2 * height * width + 7] = -.infinity
            x = Tensor(values, shape: x.shape)
            for (name, pool) in cases {
                assertSame(withoutGrad { pool(x) }, recorded(x, pool), "\(name) on \(height)×\(width)")
            }
        }
    }
}
