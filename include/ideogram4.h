/*
 * ideogram4.h — public C API of the ideogram4.c engine.
 *
 * The engine runs the open-weights Ideogram 4 text-to-image model on the CPU:
 * Qwen3-VL text encoder -> two flow-matching transformers -> Flux2 VAE decoder.
 * This header is deliberately narrow so the CLI and server never depend on
 * tensor or model internals.
 *
 * Conventions: functions that can fail return 0 on success and a negative
 * value on error; the message is then readable with i4_last_error() (per
 * thread).
 */
#ifndef IDEOGRAM4_H
#define IDEOGRAM4_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define I4_VERSION "0.1.0"

/* Arithmetic used by the networks (MODEL.md §0.3a). */
typedef enum {
    I4_PRECISION_F32 = 0,  /* exact weight decode, f32 activations everywhere */
    I4_PRECISION_BF16 = 1, /* reference arithmetic: bf16 weights/activations, f32 accumulation */
} i4_precision;

/* Message of the last failed call on this thread ("" when none). */
const char *i4_last_error(void);

/* Parse "f32" / "bf16"; returns 0 and sets *out, or -1 with an error. */
int i4_precision_parse(const char *text, i4_precision *out);
const char *i4_precision_name(i4_precision p);

/* Threads used by every kernel (default: online CPUs). */
void i4_set_threads(int n);
int i4_get_threads(void);

/*
 * Resolve a snapshot folder. With model_dir set, it is checked and copied.
 * Otherwise repo ("ORG/NAME", default "ideogram-ai/ideogram-4-fp8") is looked
 * up in the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else
 * ~/.cache/huggingface/hub). Writes the folder into out (size out_size).
 */
int i4_resolve_snapshot(const char *model_dir, const char *repo, char *out, size_t out_size);

/* Write a deterministic tiny random checkpoint in the official layout. */
int i4_make_tiny_model(const char *dir, uint64_t seed, const char *tokenizer_dir);

#ifdef __cplusplus
}
#endif
#endif
