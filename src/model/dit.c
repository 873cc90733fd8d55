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

#include "base/error.h"
#include "model/config.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "tensor/safetensors.h"

#define IND_IMAGE 2
#define IND_TEXT 3

typedef struct {
    i4_linear_w q, k, v;   /* row thirds of attention.qkv */
    i4_linear_w o, w1, w2, w3, mod;
    i4_param norm_q, norm_k, an1, an2, fn1, fn2;
} dit_layer;

struct i4_dit {
    i4_tensor_set *set;
    i4_dit_config cfg;
    i4_precision p;
    float norm_eps;        /* block RMSNorms (config norm_eps, default 1e-5) */
    float qk_eps;          /* 1e-5 */
    float llm_eps;         /* 1e-6 */
    float final_eps;       /* 1e-6 */
    i4_linear_w input_proj, llm_cond_proj, t_in, t_out, adaln_proj, final_mod, final_linear;
    i4_param llm_cond_norm;
    float *indicator;      /* [2, D], decoded (bf16-rounded in bf16 mode) */
    dit_layer *layers;
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

static int bind_norm(const i4_tensor_set *set, const char *name, int64_t n, i4_param *out) {
    return i4_bind_param(set, name, n, out);
}

/* Row slice [first, first+rows) of a bound Linear (the fused qkv). */
static i4_linear_w row_slice(const i4_linear_w *w, int64_t first, int64_t rows) {
    i4_linear_w s = *w;
    s.w = (const uint8_t *)w->w + (size_t)(first * w->in) * i4_dtype_size(w->dtype);
    if (w->dtype == I4_DT_F8_E4M3 && !w->scale_per_tensor) s.scale = w->scale + first;
    if (w->bias) s.bias = (const uint8_t *)w->bias + (size_t)first * i4_dtype_size(w->bias_dtype);
    s.out = rows;
    return s;
}

static int load_layer(const i4_tensor_set *set, const i4_dit_config *c, int64_t n, dit_layer *l) {
    char pre[128], name[192];
    const int64_t D = c->dim;
    i4_linear_w qkv;
#define P(suffix) (snprintf(pre, sizeof pre, "layers.%lld." suffix, (long long)n), pre)
#define N(suffix) (snprintf(name, sizeof name, "layers.%lld." suffix, (long long)n), name)
    if (i4_bind_linear(set, P("attention.qkv"), 3 * D, D, 0, &qkv) != 0) return -1;
    l->q = row_slice(&qkv, 0, D);
    l->k = row_slice(&qkv, D, D);
    l->v = row_slice(&qkv, 2 * D, D);
    if (i4_bind_linear(set, P("attention.o"), D, D, 0, &l->o) != 0) return -1;
    if (i4_bind_linear(set, P("feed_forward.w1"), c->ffn_dim, D, 0, &l->w1) != 0) return -1;
    if (i4_bind_linear(set, P("feed_forward.w2"), D, c->ffn_dim, 0, &l->w2) != 0) return -1;
    if (i4_bind_linear(set, P("feed_forward.w3"), c->ffn_dim, D, 0, &l->w3) != 0) return -1;
    if (i4_bind_linear(set, P("adaln_modulation"), 4 * D, c->adaln_dim, 2, &l->mod) != 0) return -1;
    if (bind_norm(set, N("attention.norm_q.weight"), c->head_dim, &l->norm_q) != 0) return -1;
    if (bind_norm(set, N("attention.norm_k.weight"), c->head_dim, &l->norm_k) != 0) return -1;
    if (bind_norm(set, N("attention_norm1.weight"), D, &l->an1) != 0) return -1;
    if (bind_norm(set, N("attention_norm2.weight"), D, &l->an2) != 0) return -1;
    if (bind_norm(set, N("ffn_norm1.weight"), D, &l->fn1) != 0) return -1;
    if (bind_norm(set, N("ffn_norm2.weight"), D, &l->fn2) != 0) return -1;
#undef P
#undef N
    return 0;
}

static int load_model(i4_dit *m, const char *dir) {
    i4_dit_config *c = &m->cfg;
    const i4_tensor_set *set = m->set;
    const i4_tensor *t;
    char sb[96];
    if (read_config(dir, c, &m->norm_eps) != 0) return -1;
    m->qk_eps = 1e-5f;
    m->llm_eps = 1e-6f;
    m->final_eps = 1e-6f;

    if (i4_bind_linear(set, "input_proj", -1, -1, 1, &m->input_proj) != 0) return -1;
    c->dim = m->input_proj.out;
    c->in_channels = m->input_proj.in;
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
    if (i4_bind_linear(set, "adaln_proj", -1, D, 1, &m->adaln_proj) != 0) return -1;
    c->adaln_dim = m->adaln_proj.out;
    if (i4_bind_linear(set, "llm_cond_proj", D, -1, 1, &m->llm_cond_proj) != 0) return -1;
    c->llm_features = m->llm_cond_proj.in;
    if (count_layers(set, &c->n_layers) != 0) return -1;

    if (bind_norm(set, "llm_cond_norm.weight", c->llm_features, &m->llm_cond_norm) != 0) return -1;
    if (i4_bind_linear(set, "t_embedding.mlp_in", D, D, 1, &m->t_in) != 0) return -1;
    if (i4_bind_linear(set, "t_embedding.mlp_out", D, D, 1, &m->t_out) != 0) return -1;
    if (i4_bind_linear(set, "final_layer.adaln_modulation", D, c->adaln_dim, 1, &m->final_mod) != 0) return -1;
    if (i4_bind_linear(set, "final_layer.linear", c->in_channels, D, 1, &m->final_linear) != 0) return -1;
    i4_param ind;
    if (bind_norm(set, "embed_image_indicator.weight", -1, &ind) != 0) return -1;
    if (ind.t->ndim != 2 || ind.t->shape[0] < 2 || ind.t->shape[1] != D)
        return i4_error("%s: tensor 'embed_image_indicator.weight' has shape %s, expected [2, %lld]", ind.t->file,
                        i4_shape_str(sb, sizeof sb, ind.t->ndim, ind.t->shape), (long long)D);
    m->indicator = malloc((size_t)(2 * D) * sizeof *m->indicator);
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->indicator || !m->layers) return i4_error("out of memory");
    i4_param_read(&ind, 0, 2 * D, m->indicator, m->p);
    for (int64_t n = 0; n < c->n_layers; n++)
        if (load_layer(set, c, n, &m->layers[n]) != 0) return -1;
    return 0;
}

int i4_dit_load(i4_dit **out, const char *component_dir, i4_precision p) {
    *out = NULL;
    i4_dit *m = calloc(1, sizeof *m);
    if (!m) return i4_error("out of memory");
    m->p = p;
    if (i4_tensor_set_open_component(&m->set, component_dir, "diffusion_pytorch_model") != 0 ||
        load_model(m, component_dir) != 0) {
        i4_error_prefix("loading the transformer from %s", component_dir);
        i4_dit_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

const i4_dit_config *i4_dit_config_get(const i4_dit *m) { return &m->cfg; }

const i4_tensor_set *i4_dit_tensors(const i4_dit *m) { return m->set; }

/* ------------------------------------------------------------ LoRA hook */

/* The slot of the Linear at an official module path; *qkv_layer is set for
 * layers.N.attention.qkv (stored as three row slices). NULL when unknown. */
static i4_linear_w *linear_slot(i4_dit *m, const char *path, dit_layer **qkv_layer) {
    *qkv_layer = NULL;
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
        if (!strcmp(path, top[i].name)) return (i4_linear_w *)((char *)m + top[i].off);
    if (strncmp(path, "layers.", 7) != 0 || path[7] < '0' || path[7] > '9') return NULL;
    char *end = NULL;
    long long n = strtoll(path + 7, &end, 10);
    if (*end != '.' || n < 0 || n >= m->cfg.n_layers) return NULL;
    dit_layer *l = &m->layers[n];
    const char *rest = end + 1;
    if (!strcmp(rest, "attention.qkv")) {
        *qkv_layer = l;
        return &l->q;
    }
    if (!strcmp(rest, "attention.o")) return &l->o;
    if (!strcmp(rest, "feed_forward.w1")) return &l->w1;
    if (!strcmp(rest, "feed_forward.w2")) return &l->w2;
    if (!strcmp(rest, "feed_forward.w3")) return &l->w3;
    if (!strcmp(rest, "adaln_modulation")) return &l->mod;
    return NULL;
}

int i4_dit_set_linear(i4_dit *m, const char *path, const i4_linear_w *w) {
    dit_layer *qkv = NULL;
    i4_linear_w *slot = linear_slot(m, path, &qkv);
    if (!slot) return i4_error("transformer: no Linear at module path '%s'", path);
    i4_linear_w orig;
    if (i4_bind_linear(m->set, path, -1, -1, 2, &orig) != 0) return -1;
    if (w) {
        if (w->out != orig.out || w->in != orig.in)
            return i4_error("transformer: replacement for '%s' is [%lld, %lld], the layer is [%lld, %lld]", path,
                            (long long)w->out, (long long)w->in, (long long)orig.out, (long long)orig.in);
        if (!w->w || (w->dtype == I4_DT_F8_E4M3 && !w->scale))
            return i4_error("transformer: replacement for '%s' has no weight data or no FP8 scale", path);
        orig = *w;
    }
    if (qkv) {
        const int64_t D = m->cfg.dim;
        qkv->q = row_slice(&orig, 0, D);
        qkv->k = row_slice(&orig, D, D);
        qkv->v = row_slice(&orig, 2 * D, D);
    } else {
        *slot = orig;
    }
    return 0;
}

void i4_dit_free(i4_dit *m) {
    if (!m) return;
    if (m->set) i4_tensor_set_close(m->set);
    free(m->indicator);
    free(m->layers);
    free(m);
}

/* ------------------------------------------------------------ forward */

static inline float rnd(float v, int bf) { return bf ? i4_round_bf16(v) : v; }

/* x[r, i] *= s[i] (each product rounded once in bf16 mode). */
static void mul_rows(float *x, const float *s, int64_t rows, int64_t dim, int bf) {
#pragma omp parallel for schedule(static) if (rows * dim > 65536)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < dim; i++) x[r * dim + i] = rnd(x[r * dim + i] * s[i], bf);
}

/* h += bf16(g · a), rounded sum. */
static void gated_residual(float *h, const float *a, const float *g, int64_t rows, int64_t dim, int bf) {
#pragma omp parallel for schedule(static) if (rows * dim > 65536)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < dim; i++) h[r * dim + i] = rnd(h[r * dim + i] + rnd(g[i] * a[r * dim + i], bf), bf);
}

/* The sinusoidal timestep features of §3.7 (f32; bf16 mode rounds). */
static void timestep_features(float *emb, int64_t D, float t, int bf) {
    const int64_t half = D / 2;
    const float s = 1e4f * t;
    const float coef = (float)(-log(1e4) / (double)(half - 1));
    for (int64_t j = 0; j < half; j++) {
        float freq = (float)exp((double)((float)j * coef));
        float arg = s * freq;
        emb[j] = rnd((float)sin((double)arg), bf);
        emb[half + j] = rnd((float)cos((double)arg), bf);
    }
    if (D % 2) emb[D - 1] = 0; /* F.pad for odd widths (never the case) */
}

/* dst[r] = src[idx[r]] for rows of length ld (rounded to bf16 in bf16 mode: model entry casts). */
static void gather_rows(float *dst, const float *src, int64_t ld, const int64_t *idx, int64_t n, int bf) {
#pragma omp parallel for schedule(static) if (n * ld > 65536)
    for (int64_t r = 0; r < n; r++) {
        const float *s = src + idx[r] * ld;
        float *d = dst + r * ld;
        for (int64_t i = 0; i < ld; i++) d[i] = rnd(s[i], bf);
    }
}

int i4_dit_forward(const i4_dit *m, const float *x, float t, const float *feat, const int64_t *pos,
                   const int64_t *seg, const int64_t *ind, int64_t L, float *velocity) {
    if (!m) return i4_error("transformer forward: no model");
    const i4_dit_config *c = &m->cfg;
    const i4_precision p = m->p;
    const int bf = p == I4_PRECISION_BF16;
    const int64_t D = c->dim, C = c->in_channels, F = c->llm_features, A = c->adaln_dim, I = c->ffn_dim;
    const int H = (int)c->n_heads, hd = (int)c->head_dim;
    if (L <= 0) return i4_error("transformer forward: empty sequence (L = %lld)", (long long)L);
    if (!x || !pos || !seg || !ind || !velocity) return i4_error("transformer forward: missing input array");
    if (!isfinite(t)) return i4_error("transformer forward: timestep is not finite");

    /* Buffers: h, xn [L, D]; work [L, max(4D, 2I)] holds q|k|v|att, later w1|w3 outputs. */
    const int64_t wcols = 4 * D > 2 * I ? 4 * D : 2 * I;
    const int64_t chunk = 256; /* text rows per llm_cond step */
    int64_t n_img = 0, n_txt = 0;
    for (int64_t n = 0; n < L; n++) {
        n_img += ind[n] == IND_IMAGE;
        n_txt += ind[n] == IND_TEXT;
    }
    float *h = malloc((size_t)(L * D) * sizeof *h);
    float *xn = malloc((size_t)(L * D) * sizeof *xn);
    float *work = malloc((size_t)(L * wcols) * sizeof *work);
    float *cosb = malloc((size_t)(L * hd) * sizeof *cosb);
    float *sinb = malloc((size_t)(L * hd) * sizeof *sinb);
    int64_t *idx = malloc((size_t)L * sizeof *idx);
    float *vec = malloc((size_t)(3 * D + 2 * A) * sizeof *vec); /* emb, t1, tc [D]; c, silu(c) [A] */
    int64_t tx_rows = n_txt < chunk ? n_txt : chunk;
    float *txt = feat && n_txt > 0 ? malloc((size_t)(tx_rows * F) * sizeof *txt) : NULL;
    if (!h || !xn || !work || !cosb || !sinb || !idx || !vec || (feat && n_txt > 0 && !txt)) {
        free(h); free(xn); free(work); free(cosb); free(sinb); free(idx); free(vec); free(txt);
        return i4_error("transformer forward: out of memory (L = %lld)", (long long)L);
    }
    memset(h, 0, (size_t)(L * D) * sizeof *h);

    /* 1-4. Image rows: h_img = input_proj(bf16(x)) (text/padding rows stay 0). */
    int64_t k = 0;
    for (int64_t n = 0; n < L; n++)
        if (ind[n] == IND_IMAGE) idx[k++] = n;
    if (n_img > 0) {
        float *xi = work; /* [n_img, C] */
        float *tmp = NULL;
        if (C > wcols) xi = tmp = malloc((size_t)(n_img * C) * sizeof *xi);
        float *hi = xn; /* [n_img, D] */
        if (!xi) {
            free(h); free(xn); free(work); free(cosb); free(sinb); free(idx); free(vec); free(txt);
            return i4_error("transformer forward: out of memory");
        }
        gather_rows(xi, x, C, idx, n_img, bf);
        i4_linear(&m->input_proj, xi, C, n_img, hi, D, p);
        for (int64_t r = 0; r < n_img; r++) memcpy(h + idx[r] * D, hi + r * D, (size_t)D * sizeof *h);
        free(tmp);
    }

    /* 5-6. Time embedding and the adaLN conditioning c = silu(adaln_proj(tc)). */
    float *emb = vec, *t1 = vec + D, *tc = vec + 2 * D, *cc = vec + 3 * D, *cf = vec + 3 * D + A;
    timestep_features(emb, D, t, bf);
    i4_linear(&m->t_in, emb, D, 1, t1, D, p);
    i4_silu(t1, D, p);
    i4_linear(&m->t_out, t1, D, 1, tc, D, p);
    i4_linear(&m->adaln_proj, tc, D, 1, cc, A, p);
    i4_silu(cc, A, p);
    memcpy(cf, cc, (size_t)A * sizeof *cf);
    i4_silu(cf, A, p); /* the final layer sees silu(silu(adaln_proj(tc))) (§3.5 step 13) */

    /* 7-8. Text rows: h_txt = llm_cond_proj(RMSNorm(bf16(feat))), in chunks of text rows. */
    k = 0;
    for (int64_t n = 0; n < L; n++)
        if (ind[n] == IND_TEXT) idx[k++] = n;
    if (n_txt > 0 && feat) {
        for (int64_t r0 = 0; r0 < n_txt; r0 += chunk) {
            int64_t nr = n_txt - r0 < chunk ? n_txt - r0 : chunk;
            gather_rows(txt, feat, F, idx + r0, nr, bf);
            i4_rmsnorm(txt, txt, nr, F, F, m->llm_cond_norm.dtype, m->llm_cond_norm.data, m->llm_eps, p,
                       I4_RMS_ROUND_ONCE);
            i4_linear(&m->llm_cond_proj, txt, F, nr, xn, D, p);
            for (int64_t r = 0; r < nr; r++) memcpy(h + idx[r0 + r] * D, xn + r * D, (size_t)D * sizeof *h);
        }
    } else if (n_txt > 0) {
        /* Zero features: RMSNorm(0) = 0, so the projection is its bias. */
        float *b = xn;
        for (int64_t i = 0; i < D; i++) b[i] = 0;
        if (m->llm_cond_proj.bias) {
            i4_convert_to_f32(m->llm_cond_proj.bias_dtype, m->llm_cond_proj.bias, b, (size_t)D);
            for (int64_t i = 0; i < D; i++) b[i] = rnd(b[i], bf);
        }
        for (int64_t r = 0; r < n_txt; r++) memcpy(h + idx[r] * D, b, (size_t)D * sizeof *h);
    }

    /* 9. Role embedding: row 1 for image tokens, row 0 for everything else. */
#pragma omp parallel for schedule(static) if (L * D > 65536)
    for (int64_t n = 0; n < L; n++) {
        const float *e = m->indicator + (ind[n] == IND_IMAGE ? D : 0);
        for (int64_t i = 0; i < D; i++) h[n * D + i] = rnd(h[n * D + i] + e[i], bf);
    }

    /* 10-11. RoPE tables and the segment mask. */
    i4_rope_table_mrope(cosb, sinb, pos, L, hd, c->rope_theta, c->mrope_section, p);
    i4_mask_kind mask = I4_MASK_NONE;
    for (int64_t n = 1; n < L; n++)
        if (seg[n] != seg[0]) mask = I4_MASK_SEGMENT;
    const float att_scale = 1.0f / sqrtf((float)hd);

    /* 12. Blocks. */
    float *modb = malloc((size_t)(4 * D) * sizeof *modb);
    if (!modb) {
        free(h); free(xn); free(work); free(cosb); free(sinb); free(idx); free(vec); free(txt);
        return i4_error("transformer forward: out of memory");
    }
    float *q = work, *kk = work + L * D, *v = work + 2 * L * D, *att = work + 3 * L * D;
    float *f1 = work, *f3 = work + L * I;
    for (int64_t li = 0; li < c->n_layers; li++) {
        const dit_layer *l = &m->layers[li];
        i4_linear(&l->mod, cc, A, 1, modb, 4 * D, p);
        float *s_a = modb, *g_a = modb + D, *s_f = modb + 2 * D, *g_f = modb + 3 * D;
        for (int64_t i = 0; i < D; i++) {
            s_a[i] = rnd(1.0f + s_a[i], bf);
            s_f[i] = rnd(1.0f + s_f[i], bf);
        }
        i4_tanh(g_a, D, p);
        i4_tanh(g_f, D, p);

        /* attention sub-layer */
        i4_rmsnorm(xn, h, L, D, D, l->an1.dtype, l->an1.data, m->norm_eps, p, I4_RMS_ROUND_ONCE);
        mul_rows(xn, s_a, L, D, bf);
        i4_linear(&l->q, xn, D, L, q, D, p);
        i4_linear(&l->k, xn, D, L, kk, D, p);
        i4_linear(&l->v, xn, D, L, v, D, p);
        i4_rmsnorm(q, q, L * H, hd, hd, l->norm_q.dtype, l->norm_q.data, m->qk_eps, p, I4_RMS_ROUND_ONCE);
        i4_rmsnorm(kk, kk, L * H, hd, hd, l->norm_k.dtype, l->norm_k.data, m->qk_eps, p, I4_RMS_ROUND_ONCE);
        i4_rope_apply(q, L, H, hd, D, cosb, sinb, p);
        i4_rope_apply(kk, L, H, hd, D, cosb, sinb, p);
        i4_attention(att, D, q, D, kk, D, v, D, L, L, H, H, hd, att_scale, mask, seg, p);
        i4_linear(&l->o, att, D, L, xn, D, p);
        i4_rmsnorm(xn, xn, L, D, D, l->an2.dtype, l->an2.data, m->norm_eps, p, I4_RMS_ROUND_ONCE);
        gated_residual(h, xn, g_a, L, D, bf);

        /* feed-forward sub-layer */
        i4_rmsnorm(xn, h, L, D, D, l->fn1.dtype, l->fn1.data, m->norm_eps, p, I4_RMS_ROUND_ONCE);
        mul_rows(xn, s_f, L, D, bf);
        i4_linear(&l->w1, xn, D, L, f1, I, p);
        i4_linear(&l->w3, xn, D, L, f3, I, p);
        i4_silu(f1, L * I, p);
#pragma omp parallel for schedule(static) if (L * I > 65536)
        for (int64_t i = 0; i < L * I; i++) f1[i] = rnd(f1[i] * f3[i], bf);
        i4_linear(&l->w2, f1, I, L, xn, D, p);
        i4_rmsnorm(xn, xn, L, D, D, l->fn2.dtype, l->fn2.data, m->norm_eps, p, I4_RMS_ROUND_ONCE);
        gated_residual(h, xn, g_f, L, D, bf);
    }

    /* 13-14. Final layer: v = linear(LN(h) · bf16(1 + adaln_modulation(silu(c)))). */
    i4_linear(&m->final_mod, cf, A, 1, modb, D, p);
    for (int64_t i = 0; i < D; i++) modb[i] = rnd(1.0f + modb[i], bf);
    i4_layernorm_noaffine(xn, h, L, D, m->final_eps, p);
    mul_rows(xn, modb, L, D, bf);
    i4_linear(&m->final_linear, xn, D, L, velocity, C, p);

    free(modb);
    free(h); free(xn); free(work); free(cosb); free(sinb); free(idx); free(vec); free(txt);
    return 0;
}
