// The machine's single-precision arithmetic limit, measured: independent chains of fused
// multiply-adds on 512-bit (AVX-512) and 256-bit (AVX2) vectors, on one thread and on two.
// The selective scan's GFLOP/s (deep-bench selective_scan_fwd_bwd) is compared with this.
//
//     gcc -O3 -funroll-loops -fopenmp Benchmarks/peak/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
//
// (-funroll-loops keeps the 16 accumulators in registers; without it GCC keeps them on the stack
// and measures store-to-load forwarding instead of the FMA units. GCC contracts a·m + c into one
// fused multiply-add by default, -ffp-contract=fast.)
#include <omp.h>
#include <stdio.h>
#include <time.h>

#define CHAINS 16

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/// CHAINS independent chains a ← a·m + c on vectors of `lanes` floats, `iterations` rounds; the
/// sum of the results, so that nothing is optimised away. One body, compiled for each width.
#define FMA_CHAINS(name, isa, lanes)                                                    \
    __attribute__((target(isa))) static float name(long iterations) {                 \
        typedef float vector __attribute__((vector_size(lanes * sizeof(float))));     \
        vector a[CHAINS], m, c;                                                         \
        for (int j = 0; j < lanes; j++) m[j] = 0.999999f, c[j] = 1e-7f;                 \
        for (int i = 0; i < CHAINS; i++)                                                \
            for (int j = 0; j < lanes; j++) a[i][j] = (float)i;                          \
        for (long k = 0; k < iterations; k++)                                           \
            for (int i = 0; i < CHAINS; i++) a[i] = a[i] * m + c;                       \
        float sum = 0;                                                                  \
        for (int i = 0; i < CHAINS; i++)                                                \
            for (int j = 0; j < lanes; j++) sum += a[i][j];                              \
        return sum;                                                                     \
    }

FMA_CHAINS(chains512, "avx512f,fma", 16)
FMA_CHAINS(chains256, "avx2,fma", 8)

int main(void) {
    const long iterations = 400000000 / CHAINS;
    for (int wide = 1; wide >= 0; wide--) {
        if (wide && !__builtin_cpu_supports("avx512f")) continue;
        for (int threads = 1; threads <= 2; threads++) {
            double start = seconds();
            float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
            sink += wide ? chains512(iterations) : chains256(iterations);
            double flops = (double)threads * iterations * CHAINS * (wide ? 32 : 16);
            printf("%s, %d thread%s: %.1f GFLOP/s (%g)\n", wide ? "AVX-512" : "AVX2", threads,
                   threads > 1 ? "s" : "", flops / (seconds() - start) / 1e9, sink);
        }
    }
    return 0;
}
