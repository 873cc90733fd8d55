/*
 * attention_scalar.c — the reference attention in portable C (see ops.h):
 *   s_j = (q_i,h . k_j,hk) * scale for allowed keys, m = max_j s_j,
 *   e_j = exp(s_j - m), l = sum_j e_j (f32, in key order),
 *   f32 mode : out = sum_j (e_j / l) v_j
 *   bf16 mode: out = bf16( (sum_j bf16(e_j) v_j) * (1 / l) )   (flash-attention rounding)
 * Masks: causal j <= i, segment seg[i] == seg[j]. A row with no allowed key is 0.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cpu_isa.h"

static int allowed(i4_mask_kind mask, const int64_t *seg, int64_t i, int64_t j) {
    if (mask == I4_MASK_CAUSAL) return j <= i;
    if (mask == I4_MASK_SEGMENT) return seg[i] == seg[j];
    return 1;
}

void i4_attention_scalar(float *out, int64_t out_stride, const float *q, int64_t q_stride, const float *k,
                         int64_t k_stride, const float *v, int64_t v_stride, int64_t nq, int64_t nk, int n_heads,
                         int n_kv_heads, int head_dim, float scale, i4_mask_kind mask, const int64_t *seg,
                         i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
    const int group = n_heads / n_kv_heads;
#pragma omp parallel
    {
        float *e = malloc((size_t)(nk > 0 ? nk : 1) * sizeof *e);
        float *acc = malloc((size_t)head_dim * sizeof *acc);
        if (!e || !acc) abort(); /* the kernels have no error path (as kernel.h) */
#pragma omp for collapse(2) schedule(static)
        for (int h = 0; h < n_heads; h++) {
            for (int64_t i = 0; i < nq; i++) {
                const int hk = h / group;
                const float *qi = q + i * q_stride + (int64_t)h * head_dim;
                float m = -INFINITY;
                for (int64_t j = 0; j < nk; j++) {
                    if (!allowed(mask, seg, i, j)) {
                        e[j] = -INFINITY;
                        continue;
                    }
                    const float *kj = k + j * k_stride + (int64_t)hk * head_dim;
                    float s = 0.0f;
                    for (int d = 0; d < head_dim; d++) s = fmaf(qi[d], kj[d], s);
                    e[j] = s * scale;
                    if (e[j] > m) m = e[j];
                }
                float *o = out + i * out_stride + (int64_t)h * head_dim;
                if (m == -INFINITY) {
                    memset(o, 0, (size_t)head_dim * sizeof *o);
                    continue;
                }
                float l = 0.0f;
                for (int64_t j = 0; j < nk; j++) {
                    e[j] = e[j] == -INFINITY ? 0.0f : expf(e[j] - m);
                    l += e[j];
                }
                for (int64_t j = 0; j < nk; j++) e[j] = bf ? i4_round_bf16(e[j]) : e[j] / l;
                memset(acc, 0, (size_t)head_dim * sizeof *acc);
                for (int64_t j = 0; j < nk; j++) {
                    if (e[j] == 0.0f) continue;
                    const float *vj = v + j * v_stride + (int64_t)hk * head_dim;
                    for (int d = 0; d < head_dim; d++) acc[d] = fmaf(e[j], vj[d], acc[d]);
                }
                const float inv = bf ? 1.0f / l : 1.0f;
                for (int d = 0; d < head_dim; d++) o[d] = bf ? i4_round_bf16(acc[d] * inv) : acc[d];
            }
        }
        free(e);
        free(acc);
    }
}
