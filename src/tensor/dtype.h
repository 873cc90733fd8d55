/*
 * dtype.h — element types of stored tensors and their scalar conversions.
 *
 * bf16: upper half of a binary32; encode rounds to nearest even (docs/MODEL.md §0.2).
 * f8 e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits, finite only;
 *   0x7F/0xFF are NaN; E=0 is subnormal M*2^-9 (docs/MODEL.md §2.2).
 * f16: IEEE binary16.
 */
#ifndef I4_DTYPE_H
#define I4_DTYPE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum {
    I4_DT_F32 = 0,
    I4_DT_F16,
    I4_DT_BF16,
    I4_DT_F8_E4M3,
    I4_DT_I64,
    I4_DT_I32,
    I4_DT_U8,
    I4_DT_COUNT
} i4_dtype;

/* Bytes per element. */
size_t i4_dtype_size(i4_dtype t);
/* The safetensors name ("F32", "F8_E4M3", ...). */
const char *i4_dtype_name(i4_dtype t);
/* Parse a safetensors dtype name; returns 0 or -1 when unknown. */
int i4_dtype_parse(const char *name, i4_dtype *out);

static inline float i4_bits_to_f32(uint32_t bits) {
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
static inline uint32_t i4_f32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float i4_bf16_to_f32(uint16_t h) { return i4_bits_to_f32((uint32_t)h << 16); }

/* Round-to-nearest-even f32 -> bf16 bits; NaN stays NaN (quiet). */
static inline uint16_t i4_f32_to_bf16(float f) {
    uint32_t u = i4_f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* bf16(x) as a float: the value after one RNE rounding to bfloat16. */
static inline float i4_round_bf16(float f) { return i4_bf16_to_f32(i4_f32_to_bf16(f)); }

float i4_f16_to_f32(uint16_t h);
uint16_t i4_f32_to_f16(float f);

/* e4m3fn decode of one code. */
float i4_fp8_e4m3_to_f32(uint8_t code);
/* e4m3fn encode with RNE and saturation to +-448 (used by the tiny-model writer). */
uint8_t i4_f32_to_fp8_e4m3(float f);
/* lut[c] = e4m3(c) * scale for every code c, in f32 (precision f32), or
 * bf16(e4m3(c) * bf16(scale)) (the reference arithmetic, docs/MODEL.md §2.3) when
 * bf16_reference is non-zero. NaN codes decode to NaN. */
void i4_fp8_e4m3_lut(float lut[256], float scale, int bf16_reference);

/* Round every element of x to bf16 in place. */
void i4_round_bf16_inplace(float *x, size_t n);

/* Convert n stored elements of type t at src into float (integers widen). */
void i4_convert_to_f32(i4_dtype t, const void *src, float *dst, size_t n);

#endif
