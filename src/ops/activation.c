/*
 * activation.c — element-wise activations, in place.
 *   silu(x) = x * sigmoid(x) = x / (1 + exp(-x))     (f32; expf)
 *   tanh(x)                                          (f32; tanhf)
 * bf16 mode rounds each result to bf16 (one rounding per element).
 */
#include <math.h>

#include "ops/ops.h"

void i4_silu(float *x, int64_t n, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float s = v / (1.0f + expf(-v));
        x[i] = bf ? i4_round_bf16(s) : s;
    }
}

void i4_tanh(float *x, int64_t n, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; i++) {
        float t = tanhf(x[i]);
        x[i] = bf ? i4_round_bf16(t) : t;
    }
}
