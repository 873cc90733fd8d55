/*
 * fuzz_safetensors.c — the safetensors header parser (src/tensor/safetensors.c).
 *
 * Feeds: each input, written as one file, to i4_tensor_set_open_file (the
 * mmap reader: 8-byte header length, JSON header, data area).
 * Checks, for a file that opens: every tensor's numel is the product of its
 * shape and nbytes = numel * dtype size; its bytes are those at its
 * data_offsets in the input (read back from the header with jansson, and
 * compared against libFuzzer's exact-size copy of the input, so ASan sees any
 * offset outside the data area); the tensors do not overlap (their sizes add
 * up to at most the data area); lookups by name find each tensor; converting
 * a small tensor to f32 / i64 stays inside its bytes. A file that fails must
 * leave an error message.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "fuzz_util.h"
#include "tensor/safetensors.h"

/* Convert at most this many elements per tensor (keeps each run fast). */
#define MAX_CONVERT 4096

static void check_tensor(const i4_tensor_set *set, const i4_tensor *t, json_t *header, const uint8_t *area,
                         uint64_t area_size) {
    /* numel = product of the shape. With a zero dim the others may be huge;
     * without one, every dim and partial product is at most numel, which
     * fits the data area, so the product below cannot overflow. */
    FUZZ_CHECK(t->ndim >= 0 && t->ndim <= I4_MAX_DIMS);
    int has_zero = 0;
    for (int d = 0; d < t->ndim; d++) {
        FUZZ_CHECK(t->shape[d] >= 0);
        has_zero |= t->shape[d] == 0;
    }
    uint64_t numel = has_zero ? 0 : 1;
    for (int d = 0; d < t->ndim && !has_zero; d++) {
        FUZZ_CHECK((uint64_t)t->shape[d] <= area_size);
        numel *= (uint64_t)t->shape[d];
        FUZZ_CHECK(numel <= area_size);
    }
    FUZZ_CHECK(numel == (uint64_t)t->numel);
    FUZZ_CHECK(t->nbytes == (size_t)numel * i4_dtype_size(t->dtype));
    /* Same bytes as the input at the header's offsets. */
    json_t *begin = json_array_get(json_object_get(json_object_get(header, t->name), "data_offsets"), 0);
    FUZZ_CHECK(json_is_integer(begin) && json_integer_value(begin) >= 0);
    uint64_t b = (uint64_t)json_integer_value(begin);
    FUZZ_CHECK(b <= area_size && t->nbytes <= area_size - b);
    FUZZ_CHECK(t->nbytes == 0 || memcmp(t->data, area + b, t->nbytes) == 0);
    FUZZ_CHECK(i4_tensor_set_find(set, t->name) == t);
    if (t->numel > 0 && t->numel <= MAX_CONVERT) {
        float *f = malloc((size_t)t->numel * sizeof *f);
        int64_t *q = malloc((size_t)t->numel * sizeof *q);
        FUZZ_CHECK(f && q);
        i4_tensor_to_f32(t, f);
        i4_tensor_to_i64(t, q);
        free(f);
        free(q);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_file("fuzz.safetensors", data, size);
    i4_tensor_set *set = NULL;
    if (i4_tensor_set_open_file(&set, path) != 0) {
        FUZZ_CHECK(set == NULL);
        FUZZ_CHECK(i4_last_error()[0] != 0);
        return 0;
    }
    /* It opened, so the header length is valid: the data area follows it. */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | data[i];
    FUZZ_CHECK(size >= 8 && hlen <= size - 8);
    const uint64_t area_size = size - 8 - hlen;
    json_t *header = json_loadb((const char *)data + 8, (size_t)hlen, 0, NULL);
    FUZZ_CHECK(json_is_object(header));
    uint64_t total = 0;
    size_t n = i4_tensor_set_count(set);
    for (size_t i = 0; i < n; i++) {
        const i4_tensor *t = i4_tensor_set_at(set, i);
        check_tensor(set, t, header, data + 8 + hlen, area_size);
        total += t->nbytes;
        if (i) FUZZ_CHECK(strcmp(i4_tensor_set_at(set, i - 1)->name, t->name) < 0);
    }
    FUZZ_CHECK(total <= area_size); /* no two tensors share bytes */
    FUZZ_CHECK(i4_tensor_set_at(set, n) == NULL);
    (void)i4_tensor_set_metadata(set, "format");
    json_decref(header);
    i4_tensor_set_close(set);
    return 0;
}
