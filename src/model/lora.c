/*
 * lora.c — LoRA / LoKr adapters for the Ideogram 4 transformer (docs/MODEL.md §9).
 *
 * A file's keys are grouped by module: `{prefix}P.<suffix>`, with the prefix
 * stripped and diffusers split names mapped onto the fused tensors (§9.2):
 *   attention.to_q / to_k / to_v -> rows [0,D) / [D,2D) / [2D,3D) of attention.qkv
 *   attention.to_out.0           -> attention.o
 * kohya flattened stems (`lora_unet_layers_0_attention_qkv`) keep their '_'
 * form and are resolved against the model's module names ('.' -> '_'; the
 * diffusers aliases above included) when applied.
 *
 * Per group, with strength s (§9.3, §9.4):
 *   LoRA  A [r, in], B [rows, r]:  dW = scale · B·A,  scale = alpha / r
 *         (alpha: the group's `.alpha` tensor, else the diffusers header's
 *         alpha_pattern / lora_alpha (/ sqrt(r) with use_rslora), else scale 1)
 *   LoKr  W1 = w1 | w1_a·w1_b [m, n],  W2 = w2 | w2_a·w2_b [p, q]:
 *         dW[i·p + a, j·q + b] = scale · W1[i, j] · W2[a, b]     ([m·p, n·q])
 *         scale = alpha / r with r = rows(w2_b) if W2 is factorised, else
 *         rows(w1_b) if W1 is; 1 when both are full or alpha is absent.
 *   W' = W_base + Σ_lora s · dW, computed in f32, where W_base is decoded as
 *   the kernels decode it: FP8 e4m3·scale (f32 mode) or bf16(e4m3·bf16(scale))
 *   (bf16 mode; BF16/F16/F32 weights widened, rounded to bf16 in bf16 mode).
 *   The merged copy is stored F32 (f32 mode) or rounded once to BF16 (bf16
 *   mode) and installed with i4_dit_set_linear; the biases stay the
 *   checkpoint's. Modules no LoRA touches (or only strength-0 LoRAs) keep the
 *   mmap'd weights, so "remove" is "install NULL and free the copy".
 *
 * Memory: a merged copy is out·in·4 bytes (f32) or ·2 (bf16) per affected
 * module, plus one f32 scratch of the largest module in bf16 mode.
 */
#include "model/lora.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "model/weights.h"
#include "tensor/dtype.h"
#include "tensor/safetensors.h"

/* ------------------------------------------------------------ parsing */

enum { T_A, T_B, T_ALPHA, T_W1, T_W1A, T_W1B, T_W2, T_W2A, T_W2B, T_COUNT };
enum { K_PEFT = 1, K_KOHYA = 2, K_LOKR = 4 };

static const struct {
    const char *suffix;
    int slot, kind;
} SUFFIXES[] = {
    {".lora_A.weight", T_A, K_PEFT},     {".lora_B.weight", T_B, K_PEFT},   {".lora_down.weight", T_A, K_KOHYA},
    {".lora_up.weight", T_B, K_KOHYA},   {".alpha", T_ALPHA, 0},            {".lokr_w1", T_W1, K_LOKR},
    {".lokr_w1_a", T_W1A, K_LOKR},       {".lokr_w1_b", T_W1B, K_LOKR},     {".lokr_w2", T_W2, K_LOKR},
    {".lokr_w2_a", T_W2A, K_LOKR},       {".lokr_w2_b", T_W2B, K_LOKR},
};

/* Recognised but unsupported, with the reason given in the error
 * (suffix = 1: the key ends with `needle`; 0: contains it). */
static const struct {
    const char *needle, *why;
    int suffix;
} UNSUPPORTED[] = {
    {".dora_scale", "DoRA magnitude vectors are not supported", 1},
    {".lokr_t2", "LoKr Tucker cores (lokr_t2) apply to convolutions only", 1},
    {".hada_", "LoHa (hada_*) adapters are not supported", 0},
    {".lora_mid", "LoCon mid (conv) weights are not supported", 0},
    {".lora_A.bias", "LoRA biases are not supported", 1},
    {".lora_B.bias", "LoRA biases are not supported", 1},
    {".lora_up.bias", "LoRA biases are not supported", 1},
    {".diff", "full-weight difference adapters are not supported", 1},
    {".diff_b", "full-weight difference adapters are not supported", 1},
};

static const char *const PREFIXES[] = {"base_model.model.", "model.diffusion_model.", "diffusion_model.",
                                       "conditional_transformer.", "transformer."};
static const char *const FLAT_PREFIXES[] = {"lora_unet_", "lora_transformer_", "lycoris_"};

typedef struct {
    char *stem;                /* key stem without prefix (diffusers names kept), or the flattened name */
    char *path;                /* official module path (qkv/o), or the flattened name when flat */
    int flat;
    int part;                  /* -1: whole module; 0/1/2: row third of attention.qkv */
    int kind;                  /* K_PEFT | K_KOHYA | K_LOKR bits seen */
    const i4_tensor *t[T_COUNT];
    float scale;
    int64_t rows, cols;        /* shape of dW */
} lgroup;

struct i4_lora {
    i4_tensor_set *set;
    char *path, *name;
    const char *format;
    lgroup *g;
    size_t n, cap;
};

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* f32 value of a 1-element float tensor. */
static int scalar_value(const i4_tensor *t, float *v) {
    if (t->numel != 1 || (t->dtype != I4_DT_F32 && t->dtype != I4_DT_BF16 && t->dtype != I4_DT_F16)) return -1;
    i4_tensor_to_f32(t, v);
    return 0;
}

/* Header metadata written by diffusers (`lora_adapter_metadata`: a JSON object
 * of LoraConfig fields, keys prefixed "transformer."). */
typedef struct {
    json_t *root;
    int has_alpha, rslora;
    double alpha;
    json_t *alpha_pattern;     /* object or NULL (borrowed from root) */
} peft_meta;

static json_t *meta_get(json_t *root, const char *key) {
    char buf[128];
    snprintf(buf, sizeof buf, "transformer.%s", key);
    json_t *v = json_object_get(root, buf);
    return v ? v : json_object_get(root, key);
}

static int read_meta(const i4_tensor_set *set, const char *path, peft_meta *pm) {
    memset(pm, 0, sizeof *pm);
    const char *text = i4_tensor_set_metadata(set, "lora_adapter_metadata");
    if (!text) return 0;
    json_error_t err;
    pm->root = json_loads(text, 0, &err);
    if (!pm->root || !json_is_object(pm->root))
        return i4_error("%s: header entry 'lora_adapter_metadata' is not a JSON object (%s)", path, err.text);
    json_t *v = meta_get(pm->root, "lora_alpha");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v)) return i4_error("%s: 'lora_alpha' in lora_adapter_metadata is not a number", path);
        pm->has_alpha = 1;
        pm->alpha = json_number_value(v);
    }
    v = meta_get(pm->root, "use_rslora");
    pm->rslora = v && json_is_true(v);
    v = meta_get(pm->root, "alpha_pattern");
    if (v && json_is_object(v) && json_object_size(v) > 0) pm->alpha_pattern = v;
    return 0;
}

/* PEFT pattern keys match a module name's end at a '.' boundary (a leading
 * '^' anchors at the start; "\." is a literal dot). Literal matching only —
 * the keys diffusers/PEFT write are module names, not general regexes. */
static int pattern_matches(const char *pattern, const char *module) {
    char pat[512];
    size_t n = 0;
    int anchored = pattern[0] == '^';
    for (const char *c = pattern + anchored; *c && n + 1 < sizeof pat; c++) {
        if (c[0] == '\\' && c[1] == '.') c++;
        pat[n++] = *c;
    }
    pat[n] = 0;
    if (n > 0 && pat[n - 1] == '$') pat[--n] = 0;
    size_t m = strlen(module);
    if (anchored) return strcmp(pat, module) == 0;
    if (m < n || strcmp(module + m - n, pat) != 0) return 0;
    return m == n || module[m - n - 1] == '.';
}

static lgroup *group_for(i4_lora *l, const char *stem) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->g[i].stem, stem) == 0) return &l->g[i];
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        lgroup *g = realloc(l->g, cap * sizeof *g);
        if (!g) return NULL;
        l->g = g;
        l->cap = cap;
    }
    lgroup *g = &l->g[l->n];
    memset(g, 0, sizeof *g);
    g->part = -1;
    if (!(g->stem = xstrdup(stem))) return NULL;
    l->n++;
    return g;
}

/* Module path and row part of a stripped (dotted) stem. */
static int map_path(lgroup *g) {
    static const char *const split[3] = {".attention.to_q", ".attention.to_k", ".attention.to_v"};
    const char *s = g->stem;
    size_t n = strlen(s);
    char buf[512];
    for (int p = 0; p < 3; p++) {
        if (ends_with(s, split[p])) {
            snprintf(buf, sizeof buf, "%.*s.attention.qkv", (int)(n - strlen(split[p])), s);
            g->part = p;
            return (g->path = xstrdup(buf)) ? 0 : -1;
        }
    }
    if (ends_with(s, ".attention.to_out.0")) {
        snprintf(buf, sizeof buf, "%.*s.attention.o", (int)(n - strlen(".attention.to_out.0")), s);
        return (g->path = xstrdup(buf)) ? 0 : -1;
    }
    return (g->path = xstrdup(s)) ? 0 : -1;
}

static int is_float_tensor(const i4_tensor *t) {
    return t->dtype == I4_DT_F32 || t->dtype == I4_DT_BF16 || t->dtype == I4_DT_F16;
}

/* A 2-D float factor. */
static int check_matrix(const char *file, const i4_tensor *t) {
    char sb[96];
    if (!is_float_tensor(t))
        return i4_error("LoRA %s: tensor '%s' has dtype %s (F32, BF16 or F16 expected)", file, t->name,
                        i4_dtype_name(t->dtype));
    if (t->ndim != 2 || t->shape[0] <= 0 || t->shape[1] <= 0)
        return i4_error("LoRA %s: tensor '%s' has shape %s, expected a 2-D matrix", file, t->name,
                        i4_shape_str(sb, sizeof sb, t->ndim, t->shape));
    return 0;
}

static const i4_tensor *any_tensor(const lgroup *g) {
    for (int i = 0; i < T_COUNT; i++)
        if (g->t[i]) return g->t[i];
    return NULL;
}

/* Check a (full | a·b) LoKr factor; returns its [rows, cols]. */
static int lokr_factor(const char *file, const lgroup *g, int full, int fa, int fb, const char *label, int64_t *rows,
                       int64_t *cols) {
    char s1[96], s2[96];
    const i4_tensor *w = g->t[full], *a = g->t[fa], *b = g->t[fb];
    if (w) {
        if (a || b) return i4_error("LoRA %s: '%s' has both lokr_%s and lokr_%s_a/_b", file, w->name, label, label);
        if (check_matrix(file, w) != 0) return -1;
        *rows = w->shape[0];
        *cols = w->shape[1];
        return 0;
    }
    if (!a || !b)
        return i4_error("LoRA %s: '%s' has no lokr_%s (nor both lokr_%s_a and lokr_%s_b)", file,
                        any_tensor(g)->name, label, label, label);
    if (check_matrix(file, a) != 0 || check_matrix(file, b) != 0) return -1;
    if (a->shape[1] != b->shape[0])
        return i4_error("LoRA %s: '%s' %s and '%s' %s cannot be multiplied", file, a->name,
                        i4_shape_str(s1, sizeof s1, a->ndim, a->shape), b->name,
                        i4_shape_str(s2, sizeof s2, b->ndim, b->shape));
    *rows = a->shape[0];
    *cols = b->shape[1];
    return 0;
}

/* Check a complete group, compute its dW shape and scale. */
static int finish_group(const i4_lora *l, lgroup *g, const peft_meta *pm) {
    char s1[96], s2[96];
    const char *file = l->path;
    float alpha = 0;
    int has_alpha = 0;
    if (g->t[T_ALPHA]) {
        if (scalar_value(g->t[T_ALPHA], &alpha) != 0)
            return i4_error("LoRA %s: '%s' must be a single float", file, g->t[T_ALPHA]->name);
        has_alpha = 1;
    }
    if ((g->kind & K_LOKR) && (g->kind & (K_PEFT | K_KOHYA)))
        return i4_error("LoRA %s: module '%s' mixes LoKr and LoRA tensors", file, g->stem);
    if (g->kind & (K_PEFT | K_KOHYA)) {
        const i4_tensor *a = g->t[T_A], *b = g->t[T_B];
        if (!a || !b) {
            const i4_tensor *have = a ? a : b;
            return i4_error("LoRA %s: '%s' has no matching %s", file, have->name,
                            a ? (g->kind & K_KOHYA ? "lora_up.weight" : "lora_B.weight")
                              : (g->kind & K_KOHYA ? "lora_down.weight" : "lora_A.weight"));
        }
        if (check_matrix(file, a) != 0 || check_matrix(file, b) != 0) return -1;
        if (b->shape[1] != a->shape[0])
            return i4_error("LoRA %s: '%s' %s and '%s' %s have different ranks", file, b->name,
                            i4_shape_str(s1, sizeof s1, b->ndim, b->shape), a->name,
                            i4_shape_str(s2, sizeof s2, a->ndim, a->shape));
        const double r = (double)a->shape[0];
        g->rows = b->shape[0];
        g->cols = a->shape[1];
        g->scale = 1.0f;
        if (has_alpha) {
            g->scale = (float)(alpha / r);
        } else if (pm->root) {
            double al = 0;
            int found = 0;
            const char *key;
            json_t *v;
            if (pm->alpha_pattern) {
                json_object_foreach(pm->alpha_pattern, key, v) {
                    if (json_is_number(v) && pattern_matches(key, g->stem)) {
                        al = json_number_value(v);
                        found = 1;
                        break;
                    }
                }
            }
            if (!found && pm->has_alpha) {
                al = pm->alpha;
                found = 1;
            }
            if (found) g->scale = (float)(al / (pm->rslora ? sqrt(r) : r));
        }
        return 0;
    }
    if (g->kind & K_LOKR) {
        int64_t m, n, p, q;
        if (lokr_factor(file, g, T_W1, T_W1A, T_W1B, "w1", &m, &n) != 0) return -1;
        if (lokr_factor(file, g, T_W2, T_W2A, T_W2B, "w2", &p, &q) != 0) return -1;
        g->rows = m * p;
        g->cols = n * q;
        int64_t r = 0;
        if (!g->t[T_W2]) r = g->t[T_W2B]->shape[0];
        else if (!g->t[T_W1]) r = g->t[T_W1B]->shape[0];
        g->scale = (has_alpha && r > 0) ? (float)(alpha / (double)r) : 1.0f;
        return 0;
    }
    return i4_error("LoRA %s: '%s' has no weights to go with it", file, g->t[T_ALPHA]->name);
}

static int parse_key(i4_lora *l, const i4_tensor *t) {
    const char *name = t->name;
    for (size_t i = 0; i < sizeof UNSUPPORTED / sizeof UNSUPPORTED[0]; i++)
        if (UNSUPPORTED[i].suffix ? ends_with(name, UNSUPPORTED[i].needle) : strstr(name, UNSUPPORTED[i].needle) != NULL)
            return i4_error("LoRA %s: key '%s': %s", l->path, name, UNSUPPORTED[i].why);
    int slot = -1, kind = 0;
    size_t slen = 0;
    for (size_t i = 0; i < sizeof SUFFIXES / sizeof SUFFIXES[0]; i++) {
        if (ends_with(name, SUFFIXES[i].suffix)) {
            slot = SUFFIXES[i].slot;
            kind = SUFFIXES[i].kind;
            slen = strlen(SUFFIXES[i].suffix);
            break;
        }
    }
    if (slot < 0) return i4_error("LoRA %s: key '%s' is not a LoRA, kohya or LoKr tensor name", l->path, name);
    char stem[512];
    size_t n = strlen(name) - slen;
    if (n == 0 || n >= sizeof stem) return i4_error("LoRA %s: key '%s' has no module path", l->path, name);
    memcpy(stem, name, n);
    stem[n] = 0;
    const char *s = stem;
    for (int again = 1, guard = 0; again && guard < 8; guard++) {
        again = 0;
        for (size_t i = 0; i < sizeof PREFIXES / sizeof PREFIXES[0]; i++) {
            if (starts_with(s, PREFIXES[i]) && s[strlen(PREFIXES[i])]) {
                s += strlen(PREFIXES[i]);
                again = 1;
            }
        }
    }
    int flat = 0;
    for (size_t i = 0; i < sizeof FLAT_PREFIXES / sizeof FLAT_PREFIXES[0]; i++) {
        if (starts_with(s, FLAT_PREFIXES[i]) && s[strlen(FLAT_PREFIXES[i])]) {
            s += strlen(FLAT_PREFIXES[i]);
            flat = 1;
            break;
        }
    }
    lgroup *g = group_for(l, s);
    if (!g) return i4_error("out of memory");
    if (g->t[slot])
        return i4_error("LoRA %s: keys '%s' and '%s' name the same tensor of module '%s'", l->path, g->t[slot]->name,
                        name, s);
    g->t[slot] = t;
    g->kind |= kind;
    g->flat = flat;
    return 0;
}

int i4_lora_open(i4_lora **out, const char *path) {
    *out = NULL;
    i4_lora *l = calloc(1, sizeof *l);
    if (!l) return i4_error("out of memory");
    peft_meta pm = {0};
    int rc = -1;
    if (!(l->path = xstrdup(path))) {
        i4_error("out of memory");
        goto done;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!(l->name = xstrdup(base))) {
        i4_error("out of memory");
        goto done;
    }
    if (ends_with(l->name, ".safetensors")) l->name[strlen(l->name) - strlen(".safetensors")] = 0;
    if (i4_tensor_set_open_file(&l->set, path) != 0) {
        i4_error_prefix("opening LoRA %s", path);
        goto done;
    }
    if (read_meta(l->set, path, &pm) != 0) goto done;
    size_t count = i4_tensor_set_count(l->set);
    for (size_t i = 0; i < count; i++)
        if (parse_key(l, i4_tensor_set_at(l->set, i)) != 0) goto done;
    if (l->n == 0) {
        i4_error("LoRA %s: no tensors", path);
        goto done;
    }
    int kinds = 0;
    for (size_t i = 0; i < l->n; i++) {
        lgroup *g = &l->g[i];
        if (finish_group(l, g, &pm) != 0) goto done;
        if (g->flat) {
            if (!(g->path = xstrdup(g->stem))) {
                i4_error("out of memory");
                goto done;
            }
        } else if (map_path(g) != 0) {
            i4_error("out of memory");
            goto done;
        }
        kinds |= g->kind;
    }
    l->format = (kinds & K_LOKR) ? "lokr" : (kinds & K_KOHYA) ? "kohya" : "peft";
    rc = 0;
done:
    json_decref(pm.root);
    if (rc != 0) {
        i4_lora_close(l);
        return -1;
    }
    *out = l;
    return 0;
}

const char *i4_lora_format(const i4_lora *l) { return l->format; }
const char *i4_lora_path(const i4_lora *l) { return l->path; }
const char *i4_lora_name(const i4_lora *l) { return l->name; }
size_t i4_lora_module_count(const i4_lora *l) { return l->n; }

int i4_lora_inspect(const char *path, i4_lora_info *out) {
    i4_lora *l = NULL;
    if (i4_lora_open(&l, path) != 0) return -1;
    out->format = l->format;
    out->modules = l->n;
    i4_lora_close(l);
    return 0;
}

void i4_lora_close(i4_lora *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->g[i].stem);
        free(l->g[i].path);
    }
    free(l->g);
    if (l->set) i4_tensor_set_close(l->set);
    free(l->path);
    free(l->name);
    free(l);
}

/* ------------------------------------------------------------ targets */

/* Does the flattened name `flat` denote module `path` (or a diffusers alias of
 * it)? Sets *part for the to_q/to_k/to_v aliases of attention.qkv. */
static int flat_match(const char *flat, const char *path, int *part) {
    char buf[512];
    size_t n = strlen(path);
    if (n + 16 >= sizeof buf) return 0;
    *part = -1;
    for (size_t i = 0; i <= n; i++) buf[i] = path[i] == '.' ? '_' : path[i];
    if (strcmp(buf, flat) == 0) return 1;
    static const char *const split[3] = {"_to_q", "_to_k", "_to_v"};
    if (ends_with(path, ".attention.qkv")) {
        size_t stem = n - strlen("_qkv");
        for (int p = 0; p < 3; p++) {
            snprintf(buf + stem, sizeof buf - stem, "%s", split[p]);
            if (strcmp(buf, flat) == 0) {
                *part = p;
                return 1;
            }
        }
    } else if (ends_with(path, ".attention.o")) {
        snprintf(buf + n - strlen("_o"), sizeof buf - (n - 2), "_to_out_0");
        if (strcmp(buf, flat) == 0) return 1;
    }
    return 0;
}

/* Does group g target module `path`? Sets *part. */
static int group_targets(const lgroup *g, const char *path, int *part) {
    if (g->flat) return flat_match(g->path, path, part);
    *part = g->part;
    return strcmp(g->path, path) == 0;
}

/* dW of group g must fit a module of [out, in] (a row third for split names). */
static int check_fit(const i4_lora *l, const lgroup *g, int part, const char *path, int64_t out, int64_t in) {
    const i4_tensor *named = g->t[T_B] ? g->t[T_B] : g->t[T_W1] ? g->t[T_W1] : g->t[T_W1A] ? g->t[T_W1A] : g->t[T_A];
    const i4_tensor *other = g->t[T_A] ? g->t[T_A] : g->t[T_W2] ? g->t[T_W2] : g->t[T_W2A];
    char s1[96], s2[96];
    int64_t want_rows = part >= 0 ? out / 3 : out;
    if ((part >= 0 && out % 3 != 0) || g->rows != want_rows || g->cols != in)
        return i4_error("LoRA %s: '%s' %s and '%s' %s give a delta of [%lld, %lld], but %s%s.weight is [%lld, %lld]",
                        l->path, named->name, i4_shape_str(s1, sizeof s1, named->ndim, named->shape),
                        other ? other->name : "?", other ? i4_shape_str(s2, sizeof s2, other->ndim, other->shape) : "",
                        (long long)g->rows, (long long)g->cols,
                        part >= 0 ? (part == 0 ? "the Q third of " : part == 1 ? "the K third of " : "the V third of ") : "",
                        path, (long long)out, (long long)in);
    return 0;
}

static void ba_accumulate(float *dst, int64_t in, const float *B, const float *A, int64_t rows, int64_t r, float c);

static float *decode(const i4_tensor *t) {
    float *d = malloc((size_t)t->numel * sizeof *d);
    if (d) i4_tensor_to_f32(t, d);
    return d;
}

/* c [M, N] = a [M, K] · b [K, N] */
static float *matmul(const i4_tensor *ta, const i4_tensor *tb) {
    const int64_t M = ta->shape[0], K = ta->shape[1], N = tb->shape[1];
    float *a = decode(ta), *b = decode(tb), *c = calloc((size_t)(M * N), sizeof *c);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return NULL;
    }
    ba_accumulate(c, N, a, b, M, K, 1.0f);
    free(a);
    free(b);
    return c;
}

/* dst [rows, in] += c · B [rows, r] · A [r, in], f32. Tiled so a block of A
 * stays in cache for a block of rows, four rank terms per pass over a row. */
#define BA_ROWS 64
#define BA_COLS 512
static void ba_accumulate(float *dst, int64_t in, const float *B, const float *A, int64_t rows, int64_t r, float c) {
    const int64_t n_rb = (rows + BA_ROWS - 1) / BA_ROWS;
#pragma omp parallel for schedule(dynamic, 1) if (rows * in * r > (1 << 18))
    for (int64_t rb = 0; rb < n_rb; rb++) {
        const int64_t o1 = (rb + 1) * BA_ROWS < rows ? (rb + 1) * BA_ROWS : rows;
        for (int64_t j0 = 0; j0 < in; j0 += BA_COLS) {
            const int64_t jn = in - j0 < BA_COLS ? in - j0 : BA_COLS;
            for (int64_t o = rb * BA_ROWS; o < o1; o++) {
                float *restrict d = dst + (size_t)o * (size_t)in + j0;
                const float *b = B + o * r;
                int64_t k = 0;
                for (; k + 4 <= r; k += 4) {
                    const float c0 = c * b[k], c1 = c * b[k + 1], c2 = c * b[k + 2], c3 = c * b[k + 3];
                    const float *restrict a0 = A + k * in + j0, *restrict a1 = a0 + in, *restrict a2 = a1 + in,
                                          *restrict a3 = a2 + in;
#pragma omp simd
                    for (int64_t i = 0; i < jn; i++) d[i] += c0 * a0[i] + c1 * a1[i] + c2 * a2[i] + c3 * a3[i];
                }
                for (; k < r; k++) {
                    const float ck = c * b[k];
                    const float *restrict a0 = A + k * in + j0;
#pragma omp simd
                    for (int64_t i = 0; i < jn; i++) d[i] += ck * a0[i];
                }
            }
        }
    }
}

/* dst [.., in] rows [row0, row0 + g->rows) += coef · scale · dW(g). */
static int add_group(const lgroup *g, int64_t row0, int64_t in, float coef, float *dst) {
    const float c0 = coef * g->scale;
    if (c0 == 0.0f) return 0;
    if (g->kind & K_LOKR) {
        float *w1 = g->t[T_W1] ? decode(g->t[T_W1]) : matmul(g->t[T_W1A], g->t[T_W1B]);
        float *w2 = g->t[T_W2] ? decode(g->t[T_W2]) : matmul(g->t[T_W2A], g->t[T_W2B]);
        if (!w1 || !w2) {
            free(w1);
            free(w2);
            return i4_error("out of memory (LoKr factors of '%s')", g->stem);
        }
        const int64_t n = g->t[T_W1] ? g->t[T_W1]->shape[1] : g->t[T_W1B]->shape[1];
        const int64_t p = g->t[T_W2] ? g->t[T_W2]->shape[0] : g->t[T_W2A]->shape[0];
        const int64_t q = g->t[T_W2] ? g->t[T_W2]->shape[1] : g->t[T_W2B]->shape[1];
#pragma omp parallel for schedule(static)
        for (int64_t R = 0; R < g->rows; R++) {
            const int64_t i = R / p, a = R % p;
            float *drow = dst + (size_t)(row0 + R) * (size_t)in;
            const float *w2row = w2 + a * q;
            for (int64_t j = 0; j < n; j++) {
                const float c = c0 * w1[i * n + j];
                float *d = drow + j * q;
                for (int64_t b = 0; b < q; b++) d[b] += c * w2row[b];
            }
        }
        free(w1);
        free(w2);
        return 0;
    }
    const i4_tensor *ta = g->t[T_A], *tb = g->t[T_B];
    const int64_t r = ta->shape[0];
    float *A = decode(ta), *B = decode(tb);
    if (!A || !B) {
        free(A);
        free(B);
        return i4_error("out of memory (LoRA factors of '%s')", g->stem);
    }
    ba_accumulate(dst + (size_t)row0 * (size_t)in, in, B, A, g->rows, r, c0);
    free(A);
    free(B);
    return 0;
}

int i4_lora_accumulate_delta(const i4_lora *l, const char *path, int64_t out, int64_t in, float coef, float *delta) {
    int part, count = 0;
    for (size_t i = 0; i < l->n; i++)
        if (group_targets(&l->g[i], path, &part) && check_fit(l, &l->g[i], part, path, out, in) != 0) return -1;
    for (size_t i = 0; i < l->n; i++) {
        if (!group_targets(&l->g[i], path, &part)) continue;
        if (add_group(&l->g[i], part >= 0 ? part * (out / 3) : 0, in, coef, delta) != 0) return -1;
        count++;
    }
    return count;
}

/* ------------------------------------------------------------ stack */

typedef struct {
    char *path;         /* official module path */
    int part;
} target;

typedef struct {
    const i4_lora *l;
    float strength;
    target *t;          /* one per group of l */
} sitem;

typedef struct {
    char *path;
    void *buf;          /* F32 or BF16 [out, in] */
    i4_linear_w w;      /* stays at this address while installed */
} smodule;

struct i4_lora_stack {
    i4_dit *m;
    i4_precision p;
    sitem *items;
    size_t n_items, cap_items;
    smodule **mods;
    size_t n_mods, cap_mods;
    char **linears;     /* the model's 2-D ".weight" module paths (for flattened names), lazily */
    size_t n_linears;
};

i4_lora_stack *i4_lora_stack_new(i4_dit *m, i4_precision p) {
    if (!m) {
        i4_error("i4_lora_stack_new: no model");
        return NULL;
    }
    i4_lora_stack *s = calloc(1, sizeof *s);
    if (!s) {
        i4_error("out of memory");
        return NULL;
    }
    s->m = m;
    s->p = p;
    return s;
}

size_t i4_lora_stack_count(const i4_lora_stack *s) { return s->n_items; }
size_t i4_lora_stack_modules(const i4_lora_stack *s) { return s->n_mods; }

static void free_targets(target *t, size_t n) {
    if (!t) return;
    for (size_t i = 0; i < n; i++) free(t[i].path);
    free(t);
}

static int list_linears(i4_lora_stack *s) {
    if (s->linears) return 0;
    const i4_tensor_set *set = i4_dit_tensors(s->m);
    size_t n = i4_tensor_set_count(set), k = 0;
    s->linears = calloc(n ? n : 1, sizeof *s->linears);
    if (!s->linears) return i4_error("out of memory");
    for (size_t i = 0; i < n; i++) {
        const i4_tensor *t = i4_tensor_set_at(set, i);
        if (t->ndim != 2 || !ends_with(t->name, ".weight")) continue;
        size_t len = strlen(t->name) - strlen(".weight");
        char *p = malloc(len + 1);
        if (!p) {
            while (k > 0) free(s->linears[--k]);
            free(s->linears);
            s->linears = NULL;
            return i4_error("out of memory");
        }
        memcpy(p, t->name, len);
        p[len] = 0;
        s->linears[k++] = p;
    }
    s->n_linears = k;
    return 0;
}

/* Resolve and validate every group of l against the model. */
static int resolve(i4_lora_stack *s, const i4_lora *l, target **out) {
    const i4_tensor_set *set = i4_dit_tensors(s->m);
    target *t = calloc(l->n ? l->n : 1, sizeof *t);
    if (!t) return i4_error("out of memory");
    for (size_t i = 0; i < l->n; i++) {
        const lgroup *g = &l->g[i];
        const i4_tensor *key = g->t[T_A] ? g->t[T_A] : g->t[T_W1] ? g->t[T_W1] : g->t[T_W1A];
        const char *path = g->path;
        int part = g->part;
        if (g->flat) {
            if (list_linears(s) != 0) goto fail;
            path = NULL;
            for (size_t k = 0; k < s->n_linears; k++) {
                int pk;
                if (!flat_match(g->path, s->linears[k], &pk)) continue;
                if (path) {
                    i4_error("LoRA %s: key '%s' is ambiguous: '%s' could be module '%s' or '%s'", l->path, key->name,
                             g->path, path, s->linears[k]);
                    goto fail;
                }
                path = s->linears[k];
                part = pk;
            }
            if (!path) {
                i4_error("LoRA %s: key '%s': the transformer has no module whose name flattens to '%s'", l->path,
                         key->name, g->path);
                goto fail;
            }
        }
        char wname[560];
        snprintf(wname, sizeof wname, "%s.weight", path);
        if (!i4_tensor_set_find(set, wname)) {
            i4_error("LoRA %s: key '%s': the transformer has no module '%s'", l->path, key->name, path);
            goto fail;
        }
        i4_linear_w w;
        if (i4_bind_linear(set, path, -1, -1, 2, &w) != 0) {
            i4_error_prefix("LoRA %s: key '%s': module '%s' is not a Linear the LoRA can merge into", l->path,
                            key->name, path);
            goto fail;
        }
        if (check_fit(l, g, part, path, w.out, w.in) != 0) goto fail;
        if (!(t[i].path = xstrdup(path))) {
            i4_error("out of memory");
            goto fail;
        }
        t[i].part = part;
    }
    *out = t;
    return 0;
fail:
    free_targets(t, l->n);
    return -1;
}

/* Base weight of a bound Linear decoded to f32 as the kernels use it. */
static void decode_base(const i4_linear_w *w, i4_precision p, float *dst) {
    const int bf16 = p == I4_PRECISION_BF16;
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < w->out; o++) {
        float *d = dst + (size_t)o * (size_t)w->in;
        if (w->dtype == I4_DT_F8_E4M3) {
            float lut[256];
            i4_fp8_e4m3_lut(lut, w->scale[w->scale_per_tensor ? 0 : o], bf16);
            const uint8_t *c = (const uint8_t *)w->w + (size_t)o * (size_t)w->in;
            for (int64_t i = 0; i < w->in; i++) d[i] = lut[c[i]];
        } else {
            const size_t es = i4_dtype_size(w->dtype);
            i4_convert_to_f32(w->dtype, (const uint8_t *)w->w + (size_t)o * (size_t)w->in * es, d, (size_t)w->in);
            if (bf16 && w->dtype != I4_DT_BF16) i4_round_bf16_inplace(d, (size_t)w->in);
        }
    }
}

static smodule *find_module(const i4_lora_stack *s, const char *path, size_t *index) {
    for (size_t i = 0; i < s->n_mods; i++)
        if (strcmp(s->mods[i]->path, path) == 0) {
            if (index) *index = i;
            return s->mods[i];
        }
    return NULL;
}

const i4_linear_w *i4_lora_stack_weight(const i4_lora_stack *s, const char *path) {
    smodule *mod = find_module(s, path, NULL);
    return mod ? &mod->w : NULL;
}

static void free_module(smodule *mod) {
    if (!mod) return;
    free(mod->path);
    free(mod->buf);
    free(mod);
}

/* Build the merged copy of one module from the base and every item (strength
 * != 0) that targets it; NULL in *out when none does. */
static int build_module(const i4_lora_stack *s, const char *path, smodule **out) {
    *out = NULL;
    int used = 0;
    for (size_t k = 0; k < s->n_items && !used; k++) {
        if (s->items[k].strength == 0.0f) continue;
        for (size_t i = 0; i < s->items[k].l->n; i++)
            if (strcmp(s->items[k].t[i].path, path) == 0) used = 1;
    }
    if (!used) return 0;
    i4_linear_w base;
    if (i4_bind_linear(i4_dit_tensors(s->m), path, -1, -1, 2, &base) != 0) return -1;
    const size_t numel = (size_t)base.out * (size_t)base.in;
    smodule *mod = calloc(1, sizeof *mod);
    float *acc = malloc(numel * sizeof *acc);
    if (!mod || !acc || !(mod->path = xstrdup(path))) {
        free(acc);
        free_module(mod);
        return i4_error("out of memory merging a LoRA into %s ([%lld, %lld])", path, (long long)base.out,
                        (long long)base.in);
    }
    decode_base(&base, s->p, acc);
    for (size_t k = 0; k < s->n_items; k++) {
        const sitem *it = &s->items[k];
        if (it->strength == 0.0f) continue;
        for (size_t i = 0; i < it->l->n; i++) {
            if (strcmp(it->t[i].path, path) != 0) continue;
            const int part = it->t[i].part;
            if (add_group(&it->l->g[i], part >= 0 ? part * (base.out / 3) : 0, base.in, it->strength, acc) != 0) {
                free(acc);
                free_module(mod);
                return -1;
            }
        }
    }
    mod->w = base; /* keeps the checkpoint's bias */
    mod->w.scale = NULL;
    mod->w.scale_per_tensor = 0;
    if (s->p == I4_PRECISION_BF16) {
        uint16_t *h = malloc(numel * sizeof *h);
        if (!h) {
            free(acc);
            free_module(mod);
            return i4_error("out of memory merging a LoRA into %s", path);
        }
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < numel; i++) h[i] = i4_f32_to_bf16(acc[i]);
        free(acc);
        mod->buf = h;
        mod->w.dtype = I4_DT_BF16;
    } else {
        mod->buf = acc;
        mod->w.dtype = I4_DT_F32;
    }
    mod->w.w = mod->buf;
    *out = mod;
    return 0;
}

int i4_lora_stack_remove_all(i4_lora_stack *s) {
    int rc = 0;
    for (size_t i = 0; i < s->n_mods; i++) {
        if (i4_dit_set_linear(s->m, s->mods[i]->path, NULL) != 0) rc = -1;
        free_module(s->mods[i]);
    }
    s->n_mods = 0;
    for (size_t k = 0; k < s->n_items; k++) free_targets(s->items[k].t, s->items[k].l->n);
    s->n_items = 0;
    return rc;
}

/* Re-merge every module in paths[0..n) from the current items. On failure the
 * stack is emptied (model back to the checkpoint) so model and stack agree. */
static int rebuild(i4_lora_stack *s, char *const *paths, size_t n) {
    for (size_t j = 0; j < n; j++) {
        int seen = 0;
        for (size_t k = 0; k < j && !seen; k++) seen = strcmp(paths[k], paths[j]) == 0;
        if (seen) continue;
        smodule *mod;
        size_t idx = 0;
        smodule *old = find_module(s, paths[j], &idx);
        if (build_module(s, paths[j], &mod) != 0) goto fail;
        if (!mod) {
            if (old) {
                if (i4_dit_set_linear(s->m, old->path, NULL) != 0) goto fail;
                free_module(old);
                s->mods[idx] = s->mods[--s->n_mods];
            }
            continue;
        }
        if (i4_dit_set_linear(s->m, mod->path, &mod->w) != 0) {
            free_module(mod);
            goto fail;
        }
        if (old) {
            free_module(old);
            s->mods[idx] = mod;
        } else {
            if (s->n_mods == s->cap_mods) {
                size_t cap = s->cap_mods ? 2 * s->cap_mods : 32;
                smodule **mm = realloc(s->mods, cap * sizeof *mm);
                if (!mm) {
                    /* installed but untracked: restore it before failing */
                    i4_dit_set_linear(s->m, mod->path, NULL);
                    free_module(mod);
                    i4_error("out of memory");
                    goto fail;
                }
                s->mods = mm;
                s->cap_mods = cap;
            }
            s->mods[s->n_mods++] = mod;
        }
    }
    return 0;
fail:
    i4_error_prefix("applying the LoRA stack (all LoRAs removed)");
    {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", i4_last_error());
        i4_lora_stack_remove_all(s);
        i4_error("%s", msg);
    }
    return -1;
}

/* Paths targeted by an item (pointers into it). */
static char **item_paths(const sitem *it) {
    char **p = calloc(it->l->n ? it->l->n : 1, sizeof *p);
    if (p)
        for (size_t i = 0; i < it->l->n; i++) p[i] = it->t[i].path;
    return p;
}

int i4_lora_stack_add(i4_lora_stack *s, const i4_lora *l, float strength) {
    if (!isfinite(strength)) return i4_error("LoRA %s: strength must be a finite number", l->path);
    target *t = NULL;
    if (resolve(s, l, &t) != 0) return -1;
    if (s->n_items == s->cap_items) {
        size_t cap = s->cap_items ? 2 * s->cap_items : 4;
        sitem *items = realloc(s->items, cap * sizeof *items);
        if (!items) {
            free_targets(t, l->n);
            return i4_error("out of memory");
        }
        s->items = items;
        s->cap_items = cap;
    }
    sitem *it = &s->items[s->n_items++];
    it->l = l;
    it->strength = strength;
    it->t = t;
    if (strength == 0.0f) return 0;
    char **paths = item_paths(it);
    if (!paths) {
        free_targets(t, l->n);
        s->n_items--;
        return i4_error("out of memory");
    }
    int rc = rebuild(s, paths, l->n);
    free(paths);
    return rc;
}

static int name_matches(const i4_lora *l, const char *q) {
    if (strcmp(l->path, q) == 0 || strcmp(l->name, q) == 0) return 1;
    size_t n = strlen(l->name);
    return strncmp(q, l->name, n) == 0 && strcmp(q + n, ".safetensors") == 0;
}

int i4_lora_stack_remove(i4_lora_stack *s, const char *name_or_path) {
    size_t removed = 0, n_paths = 0;
    for (size_t k = 0; k < s->n_items; k++)
        if (name_matches(s->items[k].l, name_or_path)) {
            removed++;
            n_paths += s->items[k].l->n;
        }
    if (removed == 0) return i4_error("LoRA '%s' is not applied", name_or_path);
    char **paths = calloc(n_paths ? n_paths : 1, sizeof *paths);
    sitem *gone = malloc(removed * sizeof *gone);
    if (!paths || !gone) {
        free(paths);
        free(gone);
        return i4_error("out of memory");
    }
    size_t kept = 0, r = 0, np = 0;
    for (size_t k = 0; k < s->n_items; k++) {
        const sitem *it = &s->items[k];
        if (!name_matches(it->l, name_or_path)) {
            s->items[kept++] = *it;
            continue;
        }
        gone[r++] = *it;
        for (size_t i = 0; i < it->l->n; i++) paths[np++] = it->t[i].path;
    }
    s->n_items = kept;
    int rc = rebuild(s, paths, np);
    for (size_t i = 0; i < r; i++) free_targets(gone[i].t, gone[i].l->n);
    free(paths);
    free(gone);
    return rc;
}

void i4_lora_stack_free(i4_lora_stack *s) {
    if (!s) return;
    i4_lora_stack_remove_all(s);
    free(s->items);
    free(s->mods);
    for (size_t i = 0; i < s->n_linears; i++) free(s->linears[i]);
    free(s->linears);
    free(s);
}
