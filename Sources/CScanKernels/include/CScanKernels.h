// The state-dimension loops of DeepStitch's fused selective scan (see
// Sources/DeepCore/Kernels/SelectiveScanKernels.swift), in C so that they can use AVX2/FMA and
// AVX-512 through function-level target attributes chosen at run time: Swift library targets
// cannot be given per-target ISA flags without unsafeFlags. The callers keep a portable Swift
// path for CPUs without AVX2/FMA (these functions then return 0).
#ifndef DEEPSTITCH_CSCANKERNELS_H
#define DEEPSTITCH_CSCANKERNELS_H

#include <stddef.h>

/// One (batch, channel) row of a selective scan. L steps, Np state lanes (a multiple of 8; the
/// padding lanes have A = B = C = 0), K steps between checkpoints.
typedef struct {
    long length, paddedStateSize, checkpointInterval;
    /// The row's Δ input (L floats); Δ = softplus(delta + deltaBias) when deltaSoftplus, else delta + deltaBias.
    const float *delta;
    float deltaBias;
    int deltaSoftplus;
    /// u and the gate z (NULL: no gate) of the row (L floats each), and D.
    const float *u, *z;
    float D;
    /// A·log₂e and A (Np floats each).
    const float *log2A, *A;
    /// B and C of step l start at B + l·bStep and C + l·cStep (a step of 0: constant over l).
    const float *B, *C;
    long bStep, cStep;
} ds_scan_row;

/// The widest vector the scan kernels use on this CPU for `paddedStateSize` lanes: 16 (AVX-512),
/// 8 (AVX2 with FMA), or 0 (neither, or a state longer than 128: the functions below do nothing
/// and return 0).
int ds_scan_vector_width(long paddedStateSize);

/// Forward of the whole row from the state `h` (Np floats, left holding the last state):
/// h ← exp(Δ·A) ⊙ h + Δ·u·B, out[l] = (⟨h, C_l⟩ + D·u_l)·silu(z_l). When `checkpoints` is not
/// NULL the state entering every K-th step is stored there (⌈L/K⌉ × Np floats). `scratch` holds
/// L floats. Returns 1 when done.
int ds_scan_forward_row(const ds_scan_row *row, float *scratch, float *h, float *out, float *checkpoints);

/// Backward of the whole row from the gradient `dout` of its output (L floats): segments last to
/// first, each recomputed from its checkpoint. Writes du, ddelta (and dz when the row has a gate),
/// L floats each; accumulates dA_acc (Np) and, at dB + l·dBStep and dC + l·dCStep, the gradients of
/// B and C (so a step of 0 sums over the row); adds Σ g·u to *dD_acc and Σ ddelta to *dBias_acc.
/// `scratch` holds 5·L + 2·K·Np floats. Returns 1 when done.
int ds_scan_backward_row(const ds_scan_row *row, const float *dout, const float *checkpoints, float *scratch,
                         float *du, float *ddelta, float *dz, float *dA_acc,
                         float *dB, long dBStep, float *dC, long dCStep, float *dD_acc, float *dBias_acc);

/// Channels of one batch that share an input-dependent B and C, run in blocks of as many channels
/// as a vector has lanes (`ds_scan_vector_width`), one channel per lane: channels 0 ..< count are
/// rows `length` floats apart in delta, u, z and every (channel, step) input and output.
typedef struct {
    long length, paddedStateSize, checkpointInterval, count;
    /// The first delta row; deltaBias (count floats, or NULL: 0) is added before softplus.
    const float *delta, *deltaBias;
    int deltaSoftplus;
    /// The first u and z rows (z NULL: no gate), D (count floats, or NULL: 0).
    const float *u, *z, *D;
    /// The channels' A rows (count × Np).
    const float *A;
    /// B and C of the channels' batch and group, (L, Np) each.
    const float *B, *C;
} ds_scan_block;

/// Floats of scratch the block kernels need (whatever the number of channels).
long ds_scan_block_scratch_count(long length, long paddedStateSize, long checkpointInterval);

/// Forward from the zero state: out (count rows of L); the last state (count × Np) when `lastState`
/// is not NULL; when `checkpoints` is not NULL the state entering every K-th step (⌈L/K⌉ × Np
/// floats per channel, laid out per block). Returns 1 when done.
int ds_scan_forward_blocks(const ds_scan_block *unit, float *scratch, float *out, float *lastState, float *checkpoints);

/// The (channel, step) rows the block backward reads and writes besides the unit's inputs.
typedef struct {
    /// The output gradient: channel c's row starts at dout + c·doutRowStride and its steps are
    /// doutStepStride apart (1, or 0 when the row is one value repeated, as a broadcast gradient).
    const float *dout;
    long doutRowStride, doutStepStride;
    /// The input gradients du, ddelta and dz (NULL without a gate), rows `length` floats apart.
    float *du, *ddelta, *dz;
    /// Nonzero: add into du, ddelta, dz instead of overwriting them.
    int accumulate;
} ds_scan_block_rows;

/// Backward from the gradient of the output, with the forward's checkpoints: writes (or adds
/// into) the du, ddelta (and dz when there is a gate) rows of `rows`, writes dA (count × Np), dD
/// and dBias (count floats each); adds the gradients of B and C, summed over the channels, into dB
/// and dC ((L, Np) each). Returns 1 when done.
int ds_scan_backward_blocks(const ds_scan_block *unit, const ds_scan_block_rows *rows, const float *checkpoints,
                            float *scratch, float *dA, float *dD, float *dBias, float *dB, float *dC);

#endif
