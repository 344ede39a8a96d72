import CBLAS

/// LAPACKE's `lapack_int` (a C macro, so not imported): 32-bit in the LP64 OpenBLAS build.
/// An ILP64 build would make the LAPACKE calls below fail to compile rather than misbehave.
typealias LapackInt = Int32

/// A linear-algebra routine that cannot run on its input.
public enum LinalgError: Error, Equatable, CustomStringConvertible {
    /// The input is not a 2-D matrix.
    case notAMatrix(operation: String, shape: [Int])
    /// The routine needs a square matrix.
    case notSquare(operation: String, shape: [Int])
    /// The operands' sizes disagree (`solve`: rows of `a` and of `b`).
    case shapeMismatch(operation: String, a: [Int], b: [Int])
    /// The LU factorisation met an exactly zero pivot: `U[pivot-1, pivot-1] == 0`
    /// (`pivot` counts from 1, as LAPACK and PyTorch report it).
    case singular(operation: String, pivot: Int)
    /// The leading minor of order `order` is not positive definite (counting from 1).
    case notPositiveDefinite(operation: String, order: Int)
    /// LAPACK rejected an argument (`info = -k` names the k-th; LAPACKE reports NaN inputs
    /// this way) or the matrix is too large for its 32-bit sizes.
    case lapackFailure(operation: String, routine: String, info: Int)

    /// A sentence naming the operation, the shapes and the problem.
    public var description: String {
        switch self {
        case let .notAMatrix(op, shape):
            return "Linalg.\(op): expected a 2-D matrix, got shape \(shape)"
        case let .notSquare(op, shape):
            return "Linalg.\(op): expected a square matrix, got shape \(shape)"
        case let .shapeMismatch(op, a, b):
            return "Linalg.\(op): a of shape \(a) and b of shape \(b) do not match (b must have \(a.first ?? 0) rows)"
        case let .singular(op, pivot):
            return "Linalg.\(op): the matrix is singular: diagonal element \(pivot) of its LU factor U is zero"
        case let .notPositiveDefinite(op, order):
            return "Linalg.\(op): the matrix is not positive definite: its leading minor of order \(order) is not positive"
        case let .lapackFailure(op, routine, info):
            return info == Int.min
                ? "Linalg.\(op): the matrix is too large for \(routine)'s 32-bit sizes"
                : "Linalg.\(op): \(routine) failed with info \(info) (argument \(-info) rejected; NaN in the input?)"
        }
    }
}

/// Dense linear algebra on 2-D Float32 matrices through LAPACK (OpenBLAS's LAPACKE, row-major).
///
/// The results carry no autograd history: these routines are not differentiable, and a result
/// computed from a tensor that requires gradients does not pass gradients back to it. On
/// shape-only inputs they give shape-only results (and check only shapes). Inputs of
/// any layout are accepted (non-contiguous ones are copied). Singularity is detected as LAPACK
/// detects it, by an exactly zero pivot; an ill-conditioned matrix gives an inaccurate result
/// without an error, as in NumPy and PyTorch.
public enum Linalg {
    /// The solution `x` of `a · x = b`, by LU factorisation with partial pivoting (`sgesv`).
    /// - Parameters:
    ///   - a: (N, N) matrix.
    ///   - b: (N) vector or (N, K) matrix of right-hand sides.
    /// - Returns: x of `b`'s shape.
    /// - Throws: ``LinalgError`` when `a` is not square, `b` does not have N rows, or `a` is singular.
    public static func solve(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let n = try squareSize(a, "solve")
        guard (b.rank == 1 || b.rank == 2) && b.shape[0] == n else {
            throw LinalgError.shapeMismatch(operation: "solve", a: a.shape, b: b.shape)
        }
        let k = b.rank == 2 ? b.shape[1] : 1
        return try op("solve", inputs: [a, b], shape: b.shape) {
            if n == 0 || k == 0 { return Tensor(zeros: b.shape) }
            var lu = a.scalars, x = b.scalars
            var pivots = [LapackInt](repeating: 0, count: n)
            let info = try lapackSizes("solve", "LAPACKE_sgesv", n, k) { s in
                LAPACKE_sgesv(LAPACK_ROW_MAJOR, s[0], s[1], &lu, s[0], &pivots, &x, s[1])
            }
            try check(info, "solve", "LAPACKE_sgesv") { .singular(operation: "solve", pivot: $0) }
            return Tensor(x, shape: b.shape)
        }
    }

    /// The inverse of a square matrix, by LU factorisation (`sgetrf`, `sgetri`).
    /// - Parameter a: (N, N) → (N, N).
    /// - Throws: ``LinalgError`` when `a` is not square or is singular.
    public static func inverse(_ a: Tensor) throws -> Tensor {
        let n = try squareSize(a, "inverse")
        return try op("inverse", inputs: [a], shape: [n, n]) {
            if n == 0 { return Tensor(zeros: [0, 0]) }
            var m = a.scalars
            var pivots = [LapackInt](repeating: 0, count: n)
            let factor = try lapackSizes("inverse", "LAPACKE_sgetrf", n) { s in
                LAPACKE_sgetrf(LAPACK_ROW_MAJOR, s[0], s[0], &m, s[0], &pivots)
            }
            try check(factor, "inverse", "LAPACKE_sgetrf") { .singular(operation: "inverse", pivot: $0) }
            let invert = try lapackSizes("inverse", "LAPACKE_sgetri", n) { s in
                LAPACKE_sgetri(LAPACK_ROW_MAJOR, s[0], &m, s[0], &pivots)
            }
            try check(invert, "inverse", "LAPACKE_sgetri") { .singular(operation: "inverse", pivot: $0) }
            return Tensor(m, shape: [n, n])
        }
    }

    /// The lower-triangular Cholesky factor `L` of a symmetric positive-definite matrix,
    /// `a = L · Lᵀ` (`spotrf`). Only the lower triangle of `a` is read, as in PyTorch.
    /// - Parameter a: (N, N) → L (N, N), zero above the diagonal.
    /// - Throws: ``LinalgError`` when `a` is not square or not positive definite.
    public static func cholesky(_ a: Tensor) throws -> Tensor {
        let n = try squareSize(a, "cholesky")
        return try op("cholesky", inputs: [a], shape: [n, n]) {
            if n == 0 { return Tensor(zeros: [0, 0]) }
            var l = a.scalars
            let info = try lapackSizes("cholesky", "LAPACKE_spotrf", n) { s in
                LAPACKE_spotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), s[0], &l, s[0])
            }
            try check(info, "cholesky", "LAPACKE_spotrf") { .notPositiveDefinite(operation: "cholesky", order: $0) }
            for i in 0..<n { for j in (i + 1)..<n { l[i * n + j] = 0 } }  // LAPACK leaves the input there
            return Tensor(l, shape: [n, n])
        }
    }

    /// The reduced QR decomposition `a = Q · R` by Householder reflections (`sgeqrf`,
    /// `sorgqr`), like `torch.linalg.qr(a)` with `mode="reduced"`; with K = min(M, N).
    /// - Parameter a: (M, N) → Q (M, K) with orthonormal columns, R (K, N) upper triangular.
    /// - Throws: ``LinalgError`` when `a` is not a matrix.
    public static func qr(_ a: Tensor) throws -> (q: Tensor, r: Tensor) {
        guard a.rank == 2 else { throw LinalgError.notAMatrix(operation: "qr", shape: a.shape) }
        let (m, n) = (a.shape[0], a.shape[1])
        let k = min(m, n)
        // One factorisation makes both results: the op for R runs it and hands Q to the op for Q.
        var q: Tensor?
        let r = try op("qr", inputs: [a], shape: [k, n]) {
            let (qValue, rValue) = try householderQR(a, m: m, n: n)
            q = qValue
            return rValue
        }
        return (Tensor.op("qr", inputs: [a], shape: [m, k]) { q! }, r)
    }

    /// Q (M, K) and R (K, N) of a reduced QR decomposition of the (M, N) matrix `a`.
    private static func householderQR(_ a: Tensor, m: Int, n: Int) throws -> (q: Tensor, r: Tensor) {
        let k = min(m, n)
        if k == 0 { return (Tensor(zeros: [m, k]), Tensor(zeros: [k, n])) }
        var h = a.scalars
        var tau = [Float](repeating: 0, count: k)
        let factor = try lapackSizes("qr", "LAPACKE_sgeqrf", m, n) { s in
            LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, s[0], s[1], &h, s[1], &tau)
        }
        try check(factor, "qr", "LAPACKE_sgeqrf") { .lapackFailure(operation: "qr", routine: "LAPACKE_sgeqrf", info: $0) }
        let r = Tensor.make(shape: [k, n]) { out in
            for i in 0..<k { for j in 0..<n { out[i * n + j] = j >= i ? h[i * n + j] : 0 } }
        }
        // The reflectors sit in the first K columns of h (leading dimension N ≥ K).
        let expand = try lapackSizes("qr", "LAPACKE_sorgqr", m, k, n) { s in
            LAPACKE_sorgqr(LAPACK_ROW_MAJOR, s[0], s[1], s[1], &h, s[2], &tau)
        }
        try check(expand, "qr", "LAPACKE_sorgqr") { .lapackFailure(operation: "qr", routine: "LAPACKE_sorgqr", info: $0) }
        let q = Tensor.make(shape: [m, k]) { out in
            for i in 0..<m { for j in 0..<k { out[i * k + j] = h[i * n + j] } }
        }
        return (q, r)
    }

    // MARK: Helpers

    /// A non-differentiable op (``Tensor/op(_:inputs:shape:flops:forward:)``) whose forward may
    /// throw: shape-only inputs give a shape-only result without running it.
    private static func op(_ name: String, inputs: [Tensor], shape: [Int], _ forward: () throws -> Tensor) throws -> Tensor {
        var failure: Error?
        let result = Tensor.op(name, inputs: inputs, shape: shape) {
            do { return try forward() } catch {
                failure = error
                return Tensor(metaShape: shape, madeBy: name)
            }
        }
        if let failure { throw failure }
        return result
    }

    /// N for an (N, N) matrix; throws for anything else.
    private static func squareSize(_ a: Tensor, _ op: String) throws -> Int {
        guard a.rank == 2 else { throw LinalgError.notAMatrix(operation: op, shape: a.shape) }
        guard a.shape[0] == a.shape[1] else { throw LinalgError.notSquare(operation: op, shape: a.shape) }
        return a.shape[0]
    }

    /// Calls `body` with `sizes` as LAPACK integers, throwing when one does not fit (or the
    /// matrices' element counts, which LAPACK indexes with the same type, would not).
    private static func lapackSizes(_ op: String, _ routine: String, _ sizes: Int...,
                                    body: ([LapackInt]) -> LapackInt) throws -> Int {
        let largest = sizes.max() ?? 0
        let (square, overflow) = largest.multipliedReportingOverflow(by: largest)
        guard !overflow && square <= Int(LapackInt.max) else {
            throw LinalgError.lapackFailure(operation: op, routine: routine, info: Int.min)
        }
        return Int(body(sizes.map { LapackInt($0) }))
    }

    /// Maps LAPACK's `info`: 0 is success, negative a rejected argument, positive the routine's
    /// own failure (passed to `positive`).
    private static func check(_ info: Int, _ op: String, _ routine: String,
                              positive: (Int) -> LinalgError) throws {
        if info < 0 { throw LinalgError.lapackFailure(operation: op, routine: routine, info: info) }
        if info > 0 { throw positive(info) }
    }
}
