// Elementwise ops: how one is declared (`elementwise`, below: a forward kernel call and the input
// gradients, through `Tensor.op`), and the tensor-level kernels they call (`Elementwise`: map,
// zip, zip3 over strided operands into a new contiguous tensor).
//
// Adding an elementwise op is one function in its family's file, e.g. in UnaryMath.swift:
//
//     public func sin() -> Tensor {
//         elementwise("sin", { Elementwise.map(self) { sinf($0) } }) { g, x, _ in
//             Elementwise.zip(g, x) { g, x in g * cosf(x) }
//         }
//     }
//
// Keep the per-element closure a literal inside the forward and gradient closures: the kernels
// are `@inline(__always)`, so each op gets its own specialised loop (no call per element).
// Math-heavy ops may run a native kernel of CVectorKernels first (`mapNative`, `zipNative`:
// AVX2/AVX-512 chosen at run time), the Swift loop staying as the portable path.

import CVectorKernels

extension Tensor {
    /// Declares an elementwise op of this tensor, (*) → (*): `forward` computes the result and
    /// `gradient(g, x, y)` the input's gradient from the output's `g`, the input `x` and the
    /// result `y` (both detached).
    @inline(__always)
    func elementwise(_ name: String, export: @autoclosure () -> OpExport? = nil, _ forward: () -> Tensor,
                     gradient: @escaping (_ g: Tensor, _ x: Tensor, _ y: Tensor) -> Tensor) -> Tensor {
        Tensor.op(name, inputs: [self], shape: shape, export: export(), forward: forward) { g, y in [gradient(g, self.detached(), y)] }
    }

    /// Declares an elementwise op of two tensors, broadcasting them first: (*A), (*B) →
    /// broadcast(*A, *B). `forward(a, b)` computes the result from the broadcast operands; each
    /// gradient closure gets the output's `g` and the broadcast operands `a`, `b` (detached) and
    /// runs only for an operand that needs it. Broadcasting is undone by `expanded(to:)`'s
    /// own pullback.
    @inline(__always)
    static func elementwise(_ name: String, _ lhs: Tensor, _ rhs: Tensor, export: @autoclosure () -> OpExport? = nil,
                            _ forward: (Tensor, Tensor) -> Tensor,
                            lhsGradient: @escaping (_ g: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor,
                            rhsGradient: @escaping (_ g: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor) -> Tensor {
        let (a, b) = broadcastPair(lhs, rhs, op: name)
        return Tensor.op(name, inputs: [a, b], shape: a.shape, export: export()) { forward(a, b) } pullback: { g, _ in
            let (da, db) = (a.detached(), b.detached())
            return [a.requiresGrad ? lhsGradient(g, da, db) : nil, b.requiresGrad ? rhsGradient(g, da, db) : nil]
        }
    }
}

/// Kernels over strided tensors that write a new contiguous result (row-major). Ops call them
/// inside `Tensor.op`'s forward and pullback, so their operands always hold values.
enum Elementwise {
    /// A contiguous copy of `x` in row-major order: unit-stride rows are block copies and
    /// broadcast rows (stride 0, an expanded gradient) are fills.
    static func copy(_ x: Tensor) -> Tensor {
        let out = TensorStorage(uninitializedCount: x.count)
        let o = out.pointer, src = x.storage.pointer
        if x.isContiguous {
            o.update(from: src + x.offset, count: x.count)
            return Tensor(storage: out, shape: x.shape)
        }
        var position = 0
        StridedLoop.forEachRow(shape: x.shape, strides: [x.strides], offsets: [x.offset]) { n, off, rs in
            let s = src + off[0], d = o + position
            switch rs[0] {
            case 1: d.update(from: s, count: n)
            case 0: d.update(repeating: s[0], count: n)
            case let step: for i in 0..<n { d[i] = s[i * step] }
            }
            position += n
        }
        return Tensor(storage: out, shape: x.shape)
    }

    /// `out[i] = f(x[i])` over all elements of `x`, in row-major order.
    @inline(__always)
    static func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = TensorStorage(uninitializedCount: x.count)
        let o = out.pointer
        let src = x.storage.pointer
        if x.isContiguous {
            let s = src + x.offset
            for i in 0..<x.count { o[i] = f(s[i]) }
        } else {
            var position = 0
            StridedLoop.forEachRow(shape: x.shape, strides: [x.strides], offsets: [x.offset]) { n, off, rs in
                let s = src + off[0], step = rs[0]
                for i in 0..<n { o[position + i] = f(s[i * step]) }
                position += n
            }
        }
        return Tensor(storage: out, shape: x.shape)
    }

    /// `out[i] = f(a[i], b[i])` for two tensors of the same shape.
    @inline(__always)
    static func zip(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        require(a.shape == b.shape, "Elementwise.zip: shapes \(a.shape) and \(b.shape) differ")
        let out = TensorStorage(uninitializedCount: a.count)
        let o = out.pointer
        let pa = a.storage.pointer, pb = b.storage.pointer
        if a.isContiguous && b.isContiguous {
            let sa = pa + a.offset, sb = pb + b.offset
            if a.count >= parallelElementCount {
                forEachVectorRange(count: a.count) { range in
                    for i in range { o[i] = f(sa[i], sb[i]) }
                }
            } else {
                for i in 0..<a.count { o[i] = f(sa[i], sb[i]) }
            }
        } else if a.isContiguous, let row = repeatedRowLength(b), row > 0 {
            // b is one row repeated (a bias broadcast over the leading axes).
            let sa = pa + a.offset, sb = pb + b.offset
            for r in 0..<(a.count / row) {
                let base = r * row
                for j in 0..<row { o[base + j] = f(sa[base + j], sb[j]) }
            }
        } else if b.isContiguous, let row = repeatedRowLength(a), row > 0 {
            let sa = pa + a.offset, sb = pb + b.offset
            for r in 0..<(a.count / row) {
                let base = r * row
                for j in 0..<row { o[base + j] = f(sa[j], sb[base + j]) }
            }
        } else {
            var position = 0
            StridedLoop.forEachRow(shape: a.shape, strides: [a.strides, b.strides], offsets: [a.offset, b.offset]) { n, off, rs in
                let sa = pa + off[0], sb = pb + off[1], ta = rs[0], tb = rs[1]
                for i in 0..<n { o[position + i] = f(sa[i * ta], sb[i * tb]) }
                position += n
            }
        }
        return Tensor(storage: out, shape: a.shape)
    }

    /// The length of the contiguous block that `t` repeats along its leading axes (stride 0
    /// there, as a bias of shape (C) broadcast to (N, C)), or nil if `t` is laid out otherwise.
    @inline(__always)
    static func repeatedRowLength(_ t: Tensor) -> Int? {
        var length = 1
        var axis = t.shape.count - 1
        while axis >= 0 && (t.shape[axis] == 1 || t.strides[axis] == length) {
            length *= t.shape[axis]
            axis -= 1
        }
        while axis >= 0 {
            if t.shape[axis] != 1 && t.strides[axis] != 0 { return nil }
            axis -= 1
        }
        return length
    }

    /// `out[i] = f(x[i])` computed eight lanes at a time (`f` is applied to zero-padded vectors
    /// in the tail, whose extra lanes are dropped). Strided inputs are made contiguous first.
    @inline(__always)
    static func mapVectors(_ x: Tensor, _ f: (FloatVector) -> FloatVector) -> Tensor {
        let x = x.isContiguous ? x : copy(x)
        let out = TensorStorage(uninitializedCount: x.count)
        let src = x.storage.pointer + x.offset, o = out.pointer
        forEachVectorRange(count: x.count) { range in
            VectorMath.map(src + range.lowerBound, o + range.lowerBound, count: range.count, f)
        }
        return Tensor(storage: out, shape: x.shape)
    }

    /// Whether the native kernels of CVectorKernels run: true when this CPU has AVX2 with FMA
    /// (or AVX-512); tests turn it off to compare them with the portable Swift loops.
    nonisolated(unsafe) static var usesVectorExtensions = ds_vector_width() > 0

    /// `kernel(x, out, n)` over contiguous `x`, ranges split among threads, for a native
    /// kernel of CVectorKernels; nil when this CPU has none (its width is 0), so that the
    /// caller's Swift path runs.
    static func mapNative(_ x: Tensor, _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Int32) -> Tensor? {
        guard usesVectorExtensions else { return nil }
        let x = x.isContiguous ? x : copy(x)
        let out = TensorStorage(uninitializedCount: x.count)
        let src = x.storage.pointer + x.offset, o = out.pointer
        forEachVectorRange(count: x.count) { range in
            _ = kernel(src + range.lowerBound, o + range.lowerBound, range.count)
        }
        return Tensor(storage: out, shape: x.shape)
    }

    /// `kernel(a, b, out, n)` over `a` and `b` of the same shape (made contiguous), as
    /// ``mapNative(_:_:)``.
    static func zipNative(_ a: Tensor, _ b: Tensor,
                          _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Int32) -> Tensor? {
        guard usesVectorExtensions else { return nil }
        require(a.shape == b.shape, "Elementwise.zipNative: shapes \(a.shape) and \(b.shape) differ")
        let a = a.isContiguous ? a : copy(a), b = b.isContiguous ? b : copy(b)
        let out = TensorStorage(uninitializedCount: a.count)
        let o = out.pointer, pa = a.storage.pointer + a.offset, pb = b.storage.pointer + b.offset
        forEachVectorRange(count: a.count) { range in
            _ = kernel(pa + range.lowerBound, pb + range.lowerBound, o + range.lowerBound, range.count)
        }
        return Tensor(storage: out, shape: a.shape)
    }

    /// ``zip(_:_:_:)`` with `vector`, the same function on eight lanes, for the case where both
    /// operands are contiguous (the scalar closure is then not called per element).
    @inline(__always)
    static func zip(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float,
                    vector: (FloatVector, FloatVector) -> FloatVector) -> Tensor {
        if a.isContiguous && b.isContiguous { return zipVectors(a, b, vector) }
        if a.isContiguous, let row = repeatedRowLength(b), row > 0 { return zipRows(a, repeating: b, row: row, vector) }
        if b.isContiguous, let row = repeatedRowLength(a), row > 0 {
            return zipRows(b, repeating: a, row: row) { x, r in vector(r, x) }
        }
        return zip(a, b, f)
    }

    /// `out[i] = f(a[i], b[i mod row])` for a contiguous `a` and a `b` that repeats one row of
    /// `row` elements (a bias broadcast over the leading axes), eight lanes at a time, rows split
    /// among threads.
    @inline(__always)
    private static func zipRows(_ a: Tensor, repeating b: Tensor, row: Int,
                                _ f: (FloatVector, FloatVector) -> FloatVector) -> Tensor {
        let out = TensorStorage(uninitializedCount: a.count)
        let o = out.pointer, pa = a.storage.pointer + a.offset, pb = b.storage.pointer + b.offset
        let rows = a.count / row, width = FloatVector.scalarCount
        Parallel.forEach(count: rows, work: a.count * vectorWorkPerElement) { range in
            for r in range {
                let (sa, so) = (pa + r * row, o + r * row)
                var j = 0
                while j < row {
                    let k = Swift.min(width, row - j)
                    VectorMath.store(f(VectorMath.load(sa + j, count: k), VectorMath.load(pb + j, count: k)), so + j, count: k)
                    j += width
                }
            }
        }
        return Tensor(storage: out, shape: a.shape)
    }

    /// `out[i] = f(a[i], b[i])` for two tensors of the same shape, eight lanes at a time.
    @inline(__always)
    static func zipVectors(_ a: Tensor, _ b: Tensor, _ f: (FloatVector, FloatVector) -> FloatVector) -> Tensor {
        require(a.shape == b.shape, "Elementwise.zipVectors: shapes \(a.shape) and \(b.shape) differ")
        let a = a.isContiguous ? a : copy(a), b = b.isContiguous ? b : copy(b)
        let out = TensorStorage(uninitializedCount: a.count)
        let o = out.pointer, pa = a.storage.pointer + a.offset, pb = b.storage.pointer + b.offset
        forEachVectorRange(count: a.count) { range in
            var i = range.lowerBound
            while i < range.upperBound {
                let k = Swift.min(FloatVector.scalarCount, range.upperBound - i)
                VectorMath.store(f(VectorMath.load(pa + i, count: k), VectorMath.load(pb + i, count: k)), o + i, count: k)
                i += FloatVector.scalarCount
            }
        }
        return Tensor(storage: out, shape: a.shape)
    }

    /// Element count from which the contiguous path of ``zip(_:_:_:)`` (memory-bound arithmetic)
    /// is split over threads.
    static let parallelElementCount = 1 << 18

    /// Vector kernels cost about this many "work" units (``Parallel/minimumWork``) per element:
    /// transcendental functions of a few dozen operations.
    static let vectorWorkPerElement = 4

    /// Calls `body` on disjoint ranges covering `0..<count`, whose bounds (but the last) are
    /// multiples of the vector width, on several threads when the work is large enough.
    @inline(__always)
    static func forEachVectorRange(count: Int, _ body: (Range<Int>) -> Void) {
        let width = FloatVector.scalarCount
        let vectors = (count + width - 1) / width
        let workers = Parallel.workers(items: vectors, work: count * vectorWorkPerElement)
        if workers == 1 {
            body(0..<count)
            return
        }
        Parallel.forEachChunk(count: vectors, chunks: workers * Parallel.chunksPerWorker, workers: workers) { _, _, r in
            body((r.lowerBound * width)..<Swift.min(r.upperBound * width, count))
        }
    }

    /// `out[i] = f(a[i], b[i], c[i])` for three tensors of the same shape.
    @inline(__always)
    static func zip3(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
        require(a.shape == b.shape && b.shape == c.shape,
                "Elementwise.zip3: shapes \(a.shape), \(b.shape) and \(c.shape) differ")
        let out = TensorStorage(uninitializedCount: a.count)
        let o = out.pointer
        let pa = a.storage.pointer, pb = b.storage.pointer, pc = c.storage.pointer
        var position = 0
        StridedLoop.forEachRow(shape: a.shape, strides: [a.strides, b.strides, c.strides],
                               offsets: [a.offset, b.offset, c.offset]) { n, off, rs in
            let sa = pa + off[0], sb = pb + off[1], sc = pc + off[2]
            let ta = rs[0], tb = rs[1], tc = rs[2]
            for i in 0..<n { o[position + i] = f(sa[i * ta], sb[i * tb], sc[i * tc]) }
            position += n
        }
        return Tensor(storage: out, shape: a.shape)
    }
}
