/*
 * norm.c — normalisations over contiguous vectors.
 *
 * Statistics are accumulated in double (AVX2 lanes) and rounded once to f32
 * (at least as accurate as the f32 reference reductions); everything after
 * is f32. The variance is two-pass: mean first, then mean((x - mu)^2).
 *   rmsnorm:   ms = f32(mean(x^2)), r = 1/sqrtf(ms + eps), y = w * (x*r)
 *              bf16 ONCE: y = bf16(w*(x*r)); TWICE: y = bf16(w*bf16(x*r));
 *              w (stored dtype) rounded to bf16 in bf16 mode, NULL = 1.
 *   layernorm_noaffine: mu = f32(mean x), var = f32(mean (x-mu)^2) (biased),
 *              y = (x - mu) * (1/sqrtf(var + eps)); bf16 mode rounds y.
 *   groupnorm: same statistics over each group of C/groups consecutive
 *              channels x HW pixels; y = (x - mu)*rstd * gamma[c] + beta[c];
 *              gamma/beta and y rounded to bf16 in bf16 mode.
 * All allow y == x.
 */
#include <math.h>
#include <stdlib.h>

#include "ops/cpu_isa.h"
#include "ops/ops.h"

static float load_param(i4_dtype t, const void *w, int64_t i, int bf) {
    float v;
    i4_convert_to_f32(t, (const uint8_t *)w + (size_t)i * i4_dtype_size(t), &v, 1);
    return bf ? i4_round_bf16(v) : v;
}

void i4_rmsnorm_k(const i4_cpu_kernels *k, float *y, const float *x, int64_t rows, int64_t dim, int64_t stride, i4_dtype wt,
                const void *w, float eps, i4_precision p, i4_rms_rounding r) {
    const int bf = p == I4_PRECISION_BF16;
    float *wf = NULL;
    if (w) {
        wf = malloc((size_t)dim * sizeof *wf);
        if (!wf) abort();
        for (int64_t i = 0; i < dim; i++) wf[i] = load_param(wt, w, i, bf);
    }
#pragma omp parallel for schedule(static) if (rows * dim > 16384)
    for (int64_t row = 0; row < rows; row++) {
        const float *xr = x + row * stride;
        float *yr = y + row * stride;
        float ms = (float)(k->dsum(xr, dim, 0.0, 1) / (double)dim);
        float rs = 1.0f / sqrtf(ms + eps);
        for (int64_t i = 0; i < dim; i++) {
            float n = xr[i] * rs;
            if (bf && r == I4_RMS_ROUND_TWICE) n = i4_round_bf16(n);
            float v = wf ? wf[i] * n : n;
            yr[i] = bf ? i4_round_bf16(v) : v;
        }
    }
    free(wf);
}

void i4_layernorm_noaffine_k(const i4_cpu_kernels *k, float *y, const float *x, int64_t rows, int64_t dim, float eps,
                           i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static) if (rows * dim > 16384)
    for (int64_t row = 0; row < rows; row++) {
        const float *xr = x + row * dim;
        float *yr = y + row * dim;
        float mu = (float)(k->dsum(xr, dim, 0.0, 0) / (double)dim);
        float rs = 1.0f / sqrtf((float)(k->dsum(xr, dim, (double)mu, 1) / (double)dim) + eps);
        for (int64_t i = 0; i < dim; i++) {
            float o = (xr[i] - mu) * rs;
            yr[i] = bf ? i4_round_bf16(o) : o;
        }
    }
}

void i4_groupnorm_k(const i4_cpu_kernels *k, float *y, const float *x, int64_t C, int64_t HW, int64_t groups, i4_dtype gt,
                  const void *gamma, const void *beta, float eps, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
    const int64_t cpg = C / groups;
    const int64_t gsize = cpg * HW;
    float *mu = malloc((size_t)groups * sizeof *mu);
    float *rs = malloc((size_t)groups * sizeof *rs);
    if (!mu || !rs) abort();
    /* Statistics: one group per iteration (groups are large: cpg*HW elements). */
#pragma omp parallel for schedule(dynamic, 1) if (C * HW > 16384)
    for (int64_t g = 0; g < groups; g++) {
        const float *xg = x + g * gsize;
        float m = (float)(k->dsum(xg, gsize, 0.0, 0) / (double)gsize);
        mu[g] = m;
        rs[g] = 1.0f / sqrtf((float)(k->dsum(xg, gsize, (double)m, 1) / (double)gsize) + eps);
    }
    /* Normalise: one channel per iteration. */
#pragma omp parallel for schedule(static) if (C * HW > 16384)
    for (int64_t c = 0; c < C; c++) {
        const int64_t g = c / cpg;
        const float ga = gamma ? load_param(gt, gamma, c, bf) : 1.0f;
        const float bt = beta ? load_param(gt, beta, c, bf) : 0.0f;
        const float m = mu[g], r = rs[g];
        const float *xc = x + c * HW;
        float *yc = y + c * HW;
        if (bf) {
            for (int64_t i = 0; i < HW; i++) yc[i] = i4_round_bf16((xc[i] - m) * r * ga + bt);
        } else {
            for (int64_t i = 0; i < HW; i++) yc[i] = (xc[i] - m) * r * ga + bt;
        }
    }
    free(mu);
    free(rs);
}

/* The ops.h entry points use the default kernel table. */
void i4_rmsnorm(float *y, const float *x, int64_t rows, int64_t dim, int64_t stride, i4_dtype wt, const void *w,
                float eps, i4_precision p, i4_rms_rounding r) {
    i4_rmsnorm_k(i4_cpu_kernels_default(), y, x, rows, dim, stride, wt, w, eps, p, r);
}

void i4_layernorm_noaffine(float *y, const float *x, int64_t rows, int64_t dim, float eps, i4_precision p) {
    i4_layernorm_noaffine_k(i4_cpu_kernels_default(), y, x, rows, dim, eps, p);
}

void i4_groupnorm(float *y, const float *x, int64_t C, int64_t HW, int64_t groups, i4_dtype gt, const void *gamma,
                  const void *beta, float eps, i4_precision p) {
    i4_groupnorm_k(i4_cpu_kernels_default(), y, x, C, HW, groups, gt, gamma, beta, eps, p);
}
