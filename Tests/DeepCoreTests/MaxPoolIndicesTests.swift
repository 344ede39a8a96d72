import DeepCore
import TestSupport
import XCTest

/// Max pooling routes each output gradient to its window's first maximal element in row-major
/// order (PyTorch's rule; a NaN counts as maximal). The kernels take column maxima eight windows
/// at a time and then combine rows, so ties are where they could go wrong: inputs here are small
/// integers (many ties), with NaN and ±∞, on planes wide enough for the eight-lane blocks, and
/// the gradient is compared with a brute-force search over each window.
final class MaxPoolIndicesTests: XCTestCase {
    /// One axis of a window: the taps `start + t·dilation` inside the input.
    struct Axis {
        var kernel, stride, padding, dilation: Int
        func taps(_ o: Int, input: Int) -> [Int] {
            (0..<kernel).map { o * stride - padding + $0 * dilation }.filter { $0 >= 0 && $0 < input }
        }
    }

    /// The flat index of the first maximal element (row-major; the first NaN wins) of each window.
    func firstMaxima(_ x: [Float], height: Int, width: Int, outH: Int, outW: Int,
                     rows: (Int) -> [Int], columns: (Int) -> [Int]) -> [Int] {
        var result: [Int] = []
        for oh in 0..<outH {
            for ow in 0..<outW {
                var best: (value: Float, at: Int)? = nil
                for ih in rows(oh) {
                    for iw in columns(ow) {
                        let v = x[ih * width + iw]
                        guard let b = best else { best = (v, ih * width + iw); continue }
                        if !b.value.isNaN && (v.isNaN || v > b.value) { best = (v, ih * width + iw) }
                    }
                }
                result.append(best?.at ?? -1)
            }
        }
        return result
    }

    /// Gradient of Σ y·g (g distinct per output) by the op, and by routing g to the brute-force maxima.
    func check(_ name: String, height: Int, width: Int, pool: (Tensor) -> Tensor,
               rows: (Int) -> [Int], columns: (Int) -> [Int], file: StaticString = #filePath, line: UInt = #line) {
        var rng = RandomGenerator(seed: UInt64(height * 97 + width))
        var values = (0..<(2 * height * width)).map { _ in Float(Int(rng.nextUniform() * 4)) }
        values[width + 9] = .nan
        values[height * width + 2 * width + 17] = .infinity
        values[3 * width + 20] = -.infinity
        let x = Tensor(values, shape: [1, 2, height, width])
        x.requiresGrad = true
        let y = pool(x)
        let (outH, outW) = (y.shape[2], y.shape[3])
        let g = Tensor((0..<y.count).map { Float($0 + 1) }, shape: y.shape)
        (y * g).sum().backward()
        var expected = [Float](repeating: 0, count: values.count)
        for plane in 0..<2 {
            let planeValues = Array(values[(plane * height * width)..<((plane + 1) * height * width)])
            let maxima = firstMaxima(planeValues, height: height, width: width, outH: outH, outW: outW, rows: rows, columns: columns)
            for (o, at) in maxima.enumerated() where at >= 0 {
                expected[plane * height * width + at] += Float(plane * outH * outW + o + 1)
            }
        }
        let got = x.grad?.scalars ?? []
        let wrong = got.indices.filter { got[$0] != expected[$0] }
        XCTAssertTrue(got.count == expected.count && wrong.isEmpty,
                      "\(name) on \(height)×\(width): \(wrong.count) input gradients differ, first at \(wrong.first ?? -1)", file: file, line: line)
        let plain = withoutGrad { pool(x.detached()) }.scalars
        XCTAssertTrue(zip(plain, y.scalars).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }, "\(name): values without gradients", file: file, line: line)
    }

    func testIndicesAreTheFirstMaximaInRowMajorOrder() {
        let windows: [(String, Axis, Axis, Bool)] = [
            ("3x3 s2 p1", Axis(kernel: 3, stride: 2, padding: 1, dilation: 1), Axis(kernel: 3, stride: 2, padding: 1, dilation: 1), false),
            ("3x3 s1 p1", Axis(kernel: 3, stride: 1, padding: 1, dilation: 1), Axis(kernel: 3, stride: 1, padding: 1, dilation: 1), false),
            ("2x3 s(1,3) d2", Axis(kernel: 2, stride: 1, padding: 1, dilation: 2), Axis(kernel: 3, stride: 3, padding: 1, dilation: 2), true),
            ("3x2 s2 p0", Axis(kernel: 3, stride: 2, padding: 0, dilation: 1), Axis(kernel: 2, stride: 2, padding: 1, dilation: 1), true),
        ]
        for (height, width) in [(9, 40), (12, 37), (5, 70)] {
            for (name, r, c, ceil) in windows {
                check(name, height: height, width: width, pool: {
                    maxPool2d($0, kernelSize: [r.kernel, c.kernel], stride: [r.stride, c.stride], padding: [r.padding, c.padding],
                              dilation: [r.dilation, c.dilation], ceilMode: ceil)
                }, rows: { r.taps($0, input: height) }, columns: { c.taps($0, input: width) })
            }
            check("adaptive 4x19", height: height, width: width, pool: { adaptiveMaxPool2d($0, outputSize: [4, 19]) },
                  rows: { Array(($0 * height / 4)..<((($0 + 1) * height + 3) / 4)) },
                  columns: { Array(($0 * width / 19)..<((($0 + 1) * width + 18) / 19)) })
        }
    }
}
