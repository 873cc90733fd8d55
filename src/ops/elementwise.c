/*
 * elementwise.c — the element-wise and data-movement ops of ops.h: the small
 * pieces of arithmetic between the big kernels (modulation, gated residuals,
 * SwiGLU products, row gathers and scatters, transposes, the guided Euler
 * update). Each is a plain loop over f32 values, threaded when large; the
 * bf16 mode rounds every product and sum once, as the bf16 torch ops do.
 */
#include "ops/ops.h"

#define PAR_MIN 65536 /* below this many elements a loop runs on one thread */

static inline float rnd(float v, int bf) { return bf ? i4_round_bf16(v) : v; }

void i4_ew_add(float *x, const float *y, int64_t n, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) x[i] = rnd(x[i] + y[i], bf);
}

void i4_ew_mul(float *x, const float *y, int64_t n, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) x[i] = rnd(x[i] * y[i], bf);
}

void i4_ew_add_scalar(float *x, int64_t n, float c, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) x[i] = rnd(x[i] + c, bf);
}

void i4_ew_mul_rows(float *x, const float *s, int64_t rows, int64_t dim, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static) if (rows * dim > PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < dim; i++) x[r * dim + i] = rnd(x[r * dim + i] * s[i], bf);
}

void i4_ew_gated_add(float *h, const float *a, const float *g, int64_t rows, int64_t dim, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static) if (rows * dim > PAR_MIN)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < dim; i++) h[r * dim + i] = rnd(h[r * dim + i] + rnd(g[i] * a[r * dim + i], bf), bf);
}

void i4_ew_add_rows_indexed(float *h, const float *table, const int64_t *sel, int64_t rows, int64_t dim,
                            i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static) if (rows * dim > PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *e = table + sel[r] * dim;
        for (int64_t i = 0; i < dim; i++) h[r * dim + i] = rnd(h[r * dim + i] + e[i], bf);
    }
}

void i4_gather_rows(float *dst, const float *src, int64_t ld, const int64_t *idx, int64_t n, int round_bf16) {
#pragma omp parallel for schedule(static) if (n * ld > PAR_MIN)
    for (int64_t r = 0; r < n; r++) {
        const float *s = src + idx[r] * ld;
        float *d = dst + r * ld;
        for (int64_t i = 0; i < ld; i++) d[i] = rnd(s[i], round_bf16);
    }
}

void i4_scatter_rows(float *dst, const float *src, int64_t src_stride, int64_t ld, const int64_t *idx, int64_t n) {
#pragma omp parallel for schedule(static) if (n * ld > PAR_MIN)
    for (int64_t r = 0; r < n; r++) {
        const float *s = src + r * src_stride;
        float *d = dst + idx[r] * ld;
        for (int64_t i = 0; i < ld; i++) d[i] = s[i];
    }
}

void i4_copy2d(float *dst, int64_t drs, int64_t dcs, const float *src, int64_t srs, int64_t scs, int64_t rows,
               int64_t cols, int accumulate, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
    /* Iterate so that the destination is walked along its contiguous axis
     * when one is (the VAE's transposes write both ways). */
    if (dcs == 1 || drs != 1) {
#pragma omp parallel for schedule(static) if (rows * cols > PAR_MIN)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) {
                float *d = dst + r * drs + c * dcs;
                const float s = src[r * srs + c * scs];
                *d = accumulate ? rnd(*d + s, bf) : s;
            }
    } else {
#pragma omp parallel for schedule(static) if (rows * cols > PAR_MIN)
        for (int64_t c = 0; c < cols; c++)
            for (int64_t r = 0; r < rows; r++) {
                float *d = dst + r * drs + c * dcs;
                const float s = src[r * srs + c * scs];
                *d = accumulate ? rnd(*d + s, bf) : s;
            }
    }
}

void i4_fill(float *x, int64_t n, float value) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) x[i] = value;
}

void i4_unpack_latents(float *lat, const float *tokens, int64_t gh, int64_t gw, int ph, int pw, int64_t ae,
                       const float *scale, const float *shift) {
    const int64_t tc = (int64_t)ph * pw * ae, H = gh * ph, W = gw * pw;
#pragma omp parallel for schedule(static) if (gh * gw * tc > PAR_MIN)
    for (int64_t gy = 0; gy < gh; gy++)
        for (int64_t gx = 0; gx < gw; gx++) {
            const float *t = tokens + (gy * gw + gx) * tc;
            for (int py = 0; py < ph; py++)
                for (int px = 0; px < pw; px++)
                    for (int64_t a = 0; a < ae; a++) {
                        const int64_t c = ((int64_t)py * pw + px) * ae + a;
                        lat[(a * H + gy * ph + py) * W + gx * pw + px] = t[c] * scale[c] + shift[c];
                    }
        }
}

void i4_guidance_step(float *z, const float *vc, const float *vu, int64_t n, float g, float dt) {
    const float one_minus_g = 1.0f - g;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t e = 0; e < n; e++) {
        float gv = g * vc[e];
        float uv = one_minus_g * vu[e];
        float v = gv + uv;
        float step = v * dt;
        z[e] = z[e] + step;
    }
}
