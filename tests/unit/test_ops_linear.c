/* test_ops_linear.c — i4_linear against naive double loops; e4m3 decode values. */
#include <math.h>
#include <stdlib.h>

#include "ops/ops.h"
#include "test.h"
#include "test_ops_util.h"

I4_TEST(ops_fp8_e4m3_values) {
    CHECK(i4_fp8_e4m3_to_f32(0x01) == ldexpf(1.0f, -9));
    CHECK(i4_fp8_e4m3_to_f32(0x07) == 0.013671875f);
    CHECK(i4_fp8_e4m3_to_f32(0x7E) == 448.0f);
    CHECK(i4_fp8_e4m3_to_f32(0xC5) == -3.25f);
    CHECK(isnan(i4_fp8_e4m3_to_f32(0x7F)));
    CHECK(isnan(i4_fp8_e4m3_to_f32(0xFF)));
    float lut[256];
    i4_fp8_e4m3_lut(lut, 0.0123456f, 1);
    CHECK(i4_f32_to_bf16(lut[0x7E]) == 0x40b1 && tis_bf16(lut[0x7E]));
    CHECK(i4_f32_to_bf16(lut[0xC5]) == 0xbd24 && tis_bf16(lut[0xC5]));
    CHECK(i4_f32_to_bf16(lut[0x01]) == 0x37ca && tis_bf16(lut[0x01]));
}

/* The effective weight of element (o, i) per ops.h. */
static float weff(const i4_linear_w *W, int64_t o, int64_t i, int bf) {
    size_t idx = (size_t)(o * W->in + i);
    if (W->dtype == I4_DT_F8_E4M3) {
        float s = W->scale[W->scale_per_tensor ? 0 : o];
        float c = i4_fp8_e4m3_to_f32(((const uint8_t *)W->w)[idx]);
        return bf ? i4_round_bf16(c * i4_round_bf16(s)) : c * s;
    }
    float v = tdecode(W->dtype, W->w, idx);
    return bf ? i4_round_bf16(v) : v;
}
static float beff(const i4_linear_w *W, int64_t o, int bf) {
    if (!W->bias) return 0.0f;
    float v = tdecode(W->bias_dtype, W->bias, (size_t)o);
    return bf ? i4_round_bf16(v) : v;
}

typedef struct {
    i4_linear_w W;
    float *scale;
    void *w, *b;
} tlin;

static tlin make_lin(trng *r, i4_dtype wt, int per_tensor, i4_dtype bt, int has_bias, int64_t out,
                     int64_t in) {
    tlin L;
    memset(&L, 0, sizeof L);
    size_t nw = (size_t)(out * in);
    float *wf = malloc(nw * sizeof *wf);
    if (wt == I4_DT_F8_E4M3) {
        trng_fill(r, wf, nw, -300.0f, 300.0f);
        int64_t ns = per_tensor ? 1 : out;
        L.scale = malloc((size_t)ns * sizeof *L.scale);
        trng_fill(r, L.scale, (size_t)ns, 0.0005f, 0.004f);
    } else {
        trng_fill(r, wf, nw, -0.5f, 0.5f);
    }
    if (wt == I4_DT_F8_E4M3) { /* random codes, every finite code possible */
        uint8_t *c = malloc(nw);
        for (size_t i = 0; i < nw; i++) {
            c[i] = (uint8_t)(trng_u32(r) & 0xff);
            if ((c[i] & 0x7f) == 0x7f) c[i] = 0x3c;
        }
        L.w = c;
    } else {
        L.w = tencode(wt, wf, nw);
    }
    free(wf);
    if (has_bias) {
        float *bfv = malloc((size_t)out * sizeof *bfv);
        trng_fill(r, bfv, (size_t)out, -1.0f, 1.0f);
        L.b = tencode(bt, bfv, (size_t)out);
        free(bfv);
    }
    L.W = (i4_linear_w){.dtype = wt, .w = L.w, .scale = L.scale, .scale_per_tensor = per_tensor,
                        .bias_dtype = bt, .bias = L.b, .out = out, .in = in};
    return L;
}
static void free_lin(tlin *L) {
    free(L->w);
    free(L->b);
    free(L->scale);
}

static const i4_dtype wtypes[] = {I4_DT_F8_E4M3, I4_DT_F8_E4M3, I4_DT_BF16, I4_DT_F16, I4_DT_F32};
static const int wper[] = {0, 1, 0, 0, 0};
static const i4_dtype btypes[] = {I4_DT_F32, I4_DT_BF16, I4_DT_F16};

/* x = identity: y[t, o] is exactly W_eff[o, t] + b_eff[o] (then rounded in bf16 mode). */
I4_TEST(ops_linear_decode_exact) {
    trng r = {11};
    const int64_t in = 21, out = 35;
    float *x = calloc((size_t)(in * in), sizeof *x);
    for (int64_t i = 0; i < in; i++) x[i * in + i] = 1.0f;
    float *y = malloc((size_t)(in * out) * sizeof *y);
    for (int wi = 0; wi < 5; wi++) {
        for (int bi = 0; bi < 4; bi++) {
            tlin L = make_lin(&r, wtypes[wi], wper[wi], btypes[bi % 3], bi < 3, out, in);
            for (int bf = 0; bf < 2; bf++) {
                i4_linear(&L.W, x, in, in, y, out, bf ? I4_PRECISION_BF16 : I4_PRECISION_F32);
                int bad = 0;
                for (int64_t t = 0; t < in; t++)
                    for (int64_t o = 0; o < out; o++) {
                        float e = weff(&L.W, o, t, bf) + beff(&L.W, o, bf);
                        if (bf) e = i4_round_bf16(e);
                        if (y[t * out + o] != e) bad++;
                    }
                if (bad) fprintf(stderr, "  dtype %d per_tensor %d bias %d bf16 %d: %d mismatches\n",
                                 wtypes[wi], wper[wi], bi, bf, bad);
                CHECK(bad == 0);
            }
            free_lin(&L);
        }
    }
    free(x);
    free(y);
}

static void check_random(int *i4_failures, trng *r, i4_dtype wt, int per_tensor, i4_dtype bt,
                         int has_bias, int64_t n, int64_t in, int64_t out) {
    tlin L = make_lin(r, wt, per_tensor, bt, has_bias, out, in);
    const int64_t xs = in + 3, ys = out + 5;
    float *x = malloc((size_t)(n * xs) * sizeof *x);
    trng_fill(r, x, (size_t)(n * xs), -1.0f, 1.0f);
    tround_bf16(x, (size_t)(n * xs));
    float *y = malloc((size_t)(n * ys) * sizeof *y);
    float *ref = malloc((size_t)(n * out) * sizeof *ref);
    float *got = malloc((size_t)(n * out) * sizeof *got);
    double *sabs = malloc((size_t)(n * out) * sizeof *sabs);
    float *we = malloc((size_t)(out * in) * sizeof *we);
    for (int bf = 0; bf < 2; bf++) {
        for (int64_t o = 0; o < out; o++)
            for (int64_t i = 0; i < in; i++) we[o * in + i] = weff(&L.W, o, i, bf);
        for (int64_t i = 0; i < n * ys; i++) y[i] = -777.0f;
        for (int64_t t = 0; t < n; t++)
            for (int64_t o = 0; o < out; o++) {
                double acc = 0, sa = 0;
                for (int64_t i = 0; i < in; i++) {
                    double pr = (double)x[t * xs + i] * we[o * in + i];
                    acc += pr;
                    sa += fabs(pr);
                }
                float v = (float)acc + beff(&L.W, o, bf);
                ref[t * out + o] = bf ? i4_round_bf16(v) : v;
                sabs[t * out + o] = sa + fabs(beff(&L.W, o, bf));
            }
        i4_linear(&L.W, x, xs, n, y, ys, bf ? I4_PRECISION_BF16 : I4_PRECISION_F32);
        int pad_ok = 1, elem_ok = 1, rep_ok = 1;
        for (int64_t t = 0; t < n; t++) {
            for (int64_t o = 0; o < out; o++) {
                float g = y[t * ys + o], e = ref[t * out + o];
                got[t * out + o] = g;
                double tol = bf ? fabs(e) * (1.0 / 128) + 1e-6 * sabs[t * out + o]
                                : 2e-6 * sabs[t * out + o] + 1e-30;
                if (!(fabs(g - e) <= tol)) elem_ok = 0;
                if (bf && !tis_bf16(g)) rep_ok = 0;
            }
            for (int64_t o = out; o < ys; o++)
                if (y[t * ys + o] != -777.0f) pad_ok = 0;
        }
        double rl = i4_test_rel_l2(got, ref, (size_t)(n * out));
        if (!elem_ok || !pad_ok || !rep_ok || rl > (bf ? 4e-3 : 1e-5))
            fprintf(stderr, "  dtype %d per_tensor %d bias %d n %ld in %ld out %ld bf16 %d: rel %.3g elem %d pad %d rep %d\n",
                    wt, per_tensor, has_bias, (long)n, (long)in, (long)out, bf, rl, elem_ok, pad_ok, rep_ok);
        CHECK(elem_ok);
        CHECK(pad_ok);
        CHECK(rep_ok);
        CHECK(rl <= (bf ? 4e-3 : 1e-5));
    }
    free(x);
    free(y);
    free(ref);
    free(got);
    free(sabs);
    free(we);
    free_lin(&L);
}

I4_TEST(ops_linear_random) {
    trng r = {12345};
    static const int64_t shapes[][3] = {{1, 37, 19}, {7, 8, 16}, {13, 100, 70}, {50, 531, 97},
                                        {3, 1030, 33}, {130, 64, 129}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int wi = 0; wi < 5; wi++)
            check_random(i4_failures, &r, wtypes[wi], wper[wi], btypes[(s + wi) % 3], (s + wi) % 4 != 0,
                         shapes[s][0], shapes[s][1], shapes[s][2]);
}

/* Large K (several K chunks) and many rows, n = 1 and a larger token count. */
I4_TEST(ops_linear_large) {
    trng r = {777};
    check_random(i4_failures, &r, I4_DT_F8_E4M3, 0, I4_DT_BF16, 1, 1, 4099, 300);
    check_random(i4_failures, &r, I4_DT_BF16, 0, I4_DT_BF16, 1, 67, 2500, 90);
    /* More tokens than one token block (512). */
    check_random(i4_failures, &r, I4_DT_F8_E4M3, 0, I4_DT_F32, 1, 601, 70, 45);
}

/* n = 0 touches nothing. */
I4_TEST(ops_linear_empty) {
    trng r = {5};
    tlin L = make_lin(&r, I4_DT_F8_E4M3, 0, I4_DT_F32, 1, 9, 10);
    float x[10] = {0}, y[9] = {42};
    i4_linear(&L.W, x, 10, 0, y, 9, I4_PRECISION_F32);
    CHECK(y[0] == 42);
    free_lin(&L);
}

/* A NaN code poisons its output column only (both paths, both precisions). */
I4_TEST(ops_linear_nan_code) {
    trng r = {99};
    const int64_t in = 40, out = 24;
    tlin L = make_lin(&r, I4_DT_F8_E4M3, 0, I4_DT_F32, 0, out, in);
    ((uint8_t *)L.w)[2 * in + 3] = 0x7f;
    ((uint8_t *)L.w)[17 * in + 33] = 0xff;
    float *x = malloc((size_t)(20 * in) * sizeof *x), *y = malloc((size_t)(20 * out) * sizeof *y);
    trng_fill(&r, x, (size_t)(20 * in), -1, 1);
    static const int64_t ns[] = {1, 20};
    for (int ni = 0; ni < 2; ni++)
        for (int bf = 0; bf < 2; bf++) {
            i4_linear(&L.W, x, in, ns[ni], y, out, bf ? I4_PRECISION_BF16 : I4_PRECISION_F32);
            int ok = 1;
            for (int64_t t = 0; t < ns[ni]; t++)
                for (int64_t o = 0; o < out; o++) ok &= (o == 2 || o == 17) ? isnan(y[t * out + o]) != 0 : isfinite(y[t * out + o]) != 0;
            CHECK(ok);
        }
    free(x);
    free(y);
    free_lin(&L);
}
