/*
 * fill.h — deterministic random tensors for the benchmarks (values do not
 * change a kernel's speed as long as they stay normal and finite; these do).
 * Work is split into fixed chunks, each with its own generator seeded from
 * (seed, chunk), so the result does not depend on the thread count.
 *   i4_fill_uniform   f32 uniform in [-a, a]
 *   i4_fill_weights   n elements of dtype F32/BF16/F16 uniform in [-a, a], or
 *                     F8_E4M3 random codes (never NaN) for rows x cols, with
 *                     per-row scales such that each row's effective RMS is
 *                     about a / sqrt(3) (uniform[-a, a]'s RMS)
 * Both round to bf16 when `bf16` is set (activations fed to bf16-mode ops).
 */
#ifndef I4_BENCH_FILL_H
#define I4_BENCH_FILL_H

#include <stdint.h>

#include "tensor/dtype.h"

void i4_fill_uniform(float *x, int64_t n, float a, uint64_t seed, int bf16);
/* w: rows*cols elements of dtype t; scale: [rows] (F8 only, else unused / NULL). */
void i4_fill_weights(void *w, float *scale, i4_dtype t, int64_t rows, int64_t cols, float a, uint64_t seed);

#endif
