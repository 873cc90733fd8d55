/* dtype.c — names, sizes and scalar conversions of stored element types. */
#include "tensor/dtype.h"

#include <math.h>

static const struct {
    const char *name;
    size_t size;
} dtype_info[I4_DT_COUNT] = {
    [I4_DT_F32] = {"F32", 4},     [I4_DT_F16] = {"F16", 2}, [I4_DT_BF16] = {"BF16", 2},
    [I4_DT_F8_E4M3] = {"F8_E4M3", 1}, [I4_DT_I64] = {"I64", 8}, [I4_DT_I32] = {"I32", 4},
    [I4_DT_U8] = {"U8", 1},
};

size_t i4_dtype_size(i4_dtype t) { return (unsigned)t < I4_DT_COUNT ? dtype_info[t].size : 0; }

const char *i4_dtype_name(i4_dtype t) { return (unsigned)t < I4_DT_COUNT ? dtype_info[t].name : "?"; }

int i4_dtype_parse(const char *name, i4_dtype *out) {
    for (int t = 0; t < I4_DT_COUNT; t++) {
        if (strcmp(name, dtype_info[t].name) == 0) {
            *out = (i4_dtype)t;
            return 0;
        }
    }
    return -1;
}

float i4_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return i4_bits_to_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    return i4_bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t i4_f32_to_f16(float f) {
    uint32_t u = i4_f32_to_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    float a = fabsf(f);
    if (isnan(f)) return sign | 0x7e00;
    if (a >= 65520.0f) return sign | 0x7c00; /* rounds to infinity */
    if (a < 6.103515625e-05f) {              /* subnormal: multiples of 2^-24 */
        float q = nearbyintf(a * 16777216.0f);
        return sign | (uint16_t)q;
    }
    uint32_t au = i4_f32_to_bits(a);
    uint32_t exp = (au >> 23) - 112;
    uint32_t man = au & 0x7fffff;
    uint32_t h = (exp << 10) | (man >> 13);
    uint32_t rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return sign | (uint16_t)h;
}

float i4_fp8_e4m3_to_f32(uint8_t code) {
    int sign = code >> 7;
    int exp = (code >> 3) & 0xf;
    int man = code & 7;
    float v;
    if (exp == 0xf && man == 7) return NAN;
    if (exp == 0)
        v = ldexpf((float)man, -9);
    else
        v = ldexpf(1.0f + (float)man / 8.0f, exp - 7);
    return sign ? -v : v;
}

uint8_t i4_f32_to_fp8_e4m3(float f) {
    if (isnan(f)) return 0x7f;
    uint8_t sign = signbit(f) ? 0x80 : 0;
    float a = fabsf(f);
    if (a >= 448.0f) return sign | 0x7e;
    /* Pick the nearest of the 127 non-negative finite codes, ties to even code. */
    uint8_t best = 0;
    float best_err = INFINITY;
    for (int c = 0; c <= 0x7e; c++) {
        float err = fabsf(i4_fp8_e4m3_to_f32((uint8_t)c) - a);
        if (err < best_err || (err == best_err && (c & 1) == 0)) {
            best_err = err;
            best = (uint8_t)c;
        }
    }
    return sign | best;
}

void i4_fp8_e4m3_lut(float lut[256], float scale, int bf16_reference) {
    float s = bf16_reference ? i4_round_bf16(scale) : scale;
    for (int c = 0; c < 256; c++) {
        float v = i4_fp8_e4m3_to_f32((uint8_t)c) * s;
        lut[c] = bf16_reference ? i4_round_bf16(v) : v;
    }
}

void i4_round_bf16_inplace(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = i4_round_bf16(x[i]);
}

void i4_convert_to_f32(i4_dtype t, const void *src, float *dst, size_t n) {
    const uint8_t *b = (const uint8_t *)src;
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case I4_DT_F32: { float v; memcpy(&v, b + 4 * i, 4); dst[i] = v; break; }
        case I4_DT_F16: { uint16_t h; memcpy(&h, b + 2 * i, 2); dst[i] = i4_f16_to_f32(h); break; }
        case I4_DT_BF16: { uint16_t h; memcpy(&h, b + 2 * i, 2); dst[i] = i4_bf16_to_f32(h); break; }
        case I4_DT_F8_E4M3: dst[i] = i4_fp8_e4m3_to_f32(b[i]); break;
        case I4_DT_I64: { int64_t v; memcpy(&v, b + 8 * i, 8); dst[i] = (float)v; break; }
        case I4_DT_I32: { int32_t v; memcpy(&v, b + 4 * i, 4); dst[i] = (float)v; break; }
        case I4_DT_U8: dst[i] = (float)b[i]; break;
        default: dst[i] = NAN; break;
        }
    }
}
