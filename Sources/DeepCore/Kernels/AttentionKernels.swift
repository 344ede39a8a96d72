import CVectorKernels
#if canImport(Glibc)
import Glibc
#endif

// Blocked ("flash") scaled-dot-product attention on the CPU.
//
// Legend: G groups (batch × heads), Lq queries, Lk keys, D query/key width, Dv value width,
// Bq × Bk a block of scores. Per group:
//   forward   S = scale·Q Kᵀ + masks, P = softmax(S) row-wise, O = P V
//   backward  dV = Pᵀ dO, dP = dO Vᵀ, dS = P ∘ (dP − rowsum(dO ∘ O)), dQ = scale·dS K,
//             dK = scale·dSᵀ Q
// Scores are never held whole: the forward walks key blocks with an online softmax (running row
// maximum and sum) and keeps only O and each row's log-sum-exp; the backward recomputes each
// block of P from the log-sum-exp. Memory beyond inputs and outputs is a few Bq × Bk blocks per
// thread. GEMMs go to `cblas_sgemm`; threads split groups (or blocks when groups are few).

/// Kernels of scaled-dot-product attention over strided matrices; no autograd, no allocation of
/// whole score matrices.
public enum AttentionKernels {
    /// One matrix per group: group g's row r starts at `base + groupOffsets[g] + r·rowStride`,
    /// its columns contiguous.
    public struct Matrices {
        /// Element 0 of the underlying memory.
        public let base: UnsafeMutablePointer<Float>
        /// Offset of each group's first row.
        public let groupOffsets: [Int]
        /// Distance between rows.
        public let rowStride: Int

        /// Describes per-group matrices.
        public init(base: UnsafeMutablePointer<Float>, groupOffsets: [Int], rowStride: Int) {
            self.base = base
            self.groupOffsets = groupOffsets
            self.rowStride = rowStride
        }

        /// Row `row` of group `g`.
        @inline(__always)
        func row(_ g: Int, _ row: Int) -> UnsafeMutablePointer<Float> {
            base + groupOffsets[g] + row * rowStride
        }
    }

    /// A (G, Lq, Lk) mask read with arbitrary strides: element (g, i, j) at
    /// `base + groupOffsets[g] + i·rowStride + j·columnStride`.
    public struct Mask {
        /// Element 0 of the underlying memory.
        public let base: UnsafePointer<Float>
        /// Offset of each group's mask.
        public let groupOffsets: [Int]
        /// Strides along queries and keys (0 where broadcast).
        public let rowStride: Int, columnStride: Int

        /// Describes a strided mask.
        public init(base: UnsafePointer<Float>, groupOffsets: [Int], rowStride: Int, columnStride: Int) {
            self.base = base
            self.groupOffsets = groupOffsets
            self.rowStride = rowStride
            self.columnStride = columnStride
        }
    }

    /// Sizes and options shared by the forward and backward kernels.
    public struct Problem {
        /// Number of queries and keys.
        public var queryLength: Int, keyLength: Int
        /// Width of queries/keys (D) and of values (Dv).
        public var headDim: Int, valueDim: Int
        /// Multiplies Q Kᵀ.
        public var scale: Float
        /// Query i sees only keys j ≤ i (top-left aligned, like PyTorch).
        public var isCausal: Bool
        /// 1 = attend, 0 = masked out; nil for none.
        public var keepMask: Mask?
        /// Added to the scaled scores; nil for none.
        public var additiveMask: Mask?
        /// Probability of dropping an attention weight (0 for none).
        public var dropout: Float
        /// Seed of the counter-based dropout mask, so the backward regenerates it.
        public var dropoutSeed: UInt64
        /// Block sizes (queries × keys): near 64 × 128, split evenly so that no block is a
        /// sliver (65 queries make one block, not 64 + 1).
        public var blockQ: Int, blockK: Int

        /// Describes a problem.
        public init(queryLength: Int, keyLength: Int, headDim: Int, valueDim: Int, scale: Float,
                    isCausal: Bool = false, keepMask: Mask? = nil, additiveMask: Mask? = nil,
                    dropout: Float = 0, dropoutSeed: UInt64 = 0) {
            self.queryLength = queryLength
            self.keyLength = keyLength
            self.headDim = headDim
            self.valueDim = valueDim
            self.scale = scale
            self.isCausal = isCausal
            self.keepMask = keepMask
            self.additiveMask = additiveMask
            self.dropout = dropout
            self.dropoutSeed = dropoutSeed
            blockQ = Self.evenBlock(queryLength, near: 64)
            blockK = Self.evenBlock(keyLength, near: 128)
        }

        /// The size of ⌊n / target⌋ (at least 1) near-equal blocks covering n.
        static func evenBlock(_ n: Int, near target: Int) -> Int {
            let blocks = Swift.max(1, n / target)
            return Swift.max(1, (n + blocks - 1) / blocks)
        }

        /// How many of the `count` keys from `j0` query `row` may see: all but causally masked
        /// ones (which come last).
        @inline(__always)
        func visibleColumns(row: Int, from j0: Int, count: Int) -> Int {
            isCausal ? Swift.min(count, Swift.max(0, row + 1 - j0)) : count
        }

        /// One past the last key that any of the `rows` queries from `i0` sees.
        @inline(__always)
        func keyEnd(queryStart i0: Int, rows: Int) -> Int {
            isCausal ? Swift.min(keyLength, i0 + rows) : keyLength
        }
    }

    // MARK: Forward

    /// O = softmax(scale·Q Kᵀ + masks) V for every group, and each row's log-sum-exp.
    ///
    /// - Parameters:
    ///   - q: G matrices (Lq, D); k: (Lk, D); v: (Lk, Dv).
    ///   - out: G matrices (Lq, Dv), written.
    ///   - logSumExp: (G, Lq) contiguous, written; +∞ for a row whose keys are all masked (its
    ///     output is 0).
    public static func forward(_ p: Problem, q: Matrices, k: Matrices, v: Matrices, out: Matrices,
                               logSumExp: UnsafeMutablePointer<Float>) {
        let groups = q.groupOffsets.count
        let queryBlocks = (p.queryLength + p.blockQ - 1) / p.blockQ
        let work = groups * p.queryLength * p.keyLength * (p.headDim + p.valueDim)
        let split = Split(groups: groups, blocks: queryBlocks, work: work)
        let rows = WholeRows(p)
        split.run { worker, tasks in
            let capacity = rows.map { $0.scratchCount(p) } ?? p.blockQ * p.blockK + 2 * p.blockQ
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
            defer { scratch.deallocate() }
            for task in tasks {
                let (g, range) = split.blocks(of: task, count: queryBlocks)
                guard let rows else {
                    for b in range {
                        forwardQueryBlock(p, g: g, i0: b * p.blockQ, q: q, k: k, v: v, out: out,
                                          logSumExp: logSumExp, scratch: scratch)
                    }
                    continue
                }
                rows.packKeys(p, k.row(g, 0), k.rowStride, into: scratch)
                for b in range {
                    rows.forward(p, g: g, i0: b * p.blockQ, q: q, v: v, out: out, logSumExp: logSumExp, scratch: scratch)
                }
            }
        }
    }

    /// The forward over whole rows of scores (`ds_attention_rows`, AVX-512 or AVX2): every key's
    /// score of a query at once in scratch, for problems without masks (causal aside) and
    /// dropout and with at most ``keyLimit`` keys. One fused kernel per block of queries instead
    /// of the blocked path's two BLAS products and Swift softmax per block: 1.6× faster on the
    /// short sequences of vision transformers (65 tokens, 128 groups of width 32: 1.02 → 0.63 ms).
    struct WholeRows {
        /// Keys up to which a row of scores is held whole.
        static let keyLimit = 512
        /// Keys rounded up to whole vectors: the row length of transposed keys and of scores.
        let paddedKeys: Int

        init?(_ p: Problem) {
            guard p.keepMask == nil, p.additiveMask == nil, p.dropout == 0,
                  (1...Self.keyLimit).contains(p.keyLength), Elementwise.usesVectorExtensions, VectorKernels.width > 0
            else { return nil }
            paddedKeys = (p.keyLength + 15) / 16 * 16
        }

        /// Transposed keys (D × paddedKeys), then scores of a query block rounded up to 4 rows.
        func scratchCount(_ p: Problem) -> Int {
            (p.headDim + (p.blockQ + 3) / 4 * 4) * paddedKeys
        }

        /// Packs group g's keys transposed at the start of scratch.
        func packKeys(_ p: Problem, _ k: UnsafePointer<Float>, _ rowStride: Int, into scratch: UnsafeMutablePointer<Float>) {
            ds_attention_pack_keys(k, rowStride, p.keyLength, p.headDim, scratch, paddedKeys)
        }

        /// The block of queries from i0 of group g against the keys packed in scratch.
        func forward(_ p: Problem, g: Int, i0: Int, q: Matrices, v: Matrices, out: Matrices,
                     logSumExp: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
            let rows = Swift.min(p.blockQ, p.queryLength - i0)
            _ = ds_attention_rows(q.row(g, i0), q.rowStride, scratch, paddedKeys, v.row(g, 0), v.rowStride, rows,
                                  p.keyLength, p.headDim, p.valueDim, p.scale, p.isCausal ? i0 : -1,
                                  out.row(g, i0), out.rowStride, logSumExp + g * p.queryLength + i0,
                                  scratch + p.headDim * paddedKeys)
        }
    }

    /// One block of queries against all (visible) key blocks with an online softmax.
    private static func forwardQueryBlock(_ p: Problem, g: Int, i0: Int, q: Matrices, k: Matrices, v: Matrices,
                                          out: Matrices, logSumExp: UnsafeMutablePointer<Float>,
                                          scratch: UnsafeMutablePointer<Float>) {
        let rows = Swift.min(p.blockQ, p.queryLength - i0), dv = p.valueDim
        let s = scratch, rowMax = scratch + p.blockQ * p.blockK, rowSum = rowMax + p.blockQ
        let o = out.row(g, i0), ldo = out.rowStride
        for r in 0..<rows { (o + r * ldo).update(repeating: 0, count: dv) }
        rowMax.update(repeating: -.infinity, count: rows)
        rowSum.update(repeating: 0, count: rows)
        let keyEnd = p.keyEnd(queryStart: i0, rows: rows)
        let keep = 1 / (1 - p.dropout)
        var j0 = 0
        while j0 < keyEnd {
            let cols = Swift.min(p.blockK, keyEnd - j0)
            scores(p, g: g, i0: i0, rows: rows, j0: j0, cols: cols, q: q, k: k, into: s)
            for r in 0..<rows {
                let line = s + r * cols
                // Causal: the columns after the row's diagonal are masked; skip their exponentials.
                let visible = p.visibleColumns(row: i0 + r, from: j0, count: cols)
                (line + visible).update(repeating: 0, count: cols - visible)
                let newMax = Swift.max(rowMax[r], RowMath.maximum(line, visible))
                if newMax == -.infinity {
                    line.update(repeating: 0, count: visible)   // nothing visible yet in this row
                    continue
                }
                let correction = rowMax[r] == -.infinity ? 0 : RowMath.exp(rowMax[r] - newMax)
                rowMax[r] = newMax
                rowSum[r] = rowSum[r] * correction + RowMath.exponentiate(line, visible, shift: newMax)
                if correction != 1 { RowMath.scale(o + r * ldo, dv, by: correction) }
                if p.dropout > 0 {
                    applyDropout(p, g: g, i: i0 + r, j0: j0, line, cols, keepScale: keep)
                }
            }
            Gemm.multiply(m: rows, n: dv, k: cols, a: s, .init(transposed: false, leadingDimension: cols),
                          b: v.row(g, j0), .init(transposed: false, leadingDimension: v.rowStride),
                          beta: 1, c: o, ldc: ldo)
            j0 += cols
        }
        let lse = logSumExp + g * p.queryLength + i0
        for r in 0..<rows {
            if rowSum[r] > 0 {
                RowMath.scale(o + r * ldo, dv, by: 1 / rowSum[r])
                lse[r] = rowMax[r] + RowMath.log(rowSum[r])
            } else {
                lse[r] = .infinity
            }
        }
    }

    /// s (rows × cols, contiguous) = scale·Q[i0..] K[j0..]ᵀ + masks, −∞ where a mask says so. Causal
    /// masking is the callers' (they use only ``Problem/visibleColumns(row:from:count:)``).
    @inline(__always)
    private static func scores(_ p: Problem, g: Int, i0: Int, rows: Int, j0: Int, cols: Int,
                               q: Matrices, k: Matrices, into s: UnsafeMutablePointer<Float>) {
        Gemm.multiply(m: rows, n: cols, k: p.headDim, alpha: p.scale,
                      a: q.row(g, i0), .init(transposed: false, leadingDimension: q.rowStride),
                      b: k.row(g, j0), .init(transposed: true, leadingDimension: k.rowStride),
                      c: s, ldc: cols)
        if let m = p.additiveMask {
            for r in 0..<rows {
                let line = s + r * cols, src = m.base + m.groupOffsets[g] + (i0 + r) * m.rowStride + j0 * m.columnStride
                let step = m.columnStride
                for c in 0..<cols { line[c] += src[c * step] }
            }
        }
        if let m = p.keepMask {
            for r in 0..<rows {
                let line = s + r * cols, src = m.base + m.groupOffsets[g] + (i0 + r) * m.rowStride + j0 * m.columnStride
                let step = m.columnStride
                for c in 0..<cols where src[c * step] == 0 { line[c] = -.infinity }
            }
        }
    }

    /// Multiplies row i's attention weights for keys j0..<j0+cols by the dropout mask, scaled.
    @inline(__always)
    private static func applyDropout(_ p: Problem, g: Int, i: Int, j0: Int, _ line: UnsafeMutablePointer<Float>,
                                     _ cols: Int, keepScale: Float) {
        let base = UInt64((g * p.queryLength + i) * p.keyLength + j0)
        for c in 0..<cols {
            line[c] *= dropoutFactor(seed: p.dropoutSeed, index: base + UInt64(c), p: p.dropout, keepScale: keepScale)
        }
    }

    /// The dropout factor (0 or 1/(1 − p)) of the attention weight at flat `index`
    /// ((g·Lq + i)·Lk + j): a hash of the seed and the index, so any block regenerates it.
    @inline(__always)
    public static func dropoutFactor(seed: UInt64, index: UInt64, p: Float, keepScale: Float) -> Float {
        var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) * (1.0 / 16_777_216.0) >= p ? keepScale : 0
    }

    // MARK: Backward

    /// Gradients of the attention with respect to Q, K, V (and the additive mask), recomputing
    /// each block of attention weights from the forward's log-sum-exp.
    ///
    /// - Parameters:
    ///   - out, gradOut: G matrices (Lq, Dv): the forward's output and its gradient.
    ///   - logSumExp: (G, Lq) from ``forward(_:q:k:v:out:logSumExp:)``.
    ///   - dq, dk, dv: G matrices (Lq, D), (Lk, D), (Lk, Dv), which must hold zeros: the
    ///     gradients are added in.
    ///   - dMask: (G, Lq, Lk) contiguous, overwritten with the gradient of the scores, or nil.
    public static func backward(_ p: Problem, q: Matrices, k: Matrices, v: Matrices, out: Matrices, gradOut: Matrices,
                                logSumExp: UnsafePointer<Float>, dq: Matrices, dk: Matrices, dv: Matrices,
                                dMask: UnsafeMutablePointer<Float>?) {
        let groups = q.groupOffsets.count
        let (lq, lk, d, dvw) = (p.queryLength, p.keyLength, p.headDim, p.valueDim)
        dMask?.update(repeating: 0, count: groups * lq * lk)
        // rowsum(dO ∘ O) per query, shared by every key block.
        let dots = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, groups * lq))
        defer { dots.deallocate() }
        for g in 0..<groups {
            for i in 0..<lq { dots[g * lq + i] = RowMath.dot(gradOut.row(g, i), out.row(g, i), dvw) }
        }
        let keyBlocks = (lk + p.blockK - 1) / p.blockK
        let work = 2 * groups * lq * lk * (d + dvw)
        let split = Split(groups: groups, blocks: keyBlocks, work: work)
        // When threads share a group, each sums its dQ privately; they are added up at the end.
        let privateSize = groups * lq * d
        let privateDQ = split.sharesGroups ? UnsafeMutablePointer<Float>.allocate(capacity: split.workers * privateSize) : nil
        privateDQ?.update(repeating: 0, count: split.workers * privateSize)
        defer { privateDQ?.deallocate() }
        let privateOffsets = (0..<groups).map { $0 * lq * d }
        split.run { worker, tasks in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * p.blockQ * p.blockK)
            defer { scratch.deallocate() }
            let dqTarget = privateDQ.map {
                Matrices(base: $0 + worker * privateSize, groupOffsets: privateOffsets, rowStride: d)
            } ?? dq
            for task in tasks {
                let (g, range) = split.blocks(of: task, count: keyBlocks)
                for b in range {
                    backwardKeyBlock(p, g: g, j0: b * p.blockK, q: q, k: k, v: v, gradOut: gradOut,
                                     logSumExp: logSumExp, dots: dots, dq: dqTarget, dk: dk, dv: dv,
                                     dMask: dMask, scratch: scratch)
                }
            }
        }
        if let privateDQ {
            for w in 0..<split.workers {
                for g in 0..<groups {
                    for i in 0..<lq {
                        let src = privateDQ + w * privateSize + (g * lq + i) * d, dst = dq.row(g, i)
                        for c in 0..<d { dst[c] += src[c] }
                    }
                }
            }
        }
    }

    /// One block of keys against all queries that see it: accumulates dK, dV of the block and
    /// the block's contribution to dQ.
    private static func backwardKeyBlock(_ p: Problem, g: Int, j0: Int, q: Matrices, k: Matrices, v: Matrices,
                                         gradOut: Matrices, logSumExp: UnsafePointer<Float>,
                                         dots: UnsafePointer<Float>, dq: Matrices, dk: Matrices, dv: Matrices,
                                         dMask: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>) {
        let (lq, lk, d, dvw) = (p.queryLength, p.keyLength, p.headDim, p.valueDim)
        let cols = Swift.min(p.blockK, lk - j0)
        let probs = scratch, grads = scratch + p.blockQ * p.blockK
        let keep = 1 / (1 - p.dropout)
        // Causal: queries before j0 see none of these keys.
        var i0 = p.isCausal ? (j0 / p.blockQ) * p.blockQ : 0
        while i0 < lq {
            let rows = Swift.min(p.blockQ, lq - i0)
            // Key columns this query block sees (the causal diagonal may cut the block short).
            let width = Swift.min(cols, p.keyEnd(queryStart: i0, rows: rows) - j0)
            if width <= 0 { i0 += rows; continue }
            scores(p, g: g, i0: i0, rows: rows, j0: j0, cols: width, q: q, k: k, into: probs)
            let lse = logSumExp + g * lq + i0, dotRow = dots + g * lq + i0
            let dO = gradOut.row(g, i0), ldo = gradOut.rowStride
            // dP = dO Vᵀ
            Gemm.multiply(m: rows, n: width, k: dvw, a: dO, .init(transposed: false, leadingDimension: ldo),
                          b: v.row(g, j0), .init(transposed: true, leadingDimension: v.rowStride),
                          c: grads, ldc: width)
            for r in 0..<rows {
                let pl = probs + r * width, gl = grads + r * width
                let visible = p.visibleColumns(row: i0 + r, from: j0, count: width)
                (pl + visible).update(repeating: 0, count: width - visible)
                (gl + visible).update(repeating: 0, count: width - visible)
                RowMath.exponentiate(pl, visible, shift: lse[r])
                if p.dropout > 0 {
                    // dV needs the dropped weights, dS the undropped ones: keep P in `pl`, put
                    // the factor into dP here and into P after dS.
                    applyDropout(p, g: g, i: i0 + r, j0: j0, gl, visible, keepScale: keep)
                }
                let dot = dotRow[r]
                for c in 0..<visible { gl[c] = pl[c] * (gl[c] - dot) }   // dS
                if p.dropout > 0 { applyDropout(p, g: g, i: i0 + r, j0: j0, pl, visible, keepScale: keep) }
                if let dMask { (dMask + (g * lq + i0 + r) * lk + j0).update(from: gl, count: width) }
            }
            // dV += Pᵀ dO; dQ += scale·dS K; dK += scale·dSᵀ Q
            Gemm.multiply(m: width, n: dvw, k: rows, a: probs, .init(transposed: true, leadingDimension: width),
                          b: dO, .init(transposed: false, leadingDimension: ldo),
                          beta: 1, c: dv.row(g, j0), ldc: dv.rowStride)
            Gemm.multiply(m: rows, n: d, k: width, alpha: p.scale, a: grads, .init(transposed: false, leadingDimension: width),
                          b: k.row(g, j0), .init(transposed: false, leadingDimension: k.rowStride),
                          beta: 1, c: dq.row(g, i0), ldc: dq.rowStride)
            Gemm.multiply(m: width, n: d, k: rows, alpha: p.scale, a: grads, .init(transposed: true, leadingDimension: width),
                          b: q.row(g, i0), .init(transposed: false, leadingDimension: q.rowStride),
                          beta: 1, c: dk.row(g, j0), ldc: dk.rowStride)
            i0 += rows
        }
    }

    // MARK: Threads

    /// How the work is split among threads: whole groups when there are at least as many as
    /// threads, else (group, block) tasks so that one long sequence still uses every thread.
    /// Tasks are dealt round-robin, which balances the uneven blocks of causal attention.
    private struct Split {
        let workers: Int
        let tasks: Int
        let sharesGroups: Bool

        init(groups: Int, blocks: Int, work: Int) {
            let threads = Parallel.workers(items: groups * blocks, work: work)
            sharesGroups = groups < threads && blocks > 1
            tasks = sharesGroups ? groups * blocks : groups
            workers = Swift.max(1, Swift.min(threads, tasks))
        }

        /// The group of `task` and the blocks it covers.
        @inline(__always)
        func blocks(of task: Int, count: Int) -> (Int, Range<Int>) {
            sharesGroups ? (task / count, (task % count)..<(task % count + 1)) : (task, 0..<count)
        }

        /// Runs `body(worker, tasks)` on each worker (see ``Parallel``).
        func run(_ body: (_ worker: Int, _ tasks: StrideTo<Int>) -> Void) {
            Parallel.forEachChunk(count: workers, chunks: workers, workers: workers) { _, _, range in
                for w in range { body(w, stride(from: w, to: tasks, by: workers)) }
            }
        }
    }
}

/// Row primitives of the attention kernels on SIMD vectors (eight lanes, scalar tails).
enum RowMath {
    typealias V = SIMD8<Float>

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    @inline(__always)
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }

    /// eˣ to about 1 ulp (Cephes' expf: x = n·ln2 + r, |r| ≤ ln2/2, a degree-6 polynomial for
    /// eʳ, 2ⁿ through the exponent bits); 0 below −87.3 (so −∞ gives 0), saturating at e⁸⁸.
    @inline(__always)
    static func exp(_ x: V) -> V {
        let low = V(repeating: -87.33654), high = V(repeating: 88)
        let xc = x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
        // Round x·log2(e) to an integer with the 1.5·2²³ trick (no SSE4.1 rounding needed).
        let magic = V(repeating: 12_582_912)
        let t = xc * 1.442_695_04 + magic
        let n = t - magic
        let r = xc - n * 0.693_359_375 + n * 2.121_944_4e-4
        var poly = r * 1.987_569_15e-4 + 1.398_199_95e-3
        poly = poly * r + 8.333_451_9e-3
        poly = poly * r + 4.166_579_59e-2
        poly = poly * r + 1.666_666_55e-1
        poly = poly * r + 5.000_000_12e-1
        let e = poly * (r * r) + r + 1
        let bits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let pow2 = unsafeBitCast((bits &+ 127) &<< 23, to: V.self)
        return (e * pow2).replacing(with: 0, where: x .< low)
    }

    /// eˣ for one value, with the vector code so that both agree.
    @inline(__always)
    static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }

    /// Natural logarithm of a positive value.
    @inline(__always)
    static func log(_ x: Float) -> Float { logf(x) }

    /// The largest of `n` values (−∞ for none).
    @inline(__always)
    static func maximum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var m = V(repeating: -.infinity)
        while i + 8 <= n {
            // A compare and blend: `pointwiseMax` keeps IEEE NaN rules lane by lane, far slower.
            let x = load(p + i)
            m = m.replacing(with: x, where: x .> m)
            i += 8
        }
        var result = m.max()
        while i < n { result = Swift.max(result, p[i]); i += 1 }
        return result
    }

    /// p[i] = exp(p[i] − shift) in place; returns their sum.
    @inline(__always) @discardableResult
    static func exponentiate(_ p: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
        // The same steps in AVX2/AVX-512 where the CPU has them (CVectorKernels).
        var sum: Float = 0
        if Elementwise.usesVectorExtensions && ds_exp_shifted(p, n, shift, &sum) != 0 { return sum }
        var i = 0
        var acc = V(repeating: 0)
        let s = V(repeating: shift)
        while i + 8 <= n {
            let e = exp(load(p + i) - s)
            store(e, p + i)
            acc += e
            i += 8
        }
        if i < n {
            var tail = V(repeating: -.infinity)
            for j in 0..<(n - i) { tail[j] = p[i + j] - shift }
            let e = exp(tail)
            for j in 0..<(n - i) { p[i + j] = e[j] }
            acc += e
        }
        return acc.sum()
    }

    /// p[i] *= factor.
    @inline(__always)
    static func scale(_ p: UnsafeMutablePointer<Float>, _ n: Int, by factor: Float) {
        for i in 0..<n { p[i] *= factor }
    }

    /// Σ a[i]·b[i].
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var acc = V(repeating: 0)
        while i + 8 <= n { acc += load(a + i) * load(b + i); i += 8 }
        var result = acc.sum()
        while i < n { result += a[i] * b[i]; i += 1 }
        return result
    }
}
