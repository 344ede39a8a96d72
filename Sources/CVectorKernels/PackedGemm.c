// Products with a matrix packed once (CVectorKernels.h, ds_packed_gemm_*): A in panels of MR rows,
// each panel's MR values of one column k contiguous, so that a tile of C is MR/VW vectors of A
// times broadcast values of B per step k, with no packing per call. The kernel is written once
// in PackedGemm.inc and compiled for AVX-512 (MR 32, NR 12) and AVX2/FMA (MR 16, NR 6).
#include "CVectorKernels.h"
#include "VectorTypes.h"

/// Steps k per pass over C: a panel's block of A (MR·KC floats) and B's rows (KC·n) stay in L2.
#define PACKED_KC 512

#define VW 16
#define VF vf16
#define NR 12
#define NAME(x) x##_avx512
#define TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#define FOR_EACH_COLUMN(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#include "PackedGemm.inc"
#undef VW
#undef VF
#undef NR
#undef NAME
#undef TARGET
#undef FOR_EACH_COLUMN

#define VW 8
#define VF vf8
#define NR 6
#define NAME(x) x##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define FOR_EACH_COLUMN(X) X(0) X(1) X(2) X(3) X(4) X(5)
#include "PackedGemm.inc"

long ds_packed_gemm_rows(void) {
    switch (ds_vector_width()) {
    case 16: return 32;
    case 8: return 16;
    default: return 0;
    }
}

void ds_packed_gemm_pack(const float *a, long m, long k, long lda, float *out) {
    long mr = ds_packed_gemm_rows();
    if (mr == 0) return;
    long panels = (m + mr - 1) / mr;
    for (long p = 0; p < panels; p++) {
        for (long r = 0; r < mr; r++) {
            long row = p * mr + r;
            float *target = out + p * k * mr + r;
            if (row < m) {
                const float *source = a + row * lda;
                for (long kk = 0; kk < k; kk++) target[kk * mr] = source[kk];
            } else {
                for (long kk = 0; kk < k; kk++) target[kk * mr] = 0;
            }
        }
    }
}

int ds_packed_gemm(const float *ap, long m, long k, const float *b, long ldb, long n, float *c, long ldc,
                   long panelStart, long panelEnd) {
    switch (ds_vector_width()) {
    case 16: packed_gemm_avx512(ap, m, k, b, ldb, n, c, ldc, panelStart, panelEnd); return 1;
    case 8: packed_gemm_avx2(ap, m, k, b, ldb, n, c, ldc, panelStart, panelEnd); return 1;
    default: return 0;
    }
}
