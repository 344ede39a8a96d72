// Times the selective scan's channel-block kernels (Sources/CScanKernels) on their own, one
// thread, on the shape of deep-bench's selective_scan_fwd_bwd: `units` work units of 256
// channels (one batch each), L = 256, N = 16, softplus, D, no gate. Prints ns per 16-lane state
// vector and step, and the figures projected to the workload's 8 units on two cores.
//
//   clang -O3 -I Sources/CScanKernels/include Benchmarks/peak/scan_kernels.c -o /tmp/scan_kernels -lm
//   /tmp/scan_kernels [units]      (8: the workload's data, mostly from L3; 1: one unit, from L2)
#include "../../Sources/CScanKernels/SelectiveScan.c"
#include <stdio.h>
#include "bench_util.h"

int main(int argc, char **argv) {
    const long L = 256, Np = 16, K = 64, channels = 256, S = L / K, units = argc > 1 ? atol(argv[1]) : 8;
    const long rows = units * channels * L;
    float *delta = filled(rows, -1, 1), *u = filled(rows, -1, 1), *A = filled(channels * Np, -2.1f, -0.1f);
    float *B = filled(L * Np, -1, 1), *C = filled(L * Np, -1, 1), *D = filled(channels, -1, 1);
    float *out = filled(rows, 0, 0), *checkpoints = filled(units * channels * S * Np, 0, 0), *dout = filled(rows, 1, 1);
    float *du = filled(rows, 0, 0), *ddelta = filled(rows, 0, 0), *dA = filled(channels * Np, 0, 0);
    float *dD = filled(channels, 0, 0), *dBias = filled(channels, 0, 0), *dB = filled(L * Np, 0, 0), *dC = filled(L * Np, 0, 0);
    float *scratch = filled(ds_scan_block_scratch_count(L, Np, K), 0, 0);
    const double vectorSteps = (double)rows / 16 * Np;
    double best[2] = {1e9, 1e9};
    for (int round = 0; round < 15; round++) {
        double t[3];
        for (int pass = 0; pass < 2; pass++) {
            t[pass] = now();
            for (int i = 0; i < 10; i++)
                for (long q = 0; q < units; q++) {
                    const long o = q * channels * L;
                    const ds_scan_block unit = {L, Np, K, channels, delta + o, NULL, 1, u + o, NULL, D, A, B, C};
                    float *ck = checkpoints + q * channels * S * Np;
                    if (pass == 0) ds_scan_forward_blocks(&unit, scratch, out + o, NULL, ck);
                    else {
                        const ds_scan_block_rows rows = {dout + o, L, 1, du + o, ddelta + o, NULL, 0};
                        ds_scan_backward_blocks(&unit, &rows, ck, scratch, dA, dD, dBias, dB, dC);
                    }
                }
            t[pass + 1] = now();
            const double s = (t[pass + 1] - t[pass]) / 10;
            if (s < best[pass]) best[pass] = s;
        }
    }
    printf("best of 15: forward %.3f, backward %.3f ns per vector-step; 8 units on 2 cores: %.3f + %.3f ms\n",
           best[0] / vectorSteps * 1e9, best[1] / vectorSteps * 1e9, best[0] / units * 4e3, best[1] / units * 4e3);
    return 0;
}
