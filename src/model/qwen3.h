/*
 * qwen3.h — the Qwen3-VL language model used as Ideogram 4's text encoder
 * (text only; docs/MODEL.md §5). Batch 1, positions 0..n-1, causal.
 */
#ifndef I4_QWEN3_H
#define I4_QWEN3_H

#include <stdint.h>

#include "backend/backend.h"
#include "ideogram4.h"

typedef struct {
    int64_t hidden;       /* H */
    int64_t n_layers;
    int64_t n_heads, n_kv_heads, head_dim;
    int64_t ffn_dim;
    int64_t vocab;
    double rms_eps;       /* text_config.rms_norm_eps, default 1e-6 */
    double rope_theta;    /* text_config.rope_parameters.rope_theta | rope_theta, default 5e6 */
    int n_taps;           /* 13 */
    int taps[16];         /* 0, 3, ..., 33, 35 (layer indices whose outputs are stacked) */
} i4_qwen3_config;

typedef struct i4_qwen3 i4_qwen3;

/* Load from snapshot/text_encoder (config.json + model.safetensors or index).
 * Accepts the prefixes "language_model." and "model.language_model.". */
int i4_qwen3_load(i4_qwen3 **out, const char *component_dir, i4_precision p, i4_backend *be);
/* For `ideogram4 bench text-encoder`: also accepts fewer layers than the
 * taps need (it runs the layers it has; features only for the taps among
 * them). Never used to make features for the transformers. */
int i4_qwen3_load_partial(i4_qwen3 **out, const char *component_dir, i4_precision p, i4_backend *be);
/* Decoder layers an encode runs. */
int i4_qwen3_layers_run(const i4_qwen3 *m);
const i4_qwen3_config *i4_qwen3_config_get(const i4_qwen3 *m);
void i4_qwen3_free(i4_qwen3 *m);

/* features [n, n_taps*H]: features[i, d*n_taps + k] = output of layer taps[k]
 * at token i, dim d (docs/MODEL.md §5.4). ids outside [0, vocab) are an error. */
int i4_qwen3_encode(const i4_qwen3 *m, const int64_t *ids, int64_t n, float *features);

#endif
