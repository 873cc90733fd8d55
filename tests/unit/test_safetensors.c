/* test_safetensors.c — reader/writer round trips, sharded indexes, and
 * malformed files that must give an error naming file and tensor (run under
 * ASan in CI: no crash, no out-of-bounds read). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ideogram4.h"
#include "tensor/safetensors.h"
#include "test.h"

static const char *tmp_path(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", i4_test_tmpdir(), name);
    return buf;
}

/* Write a raw file: 8-byte length, header text (unpadded), then data bytes. */
static void write_raw(const char *path, const char *header, const void *data, size_t data_len, int64_t len_override) {
    FILE *f = fopen(path, "wb");
    uint64_t hl = len_override >= 0 ? (uint64_t)len_override : strlen(header);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(hl >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (data_len) fwrite(data, 1, data_len, f);
    fclose(f);
}

/* Expect open() to fail with an error containing every needle. */
static int expect_error(const char *path, const char *needle1, const char *needle2) {
    i4_tensor_set *set = NULL;
    int rc = i4_tensor_set_open(&set, path);
    if (rc == 0) {
        i4_tensor_set_close(set);
        fprintf(stderr, "  %s: opened but should have failed\n", path);
        return 0;
    }
    const char *msg = i4_last_error();
    int ok = set == NULL && strstr(msg, path) != NULL && (!needle1 || strstr(msg, needle1)) &&
             (!needle2 || strstr(msg, needle2));
    if (!ok) fprintf(stderr, "  unexpected error text for %s: %s\n", path, msg);
    return ok;
}

I4_TEST(safetensors_roundtrip_all_dtypes) {
    i4_st_writer *w = i4_st_writer_new();
    float f32[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
    uint16_t bf16[3] = {0x3f80, 0xc000, 0x0000};
    uint16_t f16[2] = {0x3c00, 0xc000};
    uint8_t f8[4] = {0x38, 0x7e, 0xc5, 0x01};
    int64_t i64[2] = {-5, 1LL << 40};
    int32_t i32[3] = {1, -2, 3};
    uint8_t u8[1] = {200};
    int64_t s23[2] = {2, 3}, s3[1] = {3}, s2[1] = {2}, s4[1] = {4}, s1[1] = {1};
    REQUIRE(i4_st_writer_add(w, "a.f32", I4_DT_F32, 2, s23, f32) == 0);
    REQUIRE(i4_st_writer_add(w, "b.bf16", I4_DT_BF16, 1, s3, bf16) == 0);
    REQUIRE(i4_st_writer_add(w, "c.f16", I4_DT_F16, 1, s2, f16) == 0);
    REQUIRE(i4_st_writer_add(w, "d.f8", I4_DT_F8_E4M3, 1, s4, f8) == 0);
    REQUIRE(i4_st_writer_add(w, "e.i64", I4_DT_I64, 1, s2, i64) == 0);
    REQUIRE(i4_st_writer_add(w, "f.i32", I4_DT_I32, 1, s3, i32) == 0);
    REQUIRE(i4_st_writer_add(w, "g.u8", I4_DT_U8, 1, s1, u8) == 0);
    REQUIRE(i4_st_writer_add(w, "h.scalar", I4_DT_F32, 0, NULL, &f32[2]) == 0);
    CHECK(i4_st_writer_add(w, "a.f32", I4_DT_F32, 2, s23, f32) != 0); /* duplicate name */
    REQUIRE(i4_st_writer_set_metadata(w, "format", "pt") == 0);
    char path[512];
    REQUIRE(i4_st_writer_save(w, tmp_path("all.safetensors", path, sizeof path)) == 0);
    i4_st_writer_free(w);

    i4_tensor_set *set = NULL;
    REQUIRE(i4_tensor_set_open(&set, path) == 0);
    CHECK(i4_tensor_set_count(set) == 8);
    CHECK(strcmp(i4_tensor_set_metadata(set, "format"), "pt") == 0);
    const i4_tensor *t = i4_tensor_set_get(set, "a.f32");
    REQUIRE(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6);
    float back[6];
    i4_tensor_to_f32(t, back);
    CHECK(memcmp(back, f32, sizeof f32) == 0);
    t = i4_tensor_set_get(set, "d.f8");
    REQUIRE(t);
    i4_tensor_to_f32(t, back);
    CHECK(back[0] == 1.0f && back[1] == 448.0f && back[2] == -3.25f && back[3] == 0.001953125f);
    t = i4_tensor_set_get(set, "e.i64");
    int64_t iv[2];
    i4_tensor_to_i64(t, iv);
    CHECK(iv[0] == -5 && iv[1] == (1LL << 40));
    t = i4_tensor_set_get(set, "h.scalar");
    REQUIRE(t && t->ndim == 0 && t->numel == 1);
    CHECK(i4_tensor_set_find(set, "missing") == NULL);
    CHECK(i4_tensor_set_get(set, "missing") == NULL && strstr(i4_last_error(), "missing"));
    int64_t want[2] = {2, 3}, wrong[2] = {3, 2};
    CHECK(i4_tensor_expect(i4_tensor_set_find(set, "a.f32"), I4_DT_F32, 2, want) == 0);
    CHECK(i4_tensor_expect(i4_tensor_set_find(set, "a.f32"), I4_DT_F32, 2, wrong) != 0 &&
          strstr(i4_last_error(), "a.f32") && strstr(i4_last_error(), "[2, 3]"));
    CHECK(i4_tensor_expect(i4_tensor_set_find(set, "a.f32"), I4_DT_BF16, -1, NULL) != 0);
    i4_tensor_set_close(set);
}

I4_TEST(safetensors_writer_is_deterministic_and_sorted) {
    char p1[512], p2[512];
    for (int round = 0; round < 2; round++) {
        i4_st_writer *w = i4_st_writer_new();
        float v[2] = {1, 2};
        int64_t s[1] = {2};
        /* Insertion order differs between rounds; bytes must not. */
        if (round == 0) {
            i4_st_writer_add_f32(w, "zeta", 1, s, v);
            i4_st_writer_add_f32(w, "alpha", 1, s, v);
        } else {
            i4_st_writer_add_f32(w, "alpha", 1, s, v);
            i4_st_writer_add_f32(w, "zeta", 1, s, v);
        }
        REQUIRE(i4_st_writer_save(w, tmp_path(round ? "det2.safetensors" : "det1.safetensors", round ? p2 : p1, 512)) == 0);
        i4_st_writer_free(w);
    }
    FILE *a = fopen(p1, "rb"), *b = fopen(p2, "rb");
    REQUIRE(a && b);
    int same = 1, ca, cb;
    do {
        ca = fgetc(a);
        cb = fgetc(b);
        if (ca != cb) same = 0;
    } while (ca != EOF && cb != EOF);
    fclose(a);
    fclose(b);
    CHECK(same);
    /* Header length is a multiple of 8 so data stays aligned. */
    FILE *f = fopen(p1, "rb");
    uint8_t len[8];
    REQUIRE(fread(len, 1, 8, f) == 8);
    fclose(f);
    CHECK(len[0] % 8 == 0);
}

I4_TEST(safetensors_sharded_index) {
    char dir[512];
    tmp_path("sharded", dir, sizeof dir);
    mkdir(dir, 0755);
    i4_st_writer *w = i4_st_writer_new();
    float v[64];
    for (int i = 0; i < 64; i++) v[i] = (float)i;
    int64_t s[1] = {64};
    char name[32];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "layer.%d.weight", i);
        v[0] = (float)i;
        REQUIRE(i4_st_writer_add_f32(w, name, 1, s, v) == 0);
    }
    REQUIRE(i4_st_writer_save_sharded(w, dir, "model", 600) == 0); /* 256 B each -> 3 shards */
    i4_st_writer_free(w);
    char p[700];
    snprintf(p, sizeof p, "%s/model-00003-of-00003.safetensors", dir);
    struct stat st;
    CHECK(stat(p, &st) == 0);
    i4_tensor_set *set = NULL;
    REQUIRE(i4_tensor_set_open_component(&set, dir, "model") == 0);
    CHECK(i4_tensor_set_count(set) == 5);
    const i4_tensor *t = i4_tensor_set_get(set, "layer.4.weight");
    REQUIRE(t);
    float back[64];
    i4_tensor_to_f32(t, back);
    CHECK(back[0] == 4.0f && back[63] == 63.0f);
    i4_tensor_set_close(set);
    /* A component folder with neither form is a clear error. */
    CHECK(i4_tensor_set_open_component(&set, dir, "nothing") != 0 && strstr(i4_last_error(), "nothing.safetensors"));
}

I4_TEST(safetensors_index_errors) {
    char dir[512], idx[700], shard[700];
    tmp_path("badindex", dir, sizeof dir);
    mkdir(dir, 0755);
    i4_st_writer *w = i4_st_writer_new();
    float v[4] = {0};
    int64_t s[1] = {4};
    i4_st_writer_add_f32(w, "x", 1, s, v);
    snprintf(shard, sizeof shard, "%s/s1.safetensors", dir);
    REQUIRE(i4_st_writer_save(w, shard) == 0);
    i4_st_writer_free(w);
    snprintf(idx, sizeof idx, "%s/m.safetensors.index.json", dir);
    const char *cases[][2] = {
        {"{\"weight_map\": {\"x\": \"s1.safetensors\", \"y\": \"s1.safetensors\"}}", "'y'"},
        {"{\"weight_map\": {\"x\": \"../s1.safetensors\"}}", "not a file in the index folder"},
        {"{\"weight_map\": {\"x\": \"absent.safetensors\"}}", "absent.safetensors"},
        {"{\"weight_map\": {}}", "empty"},
        {"{\"metadata\": {}}", "weight_map"},
        {"{not json", "cannot read index"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(idx, "w");
        fputs(cases[i][0], f);
        fclose(f);
        i4_tensor_set *set = NULL;
        int rc = i4_tensor_set_open(&set, idx);
        CHECK(rc != 0 && set == NULL);
        if (rc == 0) i4_tensor_set_close(set);
        else if (!strstr(i4_last_error(), cases[i][1]) || !strstr(i4_last_error(), "m.safetensors.index.json")) {
            fprintf(stderr, "  case %zu: unexpected error: %s\n", i, i4_last_error());
            (*i4_failures)++;
        }
    }
}

I4_TEST(safetensors_malformed_files) {
    char p[512];
    uint8_t data[64] = {0};
    tmp_path("bad.safetensors", p, sizeof p);

    /* 1. shorter than the 8-byte length prefix */
    FILE *f = fopen(p, "wb");
    fwrite("abc", 1, 3, f);
    fclose(f);
    CHECK(expect_error(p, "truncated", NULL));
    /* 2. header length larger than the file */
    write_raw(p, "{}", NULL, 0, 1000);
    CHECK(expect_error(p, "exceeds the file size", NULL));
    /* 3. header is not JSON */
    write_raw(p, "{\"a\": [1, 2", NULL, 0, -1);
    CHECK(expect_error(p, "not valid JSON", NULL));
    /* 4. header is JSON but not an object */
    write_raw(p, "[1, 2, 3]", NULL, 0, -1);
    CHECK(expect_error(p, "not a JSON object", NULL));
    /* 5. unknown dtype */
    write_raw(p, "{\"w\": {\"dtype\": \"F4\", \"shape\": [2], \"data_offsets\": [0, 1]}}", data, 1, -1);
    CHECK(expect_error(p, "'w'", "unsupported dtype"));
    /* 6. offsets beyond the data (truncated data area) */
    write_raw(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", data, 8, -1);
    CHECK(expect_error(p, "'w'", "beyond the end"));
    /* 7. shape / size mismatch */
    write_raw(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 16]}}", data, 16, -1);
    CHECK(expect_error(p, "'w'", "[3]"));
    /* 8. overlapping tensors */
    write_raw(p,
              "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
              " \"b\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}",
              data, 24, -1);
    CHECK(expect_error(p, "overlap", "'a'"));
    /* 9. negative shape entry */
    write_raw(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", data, 4, -1);
    CHECK(expect_error(p, "'w'", "non-negative"));
    /* 10. reversed offsets */
    write_raw(p, "{\"w\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [4, 0]}}", data, 4, -1);
    CHECK(expect_error(p, "'w'", "invalid data_offsets"));
    /* 11. element count overflow (shape product wraps 64 bits) */
    write_raw(p,
              "{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 16], \"data_offsets\": [0, 0]}}",
              data, 0, -1);
    CHECK(expect_error(p, "'w'", "needs"));
    /* 12. missing fields */
    write_raw(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", data, 4, -1);
    CHECK(expect_error(p, "'w'", "data_offsets"));
    /* 13. too many dimensions */
    write_raw(p, "{\"w\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 1]}}", data, 1, -1);
    CHECK(expect_error(p, "'w'", "dimensions"));
    /* 14. duplicate keys in the header */
    write_raw(p,
              "{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
              " \"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}",
              data, 2, -1);
    CHECK(expect_error(p, "not valid JSON", "duplicate"));
    /* 15. a folder instead of a file */
    CHECK(expect_error(i4_test_tmpdir(), "not a regular file", NULL));
    /* 16. a file that does not exist */
    tmp_path("does-not-exist.safetensors", p, sizeof p);
    CHECK(expect_error(p, "cannot open", NULL));
}

/* Found by tests/fuzz/fuzz_safetensors (corpus file overlap_across_empty):
 * the overlap check compared each tensor with the previous one only, so an
 * empty tensor sorted in between hid an overlap with an earlier, longer one. */
I4_TEST(safetensors_overlap_across_empty_tensor) {
    char p[512];
    uint8_t data[8] = {0};
    tmp_path("overlap-empty.safetensors", p, sizeof p);
    write_raw(p,
              "{\"a\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]},"
              " \"b\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [2, 2]},"
              " \"c\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [4, 6]}}",
              data, 8, -1);
    CHECK(expect_error(p, "overlap", "'a' and 'c'"));
    /* Empty tensors themselves overlap nothing, wherever they are. */
    write_raw(p,
              "{\"a\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]},"
              " \"b\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [2, 2]},"
              " \"c\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [8, 8]}}",
              data, 8, -1);
    i4_tensor_set *set = NULL;
    CHECK(i4_tensor_set_open(&set, p) == 0);
    i4_tensor_set_close(set);
}

/* Found by tests/fuzz/fuzz_lora (corpus file lora/empty): a header without
 * tensors left the tensor array NULL and passed it to qsort and bsearch
 * (UBSan: null pointer passed as argument declared never null). */
I4_TEST(safetensors_no_tensors) {
    char p[512];
    tmp_path("empty.safetensors", p, sizeof p);
    const char *headers[] = {"{}", "{\"__metadata__\": {\"format\": \"pt\"}}"};
    for (size_t i = 0; i < 2; i++) {
        write_raw(p, headers[i], NULL, 0, -1);
        i4_tensor_set *set = NULL;
        REQUIRE(i4_tensor_set_open(&set, p) == 0);
        CHECK(i4_tensor_set_count(set) == 0);
        CHECK(i4_tensor_set_at(set, 0) == NULL);
        CHECK(i4_tensor_set_find(set, "w") == NULL);
        CHECK(i4_tensor_set_get(set, "w") == NULL);
        i4_tensor_set_close(set);
    }
}

I4_TEST(safetensors_truncated_copies_never_crash) {
    /* Every prefix of a valid file must open cleanly or fail cleanly. */
    i4_st_writer *w = i4_st_writer_new();
    float v[16];
    for (int i = 0; i < 16; i++) v[i] = (float)i;
    int64_t s[2] = {4, 4};
    i4_st_writer_add_f32(w, "m", 2, s, v);
    i4_st_writer_add_f32(w, "n", 2, s, v);
    char good[512], cut[512];
    REQUIRE(i4_st_writer_save(w, tmp_path("good.safetensors", good, sizeof good)) == 0);
    i4_st_writer_free(w);
    FILE *f = fopen(good, "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    tmp_path("cut.safetensors", cut, sizeof cut);
    int opened = 0;
    for (size_t len = 0; len < n; len++) {
        f = fopen(cut, "wb");
        fwrite(buf, 1, len, f);
        fclose(f);
        i4_tensor_set *set = NULL;
        if (i4_tensor_set_open(&set, cut) == 0) {
            opened++;
            i4_tensor_set_close(set);
        }
    }
    CHECK(opened == 0); /* every strict prefix loses data of tensor 'n' */
}
