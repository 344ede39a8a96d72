// Elementwise math kernels of DeepStitch (exact GELU and its gradient, shifted exponentials of a
// row) in C, so that they run with AVX2/FMA or AVX-512 chosen at run time through function-level
// target attributes: Swift library targets compile for baseline x86-64 (SSE2) and cannot be given
// per-target ISA flags without unsafeFlags. The Swift callers (Ops/Activations.swift,
// Kernels/AttentionKernels.swift) keep their portable path for CPUs without AVX2/FMA, where
// these functions do nothing and return 0.
#ifndef DEEPSTITCH_CVECTORKERNELS_H
#define DEEPSTITCH_CVECTORKERNELS_H

/// The vector width the kernels below use on this CPU: 16 (AVX-512F), 8 (AVX2 with FMA) or 0
/// (neither: every kernel returns 0 without touching memory).
int ds_vector_width(void);

/// y[i] = x[i]·Φ(x[i]) for i < n (exact GELU; Φ by Abramowitz–Stegun 7.1.26 as PyTorch's
/// vectorised erf, absolute error below 1e−7). x and y may be the same. Returns 1, or 0.
int ds_gelu(const float *x, float *y, long n);

/// dx[i] = g[i]·(Φ(x[i]) + x[i]·φ(x[i])) for i < n, the gradient of ``ds_gelu``. Returns 1, or 0.
int ds_gelu_backward(const float *g, const float *x, float *dx, long n);

/// p[i] = e^(p[i] − shift) in place for i < n, and *sum = their sum (e^x as the Cephes
/// polynomial of the Swift kernels, 0 below −87.3). Returns 1, or 0.
int ds_exp_shifted(float *p, long n, float shift, float *sum);

#endif
