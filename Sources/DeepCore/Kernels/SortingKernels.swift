// Sorting the lines of a buffer along one axis, in PyTorch's order for floats: NaN above every
// number (last ascending, first descending), 0 and -0 equal, and equal elements kept in their
// original order (a stable sort). Each element becomes one 64-bit key, its value's rank in the
// upper half and its position in the lower half, so that sorting the keys as integers is a
// stable sort of the values: O(n log n) per line, lines in parallel.

/// Which positions of each sorted line a kernel reports.
enum SortedRanks {
    /// Positions `range` of the sorted line (a sort, the k largest or smallest, the k-th value).
    case range(Range<Int>)
    /// The lower median, position (n - 1) / 2 of the ascending line, or the first NaN of a line
    /// that holds one (`torch.median` along an axis).
    case median

    /// Positions reported per line.
    var count: Int {
        switch self {
        case .range(let r): r.count
        case .median: 1
        }
    }
}

/// Line sorts over contiguous buffers laid out as (outer, n, inner): a line is the n elements
/// `inner` apart that start at `o · n · inner + i`.
enum SortingKernels {
    /// A key whose unsigned order is the ascending order of floats with NaN above +inf and -0
    /// equal to 0.
    @inline(__always)
    static func ascendingKey(_ value: Float) -> UInt32 {
        if value.isNaN { return .max }
        let bits = (value == 0 ? 0 : value).bitPattern
        // Negative numbers: larger magnitudes first (all bits flipped); positive ones above them.
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    /// For every line of `x` (outer, n, inner), writes the original positions (0..<n, as Float)
    /// of the elements at sorted positions `ranks` into `positions`, laid out as
    /// (outer, ranks.count, inner). Ascending, or descending with NaN first; ties in their
    /// original order either way. `.median` is ascending only. Lines run on several threads.
    static func sortedPositions(_ x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int, descending: Bool,
                                ranks: SortedRanks, into positions: UnsafeMutablePointer<Float>) {
        let lines = outer * inner, m = ranks.count
        if lines == 0 || m == 0 { return }
        let logN = Swift.max(1, Int.bitWidth - n.leadingZeroBitCount)
        Parallel.forEach(count: lines, work: lines * n * logN) { range in
            var keys = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: n)
            defer { keys.deallocate() }
            for line in range {
                let o = line / inner, i = line % inner
                let source = x + o * n * inner + i
                var nanCount = 0
                for j in 0..<n {
                    let v = source[j * inner]
                    if v.isNaN { nanCount += 1 }
                    let rank = descending ? ~ascendingKey(v) : ascendingKey(v)
                    keys[j] = UInt64(rank) << 32 | UInt64(j)
                }
                keys.sort()
                let first: Int
                switch ranks {
                case .range(let r): first = r.lowerBound
                case .median: first = nanCount > 0 ? n - nanCount : (n - 1) / 2
                }
                let target = positions + o * m * inner + i
                for r in 0..<m { target[r * inner] = Float(keys[first + r] & 0xFFFF_FFFF) }
            }
        }
    }
}
