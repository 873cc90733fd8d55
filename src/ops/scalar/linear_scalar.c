/*
 * linear_scalar.c — the reference linear in portable C (see ops.h):
 *   y[n, o] = sum_k x[n, k] * w_eff[o, k] (+ b_eff[o])
 * one fused multiply-add chain per output over k in order (the AVX2 tiles
 * keep the same order, so their results agree bit for bit on that path),
 * effective weights decoded element by element:
 *   F8 f32 mode : e4m3(code) * scale[o]; bf16 mode: bf16(e4m3(code) * bf16(scale[o]))
 *   BF16/F16/F32: widened; bf16 mode rounds to bf16
 * y = acc + b (bf16 mode: bf16(acc + bf16(b))).
 */
#include <math.h>
#include <stdlib.h>

#include "ops/cpu_isa.h"

static float weight(const i4_linear_w *W, int64_t o, int64_t k, int bf) {
    const int64_t idx = o * W->in + k;
    float v;
    switch (W->dtype) {
    case I4_DT_F8_E4M3: {
        float s = W->scale[W->scale_per_tensor ? 0 : o];
        if (bf) s = i4_round_bf16(s);
        v = i4_fp8_e4m3_to_f32(((const uint8_t *)W->w)[idx]) * s;
        break;
    }
    case I4_DT_BF16: v = i4_bf16_to_f32(((const uint16_t *)W->w)[idx]); break;
    case I4_DT_F16: v = i4_f16_to_f32(((const uint16_t *)W->w)[idx]); break;
    default: v = ((const float *)W->w)[idx]; break;
    }
    return bf ? i4_round_bf16(v) : v;
}

void i4_linear_scalar(const i4_linear_w *W, const float *x, int64_t x_stride, int64_t n, float *y, int64_t y_stride,
                      i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel
    {
        /* One decoded weight row per thread, reused for every token. */
        float *row = malloc((size_t)(W->in > 0 ? W->in : 1) * sizeof *row);
        if (!row) abort(); /* the kernels have no error path */
#pragma omp for schedule(static)
        for (int64_t o = 0; o < W->out; o++) {
            float b = 0.0f;
            if (W->bias) {
                i4_convert_to_f32(W->bias_dtype, (const uint8_t *)W->bias + o * (int64_t)i4_dtype_size(W->bias_dtype),
                                  &b, 1);
                if (bf) b = i4_round_bf16(b);
            }
            for (int64_t k = 0; k < W->in; k++) row[k] = weight(W, o, k, bf);
            for (int64_t t = 0; t < n; t++) {
                const float *xr = x + t * x_stride;
                float acc = 0.0f;
                for (int64_t k = 0; k < W->in; k++) acc = fmaf(xr[k], row[k], acc);
                float s = acc + b;
                y[t * y_stride + o] = bf ? i4_round_bf16(s) : s;
            }
        }
        free(row);
    }
}
