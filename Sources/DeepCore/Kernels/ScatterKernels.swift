// Scatter along one axis over strided buffers (`torch.scatter`, `scatter_add`): each element of
// an index tensor names the position, along the axis, of the destination element that the
// source element at the same coordinates goes to. The destination is not advanced along the
// axis by the index tensor's coordinate there (its stride along the axis is passed as 0 and the
// real one as `step`).

/// Scatter loops over strided operands.
enum ScatterKernels {
    /// For every coordinate p of `shape` (the index tensor's), in row-major order, calls
    /// `body(s, d)` with s the source element's offset and d the destination element's:
    /// `offsets`/`strides` hold the index tensor's, the source's and the destination's (stride 0
    /// along the axis), `step` the destination's stride along the axis. Index elements must be
    /// integers within the axis (checked by the caller).
    @inline(__always)
    static func forEachTarget(shape: [Int], index: UnsafePointer<Float>, strides: [[Int]], offsets: [Int], step: Int,
                              _ body: (_ source: Int, _ destination: Int) -> Void) {
        StridedLoop.forEachRow(shape: shape, strides: strides, offsets: offsets) { n, off, rs in
            let i = index + off[0], ti = rs[0], ts = rs[1], td = rs[2]
            for k in 0..<n { body(off[1] + k * ts, off[2] + k * td + Int(i[k * ti]) * step) }
        }
    }

    /// How each source element meets its destination element.
    enum Combine {
        /// Replaces it; where two elements name the same target, the later one in row-major
        /// order wins.
        case assign
        /// Is added to it, in row-major order.
        case add
        /// The destination element becomes this value (the source is not read).
        case fill(Float)
    }

    /// `destination[target(p)]` combined with `source[p]` for every p of `shape`, in row-major
    /// order (see ``forEachTarget``). `source` may be nil only for `.fill`.
    static func scatter(_ combine: Combine, shape: [Int], index: UnsafePointer<Float>, source: UnsafePointer<Float>?,
                        into destination: UnsafeMutablePointer<Float>, strides: [[Int]], offsets: [Int], step: Int) {
        switch combine {
        case .assign:
            guard let source else { return }
            forEachTarget(shape: shape, index: index, strides: strides, offsets: offsets, step: step) { s, d in
                destination[d] = source[s]
            }
        case .add:
            guard let source else { return }
            forEachTarget(shape: shape, index: index, strides: strides, offsets: offsets, step: step) { s, d in
                destination[d] += source[s]
            }
        case .fill(let value):
            forEachTarget(shape: shape, index: index, strides: strides, offsets: offsets, step: step) { _, d in
                destination[d] = value
            }
        }
    }
}
