/* test_backend.c — the backend interface: choosing one by name, buffers,
 * views, the workspace, weight binding, and each element-wise op of the
 * CPU backend against a direct evaluation of its formula. Also provides
 * i4_test_backend() for the model tests. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "test.h"

static i4_backend *g_test_backend;
static int g_test_backend_failed;

static void destroy_test_backend(void) { i4_backend_destroy(g_test_backend); }

struct i4_backend *i4_test_backend(void) {
    if (!g_test_backend && !g_test_backend_failed) {
        i4_backend_options o = {NULL, 0, NULL, NULL};
        if (i4_backend_create(&o, &g_test_backend) != 0) {
            fprintf(stderr, "cannot create the test backend: %s\n", i4_last_error());
            g_test_backend_failed = 1;
            return NULL;
        }
        atexit(destroy_test_backend);
    }
    return g_test_backend;
}

I4_TEST(backend_create_by_name) {
    i4_backend *be = NULL;
    i4_backend_options o = {"cpu", 1, "scalar", NULL};
    REQUIRE(i4_backend_create(&o, &be) == 0 && be);
    CHECK(!strcmp(i4_be_name(be), "cpu"));
    CHECK(strstr(i4_be_describe(be), "scalar") && strstr(i4_be_describe(be), "1 thread"));
    i4_backend_destroy(be);

    o.name = "metal";
    CHECK(i4_backend_create(&o, &be) != 0 && be == NULL && strstr(i4_last_error(), "unknown backend 'metal'"));
    o.name = "cpu";
    o.cpu_isa = "neon";
    CHECK(i4_backend_create(&o, &be) != 0 && strstr(i4_last_error(), "unknown CPU instruction set"));
    o.cpu_isa = NULL;
    o.name = "auto";
    REQUIRE(i4_backend_create(&o, &be) == 0);
    i4_backend_destroy(be);
    CHECK(i4_backend_name_valid("cpu") && i4_backend_name_valid("auto") && !i4_backend_name_valid("gpu"));
}

I4_TEST(backend_buffers_and_views) {
    i4_backend *be = i4_test_backend();
    REQUIRE(be);
    i4_buf *b = i4_be_alloc(be, 16 * sizeof(float));
    REQUIRE(b);
    float in[16], out[16];
    for (int i = 0; i < 16; i++) in[i] = (float)i;
    CHECK(i4_be_upload(be, i4_dv_of(b), in, sizeof in) == 0);
    CHECK(i4_be_download(be, out, i4_dv_f32(i4_dv_of(b), 4), 4 * sizeof(float)) == 0);
    CHECK(out[0] == 4 && out[3] == 7);
    /* past the end: an error, nothing written */
    CHECK(i4_be_upload(be, i4_dv_f32(i4_dv_of(b), 8), in, 16 * sizeof(float)) != 0);
    CHECK(i4_be_download(be, out, i4_dv_f32(i4_dv_of(b), 15), 2 * sizeof(float)) != 0);
    CHECK(i4_be_sync(be) == 0);
    i4_be_release(be, b);
}

I4_TEST(backend_workspace_plan_matches) {
    i4_backend *be = i4_test_backend();
    REQUIRE(be);
    i4_workspace plan, ws;
    i4_workspace_plan(&plan);
    size_t sizes[] = {3, 100, 4096, 1};
    for (int i = 0; i < 4; i++) i4_workspace_take(&plan, sizes[i]);
    REQUIRE(i4_workspace_init(&ws, be, plan.used, "test") == 0);
    i4_dv prev = i4_dv_none();
    for (int i = 0; i < 4; i++) {
        i4_dv v = i4_workspace_take(&ws, sizes[i]);
        CHECK(v.buf == ws.buf && v.off % 64 == 0);
        if (i) CHECK(v.off >= prev.off + sizes[i - 1]);
        prev = v;
    }
    CHECK(ws.used == plan.used);
    i4_workspace_free(&ws);
}

I4_TEST(backend_bind_linear_rows) {
    i4_backend *be = i4_test_backend();
    REQUIRE(be);
    /* a 6x2 F8 Linear with per-row scales and a bias; rows [2, 4) */
    uint8_t w[12] = {0x38, 0x38, 0x40, 0x40, 0x44, 0x44, 0x48, 0x48, 0x4c, 0x4c, 0x50, 0x50};
    float scale[6] = {1, 2, 3, 4, 5, 6}, bias[6] = {0, 10, 20, 30, 40, 50};
    i4_linear_w hw = {I4_DT_F8_E4M3, w, scale, 0, I4_DT_F32, bias, 6, 2};
    i4_weight_set set;
    i4_weight_set_init(&set, be);
    i4_dlinear d;
    REQUIRE(i4_bind_dlinear(&set, &hw, &d) == 0);
    i4_dlinear r = i4_dlinear_rows(&d, 2, 2);
    i4_buf *x = i4_be_alloc(be, 2 * sizeof(float)), *y = i4_be_alloc(be, 2 * sizeof(float));
    REQUIRE(x && y);
    float xv[2] = {1, 1}, yv[2], ref[2], yh[6];
    i4_be_upload(be, i4_dv_of(x), xv, sizeof xv);
    be->ops->linear(be, &r, i4_dv_of(x), 2, 1, i4_dv_of(y), 2, I4_PRECISION_F32);
    i4_be_download(be, yv, i4_dv_of(y), sizeof yv);
    i4_linear(&hw, xv, 2, 1, yh, 6, I4_PRECISION_F32);
    ref[0] = yh[2];
    ref[1] = yh[3];
    CHECK(yv[0] == ref[0] && yv[1] == ref[1]);
    i4_be_release(be, x);
    i4_be_release(be, y);
    i4_weight_set_release(&set);
}

static float rnd(float v, int bf) { return bf ? i4_round_bf16(v) : v; }

/* Each element-wise op against its formula, in both precision modes. */
I4_TEST(backend_elementwise_ops) {
    i4_backend *be = i4_test_backend();
    REQUIRE(be);
    const i4_backend_ops *op = be->ops;
    enum { R = 5, D = 7, N = R * D };
    float a[N], b[N], g[D], table[2 * D], got[N], want[N];
    int64_t sel[R] = {1, 0, 1, 1, 0}, idx[3] = {4, 0, 2};
    for (int i = 0; i < N; i++) {
        a[i] = sinf((float)i * 0.37f) * 3.1f;
        b[i] = cosf((float)i * 0.21f) * 1.7f;
    }
    for (int i = 0; i < D; i++) g[i] = 0.1f * (float)i - 0.3f;
    for (int i = 0; i < 2 * D; i++) table[i] = 0.01f * (float)(i * i);
    i4_buf *ba = i4_be_alloc(be, sizeof a), *bb = i4_be_alloc(be, sizeof b), *bg = i4_be_alloc(be, sizeof g);
    i4_buf *bt = i4_be_alloc(be, sizeof table), *bs = i4_be_alloc(be, sizeof sel), *bi = i4_be_alloc(be, sizeof idx);
    REQUIRE(ba && bb && bg && bt && bs && bi);
    i4_dv A = i4_dv_of(ba), B = i4_dv_of(bb), G = i4_dv_of(bg), T = i4_dv_of(bt), S = i4_dv_of(bs), X = i4_dv_of(bi);
    i4_be_upload(be, B, b, sizeof b);
    i4_be_upload(be, G, g, sizeof g);
    i4_be_upload(be, T, table, sizeof table);
    i4_be_upload(be, S, sel, sizeof sel);
    i4_be_upload(be, X, idx, sizeof idx);
    for (int bf = 0; bf < 2; bf++) {
        const i4_precision p = bf ? I4_PRECISION_BF16 : I4_PRECISION_F32;
#define RESET() i4_be_upload(be, A, a, sizeof a)
#define EXPECT(what)                                                                                  \
    do {                                                                                              \
        i4_be_download(be, got, A, sizeof got);                                                      \
        int bad = 0;                                                                                 \
        for (int i = 0; i < N; i++) bad += memcmp(&got[i], &want[i], sizeof(float)) != 0;          \
        if (bad) fprintf(stderr, "  %s (%s): %d of %d differ\n", what, bf ? "bf16" : "f32", bad, N); \
        CHECK(bad == 0);                                                                             \
    } while (0)
        RESET();
        op->add(be, A, B, N, p);
        for (int i = 0; i < N; i++) want[i] = rnd(a[i] + b[i], bf);
        EXPECT("add");
        RESET();
        op->mul(be, A, B, N, p);
        for (int i = 0; i < N; i++) want[i] = rnd(a[i] * b[i], bf);
        EXPECT("mul");
        RESET();
        op->add_scalar(be, A, N, 1.0f, p);
        for (int i = 0; i < N; i++) want[i] = rnd(a[i] + 1.0f, bf);
        EXPECT("add_scalar");
        RESET();
        op->mul_rows(be, A, G, R, D, p);
        for (int i = 0; i < N; i++) want[i] = rnd(a[i] * g[i % D], bf);
        EXPECT("mul_rows");
        RESET();
        op->gated_add(be, A, B, G, R, D, p);
        for (int i = 0; i < N; i++) want[i] = rnd(a[i] + rnd(g[i % D] * b[i], bf), bf);
        EXPECT("gated_add");
        RESET();
        op->add_rows_indexed(be, A, T, S, R, D, p);
        for (int i = 0; i < N; i++) want[i] = rnd(a[i] + table[sel[i / D] * D + i % D], bf);
        EXPECT("add_rows_indexed");
        /* gather rows 4, 0, 2 of b into the first three rows of A; the rest kept */
        RESET();
        op->gather_rows(be, A, B, D, X, 3, bf);
        memcpy(want, a, sizeof a);
        for (int r = 0; r < 3; r++)
            for (int i = 0; i < D; i++) want[r * D + i] = rnd(b[idx[r] * D + i], bf);
        EXPECT("gather_rows");
        /* scatter the first three rows of b to rows 4, 0, 2; then broadcast row 0 */
        RESET();
        op->scatter_rows(be, A, B, D, D, X, 3);
        memcpy(want, a, sizeof a);
        for (int r = 0; r < 3; r++)
            for (int i = 0; i < D; i++) want[idx[r] * D + i] = b[r * D + i];
        EXPECT("scatter_rows");
        RESET();
        op->scatter_rows(be, A, B, 0, D, X, 3);
        memcpy(want, a, sizeof a);
        for (int r = 0; r < 3; r++)
            for (int i = 0; i < D; i++) want[idx[r] * D + i] = b[i];
        EXPECT("scatter_rows broadcast");
        /* transpose b [R, D] into A [D, R]; then accumulate it back transposed */
        RESET();
        op->copy2d(be, A, 1, R, B, D, 1, R, D, 0, p);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < D; c++) want[c * R + r] = b[r * D + c];
        EXPECT("copy2d transpose");
        RESET();
        op->copy2d(be, A, D, 1, B, 1, R, R, D, 1, p);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < D; c++) want[r * D + c] = rnd(a[r * D + c] + b[c * R + r], bf);
        EXPECT("copy2d accumulate");
        RESET();
        op->fill(be, A, N, -2.5f);
        for (int i = 0; i < N; i++) want[i] = -2.5f;
        EXPECT("fill");
        RESET();
        op->guidance_step(be, A, B, B, N, 3.5f, -0.125f);
        for (int i = 0; i < N; i++) {
            float gv = 3.5f * b[i], uv = (1.0f - 3.5f) * b[i], v = gv + uv, st = v * -0.125f;
            want[i] = a[i] + st;
        }
        EXPECT("guidance_step");
#undef RESET
#undef EXPECT
    }
    i4_be_release(be, ba); i4_be_release(be, bb); i4_be_release(be, bg);
    i4_be_release(be, bt); i4_be_release(be, bs); i4_be_release(be, bi);
}

/* discard gives pages back; the buffer stays usable and rewrites read back. */
I4_TEST(backend_discard_then_reuse) {
    i4_backend *be = i4_test_backend();
    REQUIRE(be);
    const int64_t n = 1 << 20;
    i4_buf *b = i4_be_alloc(be, (size_t)n * sizeof(float));
    REQUIRE(b);
    i4_dv v = i4_dv_of(b);
    be->ops->fill(be, v, n, 3.0f);
    be->ops->discard(be, i4_dv_f32(v, 1000), (size_t)(n - 2000) * sizeof(float));
    float head = 0, tail = 0;
    /* bytes outside the discarded range keep their values (partial pages are never dropped) */
    CHECK(i4_be_download(be, &head, i4_dv_f32(v, 999), sizeof head) == 0 && head == 3.0f);
    CHECK(i4_be_download(be, &tail, i4_dv_f32(v, n - 1000), sizeof tail) == 0 && tail == 3.0f);
    be->ops->fill(be, v, n, -1.5f);
    float mid = 0;
    CHECK(i4_be_download(be, &mid, i4_dv_f32(v, n / 2), sizeof mid) == 0 && mid == -1.5f);
    i4_be_release(be, b);
}
