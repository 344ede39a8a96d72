// Direct convolutions of images with few input channels (CVectorKernels.h, ds_direct_*): each
// vector of VW output positions of a row is a sum over the taps of (one input vector) × (one
// broadcast weight), reading an input copy split into column phases so that a strided window's
// positions lie side by side. The kernel is written once in DirectConvolution.inc and compiled
// for AVX-512 (tiles of 2 vectors × 8 channels) and AVX2/FMA (2 vectors × 6 channels): both keep
// the FMA units busy (the AVX-512 tile measured at 95 % of one core's peak on ResNet's stem, as
// did 4 × 6 and 3 × 8).
#include <string.h>
#include "CVectorKernels.h"
#include "VectorTypes.h"

#define VW 16
#define VF vf16
#define VFU vf16u
#define VI vi16
#define PV 2
#define NR 8
#define NAME(x) x##_avx512
#define TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#include "DirectConvolution.inc"
#undef VW
#undef VF
#undef VFU
#undef VI
#undef PV
#undef NR
#undef NAME
#undef TARGET

#define VW 8
#define VF vf8
#define VFU vf8u
#define VI vi8
#define PV 2
#define NR 6
#define NAME(x) x##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#include "DirectConvolution.inc"

long ds_direct_channels_per_panel(void) {
    switch (ds_vector_width()) {
    case 16: return 8;
    case 8: return 6;
    default: return 0;
    }
}

long ds_direct_input_count(const ds_direct_geometry *g) {
    // One vector of slack past the last row: the last window of a row may read past its phase.
    return g->channels * g->paddedHeight * g->rowLength + 16;
}

void ds_direct_prepare_input(const float *x, const ds_direct_geometry *g, float *out) {
    long s = g->strideWidth, phase = g->rowLength / s, plane = g->paddedHeight * g->rowLength;
    long top = g->paddingHeight * g->rowLength, bottom = (g->paddedHeight - g->paddingHeight - g->inputHeight) * g->rowLength;
    for (long c = 0; c < g->channels; c++) {
        float *channel = out + c * plane;
        memset(channel, 0, (size_t)top * sizeof(float));
        memset(channel + plane - bottom, 0, (size_t)bottom * sizeof(float));
        for (long i = 0; i < g->inputHeight; i++) {
            const float *source = x + (c * g->inputHeight + i) * g->inputWidth;
            float *row = channel + top + i * g->rowLength;
            // Phase f holds padded columns f, f + s, …: input column k·s + f − paddingWidth.
            for (long f = 0; f < s; f++) {
                for (long k = 0; k < phase; k++) {
                    long column = k * s + f - g->paddingWidth;
                    row[f * phase + k] = column >= 0 && column < g->inputWidth ? source[column] : 0;
                }
            }
        }
    }
    memset(out + g->channels * plane, 0, 16 * sizeof(float));
}

void ds_direct_pack_weight(const float *w, const ds_direct_geometry *g, float *out) {
    long nr = ds_direct_channels_per_panel(), panels = (g->outputChannels + nr - 1) / nr;
    for (long p = 0; p < panels; p++) {
        for (long t = 0; t < g->taps; t++) {
            for (long j = 0; j < nr; j++) {
                long c = p * nr + j;
                out[(p * g->taps + t) * nr + j] = c < g->outputChannels ? w[c * g->taps + t] : 0;
            }
        }
    }
}

void ds_direct_offsets(const ds_direct_geometry *g, long *offsets) {
    long phase = g->rowLength / g->strideWidth, t = 0;
    for (long c = 0; c < g->channels; c++) {
        for (long i = 0; i < g->kernelHeight; i++) {
            for (long j = 0; j < g->kernelWidth; j++) {
                offsets[t++] = (c * g->paddedHeight + i) * g->rowLength + j % g->strideWidth * phase + j / g->strideWidth;
            }
        }
    }
}

int ds_direct_convolution(const float *xp, const ds_direct_geometry *g, const long *offsets, const float *wp,
                          const float *bias, int relu, float *y, long rowStart, long rowEnd) {
    switch (ds_vector_width()) {
    case 16: direct_convolution_avx512(xp, g, offsets, wp, bias, relu, y, rowStart, rowEnd); return 1;
    case 8: direct_convolution_avx2(xp, g, offsets, wp, bias, relu, y, rowStart, rowEnd); return 1;
    default: return 0;
    }
}
