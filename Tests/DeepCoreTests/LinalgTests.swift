import XCTest
import DeepCore

final class LinalgTests: XCTestCase {
    private let fixtures = loadFixtures("linalg")

    private func identity(_ n: Int) -> Tensor {
        Tensor.make(shape: [n, n]) { out in for i in 0..<(n * n) { out[i] = i / n == i % n ? 1 : 0 } }
    }

    /// A random (N, N) matrix made well conditioned by adding `n·I`.
    private func wellConditioned(_ n: Int, seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.randn([n, n], generator: &rng) + identity(n) * Float(n)
    }

    /// Fails with `expected` unless `body` throws exactly that ``LinalgError``.
    private func assertLinalgError<T>(_ expected: LinalgError, file: StaticString = #filePath, line: UInt = #line,
                                      _ body: () throws -> T) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? LinalgError, expected, "\(error)", file: file, line: line)
        }
    }

    // MARK: Values against PyTorch

    func testSolveMatchesTorch() throws {
        let a = fixtures["solve_a"]!
        assertClose(try Linalg.solve(a, fixtures["solve_b"]!), fixtures["solve_x"]!, atol: 1e-5, rtol: 1e-4)
        assertClose(try Linalg.solve(a, fixtures["solve_bm"]!), fixtures["solve_xm"]!, atol: 1e-5, rtol: 1e-4)
        // Transposed (non-contiguous) operands are read correctly.
        let bm = fixtures["solve_bm"]!
        assertClose(try Linalg.solve(a, bm.mT.contiguous().mT), fixtures["solve_xm"]!, atol: 1e-5, rtol: 1e-4)
    }

    func testInverseMatchesTorch() throws {
        let a = fixtures["inv_a"]!
        assertClose(try Linalg.inverse(a), fixtures["inv"]!, atol: 1e-5, rtol: 1e-4)
        assertClose(try Linalg.inverse(a.mT), fixtures["inv"]!.mT.contiguous(), atol: 1e-5, rtol: 1e-4)
    }

    func testCholeskyMatchesTorch() throws {
        assertClose(try Linalg.cholesky(fixtures["chol_a"]!), fixtures["chol_l"]!, atol: 1e-5, rtol: 1e-4)
    }

    func testQRMatchesTorch() throws {
        for name in ["tall", "wide", "square"] {
            let (q, r) = try Linalg.qr(fixtures["qr_\(name)"]!)
            assertClose(q, fixtures["qr_\(name)_q"]!, atol: 1e-5, rtol: 1e-4, "Q \(name)")
            assertClose(r, fixtures["qr_\(name)_r"]!, atol: 1e-5, rtol: 1e-4, "R \(name)")
        }
    }

    // MARK: Properties

    func testSolutionSatisfiesTheSystem() throws {
        var rng = RandomGenerator(seed: 11)
        let a = wellConditioned(8, seed: 1), b = Tensor.randn([8, 3], generator: &rng)
        let x = try Linalg.solve(a, b)
        assertClose(matmul(a, x), b, atol: 1e-4, rtol: 1e-4)
    }

    func testInverseTimesMatrixIsIdentity() throws {
        let a = wellConditioned(8, seed: 2)
        let inverse = try Linalg.inverse(a)
        assertClose(matmul(a, inverse), identity(8), atol: 1e-5, rtol: 0)
        assertClose(matmul(inverse, a), identity(8), atol: 1e-5, rtol: 0)
    }

    func testCholeskyFactorIsLowerAndReproducesTheMatrix() throws {
        var rng = RandomGenerator(seed: 3)
        let m = Tensor.randn([6, 6], generator: &rng)
        let spd = matmul(m, m.mT) + identity(6)
        let l = try Linalg.cholesky(spd)
        assertClose(matmul(l, l.mT), spd, atol: 1e-4, rtol: 1e-4)
        for i in 0..<6 {
            XCTAssertGreaterThan(l.scalar(at: [i, i]), 0)
            for j in (i + 1)..<6 { XCTAssertEqual(l.scalar(at: [i, j]), 0) }
        }
        // Only the lower triangle is read, as in PyTorch.
        let upperGarbage = Tensor.make(shape: [6, 6]) { out in
            for i in 0..<6 { for j in 0..<6 { out[i * 6 + j] = j > i ? 99 : spd.scalar(at: [i, j]) } }
        }
        assertClose(try Linalg.cholesky(upperGarbage), l, atol: 0, rtol: 0)
    }

    func testQRIsOrthonormalTimesUpperTriangular() throws {
        var rng = RandomGenerator(seed: 4)
        for shape in [[7, 4], [4, 7], [5, 5], [1, 3], [3, 1]] {
            let a = Tensor.randn(shape, generator: &rng)
            let (q, r) = try Linalg.qr(a)
            let k = min(shape[0], shape[1])
            XCTAssertEqual(q.shape, [shape[0], k])
            XCTAssertEqual(r.shape, [k, shape[1]])
            assertClose(matmul(q.mT, q), identity(k), atol: 1e-5, rtol: 0, "QᵀQ \(shape)")
            assertClose(matmul(q, r), a, atol: 1e-5, rtol: 1e-4, "QR \(shape)")
            for i in 0..<k { for j in 0..<min(i, shape[1]) { XCTAssertEqual(r.scalar(at: [i, j]), 0, "R \(shape)") } }
        }
    }

    func testEmptyMatrices() throws {
        XCTAssertEqual(try Linalg.inverse(Tensor(zeros: [0, 0])).shape, [0, 0])
        XCTAssertEqual(try Linalg.cholesky(Tensor(zeros: [0, 0])).shape, [0, 0])
        XCTAssertEqual(try Linalg.solve(Tensor(zeros: [0, 0]), Tensor(zeros: [0, 2])).shape, [0, 2])
        XCTAssertEqual(try Linalg.solve(Tensor(ones: [2, 2]) + identity(2), Tensor(zeros: [2, 0])).shape, [2, 0])
        let (q, r) = try Linalg.qr(Tensor(zeros: [3, 0]))
        XCTAssertEqual(q.shape, [3, 0])
        XCTAssertEqual(r.shape, [0, 0])
    }

    func testResultsCarryNoGradientHistory() throws {
        let a = wellConditioned(3, seed: 5)
        a.requiresGrad = true
        XCTAssertFalse(try Linalg.inverse(a).requiresGrad)
    }

    // MARK: Errors

    func testShapeErrors() {
        let rectangle = Tensor(ones: [2, 3])
        assertLinalgError(.notSquare(operation: "inverse", shape: [2, 3])) { try Linalg.inverse(rectangle) }
        assertLinalgError(.notSquare(operation: "cholesky", shape: [2, 3])) { try Linalg.cholesky(rectangle) }
        assertLinalgError(.notSquare(operation: "solve", shape: [2, 3])) { try Linalg.solve(rectangle, Tensor(ones: [2])) }
        assertLinalgError(.notAMatrix(operation: "inverse", shape: [2, 2, 2])) { try Linalg.inverse(Tensor(ones: [2, 2, 2])) }
        assertLinalgError(.notAMatrix(operation: "qr", shape: [4])) { try Linalg.qr(Tensor(ones: [4])) }
        let a = wellConditioned(3, seed: 6)
        assertLinalgError(.shapeMismatch(operation: "solve", a: [3, 3], b: [2])) { try Linalg.solve(a, Tensor(ones: [2])) }
        assertLinalgError(.shapeMismatch(operation: "solve", a: [3, 3], b: [3, 1, 1])) { try Linalg.solve(a, Tensor(ones: [3, 1, 1])) }
    }

    func testSingularMatrixReportsThePivot() {
        // LU with partial pivoting: rows swap, then the second pivot is exactly zero.
        let singular = Tensor([1, 2, 2, 4], shape: [2, 2])
        assertLinalgError(.singular(operation: "inverse", pivot: 2)) { try Linalg.inverse(singular) }
        assertLinalgError(.singular(operation: "solve", pivot: 2)) { try Linalg.solve(singular, Tensor([1, 1])) }
        let zeroColumn = Tensor([0, 0, 0, 0, 1, 2, 0, 3, 4], shape: [3, 3])
        assertLinalgError(.singular(operation: "inverse", pivot: 1)) { try Linalg.inverse(zeroColumn) }
        XCTAssertTrue(LinalgError.singular(operation: "inverse", pivot: 2).description.contains("diagonal element 2"))
    }

    func testNotPositiveDefiniteReportsTheMinor() {
        assertLinalgError(.notPositiveDefinite(operation: "cholesky", order: 2)) {
            try Linalg.cholesky(Tensor([1, 2, 2, 1], shape: [2, 2]))
        }
        assertLinalgError(.notPositiveDefinite(operation: "cholesky", order: 1)) {
            try Linalg.cholesky(Tensor([-1, 0, 0, 1], shape: [2, 2]))
        }
    }

    func testNaNInputIsAnErrorNotACrash() {
        let a = Tensor([1, .nan, 0, 1], shape: [2, 2])
        XCTAssertThrowsError(try Linalg.solve(a, Tensor([1, 1]))) { error in
            guard case .lapackFailure(operation: "solve", routine: "LAPACKE_sgesv", info: let info)? = error as? LinalgError else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertLessThan(info, 0)
        }
    }
}
