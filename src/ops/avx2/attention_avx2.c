/*
 * attention_avx2.c — scaled dot-product attention with grouped-query heads, AVX2 + FMA.
 *   s[i, j] = (q[i,h,:] . k[j,hk,:]) * scale   for allowed keys, hk = h / (H / Hkv)
 *   p[i, j] = e / sum_j e,  e = exp(s - max_j s)        (f32; masked keys: p = 0)
 *   out[i, h, :] = sum_j p[i, j] v[j, hk, :]            (f32 accumulation)
 * bf16 mode follows the flash-attention rounding of PyTorch's
 * scaled_dot_product_attention (its CPU flash kernel and FlashAttention-2 on
 * CUDA): the unnormalised e = exp(s - max) is rounded to bf16 for P.V, the row
 * sum l stays f32 and unrounded, out = bf16(acc * (1/l)). (Rounding the
 * normalised p instead disagrees with torch on about a third of the outputs.)
 * A row with no allowed key gives zeros.
 *
 * Structure: tasks are (head, block of QB query rows). A task packs its Q
 * block k-major ([head_dim][16] panels), computes the QB x (key range) score
 * block with the 6x16 micro-kernel (6 keys x 16 queries per tile, K rows read
 * in place), runs the softmax row by row (AVX2 exp), then P.V with the same
 * micro-kernel on V packed KCH keys at a time. Memory per thread: one
 * QB x nk score block (+ QB x head_dim and KCH x head_dim panels). The key
 * range of a block is narrowed by the mask (causal: j < i1; segments: the
 * union of the rows' first..last same-segment keys, found by one sort).
 * exp: Cephes-style range reduction and degree-6 polynomial (~1 ulp).
 * Built a second time for AVX-512 (src/ops/avx512/attention_avx512_zmm.c)
 * with ATTENTION_ZMM: both products run two 16-wide panels per pass in zmm
 * registers (same FMA chains per output, so the same bits).
 */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/avx2/kernel.h"
#include "ops/cpu_isa.h"
#include "ops/ops.h"

#ifndef QB
#define PAR_MIN_WORK 262144.0 /* multiply-adds below which one thread is faster */
#define QB 96 /* query rows per task: 6 panels of 16, 16 groups of 6 */
#endif
#ifndef KCH
#define KCH 128 /* keys per P.V chunk */
#endif
#ifndef ATTENTION_NAME
#define ATTENTION_NAME i4_attention_avx2
#endif

/* e^x on 8 lanes for x <= 0 (x < -87.3, including -inf, gives 0). */
static inline __m256 exp8(__m256 x) {
    const __m256 zero_mask = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_GE_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), zero_mask);
}

static inline float hmax8(__m256 v) {
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}
static inline float hsum8(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* Softmax of s[0..n) in place (entries of disallowed keys are -inf). f32:
 * s = e / l, returns 1. bf16: s = bf16(e) unnormalised, returns 1/l (the
 * caller scales the P.V result). A row with no allowed key -> zeros. */
static float softmax_row(float *s, int64_t n, int bf) {
    const int64_t n8 = n & ~(int64_t)7;
    __m256 vm = _mm256_set1_ps(-INFINITY);
    for (int64_t j = 0; j < n8; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(s + j));
    float m = hmax8(vm);
    for (int64_t j = n8; j < n; j++) m = s[j] > m ? s[j] : m;
    if (m == -INFINITY) {
        memset(s, 0, (size_t)n * sizeof *s);
        return 0.0f;
    }
    const __m256 mv = _mm256_set1_ps(m);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < n8; j += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
        _mm256_storeu_ps(s + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum8(acc);
    if (n8 < n) {
        float tmp[8];
        for (int i = 0; i < 8; i++) tmp[i] = n8 + i < n ? s[n8 + i] : -INFINITY;
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(tmp), mv));
        _mm256_storeu_ps(tmp, e);
        for (int64_t j = n8; j < n; j++) {
            s[j] = tmp[j - n8];
            sum += s[j];
        }
    }
    if (bf) {
        for (int64_t j = 0; j < n8; j += 8) {
            __m256i u = _mm256_castps_si256(_mm256_loadu_ps(s + j));
            __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
            u = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
            _mm256_storeu_ps(s + j, _mm256_castsi256_ps(_mm256_and_si256(u, _mm256_set1_epi32((int)0xffff0000u))));
        }
        for (int64_t j = n8; j < n; j++) s[j] = i4_round_bf16(s[j]);
        return 1.0f / sum;
    }
    const __m256 sv = _mm256_set1_ps(sum);
    for (int64_t j = 0; j < n8; j += 8) _mm256_storeu_ps(s + j, _mm256_div_ps(_mm256_loadu_ps(s + j), sv));
    for (int64_t j = n8; j < n; j++) s[j] = s[j] / sum;
    return 1.0f;
}

typedef struct {
    int64_t seg, idx;
} seg_pair;
static int seg_cmp(const void *a, const void *b) {
    const seg_pair *x = a, *y = b;
    if (x->seg != y->seg) return x->seg < y->seg ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void ATTENTION_NAME(float *out, int64_t out_stride, const float *q, int64_t q_stride,
                  const float *k, int64_t k_stride, const float *v, int64_t v_stride,
                  int64_t nq, int64_t nk, int n_heads, int n_kv_heads, int head_dim, float scale,
                  i4_mask_kind mask, const int64_t *seg, i4_precision p) {
    const int bf = p == I4_PRECISION_BF16;
    const int grp = n_heads / n_kv_heads;
    const int hd = head_dim;
    if (nq <= 0 || n_heads <= 0 || hd <= 0) return;

    /* Segment masks: per query row, the first and last key of its segment. */
    int64_t *seg_lo = NULL, *seg_hi = NULL;
    if (mask == I4_MASK_SEGMENT && nk > 0) {
        seg_pair *pairs = malloc((size_t)nk * sizeof *pairs);
        seg_lo = malloc((size_t)nq * sizeof *seg_lo);
        seg_hi = malloc((size_t)nq * sizeof *seg_hi);
        if (!pairs || !seg_lo || !seg_hi) abort();
        for (int64_t j = 0; j < nk; j++) pairs[j] = (seg_pair){seg[j], j};
        qsort(pairs, (size_t)nk, sizeof *pairs, seg_cmp);
        for (int64_t a = 0; a < nk;) {
            int64_t b = a;
            while (b + 1 < nk && pairs[b + 1].seg == pairs[a].seg) b++;
            for (int64_t t = a; t <= b; t++) {
                int64_t i = pairs[t].idx;
                if (i < nq) {
                    seg_lo[i] = pairs[a].idx;
                    seg_hi[i] = pairs[b].idx + 1;
                }
            }
            a = b + 1;
        }
        free(pairs);
    }

    const int64_t nqb = (nq + QB - 1) / QB;
    const int64_t ntask = nqb * n_heads;
    /* Row stride of the score block: a multiple of 16 floats plus 16, so that
     * rows never sit a multiple of 4 KiB apart (L1 set aliasing). */
    const int64_t lds = ((nk > 0 ? nk : 1) + 15) / 16 * 16 + 16;
    const int npan = QB / 16;

#pragma omp parallel if (ntask > 1 && (double)nq * (double)nk * n_heads * hd >= PAR_MIN_WORK)
    {
        float *S = i4_scratch((size_t)(QB * lds) * sizeof(float));
        float *qp = i4_scratch((size_t)(QB * hd) * sizeof(float));
        float *vt = i4_scratch((size_t)(KCH * 16 * ((hd + 15) / 16)) * sizeof(float));
        float *tile = i4_scratch(2 * I4_MR * I4_NR * sizeof(float)); /* two tiles: the zmm build fills both */
        float *acc = i4_scratch((size_t)((QB + I4_MR - 1) / I4_MR * ((hd + 15) / 16)) * I4_MR * I4_NR * sizeof(float));
        float *rinv = i4_scratch(QB * sizeof(float));
        if (!S || !qp || !vt || !tile || !acc || !rinv) abort();
#pragma omp for schedule(dynamic, 1)
        for (int64_t task = 0; task < ntask; task++) {
            const int h = (int)(task % n_heads);
            const int64_t i0 = (task / n_heads) * QB;
            const int64_t i1 = i0 + QB < nq ? i0 + QB : nq;
            const int64_t nb = i1 - i0;
            const int hk = h / grp;

            /* Key range of this block. */
            int64_t jlo = 0, jhi = nk;
            if (mask == I4_MASK_CAUSAL) {
                jhi = i1 < nk ? i1 : nk;
            } else if (mask == I4_MASK_SEGMENT && nk > 0) {
                jlo = nk;
                jhi = 0;
                for (int64_t i = i0; i < i1; i++) {
                    if (seg_lo[i] < jlo) jlo = seg_lo[i];
                    if (seg_hi[i] > jhi) jhi = seg_hi[i];
                }
            }
            const int64_t nkr = jhi > jlo ? jhi - jlo : 0;
            if (nkr == 0) {
                for (int64_t i = i0; i < i1; i++) memset(out + i * out_stride + (int64_t)h * hd, 0, (size_t)hd * sizeof(float));
                continue;
            }

            /* Pack Q: qp[panel][d][16]. */
            for (int pi = 0; pi < npan; pi++)
                for (int qq = 0; qq < 16; qq++) {
                    const int64_t i = i0 + pi * 16 + qq;
                    float *dst = qp + (int64_t)pi * hd * 16 + qq;
                    if (i < i1) {
                        const float *src = q + i * q_stride + (int64_t)h * hd;
                        for (int d = 0; d < hd; d++) dst[d * 16] = src[d];
                    } else {
                        for (int d = 0; d < hd; d++) dst[d * 16] = 0.0f;
                    }
                }

            /* Scores: S[i - i0][j - jlo]. */
            const int np_used = (int)((nb + 15) / 16);
            for (int64_t j = 0; j < nkr; j += I4_MR) {
                const int mr = (int)(nkr - j < I4_MR ? nkr - j : I4_MR);
                const float *kr = k + (jlo + j) * k_stride + (int64_t)hk * hd;
                for (int pi = 0; pi < np_used; pi++) {
#ifdef ATTENTION_ZMM
                    /* two query panels per pass: the second tile lands I4_MR*16 floats on */
                    if (pi + 1 < np_used) {
                        i4_kern2_zmm(mr, hd, kr, k_stride, 1, qp + (int64_t)pi * hd * 16,
                                     qp + (int64_t)(pi + 1) * hd * 16, 16, tile, tile + I4_MR * 16, 0);
                        for (int half = 0; half < 2; half++, pi++) {
                            const int nqq = (int)(nb - pi * 16 < 16 ? nb - pi * 16 : 16);
                            const float *t = tile + half * I4_MR * 16;
                            for (int r = 0; r < mr; r++)
                                for (int qq = 0; qq < nqq; qq++) S[(pi * 16 + qq) * lds + j + r] = t[r * 16 + qq] * scale;
                        }
                        pi--;
                        continue;
                    }
#endif
                    i4_kern(mr, hd, kr, k_stride, 1, qp + (int64_t)pi * hd * 16, 16, tile, 0);
                    const int nqq = (int)(nb - pi * 16 < 16 ? nb - pi * 16 : 16);
                    for (int r = 0; r < mr; r++)
                        for (int qq = 0; qq < nqq; qq++) S[(pi * 16 + qq) * lds + j + r] = tile[r * 16 + qq] * scale;
                }
            }

            /* Mask + softmax per row. */
            for (int64_t i = i0; i < i1; i++) {
                float *srow = S + (i - i0) * lds;
                if (mask == I4_MASK_CAUSAL) {
                    for (int64_t j = i + 1 - jlo; j < nkr; j++) srow[j] = -INFINITY;
                } else if (mask == I4_MASK_SEGMENT) {
                    const int64_t si = seg[i];
                    for (int64_t j = 0; j < nkr; j++)
                        if (seg[jlo + j] != si) srow[j] = -INFINITY;
                }
                rinv[i - i0] = softmax_row(srow, nkr, bf);
            }

            /* out = P V, keys in chunks of KCH (V chunk stays in L2), the
             * accumulators kept as 6x16 tiles: acc[(g/6) * ncp + c0/16]. */
            const int ncp = (hd + 15) / 16;
            const int64_t ngr = (nb + I4_MR - 1) / I4_MR;
            for (int64_t j0 = 0; j0 < nkr; j0 += KCH) {
                const int64_t kc = nkr - j0 < KCH ? nkr - j0 : KCH;
                /* Pack the V chunk: vt[cp][j][16] (zero columns past head_dim). */
                for (int64_t j = 0; j < kc; j++) {
                    const float *src = v + (jlo + j0 + j) * v_stride + (int64_t)hk * hd;
                    for (int cp = 0; cp < ncp; cp++) {
                        float *dst = vt + ((int64_t)cp * KCH + j) * 16;
                        const int c0 = cp * 16, nc = hd - c0 < 16 ? hd - c0 : 16;
                        if (nc == 16) {
                            memcpy(dst, src + c0, 16 * sizeof(float));
                        } else {
                            for (int c = 0; c < 16; c++) dst[c] = c < nc ? src[c0 + c] : 0.0f;
                        }
                    }
                }
                for (int cp = 0; cp < ncp; cp++) {
                    const float *b = vt + (int64_t)cp * KCH * 16;
                    const int64_t ldb = 16;
#ifdef ATTENTION_ZMM
                    /* two column panels per pass */
                    if (cp + 1 < ncp) {
                        for (int64_t gi = 0; gi < ngr; gi++) {
                            const int64_t g = gi * I4_MR;
                            const int mr = (int)(nb - g < I4_MR ? nb - g : I4_MR);
                            i4_kern2_zmm(mr, kc, S + g * lds + j0, lds, 1, b, b + KCH * 16, ldb,
                                         acc + (gi * ncp + cp) * I4_MR * I4_NR,
                                         acc + (gi * ncp + cp + 1) * I4_MR * I4_NR, j0 > 0);
                        }
                        cp++;
                        continue;
                    }
#endif
                    for (int64_t gi = 0; gi < ngr; gi++) {
                        const int64_t g = gi * I4_MR;
                        const int mr = (int)(nb - g < I4_MR ? nb - g : I4_MR);
                        i4_kern(mr, kc, S + g * lds + j0, lds, 1, b, ldb, acc + (gi * ncp + cp) * I4_MR * I4_NR, j0 > 0);
                    }
                }
            }
            for (int64_t gi = 0; gi < ngr; gi++)
                for (int cp = 0; cp < ncp; cp++) {
                    const int c0 = cp * 16;
                    const int nc = hd - c0 < 16 ? hd - c0 : 16;
                    const float *t = acc + (gi * ncp + cp) * I4_MR * I4_NR;
                    for (int r = 0; r < I4_MR && gi * I4_MR + r < nb; r++) {
                        float *o = out + (i0 + gi * I4_MR + r) * out_stride + (int64_t)h * hd + c0;
                        const float *tr = t + r * 16;
                        const float ri = rinv[gi * I4_MR + r];
                        if (bf)
                            for (int c = 0; c < nc; c++) o[c] = i4_round_bf16(tr[c] * ri);
                        else
                            for (int c = 0; c < nc; c++) o[c] = tr[c];
                    }
                }
        }
        free(S);
        free(qp);
        free(vt);
        free(tile);
        free(acc);
        free(rinv);
    }
    free(seg_lo);
    free(seg_hi);
}
