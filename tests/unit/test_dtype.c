/* test_dtype.c — bf16 / f16 / fp8 e4m3fn conversions against docs/MODEL.md §12.3, §12.10. */
#include <math.h>
#include <stdint.h>

#include "tensor/dtype.h"
#include "test.h"

I4_TEST(dtype_fp8_e4m3_decode_table) {
    struct { uint8_t code; float value; } cases[] = {
        {0x00, 0.0f}, {0x01, 0.001953125f}, {0x02, 0.00390625f}, {0x07, 0.013671875f}, {0x08, 0.015625f},
        {0x09, 0.017578125f}, {0x30, 0.5f}, {0x38, 1.0f}, {0x39, 1.125f}, {0x3F, 1.875f}, {0x40, 2.0f},
        {0x48, 4.0f}, {0x70, 128.0f}, {0x77, 240.0f}, {0x78, 256.0f}, {0x7D, 416.0f}, {0x7E, 448.0f},
        {0xB8, -1.0f}, {0xC0, -2.0f}, {0xC5, -3.25f}, {0xFE, -448.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) CHECK(i4_fp8_e4m3_to_f32(cases[i].code) == cases[i].value);
    CHECK(isnan(i4_fp8_e4m3_to_f32(0x7F)) && isnan(i4_fp8_e4m3_to_f32(0xFF)));
    CHECK(i4_fp8_e4m3_to_f32(0x80) == 0.0f && signbit(i4_fp8_e4m3_to_f32(0x80)));
    /* 254 finite codes, every one exactly re-encoded. */
    int finite = 0;
    for (int c = 0; c < 256; c++) {
        float v = i4_fp8_e4m3_to_f32((uint8_t)c);
        if (isnan(v)) continue;
        finite++;
        CHECK(i4_f32_to_fp8_e4m3(v) == c);
    }
    CHECK(finite == 254);
    CHECK(i4_f32_to_fp8_e4m3(1000.0f) == 0x7E); /* saturates */
    CHECK(i4_f32_to_fp8_e4m3(1.0625f) == 0x38); /* tie between 1.0 and 1.125 -> even code */
    CHECK(i4_f32_to_fp8_e4m3(1.1875f) == 0x3A); /* tie between 1.125 and 1.25 -> even code 0x3A */
}

I4_TEST(dtype_fp8_reference_dequant_in_bf16) {
    /* docs/MODEL.md §12.3: scale 0.0123456 -> bf16 0x3c4a; W = bf16(code * bf16(scale)). */
    float lut[256];
    i4_fp8_e4m3_lut(lut, 0.0123456f, 1);
    CHECK(i4_f32_to_bf16(lut[0x38]) == 0x3c4a);
    CHECK(i4_f32_to_bf16(lut[0x7E]) == 0x40b1);
    CHECK(i4_f32_to_bf16(lut[0xC5]) == 0xbd24);
    CHECK(i4_f32_to_bf16(lut[0x01]) == 0x37ca);
    i4_fp8_e4m3_lut(lut, 0.0123456f, 0);
    CHECK(lut[0x7E] == 448.0f * 0.0123456f); /* exact f32 product in f32 mode */
}

I4_TEST(dtype_bf16_rounding) {
    CHECK(i4_f32_to_bf16(1.0f) == 0x3f80);
    /* docs/MODEL.md §12.10 modulation granularity. */
    CHECK(i4_round_bf16(1.0f + i4_round_bf16(0.001f)) == 1.0f);
    CHECK(i4_round_bf16(1.0f + i4_round_bf16(0.004f)) == 1.0078125f);
    CHECK(i4_round_bf16(1.0f + i4_round_bf16(-0.003f)) == 0.99609375f);
    /* Ties to even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7. */
    CHECK(i4_round_bf16(1.00390625f) == 1.0f);
    CHECK(i4_round_bf16(1.01171875f) == 1.015625f);
    CHECK(isnan(i4_round_bf16(NAN)));
    CHECK(i4_round_bf16(INFINITY) == INFINITY);
    /* t_min of the schedule rounds to 0x3901 (docs/MODEL.md §8.4). */
    CHECK(i4_f32_to_bf16(1.2339457598623172e-4f) == 0x3901);
}

I4_TEST(dtype_f16_roundtrip) {
    CHECK(i4_f16_to_f32(0x3c00) == 1.0f);
    CHECK(i4_f16_to_f32(0xc000) == -2.0f);
    CHECK(i4_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    CHECK(isinf(i4_f16_to_f32(0x7c00)));
    for (uint32_t h = 0; h < 0x7c00; h += 7) CHECK(i4_f32_to_f16(i4_f16_to_f32((uint16_t)h)) == h);
    CHECK(i4_f32_to_f16(65520.0f) == 0x7c00);
}

I4_TEST(dtype_names) {
    i4_dtype t;
    CHECK(i4_dtype_parse("F8_E4M3", &t) == 0 && t == I4_DT_F8_E4M3 && i4_dtype_size(t) == 1);
    CHECK(i4_dtype_parse("BF16", &t) == 0 && t == I4_DT_BF16 && i4_dtype_size(t) == 2);
    CHECK(i4_dtype_parse("I64", &t) == 0 && i4_dtype_size(t) == 8);
    CHECK(i4_dtype_parse("F64", &t) != 0);
}
