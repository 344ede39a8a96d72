// The layout the scan kernels read A, B and C in (see `SelectiveScanKernels`): the state axis
// innermost and zero-padded to Np, from any strides; and back, for their gradients.

extension SelectiveScanKernels {
    /// Copies a constant (rows, N) operand read with strides (`rowStride`, `stateStride`) into
    /// `out` (rows, Np), the padding zero.
    static func packConstant(_ src: UnsafePointer<Float>, rows: Int, stateSize n: Int, rowStride: Int, stateStride: Int,
                             paddedStateSize np: Int, into out: UnsafeMutableBufferPointer<Float>) {
        out.initialize(repeating: 0)
        for r in 0..<rows { for i in 0..<n { out[r * np + i] = src[r * rowStride + i * stateStride] } }
    }

    /// Copies an input-dependent (Bt, G, N, L) operand read with `strides` into `out`
    /// (Bt, G, L, Np), the padding zero.
    static func packInputDependent(_ src: UnsafePointer<Float>, batch: Int, groups: Int, stateSize n: Int, length: Int,
                                   strides: (batch: Int, group: Int, state: Int, step: Int), paddedStateSize np: Int,
                                   into out: UnsafeMutablePointer<Float>) {
        let blocks = batch * groups, block = length * np
        Parallel.forEach(count: blocks, work: blocks * block) { range in
            for bg in range {
                let base = src + bg / groups * strides.batch + bg % groups * strides.group, dst = out + bg * block
                // State by state: the reads run along the sequence, the writes stay in one
                // (L, Np) block that fits in L1.
                for i in 0..<n { for l in 0..<length { dst[l * np + i] = base[i * strides.state + l * strides.step] } }
                if np > n { for l in 0..<length { (dst + l * np + n).update(repeating: 0, count: np - n) } }
            }
        }
    }

    /// The inverse of ``packConstant``: (rows, Np) → (rows, N), contiguous.
    static func unpackConstant(_ src: UnsafePointer<Float>, rows: Int, stateSize n: Int, paddedStateSize np: Int,
                               into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { for i in 0..<n { out[r * n + i] = src[r * np + i] } }
    }

    /// The inverse of ``packInputDependent`` for `blocks` = Bt·G blocks: (blocks, L, Np) →
    /// (blocks, N, L), contiguous.
    static func unpackInputDependent(_ src: UnsafePointer<Float>, blocks: Int, stateSize n: Int, length: Int,
                                     paddedStateSize np: Int, into out: UnsafeMutablePointer<Float>) {
        Parallel.forEach(count: blocks, work: blocks * length * np) { range in
            for k in range {
                let s = src + k * length * np, d = out + k * n * length
                for i in 0..<n { for l in 0..<length { d[i * length + l] = s[l * np + i] } }
            }
        }
    }
}
