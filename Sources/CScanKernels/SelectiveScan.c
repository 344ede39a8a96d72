// Run-time dispatch of the selective-scan row kernels; the kernels themselves are written once in
// ScanRow.inc over a generic vector type and compiled here for AVX-512 (16 lanes) and AVX2/FMA
// (8 lanes) through function target attributes; ScanBlock.inc likewise for the block kernels.
#include "ScanTypes.inc"

#define VW 16
#define VF vf16
#define VFU vf16u
#define VI vi16
#define NAME(x) x##_avx512
#define TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#define NH 8
#include "ScanRow.inc"
#include "ScanBlock.inc"
#undef NH
#undef VW
#undef VF
#undef VFU
#undef VI
#undef NAME
#undef TARGET

#define VW 8
#define VF vf8
#define VFU vf8u
#define VI vi8
#define NAME(x) x##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define NH 4
#include "ScanRow.inc"
#include "ScanBlock.inc"

int ds_scan_vector_width(long paddedStateSize) {
    __builtin_cpu_init();
    if (paddedStateSize > MAX_VECTORS * 8) return 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        paddedStateSize % 16 == 0)
        return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && paddedStateSize % 8 == 0)
        return 8;
    return 0;
}

/// Runs the kernel `fn` compiled for the vector width this CPU offers for `paddedStateSize` lanes
/// (fn##_avx512 or fn##_avx2) on the arguments and returns 1; returns 0 when it offers neither.
#define DISPATCH(paddedStateSize, fn, ...)                                                          \
    switch (ds_scan_vector_width(paddedStateSize)) {                                                \
    case 16: fn##_avx512(__VA_ARGS__); return 1;                                                    \
    case 8: fn##_avx2(__VA_ARGS__); return 1;                                                       \
    default: return 0;                                                                              \
    }

int ds_scan_forward_row(const ds_scan_row *row, float *scratch, float *h, float *out, float *checkpoints) {
    DISPATCH(row->paddedStateSize, forward_row, row, scratch, h, out, checkpoints)
}

int ds_scan_backward_row(const ds_scan_row *row, const float *dout, const float *checkpoints, float *scratch,
                         float *du, float *ddelta, float *dz, float *dA_acc,
                         float *dB, long dBStep, float *dC, long dCStep, float *dD_acc, float *dBias_acc) {
    DISPATCH(row->paddedStateSize, backward_row, row, dout, checkpoints, scratch, du, ddelta, dz, dA_acc,
             dB, dBStep, dC, dCStep, dD_acc, dBias_acc)
}

long ds_scan_block_scratch_count(long length, long paddedStateSize, long checkpointInterval) {
    // For the widest vectors (16 lanes, 8 states per pass): forward, four (step, lane) arrays and
    // A; backward, ten (step, lane) arrays, a block's state, a segment's states and decays, and
    // the eight-lane dC and dB accumulators side by side.
    const long W = 16, Lr = (length + W - 1) / W * W, K = checkpointInterval, Np = paddedStateSize;
    const long forward = W * (4 * Lr + Np);
    const long backward = W * (10 * Lr + 4 * Np + 2 + (2 * K + 1) * 8) + 2 * 8 * length * Np;
    return forward > backward ? forward : backward;
}

int ds_scan_forward_blocks(const ds_scan_block *unit, float *scratch, float *out, float *lastState, float *checkpoints) {
    DISPATCH(unit->paddedStateSize, forward_blocks, unit, scratch, out, lastState, checkpoints)
}

int ds_scan_backward_blocks(const ds_scan_block *unit, const ds_scan_block_rows *rows, const float *checkpoints,
                            float *scratch, float *dA, float *dD, float *dBias, float *dB, float *dC) {
    DISPATCH(unit->paddedStateSize, backward_blocks, unit, rows, checkpoints, scratch, dA, dD, dBias, dB, dC)
}
