/*
 * gen_meta.h — the parameters of one generated image as the JSON the image
 * carries (and the CLI's sidecar starts from) and as the one-paragraph text
 * AUTOMATIC1111 writes into a PNG's `parameters` chunk, which image sites
 * and viewers already show (docs/APP.md §2.3). Shared by the CLI and the
 * server so both write the same fields.
 */
#ifndef I4_GEN_META_H
#define I4_GEN_META_H

#include <jansson.h>
#include <stdint.h>

typedef struct {
    const char *name;
    double strength;
} i4_meta_lora;

typedef struct {
    const char *caption;       /* the prompt text exactly as the engine got it */
    uint64_t seed;
    const char *preset;
    int steps;                 /* steps run */
    int width, height;
    double guidance;           /* < 0 = the preset's schedule */
    const i4_meta_lora *loras;
    int n_loras;
    const char *format;        /* "png" | "webp" | "jpeg" */
    int batch_index;           /* 0-based */
    int batch_count;           /* 1 = a single image */
} i4_gen_meta;

/* {"caption", "seed", "preset", "steps", "resolution": [w, h], "guidance",
 * "loras": [{"name", "strength"}], "format", "engine", "batch"?}; NULL when
 * out of memory. */
json_t *i4_gen_meta_json(const i4_gen_meta *m);
/* "<caption>\nSteps: 12, Sampler: Euler, Schedule type: V4_TURBO_12, CFG
 * scale: 4, Seed: 3, Size: 64x64, Model: Ideogram 4, Lora: ..., Version:
 * ideogram4.c 0.1.0", malloc'd; NULL when out of memory. */
char *i4_gen_meta_parameters(const i4_gen_meta *m);

#endif
