/*
 * fuzz_lora.c — LoRA / LoKr file parsing and merging (src/model/lora.c): key
 * names (prefixes, kohya flattened stems, diffusers split names, suffixes),
 * grouping and pairing, factor shapes, alpha and the diffusers
 * lora_adapter_metadata JSON, then the dW accumulation.
 *
 * The input is a small text recipe, one item per line, turned into a valid
 * safetensors file (i4_st_writer, in the harness's temp folder) so the
 * fuzzer spends its time on LoRA logic rather than on the header format
 * (fuzz_safetensors covers that):
 *   NAME [DTYPE] [SHAPE] [=VALUE]   a tensor; DTYPE one of the safetensors
 *                                   names (default F32); SHAPE "AxB..." or
 *                                   "scalar" (default [1]); elements VALUE or
 *                                   a fixed pattern
 *   meta TEXT                       header entry lora_adapter_metadata = TEXT
 *   @PATH OUTxIN                    after a successful open, accumulate the
 *                                   deltas for module PATH of shape [OUT, IN]
 * Feeds: the file to i4_lora_open; then i4_lora_accumulate_delta for each
 * @ line into a buffer of exactly OUT*IN floats (ASan catches any write
 * outside the module's rows and columns).
 * Checks: open either succeeds with a format and at least one module, or
 * fails with an error message; accumulate returns -1 or a group count.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "fuzz_util.h"
#include "model/lora.h"
#include "tensor/dtype.h"
#include "tensor/safetensors.h"

/* Bounds that keep one run small and fast. */
enum { MAX_DIM = 256, MAX_NUMEL = 1 << 14, MAX_DELTA = 1 << 16, MAX_LINES = 64 };

/* Parses "AxBx..." into shape; 0 on success. */
static int parse_shape(const char *s, int *ndim, int64_t *shape, int64_t max_numel) {
    int64_t numel = 1;
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > MAX_DIM || n == I4_MAX_DIMS) return -1;
        shape[n++] = v;
        numel *= v;
        if (numel > max_numel) return -1;
        if (*end == 'x') end++;
        else if (*end) return -1;
        s = end;
    }
    *ndim = n;
    return n > 0 ? 0 : -1;
}

/* Element bytes for a tensor: VALUE everywhere, or a varied pattern. */
static void *make_data(i4_dtype dt, int64_t numel, int have_value, float value) {
    const size_t es = i4_dtype_size(dt);
    uint8_t *d = malloc((size_t)numel * es + 1);
    FUZZ_CHECK(d != NULL);
    for (int64_t i = 0; i < numel; i++) {
        float f = have_value ? value : (float)((i * 7 + 3) % 13 - 6) / 8.0f;
        const float fi = f > -1e6f && f < 1e6f ? f * 8 : 0; /* for the integer types (NaN -> 0) */
        uint8_t *p = d + (size_t)i * es;
        switch (dt) {
        case I4_DT_F32: memcpy(p, &f, 4); break;
        case I4_DT_BF16: { uint16_t h = i4_f32_to_bf16(f); memcpy(p, &h, 2); break; }
        case I4_DT_F16: { uint16_t h = i4_f32_to_f16(f); memcpy(p, &h, 2); break; }
        case I4_DT_I64: { int64_t q = (int64_t)fi; memcpy(p, &q, 8); break; }
        case I4_DT_I32: { int32_t q = (int32_t)fi; memcpy(p, &q, 4); break; }
        default: *p = (uint8_t)(i * 37); break; /* F8_E4M3, U8: any byte */
        }
    }
    return d;
}

/* One tensor line: NAME [DTYPE] [SHAPE] [=VALUE]. Bad lines are skipped. */
static void add_tensor(i4_st_writer *w, char *line) {
    char *save = NULL, *name = strtok_r(line, " ", &save);
    if (!name) return;
    i4_dtype dt = I4_DT_F32;
    int ndim = 1, have_value = 0;
    int64_t shape[I4_MAX_DIMS] = {1};
    float value = 0;
    for (char *tok; (tok = strtok_r(NULL, " ", &save));) {
        if (tok[0] == '=') {
            char *end;
            value = strtof(tok + 1, &end);
            have_value = end != tok + 1;
        } else if (!strcmp(tok, "scalar")) {
            ndim = 0;
        } else if (i4_dtype_parse(tok, &dt) != 0 && parse_shape(tok, &ndim, shape, MAX_NUMEL) != 0) {
            return;
        }
    }
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    void *data = make_data(dt, numel, have_value, value);
    (void)i4_st_writer_add(w, name, dt, ndim, shape, data); /* duplicate names are skipped */
    free(data);
}

/* After a successful open: accumulate the deltas one "@PATH OUTxIN" line asks for. */
static void run_delta(const i4_lora *l, char *line) {
    char *sp = strchr(line, ' ');
    if (!sp) return;
    *sp = 0;
    int ndim;
    int64_t shape[I4_MAX_DIMS];
    if (parse_shape(sp + 1, &ndim, shape, MAX_DELTA) != 0 || ndim != 2) return;
    const size_t n = (size_t)(shape[0] * shape[1]);
    float *delta = calloc(n ? n : 1, sizeof *delta);
    FUZZ_CHECK(delta != NULL);
    int rc = i4_lora_accumulate_delta(l, line + 1, shape[0], shape[1], 0.5f, delta);
    FUZZ_CHECK(rc == -1 || (rc >= 0 && (size_t)rc <= i4_lora_module_count(l)));
    free(delta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_cstr(data, size);
    char *lines[MAX_LINES];
    size_t n_lines = 0;
    for (char *save = NULL, *ln = strtok_r(text, "\n", &save); ln && n_lines < MAX_LINES;
         ln = strtok_r(NULL, "\n", &save))
        lines[n_lines++] = ln;

    /* Build the file (tensor lines are cut up by strtok_r; @ lines are kept). */
    i4_st_writer *w = i4_st_writer_new();
    FUZZ_CHECK(w != NULL);
    for (size_t i = 0; i < n_lines; i++) {
        if (!strncmp(lines[i], "meta ", 5)) (void)i4_st_writer_set_metadata(w, "lora_adapter_metadata", lines[i] + 5);
        else if (lines[i][0] != '@') add_tensor(w, lines[i]);
    }
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/lora.safetensors", fuzz_tmpdir());
    int saved = i4_st_writer_save(w, path) == 0; /* fails for names that are not UTF-8 */
    i4_st_writer_free(w);

    i4_lora *l = NULL;
    if (saved && i4_lora_open(&l, path) == 0) {
        FUZZ_CHECK(i4_lora_module_count(l) > 0);
        const char *fmt = i4_lora_format(l);
        FUZZ_CHECK(!strcmp(fmt, "peft") || !strcmp(fmt, "kohya") || !strcmp(fmt, "lokr"));
        FUZZ_CHECK(!strcmp(i4_lora_name(l), "lora") && !strcmp(i4_lora_path(l), path));
        for (size_t i = 0; i < n_lines; i++)
            if (lines[i][0] == '@') run_delta(l, lines[i]);
        i4_lora_close(l);
    } else if (saved) {
        FUZZ_CHECK(l == NULL && i4_last_error()[0] != 0);
    }
    free(text);
    return 0;
}
