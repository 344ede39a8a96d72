// Elementwise math kernels of DeepStitch (exact GELU and its gradient, shifted exponentials of a
// row) in C, so that they run with AVX2/FMA or AVX-512 chosen at run time through function-level
// target attributes: Swift library targets compile for baseline x86-64 (SSE2) and cannot be given
// per-target ISA flags without unsafeFlags. The Swift callers (Ops/Activations.swift,
// Kernels/AttentionKernels.swift) keep their portable path for CPUs without AVX2/FMA, where
// these functions do nothing and return 0.
#ifndef DEEPSTITCH_CVECTORKERNELS_H
#define DEEPSTITCH_CVECTORKERNELS_H

/// The vector width the kernels below use on this CPU: 16 (AVX-512F), 8 (AVX2 with FMA) or 0
/// (neither: every kernel returns 0 without touching memory), at most the limit set by
/// ``ds_limit_vector_width``.
int ds_vector_width(void);

/// Limits every kernel here to vectors of at most `width` floats (16: the CPU's; 8: AVX2 even
/// where the CPU has AVX-512; 0: none), for tests. Matrices packed before
/// (``ds_packed_gemm_pack``) must be packed again.
void ds_limit_vector_width(int width);

/// y[i] = x[i]·Φ(x[i]) for i < n (exact GELU; Φ by Abramowitz–Stegun 7.1.26 as PyTorch's
/// vectorised erf, absolute error below 1e−7). x and y may be the same. Returns 1, or 0.
int ds_gelu(const float *x, float *y, long n);

/// dx[i] = g[i]·(Φ(x[i]) + x[i]·φ(x[i])) for i < n, the gradient of ``ds_gelu``. Returns 1, or 0.
int ds_gelu_backward(const float *g, const float *x, float *dx, long n);

/// p[i] = e^(p[i] − shift) in place for i < n, and *sum = their sum (e^x as the Cephes
/// polynomial of the Swift kernels, 0 below −87.3). Returns 1, or 0.
int ds_exp_shifted(float *p, long n, float shift, float *sum);

/// The scalars of one Adam step (Training/Optimizers.swift): learning rate, weight decay, betas,
/// eps, lr / (1 − β₁ᵗ), √(1 − β₂ᵗ); decoupled (AdamW) weight decay and AMSGrad as 0 or 1.
typedef struct {
    float lr, wd, b1, b2, eps, stepSize, bias2Sqrt;
    int decoupled, amsgrad;
} ds_adam_step;

/// One Adam step over n elements in place: with g the gradient (plus wd·p unless decoupled, where
/// p is scaled by 1 − lr·wd), m = β₁m + (1 − β₁)g, v = β₂v + (1 − β₂)g², vmax = max(vmax, v) with
/// AMSGrad (vmax unused otherwise), p −= stepSize·m / (√v̂ / bias2Sqrt + eps), v̂ being vmax or
/// v. Returns 1, or 0.
int ds_adam(float *p, const float *g, float *m, float *v, float *vmax, long n, const ds_adam_step *step);

// Winograd F(4×4, 3×3) transforms of 3×3 stride-1 convolutions (Kernels/ConvolutionWinograd.swift
// drives them). Output tiles are 4×4; tile t of a tile row reads the 6×6 padded input from
// column 4t. Transformed planes hold one float per tile: a chunk's tiles lie one tile row after
// another, `tilesPerRow` each, in planes `ld` floats long (ld ≥ the chunk's tiles rounded up to 8,
// plus 8: every function writes whole vectors of eight tiles, and what a row writes past its last
// tile the next row overwrites). Position ξ = 6i + j of the 6×6 transform of channel c is at
// ξ·xi + c·ld (xi = channels·ld). Each runs with AVX2/FMA when the CPU has it, else with SSE2.

/// The tile grid of one image: input plane height × width, its padding, ⌈W'/4⌉ tiles per row
/// (W' = width + 2·padWidth − 2) and the scratch row length 4·⌈tilesPerRow/8⌉·8 + 32.
typedef struct {
    long height, width, padHeight, padWidth, tilesPerRow, rowLength;
} ds_winograd_tiles;

/// With a nonzero `on`, the transforms below run their baseline (SSE2) copies even where the CPU
/// has AVX2 (tests check both); 0 restores the choice by CPU.
void ds_winograd4_use_baseline(int on);

/// V = Bᵀ d B of the tiles of tile rows tileRow ..< tileRow + tileRowCount of `channels` planes
/// (`plane` floats apart), written from v (the first row's first tile, each tile row after the
/// one before; channel c at c·ld, position ξ at ξ·xi). scratch: 7·rowLength.
void ds_winograd4_input(const float *x, long channels, long plane, const ds_winograd_tiles *t, long tileRow,
                        long tileRowCount, float *v, long ld, long xi, float *scratch);

/// ``ds_winograd4_input`` for narrow planes (one or two tiles per row, which fill a quarter of a
/// vector or less there): the tiles of tile rows firstUnit ..< firstUnit + unitCount of a batch
/// (`tileRows` per image, images `imageStride` floats apart, so a run may span images), eight
/// tiles per vector, each gathered from its 6×6 window; written from v. scratch: 288 floats.
void ds_winograd4_input_gathered(const float *x, long imageStride, long channels, long plane, const ds_winograd_tiles *t,
                                 long tileRows, long firstUnit, long unitCount, float *v, long ld, long xi, float *scratch);

/// Y = Aᵀ M A + bias of `count` tiles of one output channel: M's 36 planes at ξ·xi, Y's 16
/// planes (position 4i + l, output row i and column l of each tile) at (4i + l)·ldy.
void ds_winograd4_output(const float *m, long xi, long count, float bias, float *y, long ldy);

/// Row i of a tile row's output: the 4·tiles floats interleaving Y's planes (4i + l)·ldy, l < 4,
/// from y (the tile row's first tile of plane 4i).
void ds_winograd4_merge_row(const float *y, long ldy, long tiles, float *row);

/// The inverse of ``ds_winograd4_merge_row``: 4·tiles floats of row (rounded up to 32) split into
/// four planes at g + l·ldg.
void ds_winograd4_split_row(const float *row, long tiles, float *g, long ldg);

/// dM = A dY Aᵀ of `count` tiles of one output channel: dY's 16 planes (4i + l)·ldg, dM's 36
/// planes at ξ·xi. The adjoint of ``ds_winograd4_output``.
void ds_winograd4_output_gradient(const float *g, long ldg, long count, float *dm, long xi);

/// dd = B dV Bᵀ of the tiles of tile rows tileRow ..< tileRow + tileRowCount, into `channels`
/// planes of dx (padding dropped): the adjoint of ``ds_winograd4_input``. The rows of dx that no
/// earlier tile row reaches are overwritten (all six rows of tile row 0, rows 2–5 of the others)
/// and the other two added into, so a plane's tile rows must come in order from 0, and the plane
/// needs no zeroing first. scratch: 6·rowLength.
void ds_winograd4_input_gradient(const float *dv, long ld, long xi, long channels, const ds_winograd_tiles *t,
                                 long tileRow, long tileRowCount, float *dx, long plane, float *scratch);

// Products with a matrix packed once (PackedGemm.c), for weights that stay fixed (inference):
// C (m × n, row stride ldc) += A (m × k) · B (k × n, row stride ldb), A packed into panels of
// ds_packed_gemm_rows() rows (the last one padded with zeros).

/// Rows per panel of a packed matrix on this CPU: 32 (AVX-512F), 16 (AVX2 with FMA), or 0
/// (neither: nothing is packed or multiplied).
long ds_packed_gemm_rows(void);

/// Packs A (m × k, row stride lda) into ⌈m / rows⌉ panels of rows × k floats: out[(p·k + j)·rows + r]
/// = A[p·rows + r][j], zero past row m − 1.
void ds_packed_gemm_pack(const float *a, long m, long k, long lda, float *out);

/// C += A · B for the rows of panels panelStart ..< panelEnd of the packed A (callers split the
/// panels among threads). Returns 1, or 0 without touching C when the CPU has neither ISA.
int ds_packed_gemm(const float *ap, long m, long k, const float *b, long ldb, long n, float *c, long ldc,
                   long panelStart, long panelEnd);

/// Max pooling of one plane (height × width) without indices, rows first: for each output row oh,
/// the input rows firstRow[oh] + i·rowStep (i < rowCount[oh], at least 1) combined element by
/// element into paddedRow + margin, then y[oh][ow] = the largest of paddedRow[ow·stride + t·step]
/// for t < kernel. paddedRow: paddedWidth floats, −∞ outside margin ..< margin + width, reaching
/// every tap. A NaN is maximal (the first one kept). Returns 1, or 0 without touching y.
int ds_max_pool_rows_first(const float *x, long width, long outHeight, const long *firstRow, const long *rowCount,
                           long rowStep, float *paddedRow, long margin, long paddedWidth, long stride, long kernel,
                           long step, long outWidth, float *y);

// Attention over whole rows of scores (AttentionRows.inc; Kernels/AttentionKernels.swift drives
// it): for a block of queries of one group, S = scale·Q Kᵀ, P = softmax(S) row-wise, O = P V, with
// every key's score of a query in one row of scratch, for sequences short enough for that.

/// kt (d × ldkt, ldkt ≥ keys) = Kᵀ for K (keys × d, row stride ldk), zero in columns keys ..< ldkt.
void ds_attention_pack_keys(const float *k, long ldk, long keys, long d, float *kt, long ldkt);

/// O (rows × dv, row stride ldo) = softmax(scale·Q Kᵀ) V and lse[r] = the log-sum-exp of row r's
/// scaled scores, for Q (rows × d, row stride ldq), K from ``ds_attention_pack_keys`` with ldkt a
/// multiple of 16 (and keys ≥ 1), V (keys × dv, row stride ldv). With firstQuery ≥ 0 the
/// attention is causal, row r being query firstQuery + r: it sees keys j ≤ firstQuery + r.
/// scores: scratch of ⌈rows / 4⌉·4 · ldkt floats. Returns 1, or 0 without touching memory.
int ds_attention_rows(const float *q, long ldq, const float *kt, long ldkt, const float *v, long ldv, long rows,
                      long keys, long d, long dv, float scale, long firstQuery, float *out, long ldo, float *lse,
                      float *scores);

// Direct convolutions of images with few input channels (DirectConvolution.c;
// Kernels/ConvolutionDirect.swift drives them): the input of one image copied once with its
// padding, each padded row split into strideWidth column phases (phase f holds the padded columns
// f, f + s, f + 2s, …), so that the inputs of VW neighbouring output positions under one tap are
// VW neighbouring floats; then every output vector is a sum over the taps of an input vector times
// a broadcast weight, NR output channels at a time.

/// The sizes of one image's convolution (undilated, ungrouped).
typedef struct {
    long channels, inputHeight, inputWidth, paddingHeight, paddingWidth;
    /// inputHeight + 2·paddingHeight; strideWidth · ⌈(inputWidth + 2·paddingWidth) / strideWidth⌉.
    long paddedHeight, rowLength;
    long strideHeight, strideWidth, kernelHeight, kernelWidth;
    /// channels · kernelHeight · kernelWidth.
    long taps;
    long outputChannels, outputHeight, outputWidth;
} ds_direct_geometry;

/// Output channels per panel of packed weights on this CPU: 8 (AVX-512F), 6 (AVX2 with FMA), or 0
/// (neither: nothing here runs).
long ds_direct_channels_per_panel(void);

/// Floats of one image's prepared input (``ds_direct_prepare_input``).
long ds_direct_input_count(const ds_direct_geometry *g);

/// The input of one image (channels × inputHeight × inputWidth) padded with zeros and split into
/// column phases: ds_direct_input_count(g) floats.
void ds_direct_prepare_input(const float *x, const ds_direct_geometry *g, float *out);

/// The weight (outputChannels × taps) in panels of ds_direct_channels_per_panel() channels, tap
/// by tap: out[(p·taps + t)·NR + j] = w[(p·NR + j)·taps + t], zero past the last channel.
void ds_direct_pack_weight(const float *w, const ds_direct_geometry *g, float *out);

/// offsets[t] (taps of them): where tap t reads in the prepared input, from a window's start.
void ds_direct_offsets(const ds_direct_geometry *g, long *offsets);

/// y (outputChannels × outputHeight × outputWidth) rows rowStart ..< rowEnd = the convolution of
/// the prepared input xp with the packed weight wp, plus bias (or nil), clamped at 0 when relu.
/// Returns 1, or 0 without touching y when the CPU has neither ISA.
int ds_direct_convolution(const float *xp, const ds_direct_geometry *g, const long *offsets, const float *wp,
                          const float *bias, int relu, float *y, long rowStart, long rowEnd);

#endif
