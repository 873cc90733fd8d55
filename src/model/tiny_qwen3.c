/*
 * tiny_qwen3.c — the random text encoder: text_encoder/config.json (the
 * shape of the real transformers Qwen3VLConfig, with the FP8 flag) and the
 * tensors with the official names and dtypes (docs/MODEL.md §5.2):
 * language_model.embed_tokens.weight BF16 [vocab, hidden] (the real
 * vocabulary 151936, so real token ids work), per layer FP8 + per-row
 * weight_scale q/k/v/o/gate/up/down (no bias), BF16 norm weights; plus two
 * small visual.* tensors the loader must ignore (the real vision tower is
 * not reproduced: the engine never reads it).
 *
 * Tiny dimensions: 36 layers, hidden 32, 4 query heads and 2 KV heads of
 * 16, MLP 64, written as one model.safetensors. The full-size writer uses
 * the real ones (hidden 4096, 32 + 8 heads of 128, MLP 12288).
 *
 * Scales: embeddings N(0,1); q/k/v/gate/up std 1/sqrt(in) (unit-size outputs
 * from normalised inputs); o_proj and down_proj scaled down (0.35/sqrt(in)) so
 * each layer adds a modest update and the residual stream stays O(1) after 36
 * layers while consecutive taps still differ; q_norm/k_norm weights around 1.5
 * give attention logits of a few units (neither uniform nor one-hot).
 * Deterministic: one RNG stream drawn in a fixed order; the writer sorts names.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "base/error.h"
#include "base/io.h"
#include "model/tiny.h"
#include "tensor/safetensors.h"

int i4_tiny_qwen3_config(const char *component_dir, const i4_tiny_qwen3_dims_t *d) {
    /* mrope_section splits head_dim/2 rotary slots over (t, h, w) as Qwen3-VL
     * does: (24, 20, 20) for head_dim 128. Not read by the engine (text only). */
    const int64_t half = d->head_dim / 2, hw = half * 20 / 64;
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\n"
             "  \"architectures\": [\"Qwen3VLModel\"],\n"
             "  \"model_type\": \"qwen3_vl\",\n"
             "  \"dtype\": \"bfloat16\",\n"
             "  \"ideogram_fp8_weight_only\": true,\n"
             "  \"image_token_id\": 151655,\n"
             "  \"video_token_id\": 151656,\n"
             "  \"vision_start_token_id\": 151652,\n"
             "  \"vision_end_token_id\": 151653,\n"
             "  \"tie_word_embeddings\": false,\n"
             "  \"text_config\": {\n"
             "    \"model_type\": \"qwen3_vl_text\",\n"
             "    \"dtype\": \"bfloat16\",\n"
             "    \"hidden_size\": %lld,\n"
             "    \"num_hidden_layers\": %lld,\n"
             "    \"num_attention_heads\": %lld,\n"
             "    \"num_key_value_heads\": %lld,\n"
             "    \"head_dim\": %lld,\n"
             "    \"intermediate_size\": %lld,\n"
             "    \"vocab_size\": %lld,\n"
             "    \"hidden_act\": \"silu\",\n"
             "    \"rms_norm_eps\": 1e-06,\n"
             "    \"max_position_embeddings\": 262144,\n"
             "    \"attention_bias\": false,\n"
             "    \"attention_dropout\": 0.0,\n"
             "    \"initializer_range\": 0.02,\n"
             "    \"use_cache\": true,\n"
             "    \"rope_parameters\": {\n"
             "      \"rope_type\": \"default\",\n"
             "      \"rope_theta\": 5000000,\n"
             "      \"mrope_section\": [%lld, %lld, %lld],\n"
             "      \"mrope_interleaved\": true\n"
             "    },\n"
             "    \"bos_token_id\": 151643,\n"
             "    \"eos_token_id\": 151645\n"
             "  },\n"
             "  \"vision_config\": {\n"
             "    \"model_type\": \"qwen3_vl_vision\",\n"
             "    \"depth\": 1,\n"
             "    \"hidden_size\": 16,\n"
             "    \"hidden_act\": \"gelu_pytorch_tanh\",\n"
             "    \"intermediate_size\": 32,\n"
             "    \"num_heads\": 2,\n"
             "    \"in_channels\": 3,\n"
             "    \"patch_size\": 4,\n"
             "    \"spatial_merge_size\": 2,\n"
             "    \"temporal_patch_size\": 2,\n"
             "    \"out_hidden_size\": %lld,\n"
             "    \"num_position_embeddings\": 16,\n"
             "    \"deepstack_visual_indexes\": [0],\n"
             "    \"initializer_range\": 0.02\n"
             "  }\n"
             "}\n",
             (long long)d->hidden, (long long)d->n_layers, (long long)d->n_heads, (long long)d->n_kv_heads,
             (long long)d->head_dim, (long long)d->ffn_dim, (long long)d->vocab, (long long)(half - 2 * hw),
             (long long)hw, (long long)hw, (long long)d->hidden);
    return i4_write_text_file(component_dir, "config.json", cfg);
}

int i4_tiny_qwen3_tensors(i4_tensor_sink *s, const i4_tiny_qwen3_dims_t *d) {
    char p[160];
    const int64_t H = d->hidden, hd_all = d->n_heads * d->head_dim, kv_all = d->n_kv_heads * d->head_dim;
    const int64_t emb_shape[2] = {d->vocab, H}, h[1] = {H}, hd[1] = {d->head_dim};
    const double in_std = 1.0 / sqrt((double)H);
    const double o_std = 0.35 / sqrt((double)hd_all), down_std = 0.35 / sqrt((double)d->ffn_dim);
    if (s->bf16(s, "language_model.embed_tokens.weight", 2, emb_shape, 0.0, 1.0) != 0) return -1;
    for (int64_t N = 0; N < d->n_layers; N++) {
#define LN(fmt) (snprintf(p, sizeof p, "language_model.layers.%lld." fmt, (long long)N), p)
        if (s->bf16(s, LN("input_layernorm.weight"), 1, h, 1.0, 0.1) != 0 ||
            s->linear_fp8(s, LN("self_attn.q_proj"), hd_all, H, in_std, 0) != 0 ||
            s->linear_fp8(s, LN("self_attn.k_proj"), kv_all, H, in_std, 0) != 0 ||
            s->linear_fp8(s, LN("self_attn.v_proj"), kv_all, H, in_std, 0) != 0 ||
            s->bf16(s, LN("self_attn.q_norm.weight"), 1, hd, 1.5, 0.2) != 0 ||
            s->bf16(s, LN("self_attn.k_norm.weight"), 1, hd, 1.5, 0.2) != 0 ||
            s->linear_fp8(s, LN("self_attn.o_proj"), H, hd_all, o_std, 0) != 0 ||
            s->bf16(s, LN("post_attention_layernorm.weight"), 1, h, 1.0, 0.1) != 0 ||
            s->linear_fp8(s, LN("mlp.gate_proj"), d->ffn_dim, H, in_std, 0) != 0 ||
            s->linear_fp8(s, LN("mlp.up_proj"), d->ffn_dim, H, in_std, 0) != 0 ||
            s->linear_fp8(s, LN("mlp.down_proj"), H, d->ffn_dim, down_std, 0) != 0)
            return -1;
#undef LN
    }
    if (s->bf16(s, "language_model.norm.weight", 1, h, 1.0, 0.1) != 0) return -1;
    /* A token vision tower: present in the official file, ignored by the encoder. */
    const int64_t patch[5] = {16, 3, 2, 4, 4}, vb[1] = {16};
    if (s->bf16(s, "visual.patch_embed.proj.weight", 5, patch, 0.0, 0.02) != 0 ||
        s->bf16(s, "visual.patch_embed.proj.bias", 1, vb, 0.0, 0.02) != 0)
        return -1;
    return 0;
}

int i4_tiny_qwen3(const char *component_dir, uint64_t seed) {
    const i4_tiny_qwen3_dims_t d = {
        .vocab = 151936, .hidden = 32, .n_layers = 36, .n_heads = 4, .n_kv_heads = 2, .head_dim = 16, .ffn_dim = 64,
    };
    char path[PATH_MAX];
    if (i4_tiny_qwen3_config(component_dir, &d) != 0) return -1;
    i4_st_writer *w = i4_st_writer_new();
    if (!w) return i4_error("out of memory");
    i4_tiny_sink s;
    i4_tiny_sink_init(&s, w, seed);
    int rc = i4_tiny_qwen3_tensors(&s.base, &d);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/model.safetensors", component_dir);
        rc = i4_st_writer_save(w, path);
    }
    i4_st_writer_free(w);
    return rc;
}
