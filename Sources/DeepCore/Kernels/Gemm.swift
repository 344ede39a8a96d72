import CBLAS

/// Single-precision matrix products through OpenBLAS's `cblas_sgemm`.
public enum Gemm {
    /// How a strided matrix is handed to BLAS: transposed or not, and its leading dimension.
    public struct Operand {
        /// Whether BLAS should read the matrix transposed.
        public var transposed: Bool
        /// Row-major leading dimension of the stored matrix.
        public var leadingDimension: Int
    }

    /// How to pass a `rows × cols` matrix with strides `(rowStride, colStride)` to BLAS without a
    /// copy, or nil when its layout needs one.
    public static func operand(rows: Int, cols: Int, rowStride: Int, colStride: Int) -> Operand? {
        if colStride == 1 || cols == 1, rows == 1 || rowStride >= Swift.max(cols, 1) {
            return Operand(transposed: false, leadingDimension: rows == 1 ? Swift.max(cols, 1) : rowStride)
        }
        if rowStride == 1 || rows == 1, cols == 1 || colStride >= Swift.max(rows, 1) {
            return Operand(transposed: true, leadingDimension: cols == 1 ? Swift.max(rows, 1) : colStride)
        }
        return nil
    }

    /// C = alpha · op(A) · op(B) + beta · C, all row-major; C is `m × n` with leading dimension `ldc`.
    @inline(__always)
    public static func multiply(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, _ opA: Operand,
        b: UnsafePointer<Float>, _ opB: Operand,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
            return
        }
        cblas_sgemm(CblasRowMajor,
                    opA.transposed ? CblasTrans : CblasNoTrans,
                    opB.transposed ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(opA.leadingDimension), b, Int32(opB.leadingDimension),
                    beta, c, Int32(ldc))
    }

    /// The number of threads OpenBLAS uses.
    public static var threadCount: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }
}
