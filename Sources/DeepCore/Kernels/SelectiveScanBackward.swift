import CScanKernels
#if canImport(Glibc)
import Glibc
#endif

// The backward of the fused selective scan (see SelectiveScanKernels.swift for the letters and
// the layout): segments last to first, each recomputed from its checkpoint, then the reverse
// recurrence through it.

extension SelectiveScanKernels {
    /// Gradients of every operand from the gradient of `out` (Bt, D, L), using the checkpoints the
    /// forward stored. With g = dout·silu(z) and dh_t = C_t·g_t + exp(Δ_{t+1}A) ⊙ dh_{t+1}:
    /// dC_t += g_t·h_t, dB_t += dh_t·Δ_t·u_t, du_t = D·g_t + Δ_t·⟨dh_t, B_t⟩,
    /// dΔ_t = u_t·⟨dh_t, B_t⟩ + ⟨dh_t ⊙ exp(Δ_t A) ⊙ h_{t−1}, A⟩ (times softplus'),
    /// dA += Δ_t·dh_t ⊙ exp(Δ_t A) ⊙ h_{t−1}, dD += g_t·u_t, dz_t = dout_t·(y_t + D·u_t)·silu'(z_t).
    public static func backward(_ p: Problem, _ x: Operands, checkpoints: UnsafePointer<Float>,
                                outputGradient dout: OutputGradient, into grads: Gradients) {
        let (L, Np, K, rows) = (p.length, p.paddedStateSize, p.checkpointInterval, p.batch * p.channels)
        let blockWidth = channelBlockWidth(p)
        let units = Units(p, granule: blockWidth)
        // Per-row slots (reduced over the batch below) and per-unit (L, Np) sums for an
        // input-dependent B or C: written straight into the gradient when every (batch, group) is
        // one unit, else into accumulators reduced over a group's units. Each unit zeroes its own.
        let rowSlots = UnsafeMutablePointer<Float>.allocate(capacity: rows * (Np + 2))
        let (dARows, dDRows, dBiasRows) = (rowSlots, rowSlots + rows * Np, rowSlots + rows * (Np + 1))
        let direct = units.chunksPerGroup == 1
        // Both accumulators in one block, C's placed half a page away from B's modulo 4 KiB: when
        // dB[l] and dC[l] share their address bits below 4 KiB the CPU orders each one's loads
        // after the other's stores (4K aliasing): 4 % of the whole scan in an in-process A/B.
        let (countB, countC) = (p.bGroups == nil ? rows * Np : direct ? 0 : units.count * L * Np,
                                p.cGroups == nil ? rows * Np : direct ? 0 : units.count * L * Np)
        let pad = (2048 - (countB * 4) % 4096 + 4096) % 4096 / 4
        let accumulators = UnsafeMutablePointer<Float>.allocate(capacity: countB + pad + countC)
        let (accB, accC) = (accumulators, accumulators + countB + pad)
        defer { rowSlots.deallocate(); accumulators.deallocate() }
        func target(_ acc: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ groups: Int?, unit: Int,
                    row: Int) -> (UnsafeMutablePointer<Float>, Int) {
            groups == nil ? (acc + row * Np, 0) : ((direct ? out : acc) + unit * L * Np, Np)
        }
        /// Zeroes unit `index`'s sums of an input-dependent B and C.
        func zeroUnitSums(_ index: Int) {
            for (acc, out, groups) in [(accB, grads.B, p.bGroups), (accC, grads.C, p.cGroups)] where groups != nil {
                target(acc, out, groups, unit: index, row: 0).0.update(repeating: 0, count: L * Np)
            }
        }

        let native = vectorExtensionWidth(p) > 0
        units.run { index in
            let (b, channels) = units.unit(index)
            if blockWidth > 0 {
                let scratch = alignedScratch(ds_scan_block_scratch_count(L, Np, K))
                defer { scratch.deallocate() }
                let rowIndex = b * p.channels + channels.lowerBound, row = rowIndex * L
                zeroUnitSums(index)
                var unit = cBlock(p, x, b: b, d: channels.lowerBound, count: channels.count)
                var unitRows = ds_scan_block_rows(dout: dout.row(b: b, d: channels.lowerBound), doutRowStride: dout.channelStride,
                                                  doutStepStride: dout.stepStride, du: grads.u + row,
                                                  ddelta: grads.delta + row, dz: grads.z.map { $0 + row },
                                                  accumulate: grads.accumulatesInputs ? 1 : 0)
                _ = ds_scan_backward_blocks(&unit, &unitRows, checkpoints + rowIndex * p.checkpointCount * Np, scratch,
                                            dARows + rowIndex * Np, dDRows + rowIndex, dBiasRows + rowIndex,
                                            target(accB, grads.B, p.bGroups, unit: index, row: 0).0,
                                            target(accC, grads.C, p.cGroups, unit: index, row: 0).0)
                return
            }
            // Row scratch, then an output-gradient row and, when adding into the gradients, the
            // row's du, dΔ, dz before they are added.
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 5 * L + 2 * K * Np + 2 * Np + 4 * L)
            defer { scratch.deallocate() }
            let (dAAcc, log2A) = (scratch + 5 * L + 2 * K * Np, scratch + 5 * L + 2 * K * Np + Np)
            let doutScratch = scratch + 5 * L + 2 * K * Np + 2 * Np, staged = doutScratch + L
            zeroUnitSums(index)
            for d in channels {
                let rowIndex = b * p.channels + d, row = rowIndex * L
                let (dB, dBStep) = target(accB, grads.B, p.bGroups, unit: index, row: rowIndex)
                let (dC, dCStep) = target(accC, grads.C, p.cGroups, unit: index, row: rowIndex)
                if p.bGroups == nil { dB.update(repeating: 0, count: Np) }
                if p.cGroups == nil { dC.update(repeating: 0, count: Np) }
                scaleByLog2E(x.A + d * Np, into: log2A, count: Np)
                dAAcc.update(repeating: 0, count: Np)
                var dDAcc: Float = 0, biasAcc: Float = 0
                let rowCheckpoints = checkpoints + rowIndex * p.checkpointCount * Np
                let doutRow = dout.contiguousRow(b: b, d: d, length: L, scratch: doutScratch)
                let out = grads.accumulatesInputs
                    ? RowGradients(u: staged, delta: staged + L, z: grads.z.map { _ in staged + 2 * L })
                    : RowGradients(u: grads.u + row, delta: grads.delta + row, z: grads.z.map { $0 + row })
                if native {
                    var cRow = cRow(p, x, b: b, d: d, log2A: log2A)
                    _ = ds_scan_backward_row(&cRow, doutRow, rowCheckpoints, scratch, out.u, out.delta, out.z,
                                             dAAcc, dB, dBStep, dC, dCStep, &dDAcc, &biasAcc)
                } else {
                    let sums = backwardRow(p, x, b: b, d: d, log2A: log2A, outputGradient: doutRow,
                                           checkpoints: rowCheckpoints, scratch: scratch, dA: dAAcc,
                                           dB: dB, dBStep: dBStep, dC: dC, dCStep: dCStep, into: out)
                    (dDAcc, biasAcc) = (sums.dD, sums.deltaBias)
                }
                if grads.accumulatesInputs {
                    for (source, destination) in [(out.u, grads.u), (out.delta, grads.delta), (out.z, grads.z)] {
                        guard let source, let destination else { continue }
                        for l in 0..<L { destination[row + l] += source[l] }
                    }
                }
                (dARows + rowIndex * Np).update(from: dAAcc, count: Np)
                dDRows[rowIndex] = dDAcc
                dBiasRows[rowIndex] = biasAcc
            }
        }

        // Reductions.
        sumOverBatch(dARows, p, width: Np, into: grads.A)
        if let dD = grads.D { sumOverBatch(dDRows, p, width: 1, into: dD) }
        if let dBias = grads.deltaBias { sumOverBatch(dBiasRows, p, width: 1, into: dBias) }
        for (acc, groups, out) in [(accB, p.bGroups, grads.B), (accC, p.cGroups, grads.C)] {
            if groups == nil {
                sumOverBatch(acc, p, width: Np, into: out)
            } else if !direct {
                // Units of one (batch, group) are consecutive: sum each run of chunksPerGroup.
                let block = L * Np
                for bg in 0..<(units.count / units.chunksPerGroup) {
                    let dst = out + bg * block
                    dst.update(from: acc + bg * units.chunksPerGroup * block, count: block)
                    for c in 1..<Swift.max(1, units.chunksPerGroup) {
                        let src = acc + (bg * units.chunksPerGroup + c) * block
                        for i in 0..<block { dst[i] += src[i] }
                    }
                }
            }
        }
    }

    /// One row's du, dΔ and dz (L floats each; z nil without a gate).
    struct RowGradients {
        let u: UnsafeMutablePointer<Float>, delta: UnsafeMutablePointer<Float>, z: UnsafeMutablePointer<Float>?
    }

    /// The portable backward of row (b, d), with the contract of `ds_scan_backward_row`: writes
    /// the row's du, dΔ (and dz) into `grads`, accumulates dA, dB, dC, and returns the row's
    /// Σ g·u and Σ dΔ. `scratch` holds 5·L + 2·K·Np floats.
    static func backwardRow(_ p: Problem, _ x: Operands, b: Int, d: Int, log2A: UnsafePointer<Float>,
                            outputGradient dy: UnsafePointer<Float>, checkpoints: UnsafePointer<Float>,
                            scratch: UnsafeMutablePointer<Float>, dA: UnsafeMutablePointer<Float>,
                            dB: UnsafeMutablePointer<Float>, dBStep: Int, dC: UnsafeMutablePointer<Float>, dCStep: Int,
                            into grads: RowGradients) -> (dD: Float, deltaBias: Float) {
        let (L, K, Np) = (p.length, p.checkpointInterval, p.paddedStateSize)
        let row = (b * p.channels + d) * L
        let u = x.u + row
        let (dt, softplusDerivative, g, zSigmoid, hY) = (scratch, scratch + L, scratch + 2 * L, scratch + 3 * L, scratch + 4 * L)
        let (states, decays) = (scratch + 5 * L, scratch + 5 * L + K * Np)
        deltaRow(p, x.delta + row, bias: x.deltaBias?[d] ?? 0, into: dt, derivative: softplusDerivative)
        if let z = x.z {
            VectorMath.map(z + row, zSigmoid, count: L) { VectorMath.sigmoid($0) }
            for l in 0..<L { g[l] = dy[l] * z[row + l] * zSigmoid[l] }
        } else {
            g.update(from: dy, count: L)
        }
        // Per step: ⟨dh, B⟩ into the du row, the dΔ sum into the dΔ row, y into hY.
        let (hB, hA) = (grads.u, grads.delta)
        reverseRow(p, x, b: b, d: d, dt: dt, log2A: log2A, g: g, checkpoints: checkpoints,
                   states: states, decays: decays, dA: dA, dB: dB, dBStep: dBStep, dC: dC, dCStep: dCStep,
                   hB: hB, hA: hA, hY: x.z == nil ? nil : hY)
        let D = x.D?[d] ?? 0
        var dDAcc: Float = 0, biasAcc: Float = 0
        for l in 0..<L {
            let (gl, ul, sumB) = (g[l], u[l], hB[l])
            grads.delta[l] = (ul * sumB + hA[l]) * softplusDerivative[l]
            grads.u[l] = D * gl + dt[l] * sumB
            biasAcc += grads.delta[l]
            dDAcc += gl * ul
        }
        if let z = x.z, let dz = grads.z {
            for l in 0..<L {
                let (zl, s) = (z[row + l], zSigmoid[l])
                dz[l] = dy[l] * (hY[l] + D * u[l]) * s * (1 + zl * (1 - s))
            }
        }
        return (dDAcc, biasAcc)
    }

    /// The portable reverse pass of row (b, d): segments last to first, each
    /// recomputed from its checkpoint; accumulates dA (Np), dB and dC; writes
    /// hB[l] = ⟨dh, B_l⟩, hA[l] = ⟨dh ⊙ exp(Δ·A) ⊙ h_{l−1}, A⟩ and, if given, hY[l] = ⟨h_l, C_l⟩.
    static func reverseRow(_ p: Problem, _ x: Operands, b: Int, d: Int, dt: UnsafePointer<Float>,
                           log2A: UnsafePointer<Float>, g: UnsafePointer<Float>, checkpoints: UnsafePointer<Float>,
                           states: UnsafeMutablePointer<Float>, decays: UnsafeMutablePointer<Float>,
                           dA dAAcc: UnsafeMutablePointer<Float>, dB: UnsafeMutablePointer<Float>, dBStep: Int,
                           dC: UnsafeMutablePointer<Float>, dCStep: Int, hB: UnsafeMutablePointer<Float>,
                           hA: UnsafeMutablePointer<Float>, hY: UnsafeMutablePointer<Float>?) {
        let (L, Np, K) = (p.length, p.paddedStateSize, p.checkpointInterval)
        let u = x.u + (b * p.channels + d) * L, A = x.A + d * Np
        let (bOff, bStep) = p.operandRow(groups: p.bGroups, b: b, d: d)
        let (cOff, cStep) = p.operandRow(groups: p.cGroups, b: b, d: d)
        let inRange = exponentsInRange(dt, L, log2A, Np)
        let carry = UnsafeMutablePointer<Float>.allocate(capacity: Np)
        defer { carry.deallocate() }
        carry.initialize(repeating: 0, count: Np)
        for segment in stride(from: p.checkpointCount - 1, through: 0, by: -1) {
            let start = segment * K, count = Swift.min(K, L - start)
            let entering = checkpoints + segment * Np
            if inRange {
                recomputeSegment(Np: Np, from: start, count: count, dt: dt, u: u, log2A: log2A, B: x.B + bOff,
                                 bStep: bStep, entering: entering, states: states, decays: decays, clamping: false)
            } else {
                recomputeSegment(Np: Np, from: start, count: count, dt: dt, u: u, log2A: log2A, B: x.B + bOff,
                                 bStep: bStep, entering: entering, states: states, decays: decays, clamping: true)
            }
            for i in stride(from: count - 1, through: 0, by: -1) {
                let l = start + i
                let h = states + i * Np, decay = decays + i * Np
                let previous = i > 0 ? UnsafePointer(states + (i - 1) * Np) : entering
                let Bl = x.B + bOff + l * bStep, Cl = x.C + cOff + l * cStep
                let dBl = dB + l * dBStep, dCl = dC + l * dCStep
                let (gl, dtl) = (g[l], dt[l])
                let dtu = dtl * u[l]
                var sumB = FloatVector.zero, sumA = FloatVector.zero, sumY = FloatVector.zero
                var o = 0
                while o < Np {
                    let hv = load(h + o), cv = load(Cl + o), dv = load(decay + o)
                    let dh = cv * gl + load(carry + o)
                    if hY != nil { sumY += hv * cv }
                    store(load(dCl + o) + hv * gl, dCl + o)
                    store(load(dBl + o) + dh * dtu, dBl + o)
                    sumB += dh * load(Bl + o)
                    let w = dh * dv * load(previous + o)
                    sumA += w * load(A + o)
                    store(load(dAAcc + o) + w * dtl, dAAcc + o)
                    store(dv * dh, carry + o)
                    o += 8
                }
                hB[l] = VectorMath.horizontalSum(sumB)
                hA[l] = VectorMath.horizontalSum(sumA)
                hY?[l] = VectorMath.horizontalSum(sumY)
            }
        }
    }

    /// Recomputes the states of steps `start ..< start + count` from the state entering them,
    /// storing each state and each exp(Δ·A) (count × Np floats each).
    @inline(always)
    static func recomputeSegment(Np: Int, from start: Int, count: Int, dt: UnsafePointer<Float>, u: UnsafePointer<Float>,
                                 log2A: UnsafePointer<Float>, B: UnsafePointer<Float>, bStep: Int,
                                 entering: UnsafePointer<Float>, states: UnsafeMutablePointer<Float>,
                                 decays: UnsafeMutablePointer<Float>, clamping: Bool) {
        var previous = entering
        for i in 0..<count {
            let l = start + i
            let dtl = dt[l], dtu = dtl * u[l]
            let Bl = B + l * bStep, h = states + i * Np, decay = decays + i * Np
            var o = 0
            while o < Np {
                let dA = VectorMath.exp2(load(log2A + o) * dtl, clamping: clamping)
                store(dA, decay + o)
                store(dA * load(previous + o) + load(Bl + o) * dtu, h + o)
                o += 8
            }
            previous = UnsafePointer(h)
        }
    }

    /// out[d, :] = Σ_b rows[b, d, :] for per-row slots of `width` floats.
    static func sumOverBatch(_ rows: UnsafePointer<Float>, _ p: Problem, width: Int, into out: UnsafeMutablePointer<Float>) {
        let n = p.channels * width
        out.update(from: rows, count: n)
        for b in 1..<Swift.max(1, p.batch) {
            let src = rows + b * n
            for i in 0..<n { out[i] += src[i] }
        }
    }
}
