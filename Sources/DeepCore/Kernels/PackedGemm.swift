import CVectorKernels

/// Products with a weight packed once, for convolutions whose weights stay fixed (a model for
/// inference, through a ``ConvolutionWeightCache``): C (m × n) += W (m × k) · B (k × n) with W
/// in panels of ``panelRows`` rows (the C kernels of CVectorKernels, AVX-512 or AVX2/FMA).
///
/// OpenBLAS packs both operands on every call; for a GEMM with few columns and a large weight
/// (ResNet-18's 7×7 stage at batch 1: 512 × 4608 weights, 49 columns) packing the weight takes
/// as long as the products. Here it is packed once and streamed.
enum PackedGemm {
    /// Rows per panel on this CPU: 32 (AVX-512), 16 (AVX2 with FMA), or 0: no packed products.
    static var panelRows: Int { Int(ds_packed_gemm_rows()) }

    /// Columns n up to which a convolution's product runs on packed weights (more columns
    /// amortise OpenBLAS's packing; measured on ResNet-18's shapes at batch 1).
    nonisolated(unsafe) static var columnLimit = 200

    /// Floats of an m × k matrix in panels.
    static func packedCount(m: Int, k: Int) -> Int {
        let rows = Swift.max(panelRows, 1)
        return (m + rows - 1) / rows * rows * k
    }

    /// W (m × k, row-major) in panels, for ``multiplyAdd(_:m:k:b:ldb:n:c:ldc:)``; with `count`,
    /// that many m × k matrices lying one after another, each packed (matrix i's panels from
    /// i · ``packedCount(m:k:)``).
    static func pack(_ w: UnsafePointer<Float>, m: Int, k: Int, count: Int = 1) -> TensorStorage {
        let size = packedCount(m: m, k: k)
        let packed = TensorStorage(uninitializedCount: count * size)
        for i in 0..<count { ds_packed_gemm_pack(w + i * m * k, m, k, k, packed.pointer + i * size) }
        return packed
    }

    /// C (m × n, row stride ldc) = W · B on the calling thread, W from ``pack(_:m:k:count:)``.
    static func multiply(_ packed: UnsafePointer<Float>, m: Int, k: Int, b: UnsafePointer<Float>, ldb: Int, n: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int) {
        for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
        _ = ds_packed_gemm(packed, m, k, b, ldb, n, c, ldc, 0, (m + panelRows - 1) / panelRows)
    }

    /// C (m × n, row stride ldc) += W · B (k × n, row stride ldb), W from ``pack(_:m:k:)``; the
    /// panels split among the threads.
    static func multiplyAdd(_ packed: UnsafePointer<Float>, m: Int, k: Int, b: UnsafePointer<Float>, ldb: Int, n: Int,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        let panels = (m + panelRows - 1) / panelRows
        let workers = Parallel.workers(items: panels, work: m * n * k)
        Parallel.forEachChunk(count: panels, chunks: workers, workers: workers) { _, _, range in
            _ = ds_packed_gemm(packed, m, k, b, ldb, n, c, ldc, range.lowerBound, range.upperBound)
        }
    }
}
