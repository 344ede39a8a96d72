// The vector types the kernels of this target are written over (VectorKernels.c, PackedGemm.c,
// DirectConvolution.c): 8 and 16 floats or ints, and unaligned float vectors for loads and stores.
#ifndef DEEPSTITCH_VECTORTYPES_H
#define DEEPSTITCH_VECTORTYPES_H

typedef float vf8 __attribute__((ext_vector_type(8)));
typedef int vi8 __attribute__((ext_vector_type(8)));
typedef float vf8u __attribute__((ext_vector_type(8), aligned(4)));
typedef float vf16 __attribute__((ext_vector_type(16)));
typedef int vi16 __attribute__((ext_vector_type(16)));
typedef float vf16u __attribute__((ext_vector_type(16), aligned(4)));

#endif
