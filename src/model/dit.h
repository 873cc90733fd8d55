/*
 * dit.h — the Ideogram 4 diffusion transformer (conditional and unconditional
 * share architecture and tensor names; docs/MODEL.md §3). Batch 1.
 */
#ifndef I4_DIT_H
#define I4_DIT_H

#include <stdint.h>

#include "backend/backend.h"
#include "ideogram4.h"
#include "ops/ops.h"
#include "tensor/safetensors.h"

typedef struct {
    int64_t dim;           /* D, input_proj.weight.shape[0] */
    int64_t in_channels;   /* C_in, input_proj.weight.shape[1] */
    int64_t n_layers;
    int64_t head_dim;      /* layers.0.attention.norm_q.weight.shape[0] */
    int64_t n_heads;       /* D / head_dim */
    int64_t ffn_dim;       /* layers.0.feed_forward.w1.weight.shape[0] */
    int64_t adaln_dim;     /* adaln_proj.weight.shape[0] */
    int64_t llm_features;  /* F, llm_cond_proj.weight.shape[1] */
    double rope_theta;     /* config.json "rope_theta", default 5e6 */
    int mrope_section[3];  /* config.json "mrope_section", default (24, 20, 20) */
} i4_dit_config;

typedef struct i4_dit i4_dit;

/* Load from a component folder (snapshot/transformer or
 * snapshot/unconditional_transformer): config.json (optional) +
 * diffusion_pytorch_model.safetensors or its sharded index. */
int i4_dit_load(i4_dit **out, const char *component_dir, i4_precision p, i4_backend *be);
/* The same, under --offload: weights bind on the device up to device_budget
 * bytes (the layers outside the blocks first, then layers in order); the
 * layers past it stay in host memory and are streamed into device slots
 * when used (backend.h, streamed weights). SIZE_MAX = all on the device. */
int i4_dit_load_offload(i4_dit **out, const char *component_dir, i4_precision p, i4_backend *be,
                        size_t device_budget);
/* Layers streamed from host memory (0 without --offload). */
int64_t i4_dit_streamed_layers(const i4_dit *m);
/* Stored bytes of a component's weights outside the blocks (`top`) and of
 * its largest block (`max_layer`), and its dimensions (dim, ffn_dim,
 * head_dim, in_channels, n_layers; others 0), from the checkpoint's headers. */
int i4_dit_weight_sizes(const char *component_dir, size_t *top, size_t *max_layer, i4_dit_config *dims);
const i4_dit_config *i4_dit_config_get(const i4_dit *m);
i4_backend *i4_dit_backend(const i4_dit *m);
void i4_dit_free(i4_dit *m);

/*
 * A run: the workspace and uploaded layout (index lists, RoPE tables, the
 * segment ids) of one sequence shape, made once and reused for every
 * forward of that shape (every sampling step). pos [L, 3], seg [L], ind [L]
 * are read at creation only.
 */
typedef struct i4_dit_run i4_dit_run;
int i4_dit_run_new(const i4_dit *m, const int64_t *pos, const int64_t *seg, const int64_t *ind, int64_t L,
                   i4_dit_run **out);
void i4_dit_run_free(i4_dit_run *r);
int64_t i4_dit_run_tokens(const i4_dit_run *r);
/* One forward on device memory: x [L, C_in], feat [L, F] or none (all-zero
 * features), velocity [L, C_in]. Only the rows of feat at text positions
 * (ind == 3) are read, so a buffer may end after the last text row. Queues
 * ops only (no host round trip). */
int i4_dit_run_forward(i4_dit_run *r, i4_dv x, float t, i4_dv feat, i4_dv velocity);
/* The two parts of a forward, for `ideogram4 bench`: everything outside the
 * blocks (a forward with zero blocks), and block `layer` alone on the run's
 * hidden state as the last forward or rest left it. */
int i4_dit_run_rest(i4_dit_run *r, i4_dv x, float t, i4_dv feat, i4_dv velocity);
void i4_dit_run_block(i4_dit_run *r, int64_t layer);

/*
 * One forward pass over a packed sequence of L tokens (docs/MODEL.md §3.5, §4).
 *   x   [L, C_in] latent tokens (text slots zero)      t   flow time as given (the sampler rounds it)
 *   feat [L, F] text features, or NULL for "all zero" (the unconditional layout)
 *   pos [L, 3]  seg [L]  ind [L] (3 text, 2 image, other = padding)
 *   velocity [L, C_in] output (meaningful at ind == 2 rows)
 * Host arrays in and out: a run, uploads and a download around one forward.
 */
int i4_dit_forward(const i4_dit *m, const float *x, float t, const float *feat, const int64_t *pos,
                   const int64_t *seg, const int64_t *ind, int64_t L, float *velocity);

/* ---- LoRA hooks (src/model/lora.c) ----
 * The tensor set the model was loaded from (base weights for merging). */
const i4_tensor_set *i4_dit_tensors(const i4_dit *m);
/* Replace the Linear at an official module path ("input_proj",
 * "layers.3.attention.qkv", "layers.0.feed_forward.w2", "final_layer.linear",
 * ...) by w, which must have the stored layer's [out, in] and stay valid while
 * installed (the caller owns its memory). w == NULL restores the checkpoint's
 * own (mmap'd) weights. Unknown paths and shape mismatches are errors. */
int i4_dit_set_linear(i4_dit *m, const char *path, const i4_linear_w *w);

#endif
