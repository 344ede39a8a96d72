/// Row-by-row iteration over strided operands of one shape.
///
/// Axes that are contiguous with their inner neighbour in every operand are merged and size-1
/// axes dropped, so the common cases (contiguous, transposed, broadcast) run as a few long rows.
/// The body runs once per row, not per element: kernels put their element loop inside it.
public enum StridedLoop {
    /// Calls `body(rowLength, offsets, rowStrides)` once per row of `shape`, in row-major order.
    /// `offsets[i]` is operand i's element offset at the row's start and `rowStrides[i]` its step
    /// along the row. `strides` holds one stride list per operand, `offsets` their base offsets.
    public static func forEachRow(
        shape: [Int], strides: [[Int]], offsets: [Int],
        _ body: (_ rowLength: Int, _ offsets: UnsafeBufferPointer<Int>, _ rowStrides: UnsafeBufferPointer<Int>) -> Void
    ) {
        let operands = strides.count
        if Shape.count(shape) == 0 { return }
        // Coalesce.
        var dims: [Int] = []
        var st: [[Int]] = Array(repeating: [], count: operands)
        for axis in 0..<shape.count where shape[axis] != 1 {
            if let last = dims.last,
               (0..<operands).allSatisfy({ st[$0].last! == strides[$0][axis] * shape[axis] }) {
                dims[dims.count - 1] = last * shape[axis]
                for k in 0..<operands { st[k][st[k].count - 1] = strides[k][axis] }
            } else {
                dims.append(shape[axis])
                for k in 0..<operands { st[k].append(strides[k][axis]) }
            }
        }
        if dims.isEmpty {
            dims = [1]
            for k in 0..<operands { st[k] = [1] }
        }
        let outer = dims.count - 1
        let rowLength = dims[outer]
        let rowStrides = (0..<operands).map { st[$0][outer] }
        var current = offsets
        var counter = [Int](repeating: 0, count: outer)
        rowStrides.withUnsafeBufferPointer { rs in
            while true {
                current.withUnsafeBufferPointer { body(rowLength, $0, rs) }
                // Advance the outer counter.
                var axis = outer - 1
                while axis >= 0 {
                    counter[axis] += 1
                    for k in 0..<operands { current[k] += st[k][axis] }
                    if counter[axis] < dims[axis] { break }
                    for k in 0..<operands { current[k] -= st[k][axis] * dims[axis] }
                    counter[axis] = 0
                    axis -= 1
                }
                if axis < 0 { return }
            }
        }
    }
}
