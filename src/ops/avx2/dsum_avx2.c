/* dsum_avx2.c — the double-precision sums of the norms (norm.c), AVX2 + FMA:
 * sum (x[i] - m)^p, p = 1 or 2, in 8 double lanes (two groups of 4), the
 * lanes added pairwise at the end, the tail sequentially. */
#include <immintrin.h>

#include "ops/cpu_isa.h"

/* sum (x[i] - m)^p over n elements in double (p = 1 or 2), AVX2 lanes. */
double i4_dsum_avx2(const float *x, int64_t n, double m, int sq) {
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    const __m256d mv = _mm256_set1_pd(m);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d lo = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), mv);
        __m256d hi = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), mv);
        if (sq) {
            a0 = _mm256_fmadd_pd(lo, lo, a0);
            a1 = _mm256_fmadd_pd(hi, hi, a1);
        } else {
            a0 = _mm256_add_pd(a0, lo);
            a1 = _mm256_add_pd(a1, hi);
        }
    }
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(a0, a1));
    double s = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; i++) {
        double d = (double)x[i] - m;
        s += sq ? d * d : d;
    }
    return s;
}

