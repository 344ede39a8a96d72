// The machine's single-precision arithmetic limit, measured: independent chains of fused
// multiply-adds on 512-bit (AVX-512) and 256-bit (AVX2) vectors, on one thread and on two.
// The selective scan's GFLOP/s (deep-bench selective_scan_fwd_bwd) is compared with this.
//
//     gcc -O3 -funroll-loops -fopenmp Benchmarks/peak/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
//
// (-funroll-loops keeps the 16 accumulators in registers; without it GCC keeps them on the stack
// and measures store-to-load forwarding instead of the FMA units.)
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <time.h>

#define CHAINS 16

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target("avx512f,fma"))) static float chains512(long iterations) {
    __m512 a[CHAINS], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < iterations; k++)
        for (int i = 0; i < CHAINS; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
    __m512 s = a[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float chains256(long iterations) {
    __m256 a[CHAINS], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) a[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < iterations; k++)
        for (int i = 0; i < CHAINS; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
    __m256 s = a[0];
    for (int i = 1; i < CHAINS; i++) s = _mm256_add_ps(s, a[i]);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

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
