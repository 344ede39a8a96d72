// Run-time dispatch of the elementwise math, attention and max pooling kernels (CVectorKernels.h);
// the kernels are written once in VectorMath.inc, AttentionRows.inc and MaxPooling.inc over a
// generic vector type and compiled
// here for AVX-512 (16 lanes) and AVX2/FMA (8 lanes) through function target attributes.
#include <math.h>
#include "CVectorKernels.h"
#include "VectorTypes.h"

#define VW 16
#define VF vf16
#define VFU vf16u
#define VI vi16
#define NAME(x) x##_avx512
#define TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#include "VectorMath.inc"
#include "AttentionRows.inc"
#include "MaxPooling.inc"
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
#include "VectorMath.inc"
#include "AttentionRows.inc"
#include "MaxPooling.inc"

static int widthLimit = 16;

void ds_limit_vector_width(int width) { widthLimit = width; }

/// The CPU's vector width (16, 8 or 0), detected once.
static int cpu_vector_width(void) {
    static int width = -1;
    if (width < 0) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
            width = 16;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            width = 8;
        else
            width = 0;
    }
    return width;
}

int ds_vector_width(void) {
    int width = cpu_vector_width();
    return width <= widthLimit ? width : widthLimit >= 8 ? 8 : 0;
}

int ds_gelu(const float *x, float *y, long n) {
    switch (ds_vector_width()) {
    case 16: gelu_avx512(x, y, n); return 1;
    case 8: gelu_avx2(x, y, n); return 1;
    default: return 0;
    }
}

int ds_gelu_backward(const float *g, const float *x, float *dx, long n) {
    switch (ds_vector_width()) {
    case 16: gelu_backward_avx512(g, x, dx, n); return 1;
    case 8: gelu_backward_avx2(g, x, dx, n); return 1;
    default: return 0;
    }
}

int ds_exp_shifted(float *p, long n, float shift, float *sum) {
    switch (ds_vector_width()) {
    case 16: *sum = exp_shifted_avx512(p, n, shift); return 1;
    case 8: *sum = exp_shifted_avx2(p, n, shift); return 1;
    default: return 0;
    }
}

int ds_adam(float *p, const float *g, float *m, float *v, float *vmax, long n, const ds_adam_step *step) {
    switch (ds_vector_width()) {
    case 16: adam_avx512(p, g, m, v, vmax, n, step); return 1;
    case 8: adam_avx2(p, g, m, v, vmax, n, step); return 1;
    default: return 0;
    }
}

void ds_attention_pack_keys(const float *k, long ldk, long keys, long d, float *kt, long ldkt) {
    for (long kk = 0; kk < d; kk++) {
        float *row = kt + kk * ldkt;
        for (long j = 0; j < keys; j++) row[j] = k[j * ldk + kk];
        for (long j = keys; j < ldkt; j++) row[j] = 0;
    }
}

int ds_attention_rows(const float *q, long ldq, const float *kt, long ldkt, const float *v, long ldv, long rows,
                      long keys, long d, long dv, float scale, long firstQuery, float *out, long ldo, float *lse,
                      float *scores) {
    switch (ds_vector_width()) {
    case 16:
        attention_rows_avx512(q, ldq, kt, ldkt, v, ldv, rows, keys, d, dv, scale, firstQuery, out, ldo, lse, scores);
        return 1;
    case 8:
        attention_rows_avx2(q, ldq, kt, ldkt, v, ldv, rows, keys, d, dv, scale, firstQuery, out, ldo, lse, scores);
        return 1;
    default: return 0;
    }
}

int ds_max_pool_rows_first(const float *x, long width, long outHeight, const long *firstRow, const long *rowCount,
                           long rowStep, float *paddedRow, long margin, long paddedWidth, long stride, long kernel,
                           long step, long outWidth, float *y) {
    switch (ds_vector_width()) {
    case 16:
        max_pool_rows_first_avx512(x, width, outHeight, firstRow, rowCount, rowStep, paddedRow, margin, paddedWidth,
                                   stride, kernel, step, outWidth, y);
        return 1;
    case 8:
        max_pool_rows_first_avx2(x, width, outHeight, firstRow, rowCount, rowStep, paddedRow, margin, paddedWidth,
                                 stride, kernel, step, outWidth, y);
        return 1;
    default: return 0;
    }
}
