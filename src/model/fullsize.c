/*
 * fullsize.c — the full-size random checkpoint (see fullsize.h).
 *
 * Each component's tensors are declared by the tiny model's code
 * (i4_tiny_*_tensors) on a recording sink; the records become streamed
 * safetensors sources (i4_st_stream_save): nothing is generated before its
 * chunk is written. A tensor's bytes are a pure function of (key, byte
 * offset): word k of the tensor is mix64(key + (k + 1)·φ) (splitmix64's
 * output function, φ = 2^64 / golden ratio), and key mixes the seed with an
 * FNV-1a hash of "component/name".
 *
 *   F8_E4M3 weight  4 codes per word: fp8_tab[16-bit slice], the e4m3 code
 *                   of the N(0,1) quantile (j + 0.5) / 65536 of the slice
 *   F32 weight_scale std · (0.9 + 0.2 · u), u = top 53 bits of the word
 *   BF16            4 values per word: bf16(mean + std · normal_tab[slice])
 *
 * The quantile table is solved by bisection on erfc (libm, double), so it
 * is the same table on every machine with a correctly rounded erfc in the
 * bits that survive the rounding to e4m3 / f32.
 */
#include "model/fullsize.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/io.h"
#include "tensor/dtype.h"
#include "tensor/safetensors.h"

#define GOLDEN 0x9E3779B97F4A7C15ull
#define TAB 65536

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a(const char *a, const char *b) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *s = a; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    h = (h ^ '/') * 0x100000001b3ull;
    for (const char *s = b; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
    return h;
}

static inline uint64_t word(uint64_t key, uint64_t k) { return mix64(key + (k + 1) * GOLDEN); }

typedef struct {
    float normal[TAB];   /* index: sign bit 15, |quantile| index in bits 0-14 */
    uint8_t fp8[TAB];    /* e4m3 codes of normal[] */
} tables;

/* x > 0 with P(Z > x) = q, 0 < q < 0.5 (bisection: the tail is monotone). */
static double upper_quantile(double q) {
    double lo = 0, hi = 40;
    for (int i = 0; i < 200 && hi - lo > 0; i++) {
        double mid = 0.5 * (lo + hi);
        if (mid == lo || mid == hi) break;
        if (0.5 * erfc(mid / sqrt(2.0)) > q) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

static void tables_init(tables *t) {
    for (int j = 0; j < TAB / 2; j++) {
        float x = (float)upper_quantile(0.5 - (j + 0.5) / TAB);
        t->normal[j] = x;
        t->normal[j + TAB / 2] = -x;
    }
    for (int i = 0; i < TAB; i++) t->fp8[i] = i4_f32_to_fp8_e4m3(t->normal[i]);
}

/* ------------------------------------------------------------ generators */

typedef enum { GEN_FP8, GEN_SCALE, GEN_BF16, GEN_RAW } gen_kind;

typedef struct {
    gen_kind kind;
    uint64_t key;
    double mean, std;
    uint8_t *raw;          /* GEN_RAW: an owned copy of the bytes */
    const tables *tab;
} gen;

static int fill(const void *ctx, uint8_t *dst, uint64_t off, size_t n) {
    const gen *g = ctx;
    switch (g->kind) {
    case GEN_FP8: {
        uint64_t i = off;
        const uint64_t end = off + n;
        while (i < end && (i & 3)) { /* head: part of a word */
            dst[i - off] = g->tab->fp8[(word(g->key, i >> 2) >> (16 * (i & 3))) & 0xffff];
            i++;
        }
        for (; i + 4 <= end; i += 4) {
            uint64_t w = word(g->key, i >> 2);
            uint8_t *d = dst + (i - off);
            d[0] = g->tab->fp8[w & 0xffff];
            d[1] = g->tab->fp8[(w >> 16) & 0xffff];
            d[2] = g->tab->fp8[(w >> 32) & 0xffff];
            d[3] = g->tab->fp8[w >> 48];
        }
        for (; i < end; i++) dst[i - off] = g->tab->fp8[(word(g->key, i >> 2) >> (16 * (i & 3))) & 0xffff];
        return 0;
    }
    case GEN_SCALE: {
        if (off % 4 || n % 4) return i4_error("unaligned F32 chunk");
        for (uint64_t e = off / 4; e < (off + n) / 4; e++) {
            double u = (double)(word(g->key, e) >> 11) * 0x1p-53;
            float v = (float)(g->std * (0.9 + 0.2 * u));
            memcpy(dst + (e * 4 - off), &v, 4);
        }
        return 0;
    }
    case GEN_BF16: {
        if (off % 2 || n % 2) return i4_error("unaligned BF16 chunk");
        const float mean = (float)g->mean, std = (float)g->std;
        for (uint64_t e = off / 2; e < (off + n) / 2; e++) {
            uint64_t w = word(g->key, e >> 2);
            float z = g->tab->normal[(w >> (16 * (e & 3))) & 0xffff];
            uint16_t b = i4_f32_to_bf16(mean + std * z);
            memcpy(dst + (e * 2 - off), &b, 2);
        }
        return 0;
    }
    case GEN_RAW: memcpy(dst, g->raw + off, n); return 0;
    }
    return i4_error("unknown generator");
}

/* ------------------------------------------------------- recording sink */

typedef struct {
    i4_tensor_sink base;
    const char *component;
    uint64_t seed_key;
    const tables *tab;
    i4_st_source *src;
    gen *gens;
    char **names;
    size_t n, cap;
    uint64_t elements, data_bytes; /* declared so far */
} plan_sink;

static int add(plan_sink *p, const char *name, i4_dtype dt, int ndim, const int64_t *shape, gen g) {
    if (p->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 256;
        i4_st_source *s = realloc(p->src, nc * sizeof *s);
        if (s) p->src = s;
        gen *gg = realloc(p->gens, nc * sizeof *gg);
        if (gg) p->gens = gg;
        char **nm = realloc(p->names, nc * sizeof *nm);
        if (nm) p->names = nm;
        if (!s || !gg || !nm) {
            free(g.raw);
            return i4_error("out of memory");
        }
        p->cap = nc;
    }
    char *copy = strdup(name);
    if (!copy) {
        free(g.raw);
        return i4_error("out of memory");
    }
    i4_st_source *s = &p->src[p->n];
    memset(s, 0, sizeof *s);
    s->name = copy;
    s->dtype = dt;
    s->ndim = ndim;
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        s->shape[i] = shape[i];
        numel *= (uint64_t)shape[i];
    }
    s->fill = fill;
    g.key = mix64(p->seed_key ^ fnv1a(p->component, name));
    g.tab = p->tab;
    p->gens[p->n] = g;
    p->names[p->n] = copy;
    p->n++;
    p->elements += numel;
    p->data_bytes += numel * i4_dtype_size(dt);
    return 0;
}

static int plan_linear_fp8(i4_tensor_sink *s, const char *prefix, int64_t out, int64_t in, double std,
                           double bias_std) {
    plan_sink *p = (plan_sink *)s;
    char name[512];
    const int64_t wshape[2] = {out, in}, sshape[1] = {out};
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (add(p, name, I4_DT_F8_E4M3, 2, wshape, (gen){.kind = GEN_FP8}) != 0) return -1;
    snprintf(name, sizeof name, "%s.weight_scale", prefix);
    if (add(p, name, I4_DT_F32, 1, sshape, (gen){.kind = GEN_SCALE, .std = std}) != 0) return -1;
    if (bias_std <= 0) return 0;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return add(p, name, I4_DT_BF16, 1, sshape, (gen){.kind = GEN_BF16, .std = bias_std});
}

static int plan_bf16(i4_tensor_sink *s, const char *name, int ndim, const int64_t *shape, double mean, double std) {
    return add((plan_sink *)s, name, I4_DT_BF16, ndim, shape, (gen){.kind = GEN_BF16, .mean = mean, .std = std});
}

static int plan_raw(i4_tensor_sink *s, const char *name, i4_dtype dtype, int ndim, const int64_t *shape,
                    const void *data) {
    size_t n = i4_dtype_size(dtype);
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) return i4_error("out of memory");
    memcpy(copy, data, n);
    return add((plan_sink *)s, name, dtype, ndim, shape, (gen){.kind = GEN_RAW, .raw = copy});
}

static void plan_free(plan_sink *p) {
    for (size_t i = 0; i < p->n; i++) {
        free(p->names[i]);
        free(p->gens[i].raw);
    }
    free(p->src);
    free(p->gens);
    free(p->names);
}

/* ------------------------------------------------------------ components */

typedef enum { C_DIT, C_TE, C_VAE } comp_kind;

typedef struct {
    const char *folder, *stem;
    comp_kind kind;
    plan_sink plan;
    uint64_t bytes; /* of its weight files */
} component;

static int declare(component *c, const i4_fullsize_dims *d, uint64_t seed, const tables *tab) {
    plan_sink *p = &c->plan;
    memset(p, 0, sizeof *p);
    p->base = (i4_tensor_sink){plan_linear_fp8, plan_bf16, plan_raw};
    p->component = c->folder;
    p->seed_key = mix64(seed + GOLDEN);
    p->tab = tab;
    int rc = c->kind == C_DIT  ? i4_tiny_dit_tensors(&p->base, &d->dit)
             : c->kind == C_TE ? i4_tiny_qwen3_tensors(&p->base, &d->te)
                               : i4_tiny_vae_tensors(&p->base, d->vae_widths);
    /* ctx pointers only now: the arrays moved while growing. */
    for (size_t i = 0; rc == 0 && i < p->n; i++) p->src[i].ctx = &p->gens[i];
    return rc;
}

typedef struct {
    component *c;
    FILE *out; /* NULL: only count */
} describe_ctx;

static void on_file(void *user, const char *file, uint64_t bytes, const i4_st_source *const *t, size_t n) {
    describe_ctx *dc = user;
    dc->c->bytes += bytes;
    if (!dc->out) return;
    char sb[160];
    fprintf(dc->out, "file %s/%s %llu\n", dc->c->folder, file, (unsigned long long)bytes);
    for (size_t i = 0; i < n; i++) {
        uint64_t nb = i4_dtype_size(t[i]->dtype);
        for (int k = 0; k < t[i]->ndim; k++) nb *= (uint64_t)t[i]->shape[k];
        fprintf(dc->out, "tensor %s/%s %s %s %s %llu\n", dc->c->folder, file, t[i]->name, i4_dtype_name(t[i]->dtype),
                i4_shape_str(sb, sizeof sb, t[i]->ndim, t[i]->shape), (unsigned long long)nb);
    }
}

typedef struct {
    const i4_fullsize_options *o;
    uint64_t base, total;
} progress_ctx;

static void on_progress(void *user, uint64_t done) {
    progress_ctx *pc = user;
    if (pc->o->progress) pc->o->progress(pc->o->user, pc->base + done, pc->total);
}

static void print_dims(FILE *f, const i4_fullsize_dims *d, const component *comps, int n) {
    const i4_tiny_dit_dims_t *t = &d->dit;
    const i4_tiny_qwen3_dims_t *q = &d->te;
    fprintf(f,
            "dims transformer hidden %lld heads %lld head_dim %lld ffn %lld adaln %lld text_features %lld "
            "in_channels %lld layers %lld\n",
            (long long)t->dim, (long long)(t->dim / t->head_dim), (long long)t->head_dim, (long long)t->ffn_dim,
            (long long)t->adaln_dim, (long long)t->llm_features, (long long)t->in_channels, (long long)t->n_layers);
    fprintf(f, "dims text_encoder hidden %lld heads %lld kv_heads %lld head_dim %lld ffn %lld vocab %lld layers %lld\n",
            (long long)q->hidden, (long long)q->n_heads, (long long)q->n_kv_heads, (long long)q->head_dim,
            (long long)q->ffn_dim, (long long)q->vocab, (long long)q->n_layers);
    fprintf(f, "dims vae widths %lld %lld %lld %lld\n", (long long)d->vae_widths[0], (long long)d->vae_widths[1],
            (long long)d->vae_widths[2], (long long)d->vae_widths[3]);
    for (int i = 0; i < n; i++)
        fprintf(f, "elements %s %llu\ndata %s %llu\nbytes %s %llu\n", comps[i].folder,
                (unsigned long long)comps[i].plan.elements, comps[i].folder,
                (unsigned long long)comps[i].plan.data_bytes, comps[i].folder, (unsigned long long)comps[i].bytes);
}

/* Free space on the file system that will hold dir (its nearest existing
 * folder), checked before anything is created. */
static int check_space(const char *dir, uint64_t need) {
    char probe[PATH_MAX];
    struct stat st;
    snprintf(probe, sizeof probe, "%s", dir);
    while (stat(probe, &st) != 0) {
        char *slash = strrchr(probe, '/');
        if (!slash) {
            snprintf(probe, sizeof probe, ".");
            break;
        }
        if (slash == probe) slash[1] = 0;
        else *slash = 0;
    }
    return i4_check_free_space(probe, need);
}

void i4_fullsize_dims_real(i4_fullsize_dims *d) {
    memset(d, 0, sizeof *d);
    d->dit = (i4_tiny_dit_dims_t){
        .dim = 4608, .in_channels = 128, .n_layers = 34, .head_dim = 256, .ffn_dim = 12288, .adaln_dim = 512,
        .llm_features = 13 * 4096, .mrope_section = {24, 20, 20},
    };
    d->te = (i4_tiny_qwen3_dims_t){
        .vocab = 151936, .hidden = 4096, .n_layers = 36, .n_heads = 32, .n_kv_heads = 8, .head_dim = 128,
        .ffn_dim = 12288,
    };
    const int64_t w[4] = {128, 256, 512, 512};
    memcpy(d->vae_widths, w, sizeof w);
}

int i4_make_fullsize_model(const char *dir, const i4_fullsize_dims *d, const i4_fullsize_options *o,
                           uint64_t *total_bytes) {
    component comps[4] = {
        {.folder = "transformer", .stem = "diffusion_pytorch_model", .kind = C_DIT},
        {.folder = "unconditional_transformer", .stem = "diffusion_pytorch_model", .kind = C_DIT},
        {.folder = "text_encoder", .stem = "model", .kind = C_TE},
        {.folder = "vae", .stem = "diffusion_pytorch_model", .kind = C_VAE},
    };
    component *all = comps;
    int nc = 0;
    /* the components asked for, in order */
    for (int i = 0; i < 4; i++)
        if (!o->components || (o->components & (1u << i))) all[nc++] = comps[i];
    tables *tab = malloc(sizeof *tab);
    if (!tab) return i4_error("out of memory");
    tables_init(tab);
    int rc = 0, declared = 0;
    uint64_t total = 0;
    /* 1. Declare everything and size the files. */
    for (; declared < nc && rc == 0; declared++) {
        rc = declare(&comps[declared], d, o->seed, tab);
        describe_ctx dc = {&comps[declared], NULL};
        if (rc == 0)
            rc = i4_st_stream_describe(comps[declared].plan.src, comps[declared].plan.n, comps[declared].stem,
                                       o->shard_bytes, on_file, &dc);
        total += comps[declared].bytes;
        if (rc != 0) i4_error_prefix("%s", comps[declared].folder);
    }
    if (rc == 0 && o->plan) {
        /* 2a. Only describe. */
        for (int i = 0; i < nc; i++) {
            describe_ctx dc = {&comps[i], o->plan};
            comps[i].bytes = 0;
            i4_st_stream_describe(comps[i].plan.src, comps[i].plan.n, comps[i].stem, o->shard_bytes, on_file, &dc);
        }
        print_dims(o->plan, d, comps, nc);
        fprintf(o->plan, "total %llu\n", (unsigned long long)total);
    } else if (rc == 0) {
        /* 2b. Write: small files (tokenizer ~11 MB: 32 MB spare), then each component. */
        char path[PATH_MAX];
        if (check_space(dir, total + ((uint64_t)32 << 20)) != 0 || i4_mkdirs(dir) != 0 ||
            (!o->components && i4_tiny_write_common(dir, o->tokenizer_dir, "_ideogram4c_full_size") != 0))
            rc = -1;
        progress_ctx pc = {o, 0, total};
        for (int i = 0; i < nc && rc == 0; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, comps[i].folder);
            rc = comps[i].kind == C_DIT  ? i4_tiny_dit_config(path, &d->dit)
                 : comps[i].kind == C_TE ? i4_tiny_qwen3_config(path, &d->te)
                                         : i4_tiny_vae_config(path, d->vae_widths);
            if (rc == 0)
                rc = i4_st_stream_save(comps[i].plan.src, comps[i].plan.n, path, comps[i].stem, o->shard_bytes,
                                       on_progress, &pc);
            pc.base += comps[i].bytes;
        }
    }
    for (int i = 0; i < declared; i++) plan_free(&comps[i].plan);
    free(tab);
    if (rc == 0 && total_bytes) *total_bytes = total;
    return rc;
}
