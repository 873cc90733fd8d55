/*
 * test_fullsize.c — the full-size random checkpoint writer
 * (src/model/fullsize.c) and the streaming safetensors writer under it.
 *
 * The real dimensions are only planned here (--dry-run; the files are 27 GB):
 * their tensor counts and bytes are checked against the parameter counts of
 * docs/MODEL.md §11.2 and the per-tensor table of §3.2. The writer itself
 * runs on the width-reduced path — the same code with the tiny model's
 * dimensions — and its snapshot must load with the engine's loaders and
 * generate, equal the in-memory writer's bytes for the same tensors, carry
 * N(0, 1) FP8 codes with per-row scales, be deterministic, shard, predict its
 * own size, and fail cleanly on a full disk.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "ideogram4.h"
#include "model/dit.h"
#include "model/fullsize.h"
#include "model/qwen3.h"
#include "tensor/dtype.h"
#include "tensor/safetensors.h"
#include "test.h"

/* The tiny model's dimensions, through the full-size writer. */
static void small_dims(i4_fullsize_dims *d) {
    i4_fullsize_dims_real(d);
    d->dit = (i4_tiny_dit_dims_t){.dim = 64, .in_channels = 128, .n_layers = 2, .head_dim = 32, .ffn_dim = 128,
                                  .adaln_dim = 32, .llm_features = 13 * 32, .mrope_section = {4, 3, 3}};
    d->te = (i4_tiny_qwen3_dims_t){.vocab = 151936, .hidden = 32, .n_layers = 36, .n_heads = 4, .n_kv_heads = 2,
                                   .head_dim = 16, .ffn_dim = 64};
    const int64_t w[4] = {32, 32, 64, 64};
    memcpy(d->vae_widths, w, sizeof w);
}

static const char *const WEIGHT_FILES[] = {
    "transformer/diffusion_pytorch_model.safetensors",
    "unconditional_transformer/diffusion_pytorch_model.safetensors",
    "text_encoder/model.safetensors",
    "vae/diffusion_pytorch_model.safetensors",
};
#define N_WEIGHT_FILES 4

typedef struct {
    uint64_t last_done, last_total;
    int calls;
} progress_log;

static void log_progress(void *user, uint64_t done, uint64_t total) {
    progress_log *p = user;
    if (done < p->last_done) p->calls = -1000000; /* must never go back */
    p->last_done = done;
    p->last_total = total;
    p->calls++;
}

static int write_small(const char *name, uint64_t seed, uint64_t shard_bytes, char *dir, size_t size,
                       progress_log *log, uint64_t *total) {
    snprintf(dir, size, "%s/%s", i4_test_tmpdir(), name);
    i4_fullsize_dims d;
    small_dims(&d);
    i4_fullsize_options o = {.seed = seed, .shard_bytes = shard_bytes, .progress = log_progress, .user = log};
    int rc = i4_make_fullsize_model(dir, &d, &o, total);
    if (rc != 0) fprintf(stderr, "  make %s: %s\n", name, i4_last_error());
    return rc;
}

/* The seed-3 single-file snapshot, written once. */
static const char *small_model(void) {
    static char dir[PATH_MAX];
    static int state; /* 0 not yet, 1 ok, -1 failed */
    if (state == 0) {
        progress_log log = {0};
        state = write_small("fullsize-a", 3, 0, dir, sizeof dir, &log, NULL) == 0 ? 1 : -1;
    }
    return state == 1 ? dir : NULL;
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static char *slurp(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)*n + 1);
    if (buf && fread(buf, 1, (size_t)*n, f) != (size_t)*n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static int same_file(const char *a, const char *b) {
    long na = 0, nb = 0;
    char *da = slurp(a, &na), *db = slurp(b, &nb);
    int same = da && db && na == nb && memcmp(da, db, (size_t)na) == 0;
    free(da);
    free(db);
    return same;
}

I4_TEST(fullsize_small_loads_and_generates) {
    const char *dir = small_model();
    REQUIRE(dir);
    char path[PATH_MAX];
    /* The loaders read the dimensions from the tensors. */
    i4_dit *dit = NULL;
    snprintf(path, sizeof path, "%s/unconditional_transformer", dir);
    REQUIRE(i4_dit_load(&dit, path, I4_PRECISION_F32, i4_test_backend()) == 0);
    const i4_dit_config *dc = i4_dit_config_get(dit);
    CHECK(dc->dim == 64 && dc->n_heads == 2 && dc->head_dim == 32 && dc->ffn_dim == 128 && dc->n_layers == 2 &&
          dc->adaln_dim == 32 && dc->llm_features == 416 && dc->mrope_section[0] == 4);
    i4_dit_free(dit);
    i4_qwen3 *te = NULL;
    snprintf(path, sizeof path, "%s/text_encoder", dir);
    REQUIRE(i4_qwen3_load(&te, path, I4_PRECISION_F32, i4_test_backend()) == 0);
    const i4_qwen3_config *qc = i4_qwen3_config_get(te);
    CHECK(qc->hidden == 32 && qc->n_layers == 36 && qc->n_heads == 4 && qc->n_kv_heads == 2 && qc->head_dim == 16 &&
          qc->ffn_dim == 64 && qc->vocab == 151936);
    i4_qwen3_free(te);

    i4_pipeline *p = NULL;
    i4_load_options lo = {.model_dir = dir, .precision = I4_PRECISION_F32};
    if (i4_pipeline_load(&p, &lo) != 0) fprintf(stderr, "  load: %s\n", i4_last_error());
    REQUIRE(p);
    i4_generate_params gp;
    i4_generate_params_init(&gp);
    gp.prompt = "{\"summary\": \"a red square on a white wall\"}";
    gp.width = 64;
    gp.height = 48;
    gp.steps = 2;
    i4_result res;
    memset(&res, 0, sizeof res);
    int rc = i4_generate(p, &gp, NULL, NULL, &res);
    if (rc != 0) fprintf(stderr, "  generate: %s\n", i4_last_error());
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(res.width == 64 && res.height == 48 && res.steps == 2 && res.text_tokens > 8);
        int lo_v = 255, hi_v = 0;
        for (int i = 0; i < 64 * 48 * 3; i++) {
            if (res.rgb[i] < lo_v) lo_v = res.rgb[i];
            if (res.rgb[i] > hi_v) hi_v = res.rgb[i];
        }
        CHECK(hi_v - lo_v > 32); /* a picture of noise, not a flat or saturated one */
    }
    i4_result_free(&res);
    i4_pipeline_free(p);
}

/* Every streamed file equals what the in-memory writer makes of its tensors. */
I4_TEST(fullsize_stream_equals_memory_writer) {
    const char *dir = small_model();
    REQUIRE(dir);
    for (int f = 0; f < N_WEIGHT_FILES; f++) {
        char path[PATH_MAX], copy[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, WEIGHT_FILES[f]);
        snprintf(copy, sizeof copy, "%s/fullsize-copy-%d.safetensors", i4_test_tmpdir(), f);
        i4_tensor_set *set = NULL;
        REQUIRE(i4_tensor_set_open_file(&set, path) == 0);
        i4_st_writer *w = i4_st_writer_new();
        int rc = 0;
        for (size_t i = 0; rc == 0 && i < i4_tensor_set_count(set); i++) {
            const i4_tensor *t = i4_tensor_set_at(set, i);
            rc = i4_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data);
        }
        if (rc == 0) rc = i4_st_writer_save(w, copy);
        CHECK(rc == 0);
        i4_st_writer_free(w);
        i4_tensor_set_close(set);
        if (!same_file(path, copy)) {
            fprintf(stderr, "  %s differs from the in-memory writer's file\n", WEIGHT_FILES[f]);
            (*i4_failures)++;
        }
    }
}

/* FP8 codes are e4m3 of N(0, 1) draws, per-row scales std * U(0.9, 1.1). */
I4_TEST(fullsize_values) {
    const char *dir = small_model();
    REQUIRE(dir);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, WEIGHT_FILES[0]);
    i4_tensor_set *set = NULL;
    REQUIRE(i4_tensor_set_open_file(&set, path) == 0);
    const i4_tensor *w = i4_tensor_set_get(set, "layers.1.feed_forward.w2.weight");
    const i4_tensor *s = i4_tensor_set_get(set, "layers.1.feed_forward.w2.weight_scale");
    REQUIRE(w && s && w->dtype == I4_DT_F8_E4M3 && s->dtype == I4_DT_F32 && s->numel == 64 && w->numel == 64 * 128);
    const uint8_t *codes = w->data;
    double sum = 0, sq = 0, amax = 0;
    int nan = 0;
    for (int64_t i = 0; i < w->numel; i++) {
        if ((codes[i] & 0x7f) == 0x7f) nan++;
        double v = i4_fp8_e4m3_to_f32(codes[i]);
        sum += v;
        sq += v * v;
        if (fabs(v) > amax) amax = fabs(v);
    }
    const double n = (double)w->numel, mean = sum / n, rms = sqrt(sq / n);
    fprintf(stderr, "  w2 codes: mean %.4f rms %.4f max |v| %.3f\n", mean, rms, amax);
    CHECK(nan == 0);
    CHECK(fabs(mean) < 0.05);
    CHECK(rms > 0.95 && rms < 1.05);
    CHECK(amax > 2.5 && amax < 5); /* Gaussian tails, clipped near the 65536-quantile */
    float sc[64];
    i4_tensor_to_f32(s, sc);
    const double std = 1.0 / sqrt(128.0); /* w2: fan_in = FFN 128 */
    float smin = sc[0], smax = sc[0];
    for (int i = 0; i < 64; i++) {
        if (sc[i] < smin) smin = sc[i];
        if (sc[i] > smax) smax = sc[i];
    }
    CHECK(smin >= 0.9 * std * (1 - 1e-6) && smax <= 1.1 * std * (1 + 1e-6) && smax > smin);
    /* Norm weights 1 +- 0.1, biases small (BF16). */
    const i4_tensor *nw = i4_tensor_set_get(set, "layers.0.ffn_norm1.weight");
    REQUIRE(nw && nw->dtype == I4_DT_BF16 && nw->numel == 64);
    float v[64];
    i4_tensor_to_f32(nw, v);
    double nm = 0;
    for (int i = 0; i < 64; i++) nm += v[i] / 64.0;
    CHECK(fabs(nm - 1.0) < 0.05);
    i4_tensor_set_close(set);
}

I4_TEST(fullsize_deterministic_per_seed) {
    const char *a = small_model();
    REQUIRE(a);
    char b[PATH_MAX], c[PATH_MAX], pa[PATH_MAX + 100], pb[PATH_MAX + 100], pc[PATH_MAX + 100];
    progress_log lb = {0}, lc = {0};
    REQUIRE(write_small("fullsize-b", 3, 0, b, sizeof b, &lb, NULL) == 0);
    REQUIRE(write_small("fullsize-c", 4, 0, c, sizeof c, &lc, NULL) == 0);
    for (int f = 0; f < N_WEIGHT_FILES; f++) {
        snprintf(pa, sizeof pa, "%s/%s", a, WEIGHT_FILES[f]);
        snprintf(pb, sizeof pb, "%s/%s", b, WEIGHT_FILES[f]);
        snprintf(pc, sizeof pc, "%s/%s", c, WEIGHT_FILES[f]);
        CHECK(same_file(pa, pb));
        CHECK(!same_file(pa, pc));
    }
    const char *small[] = {"transformer/config.json", "text_encoder/config.json", "vae/config.json",
                           "model_index.json", "tokenizer/tokenizer.json"};
    for (int i = 0; i < 5; i++) {
        snprintf(pa, sizeof pa, "%s/%s", a, small[i]);
        snprintf(pb, sizeof pb, "%s/%s", b, small[i]);
        CHECK(same_file(pa, pb));
    }
    /* The two transformers get their own weights. */
    snprintf(pa, sizeof pa, "%s/%s", a, WEIGHT_FILES[0]);
    snprintf(pb, sizeof pb, "%s/%s", a, WEIGHT_FILES[1]);
    CHECK(!same_file(pa, pb));
}

/* The plan predicts the bytes written, progress ends at the total, and a
 * dry run writes nothing. */
I4_TEST(fullsize_dry_run_predicts_the_files) {
    char dir[PATH_MAX], plan_dir[PATH_MAX], path[PATH_MAX + 100];
    progress_log log = {0};
    uint64_t total = 0;
    REQUIRE(write_small("fullsize-d", 9, 0, dir, sizeof dir, &log, &total) == 0);
    long long on_disk = 0;
    for (int f = 0; f < N_WEIGHT_FILES; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, WEIGHT_FILES[f]);
        on_disk += file_size(path);
    }
    CHECK((long long)total == on_disk);
    CHECK(log.calls > 4 && log.last_done == total && log.last_total == total);

    snprintf(plan_dir, sizeof plan_dir, "%s/fullsize-plan", i4_test_tmpdir());
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    REQUIRE(mem);
    i4_fullsize_dims d;
    small_dims(&d);
    i4_fullsize_options o = {.seed = 9, .plan = mem};
    uint64_t planned = 0;
    int rc = i4_make_fullsize_model(plan_dir, &d, &o, &planned);
    fclose(mem);
    CHECK(rc == 0 && planned == total);
    CHECK(file_size(plan_dir) < 0); /* nothing created */
    char want[128];
    snprintf(want, sizeof want, "\ntotal %llu\n", (unsigned long long)total);
    CHECK(text && strstr(text, want));
    snprintf(path, sizeof path, "%s/%s", dir, WEIGHT_FILES[2]);
    snprintf(want, sizeof want, "\nfile %s %lld\n", WEIGHT_FILES[2], file_size(path));
    CHECK(text && strstr(text, want));
    CHECK(text && strstr(text, "\ntensor transformer/diffusion_pytorch_model.safetensors layers.1.attention.qkv.weight "
                               "F8_E4M3 [192, 64] 12288\n"));
    free(text);
}

I4_TEST(fullsize_sharded_matches_single_file) {
    const char *a = small_model();
    REQUIRE(a);
    char dir[PATH_MAX], comp[PATH_MAX + 100], single[PATH_MAX + 100];
    progress_log log = {0};
    REQUIRE(write_small("fullsize-sharded", 3, 100000, dir, sizeof dir, &log, NULL) == 0);
    const char *comps[] = {"transformer", "unconditional_transformer", "text_encoder", "vae"};
    const char *stems[] = {"diffusion_pytorch_model", "diffusion_pytorch_model", "model", "diffusion_pytorch_model"};
    for (int c = 0; c < 4; c++) {
        snprintf(comp, sizeof comp, "%s/%s", dir, comps[c]);
        snprintf(single, sizeof single, "%s/%s", a, WEIGHT_FILES[c]);
        char idx[PATH_MAX + 200];
        snprintf(idx, sizeof idx, "%s/%s.safetensors.index.json", comp, stems[c]);
        CHECK(file_size(idx) > 0);
        i4_tensor_set *sh = NULL, *one = NULL;
        REQUIRE(i4_tensor_set_open_component(&sh, comp, stems[c]) == 0);
        REQUIRE(i4_tensor_set_open_file(&one, single) == 0);
        CHECK(i4_tensor_set_count(sh) == i4_tensor_set_count(one));
        int files_seen = 0;
        const char *last_file = NULL;
        for (size_t i = 0; i < i4_tensor_set_count(one); i++) {
            const i4_tensor *t1 = i4_tensor_set_at(one, i);
            const i4_tensor *t2 = i4_tensor_set_find(sh, t1->name);
            CHECK(t2 && t2->nbytes == t1->nbytes && memcmp(t2->data, t1->data, t1->nbytes) == 0);
            if (t2 && (!last_file || strcmp(last_file, t2->file))) files_seen++, last_file = t2->file;
        }
        CHECK(files_seen >= 2);
        i4_tensor_set_close(sh);
        i4_tensor_set_close(one);
    }
}

/* A full disk stops the write with the plain message and leaves no file. */
I4_TEST(fullsize_disk_full) {
    char dir[PATH_MAX], tmp[PATH_MAX + 100], final[PATH_MAX + 100];
    snprintf(dir, sizeof dir, "%s/fullsize-full/transformer", i4_test_tmpdir());
    REQUIRE(i4_mkdirs(dir) == 0);
    snprintf(tmp, sizeof tmp, "%s/diffusion_pytorch_model.safetensors.tmp", dir);
    snprintf(final, sizeof final, "%s/diffusion_pytorch_model.safetensors", dir);
    if (symlink("/dev/full", tmp) != 0) {
        fprintf(stderr, "  skipped: cannot link /dev/full (%s)\n", strerror(errno));
        return;
    }
    char root[PATH_MAX];
    snprintf(root, sizeof root, "%s/fullsize-full", i4_test_tmpdir());
    i4_fullsize_dims d;
    small_dims(&d);
    i4_fullsize_options o = {.seed = 1};
    int rc = i4_make_fullsize_model(root, &d, &o, NULL);
    CHECK(rc != 0);
    CHECK(strstr(i4_last_error(), "disk full (no space left on device)") != NULL);
    CHECK(strstr(i4_last_error(), "transformer") != NULL);
    fprintf(stderr, "  message: %s\n", i4_last_error());
    CHECK(file_size(final) < 0);
    struct stat st;
    CHECK(lstat(tmp, &st) != 0); /* the temporary (here the link) is removed */
}

I4_TEST(io_check_free_space) {
    CHECK(i4_check_free_space(i4_test_tmpdir(), 1) == 0);
    CHECK(i4_check_free_space(i4_test_tmpdir(), (uint64_t)1 << 62) != 0);
    CHECK(strstr(i4_last_error(), "not enough free space") && strstr(i4_last_error(), i4_test_tmpdir()));
}

/* Value of "key name N" in the plan text, or -1. */
static long long plan_value(const char *text, const char *key, const char *name) {
    char pat[128];
    snprintf(pat, sizeof pat, "\n%s %s ", key, name);
    const char *p = strstr(text, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* The real dimensions: counts from docs/MODEL.md, not from the writer. */
I4_TEST(fullsize_real_plan_matches_model_md) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    REQUIRE(mem);
    i4_fullsize_dims d;
    i4_fullsize_dims_real(&d);
    i4_fullsize_options o = {.plan = mem};
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/fullsize-real-plan", i4_test_tmpdir());
    uint64_t total = 0;
    int rc = i4_make_fullsize_model(dir, &d, &o, &total);
    fclose(mem);
    REQUIRE(rc == 0 && text);
    /* §11.2: 9 279 288 448 parameters per transformer; the files also hold
     * one F32 weight_scale per output row of every Linear (§3.2): per block
     * 3D + D + I + I + D + 4D rows, outside the blocks D (input_proj) + D
     * (llm_cond_proj) + 2D (t_embedding) + A + D (final adaLN) + C_in. */
    const long long D = 4608, I = 12288, A = 512, C = 128, L = 34;
    const long long dit_rows = L * (9 * D + 2 * I) + 5 * D + A + C;
    CHECK(plan_value(text, "elements", "transformer") == 9279288448LL + dit_rows);
    CHECK(plan_value(text, "elements", "unconditional_transformer") == 9279288448LL + dit_rows);
    /* Bytes: FP8 weights 1 byte, scales 4, everything else BF16. Biases: the
     * 7 top-level Linears and the 34 adaLN modulations (§3.2). */
    const long long dit_bias = D + D + 2 * D + A + D + C + L * 4 * D;
    const long long dit_weights = 9279288448LL - dit_bias - (53248 + 2 * D + L * (2 * 256 + 4 * D));
    CHECK(plan_value(text, "data", "transformer") ==
          dit_weights + 4 * dit_rows + 2 * (dit_bias + 53248 + 2 * D + L * (2 * 256 + 4 * D)));
    /* The official FP8 file is 9 289 792 888 bytes (data + its own header). */
    long long dit_file = plan_value(text, "bytes", "transformer");
    fprintf(stderr, "  transformer file %lld bytes (official 9289792888)\n", dit_file);
    CHECK(llabs(dit_file - 9289792888LL) < 16384);
    /* §11.2: the language model has 7 568 405 504 parameters; + per-row scales
     * of q, k, v, o, gate, up, down (32·128 + 2·8·128 + 4096 + 2·12288 + 4096
     * rows per layer, 36 layers) + the two token visual.* tensors (1552). */
    const long long te_rows = 36LL * (4096 + 2 * 1024 + 4096 + 2 * 12288 + 4096);
    CHECK(plan_value(text, "elements", "text_encoder") == 7568405504LL + te_rows + 1552);
    /* §11.2: the VAE has 84 046 115 parameters; + bn running_mean, running_var, num_batches_tracked. */
    CHECK(plan_value(text, "elements", "vae") == 84046115LL + 257);
    CHECK(total > 26900000000ULL && total < 27000000000ULL);
    CHECK(strstr(text, "\ntensor text_encoder/model.safetensors language_model.layers.35.mlp.down_proj.weight F8_E4M3 "
                       "[4096, 12288] 50331648\n") != NULL);
    free(text);
}
