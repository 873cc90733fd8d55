/*
 * fuzz_st_index.c — the sharded checkpoint index parser (open_index in
 * src/tensor/safetensors.c: *.safetensors.index.json with a "weight_map" of
 * tensor name -> shard file).
 *
 * Feeds: each input as <tmp>/model.safetensors.index.json to
 * i4_tensor_set_open. Two valid shards are written once into the same temp
 * folder at start-up (model-00001-of-00002.safetensors with tensors "a" and
 * "b", model-00002-of-00002.safetensors with "c"), so the fuzzer can reach
 * the shard loading and the index/shard cross-checks as well as the JSON
 * errors. Checks, for an index that opens: every weight_map name is a tensor
 * of the set, stored in the shard the index names, and the set holds no
 * tensor twice. A failure must leave an error message.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "base/error.h"
#include "fuzz_util.h"
#include "tensor/safetensors.h"

static void write_shard(const char *name, const char *const *tensors, size_t n) {
    i4_st_writer *w = i4_st_writer_new();
    FUZZ_CHECK(w != NULL);
    const float v[4] = {1, 2, 3, 4};
    const int64_t shape[2] = {2, 2};
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(i4_st_writer_add_f32(w, tensors[i], 2, shape, v) == 0);
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", fuzz_tmpdir(), name);
    FUZZ_CHECK(i4_st_writer_save(w, path) == 0);
    i4_st_writer_free(w);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    static const char *const first[] = {"a", "b"}, *const second[] = {"c"};
    write_shard("model-00001-of-00002.safetensors", first, 2);
    write_shard("model-00002-of-00002.safetensors", second, 1);
    return 0;
}

/* After a successful open: the index, read again with jansson, must agree
 * with the set. */
static void check_against_index(const i4_tensor_set *set, const uint8_t *data, size_t size) {
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    json_t *wm = json_object_get(root, "weight_map");
    FUZZ_CHECK(json_is_object(wm) && json_object_size(wm) > 0);
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val) {
        const i4_tensor *t = i4_tensor_set_find(set, key);
        FUZZ_CHECK(t != NULL && json_is_string(val));
        const char *base = strrchr(t->file, '/');
        FUZZ_CHECK(base && strcmp(base + 1, json_string_value(val)) == 0);
    }
    json_decref(root);
    size_t n = i4_tensor_set_count(set);
    for (size_t i = 1; i < n; i++)
        FUZZ_CHECK(strcmp(i4_tensor_set_at(set, i - 1)->name, i4_tensor_set_at(set, i)->name) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("model.safetensors.index.json", data, size);
    i4_tensor_set *set = NULL;
    if (i4_tensor_set_open(&set, path) != 0) {
        FUZZ_CHECK(set == NULL);
        FUZZ_CHECK(i4_last_error()[0] != 0);
        return 0;
    }
    check_against_index(set, data, size);
    FUZZ_CHECK(strcmp(i4_tensor_set_origin(set), path) == 0);
    i4_tensor_set_close(set);
    return 0;
}
