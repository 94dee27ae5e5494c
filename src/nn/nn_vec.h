/* 8-float vectors (GCC/Clang vector types) for the kernels that hold
 * channels in registers: every target gets full-width loads and stores. */
#ifndef CS_NN_VEC_H
#define CS_NN_VEC_H

#include <string.h>

#include "nn/nn_internal.h"

typedef float v8 __attribute__((vector_size(32)));

/* The helpers are static and inlined: the warning about passing 32-byte
 * vectors without AVX concerns an ABI no caller sees. */
#pragma GCC diagnostic ignored "-Wpsabi"

NN_INLINE v8 load8(const float *p)
{
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

NN_INLINE void store8(float *p, v8 v)
{
    memcpy(p, &v, sizeof v);
}

#endif
