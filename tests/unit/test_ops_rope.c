/* test_ops_rope.c — rotary tables (docs/MODEL.md §12.5 numbers) and rotate-half application. */
#include <math.h>
#include <stdlib.h>

#include "ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

static float inv_freq(int j, int head_dim, double base) {
    return 1.0f / (float)pow(base, (double)(2 * j) / head_dim);
}

I4_TEST(ops_rope_inv_freq_and_table_values) {
    /* DiT numbers: head_dim 256, base 5e6. */
    CHECK(i4_f32_to_bits(inv_freq(1, 256, 5e6)) == 0x3f62efbcu);
    CHECK_NEAR(inv_freq(1, 256, 5e6), 0.8864705563, 1e-9);
    CHECK_NEAR(inv_freq(60, 256, 5e6), 7.241988205e-4, 1e-12);
    CHECK_NEAR(inv_freq(1, 256, 5e6) * 65536.0f, 58095.7344, 0.002);
    CHECK_NEAR(inv_freq(60, 256, 5e6) * 65536.0f, 47.4610939, 2e-6);
    CHECK_NEAR(inv_freq(1, 256, 5e6) * 65539.0f, 58098.3945, 0.002);
    CHECK_NEAR(inv_freq(2, 256, 5e6) * 65541.0f, 51504.0859, 0.002);

    const int hd = 256;
    const int sections[3] = {44, 42, 42};
    int64_t pos3[6] = {65536, 65536, 65536, 65536, 65539, 65541};
    float *c = malloc(2 * hd * sizeof *c), *s = malloc(2 * hd * sizeof *s);
    i4_rope_table_mrope(c, s, pos3, 2, hd, 5e6, sections, I4_PRECISION_F32);
    /* pos (65536, 65536, 65536) */
    CHECK_NEAR(c[0], -0.721834779, 3e-8);
    CHECK_NEAR(s[0], 0.692065477, 3e-8);
    CHECK_NEAR(c[60], -0.943683386, 3e-8);
    CHECK(c[128] == c[0] && s[128] == s[0] && c[128 + 60] == c[60]);
    /* pos (65536, 65539, 65541) */
    CHECK_NEAR(c[hd + 1], -0.604555666, 3e-8);
    CHECK_NEAR(s[hd + 1], -0.79656291, 3e-8);
    CHECK_NEAR(c[hd + 2], 0.685158849, 3e-8);
    CHECK_NEAR(c[hd + 0], -0.721834779, 3e-8);
    CHECK(c[hd + 129] == c[hd + 1] && s[hd + 130] == s[hd + 2]);

    /* 1-D table at the same position equals the all-equal MRoPE row. */
    float *c1 = malloc(hd * sizeof *c1), *s1 = malloc(hd * sizeof *s1);
    int64_t p1 = 65536;
    i4_rope_table_1d(c1, s1, &p1, 1, hd, 5e6, I4_PRECISION_F32);
    CHECK(memcmp(c1, c, hd * sizeof *c) == 0 && memcmp(s1, s, hd * sizeof *s) == 0);

    /* bf16 mode: the same values rounded to bf16. */
    float *cb = malloc(2 * hd * sizeof *cb), *sb = malloc(2 * hd * sizeof *sb);
    i4_rope_table_mrope(cb, sb, pos3, 2, hd, 5e6, sections, I4_PRECISION_BF16);
    int ok = 1;
    for (int i = 0; i < 2 * hd; i++) ok &= cb[i] == i4_round_bf16(c[i]) && sb[i] == i4_round_bf16(s[i]);
    CHECK(ok);
    free(c);
    free(s);
    free(c1);
    free(s1);
    free(cb);
    free(sb);
}

/* Every slot against an independent evaluation, including the section limits. */
I4_TEST(ops_rope_tables_generic) {
    const int hd = 40, half = 20;
    const int sections[3] = {10, 4, 3}; /* axis 1 only for j in {1,4,7,10}; axis 2 for {2,5,8} */
    const int64_t n = 450; /* n * head_dim above the parallel threshold */
    static int64_t pos3[450 * 3], pos1[450];
    for (int i = 0; i < 450 * 3; i++) pos3[i] = 1000 * (i % 3) + 37 * i;
    for (int i = 0; i < 450; i++) pos1[i] = 12345 * i + 3;
    static float c[450 * 40], s[450 * 40];
    i4_rope_table_mrope(c, s, pos3, n, hd, 10000.0, sections, I4_PRECISION_F32);
    int ok = 1;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < half; j++) {
            int axis = (j % 3 == 1 && j < 12) ? 1 : (j % 3 == 2 && j < 9) ? 2 : 0;
            float th = inv_freq(j, hd, 10000.0) * (float)pos3[i * 3 + axis];
            float ce = (float)cos((double)th), se = (float)sin((double)th);
            ok &= c[i * hd + j] == ce && s[i * hd + j] == se && c[i * hd + j + half] == ce &&
                  s[i * hd + j + half] == se;
        }
    CHECK(ok);
    i4_rope_table_1d(c, s, pos1, n, hd, 1e6, I4_PRECISION_F32);
    ok = 1;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < half; j++) {
            float th = inv_freq(j, hd, 1e6) * (float)pos1[i];
            ok &= c[i * hd + j] == (float)cos((double)th) && s[i * hd + j] == (float)sin((double)th) &&
                  c[i * hd + j + half] == c[i * hd + j] && s[i * hd + j + half] == s[i * hd + j];
        }
    CHECK(ok);
}

I4_TEST(ops_rope_apply) {
    trng r = {61};
    const int64_t n = 400; /* n * heads * head_dim above the parallel threshold */
    const int H = 3, hd = 16, half = 8;
    const int64_t stride = H * hd + 5;
    float *x = malloc((size_t)(n * stride) * sizeof *x), *xo = malloc((size_t)(n * stride) * sizeof *xo);
    float *c = malloc((size_t)(n * hd) * sizeof *c), *s = malloc((size_t)(n * hd) * sizeof *s);
    static int64_t pos[400];
    for (int i = 0; i < 400; i++) pos[i] = i * 3 + 1;
    trng_fill(&r, x, (size_t)(n * stride), -2, 2);
    tround_bf16(x, (size_t)(n * stride));
    for (int bf = 0; bf < 2; bf++) {
        i4_precision p = bf ? I4_PRECISION_BF16 : I4_PRECISION_F32;
        i4_rope_table_1d(c, s, pos, n, hd, 10000.0, p);
        memcpy(xo, x, (size_t)(n * stride) * sizeof *x);
        i4_rope_apply(xo, n, H, hd, stride, c, s, p);
        int ok = 1, pad = 1;
        for (int64_t i = 0; i < n; i++) {
            for (int h = 0; h < H; h++)
                for (int d = 0; d < hd; d++) {
                    const float *xh = x + i * stride + h * hd;
                    double rot = d < half ? -(double)xh[d + half] : xh[d - half];
                    double cs = c[i * hd + d], sn = s[i * hd + d];
                    float g = xo[i * stride + h * hd + d];
                    if (bf) {
                        float e = i4_round_bf16(i4_round_bf16(xh[d] * (float)cs) + i4_round_bf16((float)(rot * sn)));
                        ok &= g == e;
                    } else {
                        double e = xh[d] * cs + rot * sn;
                        ok &= fabs(g - e) <= 1e-6 * (fabs(xh[d]) + fabs(rot));
                    }
                }
            for (int64_t e = H * hd; e < stride; e++) pad &= xo[i * stride + e] == x[i * stride + e];
        }
        CHECK(ok);
        CHECK(pad);
    }
    /* Position 0 is the identity. */
    int64_t z = 0;
    float c0[16], s0[16], v[16], v0[16];
    i4_rope_table_1d(c0, s0, &z, 1, 16, 10000.0, I4_PRECISION_F32);
    for (int d = 0; d < 16; d++) v[d] = v0[d] = (float)d - 7.5f;
    i4_rope_apply(v, 1, 1, 16, 16, c0, s0, I4_PRECISION_F32);
    CHECK(memcmp(v, v0, sizeof v) == 0);
    free(x);
    free(xo);
    free(c);
    free(s);
}
