import CBLAS
#if canImport(Glibc)
import Glibc
#endif

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
    ///
    /// With `pieceWork`, a product split among threads is cut into pieces of at most that many
    /// multiply-adds (m·n·k) each, in multiples of 16 rows or columns, instead of one strip per
    /// thread (when 16 rows or columns fit in that work). For the thin products of small-batch
    /// linear layers (64 rows or fewer) OpenBLAS is faster on such pieces: 15–40 % per product on
    /// this project's machines, whose OpenBLAS runs its Cooper Lake kernels (BENCHMARKS.md, second
    /// session). Pieces round differently from one whole product, so results then depend on the
    /// thread count in the last bits.
    @inline(__always)
    public static func multiply(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, _ opA: Operand,
        b: UnsafePointer<Float>, _ opB: Operand,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, pieceWork: Int? = nil
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS's rule: beta 0 sets C without reading it (it may be uninitialised).
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : c[i * ldc + j] * beta } }
            return
        }
        _ = blasThreadsAtStart   // OpenBLAS held to one thread from the first product on
        let work = m * n * k
        let workers = Parallel.workers(items: Swift.max(m, n) / splitGranule, work: work / 8)
        if workers == 1 {
            product(m: m, n: n, k: k, alpha: alpha, a: a, opA, b: b, opB, beta: beta, c: c, ldc: ldc)
            return
        }
        // One strip of C per worker (multiples of the granule, so every strip keeps whole
        // micro-tiles); each strip re-packs the shared operand, so more strips cost more. Rows are
        // split when every strip gets at least two granules of them (OpenBLAS keeps its packed
        // panels of B across a strip's rows), else the longer side; measured on the shapes of
        // MLPs, ViT and ResNet-18 (BENCHMARKS.md, second session).
        let splitRows = m >= 2 * workers * splitGranule || m >= n
        let (side, across) = splitRows ? (m, n) : (n, m)
        var (granule, strips) = (splitGranule, workers)
        if let pieceWork, pieceGranule * across * k <= pieceWork {
            granule = pieceGranule
            let perPiece = pieceWork / (across * k) / granule * granule
            strips = Swift.max(workers, (side + perPiece - 1) / perPiece)
        }
        let blocks = side / granule
        strips = Swift.min(blocks, strips)
        Parallel.forEachChunk(count: blocks, chunks: strips, workers: workers) { _, strip, range in
            let start = range.lowerBound * granule
            let end = strip == strips - 1 ? side : range.upperBound * granule
            if splitRows {
                let aStart = opA.transposed ? a + start : a + start * opA.leadingDimension
                product(m: end - start, n: n, k: k, alpha: alpha, a: aStart, opA, b: b, opB,
                        beta: beta, c: c + start * ldc, ldc: ldc)
            } else {
                let bStart = opB.transposed ? b + start * opB.leadingDimension : b + start
                product(m: m, n: end - start, k: k, alpha: alpha, a: a, opA, b: bStart, opB,
                        beta: beta, c: c + start, ldc: ldc)
            }
        }
    }

    /// Rows or columns of C per unit of a split product.
    static let splitGranule = 32
    /// Rows or columns of C per unit of a product cut into pieces (`pieceWork`).
    static let pieceGranule = 16

    /// One single-threaded `cblas_sgemm`. With beta 0, C is zeroed here by memset and the product
    /// accumulated onto it (beta 1): the same values (BLAS never reads C for beta 0, nor does a
    /// memset), but OpenBLAS's own zeroing runs column by column and took 3 % of vit_step.
    @inline(__always)
    static func product(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, _ opA: Operand,
                        b: UnsafePointer<Float>, _ opB: Operand, beta: Float,
                        c: UnsafeMutablePointer<Float>, ldc: Int) {
        var beta = beta
        if beta == 0 {
            if ldc == n {
                c.update(repeating: 0, count: m * n)
            } else {
                for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
            }
            beta = 1
        }
        cblas_sgemm(CblasRowMajor,
                    opA.transposed ? CblasTrans : CblasNoTrans,
                    opB.transposed ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(opA.leadingDimension), b, Int32(opB.leadingDimension),
                    beta, c, Int32(ldc))
    }

    /// OpenBLAS's thread count when the library first ran a product (`OPENBLAS_NUM_THREADS`, or
    /// the cores); from then on OpenBLAS runs single-threaded and the library splits work itself.
    static let blasThreadsAtStart: Int = {
        let threads = Int(openblas_get_num_threads())
        openblas_set_num_threads(1)
        stopOpenBLASWorkers()
        return Swift.max(1, threads)
    }()

    /// Ends the worker threads of a pthreads OpenBLAS, which otherwise keep spinning on
    /// `sched_yield` between calls and take CPU time from the library's own threads. The
    /// function (`blas_thread_shutdown_`, what OpenBLAS runs before a `fork`) is looked up at run
    /// time, so builds without it (OpenMP variants) are unaffected; OpenBLAS starts its workers
    /// again by itself if it is ever given more than one thread (call this again after handing
    /// it back one thread, as `deep-bench gemm_1024` does after timing OpenBLAS's own threading).
    public static func stopOpenBLASWorkers() {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_") else { return }
        _ = unsafeBitCast(symbol, to: (@convention(c) () -> Int32).self)()
    }

    /// The number of threads the library uses for products and parallel loops (OpenBLAS's count
    /// at start). Reads 1 inside a parallel loop, where nested work runs inline.
    public static var threadCount: Int {
        get { Parallel.busy.load(ordering: .relaxed) != 0 ? 1 : Parallel.configuredThreads }
        set { _ = blasThreadsAtStart; Parallel.configuredThreads = Swift.max(1, newValue) }
    }
}
