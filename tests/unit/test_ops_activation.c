/* test_ops_activation.c — silu, tanh, nearest upsampling. */
#include <math.h>
#include <stdlib.h>

#include "ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

I4_TEST(ops_silu_tanh) {
    trng r = {51};
    const int64_t n = 100003; /* above the parallel threshold, odd */
    float *x = malloc((size_t)n * sizeof *x), *a = malloc((size_t)n * sizeof *a);
    trng_fill(&r, x, (size_t)n, -12.0f, 12.0f);
    x[0] = 0.0f;
    x[1] = -90.0f;
    x[2] = 90.0f;
    tround_bf16(x, (size_t)n);
    for (int op = 0; op < 2; op++) {
        for (int bf = 0; bf < 2; bf++) {
            memcpy(a, x, (size_t)n * sizeof *a);
            if (op == 0) i4_silu(a, n, bf ? I4_PRECISION_BF16 : I4_PRECISION_F32);
            else i4_tanh(a, n, bf ? I4_PRECISION_BF16 : I4_PRECISION_F32);
            int ok = 1;
            for (int64_t i = 0; i < n; i++) {
                double e = op == 0 ? x[i] / (1.0 + exp(-(double)x[i])) : tanh((double)x[i]);
                if (bf) {
                    if (!tis_bf16(a[i]) ||
                        (fabs(e) > 1e-30 && tbf16_ulps(a[i], i4_round_bf16((float)e)) > 1)) {
                        if (ok) fprintf(stderr, "  op %d bf16 x %.9g got %.9g want %.9g\n", op, x[i], a[i], e);
                        ok = 0;
                    }
                } else if (!(fabs(a[i] - e) <= 4e-7 * fabs(e) + 1e-30)) {
                    if (ok) fprintf(stderr, "  op %d x %.9g got %.9g want %.9g\n", op, x[i], a[i], e);
                    ok = 0;
                }
            }
            CHECK(ok);
        }
    }
    memcpy(a, x, 3 * sizeof *a);
    i4_silu(a, 3, I4_PRECISION_F32);
    CHECK(a[0] == 0.0f && fabsf(a[1]) < 1e-30f && a[2] == 90.0f);
    free(x);
    free(a);
}

I4_TEST(ops_upsample_nearest2x) {
    const int64_t C = 3, H = 5, W = 7;
    float x[3 * 5 * 7], y[3 * 10 * 14];
    for (int i = 0; i < 105; i++) x[i] = (float)i * 0.5f - 3;
    i4_upsample_nearest2x(y, x, C, H, W);
    int ok = 1;
    for (int64_t c = 0; c < C; c++)
        for (int64_t yy = 0; yy < 2 * H; yy++)
            for (int64_t xx = 0; xx < 2 * W; xx++)
                if (y[(c * 2 * H + yy) * 2 * W + xx] != x[(c * H + yy / 2) * W + xx / 2]) ok = 0;
    CHECK(ok);
    /* Large enough for the parallel path. */
    const int64_t C2 = 4, H2 = 65, W2 = 97;
    float *x2 = malloc((size_t)(C2 * H2 * W2) * sizeof *x2), *y2 = malloc((size_t)(C2 * 4 * H2 * W2) * sizeof *y2);
    for (int64_t i = 0; i < C2 * H2 * W2; i++) x2[i] = (float)i;
    i4_upsample_nearest2x(y2, x2, C2, H2, W2);
    ok = 1;
    for (int64_t c = 0; c < C2; c++)
        for (int64_t yy = 0; yy < 2 * H2; yy++)
            for (int64_t xx = 0; xx < 2 * W2; xx++)
                if (y2[(c * 2 * H2 + yy) * 2 * W2 + xx] != x2[(c * H2 + yy / 2) * W2 + xx / 2]) ok = 0;
    CHECK(ok);
    free(x2);
    free(y2);
}
