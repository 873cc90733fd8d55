/* fill.c — deterministic random benchmark tensors (see fill.h). */
#include "bench/fill.h"

#include <math.h>

#include "base/rng.h"

#define CHUNK 65536

static inline float unif(i4_rng *r, float a) {
    /* 24 random bits -> [-a, a) */
    return a * ((float)(i4_rng_next(r) >> 40) * (2.0f / 16777216.0f) - 1.0f);
}

static void seed_chunk(i4_rng *r, uint64_t seed, int64_t chunk) {
    i4_rng_seed(r, seed * 0x9E3779B97F4A7C15ull + (uint64_t)chunk);
}

void i4_fill_uniform(float *x, int64_t n, float a, uint64_t seed, int bf16) {
    const int64_t nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < nc; c++) {
        i4_rng r;
        seed_chunk(&r, seed, c);
        const int64_t e = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (int64_t i = c * CHUNK; i < e; i++) {
            float v = unif(&r, a);
            x[i] = bf16 ? i4_round_bf16(v) : v;
        }
    }
}

void i4_fill_weights(void *w, float *scale, i4_dtype t, int64_t rows, int64_t cols, float a, uint64_t seed) {
    const int64_t n = rows * cols, nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < nc; c++) {
        i4_rng r;
        seed_chunk(&r, seed, c);
        const int64_t e = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (int64_t i = c * CHUNK; i < e; i++) {
            switch (t) {
            case I4_DT_F8_E4M3: {
                uint8_t code = (uint8_t)(i4_rng_next(&r) >> 56);
                if ((code & 0x7f) == 0x7f) code ^= 1; /* NaN codes -> +-448 */
                ((uint8_t *)w)[i] = code;
                break;
            }
            case I4_DT_BF16: ((uint16_t *)w)[i] = i4_f32_to_bf16(unif(&r, a)); break;
            case I4_DT_F16: ((uint16_t *)w)[i] = i4_f32_to_f16(unif(&r, a)); break;
            default: ((float *)w)[i] = unif(&r, a); break;
            }
        }
    }
    if (t != I4_DT_F8_E4M3 || !scale) return;
    /* RMS of a uniformly random non-NaN code (the two NaN codes map to 448). */
    double ss = 0;
    for (int c = 0; c < 256; c++) {
        float v = (c & 0x7f) == 0x7f ? 448.0f : i4_fp8_e4m3_to_f32((uint8_t)c);
        ss += (double)v * v;
    }
    const float base = (float)((double)a / sqrt(3.0) / sqrt(ss / 256.0));
    i4_rng r;
    seed_chunk(&r, seed ^ 0x5CA1E5ull, 0);
    for (int64_t o = 0; o < rows; o++) scale[o] = base * (0.75f + 0.5f * (unif(&r, 1.0f) * 0.5f + 0.5f));
}
