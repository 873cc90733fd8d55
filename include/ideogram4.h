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

/* Arithmetic used by the networks (docs/MODEL.md §0.3a). */
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
    const char *backend;    /* "auto" | "cpu" | "vulkan"; NULL = $IDEOGRAM4_BACKEND, else auto */
    int threads;            /* CPU backend threads; <= 0 = online CPUs */
    const char *device;     /* Vulkan device index from `ideogram4 devices` ("0", "1", ...);
                               NULL = $IDEOGRAM4_DEVICE, else auto */
    int offload;            /* --offload: transformer layers that do not fit on the device stay in
                               host memory and are streamed into device slots block by block;
                               also $IDEOGRAM4_OFFLOAD=1 */
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
/* Merge a LoRA file into the conditional transformer (docs/MODEL.md §9; merged
 * copies of the affected layers only). Unknown keys and shape mismatches are
 * errors naming the key; nothing is applied then. */
int i4_pipeline_apply_lora(i4_pipeline *p, const char *path, float strength);
/* Remove every applied LoRA (restores the checkpoint's weights). */
int i4_pipeline_remove_loras(i4_pipeline *p);
/* Snapshot folder in use. */
const char *i4_pipeline_snapshot(const i4_pipeline *p);
/* The backend the pipeline runs on, in one line: "cpu (avx512, 2 threads)". */
const char *i4_pipeline_backend(const i4_pipeline *p);
/* Is `name` a backend this build knows (auto, cpu, vulkan)? */
int i4_backend_name_ok(const char *name);
/* Is `text` a device index ("0", "1", ... as `ideogram4 devices` lists)? */
int i4_device_index_ok(const char *text);
/* Memory the pipeline's backend holds for buffers, in bytes: now and at peak
 * since load (device memory on a GPU; the CPU backend counts its own
 * allocations, not the mmap'd weights); *where names the device. */
void i4_pipeline_device_memory(const i4_pipeline *p, size_t *now, size_t *peak, const char **where);

/* Live preview after each sampling step (docs/APP.md "Live previews"): rgb
 * [height][width][3] with one pixel per latent token (height = image height /
 * 16), from a fixed linear map of the latents fitted against the VAE decoder
 * (i4_pipeline_preview_fit). index is the image of the batch, step 1..steps.
 * rgb belongs to the engine (valid during the call). Return non-zero to
 * cancel. It gets the user pointer of i4_generate / i4_generate_batch. */
typedef int (*i4_preview_fn)(void *user, int index, int step, int steps, const uint8_t *rgb, int width, int height);

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
    i4_preview_fn preview;     /* optional: live previews (NULL = none, the default) */
} i4_generate_params;

/* Fit the live-preview map now (otherwise the first generation with a
 * preview does it): a least-squares fit of token latents -> patch mean RGB
 * against this pipeline's VAE decoder on a few random latent grids; once per
 * pipeline. Optional outputs: R^2 on held-out random latents and the fit's
 * seconds. 0 or -1. */
int i4_pipeline_preview_fit(i4_pipeline *p, double *r2_heldout, double *seconds);

/* Defaults: preset V4_QUALITY_48, 1024x1024, seed 20260608, no overrides. */
void i4_generate_params_init(i4_generate_params *gp);

typedef struct {
    uint8_t *rgb;              /* [height][width][3], free with i4_result_free */
    int width, height;
    int steps;
    int64_t text_tokens;
    double seconds_encode, seconds_sample, seconds_decode;
    /* Peak resident memory of each phase in MB (-1 when the OS cannot tell):
     * the text encoder's weights are only mapped while encoding, the
     * transformers' while sampling. */
    double peak_mb_encode, peak_mb_sample, peak_mb_decode;
} i4_result;

/* Returns 0, -1 (error) or I4_ERR_CANCELLED. */
#define I4_ERR_CANCELLED (-2)
/* A name argument that is not one of the accepted names (a usage error). */
#define I4_ERR_INVALID_ARG (-3)
int i4_generate(i4_pipeline *p, const i4_generate_params *gp, i4_progress_fn progress, void *user, i4_result *out);
void i4_result_free(i4_result *r);

/* Each image of a batch as soon as it is decoded: index 0..count-1 and its
 * seed. res belongs to the engine and is freed after the call, unless the
 * callee takes res->rgb (and sets it to NULL). Non-zero stops the batch. */
typedef int (*i4_image_fn)(void *user, int index, uint64_t seed, i4_result *res);
/* count (1..64) images of one caption with the seeds gp->seed, gp->seed+1,
 * ...: the caption is tokenized and encoded once, then each image is
 * sampled and decoded. progress sees ENCODE once, then SAMPLE 0..steps and
 * DECODE for each image. noise_path and latents_path need count 1. Returns
 * 0, -1 (error; the images delivered so far stay delivered) or
 * I4_ERR_CANCELLED (progress or on_image asked to stop). */
int i4_generate_batch(i4_pipeline *p, const i4_generate_params *gp, int count, i4_progress_fn progress,
                      i4_image_fn on_image, void *user);

/* ---- Presets -------------------------------------------------------------- */

/* Steps of a sampler preset (V4_QUALITY_48 48, V4_DEFAULT_20 20,
 * V4_TURBO_12 12), or 0 when name is not a preset. */
int i4_preset_steps(const char *name);

/* ---- Image files ---------------------------------------------------------- */

typedef enum { I4_IMAGE_PNG = 0, I4_IMAGE_WEBP = 1, I4_IMAGE_JPEG = 2 } i4_image_format;

/* "png" / "webp" / "jpeg" (also "jpg"); -1 with an error when unknown. */
int i4_image_format_parse(const char *name, i4_image_format *out);
const char *i4_image_format_name(i4_image_format f); /* "png", "webp", "jpeg" */
const char *i4_image_format_ext(i4_image_format f);  /* ".png", ".webp", ".jpg" */

/* Write rgb [height][width][3] with libpng / libwebp / libjpeg. quality:
 * 1..100 for lossy webp/jpeg, < 0 = default (webp lossless, jpeg 95);
 * ignored for png. The file appears whole or not at all ("<path>.tmp",
 * fsync, rename, fsync of the folder); a full disk is reported as
 * "disk full (no space left on device)". */
int i4_image_write(const char *path, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height);

/* Generation parameters carried inside an image file (docs/APP.md §2.3):
 * PNG: an iTXt chunk `ideogram4` with the JSON and a `parameters` text chunk
 * in AUTOMATIC1111's form (tEXt when ASCII, else iTXt); WebP: an "XMP "
 * chunk; JPEG: an APP1 XMP segment. The XMP packet holds both texts as
 * ideogram4:json and ideogram4:parameters (namespace I4_IMAGE_XMP_NS). A
 * JPEG whose packet would pass one segment's 64 KB drops the caption from
 * its copy of the JSON ("caption_omitted": true). Either field may be NULL. */
typedef struct {
    const char *json;       /* UTF-8 JSON text */
    const char *parameters; /* "caption\nSteps: 12, Sampler: ..., Seed: 3, Size: 64x64, ..." */
} i4_image_metadata;
#define I4_IMAGE_META_KEY "ideogram4"
#define I4_IMAGE_XMP_NS "https://github.com/ideogram4c/ns/1.0/"
int i4_image_write_meta(const char *path, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height,
                        const i4_image_metadata *meta);
/* Read the metadata of a PNG / WebP / JPEG file (the format from its first
 * bytes, into *fmt when fmt is set). *json and *parameters are malloc'd, NULL
 * when the file has none. Returns 0 (also when it has none), -1 when the
 * file cannot be read or is not one of the three formats. */
int i4_image_read_meta(const char *path, i4_image_format *fmt, char **json, char **parameters);

/* ---- Captions (docs/APP.md §2.1, §8.5) ------------------------------------------ */

/* Problems the caption verifier found: "<json path>: <message>" strings in
 * the official verifier's order and wording; count == 0 means valid. */
typedef struct {
    char **items;
    size_t count;
    int not_json;  /* the text did not parse; the last item is "invalid JSON: ..." */
} i4_caption_issues;

/* Verify len bytes of caption text (UTF-8, need not be NUL-terminated).
 * Returns 0 (out filled) or -1 on allocation failure. */
int i4_caption_verify(const char *text, size_t len, i4_caption_issues *out);
/* The schema checks alone, for callers that already hold a parsed jansson
 * value (the server does). Same return convention. */
struct json_t;
int i4_caption_verify_json(const struct json_t *caption, i4_caption_issues *out);
void i4_caption_issues_free(i4_caption_issues *issues);

/* What a prompt is: a structured caption, or text sent as is. */
enum {
    I4_CAPTION_OBJECT = 0,     /* a JSON object: a structured caption */
    I4_CAPTION_NOT_JSON = 1,   /* not JSON: plain text */
    I4_CAPTION_NOT_OBJECT = 2, /* JSON, but not an object */
};
int i4_caption_kind(const char *text, size_t len);
/* The warning printed for a kind, NULL for I4_CAPTION_OBJECT. */
const char *i4_caption_kind_warning(int kind);

/* ---- LoRA files ------------------------------------------------------------ */

typedef struct {
    const char *format; /* "peft", "kohya" or "lokr" (a static string) */
    size_t modules;     /* target modules */
} i4_lora_info;

/* Parse a LoRA file without a model and describe it; a file
 * i4_pipeline_apply_lora would reject for its keys fails here with the same
 * message (shapes are only checked against a model when applied). */
int i4_lora_inspect(const char *path, i4_lora_info *out);

/* ---- Tokenizer ------------------------------------------------------------- */

/* Token ids of len bytes of text with tokenizer_dir/tokenizer.json; with
 * chat = 1 the text is first wrapped in the fixed chat template the text
 * encoder sees (docs/MODEL.md §6.3). *ids is malloc'd (free() it). */
int i4_tokenize(const char *tokenizer_dir, const char *text, size_t len, int chat, int64_t **ids, size_t *n_ids);

/* ---- Checking one network ------------------------------------------------- */

/* Run one network of a snapshot on the tensors in in_path (safetensors) and
 * write its outputs to out_path, to compare the engine with the reference
 * implementation on any inputs. component: "transformer",
 * "unconditional-transformer" (inputs hidden_states, timestep, optional
 * encoder_hidden_states, position_ids, segment_ids, indicator; output
 * velocity), "text-encoder" (input_ids -> features) or "vae-decoder"
 * (latents, grid -> image). opt gives the snapshot and the precision as for
 * i4_pipeline_load. Returns 0, -1, or I4_ERR_INVALID_ARG for an unknown
 * component (checked first). */
int i4_debug_forward(const char *component, const i4_load_options *opt, const char *in_path, const char *out_path);

/* ---- Tiny model ----------------------------------------------------------- */

/* Write a deterministic tiny random checkpoint in the official layout. */
int i4_make_tiny_model(const char *dir, uint64_t seed, const char *tokenizer_dir);

#ifdef __cplusplus
}
#endif
#endif
