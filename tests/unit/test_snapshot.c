/* test_snapshot.c — --model / --repo resolution in the Hugging Face cache layout. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/io.h"
#include "ideogram4.h"
#include "model/weights.h"
#include "test.h"

static void mk(const char *fmt, const char *a) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, fmt, a);
    i4_mkdirs(p);
}

I4_TEST(snapshot_resolves_hf_cache_layout) {
    char hub[PATH_MAX], out[PATH_MAX], want[PATH_MAX];
    snprintf(hub, sizeof hub, "%s/hfhome/hub", i4_test_tmpdir());
    mk("%s/models--org--name/snapshots/abc123/transformer", hub);
    mk("%s/models--org--name/snapshots/old999/transformer", hub);
    mk("%s/models--org--name/refs", hub);
    char refs[PATH_MAX];
    snprintf(refs, sizeof refs, "%s/models--org--name/refs/main", hub);
    FILE *f = fopen(refs, "w");
    fputs("abc123\n", f);
    fclose(f);

    char *old_home = getenv("HF_HOME") ? strdup(getenv("HF_HOME")) : NULL;
    char *old_cache = getenv("HF_HUB_CACHE") ? strdup(getenv("HF_HUB_CACHE")) : NULL;
    unsetenv("HF_HUB_CACHE");
    char home[PATH_MAX];
    snprintf(home, sizeof home, "%s/hfhome", i4_test_tmpdir());
    setenv("HF_HOME", home, 1);
    CHECK(i4_resolve_snapshot(NULL, "org/name", out, sizeof out) == 0);
    snprintf(want, sizeof want, "%s/models--org--name/snapshots/abc123", hub);
    CHECK(strcmp(out, want) == 0);

    /* HF_HUB_CACHE wins over HF_HOME. */
    setenv("HF_HUB_CACHE", hub, 1);
    setenv("HF_HOME", "/nonexistent", 1);
    CHECK(i4_resolve_snapshot(NULL, "org/name", out, sizeof out) == 0 && strcmp(out, want) == 0);

    /* Missing repo: says where it looked and how to get the weights. */
    CHECK(i4_resolve_snapshot(NULL, NULL, out, sizeof out) != 0);
    CHECK(strstr(i4_last_error(), "models--ideogram-ai--ideogram-4-fp8") != NULL);
    CHECK(strstr(i4_last_error(), "hf download ideogram-ai/ideogram-4-fp8") != NULL);
    CHECK(strstr(i4_last_error(), "hf auth login") != NULL);

    /* Malformed repo ids. */
    CHECK(i4_resolve_snapshot(NULL, "noslash", out, sizeof out) != 0 && strstr(i4_last_error(), "ORG/NAME"));
    CHECK(i4_resolve_snapshot(NULL, "a/../b", out, sizeof out) != 0);

    /* --model DIR: must be a snapshot folder. */
    CHECK(i4_resolve_snapshot(want, NULL, out, sizeof out) == 0 && strcmp(out, want) == 0);
    CHECK(i4_resolve_snapshot(hub, NULL, out, sizeof out) != 0 && strstr(i4_last_error(), "transformer/"));
    CHECK(i4_resolve_snapshot("/nonexistent/dir", NULL, out, sizeof out) != 0 &&
          strstr(i4_last_error(), "no such folder"));

    /* Without refs/main, a single snapshot folder is taken. */
    mk("%s/models--org--single/snapshots/only1/transformer", hub);
    CHECK(i4_resolve_snapshot(NULL, "org/single", out, sizeof out) == 0 && strstr(out, "/only1"));

    if (old_home) setenv("HF_HOME", old_home, 1); else unsetenv("HF_HOME");
    if (old_cache) setenv("HF_HUB_CACHE", old_cache, 1); else unsetenv("HF_HUB_CACHE");
    free(old_home);
    free(old_cache);
}

I4_TEST(weights_bind_linear_checks) {
    i4_st_writer *w = i4_st_writer_new();
    i4_rng r;
    i4_rng_seed(&r, 3);
    REQUIRE(i4_tiny_linear_fp8(w, &r, "lin", 4, 8, 1.0, 0.1) == 0);
    uint16_t bf[32] = {0};
    int64_t s48[2] = {4, 8}, s4[1] = {4}, s3[1] = {3};
    i4_st_writer_add(w, "plain.weight", I4_DT_BF16, 2, s48, bf);
    uint8_t codes[32] = {0};
    i4_st_writer_add(w, "noscale.weight", I4_DT_F8_E4M3, 2, s48, codes);
    float sc[3] = {1, 1, 1};
    i4_st_writer_add(w, "badscale.weight", I4_DT_F8_E4M3, 2, s48, codes);
    i4_st_writer_add(w, "badscale.weight_scale", I4_DT_F32, 1, s3, sc);
    float one = 0.5f;
    i4_st_writer_add(w, "scalar.weight", I4_DT_F8_E4M3, 2, s48, codes);
    i4_st_writer_add(w, "scalar.weight_scale", I4_DT_F32, 0, NULL, &one);
    i4_st_writer_add(w, "plain.bias", I4_DT_BF16, 1, s4, bf);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bind.safetensors", i4_test_tmpdir());
    REQUIRE(i4_st_writer_save(w, path) == 0);
    i4_st_writer_free(w);
    i4_tensor_set *set;
    REQUIRE(i4_tensor_set_open(&set, path) == 0);
    i4_linear_w L;
    CHECK(i4_bind_linear(set, "lin", 4, 8, 1, &L) == 0 && L.dtype == I4_DT_F8_E4M3 && L.scale && L.bias &&
          !L.scale_per_tensor && L.out == 4 && L.in == 8);
    CHECK(i4_bind_linear(set, "lin", 8, 4, 1, &L) != 0 && strstr(i4_last_error(), "expected [8, 4]"));
    CHECK(i4_bind_linear(set, "lin", -1, -1, 0, &L) != 0 && strstr(i4_last_error(), "lin.bias"));
    CHECK(i4_bind_linear(set, "plain", 4, 8, 2, &L) == 0 && L.dtype == I4_DT_BF16 && !L.scale && L.bias);
    CHECK(i4_bind_linear(set, "noscale", 4, 8, 2, &L) != 0 && strstr(i4_last_error(), "noscale.weight_scale"));
    CHECK(i4_bind_linear(set, "badscale", 4, 8, 2, &L) != 0 && strstr(i4_last_error(), "one per output row"));
    CHECK(i4_bind_linear(set, "scalar", 4, 8, 2, &L) == 0 && L.scale_per_tensor == 1);
    CHECK(i4_bind_linear(set, "absent", 4, 8, 2, &L) != 0 && strstr(i4_last_error(), "absent.weight"));
    i4_param p;
    CHECK(i4_bind_param(set, "plain.bias", 4, &p) == 0 && p.numel == 4);
    CHECK(i4_bind_param(set, "plain.bias", 5, &p) != 0 && strstr(i4_last_error(), "expected 5"));
    CHECK(i4_bind_param(set, "noscale.weight", -1, &p) != 0 && strstr(i4_last_error(), "F8_E4M3"));
    i4_tensor_set_close(set);
}
