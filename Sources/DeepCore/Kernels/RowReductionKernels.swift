/// Reductions of each row of a contiguous (rows, length) block to one value (einops' max, min
/// and prod over trailing axes), and their backward. Row r starts at `x + r · length`.
enum RowReductionKernels {
    /// `out[r]` = the largest (`max`) or smallest element of row r, and `picks[r]` its first
    /// index; a NaN is the extreme (it propagates). `length` must be at least 1; `picks` holds
    /// `rows` elements.
    static func extremum(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, picks: UnsafeMutableBufferPointer<Int>,
                         rows: Int, length: Int, max: Bool) {
        for row in 0..<rows {
            let r = x + row * length
            var best = 0
            for i in 1..<length where !r[best].isNaN && (r[i].isNaN || (max ? r[i] > r[best] : r[i] < r[best])) {
                best = i
            }
            picks[row] = best
            out[row] = r[best]
        }
    }

    /// The gradient of ``extremum(_:_:picks:rows:length:max:)``: row r's gradient `g[r]` goes
    /// to its picked element, 0 to the others. `dx` is (rows, length).
    static func extremumGradient(_ g: UnsafePointer<Float>, picks: UnsafeBufferPointer<Int>, _ dx: UnsafeMutablePointer<Float>,
                                 rows: Int, length: Int) {
        dx.update(repeating: 0, count: rows * length)
        for row in 0..<rows { dx[row * length + picks[row]] = g[row] }
    }

    /// `out[r]` = the product of row r (1 for an empty row).
    static func product(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, length: Int) {
        for row in 0..<rows {
            let r = x + row * length
            var product: Float = 1
            for i in 0..<length { product *= r[i] }
            out[row] = product
        }
    }

    /// The gradient of ``product(_:_:rows:length:)``: each element of row r gets `g[r]` times the
    /// product of the row's other elements, as prefix · suffix products (exact with zeros).
    static func productGradient(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                rows: Int, length: Int) {
        for row in 0..<rows {
            let r = x + row * length, d = dx + row * length
            var suffix: Float = 1
            for i in stride(from: length - 1, through: 0, by: -1) { d[i] = suffix; suffix *= r[i] }
            var prefix: Float = 1
            for i in 0..<length { d[i] *= prefix * g[row]; prefix *= r[i] }
        }
    }
}
