// Run-time dispatch of the Winograd F(4×4, 3×3) transforms (CVectorKernels.h): written once in
// Winograd4.inc over eight-lane vectors and compiled here for AVX2/FMA (a target attribute) and
// for baseline x86-64, where each vector operation becomes two SSE ones.
#include "CVectorKernels.h"
#include <immintrin.h>

typedef float v8 __attribute__((ext_vector_type(8)));
typedef int vi8 __attribute__((ext_vector_type(8)));
typedef float v8u __attribute__((ext_vector_type(8), aligned(4)));

#define NAME(x) winograd4_##x##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define WINOGRAD_MASKED 1
#include "Winograd4.inc"
#undef NAME
#undef TARGET
#undef WINOGRAD_MASKED

// The baseline copies pass eight-lane vectors between helpers that are always inlined, so no
// call ever uses the AVX vector ABI the compiler warns about.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi"
#define NAME(x) winograd4_##x##_base
#define TARGET
#define WINOGRAD_MASKED 0
#include "Winograd4.inc"
#pragma clang diagnostic pop

static int baselineOnly = 0;

void ds_winograd4_use_baseline(int on) { baselineOnly = on; }

/// Whether the AVX2 copies run: the CPU has AVX2 and FMA, and tests have not asked for the
/// baseline copies.
static int usesAVX2(void) { return !baselineOnly && ds_vector_width() >= 8; }

/// winograd4_f_avx2(args) where the AVX2 copies run, else winograd4_f_base(args).
#define DISPATCH(f, ...) (usesAVX2() ? winograd4_##f##_avx2(__VA_ARGS__) : winograd4_##f##_base(__VA_ARGS__))

void ds_winograd4_input(const float *x, long channels, long plane, const ds_winograd_tiles *t, long tileRow,
                        long tileRowCount, float *v, long ld, long xi, float *scratch) {
    DISPATCH(input, x, channels, plane, t, tileRow, tileRowCount, v, ld, xi, scratch);
}

void ds_winograd4_input_gathered(const float *x, long imageStride, long channels, long plane, const ds_winograd_tiles *t,
                                 long tileRows, long firstUnit, long unitCount, float *v, long ld, long xi, float *scratch) {
    DISPATCH(input_gathered, x, imageStride, channels, plane, t, tileRows, firstUnit, unitCount, v, ld, xi, scratch);
}

void ds_winograd4_output(const float *m, long xi, long count, float bias, float *y, long ldy) {
    DISPATCH(output, m, xi, count, bias, y, ldy);
}

void ds_winograd4_merge_row(const float *y, long ldy, long tiles, float *row) {
    DISPATCH(merge_row, y, ldy, tiles, row);
}

void ds_winograd4_split_row(const float *row, long tiles, float *g, long ldg) {
    DISPATCH(split_row, row, tiles, g, ldg);
}

void ds_winograd4_output_gradient(const float *g, long ldg, long count, float *dm, long xi) {
    DISPATCH(output_gradient, g, ldg, count, dm, xi);
}

void ds_winograd4_input_gradient(const float *dv, long ld, long xi, long channels, const ds_winograd_tiles *t,
                                 long tileRow, long tileRowCount, float *dx, long plane, float *scratch) {
    DISPATCH(input_gradient, dv, ld, xi, channels, t, tileRow, tileRowCount, dx, plane, scratch);
}
