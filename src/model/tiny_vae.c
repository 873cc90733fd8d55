/*
 * tiny_vae.c — writes vae/ of the random checkpoints: a diffusers
 * AutoencoderKLFlux2 config.json and diffusion_pytorch_model.safetensors
 * with the full tensor set diffusers expects (encoder, quant_conv,
 * post_quant_conv, decoder, bn buffers; docs/MODEL.md §7.2, §7.6). The tiny
 * model uses small widths:
 *
 *   latent_channels 32, block_out_channels [32, 32, 64, 64], layers_per_block 2,
 *   norm_num_groups 32, patch 2x2 (128 channels per DiT token).
 *
 * The decoder then has a 64 -> 32 resnet with conv_shortcut (up_blocks.2),
 * like the real 512 -> 256 and 256 -> 128 ones. The full-size writer uses
 * the real widths [128, 256, 512, 512].
 *
 * Weights are BF16: conv/linear weights N(0, 1/fan_in) (the decoded image of
 * N(0,1) latents then has a standard deviation of about 0.6, range about
 * +-2.5), biases N(0, 0.05^2), GroupNorm gamma 1 + N(0, 0.1^2) and beta
 * N(0, 0.1^2).
 * bn buffers are F32 and agree with the official constants:
 * running_mean = LATENT_SHIFT, running_var = LATENT_SCALE^2 - 1e-4,
 * num_batches_tracked = 0 (I64 scalar). Deterministic for the seed (one RNG
 * stream, tensors written in name order).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include "base/error.h"
#include "base/io.h"
#include "model/tiny.h"
#include "model/vae.h"

#define N_BLOCKS 4
#define LATENT 32
#define LAYERS 2

int i4_tiny_vae_config(const char *component_dir, const int64_t widths[N_BLOCKS]) {
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\n"
             "  \"_class_name\": \"AutoencoderKLFlux2\",\n"
             "  \"_diffusers_version\": \"0.42.1\",\n"
             "  \"act_fn\": \"silu\",\n"
             "  \"batch_norm_eps\": 0.0001,\n"
             "  \"batch_norm_momentum\": 0.1,\n"
             "  \"block_out_channels\": [%lld, %lld, %lld, %lld],\n"
             "  \"decoder_block_out_channels\": null,\n"
             "  \"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\", "
             "\"DownEncoderBlock2D\"],\n"
             "  \"in_channels\": 3,\n"
             "  \"latent_channels\": 32,\n"
             "  \"layers_per_block\": 2,\n"
             "  \"mid_block_add_attention\": true,\n"
             "  \"norm_num_groups\": 32,\n"
             "  \"out_channels\": 3,\n"
             "  \"patch_size\": [2, 2],\n"
             "  \"sample_size\": 1024,\n"
             "  \"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\"],\n"
             "  \"use_post_quant_conv\": true,\n"
             "  \"use_quant_conv\": true\n"
             "}\n",
             (long long)widths[0], (long long)widths[1], (long long)widths[2], (long long)widths[3]);
    return i4_write_text_file(component_dir, "config.json", cfg);
}

typedef struct {
    i4_tensor_sink *s;
    const int64_t *widths;
} ctx;

static int conv(ctx *c, const char *prefix, int64_t co, int64_t ci, int k) {
    char name[256];
    int64_t ws[4] = {co, ci, k, k}, bs[1] = {co};
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (c->s->bf16(c->s, name, 4, ws, 0.0, 1.0 / sqrt((double)(ci * k * k))) != 0) return -1;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return c->s->bf16(c->s, name, 1, bs, 0.0, 0.05);
}

static int linear(ctx *c, const char *prefix, int64_t n) {
    char name[256];
    int64_t ws[2] = {n, n}, bs[1] = {n};
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (c->s->bf16(c->s, name, 2, ws, 0.0, 1.0 / sqrt((double)n)) != 0) return -1;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return c->s->bf16(c->s, name, 1, bs, 0.0, 0.05);
}

static int gnorm(ctx *c, const char *prefix, int64_t ch) {
    char name[256];
    int64_t s[1] = {ch};
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (c->s->bf16(c->s, name, 1, s, 1.0, 0.1) != 0) return -1;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return c->s->bf16(c->s, name, 1, s, 0.0, 0.1);
}

static int resnet(ctx *c, const char *prefix, int64_t ci, int64_t co) {
    char name[256];
    snprintf(name, sizeof name, "%s.norm1", prefix);
    if (gnorm(c, name, ci) != 0) return -1;
    snprintf(name, sizeof name, "%s.conv1", prefix);
    if (conv(c, name, co, ci, 3) != 0) return -1;
    snprintf(name, sizeof name, "%s.norm2", prefix);
    if (gnorm(c, name, co) != 0) return -1;
    snprintf(name, sizeof name, "%s.conv2", prefix);
    if (conv(c, name, co, co, 3) != 0) return -1;
    if (ci != co) {
        snprintf(name, sizeof name, "%s.conv_shortcut", prefix);
        if (conv(c, name, co, ci, 1) != 0) return -1;
    }
    return 0;
}

/* encoder.* or decoder.* mid block: resnet, single-head attention, resnet. */
static int mid_block(ctx *c, const char *part, int64_t ch) {
    char name[256];
    snprintf(name, sizeof name, "%s.mid_block.resnets.0", part);
    if (resnet(c, name, ch, ch) != 0) return -1;
    snprintf(name, sizeof name, "%s.mid_block.attentions.0.group_norm", part);
    if (gnorm(c, name, ch) != 0) return -1;
    const char *proj[4] = {"to_q", "to_k", "to_v", "to_out.0"};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.mid_block.attentions.0.%s", part, proj[i]);
        if (linear(c, name, ch) != 0) return -1;
    }
    snprintf(name, sizeof name, "%s.mid_block.resnets.1", part);
    return resnet(c, name, ch, ch);
}

static int encoder(ctx *c) {
    char name[256];
    if (conv(c, "encoder.conv_in", c->widths[0], 3, 3) != 0) return -1;
    int64_t prev = c->widths[0];
    for (int i = 0; i < N_BLOCKS; i++) {
        for (int r = 0; r < LAYERS; r++) {
            snprintf(name, sizeof name, "encoder.down_blocks.%d.resnets.%d", i, r);
            if (resnet(c, name, r == 0 ? prev : c->widths[i], c->widths[i]) != 0) return -1;
        }
        if (i < N_BLOCKS - 1) {
            snprintf(name, sizeof name, "encoder.down_blocks.%d.downsamplers.0.conv", i);
            if (conv(c, name, c->widths[i], c->widths[i], 3) != 0) return -1;
        }
        prev = c->widths[i];
    }
    if (mid_block(c, "encoder", prev) != 0) return -1;
    if (gnorm(c, "encoder.conv_norm_out", prev) != 0) return -1;
    if (conv(c, "encoder.conv_out", 2 * LATENT, prev, 3) != 0) return -1;
    return conv(c, "quant_conv", 2 * LATENT, 2 * LATENT, 1);
}

static int decoder(ctx *c) {
    char name[256];
    const int64_t top = c->widths[N_BLOCKS - 1];
    if (conv(c, "post_quant_conv", LATENT, LATENT, 1) != 0) return -1;
    if (conv(c, "decoder.conv_in", top, LATENT, 3) != 0) return -1;
    if (mid_block(c, "decoder", top) != 0) return -1;
    int64_t prev = top;
    for (int j = 0; j < N_BLOCKS; j++) {
        const int64_t out = c->widths[N_BLOCKS - 1 - j];
        for (int r = 0; r < LAYERS + 1; r++) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.resnets.%d", j, r);
            if (resnet(c, name, r == 0 ? prev : out, out) != 0) return -1;
        }
        if (j < N_BLOCKS - 1) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.conv", j);
            if (conv(c, name, out, out, 3) != 0) return -1;
        }
        prev = out;
    }
    if (gnorm(c, "decoder.conv_norm_out", prev) != 0) return -1;
    return conv(c, "decoder.conv_out", 3, prev, 3);
}

static int bn_buffers(ctx *c) {
    float var[128];
    for (int i = 0; i < 128; i++) var[i] = (float)((double)i4_latent_scale[i] * i4_latent_scale[i] - 1e-4);
    int64_t s[1] = {128};
    int64_t zero = 0;
    if (c->s->raw(c->s, "bn.running_mean", I4_DT_F32, 1, s, i4_latent_shift) != 0) return -1;
    if (c->s->raw(c->s, "bn.running_var", I4_DT_F32, 1, s, var) != 0) return -1;
    return c->s->raw(c->s, "bn.num_batches_tracked", I4_DT_I64, 0, NULL, &zero);
}

int i4_tiny_vae_tensors(i4_tensor_sink *s, const int64_t widths[N_BLOCKS]) {
    ctx c = {s, widths};
    if (encoder(&c) != 0 || decoder(&c) != 0) return -1;
    return bn_buffers(&c);
}

int i4_tiny_vae(const char *component_dir, uint64_t seed) {
    static const int64_t widths[N_BLOCKS] = {32, 32, 64, 64};
    char path[PATH_MAX];
    if (i4_tiny_vae_config(component_dir, widths) != 0) return -1;
    i4_st_writer *w = i4_st_writer_new();
    if (!w) return i4_error("out of memory");
    i4_tiny_sink s;
    i4_tiny_sink_init(&s, w, seed);
    int rc = i4_tiny_vae_tensors(&s.base, widths);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", component_dir);
    if (rc == 0) rc = i4_st_writer_save(w, path);
    i4_st_writer_free(w);
    if (rc != 0) return i4_error_prefix("writing the tiny VAE to %s", component_dir);
    return 0;
}
