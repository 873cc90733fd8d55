/*
 * qwen3.c — the Qwen3-VL language model as Ideogram 4's text encoder
 * (text only, batch 1; docs/MODEL.md §5).
 *
 * In:  token ids [n] (positions 0..n-1, causal, no padding).
 * Out: features [n, 13*H], features[i, d*13 + k] = hs[TAPS[k]][i, d]  (§5.4)
 *      with TAPS = (0, 3, ..., 33, 35): hs[N] is the raw residual stream after
 *      decoder layer N (0-based); no final norm on any tap.
 *
 * Forward (§5.3), H = hidden, nh query heads, nkv KV heads of head_dim hd:
 *   x = embed_tokens[id]                                   [n, H]
 *   cos/sin = 1-D RoPE tables (theta = rope_theta, rotate-half)
 *   for layer N = 0 .. TAPS[last]:
 *     u = RMSNorm_in(x)
 *     q = RMSNorm_q(u Wq^T) per head, k = RMSNorm_k(u Wk^T) per head, v = u Wv^T
 *     q, k = RoPE(q), RoPE(k)                      (norm BEFORE rope)
 *     a = causal GQA attention(q, k, v) * 1/sqrt(hd) (query head h uses KV head h/(nh/nkv))
 *     x = x + a Wo^T
 *     w = RMSNorm_post(x)
 *     x = x + Wdown^T( silu(w Wgate^T) * (w Wup^T) )
 *     if N in TAPS: record x
 * RMSNorm: y = w * (x * 1/sqrt(mean(x^2) + eps)).
 *
 * Precision. f32: exact weights (e4m3 * scale), f32 everywhere. bf16: the
 * transformers Qwen3-VL text model run in torch.bfloat16 — every op's output
 * is a bf16 tensor, so each of these is rounded once: the Linear outputs, the
 * norms (two roundings: bf16(w * bf16(x*r))), the rope products and sum, the
 * attention output, silu(gate), the product silu(gate)*up, and both residual
 * sums x + attn and x + mlp. Attention follows the flash-attention rounding of
 * torch's scaled_dot_product_attention (unnormalised exp(s - max) rounded to
 * bf16 for P.V, f32 row sum, out = bf16(acc / sum)), as i4_attention does.
 *
 * Dimensions come from tensor shapes; rms_norm_eps and rope_theta from
 * config.json. Weights stay mmap'd; only the needed rows of the embedding table
 * are decoded. Activations: a few [n, H] / [n, ffn] buffers per encode call.
 */
#include "model/qwen3.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/backend.h"
#include "base/error.h"
#include "model/config.h"
#include "model/weights.h"
#include "ops/ops.h"
#include "tensor/safetensors.h"

/* The decoder layers tapped by the Ideogram 4 pipeline (official
 * QWEN3_VL_ACTIVATION_LAYERS); their outputs are interleaved into the features. */
static const int TAPS[] = {0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 35};
#define N_TAPS ((int)(sizeof TAPS / sizeof TAPS[0]))

/* Longest token sequence the encoder accepts (docs/MODEL.md §6.4). */
#define MAX_TOKENS 2048

typedef struct {
    i4_dparam in_norm, post_norm, q_norm, k_norm;
    i4_dlinear q, k, v, o, gate, up, down;
} qwen3_layer;

struct i4_qwen3 {
    i4_tensor_set *set;
    i4_backend *be;
    i4_weight_set weights; /* the layers' tensors, bound once */
    i4_qwen3_config cfg;
    i4_precision prec;
    i4_param embed;        /* read on the host: only the n looked-up rows are uploaded */
    int n_run;             /* layers run = last tap + 1 */
    qwen3_layer *layers;   /* [n_run] */
};

/* -------------------------------------------------------------- loading */

/* Number of decoder layers: 1 + max N over tensors named PREFIX "layers.N.". */
static int64_t count_layers(const i4_tensor_set *set, const char *prefix) {
    const size_t plen = strlen(prefix);
    int64_t max_n = -1;
    for (size_t i = 0; i < i4_tensor_set_count(set); i++) {
        const char *name = i4_tensor_set_at(set, i)->name;
        if (strncmp(name, prefix, plen) != 0 || strncmp(name + plen, "layers.", 7) != 0) continue;
        const char *p = name + plen + 7;
        if (*p < '0' || *p > '9') continue;
        char *end;
        long long n = strtoll(p, &end, 10);
        if (*end == '.' && n >= 0 && n < INT_MAX && n > max_n) max_n = n;
    }
    return max_n + 1;
}

static int bind_layer(i4_weight_set *ws, const i4_tensor_set *set, const char *prefix, int N,
                      const i4_qwen3_config *c, qwen3_layer *L) {
    char p[256];
    i4_linear_w lw;
    i4_param prm;
    const int64_t H = c->hidden, hd = c->head_dim;
#define LIN(field, name, o, i)                                                           \
    do {                                                                                 \
        snprintf(p, sizeof p, "%slayers.%d.%s", prefix, N, name);                        \
        if (i4_bind_linear(set, p, o, i, 0, &lw) != 0) return -1;                        \
        if (i4_bind_dlinear(ws, &lw, &L->field) != 0) return -1;                         \
    } while (0)
#define PARAM(field, name, count)                                                        \
    do {                                                                                 \
        snprintf(p, sizeof p, "%slayers.%d.%s", prefix, N, name);                        \
        if (i4_bind_param(set, p, count, &prm) != 0) return -1;                          \
        if (i4_bind_dparam(ws, prm.dtype, prm.data, prm.numel, &L->field) != 0) return -1; \
    } while (0)
    LIN(q, "self_attn.q_proj", c->n_heads * hd, H);
    LIN(k, "self_attn.k_proj", c->n_kv_heads * hd, H);
    LIN(v, "self_attn.v_proj", c->n_kv_heads * hd, H);
    LIN(o, "self_attn.o_proj", H, c->n_heads * hd);
    LIN(gate, "mlp.gate_proj", c->ffn_dim, H);
    LIN(up, "mlp.up_proj", c->ffn_dim, H);
    LIN(down, "mlp.down_proj", H, c->ffn_dim);
    PARAM(in_norm, "input_layernorm.weight", H);
    PARAM(post_norm, "post_attention_layernorm.weight", H);
    PARAM(q_norm, "self_attn.q_norm.weight", hd);
    PARAM(k_norm, "self_attn.k_norm.weight", hd);
#undef LIN
#undef PARAM
    return 0;
}

/* rms_norm_eps and rope_theta. Each has moved between transformers versions;
 * later reads take precedence, so the newest place that holds the key wins:
 * rope_theta from text_config.rope_parameters (v5), else text_config (older
 * Qwen3-VL files), else the top level, else 5e6. */
static int read_config(const char *dir, i4_qwen3_config *out) {
    i4_config c;
    if (i4_config_load(&c, dir, 0) != 0) return -1;
    double eps = 1e-6, theta = 5e6;
    int rc = i4_config_number(&c, "rms_norm_eps", eps, &eps);
    if (rc == 0) rc = i4_config_number(&c, "text_config.rms_norm_eps", eps, &eps);
    if (rc == 0) rc = i4_config_number(&c, "rope_theta", theta, &theta);
    if (rc == 0) rc = i4_config_number(&c, "text_config.rope_theta", theta, &theta);
    if (rc == 0) rc = i4_config_number(&c, "text_config.rope_parameters.rope_theta", theta, &theta);
    if (rc == 0 && !(eps > 0)) rc = i4_error("%s: 'rms_norm_eps' must be a positive number", c.path);
    if (rc == 0 && !(theta > 0)) rc = i4_error("%s: 'rope_theta' must be a positive number", c.path);
    i4_config_free(&c);
    out->rms_eps = eps;
    out->rope_theta = theta;
    return rc;
}

static int load(i4_qwen3 *m, const char *dir, int partial) {
    char sb[160];
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return i4_error("text encoder folder %s not found", dir);
    if (i4_tensor_set_open_component(&m->set, dir, "model") != 0) return -1;
    const i4_tensor_set *set = m->set;

    /* Official files use "language_model.", upstream Qwen "model.language_model.". */
    const char *prefix = NULL;
    static const char *const prefixes[] = {"language_model.", "model.language_model."};
    char name[256];
    for (int i = 0; i < 2 && !prefix; i++) {
        snprintf(name, sizeof name, "%sembed_tokens.weight", prefixes[i]);
        if (i4_tensor_set_find(set, name)) prefix = prefixes[i];
    }
    if (!prefix)
        return i4_error("%s: no 'language_model.embed_tokens.weight' (or 'model.language_model.embed_tokens.weight'); "
                        "not a Qwen3-VL text encoder", i4_tensor_set_origin(set));

    i4_qwen3_config *c = &m->cfg;
    const i4_tensor *emb = i4_tensor_set_find(set, name);
    if (emb->ndim != 2 || emb->shape[0] < 1 || emb->shape[1] < 1)
        return i4_error("%s: tensor '%s' has shape %s, expected [vocab, hidden]", emb->file, name,
                        i4_shape_str(sb, sizeof sb, emb->ndim, emb->shape));
    c->vocab = emb->shape[0];
    c->hidden = emb->shape[1];
    if (i4_bind_param(set, name, -1, &m->embed) != 0) return -1;

    c->n_layers = count_layers(set, prefix);
    const int last_tap = TAPS[N_TAPS - 1];
    if (c->n_layers < last_tap + 1 && !partial)
        return i4_error("%s: the text encoder has %lld decoder layers ('%slayers.N.*'); the Ideogram 4 features tap "
                        "layers 0, 3, ..., 33, %d and need at least %d", i4_tensor_set_origin(set),
                        (long long)c->n_layers, prefix, last_tap, last_tap + 1);

    snprintf(name, sizeof name, "%slayers.0.self_attn.q_norm.weight", prefix);
    const i4_tensor *qn = i4_tensor_set_get(set, name);
    if (!qn) return -1;
    if (qn->ndim != 1 || qn->shape[0] < 2 || qn->shape[0] % 2)
        return i4_error("%s: tensor '%s' has shape %s, expected [head_dim] with an even head_dim", qn->file, name,
                        i4_shape_str(sb, sizeof sb, qn->ndim, qn->shape));
    c->head_dim = qn->shape[0];

    const char *shape_from[3] = {"self_attn.q_proj", "self_attn.k_proj", "mlp.gate_proj"};
    int64_t outs[3];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%slayers.0.%s.weight", prefix, shape_from[i]);
        const i4_tensor *t = i4_tensor_set_get(set, name);
        if (!t) return -1;
        if (t->ndim != 2 || t->shape[1] != c->hidden)
            return i4_error("%s: tensor '%s' has shape %s, expected [?, %lld]", t->file, name,
                            i4_shape_str(sb, sizeof sb, t->ndim, t->shape), (long long)c->hidden);
        if (i < 2 && (t->shape[0] % c->head_dim != 0 || t->shape[0] == 0))
            return i4_error("%s: tensor '%s' has %lld rows, not a multiple of head_dim %lld", t->file, name,
                            (long long)t->shape[0], (long long)c->head_dim);
        outs[i] = t->shape[0];
    }
    c->n_heads = outs[0] / c->head_dim;
    c->n_kv_heads = outs[1] / c->head_dim;
    c->ffn_dim = outs[2];
    if (c->n_heads % c->n_kv_heads != 0)
        return i4_error("%s: %lld query heads is not a multiple of %lld KV heads", i4_tensor_set_origin(set),
                        (long long)c->n_heads, (long long)c->n_kv_heads);

    if (read_config(dir, c) != 0) return -1;
    c->n_taps = 0;
    for (int k = 0; k < N_TAPS; k++)
        if (TAPS[k] < c->n_layers) c->taps[c->n_taps++] = TAPS[k];

    /* Layers after the last tap cannot change the features: not bound, not
     * run. (A partial encoder — the benchmark's — runs the layers it has.) */
    m->n_run = c->n_layers < last_tap + 1 ? (int)c->n_layers : last_tap + 1;
    m->layers = calloc((size_t)m->n_run, sizeof *m->layers);
    if (!m->layers) return i4_error("out of memory");
    for (int N = 0; N < m->n_run; N++)
        if (bind_layer(&m->weights, set, prefix, N, c, &m->layers[N]) != 0) return -1;
    return 0;
}

static int load_with(i4_qwen3 **out, const char *component_dir, i4_precision p, i4_backend *be, int partial) {
    *out = NULL;
    i4_qwen3 *m = calloc(1, sizeof *m);
    if (!m) return i4_error("out of memory");
    m->prec = p;
    m->be = be;
    i4_weight_set_init(&m->weights, be);
    if (load(m, component_dir, partial) != 0) {
        i4_error_prefix("loading the text encoder from %s", component_dir);
        i4_qwen3_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int i4_qwen3_load(i4_qwen3 **out, const char *component_dir, i4_precision p, i4_backend *be) {
    return load_with(out, component_dir, p, be, 0);
}

int i4_qwen3_load_partial(i4_qwen3 **out, const char *component_dir, i4_precision p, i4_backend *be) {
    return load_with(out, component_dir, p, be, 1);
}

int i4_qwen3_layers_run(const i4_qwen3 *m) { return m->n_run; }

const i4_qwen3_config *i4_qwen3_config_get(const i4_qwen3 *m) { return &m->cfg; }

void i4_qwen3_free(i4_qwen3 *m) {
    if (!m) return;
    i4_weight_set_release(&m->weights);
    i4_tensor_set_close(m->set);
    free(m->layers);
    free(m);
}

/* -------------------------------------------------------------- forward */

/* The encoder's buffers for n tokens, taken from one workspace. */
typedef struct {
    i4_dv x, u, q, att, k, v, g, up, cs, sn, feat;
} encode_buffers;

static void take_encode_buffers(i4_workspace *w, encode_buffers *b, const i4_qwen3_config *c, int64_t n) {
    const int64_t H = c->hidden, hd = c->head_dim, F = c->ffn_dim;
    const int64_t qd = c->n_heads * hd, kd = c->n_kv_heads * hd, nf = (int64_t)c->n_taps * H;
    const size_t f = sizeof(float);
    b->x = i4_workspace_take(w, (size_t)(n * H) * f);
    b->u = i4_workspace_take(w, (size_t)(n * H) * f);
    b->q = i4_workspace_take(w, (size_t)(n * qd) * f);
    b->att = i4_workspace_take(w, (size_t)(n * qd) * f);
    b->k = i4_workspace_take(w, (size_t)(n * kd) * f);
    b->v = i4_workspace_take(w, (size_t)(n * kd) * f);
    b->g = i4_workspace_take(w, (size_t)(n * F) * f);
    b->up = i4_workspace_take(w, (size_t)(n * F) * f);
    b->cs = i4_workspace_take(w, (size_t)(n * hd) * f);
    b->sn = i4_workspace_take(w, (size_t)(n * hd) * f);
    b->feat = i4_workspace_take(w, (size_t)(n * nf) * f);
}

int i4_qwen3_encode(const i4_qwen3 *m, const int64_t *ids, int64_t n, float *features) {
    const i4_qwen3_config *c = &m->cfg;
    const i4_precision p = m->prec;
    i4_backend *be = m->be;
    const i4_backend_ops *op = be->ops;
    if (n < 1) return i4_error("text encoder: no tokens");
    if (n > MAX_TOKENS) return i4_error("text encoder: %lld tokens, at most %d are supported", (long long)n, MAX_TOKENS);
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return i4_error("text encoder: token id %lld at position %lld is outside the vocabulary [0, %lld)",
                            (long long)ids[i], (long long)i, (long long)c->vocab);

    const int64_t H = c->hidden, hd = c->head_dim, F = c->ffn_dim;
    const int64_t qd = c->n_heads * hd, kd = c->n_kv_heads * hd, nf = (int64_t)c->n_taps * H;
    const int nh = (int)c->n_heads, nkv = (int)c->n_kv_heads;
    const float eps = (float)c->rms_eps;
    i4_workspace ws = {0}, plan;
    encode_buffers b;
    i4_workspace_plan(&plan);
    take_encode_buffers(&plan, &b, c, n);
    /* Host side: the n embedding rows (decoded from the stored table) and the RoPE tables. */
    float *x = malloc((size_t)(n * H) * sizeof *x);
    float *cs = malloc((size_t)(n * hd) * sizeof *cs);
    float *sn = malloc((size_t)(n * hd) * sizeof *sn);
    int64_t *pos = malloc((size_t)n * sizeof *pos);
    int rc = -1;
    if (!x || !cs || !sn || !pos) {
        i4_error("text encoder: out of memory for %lld tokens", (long long)n);
        goto done;
    }
    if (i4_workspace_init(&ws, be, plan.used, "text encoder") != 0) goto done;
    take_encode_buffers(&ws, &b, c, n);

    for (int64_t i = 0; i < n; i++) {
        i4_param_read(&m->embed, ids[i] * H, H, x + i * H, p);
        pos[i] = i;
    }
    i4_rope_table_1d(cs, sn, pos, n, (int)hd, c->rope_theta, p);
    if (i4_be_upload(be, b.x, x, (size_t)(n * H) * sizeof *x) != 0 ||
        i4_be_upload(be, b.cs, cs, (size_t)(n * hd) * sizeof *cs) != 0 ||
        i4_be_upload(be, b.sn, sn, (size_t)(n * hd) * sizeof *sn) != 0)
        goto done;
    const float scale = (float)(1.0 / sqrt((double)hd));

    int tap = 0;
    for (int N = 0; N < m->n_run; N++) {
        const qwen3_layer *L = &m->layers[N];
        /* Attention block. */
        op->rmsnorm(be, b.u, b.x, n, H, H, &L->in_norm, eps, p, I4_RMS_ROUND_TWICE);
        op->linear(be, &L->q, b.u, H, n, b.q, qd, p);
        op->linear(be, &L->k, b.u, H, n, b.k, kd, p);
        op->linear(be, &L->v, b.u, H, n, b.v, kd, p);
        op->rmsnorm(be, b.q, b.q, n * nh, hd, hd, &L->q_norm, eps, p, I4_RMS_ROUND_TWICE);
        op->rmsnorm(be, b.k, b.k, n * nkv, hd, hd, &L->k_norm, eps, p, I4_RMS_ROUND_TWICE);
        op->rope(be, b.q, n, nh, (int)hd, qd, b.cs, b.sn, p);
        op->rope(be, b.k, n, nkv, (int)hd, kd, b.cs, b.sn, p);
        op->attention(be, b.att, qd, b.q, qd, b.k, kd, b.v, kd, n, n, nh, nkv, (int)hd, scale, I4_MASK_CAUSAL,
                      i4_dv_none(), p);
        op->linear(be, &L->o, b.att, qd, n, b.u, H, p);
        op->add(be, b.x, b.u, n * H, p);
        /* MLP block: down(bf16(silu(gate) * up)). */
        op->rmsnorm(be, b.u, b.x, n, H, H, &L->post_norm, eps, p, I4_RMS_ROUND_TWICE);
        op->linear(be, &L->gate, b.u, H, n, b.g, F, p);
        op->linear(be, &L->up, b.u, H, n, b.up, F, p);
        op->act(be, I4_ACT_SILU, b.g, n * F, p);
        op->mul(be, b.g, b.up, n * F, p);
        op->linear(be, &L->down, b.g, F, n, b.u, H, p);
        op->add(be, b.x, b.u, n * H, p);

        /* Tap: features[i, d * n_taps + tap] = x[i, d] (interleaved, §6.5). */
        if (tap < c->n_taps && N == c->taps[tap]) {
            op->copy2d(be, i4_dv_f32(b.feat, tap), nf, c->n_taps, b.x, H, 1, n, H, 0, p);
            tap++;
        }
    }
    rc = i4_be_download(be, features, b.feat, (size_t)(n * nf) * sizeof *features);

done:
    if (ws.buf) i4_workspace_free(&ws);
    free(x); free(cs); free(sn); free(pos);
    return rc;
}
