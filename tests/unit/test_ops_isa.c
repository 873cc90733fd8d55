/*
 * test_ops_isa.c — every CPU kernel table this machine runs against the
 * scalar reference table (cpu_isa.h), on random shapes that are not
 * multiples of the tile sizes, all weight dtypes and both precisions.
 * Tolerances: the tables keep the reference's summation order where they
 * can (linear's tiled path and the norms' sums agree bit for bit); elsewhere
 * (linear with few tokens sums 8 lanes, attention's exp polynomial) a few
 * f32 ulps.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/cpu_isa.h"
#include "test.h"
#include "test_ops_util.h"

/* Comparisons rather than fmax, so that a NaN makes the result NaN (the
 * checks then fail) instead of being skipped; gcc 12.2 for aarch64 also
 * crashes vectorising an fmax reduction over a constant count. */
static double max_rel(const float *a, const float *b, size_t n) {
    double worst = 0, scale = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double v = fabs((double)b[i]);
        if (v > scale || v != v) scale = v;
    }
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / scale;
        if (e > worst || e != e) worst = e;
    }
    return worst;
}

I4_TEST(ops_isa_tables_exist) {
    const i4_cpu_kernels *ref = i4_cpu_kernels_for(I4_ISA_SCALAR);
    REQUIRE(ref && !strcmp(ref->name, "scalar"));
    CHECK(i4_cpu_isa_parse("scalar") == I4_ISA_SCALAR && i4_cpu_isa_parse("avx2") == I4_ISA_AVX2);
    CHECK(i4_cpu_isa_parse("sse9") == -1);
    const i4_cpu_kernels *d = i4_cpu_kernels_default();
    REQUIRE(d);
    fprintf(stderr, "  default table: %s; tables this CPU runs:", d->name);
    for (int isa = 0; isa < I4_ISA_COUNT; isa++)
        if (i4_cpu_kernels_for((i4_cpu_isa)isa)) fprintf(stderr, " %s", i4_cpu_kernels_for((i4_cpu_isa)isa)->name);
    fprintf(stderr, "\n");
}

I4_TEST(ops_isa_linear_matches_scalar) {
    const i4_cpu_kernels *ref = i4_cpu_kernels_for(I4_ISA_SCALAR);
    const i4_dtype dts[] = {I4_DT_F8_E4M3, I4_DT_BF16, I4_DT_F16, I4_DT_F32};
    const int64_t ns[] = {1, 5, 9, 40};
    trng r = {7};
    for (int isa = 1; isa < I4_ISA_COUNT; isa++) {
        const i4_cpu_kernels *k = i4_cpu_kernels_for((i4_cpu_isa)isa);
        if (!k) continue;
        for (size_t di = 0; di < 4; di++)
            for (size_t ni = 0; ni < 5; ni++)
                for (int prec = 0; prec < 2; prec++) {
                    /* the last shape: odd K over several K chunks */
                    const int64_t in = ni < 4 ? 300 : 1031, out = ni < 4 ? 70 : 50, n = ni < 4 ? ns[ni] : 20;
                    float *wf = malloc(sizeof(float) * in * out), *x = malloc(sizeof(float) * in * n);
                    float scale[70], bias[70];
                    trng_fill(&r, wf, (size_t)(in * out), -1, 1);
                    trng_fill(&r, x, (size_t)(in * n), -1, 1);
                    trng_fill(&r, scale, (size_t)out, 0.01f, 0.1f);
                    trng_fill(&r, bias, (size_t)out, -1, 1);
                    if (prec) tround_bf16(x, (size_t)(in * n));
                    void *w = tencode(dts[di], wf, (size_t)(in * out));
                    i4_linear_w W = {.dtype = dts[di], .w = w, .scale = scale, .bias_dtype = I4_DT_F32,
                                     .bias = bias, .out = out, .in = in};
                    float *y0 = malloc(sizeof(float) * out * n), *y1 = malloc(sizeof(float) * out * n);
                    i4_precision p = prec ? I4_PRECISION_BF16 : I4_PRECISION_F32;
                    ref->linear(&W, x, in, n, y0, out, p);
                    k->linear(&W, x, in, n, y1, out, p);
                    double e = max_rel(y1, y0, (size_t)(out * n));
                    /* bf16 mode rounds the outputs: one bf16 ulp where the sums differ in the last f32 bit */
                    if (e > (prec ? 8e-3 : 2e-6))
                        fprintf(stderr, "  %s linear dtype %d n %lld prec %d: rel %.3g\n", k->name, (int)dts[di],
                                (long long)n, prec, e);
                    CHECK(e <= (prec ? 8e-3 : 2e-6));
                    free(wf), free(x), free(w), free(y0), free(y1);
                }
    }
}

I4_TEST(ops_isa_attention_matches_scalar) {
    const i4_cpu_kernels *ref = i4_cpu_kernels_for(I4_ISA_SCALAR);
    trng r = {11};
    for (int isa = 1; isa < I4_ISA_COUNT; isa++) {
        const i4_cpu_kernels *k = i4_cpu_kernels_for((i4_cpu_isa)isa);
        if (!k) continue;
        for (int mask = 0; mask < 3; mask++)
            for (int prec = 0; prec < 2; prec++) {
                const int64_t nt = 45;
                const int H = 4, Hk = 2, D = 24;
                float *q = malloc(sizeof(float) * nt * H * D), *kk = malloc(sizeof(float) * nt * Hk * D);
                float *v = malloc(sizeof(float) * nt * Hk * D);
                float *o0 = malloc(sizeof(float) * nt * H * D), *o1 = malloc(sizeof(float) * nt * H * D);
                int64_t seg[45];
                for (int i = 0; i < 45; i++) seg[i] = i < 20 ? 0 : i < 30 ? 1 : 2;
                trng_fill(&r, q, (size_t)(nt * H * D), -1, 1);
                trng_fill(&r, kk, (size_t)(nt * Hk * D), -1, 1);
                trng_fill(&r, v, (size_t)(nt * Hk * D), -1, 1);
                i4_precision p = prec ? I4_PRECISION_BF16 : I4_PRECISION_F32;
                ref->attention(o0, H * D, q, H * D, kk, Hk * D, v, Hk * D, nt, nt, H, Hk, D, 0.2f, (i4_mask_kind)mask,
                               seg, p);
                k->attention(o1, H * D, q, H * D, kk, Hk * D, v, Hk * D, nt, nt, H, Hk, D, 0.2f, (i4_mask_kind)mask,
                             seg, p);
                double e = max_rel(o1, o0, (size_t)(nt * H * D));
                if (e > (prec ? 1e-2 : 1e-5))
                    fprintf(stderr, "  %s attention mask %d prec %d: rel %.3g\n", k->name, mask, prec, e);
                CHECK(e <= (prec ? 1e-2 : 1e-5));
                free(q), free(kk), free(v), free(o0), free(o1);
            }
    }
}

I4_TEST(ops_isa_conv_and_norm_sums_match_scalar) {
    const i4_cpu_kernels *ref = i4_cpu_kernels_for(I4_ISA_SCALAR);
    trng r = {13};
    for (int isa = 1; isa < I4_ISA_COUNT; isa++) {
        const i4_cpu_kernels *k = i4_cpu_kernels_for((i4_cpu_isa)isa);
        if (!k) continue;
        for (int ks = 1; ks <= 3; ks += 2)
            for (int prec = 0; prec < 2; prec++) {
                const int64_t ci = 13, co = 17, H = 9, Wd = 23;
                float *wf = malloc(sizeof(float) * co * ci * ks * ks), *x = malloc(sizeof(float) * ci * H * Wd);
                float bias[17];
                trng_fill(&r, wf, (size_t)(co * ci * ks * ks), -0.5f, 0.5f);
                trng_fill(&r, x, (size_t)(ci * H * Wd), -1, 1);
                trng_fill(&r, bias, 17, -1, 1);
                void *w = tencode(I4_DT_BF16, wf, (size_t)(co * ci * ks * ks));
                i4_conv_w W = {.dtype = I4_DT_BF16, .w = w, .bias_dtype = I4_DT_F32, .bias = bias, .c_out = co,
                               .c_in = ci, .k = ks};
                float *y0 = malloc(sizeof(float) * co * H * Wd), *y1 = malloc(sizeof(float) * co * H * Wd);
                i4_precision p = prec ? I4_PRECISION_BF16 : I4_PRECISION_F32;
                ref->conv2d(&W, x, H, Wd, (ks - 1) / 2, y0, p);
                k->conv2d(&W, x, H, Wd, (ks - 1) / 2, y1, p);
                double e = max_rel(y1, y0, (size_t)(co * H * Wd));
                if (e > (prec ? 8e-3 : 2e-6)) fprintf(stderr, "  %s conv k %d prec %d: rel %.3g\n", k->name, ks, prec, e);
                CHECK(e <= (prec ? 8e-3 : 2e-6));
                free(wf), free(x), free(w), free(y0), free(y1);
            }
        float xs[1003];
        trng_fill(&r, xs, 1003, -3, 3);
        for (int sq = 0; sq < 2; sq++) {
            double a = ref->dsum(xs, 1003, 0.25, sq), b = k->dsum(xs, 1003, 0.25, sq);
            CHECK(fabs(a - b) <= 1e-12 * fabs(a) + 1e-12);
        }
    }
}

/* The AVX-512 linear is the AVX2 one with a wider micro-kernel: the same
 * FMA chains, so the same bits, in both precisions. */
I4_TEST(ops_isa_avx512_linear_equals_avx2_bitwise) {
    const i4_cpu_kernels *a = i4_cpu_kernels_for(I4_ISA_AVX2), *b = i4_cpu_kernels_for(I4_ISA_AVX512);
    if (!a || !b) {
        fprintf(stderr, "  (this CPU has no AVX-512 table: nothing to compare)\n");
        return;
    }
    trng r = {17};
    const i4_dtype dts[] = {I4_DT_F8_E4M3, I4_DT_BF16, I4_DT_F32};
    const int64_t ns[] = {3, 9, 37, 130};
    for (size_t di = 0; di < 3; di++)
        for (size_t ni = 0; ni < 4; ni++)
            for (int prec = 0; prec < 2; prec++) {
                const int64_t in = 777, out = 83, n = ns[ni];
                float *wf = malloc(sizeof(float) * in * out), *x = malloc(sizeof(float) * in * n);
                float scale[83];
                trng_fill(&r, wf, (size_t)(in * out), -1, 1);
                trng_fill(&r, x, (size_t)(in * n), -1, 1);
                trng_fill(&r, scale, 83, 0.01f, 0.1f);
                if (prec) tround_bf16(x, (size_t)(in * n));
                void *w = tencode(dts[di], wf, (size_t)(in * out));
                i4_linear_w W = {.dtype = dts[di], .w = w, .scale = scale, .out = out, .in = in};
                float *y0 = malloc(sizeof(float) * out * n), *y1 = malloc(sizeof(float) * out * n);
                i4_precision p = prec ? I4_PRECISION_BF16 : I4_PRECISION_F32;
                a->linear(&W, x, in, n, y0, out, p);
                b->linear(&W, x, in, n, y1, out, p);
                CHECK(memcmp(y0, y1, sizeof(float) * (size_t)(out * n)) == 0);
                free(wf), free(x), free(w), free(y0), free(y1);
            }
}

/* The AVX-512 attention runs two 16-wide panels per pass with the same FMA
 * chains per output: bit for bit the AVX2 table's results, with odd and even
 * panel counts on both products (head_dim 40 = 3 panels; 200 queries = 3
 * blocks of up to 6 panels). */
I4_TEST(ops_isa_avx512_attention_equals_avx2_bitwise) {
    const i4_cpu_kernels *a2 = i4_cpu_kernels_for(I4_ISA_AVX2), *a5 = i4_cpu_kernels_for(I4_ISA_AVX512);
    if (!a2 || !a5) {
        fprintf(stderr, "  (this CPU has no AVX-512: nothing to compare)\n");
        return;
    }
    trng r = {17};
    const int dims[2] = {40, 64};
    for (int di = 0; di < 2; di++)
        for (int mask = 0; mask < 3; mask++)
            for (int prec = 0; prec < 2; prec++) {
                const int64_t nt = 200;
                const int H = 2, Hk = 1, D = dims[di];
                float *q = malloc(sizeof(float) * nt * H * D), *kk = malloc(sizeof(float) * nt * Hk * D);
                float *v = malloc(sizeof(float) * nt * Hk * D);
                float *o0 = malloc(sizeof(float) * nt * H * D), *o1 = malloc(sizeof(float) * nt * H * D);
                int64_t seg[200];
                for (int i = 0; i < 200; i++) seg[i] = i < 70 ? 0 : i < 150 ? 1 : 2;
                trng_fill(&r, q, (size_t)(nt * H * D), -1, 1);
                trng_fill(&r, kk, (size_t)(nt * Hk * D), -1, 1);
                trng_fill(&r, v, (size_t)(nt * Hk * D), -1, 1);
                i4_precision p = prec ? I4_PRECISION_BF16 : I4_PRECISION_F32;
                a2->attention(o0, H * D, q, H * D, kk, Hk * D, v, Hk * D, nt, nt, H, Hk, D, 0.15f, (i4_mask_kind)mask,
                              seg, p);
                a5->attention(o1, H * D, q, H * D, kk, Hk * D, v, Hk * D, nt, nt, H, Hk, D, 0.15f, (i4_mask_kind)mask,
                              seg, p);
                CHECK(memcmp(o0, o1, sizeof(float) * (size_t)(nt * H * D)) == 0);
                free(q), free(kk), free(v), free(o0), free(o1);
            }
}
