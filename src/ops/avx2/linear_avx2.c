/*
 * linear_avx2.c — y[n, o] = sum_i x[n, i] * W[o, i] (+ b[o]), f32 accumulation.
 *
 * Effective weights (docs/MODEL.md §2.3), decoded tile by tile, never the whole matrix:
 *   F8 f32 mode : e4m3(code) * scale[o]                 (the exact f32 product)
 *   F8 bf16 mode: bf16(e4m3(code) * bf16(scale[o]))
 *   BF16/F16/F32: widened; bf16 mode rounds F16/F32 to bf16
 * Output: f32 mode y = acc + b; bf16 mode y = bf16(acc + bf16(b)).
 *
 * Structure (n > ROWDOT_MAX_N): tasks are (block of OB output rows) x (block
 * of at most TBMAX tokens), token-block major. A task walks K in chunks of
 * KC: it decodes its OB x KC weight tile once into 16-row panels stored
 * k-major ([KC][16] floats, AVX2 8x8 transposes; per-thread scratch of
 * OB*KC floats), then runs the 6x16 FMA micro-kernel (kernel.h) over all its
 * tokens, 6 at a time. Partial sums live in y; the last chunk adds the bias
 * and rounds. Few tokens (n <= ROWDOT_MAX_N): each weight row is streamed
 * once and decoded 8 at a time straight into per-token dot products.
 * F8 decode is pure integer/f32 arithmetic (no table, no subnormal operands).
 */
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "ops/avx2/kernel.h"
#include "ops/cpu_isa.h"
#include "ops/ops.h"

#define OB 64   /* output rows per task (4 panels of 16) */
#ifndef KC
#define KC 256  /* K chunk */
#endif
#define PAR_MIN_WORK 262144.0 /* multiply-adds below which one thread is faster */
#ifndef TBMAX
#define TBMAX 512 /* tokens per task at most */
#endif
#ifndef ROWDOT_MAX_N
#define ROWDOT_MAX_N 8 /* up to this many tokens: the row-streaming path */
#endif

/* f32 -> bf16 round-to-nearest-even on 8 lanes (finite inputs). */
static inline __m256 round_bf16_8(__m256 v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    u = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    return _mm256_castsi256_ps(_mm256_and_si256(u, _mm256_set1_epi32((int)0xffff0000u)));
}

/* 8x8 transpose of r[0..7] (rows) in place. */
static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

typedef struct {
    const i4_linear_w *W;
    int bf;
    float e4m3[256];
} lin_ctx;

/* Per-row decode factor: the F8 scale (bf16-rounded in bf16 mode); others unused. */
static float row_factor(const lin_ctx *c, int64_t o) {
    if (c->W->dtype != I4_DT_F8_E4M3) return 1.0f;
    float s = c->W->scale[c->W->scale_per_tensor ? 0 : o];
    return c->bf ? i4_round_bf16(s) : s;
}

/* e4m3 value of 8 codes (unscaled), built as f32 bits without subnormal
 * operands: code (sign S, exponent E, mantissa M)
 *   E >= 1: bits ((E+120) << 23) | (M << 20)            = 2^(E-7) (1 + M/8)
 *   E == 0: f32((121 << 23) | (M << 20)) - 2^-6          = M * 2^-9
 * NaN codes (0x7F, 0xFF) give a quiet NaN that survives the scale multiply
 * and the bf16 rounding. */
static inline __m256 f8_8(const uint8_t *p) {
    const __m256i code = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    const __m256i mag = _mm256_and_si256(code, _mm256_set1_epi32(0x7f));
    const __m256i sub = _mm256_cmpeq_epi32(_mm256_and_si256(mag, _mm256_set1_epi32(0x78)), _mm256_setzero_si256());
    __m256i bits = _mm256_add_epi32(_mm256_slli_epi32(mag, 20), _mm256_set1_epi32(120 << 23));
    bits = _mm256_add_epi32(bits, _mm256_and_si256(sub, _mm256_set1_epi32(1 << 23)));
    __m256 f = _mm256_sub_ps(_mm256_castsi256_ps(bits), _mm256_and_ps(_mm256_castsi256_ps(sub), _mm256_set1_ps(0x1p-6f)));
    const __m256i nan = _mm256_and_si256(_mm256_cmpeq_epi32(mag, _mm256_set1_epi32(0x7f)), _mm256_set1_epi32(0x7fc00000));
    const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(code, _mm256_set1_epi32(0x80)), 24);
    return _mm256_or_ps(f, _mm256_castsi256_ps(_mm256_or_si256(sign, nan)));
}
static inline __m256 bf16_8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
static inline __m256 f16_8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/* 8 consecutive effective weights of row o from column k (fac = row_factor). */
static inline __m256 decode8(const lin_ctx *c, int64_t o, int64_t k, float fac) {
    const i4_linear_w *W = c->W;
    const int64_t idx = o * W->in + k;
    switch (W->dtype) {
    case I4_DT_F8_E4M3: {
        __m256 v = _mm256_mul_ps(f8_8((const uint8_t *)W->w + idx), _mm256_set1_ps(fac));
        return c->bf ? round_bf16_8(v) : v;
    }
    case I4_DT_BF16: return bf16_8((const uint16_t *)W->w + idx);
    case I4_DT_F16: {
        __m256 v = f16_8((const uint16_t *)W->w + idx);
        return c->bf ? round_bf16_8(v) : v;
    }
    default: {
        __m256 v = _mm256_loadu_ps((const float *)W->w + idx);
        return c->bf ? round_bf16_8(v) : v;
    }
    }
}

/* Scalar decode of one effective weight (tails). */
static inline float decode1(const lin_ctx *c, int64_t o, int64_t k) {
    const i4_linear_w *W = c->W;
    const int64_t idx = o * W->in + k;
    float v;
    switch (W->dtype) {
    case I4_DT_F8_E4M3: {
        float s = W->scale[W->scale_per_tensor ? 0 : o];
        if (c->bf) s = i4_round_bf16(s);
        v = c->e4m3[((const uint8_t *)W->w)[idx]] * s;
        break;
    }
    case I4_DT_BF16: v = i4_bf16_to_f32(((const uint16_t *)W->w)[idx]); break;
    case I4_DT_F16: v = i4_f16_to_f32(((const uint16_t *)W->w)[idx]); break;
    default: v = ((const float *)W->w)[idx]; break;
    }
    return c->bf ? i4_round_bf16(v) : v;
}

/* One group of 8 full rows, k in [0, k8): decode 8x8 blocks, transpose them
 * to k-major, apply the per-row (= per-lane) scale and the bf16 rounding,
 * store into panel[k][16] at column offset col. */
#define DECODE_GROUP(LOAD, SCALE, ROUND)                                                       \
    for (int64_t k = 0; k < k8; k += 8) {                                                      \
        __m256 v[8];                                                                           \
        for (int i = 0; i < 8; i++) v[i] = LOAD;                                               \
        transpose8(v);                                                                         \
        for (int i = 0; i < 8; i++) {                                                          \
            __m256 w = v[i];                                                                   \
            if (SCALE) w = _mm256_mul_ps(w, sv);                                               \
            if (ROUND) w = round_bf16_8(w);                                                    \
            _mm256_store_ps(panel + (k + i) * 16 + col, w);                                    \
        }                                                                                      \
    }

/* panel[k][16] = W_eff[o0 + r, k0 + k] for r < nr (zeros for r >= nr), k < kc. */
static void decode_panel(const lin_ctx *c, int64_t o0, int nr, int64_t k0, int64_t kc, float *panel) {
    const i4_linear_w *W = c->W;
    const int64_t in = W->in, es = (int64_t)i4_dtype_size(W->dtype);
    const int bf = c->bf;
    /* The 16 interleaved row streams defeat the hardware prefetchers: fetch
     * this panel's next K chunk now (it is decoded one token sweep later). */
    const int64_t nk0 = k0 + kc, nk1 = nk0 + KC < in ? nk0 + KC : in;
    if (nk0 < in) {
        for (int r = 0; r < nr; r++) {
            const char *row = (const char *)W->w + ((o0 + r) * in) * es;
            for (int64_t off = nk0 * es; off < nk1 * es; off += 64) _mm_prefetch(row + off, _MM_HINT_T0);
        }
    }
    const int64_t k8 = kc & ~(int64_t)7;
    for (int g = 0; g < 2; g++) {
        const int col = g * 8;
        if (nr >= col + 8) {
            float fac[8];
            for (int i = 0; i < 8; i++) fac[i] = row_factor(c, o0 + col + i);
            const __m256 sv = _mm256_loadu_ps(fac);
            const int64_t rowk = (o0 + col) * in + k0; /* element index of (row o0+col, col k0) */
            switch (W->dtype) {
            case I4_DT_F8_E4M3: {
                const uint8_t *b = (const uint8_t *)W->w + rowk;
                if (bf) {
                    DECODE_GROUP(f8_8(b + i * in + k), 1, 1)
                } else {
                    DECODE_GROUP(f8_8(b + i * in + k), 1, 0)
                }
                break;
            }
            case I4_DT_BF16: {
                const uint16_t *b = (const uint16_t *)W->w + rowk;
                DECODE_GROUP(bf16_8(b + i * in + k), 0, 0)
                break;
            }
            case I4_DT_F16: {
                const uint16_t *b = (const uint16_t *)W->w + rowk;
                if (bf) {
                    DECODE_GROUP(f16_8(b + i * in + k), 0, 1)
                } else {
                    DECODE_GROUP(f16_8(b + i * in + k), 0, 0)
                }
                break;
            }
            default: {
                const float *b = (const float *)W->w + rowk;
                if (bf) {
                    DECODE_GROUP(_mm256_loadu_ps(b + i * in + k), 0, 1)
                } else {
                    DECODE_GROUP(_mm256_loadu_ps(b + i * in + k), 0, 0)
                }
                break;
            }
            }
            for (int64_t k = k8; k < kc; k++)
                for (int i = 0; i < 8; i++) panel[k * 16 + col + i] = decode1(c, o0 + col + i, k0 + k);
        } else {
            /* Partial group (the last rows of the layer): scalar, zeros past nr. */
            for (int64_t k = 0; k < kc; k++)
                for (int i = 0; i < 8; i++)
                    panel[k * 16 + col + i] = col + i < nr ? decode1(c, o0 + col + i, k0 + k) : 0.0f;
        }
    }
}

static float bias_eff(const lin_ctx *c, int64_t o) {
    const i4_linear_w *W = c->W;
    if (!W->bias) return 0.0f;
    float v;
    i4_convert_to_f32(W->bias_dtype, (const uint8_t *)W->bias + o * (int64_t)i4_dtype_size(W->bias_dtype), &v, 1);
    return c->bf ? i4_round_bf16(v) : v;
}

/* Few tokens: stream each weight row once (sequential, prefetch friendly),
 * decode 8 weights at a time and FMA them into up to RT token accumulators. */
#define RT 4
static void rowdot_rows(const lin_ctx *c, const float *x, int64_t xs, int64_t n, float *y, int64_t ys,
                        int64_t o0, int64_t o1) {
    const int64_t in = c->W->in, in8 = in & ~(int64_t)7;
    for (int64_t o = o0; o < o1; o++) {
        const float fac = row_factor(c, o);
        const float b = bias_eff(c, o);
        for (int64_t t0 = 0; t0 < n; t0 += RT) {
            const int nt = (int)(n - t0 < RT ? n - t0 : RT);
            __m256 acc[RT];
            for (int t = 0; t < RT; t++) acc[t] = _mm256_setzero_ps();
            const float *xr = x + t0 * xs;
            if (nt == RT) {
                for (int64_t k = 0; k < in8; k += 8) {
                    const __m256 w = decode8(c, o, k, fac);
#pragma GCC unroll 4
                    for (int t = 0; t < RT; t++) acc[t] = _mm256_fmadd_ps(_mm256_loadu_ps(xr + t * xs + k), w, acc[t]);
                }
            } else {
                for (int64_t k = 0; k < in8; k += 8) {
                    const __m256 w = decode8(c, o, k, fac);
                    for (int t = 0; t < nt; t++) acc[t] = _mm256_fmadd_ps(_mm256_loadu_ps(xr + t * xs + k), w, acc[t]);
                }
            }
            for (int t = 0; t < nt; t++) {
                __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[t]), _mm256_extractf128_ps(acc[t], 1));
                h = _mm_add_ps(h, _mm_movehl_ps(h, h));
                h = _mm_add_ss(h, _mm_movehdup_ps(h));
                float s = _mm_cvtss_f32(h);
                for (int64_t k = in8; k < in; k++) s += xr[t * xs + k] * decode1(c, o, k);
                s += b;
                y[(t0 + t) * ys + o] = c->bf ? i4_round_bf16(s) : s;
            }
        }
    }
}

/* Rows t..t+mr-1, outputs po..po+nc-1 of y from a 6x16 tile: the first K
 * chunk stores, middle chunks add, the last adds the bias (and rounds in
 * bf16 mode); a single chunk does both. */
static inline void store_tile(const lin_ctx *c, float *y, int64_t y_stride, int64_t t, int mr, int64_t po, int nc,
                              const float *tile, const float *br, int first, int last) {
    for (int r = 0; r < mr; r++) {
        float *yr = y + (t + r) * y_stride + po;
        const float *tr = tile + r * 16;
        if (first && last) {
            if (c->bf)
                for (int j = 0; j < nc; j++) yr[j] = i4_round_bf16(tr[j] + br[j]);
            else
                for (int j = 0; j < nc; j++) yr[j] = tr[j] + br[j];
        } else if (first) {
            for (int j = 0; j < nc; j++) yr[j] = tr[j];
        } else if (!last) {
            for (int j = 0; j < nc; j++) yr[j] += tr[j];
        } else if (c->bf) {
            for (int j = 0; j < nc; j++) yr[j] = i4_round_bf16((yr[j] + tr[j]) + br[j]);
        } else {
            for (int j = 0; j < nc; j++) yr[j] = (yr[j] + tr[j]) + br[j];
        }
    }
}

#ifndef LINEAR_NAME
#define LINEAR_NAME i4_linear_avx2
#endif

void LINEAR_NAME(const i4_linear_w *W, const float *x, int64_t x_stride, int64_t n, float *y,
               int64_t y_stride, i4_precision p) {
    const int64_t in = W->in, out = W->out;
    if (n <= 0 || out <= 0) return;
    lin_ctx c;
    c.W = W;
    c.bf = p == I4_PRECISION_BF16;
    for (int i = 0; i < 256; i++) c.e4m3[i] = i4_fp8_e4m3_to_f32((uint8_t)i);

    if (in <= 0) {
        for (int64_t t = 0; t < n; t++)
            for (int64_t o = 0; o < out; o++) y[t * y_stride + o] = bias_eff(&c, o);
        return;
    }

    const double work = (double)n * (double)in * (double)out;
    if (n <= ROWDOT_MAX_N) {
        const int64_t nb = (out + 15) / 16;
#pragma omp parallel for schedule(dynamic, 1) if (nb > 1 && work >= PAR_MIN_WORK)
        for (int64_t b = 0; b < nb; b++)
            rowdot_rows(&c, x, x_stride, n, y, y_stride, b * 16, b * 16 + 16 < out ? b * 16 + 16 : out);
        return;
    }

    /* Task grid: output blocks x token blocks, with enough tasks for the threads. */
    const int nth = omp_get_max_threads();
    int64_t ob = OB;
    while (ob > 16 && (out + ob - 1) / ob < 2 * nth) ob /= 2;
    const int64_t n_ob = (out + ob - 1) / ob;
    /* Token blocks of at most TBMAX rows keep a block of x resident in L3
     * while the threads sweep all output blocks over it (tasks are ordered
     * token block major). */
    int64_t n_tb = (n + TBMAX - 1) / TBMAX;
    if (n_ob * n_tb < 2 * nth) {
        n_tb = (2 * nth + n_ob - 1) / n_ob;
        int64_t max_tb = (n + I4_MR - 1) / I4_MR;
        if (n_tb > max_tb) n_tb = max_tb;
    }
    int64_t tb = (n + n_tb - 1) / n_tb;
    tb = (tb + I4_MR - 1) / I4_MR * I4_MR;
    n_tb = (n + tb - 1) / tb;
    const int64_t kcmax = in < KC ? in : KC;
    const int64_t ntask = n_ob * n_tb;

#pragma omp parallel if (ntask > 1 && work >= PAR_MIN_WORK)
    {
        float *panel = i4_scratch((size_t)(ob * kcmax) * sizeof(float));
        float *tile = i4_scratch(I4_MR * I4_NR * sizeof(float));
#ifdef LINEAR_ZMM
        float *tile2 = i4_scratch(I4_MR * I4_NR * sizeof(float));
#endif
        float *bias = malloc((size_t)ob * sizeof(float));
        if (!panel || !tile || !bias) abort();
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < ntask; task++) {
            const int64_t o0 = (task % n_ob) * ob, t0 = (task / n_ob) * tb;
            const int64_t o1 = o0 + ob < out ? o0 + ob : out, t1 = t0 + tb < n ? t0 + tb : n;
            const int np = (int)((o1 - o0 + 15) / 16);
            for (int64_t o = o0; o < o1; o++) bias[o - o0] = bias_eff(&c, o);
            for (int64_t k0 = 0; k0 < in; k0 += KC) {
                const int64_t kc = in - k0 < KC ? in - k0 : KC;
                const int first = k0 == 0, last = k0 + kc == in;
                for (int pi = 0; pi < np; pi++) {
                    int64_t po = o0 + pi * 16;
                    int nr = (int)(o1 - po < 16 ? o1 - po : 16);
                    decode_panel(&c, po, nr, k0, kc, panel + pi * kc * 16);
                }
                for (int64_t t = t0; t < t1; t += I4_MR) {
                    const int mr = (int)(t1 - t < I4_MR ? t1 - t : I4_MR);
                    for (int pi = 0; pi < np; pi++) {
                        const int64_t po = o0 + pi * 16;
#ifdef LINEAR_ZMM
                        if (pi + 1 < np) { /* two panels at once: a 6 x 32 tile in zmm registers */
                            i4_kern_zmm2(mr, kc, x + t * x_stride + k0, x_stride, panel + pi * kc * 16,
                                         panel + (pi + 1) * kc * 16, tile, tile2);
                            store_tile(&c, y, y_stride, t, mr, po, (int)(o1 - po < 16 ? o1 - po : 16), tile,
                                       bias + (po - o0), first, last);
                            pi++;
                            store_tile(&c, y, y_stride, t, mr, po + 16, (int)(o1 - po - 16 < 16 ? o1 - po - 16 : 16),
                                       tile2, bias + (po + 16 - o0), first, last);
                            continue;
                        }
#endif
                        const int nc = (int)(o1 - po < 16 ? o1 - po : 16);
                        i4_kern(mr, kc, x + t * x_stride + k0, x_stride, 1, panel + pi * kc * 16, 16, tile, 0);
                        store_tile(&c, y, y_stride, t, mr, po, nc, tile, bias + (po - o0), first, last);
                    }
                }
            }
        }
        free(panel);
        free(tile);
#ifdef LINEAR_ZMM
        free(tile2);
#endif
        free(bias);
    }
}
