/*
 * rope.c — rotary position embeddings (rotate-half convention).
 *
 *   inv_freq[j] = f32(1 / f32(base^(2j/head_dim)))   pow in double, rounded to f32,
 *                                                    then the reciprocal in f32
 *   theta[n, j] = f32(inv_freq[j] * f32(pos))        j < head_dim/2
 *   cos/sin     = f32(cos/sin((double)theta))        (accurate reduction of large theta)
 *   table[n, j] = table[n, j + head_dim/2]           ([theta, theta] over the halves)
 * MRoPE (interleaved, 3 axes): slot j takes pos[n, 1] if j%3==1 && j<3*sections[1],
 * pos[n, 2] if j%3==2 && j<3*sections[2], else pos[n, 0].
 * Apply: out[d] = x[d]*cos[d] + rot(x)[d]*sin[d],
 *   rot(x)[d] = -x[d+half] (d < half), x[d-half] (d >= half);
 * bf16 mode: tables rounded to bf16 and out = bf16(bf16(x*cos) + bf16(rot*sin)).
 */
#include <math.h>
#include <stdlib.h>

#include "ops/ops.h"

static void inv_freqs(float *inv, int head_dim, double base) {
    for (int j = 0; j < head_dim / 2; j++) {
        float pw = (float)pow(base, (double)(2 * j) / (double)head_dim);
        inv[j] = 1.0f / pw;
    }
}

static void fill_row(float *c, float *s, const float *inv, const int64_t *pos_of_slot, int head_dim,
                     int bf) {
    const int half = head_dim / 2;
    for (int j = 0; j < half; j++) {
        float theta = inv[j] * (float)pos_of_slot[j];
        float cv = (float)cos((double)theta), sv = (float)sin((double)theta);
        if (bf) {
            cv = i4_round_bf16(cv);
            sv = i4_round_bf16(sv);
        }
        c[j] = c[j + half] = cv;
        s[j] = s[j + half] = sv;
    }
}

void i4_rope_table_1d(float *cos_out, float *sin_out, const int64_t *pos, int64_t n, int head_dim,
                      double base, i4_precision p) {
    const int half = head_dim / 2;
    float *inv = malloc((size_t)(half > 0 ? half : 1) * sizeof *inv);
    if (!inv) abort();
    inv_freqs(inv, head_dim, base);
#pragma omp parallel if (n * head_dim > 16384)
    {
        int64_t *ps = malloc((size_t)(half > 0 ? half : 1) * sizeof *ps);
        if (!ps) abort();
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            for (int j = 0; j < half; j++) ps[j] = pos[i];
            fill_row(cos_out + i * head_dim, sin_out + i * head_dim, inv, ps, head_dim,
                     p == I4_PRECISION_BF16);
        }
        free(ps);
    }
    free(inv);
}

void i4_rope_table_mrope(float *cos_out, float *sin_out, const int64_t *pos3, int64_t n,
                         int head_dim, double base, const int sections[3], i4_precision p) {
    const int half = head_dim / 2;
    float *inv = malloc((size_t)(half > 0 ? half : 1) * sizeof *inv);
    if (!inv) abort();
    inv_freqs(inv, head_dim, base);
#pragma omp parallel if (n * head_dim > 16384)
    {
        int64_t *ps = malloc((size_t)(half > 0 ? half : 1) * sizeof *ps);
        if (!ps) abort();
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            for (int j = 0; j < half; j++) {
                int axis = 0;
                if (j % 3 == 1 && j < 3 * sections[1]) axis = 1;
                else if (j % 3 == 2 && j < 3 * sections[2]) axis = 2;
                ps[j] = pos3[i * 3 + axis];
            }
            fill_row(cos_out + i * head_dim, sin_out + i * head_dim, inv, ps, head_dim,
                     p == I4_PRECISION_BF16);
        }
        free(ps);
    }
    free(inv);
}

void i4_rope_apply(float *x, int64_t n, int n_heads, int head_dim, int64_t stride,
                   const float *cos_tab, const float *sin_tab, i4_precision p) {
    const int half = head_dim / 2;
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static) if (n * n_heads * head_dim > 16384)
    for (int64_t i = 0; i < n; i++) {
        const float *c = cos_tab + i * head_dim, *s = sin_tab + i * head_dim;
        for (int h = 0; h < n_heads; h++) {
            float *xh = x + i * stride + (int64_t)h * head_dim;
            if (bf) {
                for (int d = 0; d < half; d++) {
                    float a = xh[d], b = xh[d + half];
                    xh[d] = i4_round_bf16(i4_round_bf16(a * c[d]) + i4_round_bf16(-b * s[d]));
                    xh[d + half] = i4_round_bf16(i4_round_bf16(b * c[d + half]) +
                                                 i4_round_bf16(a * s[d + half]));
                }
            } else {
                for (int d = 0; d < half; d++) {
                    float a = xh[d], b = xh[d + half];
                    xh[d] = a * c[d] + (-b) * s[d];
                    xh[d + half] = b * c[d + half] + a * s[d + half];
                }
            }
        }
    }
}
