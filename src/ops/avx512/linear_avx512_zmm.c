/*
 * linear_avx512_zmm.c — the AVX2 linear (src/ops/avx2/linear_avx2.c: same
 * decode, panels, tasks and write-back) built for AVX-512 with a zmm
 * micro-kernel that runs two 16-output panels at once: a 6 x 32 tile in 12
 * zmm accumulators, twice the FMA width of the 6 x 16 ymm kernel. Each output
 * is still one FMA chain over k in order, so the results are bit for bit
 * those of the AVX2 table, in both precisions.
 */
#include <immintrin.h>
#include <stdint.h>

/* tile0[r][0..15] = sum_k a[r*ars + k] * b0[k*16 + 0..15], tile1 likewise with b1. */
static inline __attribute__((always_inline)) void kern_zmm2_mr(const int mr, int64_t K, const float *a, int64_t ars,
                                                               const float *b0, const float *b1, float *tile0,
                                                               float *tile1) {
    __m512 c0[6], c1[6];
    const float *ap[6];
#pragma GCC unroll 6
    for (int r = 0; r < mr; r++) {
        c0[r] = c1[r] = _mm512_setzero_ps();
        ap[r] = a + r * ars;
    }
    for (int64_t k = 0; k < K; k++) {
        const __m512 w0 = _mm512_loadu_ps(b0 + k * 16), w1 = _mm512_loadu_ps(b1 + k * 16);
#pragma GCC unroll 6
        for (int r = 0; r < mr; r++) {
            const __m512 av = _mm512_broadcastss_ps(_mm_load_ss(ap[r] + k));
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

static void i4_kern_zmm2(int mr, int64_t K, const float *a, int64_t ars, const float *b0, const float *b1,
                         float *tile0, float *tile1) {
    switch (mr) {
    case 6: kern_zmm2_mr(6, K, a, ars, b0, b1, tile0, tile1); break;
    case 5: kern_zmm2_mr(5, K, a, ars, b0, b1, tile0, tile1); break;
    case 4: kern_zmm2_mr(4, K, a, ars, b0, b1, tile0, tile1); break;
    case 3: kern_zmm2_mr(3, K, a, ars, b0, b1, tile0, tile1); break;
    case 2: kern_zmm2_mr(2, K, a, ars, b0, b1, tile0, tile1); break;
    default: kern_zmm2_mr(1, K, a, ars, b0, b1, tile0, tile1); break;
    }
}

#define LINEAR_ZMM 1
#define LINEAR_NAME i4_linear_avx512_zmm
#include "ops/avx2/linear_avx2.c"
