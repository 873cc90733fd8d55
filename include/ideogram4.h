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

/* ---- Generation pipeline ------------------------------------------------ */

typedef struct i4_pipeline i4_pipeline;

typedef struct {
    const char *model_dir;  /* snapshot folder, or NULL to resolve repo in the HF cache */
    const char *repo;       /* default "ideogram-ai/ideogram-4-fp8" */
    i4_precision precision;
} i4_load_options;

typedef enum {
    I4_PHASE_LOAD = 0,
    I4_PHASE_ENCODE = 1,  /* tokenizer + text encoder */
    I4_PHASE_SAMPLE = 2,  /* step = 1..steps */
    I4_PHASE_DECODE = 3,
} i4_phase;

/* Progress callback: return non-zero to cancel (checked between steps). */
typedef int (*i4_progress_fn)(void *user, i4_phase phase, int step, int steps);

int i4_pipeline_load(i4_pipeline **out, const i4_load_options *opt);
void i4_pipeline_free(i4_pipeline *p);
/* Merge a LoRA file into the conditional transformer (MODEL.md §9; merged
 * copies of the affected layers only). Unknown keys and shape mismatches are
 * errors naming the key; nothing is applied then. */
int i4_pipeline_apply_lora(i4_pipeline *p, const char *path, float strength);
/* Remove every applied LoRA (restores the checkpoint's weights). */
int i4_pipeline_remove_loras(i4_pipeline *p);
/* Snapshot folder in use. */
const char *i4_pipeline_snapshot(const i4_pipeline *p);

typedef struct {
    const char *prompt;        /* caption text, used verbatim */
    int width, height;         /* multiples of 16 */
    const char *preset;        /* V4_QUALITY_48 (default) | V4_DEFAULT_20 | V4_TURBO_12 */
    int steps;                 /* 0 = the preset's */
    double guidance;           /* < 0 = the preset's schedule; else constant */
    double mu;                 /* NaN = the preset's (before the resolution shift) */
    double std;                /* NaN = the preset's */
    uint64_t seed;
    const char *noise_path;    /* optional: safetensors with `noise` F32 [1, tokens, 128] */
    const char *latents_path;  /* optional: write the final latents (`latents`) here */
} i4_generate_params;

/* Defaults: preset V4_QUALITY_48, 1024x1024, seed 20260608, no overrides. */
void i4_generate_params_init(i4_generate_params *gp);

typedef struct {
    uint8_t *rgb;              /* [height][width][3], free with i4_result_free */
    int width, height;
    int steps;
    int64_t text_tokens;
    double seconds_encode, seconds_sample, seconds_decode;
} i4_result;

/* Returns 0, -1 (error) or I4_ERR_CANCELLED. */
#define I4_ERR_CANCELLED (-2)
int i4_generate(i4_pipeline *p, const i4_generate_params *gp, i4_progress_fn progress, void *user, i4_result *out);
void i4_result_free(i4_result *r);

/* Write a deterministic tiny random checkpoint in the official layout. */
int i4_make_tiny_model(const char *dir, uint64_t seed, const char *tokenizer_dir);

#ifdef __cplusplus
}
#endif
#endif
