/*
 * kernel.h — private to src/ops: the f32 register-tile micro-kernel shared by
 * linear, attention and conv2d (AVX2 + FMA, x86-64-v3).
 *
 *   T[r][0..15] (+)= sum_{k<K} A(r, k) * B(k, 0..15)      r < mr <= 6
 *   A(r, k) = a[r*ars + k*aks]   (broadcast scalars)
 *   B(k, :) = b + k*ldb          (16 contiguous floats, any alignment)
 * T is a 6x16 float tile (64-byte aligned); `load` = accumulate onto it.
 * Summation order over k is sequential per output element (one FMA chain).
 */
#ifndef I4_OPS_KERNEL_H
#define I4_OPS_KERNEL_H

#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>

#define I4_MR 6
#define I4_NR 16

/* 64-byte aligned scratch (size rounded up as C11 aligned_alloc requires).
 * The kernels have no error path: out of memory aborts. */
static inline void *i4_scratch(size_t bytes) {
    void *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!p && bytes) abort();
    return p;
}

static inline __attribute__((always_inline)) void i4_kern_mr(const int MR, int64_t K, const float *a,
                                                             int64_t ars, int64_t aks, const float *b,
                                                             int64_t ldb, float *tile, int load) {
    __m256 c0[I4_MR], c1[I4_MR];
    const float *ap[I4_MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        ap[r] = a + r * ars;
        if (load) {
            c0[r] = _mm256_load_ps(tile + r * 16);
            c1[r] = _mm256_load_ps(tile + r * 16 + 8);
        } else {
            c0[r] = _mm256_setzero_ps();
            c1[r] = _mm256_setzero_ps();
        }
    }
    for (int64_t k = 0; k < K; k++) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        b += ldb;
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            const __m256 av = _mm256_broadcast_ss(ap[r]);
            ap[r] += aks;
            c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        _mm256_store_ps(tile + r * 16, c0[r]);
        _mm256_store_ps(tile + r * 16 + 8, c1[r]);
    }
}

static inline void i4_kern(int mr, int64_t K, const float *a, int64_t ars, int64_t aks, const float *b,
                           int64_t ldb, float *tile, int load) {
    switch (mr) {
    case 6: i4_kern_mr(6, K, a, ars, aks, b, ldb, tile, load); break;
    case 5: i4_kern_mr(5, K, a, ars, aks, b, ldb, tile, load); break;
    case 4: i4_kern_mr(4, K, a, ars, aks, b, ldb, tile, load); break;
    case 3: i4_kern_mr(3, K, a, ars, aks, b, ldb, tile, load); break;
    case 2: i4_kern_mr(2, K, a, ars, aks, b, ldb, tile, load); break;
    default: i4_kern_mr(1, K, a, ars, aks, b, ldb, tile, load); break;
    }
}

#endif
