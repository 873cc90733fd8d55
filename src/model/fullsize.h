/*
 * fullsize.h — `ideogram4 make-tiny-model DIR --full-size`: a deterministic
 * random checkpoint with the REAL dimensions, dtypes and file layout of the
 * official FP8 snapshot (docs/MODEL.md §1.2, §3, §5, §7), for measuring
 * load time, memory and speed without the gated weights. The tensors are
 * the tiny model's declarations (model/tiny.h) with other dimensions; their
 * bytes are streamed (one chunk buffer in memory, whatever the file size).
 */
#ifndef I4_FULLSIZE_H
#define I4_FULLSIZE_H

#include <stdint.h>
#include <stdio.h>

#include "model/tiny.h"

typedef struct {
    i4_tiny_dit_dims_t dit;    /* both transformers */
    i4_tiny_qwen3_dims_t te;   /* text encoder */
    int64_t vae_widths[4];     /* VAE block_out_channels */
} i4_fullsize_dims;

/* The real model: DiT 4608 wide, 18 heads of 256, FFN 12288, adaLN 512,
 * 53248 text features, 34 layers; Qwen3-VL 4096 wide, 36 layers, 32 query
 * and 8 KV heads of 128, FFN 12288, vocabulary 151936; VAE widths
 * (128, 256, 512, 512). */
void i4_fullsize_dims_real(i4_fullsize_dims *d);

/* Called while writing: bytes written so far of the total. */
typedef void (*i4_fullsize_progress_fn)(void *user, uint64_t done, uint64_t total);

typedef struct {
    uint64_t seed;
    const char *tokenizer_dir;   /* as i4_make_tiny_model */
    uint64_t shard_bytes;        /* 0: one file per component (the official FP8 repo's layout) */
    FILE *plan;                  /* non-NULL: print the files and tensors there, write nothing */
    i4_fullsize_progress_fn progress;
    void *user;
    unsigned components;         /* I4_FULLSIZE_* bits to write; 0 = all (and the tokenizer, model_index) */
} i4_fullsize_options;

#define I4_FULLSIZE_TRANSFORMER 1u
#define I4_FULLSIZE_UNCONDITIONAL 2u
#define I4_FULLSIZE_TEXT_ENCODER 4u
#define I4_FULLSIZE_VAE 8u

/*
 * Write (or with o->plan only describe) the snapshot in dir. Values: each
 * FP8 Linear stores codes e4m3(z), z ~ N(0, 1) (a 65536-entry quantile
 * table), with per-row F32 scales std * U(0.9, 1.1), std as in the tiny
 * model (~1/sqrt(fan_in)); BF16 tensors mean + std * z as in the tiny
 * model. Every tensor's bytes come from a counter-based generator keyed by
 * (seed, component, tensor name): deterministic, independent of chunking
 * and of the other tensors. Checks the free space before writing anything;
 * *total_bytes (if non-NULL) gets the bytes of the weight files.
 */
int i4_make_fullsize_model(const char *dir, const i4_fullsize_dims *d, const i4_fullsize_options *o,
                           uint64_t *total_bytes);

#endif
