/*
 * dit.c — the Ideogram 4 diffusion transformer (docs/MODEL.md §3, §4), batch 1.
 *
 * Shapes (dimensions read from the tensors, §3.1): L tokens, D hidden,
 * C_in latent channels, F text features, A adaLN width, I FFN width,
 * H heads of head_dim (D = H * head_dim).
 *
 *   in : x [L, C_in], t (scalar, 0 = noise, 1 = data), feat [L, F] or NULL,
 *        pos [L, 3] (t, h, w), seg [L], ind [L] (3 text, 2 image, else padding)
 *   out: v [L, C_in] (rows with ind == 2 are the velocity)
 *
 *   m_img = (ind == 2), m_txt = (ind == 3)
 *   h     = input_proj(x·m_img)·m_img + llm_cond_proj(RMSNorm_1e-6(feat·m_txt))·m_txt
 *   h    += embed_image_indicator[m_img]
 *   emb   = [sin(s·f_j), cos(s·f_j)], s = 1e4·t, f_j = exp(−j·ln(1e4)/(D/2 − 1))
 *   c     = silu(adaln_proj(mlp_out(silu(mlp_in(emb)))))                  [A]
 *   block (×n_layers), mod = adaln_modulation(c) = [scale_a | gate_a | scale_f | gate_f]:
 *     a  = o(attn(RoPE(RMSNorm_q(q)), RoPE(RMSNorm_k(k)), v)),  q|k|v = qkv(RMSNorm_an1(h)·(1+scale_a))
 *     h += tanh(gate_a) · RMSNorm_an2(a)
 *     h += tanh(gate_f) · RMSNorm_fn2(w2(silu(w1(u)) · w3(u))),  u = RMSNorm_fn1(h)·(1+scale_f)
 *   v     = final.linear(LayerNorm_1e-6(h) · (1 + final.adaln_modulation(silu(c))))   (silu twice!)
 *
 * Attention: per head, softmax(q·kᵀ/sqrt(head_dim)) over the tokens of the same
 * segment (no mask at all when every token has the same segment id). RoPE is the
 * interleaved 3-axis MRoPE of §3.6 (rope_theta, mrope_section from config.json).
 *
 * Precision (docs/MODEL.md §0.3a): f32 mode rounds nothing (t, weights e4m3·scale
 * and activations all f32). bf16 mode follows §3.5: x and feat rounded at
 * entry (t is used as given — the sampler hands bf16(t)), sinusoid, every
 * Linear output, 1+scale, tanh gates, norm outputs, products, residual sums,
 * RoPE tables and attention probabilities rounded to bf16 (f32 accumulation).
 * DiT RMSNorms round once, bf16(w·(x·r)): the official package calls
 * torch.nn.functional.rms_norm, which rounds once (fused CUDA kernel, and
 * also the CPU kernel of torch 2.15 — checked); diffusers' own RMSNorm class
 * rounds twice, bf16(w·bf16(x·r)) (docs/MODEL.md §3.5.3 (b)); the reference script
 * tools/reference/ref_dit.py patches it to F.rms_norm.
 *
 * Work saved without changing the result: the F-wide text path runs on text
 * rows only (its output is masked to zero elsewhere), input_proj on image rows
 * only. feat == NULL means all-zero features: text rows then get exactly
 * llm_cond_proj's bias (RMSNorm of a zero row is zero), no F-wide work.
 *
 * Offload (--offload): layers past the device budget given at load bind into
 * a streamed weight set of their own (host memory, copied into a ring of
 * device slots when used); each block asks for its own weights and the
 * next layer's, so that copy overlaps this block's work (backend.h).
 *
 * LoRA hook: i4_dit_set_linear swaps the view of one Linear (by official
 * module path) for caller-owned merged weights, or back to the mmap'd ones.
 */
#include "model/dit.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "base/error.h"
#include "model/config.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "tensor/safetensors.h"

#define IND_IMAGE 2
#define IND_TEXT 3

/* A Linear slot: the checkpoint's weights (bound at load) and the ones in
 * use, which a LoRA may replace by merged weights bound into `own`. */
typedef struct {
    i4_dlinear cur, base;
    i4_weight_set own;
} dit_linear;

typedef struct {
    dit_linear qkv, o, w1, w2, w3, mod;
    i4_dparam norm_q, norm_k, an1, an2, fn1, fn2;
    i4_weight_set streamed; /* --offload: this layer's weights in host memory (else unused) */
} dit_layer;

struct i4_dit {
    i4_tensor_set *set;
    i4_backend *be;
    i4_weight_set weights; /* the checkpoint's tensors, bound once */
    i4_dit_config cfg;
    i4_precision p;
    float norm_eps;        /* block RMSNorms (config norm_eps, default 1e-5) */
    float qk_eps;          /* 1e-5 */
    float llm_eps;         /* 1e-6 */
    float final_eps;       /* 1e-6 */
    dit_linear input_proj, llm_cond_proj, t_in, t_out, adaln_proj, final_mod, final_linear;
    i4_dparam llm_cond_norm;
    i4_buf *indicator;     /* [2, D] f32, decoded (bf16-rounded in bf16 mode) */
    dit_layer *layers;
    size_t device_budget;  /* bytes of weights bound on the device before layers stream */
    int64_t n_streamed;    /* layers streamed from host memory */
    size_t bytes_left;     /* bytes of the layers not bound yet (while loading) */
};

/* ------------------------------------------------------------ loading */

static int count_layers(const i4_tensor_set *set, int64_t *n_out) {
    int64_t max = -1;
    for (size_t i = 0; i < i4_tensor_set_count(set); i++) {
        const char *name = i4_tensor_set_at(set, i)->name;
        if (strncmp(name, "layers.", 7) != 0) continue;
        char *end = NULL;
        long long n = strtoll(name + 7, &end, 10);
        if (end == name + 7 || *end != '.' || n < 0 || n > 100000) continue;
        if (n > max) max = n;
    }
    *n_out = max + 1;
    return max >= 0 ? 0 : i4_error("%s: no 'layers.N.*' tensors", i4_tensor_set_origin(set));
}

/* rope_theta, mrope_section and norm_eps from config.json (defaults when the
 * file or a key is absent: the reference ignores the file). */
static int read_config(const char *dir, i4_dit_config *cfg, float *norm_eps) {
    i4_config c;
    if (i4_config_load(&c, dir, 0) != 0) return -1;
    double theta, eps;
    int64_t sec[3] = {24, 20, 20};
    int rc = -1;
    if (i4_config_number(&c, "rope_theta", 5e6, &theta) != 0) goto out;
    if (theta <= 1.0) {
        i4_error("%s: 'rope_theta' must be a number > 1", c.path);
        goto out;
    }
    if (i4_config_number(&c, "norm_eps", 1e-5, &eps) != 0) goto out;
    if (eps <= 0) {
        i4_error("%s: 'norm_eps' must be a positive number", c.path);
        goto out;
    }
    int n = i4_config_int_list(&c, "mrope_section", 0, sec, 3);
    if (n < 0) goto out;
    if (n != 0 && n != 3) {
        i4_error("%s: 'mrope_section' must be an array of 3 integers", c.path);
        goto out;
    }
    for (int i = 0; i < 3; i++) {
        if (sec[i] > 1 << 20) {
            i4_error("%s: 'mrope_section' must be an array of 3 non-negative integers", c.path);
            goto out;
        }
        cfg->mrope_section[i] = (int)sec[i];
    }
    cfg->rope_theta = theta;
    *norm_eps = (float)eps;
    rc = 0;
out:
    i4_config_free(&c);
    return rc;
}

static int bind_linear_in(i4_dit *m, i4_weight_set *ws, const char *prefix, int64_t out, int64_t in, int bias_rule,
                          dit_linear *l, i4_linear_w *host) {
    i4_linear_w w;
    if (i4_bind_linear(m->set, prefix, out, in, bias_rule, &w) != 0) return -1;
    if (i4_bind_dlinear(ws, &w, &l->base) != 0) return -1;
    l->cur = l->base;
    i4_weight_set_init(&l->own, m->be);
    if (host) *host = w;
    return 0;
}

static int bind_linear(i4_dit *m, const char *prefix, int64_t out, int64_t in, int bias_rule, dit_linear *l,
                       i4_linear_w *host) {
    return bind_linear_in(m, &m->weights, prefix, out, in, bias_rule, l, host);
}

static int bind_norm_in(i4_dit *m, i4_weight_set *ws, const char *name, int64_t n, i4_dparam *out) {
    i4_param prm;
    if (i4_bind_param(m->set, name, n, &prm) != 0) return -1;
    return i4_bind_dparam(ws, prm.dtype, prm.data, prm.numel, out);
}

static int bind_norm(i4_dit *m, const char *name, int64_t n, i4_dparam *out) {
    return bind_norm_in(m, &m->weights, name, n, out);
}

/* Stored bytes of the tensors whose names start with `prefix`. */
static size_t tensor_bytes(const i4_tensor_set *set, const char *prefix) {
    size_t total = 0, n = strlen(prefix);
    for (size_t i = 0; i < i4_tensor_set_count(set); i++) {
        const i4_tensor *t = i4_tensor_set_at(set, i);
        if (!strncmp(t->name, prefix, n)) total += t->nbytes;
    }
    return total;
}

/* Layer n binds on the device while the weights fit the device budget;
 * from the first one that does not, layers are streamed. */
static int load_layer(i4_dit *m, int64_t n, dit_layer *l) {
    char name[192];
    const i4_dit_config *c = &m->cfg;
    const int64_t D = c->dim;
    snprintf(name, sizeof name, "layers.%lld.", (long long)n);
    const size_t bytes = tensor_bytes(m->set, name), held = tensor_bytes(m->set, "") - m->bytes_left;
    i4_weight_set *ws = &m->weights;
    if (m->n_streamed || held + bytes > m->device_budget) {
        if (i4_weight_set_init_streamed(&l->streamed, m->be) != 0) return -1;
        ws = &l->streamed;
        m->n_streamed++;
    }
    m->bytes_left -= bytes;
#define bind_linear(m, ...) bind_linear_in(m, ws, __VA_ARGS__)
#define bind_norm(m, ...) bind_norm_in(m, ws, __VA_ARGS__)
#define N(suffix) (snprintf(name, sizeof name, "layers.%lld." suffix, (long long)n), name)
    if (bind_linear(m, N("attention.qkv"), 3 * D, D, 0, &l->qkv, NULL) != 0) return -1;
    if (bind_linear(m, N("attention.o"), D, D, 0, &l->o, NULL) != 0) return -1;
    if (bind_linear(m, N("feed_forward.w1"), c->ffn_dim, D, 0, &l->w1, NULL) != 0) return -1;
    if (bind_linear(m, N("feed_forward.w2"), D, c->ffn_dim, 0, &l->w2, NULL) != 0) return -1;
    if (bind_linear(m, N("feed_forward.w3"), c->ffn_dim, D, 0, &l->w3, NULL) != 0) return -1;
    if (bind_linear(m, N("adaln_modulation"), 4 * D, c->adaln_dim, 2, &l->mod, NULL) != 0) return -1;
    if (bind_norm(m, N("attention.norm_q.weight"), c->head_dim, &l->norm_q) != 0) return -1;
    if (bind_norm(m, N("attention.norm_k.weight"), c->head_dim, &l->norm_k) != 0) return -1;
    if (bind_norm(m, N("attention_norm1.weight"), D, &l->an1) != 0) return -1;
    if (bind_norm(m, N("attention_norm2.weight"), D, &l->an2) != 0) return -1;
    if (bind_norm(m, N("ffn_norm1.weight"), D, &l->fn1) != 0) return -1;
    if (bind_norm(m, N("ffn_norm2.weight"), D, &l->fn2) != 0) return -1;
#undef N
#undef bind_linear
#undef bind_norm
    return i4_weight_set_seal(ws);
}

static int load_model(i4_dit *m, const char *dir) {
    i4_dit_config *c = &m->cfg;
    const i4_tensor_set *set = m->set;
    const i4_tensor *t;
    char sb[96];
    i4_linear_w hw;
    if (read_config(dir, c, &m->norm_eps) != 0) return -1;
    m->qk_eps = 1e-5f;
    m->llm_eps = 1e-6f;
    m->final_eps = 1e-6f;

    if (bind_linear(m, "input_proj", -1, -1, 1, &m->input_proj, &hw) != 0) return -1;
    c->dim = hw.out;
    c->in_channels = hw.in;
    const int64_t D = c->dim;
    if (!(t = i4_tensor_set_get(set, "layers.0.attention.norm_q.weight"))) return -1;
    if (t->ndim != 1)
        return i4_error("%s: tensor 'layers.0.attention.norm_q.weight' has shape %s, expected [head_dim]", t->file,
                        i4_shape_str(sb, sizeof sb, t->ndim, t->shape));
    c->head_dim = t->shape[0];
    if (c->head_dim <= 0 || c->head_dim % 2 != 0 || D % c->head_dim != 0 || D < 4)
        return i4_error("%s: head_dim %lld (from norm_q) must be even and divide the width %lld", t->file,
                        (long long)c->head_dim, (long long)D);
    c->n_heads = D / c->head_dim;
    if (!(t = i4_tensor_set_get(set, "layers.0.feed_forward.w1.weight"))) return -1;
    if (t->ndim != 2) return i4_error("%s: tensor 'layers.0.feed_forward.w1.weight' is not 2-D", t->file);
    c->ffn_dim = t->shape[0];
    if (bind_linear(m, "adaln_proj", -1, D, 1, &m->adaln_proj, &hw) != 0) return -1;
    c->adaln_dim = hw.out;
    if (bind_linear(m, "llm_cond_proj", D, -1, 1, &m->llm_cond_proj, &hw) != 0) return -1;
    c->llm_features = hw.in;
    if (count_layers(set, &c->n_layers) != 0) return -1;

    if (bind_norm(m, "llm_cond_norm.weight", c->llm_features, &m->llm_cond_norm) != 0) return -1;
    if (bind_linear(m, "t_embedding.mlp_in", D, D, 1, &m->t_in, NULL) != 0) return -1;
    if (bind_linear(m, "t_embedding.mlp_out", D, D, 1, &m->t_out, NULL) != 0) return -1;
    if (bind_linear(m, "final_layer.adaln_modulation", D, c->adaln_dim, 1, &m->final_mod, NULL) != 0) return -1;
    if (bind_linear(m, "final_layer.linear", c->in_channels, D, 1, &m->final_linear, NULL) != 0) return -1;
    i4_param ind;
    if (i4_bind_param(set, "embed_image_indicator.weight", -1, &ind) != 0) return -1;
    if (ind.t->ndim != 2 || ind.t->shape[0] < 2 || ind.t->shape[1] != D)
        return i4_error("%s: tensor 'embed_image_indicator.weight' has shape %s, expected [2, %lld]", ind.t->file,
                        i4_shape_str(sb, sizeof sb, ind.t->ndim, ind.t->shape), (long long)D);
    float *indicator = malloc((size_t)(2 * D) * sizeof *indicator);
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!indicator || !m->layers) {
        free(indicator);
        return i4_error("out of memory");
    }
    i4_param_read(&ind, 0, 2 * D, indicator, m->p);
    m->indicator = i4_be_alloc(m->be, (size_t)(2 * D) * sizeof *indicator);
    int rc = m->indicator ? i4_be_upload(m->be, i4_dv_of(m->indicator), indicator, (size_t)(2 * D) * sizeof *indicator)
                          : -1;
    free(indicator);
    if (rc != 0) return -1;
    m->bytes_left = tensor_bytes(set, "layers.");
    for (int64_t n = 0; n < c->n_layers; n++) {
        i4_weight_set_init(&m->layers[n].streamed, m->be);
        if (load_layer(m, n, &m->layers[n]) != 0) return -1;
    }
    return 0;
}

int i4_dit_load(i4_dit **out, const char *component_dir, i4_precision p, i4_backend *be) {
    return i4_dit_load_offload(out, component_dir, p, be, SIZE_MAX);
}

int i4_dit_load_offload(i4_dit **out, const char *component_dir, i4_precision p, i4_backend *be,
                        size_t device_budget) {
    *out = NULL;
    i4_dit *m = calloc(1, sizeof *m);
    if (!m) return i4_error("out of memory");
    m->p = p;
    m->device_budget = device_budget;
    m->be = be;
    i4_weight_set_init(&m->weights, be);
    if (i4_tensor_set_open_component(&m->set, component_dir, "diffusion_pytorch_model") != 0 ||
        load_model(m, component_dir) != 0) {
        i4_error_prefix("loading the transformer from %s", component_dir);
        i4_dit_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int64_t i4_dit_streamed_layers(const i4_dit *m) { return m->n_streamed; }

int i4_dit_weight_sizes(const char *component_dir, size_t *top, size_t *max_layer, i4_dit_config *dims) {
    i4_tensor_set *set = NULL;
    *top = *max_layer = 0;
    memset(dims, 0, sizeof *dims);
    if (i4_tensor_set_open_component(&set, component_dir, "diffusion_pytorch_model") != 0) return -1;
    int64_t n_layers = 0;
    int rc = count_layers(set, &n_layers);
    const i4_tensor *in = i4_tensor_set_get(set, "input_proj.weight"), *w1 = i4_tensor_set_get(set, "layers.0.feed_forward.w1.weight"),
                    *nq = i4_tensor_set_get(set, "layers.0.attention.norm_q.weight");
    if (rc == 0 && (!in || !w1 || !nq || in->ndim != 2 || w1->ndim != 2 || nq->ndim != 1)) rc = -1;
    if (rc == 0) {
        dims->dim = in->shape[0];
        dims->in_channels = in->shape[1];
        dims->ffn_dim = w1->shape[0];
        dims->head_dim = nq->shape[0];
        dims->n_layers = n_layers;
    }
    char prefix[48];
    for (int64_t n = 0; rc == 0 && n < n_layers; n++) {
        snprintf(prefix, sizeof prefix, "layers.%lld.", (long long)n);
        const size_t b = tensor_bytes(set, prefix);
        if (b > *max_layer) *max_layer = b;
    }
    if (rc == 0) *top = tensor_bytes(set, "") - tensor_bytes(set, "layers.");
    i4_tensor_set_close(set);
    return rc;
}

const i4_dit_config *i4_dit_config_get(const i4_dit *m) { return &m->cfg; }

const i4_tensor_set *i4_dit_tensors(const i4_dit *m) { return m->set; }

i4_backend *i4_dit_backend(const i4_dit *m) { return m->be; }

/* ------------------------------------------------------------ LoRA hook */

/* The slot of the Linear at an official module path; NULL when unknown. */
static dit_linear *linear_slot(i4_dit *m, const char *path) {
    static const struct { const char *name; size_t off; } top[] = {
        {"input_proj", offsetof(i4_dit, input_proj)},
        {"llm_cond_proj", offsetof(i4_dit, llm_cond_proj)},
        {"t_embedding.mlp_in", offsetof(i4_dit, t_in)},
        {"t_embedding.mlp_out", offsetof(i4_dit, t_out)},
        {"adaln_proj", offsetof(i4_dit, adaln_proj)},
        {"final_layer.adaln_modulation", offsetof(i4_dit, final_mod)},
        {"final_layer.linear", offsetof(i4_dit, final_linear)},
    };
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!strcmp(path, top[i].name)) return (dit_linear *)((char *)m + top[i].off);
    if (strncmp(path, "layers.", 7) != 0 || path[7] < '0' || path[7] > '9') return NULL;
    char *end = NULL;
    long long n = strtoll(path + 7, &end, 10);
    if (*end != '.' || n < 0 || n >= m->cfg.n_layers) return NULL;
    dit_layer *l = &m->layers[n];
    const char *rest = end + 1;
    if (!strcmp(rest, "attention.qkv")) return &l->qkv;
    if (!strcmp(rest, "attention.o")) return &l->o;
    if (!strcmp(rest, "feed_forward.w1")) return &l->w1;
    if (!strcmp(rest, "feed_forward.w2")) return &l->w2;
    if (!strcmp(rest, "feed_forward.w3")) return &l->w3;
    if (!strcmp(rest, "adaln_modulation")) return &l->mod;
    return NULL;
}

int i4_dit_set_linear(i4_dit *m, const char *path, const i4_linear_w *w) {
    dit_linear *slot = linear_slot(m, path);
    if (!slot) return i4_error("transformer: no Linear at module path '%s'", path);
    if (w) {
        const i4_dlinear *b = &slot->base;
        if (w->out != b->out || w->in != b->in)
            return i4_error("transformer: replacement for '%s' is [%lld, %lld], the layer is [%lld, %lld]", path,
                            (long long)w->out, (long long)w->in, (long long)b->out, (long long)b->in);
        if (!w->w || (w->dtype == I4_DT_F8_E4M3 && !w->scale))
            return i4_error("transformer: replacement for '%s' has no weight data or no FP8 scale", path);
        i4_weight_set own;
        i4_dlinear d;
        i4_weight_set_init(&own, m->be);
        if (i4_bind_dlinear(&own, w, &d) != 0) {
            i4_weight_set_release(&own);
            return -1;
        }
        i4_weight_set_release(&slot->own);
        slot->own = own;
        slot->cur = d;
    } else {
        i4_weight_set_release(&slot->own);
        slot->cur = slot->base;
    }
    return 0;
}

static void release_slot(dit_linear *l) {
    if (l->own.be) i4_weight_set_release(&l->own);
}

void i4_dit_free(i4_dit *m) {
    if (!m) return;
    dit_linear *top[] = {&m->input_proj, &m->llm_cond_proj, &m->t_in, &m->t_out,
                         &m->adaln_proj, &m->final_mod,     &m->final_linear};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) release_slot(top[i]);
    for (int64_t n = 0; m->layers && n < m->cfg.n_layers; n++) {
        dit_layer *l = &m->layers[n];
        release_slot(&l->qkv); release_slot(&l->o); release_slot(&l->w1);
        release_slot(&l->w2); release_slot(&l->w3); release_slot(&l->mod);
        if (l->streamed.be) i4_weight_set_release(&l->streamed);
    }
    if (m->be) {
        i4_be_release(m->be, m->indicator);
        i4_weight_set_release(&m->weights);
    }
    if (m->set) i4_tensor_set_close(m->set);
    free(m->layers);
    free(m);
}

/* ------------------------------------------------------------ forward */

/* The sinusoidal timestep features of §3.7 (f32; bf16 mode rounds). Computed
 * on the host in double-precision sin/cos (GPU sin/cos are not exact) and
 * uploaded: D values per forward. */
static void timestep_features(float *emb, int64_t D, float t, int bf) {
    const int64_t half = D / 2;
    const float s = 1e4f * t;
    const float coef = (float)(-log(1e4) / (double)(half - 1));
    for (int64_t j = 0; j < half; j++) {
        float freq = (float)exp((double)((float)j * coef));
        float arg = s * freq;
        float sv = (float)sin((double)arg), cv = (float)cos((double)arg);
        emb[j] = bf ? i4_round_bf16(sv) : sv;
        emb[half + j] = bf ? i4_round_bf16(cv) : cv;
    }
    if (D % 2) emb[D - 1] = 0; /* F.pad for odd widths (never the case) */
}

#define TEXT_CHUNK 256 /* text rows per llm_cond_proj step (bounds the F-wide buffer) */

struct i4_dit_run {
    const i4_dit *m;
    int64_t L, n_img, n_txt;
    i4_mask_kind mask;
    i4_workspace ws;
    /* layout, uploaded once */
    i4_dv img_idx, txt_idx, sel, seg, cosb, sinb;
    /* activations */
    i4_dv h, xn, work, xi, txt, vec, modb;
    float *emb_host; /* [D] */
};

/* Take every buffer of a run from ws (a planning pass sizes it first). */
static void run_layout(i4_dit_run *r, i4_workspace *ws) {
    const i4_dit_config *c = &r->m->cfg;
    const int64_t L = r->L, D = c->dim, C = c->in_channels, F = c->llm_features, A = c->adaln_dim, I = c->ffn_dim;
    const int64_t wcols = 4 * D > 2 * I ? 4 * D : 2 * I; /* q|k|v|att, later w1|w3 outputs */
    const int64_t tx_rows = r->n_txt < TEXT_CHUNK ? r->n_txt : TEXT_CHUNK;
    const size_t f = sizeof(float), i64 = sizeof(int64_t);
    r->img_idx = i4_workspace_take(ws, (size_t)(r->n_img > 0 ? r->n_img : 1) * i64);
    r->txt_idx = i4_workspace_take(ws, (size_t)(r->n_txt > 0 ? r->n_txt : 1) * i64);
    r->sel = i4_workspace_take(ws, (size_t)L * i64);
    r->seg = i4_workspace_take(ws, (size_t)L * i64);
    r->cosb = i4_workspace_take(ws, (size_t)(L * c->head_dim) * f);
    r->sinb = i4_workspace_take(ws, (size_t)(L * c->head_dim) * f);
    r->h = i4_workspace_take(ws, (size_t)(L * D) * f);
    r->xn = i4_workspace_take(ws, (size_t)(L * D) * f);
    r->work = i4_workspace_take(ws, (size_t)(L * wcols) * f);
    r->xi = i4_workspace_take(ws, (size_t)((r->n_img > 0 ? r->n_img : 1) * C) * f);
    r->txt = i4_workspace_take(ws, (size_t)((tx_rows > 0 ? tx_rows : 1) * F) * f);
    r->vec = i4_workspace_take(ws, (size_t)(3 * D + 2 * A) * f); /* emb, t1, tc [D]; c, silu(c) [A] */
    r->modb = i4_workspace_take(ws, (size_t)(4 * D) * f);
}

int i4_dit_run_new(const i4_dit *m, const int64_t *pos, const int64_t *seg, const int64_t *ind, int64_t L,
                   i4_dit_run **out) {
    *out = NULL;
    if (!m) return i4_error("transformer: no model");
    if (L <= 0) return i4_error("transformer forward: empty sequence (L = %lld)", (long long)L);
    if (!pos || !seg || !ind) return i4_error("transformer forward: missing layout array");
    const i4_dit_config *c = &m->cfg;
    const int64_t hd = c->head_dim;
    i4_dit_run *r = calloc(1, sizeof *r);
    if (!r) return i4_error("out of memory");
    r->m = m;
    r->L = L;
    for (int64_t n = 0; n < L; n++) {
        r->n_img += ind[n] == IND_IMAGE;
        r->n_txt += ind[n] == IND_TEXT;
    }
    r->mask = I4_MASK_NONE;
    for (int64_t n = 1; n < L; n++)
        if (seg[n] != seg[0]) r->mask = I4_MASK_SEGMENT;

    i4_workspace plan;
    i4_workspace_plan(&plan);
    run_layout(r, &plan);
    int64_t *img = malloc((size_t)(r->n_img + 1) * sizeof *img), *txt = malloc((size_t)(r->n_txt + 1) * sizeof *txt);
    int64_t *sel = malloc((size_t)L * sizeof *sel);
    float *cosb = malloc((size_t)(L * hd) * sizeof *cosb), *sinb = malloc((size_t)(L * hd) * sizeof *sinb);
    r->emb_host = malloc((size_t)c->dim * sizeof *r->emb_host);
    int rc = -1;
    if (!img || !txt || !sel || !cosb || !sinb || !r->emb_host) {
        i4_error("transformer forward: out of memory (L = %lld)", (long long)L);
        goto out;
    }
    if (i4_workspace_init(&r->ws, m->be, plan.used, "transformer forward") != 0) goto out;
    run_layout(r, &r->ws);
    int64_t ni = 0, nt = 0;
    for (int64_t n = 0; n < L; n++) {
        if (ind[n] == IND_IMAGE) img[ni++] = n;
        if (ind[n] == IND_TEXT) txt[nt++] = n;
        sel[n] = ind[n] == IND_IMAGE; /* role embedding: row 1 for image tokens, row 0 else */
    }
    i4_rope_table_mrope(cosb, sinb, pos, L, (int)hd, c->rope_theta, c->mrope_section, m->p);
    i4_backend *be = m->be;
    if (i4_be_upload(be, r->img_idx, img, (size_t)ni * sizeof *img) != 0 ||
        i4_be_upload(be, r->txt_idx, txt, (size_t)nt * sizeof *txt) != 0 ||
        i4_be_upload(be, r->sel, sel, (size_t)L * sizeof *sel) != 0 ||
        i4_be_upload(be, r->seg, seg, (size_t)L * sizeof *seg) != 0 ||
        i4_be_upload(be, r->cosb, cosb, (size_t)(L * hd) * sizeof *cosb) != 0 ||
        i4_be_upload(be, r->sinb, sinb, (size_t)(L * hd) * sizeof *sinb) != 0)
        goto out;
    rc = 0;
out:
    free(img); free(txt); free(sel); free(cosb); free(sinb);
    if (rc != 0) {
        i4_dit_run_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

void i4_dit_run_free(i4_dit_run *r) {
    if (!r) return;
    if (r->ws.buf) i4_workspace_free(&r->ws);
    free(r->emb_host);
    free(r);
}

int64_t i4_dit_run_tokens(const i4_dit_run *r) { return r->L; }

/* Steps 1-9: the hidden state h and the conditioning c of one forward. */
static int forward_head(i4_dit_run *r, i4_dv x, float t, i4_dv feat) {
    const i4_dit *m = r->m;
    const i4_dit_config *c = &m->cfg;
    i4_backend *be = m->be;
    const i4_backend_ops *op = be->ops;
    const i4_precision p = m->p;
    const int bf = p == I4_PRECISION_BF16;
    const int64_t L = r->L, D = c->dim, C = c->in_channels, F = c->llm_features, A = c->adaln_dim;
    if (!isfinite(t)) return i4_error("transformer forward: timestep is not finite");

    op->fill(be, r->h, L * D, 0.0f);

    /* 1-4. Image rows: h_img = input_proj(bf16(x)) (text/padding rows stay 0). */
    if (r->n_img > 0) {
        op->gather_rows(be, r->xi, x, C, r->img_idx, r->n_img, bf);
        op->linear(be, &m->input_proj.cur, r->xi, C, r->n_img, r->xn, D, p);
        op->scatter_rows(be, r->h, r->xn, D, D, r->img_idx, r->n_img);
    }

    /* 5-6. Time embedding and the adaLN conditioning c = silu(adaln_proj(tc)). */
    i4_dv emb = r->vec, t1 = i4_dv_f32(r->vec, D), tc = i4_dv_f32(r->vec, 2 * D), cc = i4_dv_f32(r->vec, 3 * D),
          cf = i4_dv_f32(r->vec, 3 * D + A);
    timestep_features(r->emb_host, D, t, bf);
    if (i4_be_upload(be, emb, r->emb_host, (size_t)D * sizeof(float)) != 0) return -1;
    op->linear(be, &m->t_in.cur, emb, D, 1, t1, D, p);
    op->act(be, I4_ACT_SILU, t1, D, p);
    op->linear(be, &m->t_out.cur, t1, D, 1, tc, D, p);
    op->linear(be, &m->adaln_proj.cur, tc, D, 1, cc, A, p);
    op->act(be, I4_ACT_SILU, cc, A, p);
    op->copy2d(be, cf, 0, 1, cc, 0, 1, 1, A, 0, p);
    op->act(be, I4_ACT_SILU, cf, A, p); /* the final layer sees silu(silu(adaln_proj(tc))) (§3.5 step 13) */

    /* 7-8. Text rows: h_txt = llm_cond_proj(RMSNorm(bf16(feat))), in chunks of text rows. */
    if (r->n_txt > 0 && feat.buf) {
        for (int64_t r0 = 0; r0 < r->n_txt; r0 += TEXT_CHUNK) {
            int64_t nr = r->n_txt - r0 < TEXT_CHUNK ? r->n_txt - r0 : TEXT_CHUNK;
            i4_dv idx = i4_dv_i64(r->txt_idx, r0);
            op->gather_rows(be, r->txt, feat, F, idx, nr, bf);
            op->rmsnorm(be, r->txt, r->txt, nr, F, F, &m->llm_cond_norm, m->llm_eps, p, I4_RMS_ROUND_ONCE);
            op->linear(be, &m->llm_cond_proj.cur, r->txt, F, nr, r->xn, D, p);
            op->scatter_rows(be, r->h, r->xn, D, D, idx, nr);
        }
    } else if (r->n_txt > 0) {
        /* Zero features: RMSNorm(0) = 0, so every text row is the projection
         * of a zero row — its (rounded) bias. */
        op->fill(be, r->txt, F, 0.0f);
        op->linear(be, &m->llm_cond_proj.cur, r->txt, F, 1, r->xn, D, p);
        op->scatter_rows(be, r->h, r->xn, 0, D, r->txt_idx, r->n_txt);
    }

    /* 9. Role embedding: row 1 for image tokens, row 0 for everything else. */
    op->add_rows_indexed(be, r->h, i4_dv_of(m->indicator), r->sel, L, D, p);
    return 0;
}

void i4_dit_run_block(i4_dit_run *r, int64_t li) {
    const i4_dit *m = r->m;
    const i4_dit_config *c = &m->cfg;
    i4_backend *be = m->be;
    const i4_backend_ops *op = be->ops;
    const i4_precision p = m->p;
    const int64_t L = r->L, D = c->dim, A = c->adaln_dim, I = c->ffn_dim;
    const int H = (int)c->n_heads, hd = (int)c->head_dim;
    const float att_scale = 1.0f / sqrtf((float)hd);
    const i4_dv cc = i4_dv_f32(r->vec, 3 * D);
    i4_dv q = r->work, kk = i4_dv_f32(r->work, L * D), v = i4_dv_f32(r->work, 2 * L * D),
          att = i4_dv_f32(r->work, 3 * L * D);
    i4_dv f1 = r->work, f3 = i4_dv_f32(r->work, L * I);
    i4_dv s_a = r->modb, g_a = i4_dv_f32(r->modb, D), s_f = i4_dv_f32(r->modb, 2 * D), g_f = i4_dv_f32(r->modb, 3 * D);
    i4_dv seg = r->mask == I4_MASK_SEGMENT ? r->seg : i4_dv_none();
    dit_layer *l = &m->layers[li];

    /* --offload: this layer's weights into a device slot (when streamed),
     * the next layer's copy queued behind them to overlap this block. */
    i4_weight_set_prefetch(&l->streamed);
    if (li + 1 < c->n_layers) i4_weight_set_prefetch(&m->layers[li + 1].streamed);

    op->linear(be, &l->mod.cur, cc, A, 1, r->modb, 4 * D, p);
    op->add_scalar(be, s_a, D, 1.0f, p);
    op->add_scalar(be, s_f, D, 1.0f, p);
    op->act(be, I4_ACT_TANH, g_a, D, p);
    op->act(be, I4_ACT_TANH, g_f, D, p);

    /* attention sub-layer */
    const i4_dlinear wq = i4_dlinear_rows(&l->qkv.cur, 0, D), wk = i4_dlinear_rows(&l->qkv.cur, D, D),
                     wv = i4_dlinear_rows(&l->qkv.cur, 2 * D, D);
    op->rmsnorm(be, r->xn, r->h, L, D, D, &l->an1, m->norm_eps, p, I4_RMS_ROUND_ONCE);
    op->mul_rows(be, r->xn, s_a, L, D, p);
    op->linear(be, &wq, r->xn, D, L, q, D, p);
    op->linear(be, &wk, r->xn, D, L, kk, D, p);
    op->linear(be, &wv, r->xn, D, L, v, D, p);
    op->rmsnorm(be, q, q, L * H, hd, hd, &l->norm_q, m->qk_eps, p, I4_RMS_ROUND_ONCE);
    op->rmsnorm(be, kk, kk, L * H, hd, hd, &l->norm_k, m->qk_eps, p, I4_RMS_ROUND_ONCE);
    op->rope(be, q, L, H, hd, D, r->cosb, r->sinb, p);
    op->rope(be, kk, L, H, hd, D, r->cosb, r->sinb, p);
    op->attention(be, att, D, q, D, kk, D, v, D, L, L, H, H, hd, att_scale, r->mask, seg, p);
    op->linear(be, &l->o.cur, att, D, L, r->xn, D, p);
    op->rmsnorm(be, r->xn, r->xn, L, D, D, &l->an2, m->norm_eps, p, I4_RMS_ROUND_ONCE);
    op->gated_add(be, r->h, r->xn, g_a, L, D, p);

    /* feed-forward sub-layer */
    op->rmsnorm(be, r->xn, r->h, L, D, D, &l->fn1, m->norm_eps, p, I4_RMS_ROUND_ONCE);
    op->mul_rows(be, r->xn, s_f, L, D, p);
    op->linear(be, &l->w1.cur, r->xn, D, L, f1, I, p);
    op->linear(be, &l->w3.cur, r->xn, D, L, f3, I, p);
    op->act(be, I4_ACT_SILU, f1, L * I, p);
    op->mul(be, f1, f3, L * I, p);
    op->linear(be, &l->w2.cur, f1, I, L, r->xn, D, p);
    op->rmsnorm(be, r->xn, r->xn, L, D, D, &l->fn2, m->norm_eps, p, I4_RMS_ROUND_ONCE);
    op->gated_add(be, r->h, r->xn, g_f, L, D, p);
}

/* Steps 13-14. Final layer: v = linear(LN(h) · bf16(1 + adaln_modulation(silu(c)))). */
static void forward_tail(i4_dit_run *r, i4_dv velocity) {
    const i4_dit *m = r->m;
    const i4_dit_config *c = &m->cfg;
    i4_backend *be = m->be;
    const i4_backend_ops *op = be->ops;
    const i4_precision p = m->p;
    const int64_t L = r->L, D = c->dim, C = c->in_channels, A = c->adaln_dim;
    const i4_dv cf = i4_dv_f32(r->vec, 3 * D + A);
    op->linear(be, &m->final_mod.cur, cf, A, 1, r->modb, D, p);
    op->add_scalar(be, r->modb, D, 1.0f, p);
    op->layernorm(be, r->xn, r->h, L, D, m->final_eps, p);
    op->mul_rows(be, r->xn, r->modb, L, D, p);
    op->linear(be, &m->final_linear.cur, r->xn, D, L, velocity, C, p);
}

int i4_dit_run_forward(i4_dit_run *r, i4_dv x, float t, i4_dv feat, i4_dv velocity) {
    if (forward_head(r, x, t, feat) != 0) return -1;
    /* 10-12. Blocks (RoPE tables and the segment mask were made with the run). */
    for (int64_t li = 0; li < r->m->cfg.n_layers; li++) i4_dit_run_block(r, li);
    forward_tail(r, velocity);
    return 0;
}

int i4_dit_run_rest(i4_dit_run *r, i4_dv x, float t, i4_dv feat, i4_dv velocity) {
    if (forward_head(r, x, t, feat) != 0) return -1;
    forward_tail(r, velocity);
    return 0;
}

int i4_dit_forward(const i4_dit *m, const float *x, float t, const float *feat, const int64_t *pos,
                   const int64_t *seg, const int64_t *ind, int64_t L, float *velocity) {
    if (!m) return i4_error("transformer forward: no model");
    if (!x || !velocity) return i4_error("transformer forward: missing input array");
    i4_dit_run *r = NULL;
    if (i4_dit_run_new(m, pos, seg, ind, L, &r) != 0) return -1;
    const i4_dit_config *c = &m->cfg;
    const size_t xb = (size_t)(L * c->in_channels) * sizeof(float), fb = (size_t)(L * c->llm_features) * sizeof(float);
    i4_backend *be = m->be;
    i4_buf *bx = i4_be_alloc(be, xb), *bv = i4_be_alloc(be, xb), *bf = feat ? i4_be_alloc(be, fb) : NULL;
    int rc = -1;
    if (bx && bv && (!feat || bf) && i4_be_upload(be, i4_dv_of(bx), x, xb) == 0 &&
        (!feat || i4_be_upload(be, i4_dv_of(bf), feat, fb) == 0) &&
        i4_dit_run_forward(r, i4_dv_of(bx), t, feat ? i4_dv_of(bf) : i4_dv_none(), i4_dv_of(bv)) == 0)
        rc = i4_be_download(be, velocity, i4_dv_of(bv), xb);
    i4_be_release(be, bx);
    i4_be_release(be, bv);
    i4_be_release(be, bf);
    i4_dit_run_free(r);
    return rc;
}
