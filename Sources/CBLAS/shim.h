#ifndef DEEPSTITCH_CBLAS_SHIM_H
#define DEEPSTITCH_CBLAS_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
