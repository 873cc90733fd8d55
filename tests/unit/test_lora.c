/*
 * test_lora.c — LoRA / LoKr parsing, deltas and merging (src/model/lora.c).
 *
 * Pure parts on hand-made files (no model): the Kronecker layout and the LoKr
 * scale rule (docs/MODEL.md §9.4), PEFT header-metadata alpha / alpha_pattern and
 * per-key alpha precedence, every accepted prefix, kohya flattened names and
 * diffusers split names onto the fused qkv, and open-time errors.
 *
 * On the tiny conditional transformer, against tests/vectors/lora/ made by
 * tools/reference/ref_lora.py (diffusers' Ideogram 4 LoRA loader + PEFT fuse;
 * LoKr by the §9.4 formula, cross-checked there against PEFT's LoKr) on the
 * dit_cond inputs: each format in f32 and bf16 mode, a two-LoRA stack,
 * removal (bit-exact return to the base output), strength 0, and validation
 * errors that name the key and leave the model untouched.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "model/dit.h"
#include "model/lora.h"
#include "tensor/dtype.h"
#include "tensor/safetensors.h"
#include "test.h"

/* f32 mode: C and torch merge the same exactly-decoded weights in f32 (only
 * the summation order of B·A and of the forward differs, ~1e-6 relative);
 * 2e-3 is the project-wide transformer bound (docs/MODEL.md §0.3a). The LoRAs
 * change the output by 4e-2..4e-1 relative (asserted below), so a wrong scale,
 * row block, transpose or missing module fails by orders of magnitude. */
#define F32_TOL 2e-3
/* bf16 mode: as test_dit.c — C bf16 vs torch bf16 must be within 1.0 x the
 * spread between torch's own bf16 and f32 runs of the same merged model
 * (stored by the script; ~7e-3). The merged weights are rounded to bf16 once
 * on both sides, so the merge itself adds at most an occasional 1-ulp flip. */
#define BF16_SPREAD_FACTOR 1.0
/* Minimum effect of a test LoRA on the velocity (rel L2 vs base). */
#define MIN_CHANGE 1e-2

/* ------------------------------------------------------------ helpers */

static const char *lora_tmp(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/lora-%s.safetensors", i4_test_tmpdir(), name);
    return buf;
}

static void fill(float *v, size_t n, float base, float step) {
    for (size_t i = 0; i < n; i++) v[i] = base + step * (float)((i * 7) % 11) - step * 5.0f;
}

static int add2(i4_st_writer *w, const char *name, int64_t r, int64_t c, const float *v) {
    int64_t sh[2] = {r, c};
    return i4_st_writer_add_f32(w, name, 2, sh, v);
}

static int add0(i4_st_writer *w, const char *name, float v) { return i4_st_writer_add_f32(w, name, 0, NULL, &v); }

/* dW = B·A reference: [rows, cols] += coef * sum_k B[o,k] A[k,i] */
static void ref_ba(float *dst, int64_t ld, int64_t row0, const float *B, const float *A, int64_t rows, int64_t r,
                   int64_t cols, float coef) {
    for (int64_t o = 0; o < rows; o++)
        for (int64_t i = 0; i < cols; i++) {
            double s = 0;
            for (int64_t k = 0; k < r; k++) s += (double)B[o * r + k] * A[k * cols + i];
            dst[(row0 + o) * ld + i] += (float)(coef * s);
        }
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m) m = d;
    }
    return m;
}

/* ------------------------------------------------------------ pure tests */

/* LoKr: dW[i·p + a, j·q + b] = scale · W1[i, j] · W2[a, b], scale per §9.4. */
I4_TEST(lora_lokr_kron_delta) {
    char path[512];
    float w1[4], w2a[3], w2b[2], w1f[4], w2f[6], w1a[4], w1b[2], w2g[6];
    fill(w1, 4, 0.5f, 0.3f);
    fill(w2a, 3, -0.2f, 0.4f);
    fill(w2b, 2, 0.7f, 0.5f);
    fill(w1f, 4, 0.1f, 0.6f);
    fill(w2f, 6, 0.3f, 0.2f);
    fill(w1a, 4, -0.4f, 0.3f);
    fill(w1b, 2, 0.9f, 0.7f);
    fill(w2g, 6, 0.2f, 0.1f);
    i4_st_writer *w = i4_st_writer_new();
    REQUIRE(w);
    /* o: full W1 [2,2], factorised W2 = [3,1]·[1,2] -> [6,4]; alpha 3 over r = rows(w2_b) = 1 -> scale 3 */
    CHECK(add2(w, "layers.0.attention.o.lokr_w1", 2, 2, w1) == 0);
    CHECK(add2(w, "layers.0.attention.o.lokr_w2_a", 3, 1, w2a) == 0);
    CHECK(add2(w, "layers.0.attention.o.lokr_w2_b", 1, 2, w2b) == 0);
    CHECK(add0(w, "layers.0.attention.o.alpha", 3.0f) == 0);
    /* w1: both full (W1 [2,2], W2 [2,3] -> [4,6]); alpha 5 ignored -> scale 1 */
    CHECK(add2(w, "layers.0.feed_forward.w1.lokr_w1", 2, 2, w1f) == 0);
    CHECK(add2(w, "layers.0.feed_forward.w1.lokr_w2", 2, 3, w2f) == 0);
    CHECK(add0(w, "layers.0.feed_forward.w1.alpha", 5.0f) == 0);
    /* w2: factorised W1 = [2,2]·[2,1] -> [2,1], full W2 [3,2] -> [6,2]; alpha 4 / rows(w1_b) = 2 -> scale 2 */
    CHECK(add2(w, "layers.0.feed_forward.w2.lokr_w1_a", 2, 2, w1a) == 0);
    CHECK(add2(w, "layers.0.feed_forward.w2.lokr_w1_b", 2, 1, w1b) == 0);
    CHECK(add2(w, "layers.0.feed_forward.w2.lokr_w2", 3, 2, w2g) == 0);
    CHECK(add0(w, "layers.0.feed_forward.w2.alpha", 4.0f) == 0);
    /* layers.1.attention.o: both factorised, W1 = [2,1]·[1,2], W2 = [3,2]·[2,2]; r = rows(w2_b) = 2 -> scale 4/2 */
    float v1a[2] = {0.5f, -1.5f}, v1b[2] = {2.0f, 0.25f}, v2a[6], v2b[4];
    fill(v2a, 6, 0.1f, 0.3f);
    fill(v2b, 4, -0.2f, 0.5f);
    CHECK(add2(w, "layers.1.attention.o.lokr_w1_a", 2, 1, v1a) == 0);
    CHECK(add2(w, "layers.1.attention.o.lokr_w1_b", 1, 2, v1b) == 0);
    CHECK(add2(w, "layers.1.attention.o.lokr_w2_a", 3, 2, v2a) == 0);
    CHECK(add2(w, "layers.1.attention.o.lokr_w2_b", 2, 2, v2b) == 0);
    CHECK(add0(w, "layers.1.attention.o.alpha", 4.0f) == 0);
    REQUIRE(i4_st_writer_save(w, lora_tmp("kron", path, sizeof path)) == 0);
    i4_st_writer_free(w);

    i4_lora *l = NULL;
    REQUIRE(i4_lora_open(&l, path) == 0);
    CHECK(strcmp(i4_lora_format(l), "lokr") == 0);
    CHECK(i4_lora_module_count(l) == 4);

    /* o [6, 4] */
    float got[24] = {0}, want[24] = {0}, W2[6];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++) W2[a * 2 + b] = w2a[a] * w2b[b];
    for (int R = 0; R < 6; R++)
        for (int C = 0; C < 4; C++) want[R * 4 + C] = 0.5f * 3.0f * w1[(R / 3) * 2 + C / 2] * W2[(R % 3) * 2 + C % 2];
    CHECK(i4_lora_accumulate_delta(l, "layers.0.attention.o", 6, 4, 0.5f, got) == 1);
    CHECK(max_abs_diff(got, want, 24) < 1e-6);

    /* w1 [4, 6], scale 1 */
    memset(got, 0, sizeof got);
    for (int R = 0; R < 4; R++)
        for (int C = 0; C < 6; C++) want[R * 6 + C] = w1f[(R / 2) * 2 + C / 3] * w2f[(R % 2) * 3 + C % 3];
    CHECK(i4_lora_accumulate_delta(l, "layers.0.feed_forward.w1", 4, 6, 1.0f, got) == 1);
    CHECK(max_abs_diff(got, want, 24) < 1e-6);

    /* w2 [6, 2], scale 2 */
    memset(got, 0, sizeof got);
    float W1[2] = {w1a[0] * w1b[0] + w1a[1] * w1b[1], w1a[2] * w1b[0] + w1a[3] * w1b[1]};
    for (int R = 0; R < 6; R++)
        for (int C = 0; C < 2; C++) want[R * 2 + C] = 2.0f * W1[R / 3] * w2g[(R % 3) * 2 + C];
    CHECK(i4_lora_accumulate_delta(l, "layers.0.feed_forward.w2", 6, 2, 1.0f, got) == 1);
    CHECK(max_abs_diff(got, want, 12) < 1e-6);

    /* layers.1.attention.o [6, 4], scale 2 */
    memset(got, 0, sizeof got);
    for (int R = 0; R < 6; R++)
        for (int C = 0; C < 4; C++) {
            const float W1ij = v1a[R / 3] * v1b[C / 2];
            const float W2ab = v2a[(R % 3) * 2] * v2b[C % 2] + v2a[(R % 3) * 2 + 1] * v2b[2 + C % 2];
            want[R * 4 + C] = 2.0f * W1ij * W2ab;
        }
    CHECK(i4_lora_accumulate_delta(l, "layers.1.attention.o", 6, 4, 1.0f, got) == 1);
    CHECK(max_abs_diff(got, want, 24) < 1e-6);

    /* a module no group targets: nothing added */
    memset(got, 0, sizeof got);
    CHECK(i4_lora_accumulate_delta(l, "layers.0.feed_forward.w3", 4, 6, 1.0f, got) == 0);
    memset(want, 0, sizeof want);
    CHECK(max_abs_diff(got, want, 24) == 0);
    /* wrong target shape: error naming the tensor and the shapes, nothing added */
    CHECK(i4_lora_accumulate_delta(l, "layers.0.attention.o", 6, 5, 1.0f, got) == -1);
    CHECK(strstr(i4_last_error(), "layers.0.attention.o.lokr_w1") != NULL);
    CHECK(strstr(i4_last_error(), "[6, 4]") != NULL && strstr(i4_last_error(), "[6, 5]") != NULL);
    CHECK(got[0] == 0.0f && got[5] == 0.0f);
    i4_lora_close(l);
}

/* PEFT alpha from the diffusers header (lora_alpha, alpha_pattern), per-key
 * alpha wins, split to_k onto the K third of qkv, to_out.0 onto o. */
I4_TEST(lora_peft_metadata_alpha) {
    char path[512];
    float ak[8], bk[8], a2[6], b2[10], ao[8], bo[8];
    fill(ak, 8, 0.1f, 0.2f);
    fill(bk, 8, -0.3f, 0.25f);
    fill(a2, 6, 0.2f, 0.3f);
    fill(b2, 10, 0.05f, 0.15f);
    fill(ao, 8, -0.1f, 0.35f);
    fill(bo, 8, 0.4f, 0.1f);
    i4_st_writer *w = i4_st_writer_new();
    REQUIRE(w);
    CHECK(add2(w, "transformer.layers.0.attention.to_k.lora_A.weight", 2, 4, ak) == 0);
    CHECK(add2(w, "transformer.layers.0.attention.to_k.lora_B.weight", 4, 2, bk) == 0);
    CHECK(add2(w, "transformer.layers.0.feed_forward.w2.lora_A.weight", 2, 3, a2) == 0);
    CHECK(add2(w, "transformer.layers.0.feed_forward.w2.lora_B.weight", 5, 2, b2) == 0);
    CHECK(add2(w, "transformer.layers.1.attention.to_out.0.lora_A.weight", 2, 4, ao) == 0);
    CHECK(add2(w, "transformer.layers.1.attention.to_out.0.lora_B.weight", 4, 2, bo) == 0);
    CHECK(add0(w, "transformer.layers.1.attention.to_out.0.alpha", 1.0f) == 0);
    CHECK(i4_st_writer_set_metadata(w, "format", "pt") == 0);
    CHECK(i4_st_writer_set_metadata(w, "lora_adapter_metadata",
                                    "{\"transformer.r\": 2, \"transformer.lora_alpha\": 6, "
                                    "\"transformer.alpha_pattern\": {\"layers.0.feed_forward.w2\": 1}, "
                                    "\"transformer.use_rslora\": false}") == 0);
    REQUIRE(i4_st_writer_save(w, lora_tmp("peftmeta", path, sizeof path)) == 0);
    i4_st_writer_free(w);

    i4_lora *l = NULL;
    REQUIRE(i4_lora_open(&l, path) == 0);
    CHECK(strcmp(i4_lora_format(l), "peft") == 0);
    CHECK(strcmp(i4_lora_name(l), "lora-peftmeta") == 0);

    float got[48] = {0}, want[48] = {0};
    /* qkv [12, 4]: rows 4..7 = 0.5 * (6/2) * B·A, the rest untouched */
    ref_ba(want, 4, 4, bk, ak, 4, 2, 4, 0.5f * 3.0f);
    CHECK(i4_lora_accumulate_delta(l, "layers.0.attention.qkv", 12, 4, 0.5f, got) == 1);
    CHECK(max_abs_diff(got, want, 48) < 1e-6);
    /* w2 [5, 3]: alpha_pattern 1 over r 2 */
    memset(got, 0, sizeof got);
    memset(want, 0, sizeof want);
    ref_ba(want, 3, 0, b2, a2, 5, 2, 3, 0.5f);
    CHECK(i4_lora_accumulate_delta(l, "layers.0.feed_forward.w2", 5, 3, 1.0f, got) == 1);
    CHECK(max_abs_diff(got, want, 15) < 1e-6);
    /* o [4, 4]: the key's alpha 1 over r 2 beats lora_alpha */
    memset(got, 0, sizeof got);
    memset(want, 0, sizeof want);
    ref_ba(want, 4, 0, bo, ao, 4, 2, 4, 0.5f);
    CHECK(i4_lora_accumulate_delta(l, "layers.1.attention.o", 4, 4, 1.0f, got) == 1);
    CHECK(max_abs_diff(got, want, 16) < 1e-6);
    /* the split name is not a module of its own */
    CHECK(i4_lora_accumulate_delta(l, "layers.0.attention.to_k", 4, 4, 1.0f, got) == 0);
    i4_lora_close(l);
}

/* Every accepted prefix, kohya flattened names, no alpha -> scale 1, fused qkv. */
I4_TEST(lora_key_names) {
    static const char *const prefixes[] = {"", "diffusion_model.", "conditional_transformer.", "transformer.",
                                           "base_model.model.", "model.diffusion_model."};
    float A[6], B[12], Bq[18];
    fill(A, 6, 0.3f, 0.2f);
    fill(B, 12, -0.1f, 0.3f);
    fill(Bq, 18, 0.2f, 0.15f);
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        char path[512], key[256], tag[32];
        snprintf(tag, sizeof tag, "prefix%zu", p);
        i4_st_writer *w = i4_st_writer_new();
        REQUIRE(w);
        snprintf(key, sizeof key, "%slayers.1.feed_forward.w3.lora_down.weight", prefixes[p]);
        CHECK(add2(w, key, 2, 3, A) == 0);
        snprintf(key, sizeof key, "%slayers.1.feed_forward.w3.lora_up.weight", prefixes[p]);
        CHECK(add2(w, key, 4, 2, B) == 0);
        REQUIRE(i4_st_writer_save(w, lora_tmp(tag, path, sizeof path)) == 0);
        i4_st_writer_free(w);
        i4_lora *l = NULL;
        if (i4_lora_open(&l, path) != 0) fprintf(stderr, "  prefix '%s': %s\n", prefixes[p], i4_last_error());
        REQUIRE(l);
        CHECK(strcmp(i4_lora_format(l), "kohya") == 0);
        float got[12] = {0}, want[12] = {0};
        ref_ba(want, 3, 0, B, A, 4, 2, 3, 1.0f);
        int n = i4_lora_accumulate_delta(l, "layers.1.feed_forward.w3", 4, 3, 1.0f, got);
        CHECK(n == 1);
        if (n != 1) fprintf(stderr, "  prefix '%s' not recognised\n", prefixes[p]);
        CHECK(max_abs_diff(got, want, 12) < 1e-6);
        i4_lora_close(l);
    }

    /* kohya flattened: a fused qkv, a split to_v alias and a name with '_' inside */
    char path[512];
    i4_st_writer *w = i4_st_writer_new();
    REQUIRE(w);
    CHECK(add2(w, "lora_unet_layers_0_attention_qkv.lora_down.weight", 2, 3, A) == 0);
    CHECK(add2(w, "lora_unet_layers_0_attention_qkv.lora_up.weight", 9, 2, Bq) == 0);
    CHECK(add0(w, "lora_unet_layers_0_attention_qkv.alpha", 1.0f) == 0);
    CHECK(add2(w, "lora_unet_layers_0_attention_to_v.lora_down.weight", 2, 3, A) == 0);
    CHECK(add2(w, "lora_unet_layers_0_attention_to_v.lora_up.weight", 3, 2, B) == 0);
    CHECK(add2(w, "lora_unet_layers_1_adaln_modulation.lora_down.weight", 2, 3, A) == 0);
    CHECK(add2(w, "lora_unet_layers_1_adaln_modulation.lora_up.weight", 4, 2, B) == 0);
    /* LyCORIS writes LoKr with kohya flattened names too */
    CHECK(add2(w, "lora_unet_layers_0_attention_to_out_0.lokr_w1", 2, 2, A) == 0);
    CHECK(add2(w, "lora_unet_layers_0_attention_to_out_0.lokr_w2", 2, 2, B) == 0);
    REQUIRE(i4_st_writer_save(w, lora_tmp("flat", path, sizeof path)) == 0);
    i4_st_writer_free(w);
    i4_lora *l = NULL;
    REQUIRE(i4_lora_open(&l, path) == 0);
    CHECK(i4_lora_module_count(l) == 4);
    CHECK(strcmp(i4_lora_format(l), "lokr") == 0);
    float got[27] = {0}, want[27] = {0};
    ref_ba(want, 3, 0, Bq, A, 9, 2, 3, 0.5f); /* alpha 1 / r 2 */
    ref_ba(want, 3, 6, B, A, 3, 2, 3, 1.0f);  /* the V third, no alpha */
    CHECK(i4_lora_accumulate_delta(l, "layers.0.attention.qkv", 9, 3, 1.0f, got) == 2);
    CHECK(max_abs_diff(got, want, 27) < 1e-6);
    memset(got, 0, sizeof got);
    memset(want, 0, sizeof want);
    ref_ba(want, 3, 0, B, A, 4, 2, 3, 1.0f);
    CHECK(i4_lora_accumulate_delta(l, "layers.1.adaln_modulation", 4, 3, 1.0f, got) == 1);
    CHECK(max_abs_diff(got, want, 12) < 1e-6);
    /* to_out_0 -> attention.o [4, 4]: kron(W1 [2,2], W2 [2,2]), no alpha */
    memset(got, 0, sizeof got);
    for (int R = 0; R < 4; R++)
        for (int C = 0; C < 4; C++) want[R * 4 + C] = A[(R / 2) * 2 + C / 2] * B[(R % 2) * 2 + C % 2];
    CHECK(i4_lora_accumulate_delta(l, "layers.0.attention.o", 4, 4, 1.0f, got) == 1);
    CHECK(max_abs_diff(got, want, 16) < 1e-6);
    i4_lora_close(l);
}

static void expect_open_error(int *i4_failures, const char *tag, const char *k1, int64_t r1, int64_t c1,
                              const char *k2, int64_t r2, int64_t c2, const char *needle) {
    char path[512];
    float v[64];
    fill(v, 64, 0.1f, 0.1f);
    i4_st_writer *w = i4_st_writer_new();
    REQUIRE(w);
    CHECK(add2(w, k1, r1, c1, v) == 0);
    if (k2) CHECK(add2(w, k2, r2, c2, v) == 0);
    REQUIRE(i4_st_writer_save(w, lora_tmp(tag, path, sizeof path)) == 0);
    i4_st_writer_free(w);
    i4_lora *l = (i4_lora *)1;
    CHECK(i4_lora_open(&l, path) == -1);
    CHECK(l == NULL);
    CHECK(strstr(i4_last_error(), needle) != NULL);
    if (!strstr(i4_last_error(), needle)) fprintf(stderr, "  %s: got '%s'\n", tag, i4_last_error());
}

I4_TEST(lora_open_errors) {
    expect_open_error(i4_failures, "noB", "diffusion_model.layers.0.attention.o.lora_A.weight", 2, 4, NULL, 0, 0,
                      "diffusion_model.layers.0.attention.o.lora_A.weight");
    expect_open_error(i4_failures, "rank", "layers.0.attention.o.lora_down.weight", 2, 4,
                      "layers.0.attention.o.lora_up.weight", 4, 3, "different ranks");
    expect_open_error(i4_failures, "loha", "layers.0.attention.o.hada_w1_a", 2, 4, NULL, 0, 0,
                      "layers.0.attention.o.hada_w1_a");
    expect_open_error(i4_failures, "dora", "layers.0.attention.o.dora_scale", 1, 4, NULL, 0, 0, "DoRA");
    expect_open_error(i4_failures, "junk", "layers.0.attention.o.weight", 4, 4, NULL, 0, 0,
                      "layers.0.attention.o.weight");
    expect_open_error(i4_failures, "lokr1", "layers.0.attention.o.lokr_w1", 2, 2, NULL, 0, 0, "lokr_w2");
    expect_open_error(i4_failures, "dup", "diffusion_model.layers.0.attention.o.lora_A.weight", 2, 4,
                      "transformer.layers.0.attention.o.lora_A.weight", 2, 4, "name the same tensor");
    i4_lora *l = (i4_lora *)1;
    CHECK(i4_lora_open(&l, "/nonexistent/x.safetensors") == -1);
    CHECK(l == NULL);
    i4_lora_info info;
    CHECK(i4_lora_inspect("/nonexistent/x.safetensors", &info) == -1);
}

/* The public description (ideogram4.h) agrees with the parsed file. */
I4_TEST(lora_inspect) {
    static const char *const names[] = {"peft", "kohya", "kohya_flat", "lokr"};
    for (int i = 0; i < 4; i++) {
        char rel[128], path[512];
        snprintf(rel, sizeof rel, "lora/%s.safetensors", names[i]);
        i4_test_vector_path(rel, path, sizeof path);
        i4_lora *l = NULL;
        i4_lora_info info;
        REQUIRE(i4_lora_open(&l, path) == 0);
        CHECK(i4_lora_inspect(path, &info) == 0);
        CHECK(!strcmp(info.format, i4_lora_format(l)) && info.modules == i4_lora_module_count(l) && info.modules > 0);
        i4_lora_close(l);
    }
}

/* ------------------------------------------------------------ on the tiny DiT */

typedef struct {
    i4_tensor_set *set;
    int64_t L, C;
    float *x, *feat, t;
    int64_t *pos, *seg, *ind;
} inputs;

static void inputs_free(inputs *in) {
    free(in->x); free(in->feat); free(in->pos); free(in->seg); free(in->ind);
    if (in->set) i4_tensor_set_close(in->set);
    memset(in, 0, sizeof *in);
}

static int inputs_load(inputs *in) {
    char path[512];
    memset(in, 0, sizeof *in);
    if (i4_tensor_set_open_file(&in->set, i4_test_vector_path("dit_cond.safetensors", path, sizeof path)) != 0)
        return -1;
    const i4_tensor *x = i4_tensor_set_get(in->set, "hidden_states"), *t = i4_tensor_set_get(in->set, "timestep");
    const i4_tensor *p = i4_tensor_set_get(in->set, "position_ids"), *s = i4_tensor_set_get(in->set, "segment_ids");
    const i4_tensor *ind = i4_tensor_set_get(in->set, "indicator");
    const i4_tensor *f = i4_tensor_set_get(in->set, "encoder_hidden_states");
    if (!x || !t || !p || !s || !ind || !f || x->ndim != 3) return -1;
    in->L = x->shape[1];
    in->C = x->shape[2];
    in->x = malloc((size_t)x->numel * sizeof *in->x);
    in->feat = malloc((size_t)f->numel * sizeof *in->feat);
    in->pos = malloc((size_t)p->numel * sizeof *in->pos);
    in->seg = malloc((size_t)s->numel * sizeof *in->seg);
    in->ind = malloc((size_t)ind->numel * sizeof *in->ind);
    if (!in->x || !in->feat || !in->pos || !in->seg || !in->ind) return -1;
    i4_tensor_to_f32(x, in->x);
    i4_tensor_to_f32(f, in->feat);
    i4_tensor_to_f32(t, &in->t);
    i4_tensor_to_i64(p, in->pos);
    i4_tensor_to_i64(s, in->seg);
    i4_tensor_to_i64(ind, in->ind);
    return 0;
}

typedef struct {
    i4_tensor_set *set;
    float *v32, *v16, spread, change;
    float strength[2];
    int n_strength;
} expected;

static void expected_free(expected *e) {
    free(e->v32); free(e->v16);
    if (e->set) i4_tensor_set_close(e->set);
    memset(e, 0, sizeof *e);
}

static int expected_load(expected *e, const char *name, int64_t numel) {
    char rel[128], path[512];
    memset(e, 0, sizeof *e);
    snprintf(rel, sizeof rel, "lora/%s_expected.safetensors", name);
    if (i4_tensor_set_open_file(&e->set, i4_test_vector_path(rel, path, sizeof path)) != 0) return -1;
    const i4_tensor *a = i4_tensor_set_get(e->set, "velocity_f32"), *b = i4_tensor_set_get(e->set, "velocity_bf16");
    const i4_tensor *sp = i4_tensor_set_get(e->set, "spread_bf16_vs_f32"), *st = i4_tensor_set_get(e->set, "strength");
    const i4_tensor *ch = i4_tensor_set_get(e->set, "rel_change");
    if (!a || !b || !sp || !st || !ch || a->numel != numel || b->numel != numel || st->numel > 2) return -1;
    e->v32 = malloc((size_t)numel * sizeof *e->v32);
    e->v16 = malloc((size_t)numel * sizeof *e->v16);
    if (!e->v32 || !e->v16) return -1;
    i4_tensor_to_f32(a, e->v32);
    i4_tensor_to_f32(b, e->v16);
    i4_tensor_to_f32(sp, &e->spread);
    i4_tensor_to_f32(ch, &e->change);
    i4_tensor_to_f32(st, e->strength);
    e->n_strength = (int)st->numel;
    return 0;
}

static double image_rel_l2(const inputs *in, const float *got, const float *want) {
    double num = 0, den = 0;
    for (int64_t n = 0; n < in->L; n++) {
        if (in->ind[n] != 2) continue;
        for (int64_t i = 0; i < in->C; i++) {
            double d = (double)got[n * in->C + i] - want[n * in->C + i];
            num += d * d;
            den += (double)want[n * in->C + i] * want[n * in->C + i];
        }
    }
    return sqrt(num / (den > 1e-30 ? den : 1e-30));
}

static i4_dit *load_dit(i4_precision p) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/transformer", i4_test_tiny_model());
    i4_dit *m = NULL;
    if (i4_dit_load(&m, dir, p, i4_test_backend()) != 0) fprintf(stderr, "  load %s: %s\n", dir, i4_last_error());
    return m;
}

static int forward(i4_dit *m, const inputs *in, float *out) {
    if (i4_dit_forward(m, in->x, in->t, in->feat, in->pos, in->seg, in->ind, in->L, out) != 0) {
        fprintf(stderr, "  forward: %s\n", i4_last_error());
        return -1;
    }
    return 0;
}

static i4_lora *open_vector_lora(const char *name) {
    char rel[128], path[512];
    snprintf(rel, sizeof rel, "lora/%s.safetensors", name);
    i4_lora *l = NULL;
    if (i4_lora_open(&l, i4_test_vector_path(rel, path, sizeof path)) != 0)
        fprintf(stderr, "  open %s: %s\n", path, i4_last_error());
    return l;
}

static int bf16_representable(const inputs *in, const float *v) {
    for (int64_t n = 0; n < in->L; n++)
        for (int64_t i = 0; i < in->C; i++) {
            float x = v[n * in->C + i];
            if (in->ind[n] == 2 && (!isfinite(x) || i4_round_bf16(x) != x)) return 0;
        }
    return 1;
}

static void golden_format(int *i4_failures, const char *name, const char *format) {
    inputs in;
    expected e;
    if (inputs_load(&in) != 0) {
        inputs_free(&in);
        REQUIRE(!"dit_cond inputs readable");
    }
    const size_t numel = (size_t)(in.L * in.C);
    if (expected_load(&e, name, (int64_t)numel) != 0 || e.n_strength != 1) {
        inputs_free(&in);
        expected_free(&e);
        REQUIRE(!"expected vector readable");
    }
    CHECK(e.change > MIN_CHANGE);
    CHECK(e.spread > 1e-4 && e.spread < 0.05);
    float *base = malloc(numel * sizeof *base), *out = malloc(numel * sizeof *out);
    i4_lora *l = open_vector_lora(name);
    REQUIRE(base && out && l);
    CHECK(strcmp(i4_lora_format(l), format) == 0);
    for (int p = 0; p < 2; p++) {
        const i4_precision prec = p ? I4_PRECISION_BF16 : I4_PRECISION_F32;
        i4_dit *m = load_dit(prec);
        REQUIRE(m);
        i4_lora_stack *s = i4_lora_stack_new(m, prec);
        REQUIRE(s);
        CHECK(forward(m, &in, base) == 0);
        int rc = i4_lora_stack_add(s, l, e.strength[0]);
        if (rc != 0) fprintf(stderr, "  add %s: %s\n", name, i4_last_error());
        CHECK(rc == 0);
        CHECK(i4_lora_stack_modules(s) > 0);
        CHECK(forward(m, &in, out) == 0);
        double err = image_rel_l2(&in, out, p ? e.v16 : e.v32);
        double change = image_rel_l2(&in, out, base);
        if (p == 0) {
            CHECK(err < F32_TOL);
            CHECK(change > MIN_CHANGE);
            printf("  %s (%s, strength %g) f32: rel L2 vs diffusers %.2e (tol %.0e); LoRA changes the output by %.2e\n",
                   name, format, e.strength[0], err, F32_TOL, change);
        } else {
            CHECK(err < BF16_SPREAD_FACTOR * e.spread);
            CHECK(bf16_representable(&in, out));
            printf("  %s bf16: rel L2 vs torch bf16 %.2e (tol %.1f x spread %.2e)\n", name, err, BF16_SPREAD_FACTOR,
                   e.spread);
        }
        /* removal returns to the checkpoint's weights bit for bit */
        CHECK(i4_lora_stack_remove_all(s) == 0);
        CHECK(i4_lora_stack_count(s) == 0 && i4_lora_stack_modules(s) == 0);
        CHECK(forward(m, &in, out) == 0);
        CHECK(memcmp(out, base, numel * sizeof *out) == 0);
        i4_lora_stack_free(s);
        i4_dit_free(m);
    }
    i4_lora_close(l);
    free(base);
    free(out);
    expected_free(&e);
    inputs_free(&in);
}

I4_TEST(lora_golden_peft) { golden_format(i4_failures, "peft", "peft"); }
I4_TEST(lora_golden_kohya) { golden_format(i4_failures, "kohya", "kohya"); }
I4_TEST(lora_golden_kohya_flat) { golden_format(i4_failures, "kohya_flat", "kohya"); }
I4_TEST(lora_golden_lokr) { golden_format(i4_failures, "lokr", "lokr"); }

/* Two LoRAs at once = diffusers with both adapters fused; removing one by name
 * = the other alone (bit for bit); strength 0 = base (bit for bit). */
I4_TEST(lora_stack) {
    inputs in;
    expected e;
    if (inputs_load(&in) != 0) {
        inputs_free(&in);
        REQUIRE(!"dit_cond inputs readable");
    }
    const size_t numel = (size_t)(in.L * in.C);
    if (expected_load(&e, "stack", (int64_t)numel) != 0 || e.n_strength != 2) {
        inputs_free(&in);
        expected_free(&e);
        REQUIRE(!"expected vector readable");
    }
    float *base = malloc(numel * sizeof *base), *out = malloc(numel * sizeof *out), *one = malloc(numel * sizeof *one);
    i4_lora *peft = open_vector_lora("peft"), *kohya = open_vector_lora("kohya");
    i4_dit *m = load_dit(I4_PRECISION_F32);
    REQUIRE(base && out && one && peft && kohya && m);
    i4_lora_stack *s = i4_lora_stack_new(m, I4_PRECISION_F32);
    REQUIRE(s);
    CHECK(forward(m, &in, base) == 0);

    /* strength 0: validated, but the model keeps its weights */
    CHECK(i4_lora_stack_add(s, peft, 0.0f) == 0);
    CHECK(i4_lora_stack_count(s) == 1 && i4_lora_stack_modules(s) == 0);
    CHECK(forward(m, &in, out) == 0);
    CHECK(memcmp(out, base, numel * sizeof *out) == 0);
    CHECK(i4_lora_stack_remove(s, "peft") == 0);
    CHECK(i4_lora_stack_count(s) == 0);

    /* kohya alone (reference for the removal check) */
    CHECK(i4_lora_stack_add(s, kohya, e.strength[1]) == 0);
    CHECK(forward(m, &in, one) == 0);
    CHECK(i4_lora_stack_remove_all(s) == 0);

    CHECK(i4_lora_stack_add(s, peft, e.strength[0]) == 0);
    CHECK(i4_lora_stack_add(s, kohya, e.strength[1]) == 0);
    CHECK(i4_lora_stack_count(s) == 2);
    CHECK(forward(m, &in, out) == 0);
    double err = image_rel_l2(&in, out, e.v32);
    CHECK(err < F32_TOL);
    CHECK(e.change > MIN_CHANGE);
    printf("  stack peft %g + kohya %g: rel L2 vs diffusers %.2e (tol %.0e)\n", e.strength[0], e.strength[1], err,
           F32_TOL);

    CHECK(i4_lora_stack_remove(s, "nothing-like-that") == -1);
    CHECK(strstr(i4_last_error(), "nothing-like-that") != NULL);
    CHECK(i4_lora_stack_count(s) == 2);
    CHECK(i4_lora_stack_remove(s, "peft.safetensors") == 0);
    CHECK(i4_lora_stack_count(s) == 1);
    CHECK(forward(m, &in, out) == 0);
    CHECK(memcmp(out, one, numel * sizeof *out) == 0);
    CHECK(i4_lora_stack_remove(s, i4_lora_path(kohya)) == 0);
    CHECK(i4_lora_stack_modules(s) == 0);
    CHECK(forward(m, &in, out) == 0);
    CHECK(memcmp(out, base, numel * sizeof *out) == 0);

    i4_lora_stack_free(s);
    i4_dit_free(m);
    i4_lora_close(peft);
    i4_lora_close(kohya);
    free(base);
    free(out);
    free(one);
    expected_free(&e);
    inputs_free(&in);
}

/* Validation against the model: errors name the key, the module and the
 * shapes; nothing is applied (model output and stack unchanged). */
I4_TEST(lora_validation_errors) {
    inputs in;
    if (inputs_load(&in) != 0) {
        inputs_free(&in);
        REQUIRE(!"dit_cond inputs readable");
    }
    const size_t numel = (size_t)(in.L * in.C);
    float *before = malloc(numel * sizeof *before), *out = malloc(numel * sizeof *out);
    i4_lora *kohya = open_vector_lora("kohya");
    i4_dit *m = load_dit(I4_PRECISION_F32);
    REQUIRE(before && out && kohya && m);
    const int64_t D = i4_dit_config_get(m)->dim;
    i4_lora_stack *s = i4_lora_stack_new(m, I4_PRECISION_F32);
    REQUIRE(s);
    CHECK(i4_lora_stack_add(s, kohya, 0.8f) == 0);
    const size_t mods = i4_lora_stack_modules(s);
    CHECK(forward(m, &in, before) == 0);

    float *v = calloc((size_t)(4 * D * 4), sizeof *v);
    REQUIRE(v);
    fill(v, (size_t)(4 * D * 4), 0.01f, 0.01f);
    struct {
        const char *tag, *k_down, *k_up;
        int64_t down_r, down_c, up_r, up_c;
        const char *needles[3];
    } cases[] = {
        /* a valid module first: it must not be applied either */
        {"unknown", "diffusion_model.layers.9.attention.qkv.lora_down.weight",
         "diffusion_model.layers.9.attention.qkv.lora_up.weight", 4, D, 3 * D, 4,
         {"diffusion_model.layers.9.attention.qkv.lora_down.weight", "layers.9.attention.qkv", NULL}},
        {"shape", "diffusion_model.layers.0.attention.o.lora_down.weight",
         "diffusion_model.layers.0.attention.o.lora_up.weight", 2, D, 100, 2,
         {"diffusion_model.layers.0.attention.o.lora_up.weight", "[100, 2]", "layers.0.attention.o.weight is ["}},
        {"splitshape", "transformer.layers.1.attention.to_q.lora_A.weight",
         "transformer.layers.1.attention.to_q.lora_B.weight", 2, D, 3 * D, 2,
         {"transformer.layers.1.attention.to_q.lora_B.weight", "the Q third of layers.1.attention.qkv", NULL}},
        {"notlinear", "diffusion_model.layers.0.attention.norm_q.lora_down.weight",
         "diffusion_model.layers.0.attention.norm_q.lora_up.weight", 2, D, D, 2,
         {"diffusion_model.layers.0.attention.norm_q.lora_down.weight", "not a Linear", NULL}},
        {"flatunknown", "lora_unet_layers_0_attention_qkvx.lora_down.weight",
         "lora_unet_layers_0_attention_qkvx.lora_up.weight", 2, D, 3 * D, 2,
         {"lora_unet_layers_0_attention_qkvx.lora_down.weight", "layers_0_attention_qkvx", NULL}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char path[512];
        i4_st_writer *w = i4_st_writer_new();
        REQUIRE(w);
        CHECK(add2(w, "diffusion_model.layers.1.feed_forward.w3.lora_down.weight", 2, D, v) == 0);
        CHECK(add2(w, "diffusion_model.layers.1.feed_forward.w3.lora_up.weight", i4_dit_config_get(m)->ffn_dim, 2, v) ==
              0);
        CHECK(add2(w, cases[c].k_down, cases[c].down_r, cases[c].down_c, v) == 0);
        CHECK(add2(w, cases[c].k_up, cases[c].up_r, cases[c].up_c, v) == 0);
        REQUIRE(i4_st_writer_save(w, lora_tmp(cases[c].tag, path, sizeof path)) == 0);
        i4_st_writer_free(w);
        i4_lora *bad = NULL;
        REQUIRE(i4_lora_open(&bad, path) == 0);
        CHECK(i4_lora_stack_add(s, bad, 1.0f) == -1);
        const char *msg = i4_last_error();
        for (int k = 0; k < 3; k++) {
            if (!cases[c].needles[k]) continue;
            CHECK(strstr(msg, cases[c].needles[k]) != NULL);
            if (!strstr(msg, cases[c].needles[k]))
                fprintf(stderr, "  %s: '%s' not in '%s'\n", cases[c].tag, cases[c].needles[k], msg);
        }
        CHECK(i4_lora_stack_count(s) == 1 && i4_lora_stack_modules(s) == mods);
        CHECK(forward(m, &in, out) == 0);
        CHECK(memcmp(out, before, numel * sizeof *out) == 0);
        i4_lora_close(bad);
    }
    CHECK(i4_lora_stack_add(s, kohya, NAN) == -1);
    CHECK(i4_lora_stack_count(s) == 1);

    i4_lora_stack_free(s); /* restores the model */
    i4_dit_free(m);
    i4_lora_close(kohya);
    free(v);
    free(before);
    free(out);
    inputs_free(&in);
}

/* A LoRA whose delta is exactly zero (B = 0) at a non-zero strength: the
 * merged copies must hold exactly the weights the kernels decode from the
 * checkpoint — e4m3·scale in f32 mode, bf16(e4m3·bf16(scale)) in bf16 mode
 * (docs/MODEL.md §2.3) — so the output is the base output bit for bit. */
I4_TEST(lora_zero_delta_is_exact) {
    inputs in;
    if (inputs_load(&in) != 0) {
        inputs_free(&in);
        REQUIRE(!"dit_cond inputs readable");
    }
    const size_t numel = (size_t)(in.L * in.C);
    float *base = malloc(numel * sizeof *base), *out = malloc(numel * sizeof *out);
    REQUIRE(base && out);
    for (int p = 0; p < 2; p++) {
        const i4_precision prec = p ? I4_PRECISION_BF16 : I4_PRECISION_F32;
        i4_dit *m = load_dit(prec);
        REQUIRE(m);
        const i4_dit_config *c = i4_dit_config_get(m);
        const int64_t D = c->dim, I = c->ffn_dim;
        float *A = malloc((size_t)(2 * I) * sizeof *A), *B = calloc((size_t)(3 * D * 2), sizeof *B);
        REQUIRE(A && B);
        fill(A, (size_t)(2 * I), 0.3f, 0.2f);
        char path[512];
        i4_st_writer *w = i4_st_writer_new();
        REQUIRE(w);
        CHECK(add2(w, "layers.0.attention.qkv.lora_A.weight", 2, D, A) == 0);
        CHECK(add2(w, "layers.0.attention.qkv.lora_B.weight", 3 * D, 2, B) == 0);
        CHECK(add2(w, "layers.1.feed_forward.w2.lora_A.weight", 2, I, A) == 0);
        CHECK(add2(w, "layers.1.feed_forward.w2.lora_B.weight", D, 2, B) == 0);
        CHECK(add2(w, "final_layer.linear.lora_A.weight", 2, D, A) == 0);
        CHECK(add2(w, "final_layer.linear.lora_B.weight", c->in_channels, 2, B) == 0);
        REQUIRE(i4_st_writer_save(w, lora_tmp(p ? "zero16" : "zero32", path, sizeof path)) == 0);
        i4_st_writer_free(w);
        i4_lora *l = NULL;
        REQUIRE(i4_lora_open(&l, path) == 0);
        i4_lora_stack *s = i4_lora_stack_new(m, prec);
        REQUIRE(s);
        CHECK(forward(m, &in, base) == 0);
        CHECK(i4_lora_stack_add(s, l, 1.0f) == 0);
        CHECK(i4_lora_stack_modules(s) == 3);
        CHECK(forward(m, &in, out) == 0);
        CHECK(memcmp(out, base, numel * sizeof *out) == 0);
        i4_lora_stack_free(s);
        i4_lora_close(l);
        i4_dit_free(m);
        free(A);
        free(B);
    }
    free(base);
    free(out);
    inputs_free(&in);
}

/* The merged copy itself, element by element, against the §9.3 formula
 * computed here in double: peft (to_q/to_k/to_v, alpha 8 / r 4 from the
 * header) + kohya (fused qkv of layer 0, alpha 2 / r 4) on layers.0.attention.qkv.
 * f32 mode: F32 copy of e4m3·scale + Σ s·scale·B·A (per element within 4e-6
 * of the magnitude of the summed terms: a few f32 roundings).
 * bf16 mode: BF16 copy, RNE-rounded once from bf16(e4m3·bf16(scale)) + Σ:
 * every element within one bf16 ulp of the double formula and at least 99 %
 * identical (a second rounding or truncation moves ~half of them). */
static void read_f32(const i4_tensor_set *set, const char *name, float **out) {
    const i4_tensor *t = i4_tensor_set_get(set, name);
    *out = t ? malloc((size_t)t->numel * sizeof **out) : NULL;
    if (*out) i4_tensor_to_f32(t, *out);
}

I4_TEST(lora_merged_weights) {
    char p1[512], p2[512];
    i4_tensor_set *sp = NULL, *sk = NULL;
    REQUIRE(i4_tensor_set_open_file(&sp, i4_test_vector_path("lora/peft.safetensors", p1, sizeof p1)) == 0);
    REQUIRE(i4_tensor_set_open_file(&sk, i4_test_vector_path("lora/kohya.safetensors", p2, sizeof p2)) == 0);
    static const char *const proj[3] = {"to_q", "to_k", "to_v"};
    float *pa[3], *pb[3], *ka, *kb;
    for (int j = 0; j < 3; j++) {
        char name[128];
        snprintf(name, sizeof name, "transformer.layers.0.attention.%s.lora_A.weight", proj[j]);
        read_f32(sp, name, &pa[j]);
        snprintf(name, sizeof name, "transformer.layers.0.attention.%s.lora_B.weight", proj[j]);
        read_f32(sp, name, &pb[j]);
        REQUIRE(pa[j] && pb[j]);
    }
    read_f32(sk, "diffusion_model.layers.0.attention.qkv.lora_down.weight", &ka);
    read_f32(sk, "diffusion_model.layers.0.attention.qkv.lora_up.weight", &kb);
    REQUIRE(ka && kb);
    i4_lora *peft = open_vector_lora("peft"), *kohya = open_vector_lora("kohya");
    REQUIRE(peft && kohya);
    const float s1 = 0.6f, s2 = -0.5f;
    for (int p = 0; p < 2; p++) {
        const i4_precision prec = p ? I4_PRECISION_BF16 : I4_PRECISION_F32;
        i4_dit *m = load_dit(prec);
        REQUIRE(m);
        const int64_t D = i4_dit_config_get(m)->dim, out = 3 * D, in = D;
        const i4_tensor *wt = i4_tensor_set_get(i4_dit_tensors(m), "layers.0.attention.qkv.weight");
        const i4_tensor *st = i4_tensor_set_get(i4_dit_tensors(m), "layers.0.attention.qkv.weight_scale");
        REQUIRE(wt && st && wt->dtype == I4_DT_F8_E4M3 && st->numel == out);
        float *scale = malloc((size_t)out * sizeof *scale);
        REQUIRE(scale);
        i4_tensor_to_f32(st, scale);
        i4_lora_stack *s = i4_lora_stack_new(m, prec);
        REQUIRE(s);
        CHECK(i4_lora_stack_weight(s, "layers.0.attention.qkv") == NULL);
        CHECK(i4_lora_stack_add(s, peft, s1) == 0);
        CHECK(i4_lora_stack_add(s, kohya, s2) == 0);
        const i4_linear_w *w = i4_lora_stack_weight(s, "layers.0.attention.qkv");
        REQUIRE(w && w->out == out && w->in == in && w->bias == NULL);
        CHECK(w->dtype == (p ? I4_DT_BF16 : I4_DT_F32));
        int64_t same = 0, far = 0;
        double worst = 0;
        for (int64_t o = 0; o < out; o++) {
            const int j = (int)(o / D);
            const int64_t oj = o % D;
            const float sc = p ? i4_round_bf16(scale[o]) : scale[o];
            for (int64_t i = 0; i < in; i++) {
                float b0 = i4_fp8_e4m3_to_f32(((const uint8_t *)wt->data)[o * in + i]) * sc;
                if (p) b0 = i4_round_bf16(b0);
                double d1 = 0, d2 = 0;
                for (int k = 0; k < 4; k++) d1 += (double)pb[j][oj * 4 + k] * pa[j][k * in + i];
                for (int k = 0; k < 4; k++) d2 += (double)kb[o * 4 + k] * ka[k * in + i];
                const double want = (double)b0 + s1 * 2.0 * d1 + s2 * 0.5 * d2;
                const float got = p ? i4_bf16_to_f32(((const uint16_t *)w->w)[o * in + i]) : ((const float *)w->w)[o * in + i];
                if (p) {
                    const float r = i4_round_bf16((float)want);
                    same += got == r;
                    /* one bf16 ulp at |want| */
                    const double ulp = ldexp(1.0, (int)floor(log2(fabs(want) > 1e-30 ? fabs(want) : 1e-30)) - 7);
                    far += fabs((double)got - want) > ulp;
                } else {
                    /* relative to the size of the terms summed (f32 rounding of each) */
                    const double mag = fabs(b0) + fabs(s1 * 2.0 * d1) + fabs(s2 * 0.5 * d2) + 1e-30;
                    /* (f32 half-ulp 6e-8 x ~10 roundings of B·A, strengths and the sum) */
                    const double e = fabs((double)got - want) / mag;
                    if (e > worst) worst = e;
                }
            }
        }
        if (p) {
            CHECK(far == 0);
            CHECK((double)same >= 0.99 * (double)(out * in));
            printf("  merged qkv bf16: %lld of %lld elements equal to RNE(formula), %lld beyond 1 ulp\n",
                   (long long)same, (long long)(out * in), (long long)far);
        } else {
            CHECK(worst < 4e-6);
            printf("  merged qkv f32: max rel error vs formula %.2e\n", worst);
        }
        i4_lora_stack_free(s);
        i4_dit_free(m);
        free(scale);
    }
    for (int j = 0; j < 3; j++) {
        free(pa[j]);
        free(pb[j]);
    }
    free(ka);
    free(kb);
    i4_lora_close(peft);
    i4_lora_close(kohya);
    i4_tensor_set_close(sp);
    i4_tensor_set_close(sk);
}
