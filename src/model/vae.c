/*
 * vae.c — the Flux2 KL VAE decoder (diffusers AutoencoderKLFlux2 layout,
 * docs/MODEL.md §7), batch 1, NCHW activations [C, H, W] in f32.
 *
 *   tokens [gh*gw, 128] --denormalise + unpatchify (vae_latent.c)--> z [L, 2gh, 2gw]   (L = 32)
 *   h = conv1x1(post_quant_conv, z)
 *   h = conv3x3(decoder.conv_in, h)                                  L -> w[n-1]
 *   h = Res(mid.resnets.0, h); h = h + Attn(mid.attentions.0, h); h = Res(mid.resnets.1, h)
 *   for j in 0..n-1 (diffusers up_blocks order = execution order; widths w reversed):
 *       h = Res(up_blocks.j.resnets.r, h) for r in 0..layers_per_block
 *       if j < n-1: h = conv3x3(up_blocks.j.upsamplers.0.conv, nearest2x(h))
 *   image = conv3x3(conv_out, silu(GroupNorm(conv_norm_out, h)))     w[0] -> 3
 *
 *   Res(x)  = shortcut(x) + conv2(silu(GN2(conv1(silu(GN1(x))))))    shortcut = 1x1 conv iff c_in != c_out
 *   Attn(x) = to_out(softmax(q k^T / sqrt(C)) v), q/k/v = Linear(GN(x)) on tokens [H*W, C], one head
 *   GroupNorm: norm_num_groups groups, eps 1e-6 (diffusers' Decoder), affine.
 *
 * Precision: f32 mode = everything f32. bf16 mode = diffusers' decoder run in
 * torch.bfloat16: the latent is cast to bf16 after denormalisation, weights
 * are bf16, and every op (conv, norm, silu, linear, attention, residual add)
 * rounds its output to bf16 (f32 accumulation inside).
 *
 * Dimensions come from config.json (latent_channels, block_out_channels or
 * decoder_block_out_channels, layers_per_block, norm_num_groups, patch_size)
 * and every tensor shape is checked against them. The encoder, quant_conv
 * and bn tensors are not used; the bn running statistics are only compared
 * with the official constants (a warning when they differ).
 *
 * Memory: one workspace per decode on the backend: three activation slots
 * sized for the largest stage (a resnet needs three activations, an
 * upsampler its 2x input and output; 3 x 512 MiB for the real decoder at
 * 1024x1024), the attention's four token-major scratch tensors at the
 * middle resolution, and the image.
 * The attention uses i4_attention on token-major [H*W, C] tensors (no
 * [tokens x tokens] matrix).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/error.h"
#include "model/config.h"
#include "model/vae.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "tensor/safetensors.h"

#define GN_EPS 1e-6f   /* diffusers Decoder: resnet_eps / GroupNorm eps */
#define MAX_BLOCKS 8

typedef struct {
    float *gamma, *beta;  /* decoded to f32 at load (host copies the backend binds) */
    i4_dparam dgamma, dbeta;
    int64_t c;
} gnorm;

typedef struct {
    gnorm n1, n2;
    i4_dconv c1, c2, sc;
    int has_sc;
    int64_t ci, co;
} resnet;

typedef struct {
    gnorm gn;
    i4_dlinear q, k, v, o;
} attn;

typedef struct {
    resnet *res;
    int n_res;
    int has_up;
    i4_dconv up;
} upblock;

struct i4_vae {
    i4_tensor_set *set;
    i4_backend *be;
    i4_weight_set weights; /* bound once: the checkpoint's tensors, decoded norms, latent constants */
    i4_dv lat_scale, lat_shift;
    i4_precision prec;
    int64_t latent_ch, groups;
    int ph, pw;
    int n_blocks;
    int64_t widths[MAX_BLOCKS];  /* decoder block_out_channels (config order) */
    i4_dconv post_quant, conv_in, conv_out;
    resnet mid0, mid1;
    attn att;
    upblock up[MAX_BLOCKS];
    gnorm norm_out;
    int bn_mismatch;
    int64_t bound;               /* decoder tensors bound (to catch leftovers) */
};

/* ----------------------------------------------------------------- binding */

static int bind_conv(i4_vae *m, const char *prefix, int64_t co, int64_t ci, int k, i4_dconv *w) {
    i4_conv_w hw;
    if (i4_bind_conv(m->set, prefix, co, ci, k, &hw) != 0) return -1;
    if (i4_bind_dconv(&m->weights, &hw, w) != 0) return -1;
    m->bound += 2;
    return 0;
}

static int bind_gn(i4_vae *m, const char *prefix, int64_t c, gnorm *g) {
    char name[256];
    i4_param pw, pb;
    if (c % m->groups != 0)
        return i4_error("%s: %lld channels are not divisible by norm_num_groups = %lld", prefix, (long long)c,
                        (long long)m->groups);
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (i4_bind_param(m->set, name, c, &pw) != 0) return -1;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (i4_bind_param(m->set, name, c, &pb) != 0) return -1;
    g->gamma = malloc((size_t)c * sizeof *g->gamma);
    g->beta = malloc((size_t)c * sizeof *g->beta);
    if (!g->gamma || !g->beta) return i4_error("out of memory");
    i4_param_read(&pw, 0, c, g->gamma, I4_PRECISION_F32);
    i4_param_read(&pb, 0, c, g->beta, I4_PRECISION_F32);
    g->c = c;
    if (i4_bind_dparam(&m->weights, I4_DT_F32, g->gamma, c, &g->dgamma) != 0 ||
        i4_bind_dparam(&m->weights, I4_DT_F32, g->beta, c, &g->dbeta) != 0)
        return -1;
    m->bound += 2;
    return 0;
}

static void free_gn(gnorm *g) {
    free(g->gamma);
    free(g->beta);
}

static int bind_resnet(i4_vae *m, const char *prefix, int64_t ci, int64_t co, resnet *r) {
    char name[256];
    r->ci = ci;
    r->co = co;
    snprintf(name, sizeof name, "%s.norm1", prefix);
    if (bind_gn(m, name, ci, &r->n1) != 0) return -1;
    snprintf(name, sizeof name, "%s.conv1", prefix);
    if (bind_conv(m, name, co, ci, 3, &r->c1) != 0) return -1;
    snprintf(name, sizeof name, "%s.norm2", prefix);
    if (bind_gn(m, name, co, &r->n2) != 0) return -1;
    snprintf(name, sizeof name, "%s.conv2", prefix);
    if (bind_conv(m, name, co, co, 3, &r->c2) != 0) return -1;
    r->has_sc = ci != co;
    if (r->has_sc) {
        snprintf(name, sizeof name, "%s.conv_shortcut", prefix);
        if (bind_conv(m, name, co, ci, 1, &r->sc) != 0) return -1;
    }
    return 0;
}

static void free_resnet(resnet *r) {
    free_gn(&r->n1);
    free_gn(&r->n2);
}

static int bind_linear(i4_vae *m, const char *prefix, int64_t c, i4_dlinear *w) {
    i4_linear_w hw;
    if (i4_bind_linear(m->set, prefix, c, c, 1, &hw) != 0) return -1;
    if (i4_bind_dlinear(&m->weights, &hw, w) != 0) return -1;
    m->bound += 2;
    return 0;
}

/* Compare the checkpoint's bn buffers with the constants. The tolerance is
 * the storage dtype's rounding (half an ulp, relative) plus 1e-5 relative for
 * the 8-digit decimals; a genuinely different statistic is far outside it. */
static void check_bn(i4_vae *m, double eps) {
    const i4_tensor *mean = i4_tensor_set_find(m->set, "bn.running_mean");
    const i4_tensor *var = i4_tensor_set_find(m->set, "bn.running_var");
    m->bn_mismatch = -1;
    if (!mean || !var) return;
    int64_t tc = m->latent_ch * m->ph * m->pw;
    if (mean->numel != tc || var->numel != tc || tc != 128) {
        m->bn_mismatch = (int)tc;
        fprintf(stderr, "warning: %s: bn.running_mean/var have %lld/%lld entries, expected %lld; using the official "
                        "latent constants (docs/MODEL.md Appendix A)\n",
                mean->file, (long long)mean->numel, (long long)var->numel, (long long)tc);
        return;
    }
    float mv[128], vv[128];
    i4_tensor_to_f32(mean, mv);
    i4_tensor_to_f32(var, vv);
    int bad = 0, first = -1;
    for (int c = 0; c < 128; c++) {
        double want_m = i4_latent_shift[c];
        double want_v = (double)i4_latent_scale[c] * i4_latent_scale[c] - eps;
        double rm = mean->dtype == I4_DT_BF16 ? 4e-3 : mean->dtype == I4_DT_F16 ? 5e-4 : 1e-5;
        double rv = var->dtype == I4_DT_BF16 ? 4e-3 : var->dtype == I4_DT_F16 ? 5e-4 : 1e-5;
        int ok = fabs(mv[c] - want_m) <= rm * fabs(want_m) + 1e-6 && fabs(vv[c] - want_v) <= rv * fabs(want_v) + 1e-6;
        if (!ok) {
            if (first < 0) first = c;
            bad++;
        }
    }
    m->bn_mismatch = bad;
    if (bad)
        fprintf(stderr,
                "warning: %s: bn.running_mean/running_var disagree with the official latent constants in %d of 128 "
                "channels (first: %d, mean %.8g vs %.8g, var %.8g vs %.8g); using the constants (docs/MODEL.md Appendix A)\n",
                mean->file, bad, first, mv[first], (double)i4_latent_shift[first], vv[first],
                (double)i4_latent_scale[first] * i4_latent_scale[first] - eps);
}

/* Decoder dimensions from config.json (diffusers AutoencoderKLFlux2 keys and
 * defaults); only the layout this decoder implements is accepted. */
static int read_config(i4_config *c, int64_t *latent, int64_t *layers, int64_t *groups, int64_t patch[2],
                       int64_t widths[MAX_BLOCKS], int64_t *bcount, double *bn_eps) {
    int64_t dwidths[MAX_BLOCKS];
    const char *act;
    int add_attention, post_quant;
    if (i4_config_int(c, "latent_channels", 32, latent) != 0) return -1;
    if (i4_config_int(c, "layers_per_block", 2, layers) != 0) return -1;
    if (i4_config_int(c, "norm_num_groups", 32, groups) != 0) return -1;
    int n = i4_config_int_list(c, "block_out_channels", 1, widths, MAX_BLOCKS);
    if (n < 0) return -1;
    int dn = i4_config_int_list(c, "decoder_block_out_channels", 1, dwidths, MAX_BLOCKS);
    if (dn < 0) return -1;
    int pn = i4_config_int_list(c, "patch_size", 1, patch, 2);
    if (pn < 0) return -1;
    if (pn == 1) patch[1] = patch[0];
    if (i4_config_number(c, "batch_norm_eps", 1e-4, bn_eps) != 0) return -1;
    if (i4_config_bool(c, "mid_block_add_attention", 1, &add_attention) != 0 ||
        i4_config_bool(c, "use_post_quant_conv", 1, &post_quant) != 0)
        return -1;
    if (!add_attention || !post_quant)
        return i4_error("%s: '%s' = false is not supported (the Flux2 VAE uses true)", c->path,
                        add_attention ? "use_post_quant_conv" : "mid_block_add_attention");
    if (i4_config_string(c, "act_fn", "silu", &act) != 0) return -1;
    if (strcmp(act, "silu") != 0) return i4_error("%s: act_fn must be \"silu\"", c->path);
    if (n == 0) { /* diffusers default */
        const int64_t def[4] = {128, 256, 512, 512};
        memcpy(widths, def, sizeof def);
        n = 4;
    }
    if (dn > 0) {
        memcpy(widths, dwidths, sizeof dwidths);
        n = dn;
    }
    *bcount = n;
    json_t *ub;
    if (i4_config_find(c, "up_block_types", &ub) != 0) return -1;
    if (ub) {
        if (!json_is_array(ub)) return i4_error("%s: 'up_block_types' must be a list", c->path);
        if ((int64_t)json_array_size(ub) != n)
            return i4_error("%s: %zu up_block_types but %d decoder block widths", c->path, json_array_size(ub), n);
        for (size_t i = 0; i < json_array_size(ub); i++) {
            json_t *t = json_array_get(ub, i);
            if (!json_is_string(t) || strcmp(json_string_value(t), "UpDecoderBlock2D") != 0)
                return i4_error("%s: up_block_types[%zu] is not \"UpDecoderBlock2D\" (the only supported type)",
                                c->path, i);
        }
    }
    if (*latent <= 0 || *layers < 0 || *groups <= 0)
        return i4_error("%s: invalid latent_channels / layers_per_block / norm_num_groups / patch_size", c->path);
    if (*latent * patch[0] * patch[1] != 128)
        return i4_error("%s: latent_channels %lld x patch %lldx%lld = %lld token channels; the official latent "
                        "constants cover 128", c->path, (long long)*latent, (long long)patch[0], (long long)patch[1],
                        (long long)(*latent * patch[0] * patch[1]));
    return 0;
}

static int load_inner(i4_vae *m, const char *dir) {
    char name[256];
    i4_config cfg;
    int64_t layers = 0, groups = 0, latent = 0, bcount = 0, patch[2] = {2, 2};
    int64_t widths[MAX_BLOCKS];
    double bn_eps = 0;
    if (i4_config_load(&cfg, dir, 1) != 0) return -1;
    int rc = read_config(&cfg, &latent, &layers, &groups, patch, widths, &bcount, &bn_eps);
    i4_config_free(&cfg);
    if (rc != 0) return -1;
    m->latent_ch = latent;
    m->groups = groups;
    m->ph = (int)patch[0];
    m->pw = (int)patch[1];
    m->n_blocks = (int)bcount;
    memcpy(m->widths, widths, sizeof widths);

    if (i4_tensor_set_open_component(&m->set, dir, "diffusion_pytorch_model") != 0) return -1;
    const int n = m->n_blocks;
    const int64_t top = widths[n - 1];
    if (bind_conv(m, "post_quant_conv", latent, latent, 1, &m->post_quant) != 0) return -1;
    if (bind_conv(m, "decoder.conv_in", top, latent, 3, &m->conv_in) != 0) return -1;
    if (bind_resnet(m, "decoder.mid_block.resnets.0", top, top, &m->mid0) != 0) return -1;
    if (bind_gn(m, "decoder.mid_block.attentions.0.group_norm", top, &m->att.gn) != 0) return -1;
    if (bind_linear(m, "decoder.mid_block.attentions.0.to_q", top, &m->att.q) != 0) return -1;
    if (bind_linear(m, "decoder.mid_block.attentions.0.to_k", top, &m->att.k) != 0) return -1;
    if (bind_linear(m, "decoder.mid_block.attentions.0.to_v", top, &m->att.v) != 0) return -1;
    if (bind_linear(m, "decoder.mid_block.attentions.0.to_out.0", top, &m->att.o) != 0) return -1;
    if (bind_resnet(m, "decoder.mid_block.resnets.1", top, top, &m->mid1) != 0) return -1;
    int64_t prev = top;
    for (int j = 0; j < n; j++) {
        upblock *u = &m->up[j];
        const int64_t outc = widths[n - 1 - j];
        u->n_res = (int)layers + 1;
        u->res = calloc((size_t)u->n_res, sizeof *u->res);
        if (!u->res) return i4_error("out of memory");
        for (int r = 0; r < u->n_res; r++) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.resnets.%d", j, r);
            if (bind_resnet(m, name, r == 0 ? prev : outc, outc, &u->res[r]) != 0) return -1;
        }
        u->has_up = j < n - 1;
        if (u->has_up) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.conv", j);
            if (bind_conv(m, name, outc, outc, 3, &u->up) != 0) return -1;
        }
        prev = outc;
    }
    if (bind_gn(m, "decoder.conv_norm_out", widths[0], &m->norm_out) != 0) return -1;
    if (bind_conv(m, "decoder.conv_out", 3, widths[0], 3, &m->conv_out) != 0) return -1;

    /* Every decoder tensor must have been used: leftovers mean config.json
     * and the weights describe different networks. */
    int64_t in_file = 0;
    for (size_t i = 0; i < i4_tensor_set_count(m->set); i++) {
        const char *tn = i4_tensor_set_at(m->set, i)->name;
        if (!strncmp(tn, "decoder.", 8) || !strncmp(tn, "post_quant_conv.", 16)) in_file++;
    }
    if (in_file != m->bound)
        return i4_error("%s: %lld decoder tensors in the checkpoint but config.json describes %lld (block "
                        "widths, layers_per_block)", i4_tensor_set_origin(m->set), (long long)in_file,
                        (long long)m->bound);
    check_bn(m, bn_eps);
    const size_t tc = (size_t)(m->latent_ch * m->ph * m->pw);
    if (tc <= 128 && (i4_weight_set_bind(&m->weights, i4_latent_scale, tc * sizeof(float), &m->lat_scale) != 0 ||
                      i4_weight_set_bind(&m->weights, i4_latent_shift, tc * sizeof(float), &m->lat_shift) != 0))
        return -1;
    return 0;
}

int i4_vae_load(i4_vae **out, const char *component_dir, i4_precision p, i4_backend *be) {
    *out = NULL;
    i4_vae *m = calloc(1, sizeof *m);
    if (!m) return i4_error("out of memory");
    m->prec = p;
    m->be = be;
    i4_weight_set_init(&m->weights, be);
    if (load_inner(m, component_dir) != 0) {
        i4_error_prefix("loading the VAE from %s", component_dir);
        i4_vae_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void i4_vae_free(i4_vae *m) {
    if (!m) return;
    i4_weight_set_release(&m->weights);
    free_resnet(&m->mid0);
    free_resnet(&m->mid1);
    free_gn(&m->att.gn);
    for (int j = 0; j < MAX_BLOCKS; j++) {
        for (int r = 0; m->up[j].res && r < m->up[j].n_res; r++) free_resnet(&m->up[j].res[r]);
        free(m->up[j].res);
    }
    free_gn(&m->norm_out);
    i4_tensor_set_close(m->set);
    free(m);
}

int64_t i4_vae_token_channels(const i4_vae *m) { return m->latent_ch * m->ph * m->pw; }

int i4_vae_bn_mismatches(const i4_vae *m) { return m->bn_mismatch; }

void i4_vae_image_size(const i4_vae *m, int64_t gh, int64_t gw, int64_t *height, int64_t *width) {
    int64_t f = (int64_t)1 << (m->n_blocks - 1);
    *height = gh * m->ph * f;
    *width = gw * m->pw * f;
}

/* Multiply-adds x 2 of one decode (convolutions, the attention's Linears
 * and its score and value products), for `ideogram4 bench vae-decode`. */
static double conv_flops(const i4_dconv *c, double hw) {
    return 2.0 * (double)c->c_out * (double)c->c_in * (double)(c->k * c->k) * hw;
}

static double resnet_flops(const resnet *r, double hw) {
    return conv_flops(&r->c1, hw) + conv_flops(&r->c2, hw) + (r->has_sc ? conv_flops(&r->sc, hw) : 0.0);
}

double i4_vae_decode_flops(const i4_vae *m, int64_t gh, int64_t gw) {
    double hw = (double)(gh * m->ph * gw * m->pw), C = (double)m->att.gn.c;
    double f = conv_flops(&m->post_quant, hw) + conv_flops(&m->conv_in, hw) + resnet_flops(&m->mid0, hw) +
               resnet_flops(&m->mid1, hw) + 4.0 * 2.0 * hw * C * C + 4.0 * hw * hw * C;
    for (int j = 0; j < m->n_blocks; j++) {
        const upblock *u = &m->up[j];
        for (int r = 0; r < u->n_res; r++) f += resnet_flops(&u->res[r], hw);
        if (u->has_up) {
            hw *= 4.0;
            f += conv_flops(&u->up, hw);
        }
    }
    return f + conv_flops(&m->conv_out, hw);
}

/* ----------------------------------------------------------------- forward */

/* The decode's device buffers: three activation slots, the attention scratch,
 * the latent tokens and the image. */
typedef struct {
    i4_dv slot[3], t, q, k, v, tokens, image;
} decode_buffers;

/* Largest activation (floats) any stage holds in one slot. */
static int64_t largest_activation(const i4_vae *m, int64_t H, int64_t W) {
    int64_t hw = H * W, best = m->latent_ch * hw;
    if (m->conv_in.c_out * hw > best) best = m->conv_in.c_out * hw;
    for (int j = 0; j < m->n_blocks; j++) {
        const upblock *u = &m->up[j];
        for (int r = 0; r < u->n_res; r++) {
            int64_t c = u->res[r].ci > u->res[r].co ? u->res[r].ci : u->res[r].co;
            if (c * hw > best) best = c * hw;
        }
        if (u->has_up) {
            hw *= 4;
            if (u->res[u->n_res - 1].co * hw > best) best = u->res[u->n_res - 1].co * hw;
        }
    }
    if (m->norm_out.c * hw > best) best = m->norm_out.c * hw;
    return best;
}

static void take_decode_buffers(i4_workspace *w, decode_buffers *b, const i4_vae *m, int64_t gh, int64_t gw) {
    const int64_t H = gh * m->ph, W = gw * m->pw, act = largest_activation(m, H, W), C = m->att.gn.c;
    int64_t oh, ow;
    i4_vae_image_size(m, gh, gw, &oh, &ow);
    const size_t f = sizeof(float);
    for (int i = 0; i < 3; i++) b->slot[i] = i4_workspace_take(w, (size_t)act * f);
    b->t = i4_workspace_take(w, (size_t)(C * H * W) * f);
    b->q = i4_workspace_take(w, (size_t)(C * H * W) * f);
    b->k = i4_workspace_take(w, (size_t)(C * H * W) * f);
    b->v = i4_workspace_take(w, (size_t)(C * H * W) * f);
    b->tokens = i4_workspace_take(w, (size_t)(gh * gw * i4_vae_token_channels(m)) * f);
    b->image = i4_workspace_take(w, (size_t)(3 * oh * ow) * f);
}

static void gn_silu(const i4_vae *m, const gnorm *g, i4_dv y, i4_dv x, int64_t hw) {
    i4_backend *be = m->be;
    be->ops->groupnorm(be, y, x, g->c, hw, m->groups, &g->dgamma, &g->dbeta, GN_EPS, m->prec);
    be->ops->act(be, I4_ACT_SILU, y, g->c * hw, m->prec);
}

/* Res(x) on the slots: x in *cur; o1, o2 scratch; the result is left in *cur
 * (the slot pointers are swapped as needed). */
static void resnet_forward(const i4_vae *m, const resnet *r, i4_dv *cur, i4_dv *o1, i4_dv *o2, int64_t H, int64_t W) {
    i4_backend *be = m->be;
    const i4_backend_ops *op = be->ops;
    const int64_t hw = H * W;
    if (r->has_sc) {
        op->conv2d(be, &r->sc, *cur, H, W, 0, *o1, m->prec);  /* shortcut first: x is then free */
        gn_silu(m, &r->n1, *cur, *cur, hw);
        op->conv2d(be, &r->c1, *cur, H, W, 1, *o2, m->prec);
        gn_silu(m, &r->n2, *o2, *o2, hw);
        op->conv2d(be, &r->c2, *o2, H, W, 1, *cur, m->prec);
        op->add(be, *cur, *o1, r->co * hw, m->prec);
    } else {
        gn_silu(m, &r->n1, *o1, *cur, hw);
        op->conv2d(be, &r->c1, *o1, H, W, 1, *o2, m->prec);
        gn_silu(m, &r->n2, *o2, *o2, hw);
        op->conv2d(be, &r->c2, *o2, H, W, 1, *o1, m->prec);
        op->add(be, *o1, *cur, r->co * hw, m->prec);
        i4_dv t = *cur;
        *cur = *o1;
        *o1 = t;
    }
}

/* In place on x [C, H, W]: x += to_out(attention(q, k, v)), tokens = pixels. */
static void attn_forward(const i4_vae *m, const decode_buffers *b, i4_dv x, int64_t H, int64_t W) {
    i4_backend *be = m->be;
    const i4_backend_ops *op = be->ops;
    const attn *at = &m->att;
    const int64_t C = at->gn.c, n = H * W;
    /* GroupNorm in NCHW (into q as scratch), then transpose to tokens [n, C]. */
    op->groupnorm(be, b->q, x, C, n, m->groups, &at->gn.dgamma, &at->gn.dbeta, GN_EPS, m->prec);
    op->copy2d(be, b->t, C, 1, b->q, 1, n, n, C, 0, m->prec);
    op->linear(be, &at->q, b->t, C, n, b->q, C, m->prec);
    op->linear(be, &at->k, b->t, C, n, b->k, C, m->prec);
    op->linear(be, &at->v, b->t, C, n, b->v, C, m->prec);
    /* One head of dim C; torch SDPA's default scale 1/sqrt(C) (computed in double). */
    op->attention(be, b->t, C, b->q, C, b->k, C, b->v, C, n, n, 1, 1, (int)C, (float)(1.0 / sqrt((double)C)),
                  I4_MASK_NONE, i4_dv_none(), m->prec);
    op->linear(be, &at->o, b->t, C, n, b->q, C, m->prec);
    /* x[c, i] = rnd(x[c, i] + out[i, c]) */
    op->copy2d(be, x, 1, n, b->q, C, 1, n, C, 1, m->prec);
}

int i4_vae_decode_tokens(const i4_vae *m, const float *latents, int64_t gh, int64_t gw, float *image) {
    if (!m || !latents || !image) return i4_error("vae decode: NULL argument");
    if (gh <= 0 || gw <= 0 || gh > 4096 || gw > 4096)
        return i4_error("vae decode: invalid token grid %lld x %lld", (long long)gh, (long long)gw);
    if (i4_vae_token_channels(m) != 128)
        return i4_error("unpack latents: %d*%d patches x %lld channels = %lld token channels, but the official "
                        "latent constants cover 128", m->ph, m->pw, (long long)m->latent_ch,
                        (long long)i4_vae_token_channels(m));
    i4_backend *be = m->be;
    const i4_backend_ops *op = be->ops;
    const i4_precision p = m->prec;
    int64_t H = gh * m->ph, W = gw * m->pw, oh, ow;
    i4_vae_image_size(m, gh, gw, &oh, &ow);
    i4_workspace plan, ws;
    decode_buffers b;
    i4_workspace_plan(&plan);
    take_decode_buffers(&plan, &b, m, gh, gw);
    if (i4_workspace_init(&ws, be, plan.used, "VAE decode") != 0) return -1;
    take_decode_buffers(&ws, &b, m, gh, gw);
    int rc = -1;
    if (i4_be_upload(be, b.tokens, latents, (size_t)(gh * gw * 128) * sizeof(float)) != 0) goto out;

    i4_dv cur = b.slot[0], o1 = b.slot[1], o2 = b.slot[2];
    op->unpack_latents(be, o1, b.tokens, gh, gw, m->ph, m->pw, m->latent_ch, m->lat_scale, m->lat_shift);
    if (p == I4_PRECISION_BF16) op->add_scalar(be, o1, m->latent_ch * H * W, 0.0f, p); /* the cast to bf16 */
    op->conv2d(be, &m->post_quant, o1, H, W, 0, o2, p);
    op->conv2d(be, &m->conv_in, o2, H, W, 1, cur, p);
    resnet_forward(m, &m->mid0, &cur, &o1, &o2, H, W);
    attn_forward(m, &b, cur, H, W);
    resnet_forward(m, &m->mid1, &cur, &o1, &o2, H, W);
    for (int j = 0; j < m->n_blocks; j++) {
        const upblock *u = &m->up[j];
        for (int r = 0; r < u->n_res; r++) resnet_forward(m, &u->res[r], &cur, &o1, &o2, H, W);
        if (u->has_up) {
            const int64_t C = u->res[u->n_res - 1].co;
            const size_t slot_bytes = (size_t)largest_activation(m, gh * m->ph, gw * m->pw) * sizeof(float);
            op->discard(be, o2, slot_bytes); /* idle through the upsampler: keep only two slots resident */
            op->upsample2x(be, o1, cur, C, H, W);
            H *= 2;
            W *= 2;
            op->conv2d(be, &u->up, o1, H, W, 1, cur, p);
            op->discard(be, o1, slot_bytes); /* the 2x input is dead; the next stage rewrites what it needs */
        }
    }
    gn_silu(m, &m->norm_out, cur, cur, H * W);
    op->conv2d(be, &m->conv_out, cur, H, W, 1, b.image, p);
    rc = i4_be_download(be, image, b.image, (size_t)(3 * oh * ow) * sizeof(float));
out:
    i4_workspace_free(&ws);
    return rc;
}
