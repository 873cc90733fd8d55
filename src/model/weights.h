/*
 * weights.h — binding checkpoint tensors to kernel weight views, with the
 * checks every network needs (dtype, shape, FP8 scale presence), and the
 * tensor-writing side used by the tiny-model generator.
 *
 * A Linear "P" is stored as P.weight [out, in] (F8_E4M3 with P.weight_scale
 * F32 [out] or 0-d, or BF16/F16/F32) and optional P.bias [out]. A layer is
 * quantized iff P.weight_scale exists (docs/MODEL.md §2.3).
 */
#ifndef I4_WEIGHTS_H
#define I4_WEIGHTS_H

#include <stdio.h>

#include "base/rng.h"
#include "ops/ops.h"
#include "tensor/safetensors.h"

/* Bind P.weight (+ P.weight_scale, + P.bias). expect_out / expect_in < 0 skip
 * that check. bias_rule: 0 = no bias allowed, 1 = bias required, 2 = optional. */
int i4_bind_linear(const i4_tensor_set *set, const char *prefix, int64_t expect_out, int64_t expect_in,
                   int bias_rule, i4_linear_w *out);

/* A plain parameter vector/array (norm weights, embeddings, biases) of any
 * float dtype; checks the element count when expect_numel >= 0. */
typedef struct {
    i4_dtype dtype;
    const void *data;
    int64_t numel;
    const i4_tensor *t;
} i4_param;
int i4_bind_param(const i4_tensor_set *set, const char *name, int64_t expect_numel, i4_param *out);
/* Decode `count` values starting at element `first` into dst (f32; in bf16
 * precision rounded to bf16). */
void i4_param_read(const i4_param *p, int64_t first, int64_t count, float *dst, i4_precision prec);

/* Bind a conv P.weight [c_out, c_in, k, k] (+ P.bias [c_out], required). */
int i4_bind_conv(const i4_tensor_set *set, const char *prefix, int64_t expect_out, int64_t expect_in, int k,
                 i4_conv_w *out);

/* ---- Writing (tiny model) ---- */

/* Add P.weight as FP8 e4m3 with per-row P.weight_scale (scale = max|row|/448,
 * clamped >= 1e-12; code = e4m3(w/scale)), values drawn N(0, std^2), and
 * P.bias (BF16, N(0, bias_std^2)) when bias_std > 0. */
int i4_tiny_linear_fp8(i4_st_writer *w, i4_rng *r, const char *prefix, int64_t out, int64_t in, double std,
                       double bias_std);
/* Add a BF16 tensor with values mean + N(0, std^2). */
int i4_tiny_bf16(i4_st_writer *w, i4_rng *r, const char *name, int ndim, const int64_t *shape, double mean,
                 double std);
/* Add an F32 tensor with given values. */
int i4_tiny_f32_values(i4_st_writer *w, const char *name, int ndim, const int64_t *shape, const float *values);

#endif
