/// Shape arithmetic shared by every op: element counts, contiguous strides, axis normalisation
/// and NumPy broadcasting.
public enum Shape {
    /// Number of elements of a tensor of `shape` (1 for a scalar of shape `[]`).
    @inlinable
    public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major (C order) strides of `shape`.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= Swift.max(shape[axis], 1)
        }
        return strides
    }

    /// Maps a possibly negative axis into `0..<rank`, stopping with a message naming `op` when it
    /// is out of range.
    public static func normalize(axis: Int, rank: Int, op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        require(a >= 0 && a < Swift.max(rank, 1) || (rank == 0 && a == 0),
                      "\(op): axis \(axis) is out of range for a tensor of rank \(rank)")
        return a
    }

    /// The shape that `a` and `b` broadcast to under NumPy's rules; stops naming `op` and both
    /// shapes when they do not broadcast (nil when a shape-only run records the failure).
    public static func broadcast(_ a: [Int], _ b: [Int], op: String) -> [Int]? {
        let rank = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 {
                out[i] = da
            } else if da == 1 {
                out[i] = db
            } else {
                shapeCheck(false, "\(op): shapes \(a) and \(b) do not broadcast (axis \(i): \(da) vs \(db))")
                return nil
            }
        }
        return out
    }
}
