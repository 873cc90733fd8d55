/*
 * attention_avx512_zmm.c — the AVX2 attention (src/ops/avx2/attention_avx2.c:
 * same tasks, packing, softmax and write-back) built for AVX-512 with a
 * micro-kernel that computes two 6 x 16 tiles at once in 12 zmm
 * accumulators: the score block two query panels at a time, P.V two
 * head-dim panels at a time. Each output is still one FMA chain over k in
 * the same order, so the results are bit for bit those of the AVX2 table.
 */
#include <immintrin.h>
#include <stdint.h>

/* tile0[r][0..15] (+)= sum_k a[r*ars + k*aks] * b0[k*ldb + 0..15]; tile1 likewise with b1. */
static inline __attribute__((always_inline)) void kern2_zmm_mr(const int mr, int64_t K, const float *a, int64_t ars,
                                                               int64_t aks, const float *b0, const float *b1,
                                                               int64_t ldb, float *tile0, float *tile1, int load) {
    __m512 c0[6], c1[6];
    const float *ap[6];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        ap[r] = a + r * ars;
        if (load) {
            c0[r] = _mm512_loadu_ps(tile0 + r * 16);
            c1[r] = _mm512_loadu_ps(tile1 + r * 16);
        } else {
            c0[r] = c1[r] = _mm512_setzero_ps();
        }
    }
    for (int64_t k = 0; k < K; k++) {
        const __m512 w0 = _mm512_loadu_ps(b0 + k * ldb), w1 = _mm512_loadu_ps(b1 + k * ldb);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            const __m512 av = _mm512_set1_ps(ap[r][k * aks]);
            c0[r] = _mm512_fmadd_ps(av, w0, c0[r]);
            c1[r] = _mm512_fmadd_ps(av, w1, c1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        _mm512_storeu_ps(tile0 + r * 16, c0[r]);
        _mm512_storeu_ps(tile1 + r * 16, c1[r]);
    }
}

static void i4_kern2_zmm(int mr, int64_t K, const float *a, int64_t ars, int64_t aks, const float *b0,
                         const float *b1, int64_t ldb, float *tile0, float *tile1, int load) {
    switch (mr) {
    case 6: kern2_zmm_mr(6, K, a, ars, aks, b0, b1, ldb, tile0, tile1, load); break;
    case 5: kern2_zmm_mr(5, K, a, ars, aks, b0, b1, ldb, tile0, tile1, load); break;
    case 4: kern2_zmm_mr(4, K, a, ars, aks, b0, b1, ldb, tile0, tile1, load); break;
    case 3: kern2_zmm_mr(3, K, a, ars, aks, b0, b1, ldb, tile0, tile1, load); break;
    case 2: kern2_zmm_mr(2, K, a, ars, aks, b0, b1, ldb, tile0, tile1, load); break;
    default: kern2_zmm_mr(1, K, a, ars, aks, b0, b1, ldb, tile0, tile1, load); break;
    }
}

#define ATTENTION_ZMM 1
#define ATTENTION_NAME i4_attention_avx512_zmm
#include "ops/avx2/attention_avx2.c"
