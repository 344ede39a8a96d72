// Times two versions of the selective scan's block kernels (ScanBlock.inc) against each other in
// one process, alternating them round by round, on deep-bench's selective_scan_fwd_bwd shape (8
// units of 256 channels, L = 256, N = 16, softplus, D, no gate, the gradient of a sum, du/dΔ
// added into existing gradients). On a machine whose speed drifts by ±20 % from run to run, the
// mean ratio over interleaved rounds resolves differences of a few percent that separate runs do
// not. AVX-512 only.
//
//   git show HEAD:Sources/CScanKernels/ScanBlock.inc > /tmp/old_block.inc
//   clang -O3 -I Sources/CScanKernels -I Sources/CScanKernels/include \
//       -DBLOCK_A='"/tmp/old_block.inc"' -DBLOCK_B='"ScanBlock.inc"' Benchmarks/peak/scan_ab.c -o /tmp/scan_ab -lm
//   /tmp/scan_ab [rounds] [broadcast dout: 1 (default) or 0]
//
// -DROW_A / -DROW_B likewise swap ScanRow.inc (the shared helpers: exponentials, softplus).
#include "ScanTypes.inc"
#include <stdio.h>
#include "bench_util.h"

#define VW 16
#define VF vf16
#define VFU vf16u
#define VI vi16
#define TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#define NH 8
#ifndef ROW_A
#define ROW_A "ScanRow.inc"
#endif
#ifndef ROW_B
#define ROW_B "ScanRow.inc"
#endif
#define NAME(x) x##_A
#include ROW_A
#include BLOCK_A
#undef NAME
#define NAME(x) x##_B
#include ROW_B
#include BLOCK_B

int main(int argc, char **argv) {
    const long L = 256, Np = 16, K = 64, channels = 256, S = L / K, units = 8;
    const int rounds = argc > 1 ? atoi(argv[1]) : 20, broadcast = argc > 2 ? atoi(argv[2]) : 1;
    const long rows = units * channels * L;
    float *delta = filled(rows, -1, 1), *u = filled(rows, -1, 1), *A = filled(channels * Np, -2.1f, -0.1f);
    float *B = filled(units * L * Np, -1, 1), *C = filled(units * L * Np, -1, 1), *D = filled(channels, -1, 1);
    float *out = filled(rows, 0, 0), *checkpoints = filled(units * channels * S * Np, 0, 0), *dout = filled(rows, 1, 1);
    float *du = filled(rows, 0, 0), *ddelta = filled(rows, 0, 0), *dA = filled(channels * Np, 0, 0);
    float *dD = filled(channels, 0, 0), *dBias = filled(channels, 0, 0), *dB = filled(units * L * Np, 0, 0), *dC = filled(units * L * Np, 0, 0);
    float *scratch = filled(400000, 0, 0);
    const double vectorSteps = (double)rows / 16 * Np;
    double sum[2][2] = {{0}}, best[2][2] = {{1e9, 1e9}, {1e9, 1e9}};
    for (int round = 0; round < 2 * rounds; round++) {
        const int v = round % 2;
        for (int pass = 0; pass < 2; pass++) {
            const double t0 = now();
            for (int i = 0; i < 5; i++)
                for (long q = 0; q < units; q++) {
                    const long o = q * channels * L;
                    const ds_scan_block unit = {L, Np, K, channels, delta + o, NULL, 1, u + o, NULL, D, A, B + q * L * Np, C + q * L * Np};
                    float *ck = checkpoints + q * channels * S * Np;
                    const ds_scan_block_rows r = {broadcast ? dout : dout + o, broadcast ? 0 : L, broadcast ? 0 : 1, du + o, ddelta + o, NULL, 1};
                    if (pass == 0) { if (v) forward_blocks_B(&unit, scratch, out + o, NULL, ck); else forward_blocks_A(&unit, scratch, out + o, NULL, ck); }
                    else { if (v) backward_blocks_B(&unit, &r, ck, scratch, dA, dD, dBias, dB + q * L * Np, dC + q * L * Np);
                           else backward_blocks_A(&unit, &r, ck, scratch, dA, dD, dBias, dB + q * L * Np, dC + q * L * Np); }
                }
            const double s = (now() - t0) / 5;
            sum[v][pass] += s;
            if (s < best[v][pass]) best[v][pass] = s;
        }
    }
    printf("A best fwd %.3f bwd %.3f | B best fwd %.3f bwd %.3f ns/vstep | mean ratio B/A fwd %.3f bwd %.3f\n",
           best[0][0] / vectorSteps * 1e9, best[0][1] / vectorSteps * 1e9, best[1][0] / vectorSteps * 1e9, best[1][1] / vectorSteps * 1e9,
           sum[1][0] / sum[0][0], sum[1][1] / sum[0][1]);
    return 0;
}
