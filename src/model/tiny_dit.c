/*
 * tiny_dit.c — the random Ideogram 4 transformer (transformer/ and
 * unconditional_transformer/): config.json with diffusers-style keys and
 * the tensors of docs/MODEL.md §3.2 under their official names and dtypes —
 * every Linear FP8 e4m3 + F32 per-row weight_scale, biases, norm weights,
 * llm_cond_norm and embed_image_indicator BF16. The tiny model writes them
 * as a sharded checkpoint (index + 2-3 shards) so the index path is
 * exercised; the full-size writer declares the same tensors with the real
 * dimensions (model/fullsize.c).
 *
 * Tiny dimensions: D 64 (2 heads of 32), 2 layers, FFN 128, adaLN 32,
 * F 416 (= 13 taps x text width 32), C_in 128. mrope_section is (4, 3, 3):
 * the real (24, 20, 20) addresses slots up to 59, which do not exist with
 * head_dim 32 (diffusers' Ideogram4MRoPE raises an IndexError); (4, 3, 3)
 * keeps the real model's structure — interleaved H/W slots at the front, a
 * tail of slots that all belong to the T axis.
 *
 * Init (normal draws in a fixed order): weights std ~1/sqrt(fan_in)
 * (modulation weights half that), biases std 0.1, norm weights 1 +- 0.1,
 * indicator embedding std 0.5 — activations O(1), gates and attention
 * non-trivial. Same seed -> same bytes.
 */
#include <stdio.h>
#include <math.h>

#include "base/error.h"
#include "base/io.h"
#include "model/tiny.h"
#include "tensor/safetensors.h"

static int add_layer(i4_tensor_sink *s, const i4_tiny_dit_dims_t *d, int64_t n) {
    char name[128];
    const int64_t D = d->dim, I = d->ffn_dim, A = d->adaln_dim;
    const double sD = 1.0 / sqrt((double)D), sI = 1.0 / sqrt((double)I), sA = 1.0 / sqrt((double)A);
    int64_t shD[1] = {D}, shH[1] = {d->head_dim};
#define NM(suffix) (snprintf(name, sizeof name, "layers.%lld." suffix, (long long)n), name)
    if (s->linear_fp8(s, NM("attention.qkv"), 3 * D, D, sD, 0) != 0) return -1;
    if (s->bf16(s, NM("attention.norm_q.weight"), 1, shH, 1.0, 0.1) != 0) return -1;
    if (s->bf16(s, NM("attention.norm_k.weight"), 1, shH, 1.0, 0.1) != 0) return -1;
    if (s->linear_fp8(s, NM("attention.o"), D, D, sD, 0) != 0) return -1;
    if (s->linear_fp8(s, NM("feed_forward.w1"), I, D, sD, 0) != 0) return -1;
    if (s->linear_fp8(s, NM("feed_forward.w2"), D, I, sI, 0) != 0) return -1;
    if (s->linear_fp8(s, NM("feed_forward.w3"), I, D, sD, 0) != 0) return -1;
    if (s->bf16(s, NM("attention_norm1.weight"), 1, shD, 1.0, 0.1) != 0) return -1;
    if (s->bf16(s, NM("attention_norm2.weight"), 1, shD, 1.0, 0.1) != 0) return -1;
    if (s->bf16(s, NM("ffn_norm1.weight"), 1, shD, 1.0, 0.1) != 0) return -1;
    if (s->bf16(s, NM("ffn_norm2.weight"), 1, shD, 1.0, 0.1) != 0) return -1;
    if (s->linear_fp8(s, NM("adaln_modulation"), 4 * D, A, 0.5 * sA, 0.1) != 0) return -1;
#undef NM
    return 0;
}

int i4_tiny_dit_config(const char *component_dir, const i4_tiny_dit_dims_t *d) {
    if (d->dim <= 0 || d->head_dim <= 0 || d->dim % d->head_dim != 0 || d->n_layers <= 0)
        return i4_error("random transformer: invalid dimensions");
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\n"
             "  \"_class_name\": \"Ideogram4Transformer2DModel\",\n"
             "  \"in_channels\": %lld,\n"
             "  \"num_layers\": %lld,\n"
             "  \"attention_head_dim\": %lld,\n"
             "  \"num_attention_heads\": %lld,\n"
             "  \"intermediate_size\": %lld,\n"
             "  \"adaln_dim\": %lld,\n"
             "  \"llm_features_dim\": %lld,\n"
             "  \"rope_theta\": 5000000,\n"
             "  \"mrope_section\": [%d, %d, %d],\n"
             "  \"norm_eps\": 1e-05\n"
             "}\n",
             (long long)d->in_channels, (long long)d->n_layers, (long long)d->head_dim,
             (long long)(d->dim / d->head_dim), (long long)d->ffn_dim, (long long)d->adaln_dim,
             (long long)d->llm_features, d->mrope_section[0], d->mrope_section[1], d->mrope_section[2]);
    return i4_write_text_file(component_dir, "config.json", cfg);
}

int i4_tiny_dit_tensors(i4_tensor_sink *s, const i4_tiny_dit_dims_t *d) {
    const int64_t D = d->dim, A = d->adaln_dim, F = d->llm_features, C = d->in_channels;
    const double sD = 1.0 / sqrt((double)D), sA = 1.0 / sqrt((double)A);
    int64_t shF[1] = {F}, shInd[2] = {2, D};
    int rc = 0;
    if (rc == 0) rc = s->linear_fp8(s, "input_proj", D, C, 1.0 / sqrt((double)C), 0.1);
    if (rc == 0) rc = s->bf16(s, "llm_cond_norm.weight", 1, shF, 1.0, 0.1);
    if (rc == 0) rc = s->linear_fp8(s, "llm_cond_proj", D, F, 1.0 / sqrt((double)F), 0.1);
    if (rc == 0) rc = s->linear_fp8(s, "t_embedding.mlp_in", D, D, sD, 0.1);
    if (rc == 0) rc = s->linear_fp8(s, "t_embedding.mlp_out", D, D, sD, 0.1);
    if (rc == 0) rc = s->linear_fp8(s, "adaln_proj", A, D, sD, 0.1);
    if (rc == 0) rc = s->bf16(s, "embed_image_indicator.weight", 2, shInd, 0.0, 0.5);
    for (int64_t n = 0; rc == 0 && n < d->n_layers; n++) rc = add_layer(s, d, n);
    if (rc == 0) rc = s->linear_fp8(s, "final_layer.adaln_modulation", D, A, 0.5 * sA, 0.1);
    if (rc == 0) rc = s->linear_fp8(s, "final_layer.linear", C, D, sD, 0.1);
    return rc;
}

int i4_tiny_dit(const char *component_dir, uint64_t seed) {
    const i4_tiny_dit_dims_t d = {
        .dim = 64, .in_channels = 128, .n_layers = 2, .head_dim = 32, .ffn_dim = 128, .adaln_dim = 32,
        .llm_features = 13 * 32, .mrope_section = {4, 3, 3},
    };
    if (i4_tiny_dit_config(component_dir, &d) != 0) return -1;
    i4_st_writer *w = i4_st_writer_new();
    if (!w) return i4_error("out of memory");
    i4_tiny_sink s;
    i4_tiny_sink_init(&s, w, seed);
    int rc = i4_tiny_dit_tensors(&s.base, &d);
    if (rc == 0) {
        size_t shard_bytes = i4_st_writer_data_bytes(w) * 2 / 5 + 1; /* -> 3 shards */
        rc = i4_st_writer_save_sharded(w, component_dir, "diffusion_pytorch_model", shard_bytes);
    }
    i4_st_writer_free(w);
    return rc;
}
