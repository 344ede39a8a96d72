import XCTest
import DeepCore
import DeepNN

final class SelectiveScanTests: XCTestCase {
    // MARK: Hand-computed values (../shared/specs/mamba.md §1.1)

    func testSingleChannelHandValues() {
        let u = Tensor([1, 2, 3], shape: [1, 1, 3]), delta = Tensor(repeating: 0.5, shape: [1, 1, 3])
        let A = Tensor([-1], shape: [1, 1]), B = Tensor([1], shape: [1, 1]), C = Tensor([1], shape: [1, 1])
        let (out, last) = selectiveScanWithState(u, delta, A, B, C)
        assertClose(out, Tensor([0.5, 1.303265, 2.290470], shape: [1, 1, 3]), atol: 1e-5, rtol: 1e-5)
        assertClose(last, Tensor([2.290470], shape: [1, 1, 1]), atol: 1e-5, rtol: 1e-5)
        let gated = selectiveScan(u, delta, A, B, C, Tensor([1]), z: Tensor([0, 1, -1], shape: [1, 1, 3]))
        assertClose(gated, Tensor([0, 2.414880, -1.422827], shape: [1, 1, 3]), atol: 1e-5, rtol: 1e-5)
    }

    func testSoftplusOfBiasHandValues() {
        let u = Tensor([1, 2, 3], shape: [1, 1, 3]), delta = Tensor(zeros: [1, 1, 3])
        let one = Tensor([1], shape: [1, 1])
        let out = selectiveScan(u, delta, -one, one, one, deltaBias: Tensor([0]), deltaSoftplus: true)
        assertClose(out, Tensor([0.693147, 1.732868, 2.945876], shape: [1, 1, 3]), atol: 1e-5, rtol: 1e-5)
    }

    func testTwoChannelHandValues() {
        let u = Tensor.arange(1, 9).reshaped([1, 2, 4]) / 4
        let delta = Tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.4, 0.3, 0.2], shape: [1, 2, 4])
        let A = Tensor([-1, -2, -1, -2], shape: [2, 2])
        let B = Tensor([1, 0, -1, 0.5, 0.5, 1, 0, -1], shape: [1, 2, 4])
        let C = Tensor([0.2, 0.4, 0.6, 0.8, 1, -1, 1, -1], shape: [1, 2, 4])
        assertClose(selectiveScan(u, delta, A, B, C),
                    Tensor([0.0175, -0.100192, -0.066422, 0.420748, 0.4375, -0.572835, 0.277568, 0.147034], shape: [1, 2, 4]),
                    atol: 2e-6, rtol: 1e-5)
        let z = Tensor([0.5, -0.5, 1, 0, 0, 1, 2, -1], shape: [1, 2, 4])
        let (out, last) = selectiveScanWithState(u, delta, A, B, C, Tensor([1, 1]), z: z)
        assertClose(out, Tensor([0.083254, -0.075472, 0.499735, 0, 0, 0.677812, 3.571752, -0.577426], shape: [1, 2, 4]),
                    atol: 2e-6, rtol: 1e-5)
        assertClose(last, Tensor([0.059342, -0.373274, 0.024272, -0.127616], shape: [1, 2, 2]), atol: 2e-6, rtol: 1e-5)
    }

    // MARK: PyTorch reference (Tests/Fixtures/make_mamba.py)

    /// Runs the scan on a fixture case's inputs and compares the output, the last state and the
    /// gradient of sum(out·w) for every input.
    func checkCase(_ name: String, softplus: Bool, _ f: [String: Tensor], grads g: [String: Tensor]? = nil,
                   file: StaticString = #filePath, line: UInt = #line) {
        let g = g ?? f
        func leaf(_ key: String) -> Tensor? {
            guard let t = f["\(name).\(key)"] else { return nil }
            let c = t.copied().detached()
            c.requiresGrad = true
            return c
        }
        let (u, delta, A, B, C) = (leaf("u")!, leaf("delta")!, leaf("A")!, leaf("B")!, leaf("C")!)
        let (D, z, bias) = (leaf("D"), leaf("z"), leaf("delta_bias"))
        let (out, last) = selectiveScanWithState(u, delta, A, B, C, D, z: z, deltaBias: bias, deltaSoftplus: softplus)
        assertClose(out, f["\(name).out"]!, atol: 1e-5, rtol: 1e-4, "\(name) output", file: file, line: line)
        assertClose(last, f["\(name).last_state"]!, atol: 1e-5, rtol: 1e-4, "\(name) last state", file: file, line: line)
        (out * g["\(name).w"]!).sum().backward()
        let inputs: [(String, Tensor?)] = [("u", u), ("delta", delta), ("A", A), ("B", B), ("C", C),
                                           ("D", D), ("z", z), ("delta_bias", bias)]
        for case let (key, t?) in inputs {
            assertClose(t.grad!, g["\(name).grad_\(key)"]!, atol: 1e-4, rtol: 1e-4, "\(name) gradient of \(key)",
                        file: file, line: line)
        }
    }

    func testMatchesReferenceScan() {
        let f = loadFixtures("mamba_scan")
        checkCase("variable", softplus: true, f)
        checkCase("constant", softplus: false, f)
        checkCase("grouped", softplus: true, f)
        checkCase("mixed", softplus: false, f)
        checkCase("threshold", softplus: true, f)
    }

    /// Enough channels for the channel-block kernels (whole and partial blocks, two groups), on
    /// one thread and split into several work units, and, for contrast, row by row.
    /// (Without AVX2 or AVX-512 there are no channel blocks: the test checks the rows and skips.)
    func testChannelBlocksMatchReferenceScan() throws {
        let f = loadFixtures("mamba_scan_blocks")
        let saved = (DeepCore.Parallel.minimumWork, SelectiveScanKernels.usesChannelBlocks)
        defer { (DeepCore.Parallel.minimumWork, SelectiveScanKernels.usesChannelBlocks) = saved }
        for (minimumWork, blocks) in [(saved.0, true), (1, true), (saved.0, false)] {
            (DeepCore.Parallel.minimumWork, SelectiveScanKernels.usesChannelBlocks) = (minimumWork, blocks)
            checkCase("blocks", softplus: true, f)
            checkCase("grouped_blocks", softplus: false, f)
        }
        try XCTSkipUnless(SelectiveScanKernels.cpuHasVectorExtensions,
                          "the CPU has neither AVX2 nor AVX-512: no channel blocks, only rows were checked")
    }

    func testMatchesReferenceScanSplitAcrossThreads() {
        // Force the parallel path: several work units per (batch, group), their gradients of
        // B, C, A, D and the bias reduced at the end.
        let saved = DeepCore.Parallel.minimumWork
        DeepCore.Parallel.minimumWork = 1
        defer { DeepCore.Parallel.minimumWork = saved }
        let f = loadFixtures("mamba_scan")
        checkCase("variable", softplus: true, f)
        checkCase("constant", softplus: false, f)
        checkCase("grouped", softplus: true, f)
        checkCase("mixed", softplus: false, f)
        checkCase("long", softplus: true, loadFixtures("mamba_scan_long"), grads: loadFixtures("mamba_scan_long_grads"))
    }

    func testPortableKernelsMatchReferenceScan() {
        let saved = SelectiveScanKernels.usesVectorExtensions
        SelectiveScanKernels.usesVectorExtensions = false
        defer { SelectiveScanKernels.usesVectorExtensions = saved }
        let f = loadFixtures("mamba_scan")
        checkCase("variable", softplus: true, f)
        checkCase("grouped", softplus: true, f)
        checkCase("mixed", softplus: false, f)
        checkCase("long", softplus: true, loadFixtures("mamba_scan_long"), grads: loadFixtures("mamba_scan_long_grads"))
    }

    /// The AVX-512 / AVX2 kernels (CScanKernels) against the portable Swift loops: outputs, last
    /// state and every gradient, over state sizes that take one, two and five vectors (and
    /// padding), lengths that are not multiples of the vector or checkpoint widths, constant,
    /// input-dependent and grouped B and C, with and without gate, D, bias and softplus. Four
    /// channels run row by row; 37, 40 in two groups, 24 and 20 (L = 200: four segments) run in
    /// channel blocks, whole and partial (there without softplus Δ = |delta| + bias, as decays
    /// above 1 make the sums ill-conditioned).
    func testVectorExtensionKernelsMatchPortableKernels() throws {
        try XCTSkipUnless(SelectiveScanKernels.cpuHasVectorExtensions, "the CPU has neither AVX2 nor AVX-512")
        var rng = RandomGenerator(seed: 21)
        let cases: [(n: Int, l: Int, groups: Int?, gated: Bool, dm: Int)] = [
            (16, 75, 1, true, 4), (16, 40, nil, false, 4), (5, 33, 2, true, 4), (32, 19, 1, false, 4), (40, 50, 2, true, 4),
            (1, 9, nil, true, 4), (16, 75, 1, true, 37), (5, 33, 2, false, 40), (32, 19, 1, false, 24), (16, 40, nil, true, 37),
            (16, 200, 1, true, 20)]
        for (n, l, groups, gated, dm) in cases {
            let bt = 2
            if dm > 4, let g = groups {
                let p = SelectiveScanKernels.Problem(batch: bt, channels: dm, length: l, stateSize: n, bGroups: g, cGroups: g,
                                                     deltaSoftplus: true)
                XCTAssertGreaterThan(SelectiveScanKernels.channelBlockWidth(p), 0, "\(dm) channels in \(g) groups run in blocks")
            }
            let softplus = n != 32
            let u = Tensor.randn([bt, dm, l], generator: &rng)
            var delta = Tensor.randn([bt, dm, l], generator: &rng) * 0.5
            if dm > 4 && !softplus { delta = delta.abs() + 0.3 }
            let A = -Tensor.rand([dm, n], generator: &rng) * 2 - 0.1
            let B = groups.map { Tensor.randn([bt, $0, n, l], generator: &rng) } ?? Tensor.randn([dm, n], generator: &rng)
            let C = groups.map { Tensor.randn([bt, $0, n, l], generator: &rng) } ?? Tensor.randn([dm, n], generator: &rng)
            let D = Tensor.randn([dm], generator: &rng), bias = Tensor.randn([dm], generator: &rng) * 0.3
            let z = gated ? Tensor.randn([bt, dm, l], generator: &rng) : nil
            let weight = Tensor.randn([bt, dm, l], generator: &rng)
            func run(native: Bool) -> [[Float]] {
                let saved = SelectiveScanKernels.usesVectorExtensions
                SelectiveScanKernels.usesVectorExtensions = native
                defer { SelectiveScanKernels.usesVectorExtensions = saved }
                let leaves = [u, delta, A, B, C, D, bias] + (z.map { [$0] } ?? [])
                let x = leaves.map { t -> Tensor in let c = t.copied().detached(); c.requiresGrad = true; return c }
                let (out, last) = selectiveScanWithState(x[0], x[1], x[2], x[3], x[4], x[5], z: gated ? x[7] : nil,
                                                         deltaBias: x[6], deltaSoftplus: softplus)
                (out * weight).sum().backward()
                return [out.scalars, last.scalars] + x.map { $0.grad!.scalars }
            }
            let (native, portable) = (run(native: true), run(native: false))
            let names = ["out", "last state", "u", "delta", "A", "B", "C", "D", "delta bias", "z"]
            for (i, (a, b)) in zip(native, portable).enumerated() {
                assertClose(a, b, atol: 2e-5, rtol: 2e-5,
                            "N \(n) L \(l) D \(dm) groups \(String(describing: groups)): \(names[i])")
            }
        }
    }

    func testMatchesReferenceScanOnLength512() {
        checkCase("long", softplus: true, loadFixtures("mamba_scan_long"), grads: loadFixtures("mamba_scan_long_grads"))
    }

    // MARK: Properties

    /// The recurrence written out in Double, one state element at a time: B and C as closures
    /// (b, d, n, l) → value so that every layout is covered.
    func naiveScan(u: Tensor, delta: Tensor, A: Tensor, B: (Int, Int, Int, Int) -> Float, C: (Int, Int, Int, Int) -> Float,
                   D: Tensor?, z: Tensor?, bias: Tensor?, softplus: Bool) -> (out: [Float], last: [Float]) {
        let (bt, dm, l, n) = (u.shape[0], u.shape[1], u.shape[2], A.shape[1])
        var out = [Float](repeating: 0, count: bt * dm * l), last = [Float](repeating: 0, count: bt * dm * n)
        for b in 0..<bt {
            for d in 0..<dm {
                var h = [Double](repeating: 0, count: n)
                for t in 0..<l {
                    var dt = Double(delta.scalar(at: [b, d, t])) + Double(bias?.scalar(at: [d]) ?? 0)
                    if softplus && dt <= 20 { dt = Foundation.log1p(Foundation.exp(dt)) }
                    let x = Double(u.scalar(at: [b, d, t]))
                    var y = 0.0
                    for i in 0..<n {
                        h[i] = Foundation.exp(dt * Double(A.scalar(at: [d, i]))) * h[i] + dt * x * Double(B(b, d, i, t))
                        y += h[i] * Double(C(b, d, i, t))
                    }
                    y += Double(D?.scalar(at: [d]) ?? 0) * x
                    if let z {
                        let zz = Double(z.scalar(at: [b, d, t]))
                        y *= zz / (1 + Foundation.exp(-zz))
                    }
                    out[(b * dm + d) * l + t] = Float(y)
                }
                for i in 0..<n { last[(b * dm + d) * n + i] = Float(h[i]) }
            }
        }
        return (out, last)
    }

    func testFusedScanEqualsNaiveRecurrence() {
        var rng = RandomGenerator(seed: 7)
        let (bt, dm, l) = (3, 6, 70)
        for (n, layout) in [(16, "variable"), (5, "constant"), (9, "grouped"), (24, "variable")] {
            let u = Tensor.randn([bt, dm, l], generator: &rng), delta = Tensor.randn([bt, dm, l], generator: &rng)
            let A = -Tensor.rand([dm, n], generator: &rng) - 0.1
            let D = Tensor.randn([dm], generator: &rng), z = Tensor.randn([bt, dm, l], generator: &rng)
            let bias = Tensor.randn([dm], generator: &rng)
            let shape: [Int] = layout == "constant" ? [dm, n] : layout == "grouped" ? [bt, 3, n, l] : [bt, n, l]
            let B = Tensor.randn(shape, generator: &rng), C = Tensor.randn(shape, generator: &rng)
            func element(_ t: Tensor) -> (Int, Int, Int, Int) -> Float {
                switch layout {
                case "constant": return { _, d, i, _ in t.scalar(at: [d, i]) }
                case "grouped": return { b, d, i, s in t.scalar(at: [b, d / (dm / 3), i, s]) }
                default: return { b, _, i, s in t.scalar(at: [b, i, s]) }
                }
            }
            let expected = naiveScan(u: u, delta: delta, A: A, B: element(B), C: element(C), D: D, z: z, bias: bias, softplus: true)
            let (out, last) = selectiveScanWithState(u, delta, A, B, C, D, z: z, deltaBias: bias, deltaSoftplus: true)
            assertClose(out.scalars, expected.out, atol: 1e-5, rtol: 1e-4, "\(layout) N=\(n) output")
            assertClose(last.scalars, expected.last, atol: 1e-5, rtol: 1e-4, "\(layout) N=\(n) last state")
        }
    }

    func testLargeStepsUnderflowTheDecayLikeTheRecurrence() {
        // Δ·A far below −87: the kernels clamp the exponent; the state must still follow the
        // recurrence (exp(Δ·A) ≈ 0, so h_t ≈ Δ·u·B).
        var rng = RandomGenerator(seed: 11)
        let (bt, dm, n, l) = (1, 2, 3, 9)
        let u = Tensor.randn([bt, dm, l], generator: &rng), delta = Tensor.rand([bt, dm, l], generator: &rng) * 200
        let A = -Tensor.rand([dm, n], generator: &rng) - 1
        let B = Tensor.randn([bt, n, l], generator: &rng), C = Tensor.randn([bt, n, l], generator: &rng)
        let expected = naiveScan(u: u, delta: delta, A: A, B: { b, _, i, t in B.scalar(at: [b, i, t]) },
                                 C: { b, _, i, t in C.scalar(at: [b, i, t]) }, D: nil, z: nil, bias: nil, softplus: false)
        let (out, last) = selectiveScanWithState(u, delta, A, B, C)
        assertClose(out.scalars, expected.out, atol: 1e-4, rtol: 1e-4)
        assertClose(last.scalars, expected.last, atol: 1e-4, rtol: 1e-4)
    }

    func testFiniteDifferencesWithEveryOption() {
        var rng = RandomGenerator(seed: 3)
        let (bt, dm, n, l) = (2, 3, 3, 20)
        let inputs = [Tensor.randn([bt, dm, l], generator: &rng), Tensor.randn([bt, dm, l], generator: &rng) * 0.5,
                      -Tensor.rand([dm, n], generator: &rng) - 0.2, Tensor.randn([bt, n, l], generator: &rng),
                      Tensor.randn([bt, n, l], generator: &rng), Tensor.randn([dm], generator: &rng),
                      Tensor.randn([bt, dm, l], generator: &rng), Tensor.randn([dm], generator: &rng) * 0.3]
        assertGradientsMatchFiniteDifferences(inputs, eps: 1e-2) { x in
            selectiveScan(x[0], x[1], x[2], x[3], x[4], x[5], z: x[6], deltaBias: x[7], deltaSoftplus: true)
        }
    }

    func testFiniteDifferencesConstantAndGroupedOperands() {
        var rng = RandomGenerator(seed: 4)
        let (bt, dm, n, l) = (2, 4, 2, 18)
        let u = Tensor.randn([bt, dm, l], generator: &rng), delta = Tensor.rand([bt, dm, l], generator: &rng) * 0.3
        let A = -Tensor.rand([dm, n], generator: &rng)
        assertGradientsMatchFiniteDifferences([u, delta, A, Tensor.randn([dm, n], generator: &rng),
                                               Tensor.randn([dm, n], generator: &rng)]) { x in
            selectiveScan(x[0], x[1], x[2], x[3], x[4])
        }
        assertGradientsMatchFiniteDifferences([u, delta, A, Tensor.randn([bt, 2, n, l], generator: &rng),
                                               Tensor.randn([bt, 2, n, l], generator: &rng)]) { x in
            selectiveScan(x[0], x[1], x[2], x[3], x[4], z: x[0])
        }
    }

    func testStridedOperandsAndAnOperandUsedTwice() {
        var rng = RandomGenerator(seed: 5)
        let (bt, dm, n, l) = (2, 3, 4, 17)
        // u and delta as transposed views of (Bt, L, D) tensors; B used as both B and C.
        assertGradientsMatchFiniteDifferences([Tensor.randn([bt, l, dm], generator: &rng), Tensor.randn([bt, l, dm], generator: &rng),
                                               -Tensor.rand([dm, n], generator: &rng), Tensor.randn([bt, l, n], generator: &rng)]) { x in
            let B = x[3].transposed(1, 2)
            return selectiveScan(x[0].transposed(1, 2), x[1].transposed(1, 2), x[2], B, B, deltaSoftplus: true)
        }
    }

    func testShapeOnlyRunCountsFlops() {
        FlopCounter.total = 0
        let out = selectiveScan(Tensor(metaShape: [2, 8, 32]), Tensor(metaShape: [2, 8, 32]), Tensor(metaShape: [8, 4]),
                                Tensor(metaShape: [2, 4, 32]), Tensor(metaShape: [2, 4, 32]))
        XCTAssertTrue(out.isMeta)
        XCTAssertEqual(out.shape, [2, 8, 32])
        XCTAssertEqual(FlopCounter.total, 4 * 2 * 8 * 32 * 4)
    }
}
