/*
 * tiny_qwen3.c — the tiny random text encoder: text_encoder/config.json (the
 * shape of the real transformers Qwen3VLConfig, with the FP8 flag) and
 * text_encoder/model.safetensors with the official tensor names and dtypes
 * (docs/MODEL.md §5.2): language_model.embed_tokens.weight BF16 [151936, 32] (the
 * real vocabulary, so real token ids work), per layer FP8 + per-row
 * weight_scale q/k/v/o/gate/up/down (no bias), BF16 norm weights, 36 layers,
 * hidden 32, 4 query heads and 2 KV heads of 16, MLP 64; plus two small
 * visual.* tensors the loader must ignore.
 *
 * Scales: embeddings N(0,1); q/k/v/gate/up std 1/sqrt(in) (unit-size outputs
 * from normalised inputs); o_proj and down_proj scaled down (0.35/sqrt(in)) so
 * each layer adds a modest update and the residual stream stays O(1) after 36
 * layers while consecutive taps still differ; q_norm/k_norm weights around 1.5
 * give attention logits of a few units (neither uniform nor one-hot).
 * Deterministic: one RNG stream drawn in a fixed order; the writer sorts names.
 */
#include <limits.h>
#include <stdio.h>

#include "base/error.h"
#include "base/io.h"
#include "base/rng.h"
#include "model/tiny.h"
#include "model/weights.h"
#include "tensor/safetensors.h"

#define T_VOCAB 151936
#define T_HIDDEN 32
#define T_LAYERS 36
#define T_HEADS 4
#define T_KV_HEADS 2
#define T_HEAD_DIM 16
#define T_FFN 64

static const char config_json[] =
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
    "    \"hidden_size\": 32,\n"
    "    \"num_hidden_layers\": 36,\n"
    "    \"num_attention_heads\": 4,\n"
    "    \"num_key_value_heads\": 2,\n"
    "    \"head_dim\": 16,\n"
    "    \"intermediate_size\": 64,\n"
    "    \"vocab_size\": 151936,\n"
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
    "      \"mrope_section\": [4, 2, 2],\n"
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
    "    \"out_hidden_size\": 32,\n"
    "    \"num_position_embeddings\": 16,\n"
    "    \"deepstack_visual_indexes\": [0],\n"
    "    \"initializer_range\": 0.02\n"
    "  }\n"
    "}\n";

static int write_weights(i4_st_writer *w, uint64_t seed) {
    i4_rng r;
    i4_rng_seed(&r, seed);
    char p[160];
    const int64_t emb_shape[2] = {T_VOCAB, T_HIDDEN}, h[1] = {T_HIDDEN}, hd[1] = {T_HEAD_DIM};
    const double in_std = 1.0 / 5.656854249492381;   /* 1/sqrt(32) */
    const double ffn_std = 1.0 / 8.0;                 /* 1/sqrt(64) */
    if (i4_tiny_bf16(w, &r, "language_model.embed_tokens.weight", 2, emb_shape, 0.0, 1.0) != 0) return -1;
    for (int N = 0; N < T_LAYERS; N++) {
#define LN(fmt) (snprintf(p, sizeof p, "language_model.layers.%d." fmt, N), p)
        if (i4_tiny_bf16(w, &r, LN("input_layernorm.weight"), 1, h, 1.0, 0.1) != 0 ||
            i4_tiny_linear_fp8(w, &r, LN("self_attn.q_proj"), T_HEADS * T_HEAD_DIM, T_HIDDEN, in_std, 0) != 0 ||
            i4_tiny_linear_fp8(w, &r, LN("self_attn.k_proj"), T_KV_HEADS * T_HEAD_DIM, T_HIDDEN, in_std, 0) != 0 ||
            i4_tiny_linear_fp8(w, &r, LN("self_attn.v_proj"), T_KV_HEADS * T_HEAD_DIM, T_HIDDEN, in_std, 0) != 0 ||
            i4_tiny_bf16(w, &r, LN("self_attn.q_norm.weight"), 1, hd, 1.5, 0.2) != 0 ||
            i4_tiny_bf16(w, &r, LN("self_attn.k_norm.weight"), 1, hd, 1.5, 0.2) != 0 ||
            i4_tiny_linear_fp8(w, &r, LN("self_attn.o_proj"), T_HIDDEN, T_HEADS * T_HEAD_DIM, 0.35 * ffn_std, 0) != 0 ||
            i4_tiny_bf16(w, &r, LN("post_attention_layernorm.weight"), 1, h, 1.0, 0.1) != 0 ||
            i4_tiny_linear_fp8(w, &r, LN("mlp.gate_proj"), T_FFN, T_HIDDEN, in_std, 0) != 0 ||
            i4_tiny_linear_fp8(w, &r, LN("mlp.up_proj"), T_FFN, T_HIDDEN, in_std, 0) != 0 ||
            i4_tiny_linear_fp8(w, &r, LN("mlp.down_proj"), T_HIDDEN, T_FFN, 0.35 * ffn_std, 0) != 0)
            return -1;
#undef LN
    }
    if (i4_tiny_bf16(w, &r, "language_model.norm.weight", 1, h, 1.0, 0.1) != 0) return -1;
    /* A token vision tower: present in the official file, ignored by the encoder. */
    const int64_t patch[5] = {16, 3, 2, 4, 4}, vb[1] = {16};
    if (i4_tiny_bf16(w, &r, "visual.patch_embed.proj.weight", 5, patch, 0.0, 0.02) != 0 ||
        i4_tiny_bf16(w, &r, "visual.patch_embed.proj.bias", 1, vb, 0.0, 0.02) != 0)
        return -1;
    return 0;
}

int i4_tiny_qwen3(const char *component_dir, uint64_t seed) {
    char path[PATH_MAX];
    if (i4_write_text_file(component_dir, "config.json", config_json) != 0) return -1;
    i4_st_writer *w = i4_st_writer_new();
    if (!w) return i4_error("out of memory");
    int rc = write_weights(w, seed);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/model.safetensors", component_dir);
        rc = i4_st_writer_save(w, path);
    }
    i4_st_writer_free(w);
    return rc;
}
