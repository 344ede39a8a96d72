// Helpers of the C timing programs in Benchmarks/peak.
#include <stdlib.h>
#include <time.h>

/// Seconds on the monotonic clock.
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/// n floats, uniform in [lo, hi], 64-byte aligned.
static float *filled(long n, float lo, float hi) {
    float *p = aligned_alloc(64, (size_t)((n * 4 + 63) / 64 * 64));
    for (long i = 0; i < n; i++) p[i] = lo + (hi - lo) * (float)rand() / (float)RAND_MAX;
    return p;
}
