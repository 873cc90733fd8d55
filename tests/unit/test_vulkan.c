/* test_vulkan.c — every op of the Vulkan backend against the scalar CPU backend on
 * the same random inputs, in both precision modes: data movement and the
 * single-rounding element-wise ops bit for bit, the ops whose every output is
 * one fma chain in the CPU's order (linear, conv2d, rope) bit for bit too,
 * and the ops with exp/tanh or double statistics within stated tolerances
 * (the largest error is printed).
 *
 * The tests run on whatever Vulkan device there is, lavapipe included (CI).
 * Without one they FAIL, unless I4_TEST_NO_VULKAN=1 says to skip them; and
 * each checks that the backend it ran is "vulkan", so a silent fallback to
 * the CPU cannot pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/vulkan/vulkan.h"
#include "base/error.h"
#include "test.h"

static i4_backend *g_be[2]; /* [0] vulkan, [1] cpu */
static int g_tried;

static void destroy_backends(void) {
    i4_backend_destroy(g_be[0]);
    i4_backend_destroy(g_be[1]);
}

/* 1 = run, 0 = skip (I4_TEST_NO_VULKAN=1), -1 = fail. */
static int backends(void) {
    if (!g_tried) {
        g_tried = 1;
        i4_backend_options o = {"vulkan", 0, NULL, NULL};
        if (i4_backend_create(&o, &g_be[0]) != 0) {
            fprintf(stderr, "  cannot create the vulkan backend: %s\n", i4_last_error());
            g_be[0] = NULL;
        } else {
            fprintf(stderr, "  on %s\n", i4_be_describe(g_be[0]));
        }
        /* the scalar table: the reference every backend is held to (the
         * avx2/avx512 linear and conv sum in another order on some shapes) */
        if (i4_cpu_backend_create(0, "scalar", &g_be[1]) != 0) g_be[1] = NULL;
        atexit(destroy_backends);
    }
    if (g_be[0] && g_be[1]) return 1;
    const char *skip = getenv("I4_TEST_NO_VULKAN");
    if (skip && !strcmp(skip, "1")) {
        fprintf(stderr, "  skipped: I4_TEST_NO_VULKAN=1\n");
        return 0;
    }
    fprintf(stderr, "  no Vulkan backend (set I4_TEST_NO_VULKAN=1 to skip the Vulkan tests)\n");
    return -1;
}

#define SETUP()                                                                                                        \
    do {                                                                                                               \
        int ok_ = backends();                                                                                          \
        if (ok_ == 0) return;                                                                                          \
        REQUIRE(ok_ == 1);                                                                                             \
        REQUIRE(!strcmp(i4_be_name(g_be[0]), "vulkan") && !strcmp(i4_be_name(g_be[1]), "cpu"));                        \
    } while (0)

/* ---- a buffer on both backends with the same contents */

typedef struct {
    i4_buf *b[2];
    size_t bytes;
} twin;

/* host NULL: zeros */
static twin tw_new(const void *host, size_t bytes) {
    twin t = {{NULL, NULL}, bytes};
    void *zero = host ? NULL : calloc(1, bytes);
    for (int s = 0; s < 2; s++) {
        t.b[s] = i4_be_alloc(g_be[s], bytes);
        if (t.b[s]) i4_be_upload(g_be[s], i4_dv_of(t.b[s]), host ? host : zero, bytes);
    }
    free(zero);
    return t;
}
static void tw_free(twin *t) {
    for (int s = 0; s < 2; s++) i4_be_release(g_be[s], t->b[s]);
}
static i4_dv tv(twin *t, int s, int64_t f32_off) { return i4_dv_f32(i4_dv_of(t->b[s]), f32_off); }

/* Run `call` on both backends: inside it be_ is the backend and V(t) the
 * twin t's view on it (VO(t, k): k f32 elements in). */
#define BOTH(call)                                                                                                     \
    for (int s_ = 0; s_ < 2; s_++) {                                                                                   \
        i4_backend *be_ = g_be[s_];                                                                                    \
        be_->ops->call;                                                                                                \
    }
#define V(t) tv(&(t), s_, 0)
#define VO(t, k) tv(&(t), s_, (k))

static uint64_t g_rng = 88172645463325252ull;
static float frand(void) { /* uniform in [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
static float *rand_vec(size_t n, float amp, int bf) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = bf ? i4_round_bf16(amp * frand()) : amp * frand();
    return v;
}

/* Download the twin from both backends and compare: tol 0 = bit for bit;
 * else max |a-b| <= tol * max(1, max |b|). Prints the largest error. */
static int compare(const char *what, twin *t, size_t n, double tol) {
    float *a = malloc(n * sizeof *a), *c = malloc(n * sizeof *c);
    int rv = i4_be_download(g_be[0], a, i4_dv_of(t->b[0]), n * sizeof *a);
    int rc = i4_be_download(g_be[1], c, i4_dv_of(t->b[1]), n * sizeof *c);
    int ok = rv == 0 && rc == 0;
    if (rv != 0) fprintf(stderr, "  %s: vulkan: %s\n", what, i4_last_error());
    double maxd = 0, maxref = 0;
    size_t bad = 0, worst = 0, first = 0;
    for (size_t i = 0; ok && i < n; i++) {
        double d = fabs((double)a[i] - c[i]);
        if (isnan(a[i]) != isnan(c[i])) d = INFINITY;
        if (fabs(c[i]) > maxref) maxref = fabs(c[i]);
        if (tol == 0 && memcmp(&a[i], &c[i], 4) != 0 && !(isnan(a[i]) && isnan(c[i])) && bad++ == 0) first = i;
        if (d > maxd) {
            maxd = d;
            worst = i;
        }
    }
    if (ok && tol == 0 && bad) {
        fprintf(stderr, "  %s: %zu of %zu differ (first [%zu] %.9g vs cpu %.9g; max |diff| %.3g)\n", what, bad, n,
                first, a[first], c[first], maxd);
        ok = 0;
    } else if (ok && tol > 0) {
        double lim = tol * (maxref > 1 ? maxref : 1);
        if (maxd > lim) {
            fprintf(stderr, "  %s: max |diff| %.3g > %.3g ([%zu] %.9g vs cpu %.9g)\n", what, maxd, lim, worst,
                    a[worst], c[worst]);
            ok = 0;
        } else if (getenv("I4_TEST_VERBOSE")) {
            fprintf(stderr, "  %s: max |diff| %.3g (max |ref| %.3g)\n", what, maxd, maxref);
        }
    }
    free(a);
    free(c);
    return ok;
}

static const i4_precision PREC[2] = {I4_PRECISION_F32, I4_PRECISION_BF16};
static const char *pname(i4_precision p) { return p == I4_PRECISION_BF16 ? "bf16" : "f32"; }

/* ---- tests */

I4_TEST(vulkan_backend_buffers) {
    SETUP();
    i4_backend *be = g_be[0];
    CHECK(strstr(i4_be_describe(be), "vulkan (") == i4_be_describe(be));
    i4_buf *b = i4_be_alloc(be, 16 * sizeof(float));
    REQUIRE(b);
    float in[16], out[16];
    for (int i = 0; i < 16; i++) in[i] = (float)i;
    CHECK(i4_be_upload(be, i4_dv_of(b), in, sizeof in) == 0);
    CHECK(i4_be_download(be, out, i4_dv_f32(i4_dv_of(b), 4), 4 * sizeof(float)) == 0);
    CHECK(out[0] == 4 && out[3] == 7);
    CHECK(i4_be_upload(be, i4_dv_f32(i4_dv_of(b), 8), in, 16 * sizeof(float)) != 0);
    CHECK(i4_be_download(be, out, i4_dv_f32(i4_dv_of(b), 15), 2 * sizeof(float)) != 0);
    /* odd byte counts and offsets (weights are bytes) */
    uint8_t bytes[7] = {1, 2, 3, 4, 5, 6, 7}, back[5] = {0};
    i4_buf *w = i4_be_wrap(be, bytes, sizeof bytes);
    REQUIRE(w);
    i4_dv at1 = {w, 1};
    CHECK(i4_be_download(be, back, at1, 5) == 0 && !memcmp(back, bytes + 1, 5));
    /* larger than the staging buffer: chunked copies */
    const size_t big = (size_t)5 << 20;
    float *h = malloc(big * sizeof *h), *g = malloc(big * sizeof *g);
    for (size_t i = 0; i < big; i++) h[i] = (float)i;
    i4_buf *bb = i4_be_alloc(be, big * sizeof *h);
    REQUIRE(bb);
    CHECK(i4_be_upload(be, i4_dv_of(bb), h, big * sizeof *h) == 0);
    CHECK(i4_be_download(be, g, i4_dv_of(bb), big * sizeof *g) == 0 && !memcmp(h, g, big * sizeof *h));
    CHECK(i4_be_sync(be) == 0);
    free(h);
    free(g);
    i4_be_release(be, bb);
    i4_be_release(be, w);
    i4_be_release(be, b);
}

/* auto never picks a CPU Vulkan device (lavapipe): it is slower than ours. */
I4_TEST(vulkan_auto_skips_cpu_devices) {
    SETUP();
    if (!strstr(i4_be_describe(g_be[0]), ", CPU")) return; /* a real GPU: auto may take it */
    i4_backend *be = NULL;
    i4_backend_options o = {"auto", 1, NULL, NULL};
    REQUIRE(i4_backend_create(&o, &be) == 0);
    CHECK(!strcmp(i4_be_name(be), "cpu"));
    i4_backend_destroy(be);
}

/* A failing op is remembered and returned by sync and download (own instance). */
I4_TEST(vulkan_errors_reported_by_sync) {
    SETUP();
    i4_backend *be = NULL;
    REQUIRE(i4_vulkan_backend_create(-1, 1, &be) == 0);
    i4_buf *x = i4_be_alloc(be, 64);
    REQUIRE(x);
    uint8_t w[4] = {0};
    i4_dlinear bad = {I4_DT_I32, {x, 0}, i4_dv_none(), 0, I4_DT_F32, i4_dv_none(), 1, 1};
    (void)w;
    be->ops->linear(be, &bad, i4_dv_of(x), 1, 1, i4_dv_of(x), 1, I4_PRECISION_F32);
    CHECK(i4_be_sync(be) != 0 && strstr(i4_last_error(), "dtype"));
    float f;
    CHECK(i4_be_download(be, &f, i4_dv_of(x), 4) != 0);
    i4_be_release(be, x);
    i4_backend_destroy(be);
}

I4_TEST(vulkan_elementwise_ops) {
    SETUP();
    enum { R = 37, D = 91, N = R * D };
    for (int pi = 0; pi < 2; pi++) {
        const i4_precision p = PREC[pi];
        const int bf = p == I4_PRECISION_BF16;
        float *x = rand_vec(N, 3, bf), *y = rand_vec(N, 3, bf), *g = rand_vec(D, 2, bf);
        twin tx = tw_new(x, N * 4), ty = tw_new(y, N * 4), tg = tw_new(g, D * 4);
        char what[64];
#define EW_CASE(name, call)                                                                                            \
    do {                                                                                                               \
        for (int s = 0; s < 2; s++) i4_be_upload(g_be[s], i4_dv_of(tx.b[s]), x, N * 4);                                \
        BOTH(call);                                                                                                    \
        snprintf(what, sizeof what, "%s %s", name, pname(p));                                                          \
        CHECK(compare(what, &tx, N, 0));                                                                               \
    } while (0)
        EW_CASE("add", add(be_, V(tx), V(ty), N, p));
        EW_CASE("mul", mul(be_, V(tx), V(ty), N, p));
        EW_CASE("add_scalar", add_scalar(be_, V(tx), N, 0.3125f, p));
        EW_CASE("mul_rows", mul_rows(be_, V(tx), V(tg), R, D, p));
        EW_CASE("gated_add", gated_add(be_, V(tx), V(ty), V(tg), R, D, p));
        EW_CASE("fill", fill(be_, VO(tx, 5), N - 10, -1.5f));
        EW_CASE("guidance_step", guidance_step(be_, V(tx), V(ty), VO(ty, D), N - D, 4.5f, -0.0625f));
        EW_CASE("add offset views", add(be_, VO(tx, 3), VO(ty, 1), N - 3, p));
        int64_t sel[R];
        for (int r = 0; r < R; r++) sel[r] = (r * 7) % 5;
        twin ts = tw_new(sel, sizeof sel), ttab = tw_new(y, 5 * D * 4);
        EW_CASE("add_rows_indexed", add_rows_indexed(be_, V(tx), V(ttab), V(ts), R, D, p));
        tw_free(&ts);
        tw_free(&ttab);
#undef EW_CASE
        /* activations: exp/tanh differ from libm in the last bits */
        for (int s = 0; s < 2; s++) i4_be_upload(g_be[s], i4_dv_of(tx.b[s]), x, N * 4);
        BOTH(act(be_, I4_ACT_SILU, V(tx), N, p));
        snprintf(what, sizeof what, "silu %s", pname(p));
        CHECK(compare(what, &tx, N, bf ? 8e-3 : 1e-6));
        for (int s = 0; s < 2; s++) i4_be_upload(g_be[s], i4_dv_of(tx.b[s]), x, N * 4);
        BOTH(act(be_, I4_ACT_TANH, V(tx), N, p));
        snprintf(what, sizeof what, "tanh %s", pname(p));
        CHECK(compare(what, &tx, N, bf ? 8e-3 : 1e-6));
        tw_free(&tx);
        tw_free(&ty);
        tw_free(&tg);
        free(x);
        free(y);
        free(g);
    }
}

I4_TEST(vulkan_data_movement) {
    SETUP();
    enum { R = 23, LD = 45, N = R * LD };
    float *x = rand_vec(N, 5, 0), *z = rand_vec(N, 1, 0);
    twin src = tw_new(x, N * 4), dst = tw_new(z, N * 4);
    int64_t idx[R];
    for (int r = 0; r < R; r++) idx[r] = (r * 5 + 3) % R; /* a permutation */
    twin ti = tw_new(idx, sizeof idx);
    for (int round = 0; round < 2; round++) {
        BOTH(gather_rows(be_, V(dst), V(src), LD, V(ti), R, round));
        CHECK(compare(round ? "gather_rows bf16" : "gather_rows", &dst, N, 0));
    }
    BOTH(scatter_rows(be_, V(dst), V(src), LD, LD, V(ti), R));
    CHECK(compare("scatter_rows", &dst, N, 0));
    BOTH(scatter_rows(be_, V(dst), VO(src, 7), 0, LD, V(ti), 5));
    CHECK(compare("scatter_rows broadcast", &dst, N, 0));
    /* transpose [R, LD] -> [LD, R], then accumulate back */
    BOTH(copy2d(be_, V(dst), 1, R, V(src), LD, 1, R, LD, 0, I4_PRECISION_F32));
    CHECK(compare("copy2d transpose", &dst, N, 0));
    for (int pi = 0; pi < 2; pi++) {
        BOTH(copy2d(be_, VO(dst, 2), LD, 1, V(src), LD, 1, R - 1, LD - 2, 1, PREC[pi]));
        CHECK(compare(pi ? "copy2d accumulate bf16" : "copy2d accumulate", &dst, N, 0));
    }
    /* upsample: C=5, H=3, W=3 -> 5x6x6 = 180 <= N */
    BOTH(upsample2x(be_, V(dst), VO(src, 1), 5, 3, 3));
    CHECK(compare("upsample2x", &dst, N, 0));
    /* unpack_latents: gh=3, gw=4, ph=pw=2, ae=5: tokens [12, 20] -> [5, 6, 8] */
    float sc[20], sh[20];
    for (int c = 0; c < 20; c++) {
        sc[c] = 1.0f + frand();
        sh[c] = frand();
    }
    twin tsc = tw_new(sc, sizeof sc), tsh = tw_new(sh, sizeof sh);
    BOTH(unpack_latents(be_, V(dst), VO(src, 3), 3, 4, 2, 2, 5, V(tsc), V(tsh)));
    CHECK(compare("unpack_latents", &dst, N, 0));
    tw_free(&tsc);
    tw_free(&tsh);
    tw_free(&ti);
    tw_free(&src);
    tw_free(&dst);
    free(x);
    free(z);
}

/* A parameter vector stored as dtype dt (F32/BF16/F16) from f32 values. */
static void *stored_param(i4_dtype dt, const float *v, int64_t n) {
    uint8_t *p = malloc((size_t)n * 4 + 4);
    for (int64_t i = 0; i < n; i++) {
        if (dt == I4_DT_F32) memcpy(p + 4 * i, &v[i], 4);
        else {
            uint16_t h = dt == I4_DT_BF16 ? i4_f32_to_bf16(v[i]) : i4_f32_to_f16(v[i]);
            memcpy(p + 2 * i, &h, 2);
        }
    }
    return p;
}

I4_TEST(vulkan_norms) {
    SETUP();
    enum { ROWS = 13, DIM = 300, STRIDE = 320, N = ROWS * STRIDE };
    /* statistics in double on both sides, summed in another order: the f32
     * mean or rstd can differ in the last bit, no more */
    const double tol = 1e-6;
    const i4_dtype dts[3] = {I4_DT_F32, I4_DT_BF16, I4_DT_F16};
    for (int pi = 0; pi < 2; pi++) {
        const i4_precision p = PREC[pi];
        const int bf = p == I4_PRECISION_BF16;
        const double t = bf ? 8e-3 : tol;
        float *x = rand_vec(N, 4, bf), *wv = rand_vec(DIM, 2, 0);
        for (int i = 0; i < N; i += 3) x[i] += 1.5f; /* a non-zero mean */
        twin tx = tw_new(x, N * 4), ty = tw_new(NULL, N * 4);
        char what[80];
        for (int d = 0; d < 4; d++) {
            void *st = d < 3 ? stored_param(dts[d], wv, DIM) : NULL;
            i4_weight_set ws[2];
            i4_dparam w[2];
            for (int s = 0; s < 2; s++) {
                i4_weight_set_init(&ws[s], g_be[s]);
                if (st) i4_bind_dparam(&ws[s], dts[d], st, DIM, &w[s]);
            }
            for (int r = 0; r < 2; r++) {
                BOTH(rmsnorm(be_, V(ty), V(tx), ROWS, DIM, STRIDE, st ? &w[s_] : NULL, 1e-6f, p,
                             r ? I4_RMS_ROUND_TWICE : I4_RMS_ROUND_ONCE));
                snprintf(what, sizeof what, "rmsnorm %s w=%s %s", pname(p), st ? i4_dtype_name(dts[d]) : "none",
                         r ? "twice" : "once");
                CHECK(compare(what, &ty, N, t));
            }
            /* in place */
            for (int s = 0; s < 2; s++) i4_be_upload(g_be[s], i4_dv_of(ty.b[s]), x, N * 4);
            BOTH(rmsnorm(be_, V(ty), V(ty), ROWS, DIM, STRIDE, st ? &w[s_] : NULL, 1e-6f, p, I4_RMS_ROUND_ONCE));
            CHECK(compare("rmsnorm in place", &ty, N, t));
            /* groupnorm: C=30 channels x HW=130, 5 groups; gamma = beta = w (dtype) */
            BOTH(groupnorm(be_, V(ty), V(tx), 30, 130, 5, st ? &w[s_] : NULL, st ? &w[s_] : NULL, 1e-6f, p));
            snprintf(what, sizeof what, "groupnorm %s %s", pname(p), st ? i4_dtype_name(dts[d]) : "none");
            CHECK(compare(what, &ty, 30 * 130, t));
            for (int s = 0; s < 2; s++) i4_weight_set_release(&ws[s]);
            free(st);
        }
        BOTH(layernorm(be_, V(ty), V(tx), ROWS, STRIDE, 1e-6f, p));
        snprintf(what, sizeof what, "layernorm %s", pname(p));
        CHECK(compare(what, &ty, N, t));
        tw_free(&tx);
        tw_free(&ty);
        free(x);
        free(wv);
    }
}

I4_TEST(vulkan_rope) {
    SETUP();
    enum { NT = 19, H = 3, HD = 16, STRIDE = 3 * H * HD, N = NT * STRIDE };
    for (int pi = 0; pi < 2; pi++) {
        const i4_precision p = PREC[pi];
        float *x = rand_vec(N, 2, p == I4_PRECISION_BF16), *c = rand_vec(NT * HD, 1, 0), *sn = rand_vec(NT * HD, 1, 0);
        if (p == I4_PRECISION_BF16) {
            i4_round_bf16_inplace(c, NT * HD);
            i4_round_bf16_inplace(sn, NT * HD);
        }
        twin tx = tw_new(x, N * 4), tc = tw_new(c, NT * HD * 4), ts = tw_new(sn, NT * HD * 4);
        BOTH(rope(be_, VO(tx, H * HD), NT, H, HD, STRIDE, V(tc), V(ts), p)); /* the k third of a qkv row */
        CHECK(compare(p == I4_PRECISION_BF16 ? "rope bf16" : "rope f32", &tx, N, 0));
        tw_free(&tx);
        tw_free(&tc);
        tw_free(&ts);
        free(x);
        free(c);
        free(sn);
    }
}

/* Stored weight bytes of dtype dt from f32 values (F8 e4m3 codes from v/scale). */
static void *stored_weights(i4_dtype dt, const float *v, int64_t n, const float *scale, int64_t in, int per_tensor) {
    if (dt != I4_DT_F8_E4M3) return stored_param(dt, v, n);
    uint8_t *p = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) p[i] = i4_f32_to_fp8_e4m3(v[i] / scale[per_tensor ? 0 : i / in]);
    return p;
}

I4_TEST(vulkan_linear) {
    SETUP();
    const i4_dtype wdts[4] = {I4_DT_F8_E4M3, I4_DT_BF16, I4_DT_F16, I4_DT_F32};
    const int64_t shapes[3][3] = {{1, 37, 130}, {70, 64, 64}, {5, 200, 17}}; /* n, in, out */
    for (int pi = 0; pi < 2; pi++)
        for (int di = 0; di < 4; di++)
            for (int si = 0; si < 3; si++) {
                const i4_precision p = PREC[pi];
                const i4_dtype dt = wdts[di];
                const int64_t n = shapes[si][0], in = shapes[si][1], out = shapes[si][2];
                const int per_tensor = di == 0 && si == 2;
                const int64_t xs = in + 3, ys = out + 5; /* strided rows */
                float *x = rand_vec((size_t)(n * xs), 2, p == I4_PRECISION_BF16);
                float *wv = rand_vec((size_t)(out * in), 0.5f, 0);
                float scale[256], bias[256];
                for (int i = 0; i < 256; i++) {
                    scale[i] = 0.01f + 0.003f * (float)(i % 7);
                    bias[i] = frand();
                }
                void *wst = stored_weights(dt, wv, out * in, scale, in, per_tensor);
                const i4_dtype bdt = si == 0 ? I4_DT_BF16 : I4_DT_F32;
                void *bst = stored_param(bdt, bias, out);
                i4_linear_w hw = {dt, wst, scale, per_tensor, bdt, si == 1 ? NULL : bst, out, in};
                i4_weight_set ws[2];
                i4_dlinear dl[2];
                for (int s = 0; s < 2; s++) {
                    i4_weight_set_init(&ws[s], g_be[s]);
                    i4_bind_dlinear(&ws[s], &hw, &dl[s]);
                }
                twin tx = tw_new(x, (size_t)(n * xs) * 4), ty = tw_new(NULL, (size_t)(n * ys) * 4);
                BOTH(fill(be_, V(ty), n * ys, 0.0f));
                BOTH(linear(be_, &dl[s_], VO(tx, 1), xs, n, VO(ty, 2), ys, p));
                char what[96];
                snprintf(what, sizeof what, "linear %s %s n=%lld in=%lld out=%lld", pname(p), i4_dtype_name(dt),
                         (long long)n, (long long)in, (long long)out);
                CHECK(compare(what, &ty, (size_t)(n * ys), 0));
                /* a row slice (byte offset into the weights, scale and bias) */
                i4_dlinear rows[2] = {i4_dlinear_rows(&dl[0], 3, out - 4), i4_dlinear_rows(&dl[1], 3, out - 4)};
                BOTH(linear(be_, &rows[s_], V(tx), xs, n, V(ty), ys, p));
                snprintf(what, sizeof what, "linear rows %s %s", pname(p), i4_dtype_name(dt));
                CHECK(compare(what, &ty, (size_t)(n * ys), 0));
                tw_free(&tx);
                tw_free(&ty);
                for (int s = 0; s < 2; s++) i4_weight_set_release(&ws[s]);
                free(wst);
                free(bst);
                free(x);
                free(wv);
            }
}

I4_TEST(vulkan_attention) {
    SETUP();
    enum { NQ = 45, HEADS = 4, KV = 2, HD = 24, QKV = (HEADS + 2 * KV) * HD };
    int64_t seg[NQ];
    for (int i = 0; i < NQ; i++) seg[i] = i < 10 ? 0 : i < 30 ? 1 : 2;
    twin tseg = tw_new(seg, sizeof seg);
    for (int pi = 0; pi < 2; pi++)
        for (int mask = 0; mask < 3; mask++) {
            const i4_precision p = PREC[pi];
            const int bf = p == I4_PRECISION_BF16;
            float *qkv = rand_vec(NQ * QKV, 1.5f, bf);
            twin t = tw_new(qkv, NQ * QKV * 4), to = tw_new(NULL, NQ * HEADS * HD * 4);
            /* q | k | v column slices of one fused row */
            BOTH(attention(be_, V(to), HEADS * HD, V(t), QKV, VO(t, HEADS * HD), QKV, VO(t, (HEADS + KV) * HD), QKV,
                           NQ, NQ, HEADS, KV, HD, 0.2f, (i4_mask_kind)mask, V(tseg), p));
            char what[64];
            snprintf(what, sizeof what, "attention %s mask %d", pname(p), mask);
            CHECK(compare(what, &to, NQ * HEADS * HD, bf ? 8e-3 : 2e-6));
            tw_free(&t);
            tw_free(&to);
            free(qkv);
        }
    /* cross attention nq != nk, no mask */
    float *q = rand_vec(7 * 32, 1, 0), *kv = rand_vec(50 * 64, 1, 0);
    twin tq = tw_new(q, 7 * 32 * 4), tkv = tw_new(kv, 50 * 64 * 4), to = tw_new(NULL, 7 * 32 * 4);
    BOTH(attention(be_, V(to), 32, V(tq), 32, V(tkv), 64, VO(tkv, 32), 64, 7, 50, 2, 2, 16, 0.25f, I4_MASK_NONE,
                   i4_dv_none(), I4_PRECISION_F32));
    CHECK(compare("attention cross", &to, 7 * 32, 2e-6));
    tw_free(&tq);
    tw_free(&tkv);
    tw_free(&to);
    free(q);
    free(kv);
    tw_free(&tseg);
}

/* Shapes: the first is the original small case; then c_out, c_in, H, W
 * that are not multiples of the implicit-GEMM tiles (64 channels x 64
 * pixels x 16 k), several tiles each way, c_in = 130 (k runs past a tile
 * edge mid-channel), a 3-output conv (the VAE's last), k = 5, and a 3x3
 * without padding. inf_pad: a one-pixel-wide image whose kx = 0 and
 * kx = 2 taps are all padding get +inf weights there: the CPU skips those
 * taps, so a kernel that added them as w * 0 would give NaN. */
I4_TEST(vulkan_conv2d) {
    SETUP();
    const i4_dtype wdts[3] = {I4_DT_BF16, I4_DT_F16, I4_DT_F32};
    static const struct {
        int ci, co, h, w, k, pad, inf_pad;
    } shapes[] = {
        {6, 5, 9, 11, 1, 0, 0},   {6, 5, 9, 11, 3, 1, 0},   {130, 70, 13, 7, 1, 0, 0}, {130, 70, 13, 7, 3, 1, 0},
        {33, 3, 17, 19, 3, 1, 0}, {17, 129, 9, 15, 3, 1, 0}, {5, 7, 10, 9, 5, 2, 0},   {9, 11, 8, 12, 3, 0, 0},
        {4, 6, 5, 1, 3, 1, 1},
    };
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int pi = 0; pi < 2; pi++)
            for (int di = 0; di < 3; di++) {
                const int CI = shapes[si].ci, CO = shapes[si].co, H = shapes[si].h, W = shapes[si].w;
                const int k = shapes[si].k, pad = shapes[si].pad;
                const int OH = H + 2 * pad - k + 1, OW = W + 2 * pad - k + 1;
                const i4_precision p = PREC[pi];
                float *x = rand_vec(CI * H * W, 2, p == I4_PRECISION_BF16), *wv = rand_vec(CO * CI * k * k, 0.5f, 0);
                float *bv = rand_vec(CO, 1, 0);
                if (shapes[si].inf_pad)
                    for (int i = 0; i < CO * CI * k * k; i++)
                        if (i % k != 1) wv[i] = INFINITY;
                void *wst = stored_param(wdts[di], wv, CO * CI * k * k), *bst = stored_param(wdts[di], bv, CO);
                i4_conv_w hw = {wdts[di], wst, wdts[di], k != 1 ? bst : NULL, CO, CI, k};
                i4_weight_set ws[2];
                i4_dconv dc[2];
                for (int s = 0; s < 2; s++) {
                    i4_weight_set_init(&ws[s], g_be[s]);
                    i4_bind_dconv(&ws[s], &hw, &dc[s]);
                }
                twin tx = tw_new(x, CI * H * W * 4), ty = tw_new(NULL, CO * OH * OW * 4);
                BOTH(conv2d(be_, &dc[s_], V(tx), H, W, pad, V(ty), p));
                char what[96];
                snprintf(what, sizeof what, "conv2d %d->%d %dx%d k%d pad %d %s %s", CI, CO, H, W, k, pad, pname(p),
                         i4_dtype_name(wdts[di]));
                CHECK(compare(what, &ty, CO * OH * OW, 0));
                if (shapes[si].inf_pad) { /* and the CPU result is finite: the taps were skipped */
                    float *c = malloc((size_t)(CO * OH * OW) * sizeof *c);
                    int finite = i4_be_download(g_be[1], c, i4_dv_of(ty.b[1]), (size_t)(CO * OH * OW) * 4) == 0;
                    for (int i = 0; finite && i < CO * OH * OW; i++) finite = isfinite(c[i]);
                    CHECK(finite);
                    free(c);
                }
                tw_free(&tx);
                tw_free(&ty);
                for (int s = 0; s < 2; s++) i4_weight_set_release(&ws[s]);
                free(x);
                free(wv);
                free(bv);
                free(wst);
                free(bst);
            }
}

/* ---- device choice, memory accounting, limits ---- */

/* --device N / IDEOGRAM4_DEVICE: a device by index (auto then means vulkan on
 * it, CPU devices too); a missing index, a non-number and cpu + device fail. */
I4_TEST(vulkan_device_by_index) {
    SETUP();
    i4_backend *be = NULL;
    i4_backend_options o = {"auto", 1, NULL, "0"};
    REQUIRE(i4_backend_create(&o, &be) == 0);
    CHECK(!strcmp(i4_be_name(be), "vulkan"));
    i4_backend_destroy(be);
    be = NULL;
    o.device = "99";
    CHECK(i4_backend_create(&o, &be) != 0 && !be && strstr(i4_last_error(), "no Vulkan device 99"));
    o.device = "x1";
    CHECK(i4_backend_create(&o, &be) != 0 && strstr(i4_last_error(), "not a device index"));
    i4_backend_options c = {"cpu", 1, NULL, "0"};
    CHECK(i4_backend_create(&c, &be) != 0 && strstr(i4_last_error(), "cpu backend has none"));
    CHECK(i4_device_index_ok("0") && i4_device_index_ok("12") && !i4_device_index_ok("-1") && !i4_device_index_ok(""));
}

/* Bytes held now and at peak: an alloc counts, its release gives it back,
 * the peak stays; 300 small weights share a few blocks (sub-allocation). */
I4_TEST(vulkan_memory_accounting) {
    SETUP();
    i4_backend *be = NULL;
    REQUIRE(i4_vulkan_backend_create(-1, 1, &be) == 0);
    i4_be_memory m0, m1, m2;
    i4_be_memory_get(be, &m0);
    CHECK(m0.capacity > 0 && m0.where[0]);
    i4_buf *x = i4_be_alloc(be, 3 << 20);
    REQUIRE(x);
    i4_be_memory_get(be, &m1);
    CHECK(m1.now >= m0.now + (3u << 20) && m1.peak >= m1.now);
    i4_be_release(be, x);
    i4_be_memory_get(be, &m2);
    CHECK(m2.now == m0.now && m2.peak == m1.peak);
    static float w[1024];
    i4_buf *ws[300];
    for (int i = 0; i < 300; i++) REQUIRE((ws[i] = i4_be_wrap(be, w, sizeof w)));
    i4_be_memory_get(be, &m1);
    /* 300 x 4 KiB = 1.2 MiB of weights in blocks of 1 + 2 MiB (alignment aside) */
    CHECK(m1.now - m0.now >= 300 * sizeof w && m1.now - m0.now <= ((size_t)8 << 20));
    fprintf(stderr, "  300 weights of 4 KiB hold %.1f MiB\n", (double)(m1.now - m0.now) / (1 << 20));
    float back[1024];
    w[5] = 7.0f;
    REQUIRE(i4_be_upload(be, i4_dv_of(ws[299]), w, sizeof w) == 0);
    REQUIRE(i4_be_download(be, back, i4_dv_of(ws[299]), sizeof back) == 0);
    CHECK(back[5] == 7.0f);
    REQUIRE(i4_be_download(be, back, i4_dv_of(ws[0]), sizeof back) == 0);
    CHECK(back[5] == 0.0f);
    w[5] = 0.0f;
    for (int i = 0; i < 300; i++) i4_be_release(be, ws[i]);
    i4_be_memory_get(be, &m2);
    CHECK(m2.now == m0.now);
    i4_backend_destroy(be);
}

/* A capacity ($IDEOGRAM4_VULKAN_MEMORY_MIB here) refuses what does not fit,
 * naming sizes and device; i4_backend_check_fit names each part and the hint. */
I4_TEST(vulkan_memory_capacity) {
    SETUP();
    i4_backend *be = NULL;
    setenv("IDEOGRAM4_VULKAN_MEMORY_MIB", "32", 1);
    int rc = i4_vulkan_backend_create(-1, 1, &be);
    unsetenv("IDEOGRAM4_VULKAN_MEMORY_MIB");
    REQUIRE(rc == 0);
    i4_be_memory m;
    i4_be_memory_get(be, &m);
    CHECK(m.capacity == (size_t)32 << 20);
    CHECK(!i4_be_alloc(be, (size_t)40 << 20) && strstr(i4_last_error(), "does not fit"));
    i4_mem_need parts[2] = {{"transformer weights", (size_t)20 << 20}, {"workspace", (size_t)16 << 20}};
    CHECK(i4_backend_check_fit(be, parts, 2, "use --backend cpu") != 0);
    const char *e = i4_last_error();
    CHECK(strstr(e, "transformer weights 20.0 MiB") && strstr(e, "> 32.0 MiB on") && strstr(e, "workspace") && strstr(e, "use --backend cpu") &&
          strstr(e, m.where));
    CHECK(i4_backend_check_fit(be, parts, 1, "x") == 0);
    i4_buf *x = i4_be_alloc(be, (size_t)8 << 20);
    CHECK(x != NULL);
    i4_be_release(be, x);
    i4_backend_destroy(be);
    /* the CPU backend has no capacity: everything fits */
    CHECK(i4_backend_check_fit(g_be[1], parts, 2, "x") == 0);
}

/* An operand larger than one binding (maxStorageBufferRange) is refused with
 * a clear error, never read past the bound range; ops that stay inside it
 * work anywhere in a larger buffer (their views are bound where they start). */
I4_TEST(vulkan_binding_range) {
    SETUP();
    i4_backend *be = NULL;
    REQUIRE(i4_vulkan_backend_create(-1, 1, &be) == 0);
    const size_t range = i4_vulkan_max_binding(be);
    if (range > ((size_t)512 << 20)) { /* a big binding range: a buffer past it costs too much here */
        i4_backend_destroy(be);
        return;
    }
    const size_t bytes = range + ((size_t)1 << 20);
    i4_buf *big = i4_be_alloc(be, bytes), *small = i4_be_alloc(be, 4096), *idx = i4_be_alloc(be, 8);
    REQUIRE(big && small && idx);
    /* 16 floats at the very end, past the first binding's reach */
    i4_dv tail = {big, bytes - 64};
    be->ops->fill(be, tail, 16, 3.5f);
    float got[16];
    REQUIRE(i4_be_download(be, got, tail, sizeof got) == 0);
    CHECK(got[0] == 3.5f && got[15] == 3.5f);
    const int64_t zero = 0;
    REQUIRE(i4_be_upload(be, i4_dv_of(idx), &zero, 8) == 0);
    /* a gather may read any row of its source: the whole buffer is its operand */
    be->ops->gather_rows(be, i4_dv_of(small), i4_dv_of(big), 16, i4_dv_of(idx), 1, 0);
    CHECK(i4_be_sync(be) != 0 && strstr(i4_last_error(), "maxStorageBufferRange") && strstr(i4_last_error(), "move"));
    i4_be_release(be, big);
    i4_be_release(be, small);
    i4_be_release(be, idx);
    i4_backend_destroy(be);
}

/* A batch recorded once is replayed with new parameters (the same ops on the
 * same views, other values), and barriers stand only between dependent
 * dispatches: two writes to disjoint halves of one buffer need none; a read
 * after a write, a write after a read, do. */
I4_TEST(vulkan_replay_and_barriers) {
    SETUP();
    i4_backend *be = NULL;
    REQUIRE(i4_vulkan_backend_create(-1, 1, &be) == 0);
    const int64_t n = 1000;
    i4_buf *x = i4_be_alloc(be, n * sizeof(float)), *y = i4_be_alloc(be, n * sizeof(float));
    REQUIRE(x && y);
    float *hx = malloc(n * sizeof *hx), *hy = malloc(n * sizeof *hy);
    i4_vulkan_stats s0, s1;
    for (int round = 0; round < 3; round++) {
        const float a = 1.0f + (float)round, c = 2.0f * (float)round;
        i4_vulkan_stats_get(be, &s0);
        be->ops->fill(be, i4_dv_of(x), n, a);                                  /* none: first */
        be->ops->fill(be, i4_dv_of(y), n, 2.0f);                               /* none: another buffer */
        be->ops->add(be, i4_dv_of(x), i4_dv_of(y), n, I4_PRECISION_F32);      /* x = a + 2: after both writes */
        be->ops->mul(be, i4_dv_of(y), i4_dv_of(x), n, I4_PRECISION_F32);      /* y = 2 (a + 2): y was read */
        be->ops->add_scalar(be, i4_dv_of(x), n / 2, c, I4_PRECISION_F32);      /* x was read by mul */
        be->ops->add_scalar(be, i4_dv_f32(i4_dv_of(x), n / 2), n / 2, c + 1, I4_PRECISION_F32); /* disjoint: none */
        CHECK(i4_be_download(be, hx, i4_dv_of(x), n * sizeof *hx) == 0);
        CHECK(i4_be_download(be, hy, i4_dv_of(y), n * sizeof *hy) == 0);
        i4_vulkan_stats_get(be, &s1);
        int bad = 0;
        for (int64_t i = 0; i < n; i++)
            bad += hx[i] != a + 2 + (i < n / 2 ? c : c + 1) || hy[i] != 2 * (a + 2);
        CHECK(bad == 0);
        CHECK(s1.dispatches - s0.dispatches == 6);
        CHECK(s1.barriers - s0.barriers == 3);
        CHECK(s1.replayed - s0.replayed == (round > 0)); /* the first round records, the others replay */
    }
    /* a buffer the recording binds is released: the recording goes with it */
    i4_be_release(be, y);
    y = i4_be_alloc(be, n * sizeof(float));
    REQUIRE(y);
    i4_vulkan_stats_get(be, &s0);
    be->ops->fill(be, i4_dv_of(y), n, 5.0f);
    CHECK(i4_be_download(be, hy, i4_dv_of(y), n * sizeof *hy) == 0 && hy[n - 1] == 5.0f);
    free(hx);
    free(hy);
    i4_be_release(be, x);
    i4_be_release(be, y);
    i4_backend_destroy(be);
}

/* ---- the cooperative-matrix GEMM */

#include "backend/vulkan/vk_coop.h"
#include "tensor/dtype.h"

/* Picked iff the device reports the extension with a 16x16x16 f16/f16/f32
 * subgroup shape and the shader was built; only in bf16 mode, FP8/F16 weights. */
I4_TEST(vulkan_coop_selection) {
    const i4_vk_coop_shape good = {16, 16, 16, I4_VK_COMP_F16, I4_VK_COMP_F16, I4_VK_COMP_F32, I4_VK_COMP_F32,
                                   I4_VK_SCOPE_SUBGROUP};
    i4_vk_coop_shape other[3] = {good, good, good};
    other[0].m = 8;                      /* another size */
    other[1].c_type = I4_VK_COMP_F16;    /* f16 accumulation */
    other[2].scope = 2;                  /* workgroup scope */
    CHECK(i4_vk_coop_usable(1, 1, &good, 1) == 1);
    CHECK(i4_vk_coop_usable(0, 1, &good, 1) == 0); /* no extension */
    CHECK(i4_vk_coop_usable(1, 0, &good, 1) == 0); /* shader not built */
    CHECK(i4_vk_coop_usable(1, 1, other, 3) == 0);
    CHECK(i4_vk_coop_usable(1, 1, NULL, 0) == 0);
    i4_vk_coop_shape mixed[4] = {other[0], other[1], good, other[2]};
    CHECK(i4_vk_coop_usable(1, 1, mixed, 4) == 1);
    CHECK(i4_vk_coop_for_linear(1, 1, I4_DT_F8_E4M3) == 1);
    CHECK(i4_vk_coop_for_linear(1, 1, I4_DT_F16) == 0); /* F8 only: the transformers' Linears */
    CHECK(i4_vk_coop_for_linear(1, 0, I4_DT_F8_E4M3) == 0); /* f32 mode stays exact */
    CHECK(i4_vk_coop_for_linear(1, 1, I4_DT_BF16) == 0);
    CHECK(i4_vk_coop_for_linear(0, 1, I4_DT_F8_E4M3) == 0);
}

/* --offload at the backend: four "layers" of 3 MiB each (an F32 Linear)
 * streamed through the ring of two device slots on a device capped at
 * 10 MiB, where binding them on the device does not fit. Each layer's output
 * equals the CPU's bit for bit (linear is one fma chain in the CPU's order),
 * the device-memory peak stays under the cap, each use of a layer not in a
 * slot queues one copy (the next layer's, asked for first, is there already),
 * and the second round replays the first's recording. */
I4_TEST(vulkan_offload_streams_weight_groups) {
    SETUP();
    i4_backend *be = NULL;
    setenv("IDEOGRAM4_VULKAN_MEMORY_MIB", "10", 1);
    int rc = i4_vulkan_backend_create(-1, 1, &be);
    unsetenv("IDEOGRAM4_VULKAN_MEMORY_MIB");
    REQUIRE(rc == 0);
    enum { NL = 4, OUT = 768, IN = 1024, N = 3 };
    float *w[NL], *x = rand_vec(N * IN, 1.0f, 0), *bias[NL];
    i4_weight_set ws[NL];
    i4_dlinear dl[NL];
    i4_linear_w hw[NL];
    for (int l = 0; l < NL; l++) {
        w[l] = rand_vec((size_t)OUT * IN, 0.05f, 0);
        bias[l] = rand_vec(OUT, 0.5f, 0);
        hw[l] = (i4_linear_w){I4_DT_F32, w[l], NULL, 0, I4_DT_F32, bias[l], OUT, IN};
    }
    /* on the device, all four do not fit */
    i4_weight_set plain;
    i4_weight_set_init(&plain, be);
    int fitted = 1;
    for (int l = 0; l < NL && fitted; l++) fitted = i4_bind_dlinear(&plain, &hw[l], &dl[l]) == 0;
    CHECK(!fitted && strstr(i4_last_error(), "does not fit"));
    i4_weight_set_release(&plain);
    for (int l = 0; l < NL; l++) {
        REQUIRE(i4_weight_set_init_streamed(&ws[l], be) == 0);
        CHECK(ws[l].group != NULL);
        REQUIRE(i4_bind_dlinear(&ws[l], &hw[l], &dl[l]) == 0);
        REQUIRE(i4_weight_set_seal(&ws[l]) == 0);
        CHECK(i4_weight_set_streamed_bytes(&ws[l]) >= (size_t)OUT * IN * 4);
    }
    i4_buf *bx = i4_be_alloc(be, sizeof(float) * N * IN), *by = i4_be_alloc(be, sizeof(float) * N * OUT * NL);
    REQUIRE(bx && by);
    REQUIRE(i4_be_upload(be, i4_dv_of(bx), x, sizeof(float) * N * IN) == 0);
    float *want = malloc(sizeof(float) * N * OUT), *got = malloc(sizeof(float) * N * OUT * NL);
    i4_vulkan_stats s0, s1;
    for (int round = 0; round < 2; round++) {
        i4_vulkan_stats_get(be, &s0);
        for (int l = 0; l < NL; l++) {
            i4_weight_set_prefetch(&ws[l]);
            if (l + 1 < NL) i4_weight_set_prefetch(&ws[l + 1]);
            be->ops->linear(be, &dl[l], i4_dv_of(bx), IN, N, i4_dv_f32(i4_dv_of(by), (int64_t)l * N * OUT), OUT,
                            I4_PRECISION_F32);
        }
        REQUIRE(i4_be_download(be, got, i4_dv_of(by), sizeof(float) * N * OUT * NL) == 0);
        i4_vulkan_stats_get(be, &s1);
        int bad = 0;
        for (int l = 0; l < NL; l++) { /* the scalar CPU backend: the reference */
            i4_backend *cpu = g_be[1];
            i4_weight_set cw;
            i4_dlinear cl;
            i4_weight_set_init(&cw, cpu);
            i4_buf *cx = i4_be_alloc(cpu, sizeof(float) * N * IN), *cy = i4_be_alloc(cpu, sizeof(float) * N * OUT);
            REQUIRE(cx && cy && i4_bind_dlinear(&cw, &hw[l], &cl) == 0);
            REQUIRE(i4_be_upload(cpu, i4_dv_of(cx), x, sizeof(float) * N * IN) == 0);
            cpu->ops->linear(cpu, &cl, i4_dv_of(cx), IN, N, i4_dv_of(cy), OUT, I4_PRECISION_F32);
            REQUIRE(i4_be_download(cpu, want, i4_dv_of(cy), sizeof(float) * N * OUT) == 0);
            bad += memcmp(want, got + (size_t)l * N * OUT, sizeof(float) * N * OUT) != 0;
            i4_be_release(cpu, cx);
            i4_be_release(cpu, cy);
            i4_weight_set_release(&cw);
        }
        CHECK(bad == 0);
        /* round 0: all four copied; round 1: layer 0 is in no slot any more
         * (3 took it), so four again — and the batch is the same: replayed */
        CHECK(s1.stream_copies - s0.stream_copies == NL);
        if (round == 1) CHECK(s1.replayed > s0.replayed);
    }
    i4_be_memory m;
    i4_be_memory_get(be, &m);
    CHECK(m.peak <= m.capacity && m.capacity == (size_t)10 << 20);
    CHECK(m.peak >= (size_t)2 * OUT * IN * 4); /* the two slots */
    for (int l = 0; l < NL; l++) {
        i4_weight_set_release(&ws[l]);
        free(w[l]);
        free(bias[l]);
    }
    i4_be_memory_get(be, &m);
    CHECK(m.now < (size_t)OUT * IN * 4); /* the slots went with the last group */
    i4_be_release(be, bx);
    i4_be_release(be, by);
    free(x);
    free(want);
    free(got);
    i4_backend_destroy(be);
}
/* The coop GEMM's tiling, power-of-two ranges, loads and stores, run as its
 * emulation (IDEOGRAM4_VULKAN_COOPMAT=emulate: the 16x16 products as plain
 * loops) against the scalar CPU backend's bf16 Linear. Every f16 operand is
 * exact (bf16 values moved into f16's range by powers of two) and the plain
 * loops sum in k order, so the result is the CPU's bit for bit — here on
 * shapes that are not multiples of the 64/16 tiles, token rows from 2^-12 to
 * 2^20 (past f16's 65504) and a zero row, scales from 1e-4 to 10, per row
 * and per tensor. */
I4_TEST(vulkan_coop_linear_emulated) {
    SETUP();
    setenv("IDEOGRAM4_VULKAN_COOPMAT", "emulate", 1);
    i4_backend *emu = NULL;
    int rc = i4_vulkan_backend_create(-1, 1, &emu);
    unsetenv("IDEOGRAM4_VULKAN_COOPMAT");
    REQUIRE(rc == 0);
    CHECK(strstr(i4_be_describe(emu), "cooperative matrix emulated") != NULL);
    i4_backend *be2[2] = {emu, g_be[1]};
    const int64_t T = 70, K = 40, O = 100; /* none a multiple of the 64/16 tiles */
    float *x = malloc(T * K * sizeof *x), *sc = malloc(O * sizeof *sc), *y[2];
    uint8_t *w = malloc(O * K);
    uint16_t *bias = malloc(O * sizeof *bias);
    for (int64_t t = 0; t < T; t++) {
        float amp = t == 3 ? 0.0f : ldexpf(1.0f, (int)(t % 9) * 4 - 12);
        for (int64_t k = 0; k < K; k++) x[t * K + k] = i4_round_bf16(amp * frand());
    }
    for (int64_t i = 0; i < O * K; i++) {
        uint8_t c = (uint8_t)(frand() * 128.0f + 128.0f);
        w[i] = (c & 0x7f) == 0x7f ? 0 : c; /* no NaN codes */
    }
    for (int64_t o = 0; o < O; o++) {
        sc[o] = ldexpf(1.0f + 0.5f * frand(), (int)(o % 18) - 14); /* ~6e-5 .. 12 */
        float bv = 0.1f * (float)(o % 7) - 0.3f;
        uint32_t u;
        memcpy(&u, &bv, 4);
        bias[o] = (uint16_t)(u >> 16);
    }
    for (int per_tensor = 0; per_tensor < 2; per_tensor++) {
        for (int s = 0; s < 2; s++) {
            i4_backend *be = be2[s];
            i4_buf *bx = i4_be_wrap(be, x, T * K * 4), *bw = i4_be_wrap(be, w, O * K),
                   *bs = i4_be_wrap(be, sc, O * 4), *bb = i4_be_wrap(be, bias, O * 2), *by = i4_be_alloc(be, T * O * 4);
            REQUIRE(bx && bw && bs && bb && by);
            i4_dlinear W = {I4_DT_F8_E4M3, i4_dv_of(bw), i4_dv_of(bs), per_tensor, I4_DT_BF16, i4_dv_of(bb), O, K};
            be->ops->linear(be, &W, i4_dv_of(bx), K, T, i4_dv_of(by), O, I4_PRECISION_BF16);
            y[s] = malloc(T * O * 4);
            REQUIRE(i4_be_download(be, y[s], i4_dv_of(by), T * O * 4) == 0);
            i4_be_release(be, bx), i4_be_release(be, bw), i4_be_release(be, bs), i4_be_release(be, bb),
                i4_be_release(be, by);
        }
        int bad = 0;
        for (int64_t i = 0; i < T * O; i++)
            if (memcmp(&y[0][i], &y[1][i], 4) != 0) {
                if (bad < 5)
                    fprintf(stderr, "  %s scale: t %d o %d coop %g cpu %g\n", per_tensor ? "per-tensor" : "per-row",
                            (int)(i / O), (int)(i % O), y[0][i], y[1][i]);
                bad++;
            }
        if (bad) fprintf(stderr, "  %d of %d outputs differ\n", bad, (int)(T * O));
        CHECK(bad == 0);
        free(y[0]), free(y[1]);
    }
    free(x), free(sc), free(w), free(bias);
    i4_backend_destroy(emu);
}
