import CScanKernels
#if canImport(Glibc)
import Glibc
#endif

// The fused selective scan of Mamba (mamba-ssm's `selective_scan_ref` semantics), forward and
// backward (in SelectiveScanBackward.swift), over raw buffers.
//
// Letters: Bt batch, D channels, L length, N state size, Np = N rounded up to a multiple of 8 (the
// state's padding lanes have A = B = C = 0, so they stay 0 and add nothing), G groups of channels
// sharing an input-dependent B or C, K the checkpoint interval.
//
// One pass over the sequence per (batch, channel) row keeps the Np-float state in registers or a
// per-thread buffer that stays in L1; the (Bt, D, L, N) tensors of the reference (exp(Δ·A),
// Δ·B·u, the states) are never stored. The forward keeps the state entering every K-th step
// ((Bt, D, ⌈L/K⌉, Np) floats: at most one float per input element since K ≥ Np, a quarter of one
// for N ≤ 16 with K = 64); the backward walks the segments last to first, recomputes a segment's K
// states from its checkpoint into a small per-thread buffer and runs the reverse (adjoint)
// recurrence through it. Rows are split into work units of (batch, group, channel range) run in
// parallel; gradients summed over rows (A, D, the bias, and B or C) are accumulated per unit and
// reduced at the end, so no two threads write the same memory.
//
// The loops run in C (CScanKernels) with AVX-512 or AVX2/FMA when the CPU has them, chosen at run
// time, in one of two layouts: with input-dependent B and C (Mamba's case), blocks of 16 (or 8)
// channels of a unit run together, one channel per vector lane (ScanBlock.inc; the state's sums
// become vector additions and B_l, C_l one broadcast per state for all the block's channels);
// otherwise row by row, the state in the lanes (ScanRow.inc). The Swift loops below are the
// portable path and the reference the C kernels are tested against.

/// Fused selective-scan kernels (see the file comment for the letters).
public enum SelectiveScanKernels {
    /// Sizes and options of one scan.
    public struct Problem {
        /// Bt, D, L, N.
        public let batch: Int, channels: Int, length: Int, stateSize: Int
        /// Groups of an input-dependent B, or nil for a constant (D, N) B.
        public let bGroups: Int?
        /// Groups of an input-dependent C, or nil for a constant (D, N) C.
        public let cGroups: Int?
        /// Whether Δ goes through softplus (after the bias).
        public let deltaSoftplus: Bool

        /// Creates a problem; an input-dependent B and C must have the same number of groups.
        public init(batch: Int, channels: Int, length: Int, stateSize: Int, bGroups: Int?, cGroups: Int?,
                    deltaSoftplus: Bool) {
            require(bGroups == nil || cGroups == nil || bGroups == cGroups,
                    "SelectiveScanKernels: B has \(bGroups!) groups, C has \(cGroups!)")
            (self.batch, self.channels, self.length, self.stateSize) = (batch, channels, length, stateSize)
            (self.bGroups, self.cGroups, self.deltaSoftplus) = (bGroups, cGroups, deltaSoftplus)
        }

        /// Np: the state size rounded up to whole vectors.
        public var paddedStateSize: Int { (stateSize + 7) / 8 * 8 }
        /// K: steps between stored states. Longer segments cost no arithmetic (each step is
        /// recomputed once whatever K); 64 ran the block backward 4–6 % faster than 16 and 32
        /// (fewer segment starts), 128 no faster.
        public var checkpointInterval: Int { Swift.max(64, paddedStateSize) }
        /// ⌈L/K⌉ stored states per row.
        public var checkpointCount: Int { (length + checkpointInterval - 1) / checkpointInterval }
        /// G: the groups that input-dependent B and C share (1 if both are constant).
        var groups: Int { bGroups ?? cGroups ?? 1 }
        /// Floats of a packed B or C: (D, Np) constant, (Bt, G, L, Np) input-dependent.
        public func packedCount(groups: Int?) -> Int {
            groups.map { batch * $0 * length * paddedStateSize } ?? channels * paddedStateSize
        }

        /// Where row (b, d) reads a packed B or C, and the step between time steps.
        @inline(always)
        func operandRow(groups: Int?, b: Int, d: Int) -> (offset: Int, step: Int) {
            guard let g = groups else { return (d * paddedStateSize, 0) }
            return (((b * g) + d / (channels / g)) * length * paddedStateSize, paddedStateSize)
        }
    }

    /// Read-only operands: u, Δ, z (Bt, D, L) contiguous; A (D, Np); B, C packed (see
    /// ``Problem/packedCount(groups:)``, state axis innermost and zero-padded); D, bias (D).
    public struct Operands {
        public let u: UnsafePointer<Float>, delta: UnsafePointer<Float>, z: UnsafePointer<Float>?
        public let A: UnsafePointer<Float>, B: UnsafePointer<Float>, C: UnsafePointer<Float>
        public let D: UnsafePointer<Float>?, deltaBias: UnsafePointer<Float>?

        /// Bundles the operands.
        public init(u: UnsafePointer<Float>, delta: UnsafePointer<Float>, z: UnsafePointer<Float>?,
                    A: UnsafePointer<Float>, B: UnsafePointer<Float>, C: UnsafePointer<Float>,
                    D: UnsafePointer<Float>?, deltaBias: UnsafePointer<Float>?) {
            (self.u, self.delta, self.z, self.A, self.B, self.C, self.D, self.deltaBias) = (u, delta, z, A, B, C, D, deltaBias)
        }
    }

    /// Gradient outputs, laid out as the operands. All are written, except that u, Δ and z are
    /// added into when `accumulatesInputs` (to add into gradients that already exist, as a leaf's
    /// `.grad`, without a separate pass).
    public struct Gradients {
        public let u: UnsafeMutablePointer<Float>, delta: UnsafeMutablePointer<Float>, z: UnsafeMutablePointer<Float>?
        public let A: UnsafeMutablePointer<Float>, B: UnsafeMutablePointer<Float>, C: UnsafeMutablePointer<Float>
        public let D: UnsafeMutablePointer<Float>?, deltaBias: UnsafeMutablePointer<Float>?
        /// Whether du, dΔ and dz are added into `u`, `delta`, `z` rather than written.
        public let accumulatesInputs: Bool

        /// Bundles the outputs; `z`, `D`, `deltaBias` are required exactly when the operands have them.
        public init(u: UnsafeMutablePointer<Float>, delta: UnsafeMutablePointer<Float>, z: UnsafeMutablePointer<Float>?,
                    A: UnsafeMutablePointer<Float>, B: UnsafeMutablePointer<Float>, C: UnsafeMutablePointer<Float>,
                    D: UnsafeMutablePointer<Float>?, deltaBias: UnsafeMutablePointer<Float>?, accumulatesInputs: Bool = false) {
            (self.u, self.delta, self.z, self.A, self.B, self.C, self.D, self.deltaBias) = (u, delta, z, A, B, C, D, deltaBias)
            self.accumulatesInputs = accumulatesInputs
        }
    }

    /// The gradient of the output, (Bt, D, L), as the backward reads it: any batch and channel
    /// strides, and steps 1 apart or 0 (one value repeated along the sequence, as the broadcast
    /// gradient of a sum or mean), so that such a gradient need not be materialised.
    public struct OutputGradient {
        public let pointer: UnsafePointer<Float>
        public let batchStride: Int, channelStride: Int, stepStride: Int

        /// A gradient with the given strides; `stepStride` must be 0 or 1.
        public init(pointer: UnsafePointer<Float>, batchStride: Int, channelStride: Int, stepStride: Int) {
            require(stepStride == 0 || stepStride == 1, "SelectiveScanKernels.OutputGradient: step stride \(stepStride) is not 0 or 1")
            (self.pointer, self.batchStride, self.channelStride, self.stepStride) = (pointer, batchStride, channelStride, stepStride)
        }

        /// Where row (b, d) starts.
        func row(b: Int, d: Int) -> UnsafePointer<Float> { pointer + b * batchStride + d * channelStride }

        /// Row (b, d) as L contiguous floats: in place when its steps are 1 apart, else repeated
        /// into `scratch`.
        func contiguousRow(b: Int, d: Int, length: Int, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
            if stepStride == 1 { return row(b: b, d: d) }
            scratch.update(repeating: row(b: b, d: d).pointee, count: length)
            return UnsafePointer(scratch)
        }
    }

    /// Whether rows run through the AVX-512 / AVX2 kernels of CScanKernels when the CPU has them
    /// (the default); false runs the portable Swift loops (to compare, or to rule the C out).
    public static var usesVectorExtensions = true

    /// Lanes of the C row kernels for this problem: 16 (AVX-512), 8 (AVX2), 0 (Swift loops).
    public static func vectorExtensionWidth(_ p: Problem) -> Int {
        usesVectorExtensions ? Int(ds_scan_vector_width(p.paddedStateSize)) : 0
    }

    /// Whether scans with input-dependent B and C run in blocks of channels, one channel per vector
    /// lane (the default, when ``usesVectorExtensions`` and the CPU allow), rather than row by row.
    public static var usesChannelBlocks = true

    /// Channels per block of the block kernels for this problem (16 AVX-512, 8 AVX2), or 0 when
    /// it runs row by row: B or C constant, fewer channels per group than a block, no vector
    /// extensions.
    public static func channelBlockWidth(_ p: Problem) -> Int {
        guard usesChannelBlocks, p.bGroups != nil, p.cGroups != nil else { return 0 }
        let width = vectorExtensionWidth(p)
        return p.channels / p.groups >= width ? width : 0
    }

    /// The C description of the `count` channels of batch b from channel d (one work unit).
    static func cBlock(_ p: Problem, _ x: Operands, b: Int, d: Int, count: Int) -> ds_scan_block {
        let row = (b * p.channels + d) * p.length
        let bOff = p.operandRow(groups: p.bGroups, b: b, d: d).offset
        let cOff = p.operandRow(groups: p.cGroups, b: b, d: d).offset
        return ds_scan_block(length: p.length, paddedStateSize: p.paddedStateSize, checkpointInterval: p.checkpointInterval,
                             count: count, delta: x.delta + row, deltaBias: x.deltaBias.map { $0 + d },
                             deltaSoftplus: p.deltaSoftplus ? 1 : 0, u: x.u + row, z: x.z.map { $0 + row },
                             D: x.D.map { $0 + d }, A: x.A + d * p.paddedStateSize, B: x.B + bOff, C: x.C + cOff)
    }

    /// `count` floats of scratch aligned to a cache line; deallocate with `.deallocate()`.
    static func alignedScratch(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }

    /// The C description of row (b, d), whose A·log₂e is `log2A`.
    static func cRow(_ p: Problem, _ x: Operands, b: Int, d: Int, log2A: UnsafePointer<Float>) -> ds_scan_row {
        let row = (b * p.channels + d) * p.length
        let (bOff, bStep) = p.operandRow(groups: p.bGroups, b: b, d: d)
        let (cOff, cStep) = p.operandRow(groups: p.cGroups, b: b, d: d)
        return ds_scan_row(length: p.length, paddedStateSize: p.paddedStateSize, checkpointInterval: p.checkpointInterval,
                           delta: x.delta + row, deltaBias: x.deltaBias?[d] ?? 0, deltaSoftplus: p.deltaSoftplus ? 1 : 0,
                           u: x.u + row, z: x.z.map { $0 + row }, D: x.D?[d] ?? 0,
                           log2A: log2A, A: x.A + d * p.paddedStateSize,
                           B: x.B + bOff, C: x.C + cOff, bStep: bStep, cStep: cStep)
    }

    // MARK: Work units

    /// Rows split into units of (batch, group, channel range), a few per thread and none
    /// spanning two groups; the units are ``Parallel``'s chunks, so per-unit partial sums added in
    /// unit order are reproducible whichever thread ran them.
    struct Units {
        let problem: Problem
        let chunksPerGroup: Int
        /// Workers: the BLAS thread count, or 1 when the scan is too small to split.
        let workers: Int
        /// Channels per block: unit boundaries fall on multiples of it within a group.
        let granule: Int
        var count: Int { problem.batch * problem.groups * chunksPerGroup }

        init(_ p: Problem, granule: Int = 1) {
            problem = p
            self.granule = Swift.max(1, granule)
            let blocks = (p.channels / p.groups + self.granule - 1) / self.granule
            let work = p.batch * p.channels * p.length * p.paddedStateSize
            workers = Parallel.workers(items: p.batch * p.channels, work: work)
            let target = workers == 1 ? 1 : workers * Parallel.chunksPerWorker
            let wanted = (target + p.batch * p.groups - 1) / Swift.max(1, p.batch * p.groups)
            chunksPerGroup = Swift.max(1, Swift.min(blocks, wanted))
        }

        /// The batch and channel range of unit `index`.
        func unit(_ index: Int) -> (b: Int, channels: Range<Int>) {
            let perGroup = problem.channels / problem.groups
            let blocks = (perGroup + granule - 1) / granule
            let c = index % chunksPerGroup, bg = index / chunksPerGroup
            let (b, g) = (bg / problem.groups, bg % problem.groups)
            func boundary(_ c: Int) -> Int { g * perGroup + Swift.min(perGroup, c * blocks / chunksPerGroup * granule) }
            return (b, boundary(c)..<boundary(c + 1))
        }

        /// Runs `body` for every unit, the units shared among the workers.
        func run(_ body: (Int) -> Void) {
            Parallel.forEachChunk(count: count, chunks: count, workers: workers) { _, unit, _ in body(unit) }
        }
    }

    // MARK: Vector helpers

    @inline(always) static func load(_ p: UnsafePointer<Float>) -> FloatVector {
        UnsafeRawPointer(p).loadUnaligned(as: FloatVector.self)
    }
    @inline(always) static func load(_ p: UnsafeMutablePointer<Float>) -> FloatVector { load(UnsafePointer(p)) }
    @inline(always) static func store(_ v: FloatVector, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: FloatVector.self)
    }

    /// Δ for one row: delta + bias, through softplus if asked; with `derivative`, also dΔ/d(delta).
    @inline(always)
    static func deltaRow(_ p: Problem, _ delta: UnsafePointer<Float>, bias: Float, into dt: UnsafeMutablePointer<Float>,
                         derivative: UnsafeMutablePointer<Float>? = nil) {
        if p.deltaSoftplus {
            if let derivative {
                var l = 0
                while l < p.length {
                    let k = Swift.min(8, p.length - l)
                    let (value, slope) = VectorMath.softplusAndDerivative(VectorMath.load(delta + l, count: k) + bias)
                    VectorMath.store(value, dt + l, count: k)
                    VectorMath.store(slope, derivative + l, count: k)
                    l += 8
                }
            } else {
                VectorMath.map(delta, dt, count: p.length) { VectorMath.softplus($0 + bias) }
            }
        } else {
            VectorMath.map(delta, dt, count: p.length) { $0 + bias }
            if let derivative { derivative.update(repeating: 1, count: p.length) }
        }
    }

    // MARK: Forward

    /// Runs the scan: `out` (Bt, D, L); optionally the last state (Bt, D, Np) and the checkpoints
    /// (Bt, D, ⌈L/K⌉, Np) that ``backward(_:_:checkpoints:outputGradient:into:)`` needs.
    public static func forward(_ p: Problem, _ x: Operands, out: UnsafeMutablePointer<Float>,
                               lastState: UnsafeMutablePointer<Float>?, checkpoints: UnsafeMutablePointer<Float>?) {
        let (L, Np) = (p.length, p.paddedStateSize)
        let blockWidth = channelBlockWidth(p)
        let units = Units(p, granule: blockWidth)
        let native = vectorExtensionWidth(p) > 0
        units.run { index in
            let (b, channels) = units.unit(index)
            if blockWidth > 0 {
                let scratch = alignedScratch(ds_scan_block_scratch_count(L, Np, p.checkpointInterval))
                defer { scratch.deallocate() }
                let rowIndex = b * p.channels + channels.lowerBound
                var unit = cBlock(p, x, b: b, d: channels.lowerBound, count: channels.count)
                _ = ds_scan_forward_blocks(&unit, scratch, out + rowIndex * L, lastState.map { $0 + rowIndex * Np },
                                           checkpoints.map { $0 + rowIndex * p.checkpointCount * Np })
                return
            }
            let dt = UnsafeMutablePointer<Float>.allocate(capacity: L + 2 * Np)
            defer { dt.deallocate() }
            let (h, log2A) = (dt + L, dt + L + Np)
            for d in channels {
                let rowIndex = b * p.channels + d, row = rowIndex * L
                scaleByLog2E(x.A + d * Np, into: log2A, count: Np)
                h.update(repeating: 0, count: Np)
                let rowCheckpoints = checkpoints.map { $0 + rowIndex * p.checkpointCount * Np }
                if native {
                    var cRow = cRow(p, x, b: b, d: d, log2A: log2A)
                    _ = ds_scan_forward_row(&cRow, dt, h, out + row, rowCheckpoints)
                } else {
                    deltaRow(p, x.delta + row, bias: x.deltaBias?[d] ?? 0, into: dt)
                    scanRow(p, x, b: b, d: d, dt: dt, log2A: log2A, state: h, y: out + row, checkpoints: rowCheckpoints)
                    finishOutputRow(L, out + row, u: x.u + row, D: x.D?[d] ?? 0, z: x.z.map { $0 + row })
                }
                if let lastState { (lastState + rowIndex * Np).update(from: h, count: Np) }
            }
        }
    }

    /// The portable forward of row (b, d) from the state `h`: y (L) = ⟨h_l, C_l⟩ per step, the
    /// state entering every K-th step stored in `checkpoints` (⌈L/K⌉ × Np) when given.
    static func scanRow(_ p: Problem, _ x: Operands, b: Int, d: Int, dt: UnsafePointer<Float>, log2A: UnsafePointer<Float>,
                        state h: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                        checkpoints: UnsafeMutablePointer<Float>?) {
        let (L, Np, K) = (p.length, p.paddedStateSize, p.checkpointInterval)
        let u = x.u + (b * p.channels + d) * L
        let (bOff, bStep) = p.operandRow(groups: p.bGroups, b: b, d: d)
        let (cOff, cStep) = p.operandRow(groups: p.cGroups, b: b, d: d)
        let inRange = exponentsInRange(dt, L, log2A, Np)
        for start in stride(from: 0, to: L, by: K) {
            let count = Swift.min(K, L - start)
            checkpoints.map { ($0 + start / K * Np).update(from: h, count: Np) }
            if inRange {
                scanSegment(Np: Np, from: start, count: count, dt: dt, u: u, log2A: log2A, B: x.B + bOff,
                            bStep: bStep, C: x.C + cOff, cStep: cStep, state: h, y: y, clamping: false)
            } else {
                scanSegment(Np: Np, from: start, count: count, dt: dt, u: u, log2A: log2A, B: x.B + bOff,
                            bStep: bStep, C: x.C + cOff, cStep: cStep, state: h, y: y, clamping: true)
            }
        }
    }

    /// Steps `start ..< start + count` of one row: h ← exp(Δ·A) ⊙ h + Δ·u·B, y = ⟨h, C⟩, with
    /// exp(Δ·A) = 2^(Δ·A·log₂e).
    @inline(always)
    static func scanSegment(Np: Int, from start: Int, count: Int, dt: UnsafePointer<Float>, u: UnsafePointer<Float>,
                            log2A: UnsafePointer<Float>, B: UnsafePointer<Float>, bStep: Int,
                            C: UnsafePointer<Float>, cStep: Int,
                            state h: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, clamping: Bool) {
        for l in start..<(start + count) {
            let dtl = dt[l], dtu = dtl * u[l]
            let Bl = B + l * bStep, Cl = C + l * cStep
            var acc = FloatVector.zero
            var o = 0
            while o < Np {
                let hn = VectorMath.exp2(load(log2A + o) * dtl, clamping: clamping) * load(h + o) + load(Bl + o) * dtu
                store(hn, h + o)
                acc += hn * load(Cl + o)
                o += 8
            }
            y[l] = VectorMath.horizontalSum(acc)
        }
    }

    /// A·log₂(e), so that exp(Δ·A) = 2^(Δ·(A·log₂e)) costs one product per element.
    @inline(always)
    static func scaleByLog2E(_ A: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = A[i] * 1.44269504088896341 }
    }

    /// Whether every Δ·A·log₂e of a row lies in [−125, 125], so exp2 needs no clamp (the common
    /// case; the two specialisations of the segment loops are chosen once per row).
    @inline(always)
    static func exponentsInRange(_ dt: UnsafePointer<Float>, _ L: Int, _ log2A: UnsafePointer<Float>, _ Np: Int) -> Bool {
        var maxDt: Float = 0, maxA: Float = 0
        for l in 0..<L { maxDt = Swift.max(maxDt, Swift.abs(dt[l])) }
        for i in 0..<Np { maxA = Swift.max(maxA, Swift.abs(log2A[i])) }
        return maxDt * maxA <= 125
    }

    /// out = (y + D·u) · silu(z), in place over y.
    @inline(always)
    static func finishOutputRow(_ L: Int, _ y: UnsafeMutablePointer<Float>, u: UnsafePointer<Float>, D: Float,
                                z: UnsafePointer<Float>?) {
        var l = 0
        while l < L {
            let k = Swift.min(8, L - l)
            var v = VectorMath.load(y + l, count: k) + VectorMath.load(u + l, count: k) * D
            if let z {
                let zv = VectorMath.load(z + l, count: k)
                v *= zv * VectorMath.sigmoid(zv)
            }
            VectorMath.store(v, y + l, count: k)
            l += 8
        }
    }
}

// MARK: Decoding step

extension SelectiveScanKernels {
    /// One step of the recurrence for decoding (mamba-ssm's `selective_state_update`), for every
    /// (batch, channel): Δ = softplus(dt + bias) (softplus optional), h ← exp(Δ·A) ⊙ h + Δ·x·B,
    /// out = (⟨h, C⟩ + D·x)·silu(z).
    ///
    /// `state` (Bt, D, N) is updated in place; x, dt, z, out (Bt, D); A (D, N); B, C (Bt, N);
    /// D, bias (D); all contiguous.
    public static func stepState(batch: Int, channels: Int, stateSize n: Int, state: UnsafeMutablePointer<Float>,
                                 x: UnsafePointer<Float>, dt: UnsafePointer<Float>, A: UnsafePointer<Float>,
                                 B: UnsafePointer<Float>, C: UnsafePointer<Float>, D: UnsafePointer<Float>?,
                                 z: UnsafePointer<Float>?, deltaBias: UnsafePointer<Float>?, deltaSoftplus: Bool,
                                 out: UnsafeMutablePointer<Float>) {
        for b in 0..<batch {
            for d in 0..<channels {
                let i = b * channels + d
                var delta = dt[i] + (deltaBias?[d] ?? 0)
                if deltaSoftplus && delta <= 20 { delta = log1pf(expf(delta)) }
                let h = state + i * n, a = A + d * n, bv = B + b * n, cv = C + b * n
                var y: Float = 0
                for k in 0..<n {
                    h[k] = expf(delta * a[k]) * h[k] + delta * x[i] * bv[k]
                    y += h[k] * cv[k]
                }
                y += (D?[d] ?? 0) * x[i]
                if let z { y *= z[i] / (1 + expf(-z[i])) }
                out[i] = y
            }
        }
    }
}
