/*
 * linear_avx512.c — y[n, o] = sum_k x[n, k] * w_eff[o, k] (+ b[o]) in bf16
 * precision with AVX-512-BF16 (vdpbf16ps); every other case (f32 precision,
 * n <= 8 tokens) goes to the AVX2 kernel.
 *
 * bf16 precision (ops.h): effective weights bf16(e4m3 * bf16(scale)) (or the
 * stored bf16, or f16/f32 rounded to bf16) and bf16-valued inputs, so every
 * product is exact in f32; vdpbf16ps adds the products of a pair of k in f32
 * (round to nearest even; it treats denormal inputs and outputs as zero) to
 * the accumulator. The sum order is by pairs, not one chain as in the
 * scalar reference: results agree to f32 rounding before the final bf16
 * rounding of y = bf16(acc + bf16(b)).
 *
 * Structure as in the AVX2 kernel: tasks are (block of OB output rows) x
 * (block of tokens); per K chunk a task decodes its weight tile into panels
 * of 16 outputs x KC/2 pairs (one zmm per pair: [k2][16][2] bf16); x is
 * converted to bf16 pairs once per call; the 6 x 32 micro-kernel (12 zmm
 * accumulators) runs over the tile.
 */
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cpu_isa.h"

#define OB 64  /* output rows per task: 4 panels of 16 */
#define KC 512 /* K chunk (even) */
#define TB 768 /* tokens per task at most (a multiple of MR): each weight tile is decoded once per block */
#define MR 6
#define PAR_MIN_WORK 262144.0

/* Panel of outputs o0..o0+nr-1 (nr <= 16), k in [k0, k0+kc): p[k2*32 + j*2 + h]
 * = bf16 bits of w_eff(o0+j, k0+2*k2+h), zero beyond nr rows or beyond K.
 * F8 rows go through a 256-entry table of bf16(e4m3(code) * bf16(scale[o]))
 * built per row (256 products for a row of thousands of codes). */
static void decode_panel(const i4_linear_w *W, const float *e4m3, int64_t o0, int nr, int64_t k0, int64_t kc,
                         uint16_t *p) {
    const int64_t k2n = (kc + 1) / 2;
    memset(p, 0, (size_t)k2n * 32 * sizeof *p);
    uint16_t lut[256];
    for (int j = 0; j < nr; j++) {
        const int64_t o = o0 + j, base = o * W->in + k0;
        uint16_t *col = p + j * 2;
        switch (W->dtype) {
        case I4_DT_F8_E4M3: {
            const float fac = i4_round_bf16(W->scale[W->scale_per_tensor ? 0 : o]);
            for (int c = 0; c < 256; c++) lut[c] = i4_f32_to_bf16(e4m3[c] * fac);
            const uint8_t *w = (const uint8_t *)W->w + base;
            for (int64_t k = 0; k < kc; k++) col[(k >> 1) * 32 + (k & 1)] = lut[w[k]];
            break;
        }
        case I4_DT_BF16: {
            const uint16_t *w = (const uint16_t *)W->w + base;
            for (int64_t k = 0; k < kc; k++) col[(k >> 1) * 32 + (k & 1)] = w[k];
            break;
        }
        case I4_DT_F16: {
            const uint16_t *w = (const uint16_t *)W->w + base;
            for (int64_t k = 0; k < kc; k++) col[(k >> 1) * 32 + (k & 1)] = i4_f32_to_bf16(i4_f16_to_f32(w[k]));
            break;
        }
        default: {
            const float *w = (const float *)W->w + base;
            for (int64_t k = 0; k < kc; k++) col[(k >> 1) * 32 + (k & 1)] = i4_f32_to_bf16(w[k]);
            break;
        }
        }
    }
}

/* tile[r][0..31] = sum over pairs k2 of xa[r][k2] . (b0|b1)[k2] for r < MR
 * (a compile-time constant, so the 12 accumulators stay in registers). */
static inline __attribute__((always_inline)) void kern_mr(const int mr, int64_t k2n, const uint32_t *xa, int64_t xs,
                                                          const uint16_t *b0, const uint16_t *b1, float *tile) {
    __m512 c0[MR], c1[MR];
    const uint32_t *xp[MR];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        c0[r] = c1[r] = _mm512_setzero_ps();
        xp[r] = xa + r * xs;
    }
    for (int64_t k2 = 0; k2 < k2n; k2++) {
        const __m512bh w0 = (__m512bh)_mm512_loadu_si512(b0 + k2 * 32);
        const __m512bh w1 = (__m512bh)_mm512_loadu_si512(b1 + k2 * 32);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            /* a broadcast straight from memory (a load-port op, not a shuffle) */
            const __m512bh a = (__m512bh)_mm512_castps_si512(_mm512_broadcastss_ps(_mm_load_ss((const float *)(xp[r] + k2))));
            c0[r] = _mm512_dpbf16_ps(c0[r], a, w0);
            c1[r] = _mm512_dpbf16_ps(c1[r], a, w1);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        _mm512_storeu_ps(tile + r * 32, c0[r]);
        _mm512_storeu_ps(tile + r * 32 + 16, c1[r]);
    }
}

static void kern(int mr, int64_t k2n, const uint32_t *xa, int64_t xs, const uint16_t *b0, const uint16_t *b1,
                 float *tile) {
    switch (mr) {
    case 6: kern_mr(6, k2n, xa, xs, b0, b1, tile); break;
    case 5: kern_mr(5, k2n, xa, xs, b0, b1, tile); break;
    case 4: kern_mr(4, k2n, xa, xs, b0, b1, tile); break;
    case 3: kern_mr(3, k2n, xa, xs, b0, b1, tile); break;
    case 2: kern_mr(2, k2n, xa, xs, b0, b1, tile); break;
    default: kern_mr(1, k2n, xa, xs, b0, b1, tile); break;
    }
}

static float bias_bf16(const i4_linear_w *W, int64_t o) {
    if (!W->bias) return 0.0f;
    float v;
    i4_convert_to_f32(W->bias_dtype, (const uint8_t *)W->bias + o * (int64_t)i4_dtype_size(W->bias_dtype), &v, 1);
    return i4_round_bf16(v);
}

void i4_linear_avx512(const i4_linear_w *W, const float *x, int64_t x_stride, int64_t n, float *y, int64_t y_stride,
                      i4_precision p) {
    const int64_t in = W->in, out = W->out;
    if (p != I4_PRECISION_BF16 || n <= 8 || in <= 0 || out <= 0) {
        i4_linear_avx2(W, x, x_stride, n, y, y_stride, p);
        return;
    }
    float e4m3[256];
    for (int i = 0; i < 256; i++) e4m3[i] = i4_fp8_e4m3_to_f32((uint8_t)i);
    const int nth = omp_get_max_threads();
    int64_t ob = OB;
    while (ob > 32 && (out + ob - 1) / ob < 2 * nth) ob /= 2;
    const int64_t n_ob = (out + ob - 1) / ob;
    int64_t n_tb = (n + TB - 1) / TB;
    if (n_ob * n_tb < 2 * nth) {
        n_tb = (2 * nth + n_ob - 1) / n_ob;
        const int64_t max_tb = (n + MR - 1) / MR;
        if (n_tb > max_tb) n_tb = max_tb;
    }
    int64_t tb = (n + n_tb - 1) / n_tb;
    tb = (tb + MR - 1) / MR * MR;
    n_tb = (n + tb - 1) / tb;
    const int64_t ntask = n_ob * n_tb;
    const int64_t kcmax = in < KC ? in : KC, k2max = (kcmax + 1) / 2;
    const double work = (double)n * (double)in * (double)out;
    /* x as bf16 pairs, converted once for all output blocks (inputs are
     * bf16-valued in this precision: exact). An odd K ends with a zero. */
    const int64_t k2all = (in + 1) / 2;
    uint32_t *xa = malloc((size_t)(n * k2all) * sizeof *xa);
    if (!xa) abort(); /* the kernels have no error path */
#pragma omp parallel for schedule(static) if (work >= PAR_MIN_WORK)
    for (int64_t t = 0; t < n; t++) {
        const float *xr = x + t * x_stride;
        uint32_t *dst = xa + t * k2all;
        for (int64_t k2 = 0; k2 < k2all; k2++) {
            const uint32_t lo = i4_f32_to_bf16(xr[2 * k2]);
            const uint32_t hi = 2 * k2 + 1 < in ? i4_f32_to_bf16(xr[2 * k2 + 1]) : 0;
            dst[k2] = lo | hi << 16;
        }
    }

#pragma omp parallel if (ntask > 1 && work >= PAR_MIN_WORK)
    {
        /* panels: ob/16 (rounded up to an even count) x k2max zmm; x pairs: tb x k2max */
        const int64_t np_max = ((ob + 31) / 32) * 2;
        uint16_t *panel = aligned_alloc(64, (size_t)(np_max * k2max * 32 * sizeof(uint16_t) + 63) & ~(size_t)63);
        float *tile = malloc(MR * 32 * sizeof *tile);
        float *bias = malloc((size_t)ob * sizeof *bias);
        if (!panel || !tile || !bias) abort(); /* the kernels have no error path */
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < ntask; task++) {
            const int64_t o0 = (task % n_ob) * ob, t0 = (task / n_ob) * tb;
            const int64_t o1 = o0 + ob < out ? o0 + ob : out, t1 = t0 + tb < n ? t0 + tb : n;
            const int np = (int)((o1 - o0 + 15) / 16), np2 = (np + 1) & ~1;
            for (int64_t o = o0; o < o1; o++) bias[o - o0] = bias_bf16(W, o);
            for (int64_t k0 = 0; k0 < in; k0 += KC) {
                const int64_t kc = in - k0 < KC ? in - k0 : KC, k2n = (kc + 1) / 2;
                const int first = k0 == 0, last = k0 + kc == in;
                for (int pi = 0; pi < np2; pi++) {
                    const int64_t po = o0 + pi * 16;
                    const int nr = pi < np ? (int)(o1 - po < 16 ? o1 - po : 16) : 0;
                    decode_panel(W, e4m3, po, nr, k0, kc, panel + pi * k2max * 32);
                }
                for (int64_t t = t0; t < t1; t += MR) {
                    const int mr = (int)(t1 - t < MR ? t1 - t : MR);
                    for (int pi = 0; pi < np2; pi += 2) {
                        kern(mr, k2n, xa + t * k2all + k0 / 2, k2all, panel + pi * k2max * 32,
                             panel + (pi + 1) * k2max * 32, tile);
                        const int64_t po = o0 + pi * 16;
                        const int nc = (int)(o1 - po < 32 ? o1 - po : 32);
                        for (int r = 0; r < mr; r++) {
                            float *yr = y + (t + r) * y_stride + po;
                            const float *tr = tile + r * 32, *br = bias + (po - o0);
                            if (first && last)
                                for (int j = 0; j < nc; j++) yr[j] = i4_round_bf16(tr[j] + br[j]);
                            else if (first)
                                for (int j = 0; j < nc; j++) yr[j] = tr[j];
                            else if (!last)
                                for (int j = 0; j < nc; j++) yr[j] += tr[j];
                            else
                                for (int j = 0; j < nc; j++) yr[j] = i4_round_bf16((yr[j] + tr[j]) + br[j]);
                        }
                    }
                }
            }
        }
        free(panel);
        free(tile);
        free(bias);
    }
    free(xa);
}
