/*
 * test_ops_util.h — helpers shared by the test_ops_*.c unit tests: a seeded
 * generator, stored-dtype encoders and bf16 ulp distances.
 */
#ifndef I4_TEST_OPS_UTIL_H
#define I4_TEST_OPS_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/dtype.h"

typedef struct {
    uint64_t s;
} trng;

static inline uint32_t trng_u32(trng *r) {
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33);
}
/* Uniform in [lo, hi). */
static inline float trng_uniform(trng *r, float lo, float hi) {
    return lo + (hi - lo) * (float)((double)trng_u32(r) / 2147483648.0);
}
static inline void trng_fill(trng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = trng_uniform(r, lo, hi);
}
static inline void tround_bf16(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = i4_round_bf16(x[i]);
}

/* Encode f32 values into a freshly allocated buffer of dtype t (F32/F16/BF16/F8). */
static inline void *tencode(i4_dtype t, const float *x, size_t n) {
    uint8_t *b = malloc(n * i4_dtype_size(t) + 1);
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case I4_DT_F32: memcpy(b + 4 * i, &x[i], 4); break;
        case I4_DT_F16: { uint16_t h = i4_f32_to_f16(x[i]); memcpy(b + 2 * i, &h, 2); break; }
        case I4_DT_BF16: { uint16_t h = i4_f32_to_bf16(x[i]); memcpy(b + 2 * i, &h, 2); break; }
        case I4_DT_F8_E4M3: b[i] = i4_f32_to_fp8_e4m3(x[i]); break;
        default: abort();
        }
    }
    return b;
}
/* Decode element i of a stored buffer of dtype t (F8 without scale). */
static inline float tdecode(i4_dtype t, const void *b, size_t i) {
    float v;
    i4_convert_to_f32(t, (const uint8_t *)b + i * i4_dtype_size(t), &v, 1);
    return v;
}

/* Distance in bf16 steps between two bf16-valued floats (same sign assumed
 * for nearby values; works across zero by ordering the bit patterns). */
static inline int64_t tbf16_ulps(float a, float b) {
    int32_t ia = (int32_t)(i4_f32_to_bits(a) >> 16), ib = (int32_t)(i4_f32_to_bits(b) >> 16);
    if (ia & 0x8000) ia = 0x8000 - ia;
    if (ib & 0x8000) ib = 0x8000 - ib;
    int64_t d = (int64_t)ia - ib;
    return d < 0 ? -d : d;
}
static inline int tis_bf16(float a) { return i4_round_bf16(a) == a; }

#endif
