/* dit_block.c — one DiT block and the rest of a forward on random weights
 * (see dit_block.h for the op sequence; it mirrors src/model/dit.c). */
#include "bench/dit_block.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "bench/fill.h"
#include "ops/ops.h"

#define IMAGE_POS0 65536 /* MODEL.md §4.1 */
#define TEXT_CHUNK 256   /* text rows per llm_cond_proj call, as in dit.c */

typedef struct {
    i4_linear_w w;
    void *data;    /* FP8 codes [out, in] */
    float *scale;  /* [out] */
    uint16_t *bias; /* bf16 [out] or NULL */
} rand_linear;

struct i4_bench_dit {
    i4_bench_dit_shape s;
    i4_precision p;
    int with_rest;
    int64_t max_txt, max_img, n_txt, n_img;
    /* block */
    rand_linear q, k, v, o, w1, w2, w3, mod;
    uint16_t *norm_q, *norm_k, *an1, *an2, *fn1, *fn2; /* bf16 */
    /* rest */
    rand_linear input_proj, llm_cond_proj, t_in, t_out, adaln_proj, final_mod, final_linear;
    uint16_t *llm_cond_norm;
    float *indicator; /* [2, D] */
    /* activations */
    float *h, *xn, *work, *cosb, *sinb, *modb, *cc; /* cc: [A] block conditioning */
    int64_t *pos;
    float *x, *feat, *txt, *vec, *velocity;          /* rest only */
};

i4_bench_dit_shape i4_bench_dit_real_shape(void) {
    i4_bench_dit_shape s = {4608, 18, 12288, 512, 128, 53248};
    return s;
}

static inline float rnd(float v, int bf) { return bf ? i4_round_bf16(v) : v; }

/* ------------------------------------------------------------ sizes */

static double lin_bytes(int64_t out, int64_t in) { return (double)out * (double)in + 6.0 * (double)out; }

/* Columns of the work buffer: q|k|v|att, or w1|w3 outputs, or the rounded latents. */
static int64_t work_cols(const i4_bench_dit_shape *s) {
    int64_t c = 4 * s->dim > 2 * s->ffn ? 4 * s->dim : 2 * s->ffn;
    return c > s->in_channels ? c : s->in_channels;
}

double i4_bench_dit_bytes(const i4_bench_dit_shape *s, int64_t n_txt, int64_t n_img, int with_rest) {
    const double D = (double)s->dim, A = (double)s->adaln, L = (double)(n_txt + n_img);
    const double hd = D / (double)s->heads;
    double b = 4 * lin_bytes(s->dim, s->dim) + 2 * lin_bytes(s->ffn, s->dim) + lin_bytes(s->dim, s->ffn) +
               lin_bytes(4 * s->dim, s->adaln);
    b += 4.0 * (2 * L * D + L * (double)work_cols(s) + 2 * L * hd + 4 * D + A) + 8.0 * 3 * L;
    if (with_rest) {
        const double C = (double)s->in_channels, F = (double)s->llm_features;
        const double tr = (double)(n_txt < TEXT_CHUNK ? n_txt : TEXT_CHUNK);
        b += lin_bytes(s->dim, s->in_channels) + lin_bytes(s->dim, s->llm_features) + 2 * lin_bytes(s->dim, s->dim) +
             lin_bytes(s->adaln, s->dim) + lin_bytes(s->dim, s->adaln) + lin_bytes(s->in_channels, s->dim);
        b += 4.0 * ((double)n_img * C + (double)n_txt * F + tr * F + 3 * D + 2 * A + L * C + 2 * D) + 2.0 * F;
    }
    return b;
}

/* ------------------------------------------------------------ weights */

static int make_linear(rand_linear *l, int64_t out, int64_t in, int bias, uint64_t seed) {
    memset(l, 0, sizeof *l);
    l->data = malloc((size_t)(out * in));
    l->scale = malloc((size_t)out * sizeof *l->scale);
    if (bias) l->bias = malloc((size_t)out * sizeof *l->bias);
    if (!l->data || !l->scale || (bias && !l->bias)) return i4_error("out of memory (a %lld x %lld Linear)", (long long)out, (long long)in);
    const float a = sqrtf(3.0f / (float)in); /* output RMS ~ input RMS */
    i4_fill_weights(l->data, l->scale, I4_DT_F8_E4M3, out, in, a, seed);
    if (bias) i4_fill_weights(l->bias, NULL, I4_DT_BF16, out, 1, 0.1f, seed + 1);
    l->w.dtype = I4_DT_F8_E4M3;
    l->w.w = l->data;
    l->w.scale = l->scale;
    l->w.scale_per_tensor = 0;
    l->w.bias_dtype = I4_DT_BF16;
    l->w.bias = l->bias;
    l->w.out = out;
    l->w.in = in;
    return 0;
}

static void free_linear(rand_linear *l) {
    free(l->data);
    free(l->scale);
    free(l->bias);
}

/* A norm weight near 1 (bf16). */
static uint16_t *make_norm(int64_t n, uint64_t seed) {
    uint16_t *w = malloc((size_t)n * sizeof *w);
    if (!w) return NULL;
    i4_fill_weights(w, NULL, I4_DT_BF16, n, 1, 0.1f, seed);
    for (int64_t i = 0; i < n; i++) w[i] = i4_f32_to_bf16(1.0f + i4_bf16_to_f32(w[i]));
    return w;
}

static float *make_f32(int64_t n, float a, uint64_t seed, int bf) {
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
    if (x) i4_fill_uniform(x, n, a, seed, bf);
    return x;
}

int i4_bench_dit_create(i4_bench_dit **out, const i4_bench_dit_shape *s, int64_t n_txt, int64_t n_img,
                        int with_rest, i4_precision p, uint64_t seed) {
    *out = NULL;
    if (s->heads <= 0 || s->dim % s->heads != 0 || (s->dim / s->heads) % 2 != 0)
        return i4_error("dit: the width %lld must be a multiple of heads (%lld) with an even head size",
                        (long long)s->dim, (long long)s->heads);
    if (n_txt < 0 || n_img < 0 || n_txt + n_img <= 0) return i4_error("dit: no tokens");
    i4_bench_dit *b = calloc(1, sizeof *b);
    if (!b) return i4_error("out of memory");
    b->s = *s;
    b->p = p;
    b->with_rest = with_rest;
    b->max_txt = n_txt;
    b->max_img = n_img;
    const int bf = p == I4_PRECISION_BF16;
    const int64_t D = s->dim, I = s->ffn, A = s->adaln, L = n_txt + n_img, hd = D / s->heads;
    const int64_t C = s->in_channels, F = s->llm_features;
    int rc = 0;
    rc |= make_linear(&b->q, D, D, 0, seed + 10);
    rc |= make_linear(&b->k, D, D, 0, seed + 20);
    rc |= make_linear(&b->v, D, D, 0, seed + 30);
    rc |= make_linear(&b->o, D, D, 0, seed + 40);
    rc |= make_linear(&b->w1, I, D, 0, seed + 50);
    rc |= make_linear(&b->w2, D, I, 0, seed + 60);
    rc |= make_linear(&b->w3, I, D, 0, seed + 70);
    rc |= make_linear(&b->mod, 4 * D, A, 1, seed + 80);
    b->norm_q = make_norm(hd, seed + 90);
    b->norm_k = make_norm(hd, seed + 91);
    b->an1 = make_norm(D, seed + 92);
    b->an2 = make_norm(D, seed + 93);
    b->fn1 = make_norm(D, seed + 94);
    b->fn2 = make_norm(D, seed + 95);
    b->h = make_f32(L * D, 1.0f, seed + 100, bf);
    b->xn = malloc((size_t)(L * D) * sizeof *b->xn);
    b->work = malloc((size_t)(L * work_cols(s)) * sizeof *b->work);
    b->cosb = malloc((size_t)(L * hd) * sizeof *b->cosb);
    b->sinb = malloc((size_t)(L * hd) * sizeof *b->sinb);
    b->modb = malloc((size_t)(4 * D) * sizeof *b->modb);
    b->cc = make_f32(A, 1.0f, seed + 101, bf);
    b->pos = malloc((size_t)(3 * L) * sizeof *b->pos);
    if (rc || !b->norm_q || !b->norm_k || !b->an1 || !b->an2 || !b->fn1 || !b->fn2 || !b->h || !b->xn || !b->work ||
        !b->cosb || !b->sinb || !b->modb || !b->cc || !b->pos) {
        i4_bench_dit_free(b);
        return i4_error("dit: out of memory (%lld tokens, width %lld)", (long long)L, (long long)D);
    }
    if (with_rest) {
        rc |= make_linear(&b->input_proj, D, C, 1, seed + 200);
        rc |= make_linear(&b->llm_cond_proj, D, F, 1, seed + 210);
        rc |= make_linear(&b->t_in, D, D, 1, seed + 220);
        rc |= make_linear(&b->t_out, D, D, 1, seed + 230);
        rc |= make_linear(&b->adaln_proj, A, D, 1, seed + 240);
        rc |= make_linear(&b->final_mod, D, A, 1, seed + 250);
        rc |= make_linear(&b->final_linear, C, D, 1, seed + 260);
        b->llm_cond_norm = make_norm(F, seed + 270);
        b->indicator = make_f32(2 * D, 0.1f, seed + 280, bf);
        b->x = make_f32(n_img * C, 1.0f, seed + 290, 0);
        b->feat = make_f32(n_txt * F, 1.0f, seed + 300, 0);
        const int64_t tr = n_txt < TEXT_CHUNK ? n_txt : TEXT_CHUNK;
        b->txt = malloc((size_t)(tr * F > 0 ? tr * F : 1) * sizeof *b->txt);
        b->vec = malloc((size_t)(3 * D + 2 * A) * sizeof *b->vec);
        b->velocity = malloc((size_t)(L * C) * sizeof *b->velocity);
        if (rc || !b->llm_cond_norm || !b->indicator || !b->x || !b->feat || !b->txt || !b->vec || !b->velocity) {
            i4_bench_dit_free(b);
            return i4_error("dit: out of memory (the weights outside the blocks, %lld text features)", (long long)F);
        }
    }
    i4_bench_dit_set_tokens(b, n_txt, n_img);
    *out = b;
    return 0;
}

void i4_bench_dit_free(i4_bench_dit *b) {
    if (!b) return;
    rand_linear *lins[] = {&b->q, &b->k, &b->v, &b->o, &b->w1, &b->w2, &b->w3, &b->mod, &b->input_proj,
                           &b->llm_cond_proj, &b->t_in, &b->t_out, &b->adaln_proj, &b->final_mod, &b->final_linear};
    for (size_t i = 0; i < sizeof lins / sizeof lins[0]; i++) free_linear(lins[i]);
    free(b->norm_q); free(b->norm_k); free(b->an1); free(b->an2); free(b->fn1); free(b->fn2);
    free(b->llm_cond_norm); free(b->indicator);
    free(b->h); free(b->xn); free(b->work); free(b->cosb); free(b->sinb); free(b->modb); free(b->cc);
    free(b->pos); free(b->x); free(b->feat); free(b->txt); free(b->vec); free(b->velocity);
    free(b);
}

/* Positions of MODEL.md §4.1: text i -> (i, i, i); image k on a square-ish grid. */
static void make_positions(int64_t *pos, int64_t n_txt, int64_t n_img) {
    int64_t gw = (int64_t)ceil(sqrt((double)n_img));
    if (gw < 1) gw = 1;
    for (int64_t i = 0; i < n_txt; i++) pos[3 * i] = pos[3 * i + 1] = pos[3 * i + 2] = i;
    for (int64_t k = 0; k < n_img; k++) {
        int64_t *p = pos + 3 * (n_txt + k);
        p[0] = IMAGE_POS0;
        p[1] = IMAGE_POS0 + k / gw;
        p[2] = IMAGE_POS0 + k % gw;
    }
}

static void rope_tables(i4_bench_dit *b) {
    static const int sections[3] = {24, 20, 20}; /* MODEL.md §3.6 defaults */
    const int hd = (int)(b->s.dim / b->s.heads);
    i4_rope_table_mrope(b->cosb, b->sinb, b->pos, b->n_txt + b->n_img, hd, 5e6, sections, b->p);
}

void i4_bench_dit_set_tokens(i4_bench_dit *b, int64_t n_txt, int64_t n_img) {
    b->n_txt = n_txt < b->max_txt ? n_txt : b->max_txt;
    b->n_img = n_img < b->max_img ? n_img : b->max_img;
    make_positions(b->pos, b->n_txt, b->n_img);
    rope_tables(b);
}

/* ------------------------------------------------------------ block */

static void mul_rows(float *x, const float *s, int64_t rows, int64_t dim, int bf) {
#pragma omp parallel for schedule(static) if (rows * dim > 65536)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < dim; i++) x[r * dim + i] = rnd(x[r * dim + i] * s[i], bf);
}

static void gated_residual(float *h, const float *a, const float *g, int64_t rows, int64_t dim, int bf) {
#pragma omp parallel for schedule(static) if (rows * dim > 65536)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < dim; i++) h[r * dim + i] = rnd(h[r * dim + i] + rnd(g[i] * a[r * dim + i], bf), bf);
}

void i4_bench_dit_block(i4_bench_dit *b) {
    const i4_precision p = b->p;
    const int bf = p == I4_PRECISION_BF16;
    const int64_t D = b->s.dim, I = b->s.ffn, A = b->s.adaln, L = b->n_txt + b->n_img;
    const int H = (int)b->s.heads, hd = (int)(D / b->s.heads);
    const float eps = 1e-5f, att_scale = 1.0f / sqrtf((float)hd);
    float *h = b->h, *xn = b->xn, *work = b->work, *modb = b->modb;
    float *q = work, *kk = work + L * D, *v = work + 2 * L * D, *att = work + 3 * L * D;
    float *f1 = work, *f3 = work + L * I;

    i4_linear(&b->mod.w, b->cc, A, 1, modb, 4 * D, p);
    float *s_a = modb, *g_a = modb + D, *s_f = modb + 2 * D, *g_f = modb + 3 * D;
    for (int64_t i = 0; i < D; i++) {
        s_a[i] = rnd(1.0f + s_a[i], bf);
        s_f[i] = rnd(1.0f + s_f[i], bf);
    }
    i4_tanh(g_a, D, p);
    i4_tanh(g_f, D, p);

    /* attention sub-layer */
    i4_rmsnorm(xn, h, L, D, D, I4_DT_BF16, b->an1, eps, p, I4_RMS_ROUND_ONCE);
    mul_rows(xn, s_a, L, D, bf);
    i4_linear(&b->q.w, xn, D, L, q, D, p);
    i4_linear(&b->k.w, xn, D, L, kk, D, p);
    i4_linear(&b->v.w, xn, D, L, v, D, p);
    i4_rmsnorm(q, q, L * H, hd, hd, I4_DT_BF16, b->norm_q, eps, p, I4_RMS_ROUND_ONCE);
    i4_rmsnorm(kk, kk, L * H, hd, hd, I4_DT_BF16, b->norm_k, eps, p, I4_RMS_ROUND_ONCE);
    i4_rope_apply(q, L, H, hd, D, b->cosb, b->sinb, p);
    i4_rope_apply(kk, L, H, hd, D, b->cosb, b->sinb, p);
    i4_attention(att, D, q, D, kk, D, v, D, L, L, H, H, hd, att_scale, I4_MASK_NONE, NULL, p);
    i4_linear(&b->o.w, att, D, L, xn, D, p);
    i4_rmsnorm(xn, xn, L, D, D, I4_DT_BF16, b->an2, eps, p, I4_RMS_ROUND_ONCE);
    gated_residual(h, xn, g_a, L, D, bf);

    /* feed-forward sub-layer */
    i4_rmsnorm(xn, h, L, D, D, I4_DT_BF16, b->fn1, eps, p, I4_RMS_ROUND_ONCE);
    mul_rows(xn, s_f, L, D, bf);
    i4_linear(&b->w1.w, xn, D, L, f1, I, p);
    i4_linear(&b->w3.w, xn, D, L, f3, I, p);
    i4_silu(f1, L * I, p);
#pragma omp parallel for schedule(static) if (L * I > 65536)
    for (int64_t i = 0; i < L * I; i++) f1[i] = rnd(f1[i] * f3[i], bf);
    i4_linear(&b->w2.w, f1, I, L, xn, D, p);
    i4_rmsnorm(xn, xn, L, D, D, I4_DT_BF16, b->fn2, eps, p, I4_RMS_ROUND_ONCE);
    gated_residual(h, xn, g_f, L, D, bf);
}

/* ------------------------------------------------------------ the rest of a forward */

static void timestep_features(float *emb, int64_t D, float t, int bf) {
    const int64_t half = D / 2;
    const float s = 1e4f * t;
    const float coef = (float)(-log(1e4) / (double)(half > 1 ? half - 1 : 1));
    for (int64_t j = 0; j < half; j++) {
        float arg = s * (float)exp((double)((float)j * coef));
        emb[j] = rnd((float)sin((double)arg), bf);
        emb[half + j] = rnd((float)cos((double)arg), bf);
    }
    if (D % 2) emb[D - 1] = 0;
}

static void copy_rows(float *dst, const float *src, int64_t n, int bf) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) dst[i] = rnd(src[i], bf);
}

void i4_bench_dit_rest(i4_bench_dit *b) {
    if (!b->with_rest) return;
    const i4_precision p = b->p;
    const int bf = p == I4_PRECISION_BF16;
    const int64_t D = b->s.dim, A = b->s.adaln, C = b->s.in_channels, F = b->s.llm_features;
    const int64_t n_txt = b->n_txt, n_img = b->n_img, L = n_txt + n_img;
    float *h = b->h, *xn = b->xn;

    /* Image rows (they follow the text rows): input_proj of the rounded latents. */
    if (n_img > 0) {
        float *xi = b->work;
        copy_rows(xi, b->x, n_img * C, bf);
        i4_linear(&b->input_proj.w, xi, C, n_img, h + n_txt * D, D, p);
    }
    /* Time embedding and the adaLN conditioning (one row each). */
    float *emb = b->vec, *t1 = emb + D, *tc = emb + 2 * D, *cc = emb + 3 * D, *cf = cc + A;
    timestep_features(emb, D, 0.5f, bf);
    i4_linear(&b->t_in.w, emb, D, 1, t1, D, p);
    i4_silu(t1, D, p);
    i4_linear(&b->t_out.w, t1, D, 1, tc, D, p);
    i4_linear(&b->adaln_proj.w, tc, D, 1, cc, A, p);
    i4_silu(cc, A, p);
    memcpy(cf, cc, (size_t)A * sizeof *cf);
    i4_silu(cf, A, p);
    /* Text rows: RMSNorm over F and llm_cond_proj, TEXT_CHUNK rows at a time. */
    for (int64_t r0 = 0; r0 < n_txt; r0 += TEXT_CHUNK) {
        const int64_t nr = n_txt - r0 < TEXT_CHUNK ? n_txt - r0 : TEXT_CHUNK;
        copy_rows(b->txt, b->feat + r0 * F, nr * F, bf);
        i4_rmsnorm(b->txt, b->txt, nr, F, F, I4_DT_BF16, b->llm_cond_norm, 1e-6f, p, I4_RMS_ROUND_ONCE);
        i4_linear(&b->llm_cond_proj.w, b->txt, F, nr, h + r0 * D, D, p);
    }
    /* Role embedding. */
#pragma omp parallel for schedule(static) if (L * D > 65536)
    for (int64_t n = 0; n < L; n++) {
        const float *e = b->indicator + (n >= n_txt ? D : 0);
        for (int64_t i = 0; i < D; i++) h[n * D + i] = rnd(h[n * D + i] + e[i], bf);
    }
    rope_tables(b);
    /* Final layer. */
    float *modb = b->modb;
    i4_linear(&b->final_mod.w, cf, A, 1, modb, D, p);
    for (int64_t i = 0; i < D; i++) modb[i] = rnd(1.0f + modb[i], bf);
    i4_layernorm_noaffine(xn, h, L, D, 1e-6f, p);
    mul_rows(xn, modb, L, D, bf);
    i4_linear(&b->final_linear.w, xn, D, L, b->velocity, C, p);
}

/* ------------------------------------------------------------ flops */

double i4_bench_dit_block_flops(const i4_bench_dit_shape *s, int64_t L) {
    const double D = (double)s->dim, I = (double)s->ffn, A = (double)s->adaln, n = (double)L;
    const double linears = 2.0 * n * (4.0 * D * D + 3.0 * D * I) + 2.0 * A * 4.0 * D;
    return linears + 4.0 * n * n * D;
}

double i4_bench_dit_rest_flops(const i4_bench_dit_shape *s, int64_t n_txt, int64_t n_img) {
    const double D = (double)s->dim, A = (double)s->adaln, C = (double)s->in_channels, F = (double)s->llm_features;
    const double L = (double)(n_txt + n_img);
    return 2.0 * (double)n_img * C * D + 2.0 * (2.0 * D * D + D * A) + 2.0 * (double)n_txt * F * D + 2.0 * A * D +
           2.0 * L * D * C;
}
