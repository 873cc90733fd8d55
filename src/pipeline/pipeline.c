/*
 * pipeline.c — caption to image (docs/MODEL.md §0.4): tokenize with the chat
 * template, encode with the text encoder (loaded for the encoding only and
 * released before sampling), sample with both transformers, decode with the
 * VAE, convert to 8-bit RGB. The pipeline object is the one owner of all
 * model state.
 */
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "base/error.h"
#include "base/io.h"
#include "base/memstat.h"
#include "ideogram4.h"
#include "model/dit.h"
#include "model/lora.h"
#include "model/qwen3.h"
#include "model/vae.h"
#include "pipeline/image.h"
#include "pipeline/preview.h"
#include "pipeline/sampler.h"
#include "pipeline/schedule.h"
#include "tensor/safetensors.h"
#include "text/tokenizer.h"

#define MAX_TEXT_TOKENS 2048

struct i4_pipeline {
    char snapshot[PATH_MAX];
    i4_precision precision;
    i4_backend *be;         /* every network runs on it */
    char backend_desc[96];
    i4_tokenizer *tokenizer;
    i4_dit *cond, *uncond;
    i4_vae *vae;
    i4_lora_stack *loras;   /* on the conditional transformer */
    i4_lora **lora_files;   /* kept open while stacked */
    int n_lora_files;
    i4_preview_map *preview; /* live-preview map, fitted on first use */
};

#define PREVIEW_FIT_GRIDS 8  /* grids of PREVIEW_FIT_GRID^2 random tokens (preview.c) */
#define PREVIEW_FIT_GRID 8
#define PREVIEW_FIT_SEED 20260608u

static void component(char *out, size_t size, const i4_pipeline *p, const char *name) {
    snprintf(out, size, "%s/%s", p->snapshot, name);
}

/* Bytes of a component's weights: its *.safetensors files (0 when none). */
static size_t weights_bytes(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 12 || strcmp(e->d_name + n - 12, ".safetensors")) continue;
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0) total += (size_t)st.st_size;
    }
    closedir(d);
    return total;
}

#define FIT_HINT "use --backend cpu"

/* The transformer's workspace for a 1024x1024 image (4096 image tokens + 512
 * text tokens; the layout of dit.c's run: h, xn, the widest projection, the
 * RoPE tables), an estimate — the real one is checked when it is allocated. */
static size_t workspace_1024(const i4_dit_config *c) {
    const size_t L = 4096 + 512, wcols = (size_t)(4 * c->dim > 2 * c->ffn_dim ? 4 * c->dim : 2 * c->ffn_dim);
    return L * (2 * (size_t)c->dim + wcols + 2 * (size_t)c->head_dim + (size_t)c->in_channels) * 4;
}

/* Before binding anything: the weights that are on the device together —
 * both transformers, the VAE and, while encoding, the text encoder — and the
 * transformer's workspace. When they do not fit, --offload keeps on the
 * device the VAE, the text encoder, the workspace, each transformer's
 * weights outside its blocks and two slots of the largest block, and splits
 * what is left between the two transformers' blocks (*layer_budget: the
 * device bytes each transformer may bind; SIZE_MAX = all). */
static int check_weights_fit(i4_pipeline *p, int offload, size_t *layer_budget) {
    char dir[PATH_MAX + 32];
    i4_mem_need parts[5] = {{"transformer weights", 0},
                            {"unconditional transformer weights", 0},
                            {"VAE weights", 0},
                            {"text encoder weights", 0},
                            {"transformer workspace at 1024x1024 (estimated)", 0}};
    const char *names[4] = {"transformer", "unconditional_transformer", "vae", "text_encoder"};
    for (int i = 0; i < 4; i++) {
        component(dir, sizeof dir, p, names[i]);
        parts[i].bytes = weights_bytes(dir);
    }
    *layer_budget = SIZE_MAX;
    size_t top[2], max_layer[2];
    i4_dit_config dims[2];
    for (int i = 0; i < 2; i++) {
        component(dir, sizeof dir, p, names[i]);
        if (i4_dit_weight_sizes(dir, &top[i], &max_layer[i], &dims[i]) != 0) /* the load says what is wrong */
            return i4_backend_check_fit(p->be, parts, 4, FIT_HINT);
    }
    const size_t ws0 = workspace_1024(&dims[0]), ws1 = workspace_1024(&dims[1]);
    parts[4].bytes = ws0 > ws1 ? ws0 : ws1;
    i4_be_memory m;
    memset(&m, 0, sizeof m);
    i4_be_memory_get(p->be, &m);
    size_t total = m.now;
    for (int i = 0; i < 5; i++) total += parts[i].bytes;
    if (!m.capacity || total <= m.capacity) return 0;
    const size_t slot = max_layer[0] > max_layer[1] ? max_layer[0] : max_layer[1];
    const size_t fixed = m.now + parts[2].bytes + parts[3].bytes + parts[4].bytes + 2 * slot;
    const size_t need = fixed + top[0] + top[1];
    char hint[200];
    if (need >= total || need > m.capacity) {
        snprintf(hint, sizeof hint, "%s%s", FIT_HINT,
                 need < total ? " (with --offload the device needs " : "");
        if (need < total)
            snprintf(hint + strlen(hint), sizeof hint - strlen(hint), "%.3f MiB)", (double)need / (1 << 20) + 0.0005);
        return i4_backend_check_fit(p->be, parts, 5, hint);
    }
    if (!offload) {
        snprintf(hint, sizeof hint,
                 "use --offload (transformer layers streamed from host memory; the device then needs %.3f MiB) "
                 "or --backend cpu",
                 (double)need / (1 << 20) + 0.0005);
        return i4_backend_check_fit(p->be, parts, 5, hint);
    }
    *layer_budget = (m.capacity - fixed) / 2;
    return 0;
}

/* After binding: the transformer's workspace for a 1024x1024 image. */
static int check_workspace_fits(i4_pipeline *p) {
    i4_mem_need part = {"transformer workspace at 1024x1024 (estimated)", workspace_1024(i4_dit_config_get(p->cond))};
    return i4_backend_check_fit(p->be, &part, 1, FIT_HINT);
}

int i4_pipeline_load(i4_pipeline **out, const i4_load_options *opt) {
    *out = NULL;
    i4_pipeline *p = calloc(1, sizeof *p);
    if (!p) return i4_error("out of memory");
    p->precision = opt->precision;
    char dir[PATH_MAX + 32];
    i4_backend_options bo = {.name = opt->backend, .threads = opt->threads, .cpu_isa = NULL, .device = opt->device};
    if (i4_backend_create(&bo, &p->be) != 0) goto fail;
    snprintf(p->backend_desc, sizeof p->backend_desc, "%s", i4_be_describe(p->be));
    if (i4_resolve_snapshot(opt->model_dir, opt->repo, p->snapshot, sizeof p->snapshot) != 0) goto fail;
    const char *off_env = getenv("IDEOGRAM4_OFFLOAD");
    const int offload = opt->offload || (off_env && *off_env && strcmp(off_env, "0"));
    size_t layer_budget;
    if (check_weights_fit(p, offload, &layer_budget) != 0) goto fail;
    component(dir, sizeof dir, p, "tokenizer");
    if (i4_tokenizer_load(&p->tokenizer, dir) != 0) goto fail;
    component(dir, sizeof dir, p, "transformer");
    if (i4_dit_load_offload(&p->cond, dir, p->precision, p->be, layer_budget) != 0) goto fail;
    component(dir, sizeof dir, p, "unconditional_transformer");
    if (i4_dit_load_offload(&p->uncond, dir, p->precision, p->be, layer_budget) != 0) goto fail;
    if (layer_budget != SIZE_MAX)
        fprintf(stderr, "offload: %lld of %lld transformer layers streamed from host memory\n",
                (long long)(i4_dit_streamed_layers(p->cond) + i4_dit_streamed_layers(p->uncond)),
                (long long)(i4_dit_config_get(p->cond)->n_layers + i4_dit_config_get(p->uncond)->n_layers));
    component(dir, sizeof dir, p, "vae");
    if (i4_vae_load(&p->vae, dir, p->precision, p->be) != 0) goto fail;
    if (check_workspace_fits(p) != 0) goto fail;
    const i4_dit_config *c = i4_dit_config_get(p->cond), *u = i4_dit_config_get(p->uncond);
    if (c->in_channels != u->in_channels || c->in_channels != i4_vae_token_channels(p->vae)) {
        i4_error("%s: transformer channels (%lld, %lld) and VAE token channels (%lld) disagree", p->snapshot,
                 (long long)c->in_channels, (long long)u->in_channels, (long long)i4_vae_token_channels(p->vae));
        goto fail;
    }
    *out = p;
    return 0;
fail:
    i4_pipeline_free(p);
    return -1;
}

int i4_pipeline_apply_lora(i4_pipeline *p, const char *path, float strength) {
    i4_lora *l = NULL;
    if (i4_lora_open(&l, path) != 0) return -1;
    if (!p->loras && !(p->loras = i4_lora_stack_new(p->cond, p->precision))) {
        i4_lora_close(l);
        return i4_error("out of memory");
    }
    i4_lora **grown = realloc(p->lora_files, sizeof *grown * (size_t)(p->n_lora_files + 1));
    if (!grown) {
        i4_lora_close(l);
        return i4_error("out of memory");
    }
    p->lora_files = grown;
    if (i4_lora_stack_add(p->loras, l, strength) != 0) {
        i4_lora_close(l);
        return i4_error_prefix("LoRA %s", path);
    }
    p->lora_files[p->n_lora_files++] = l;
    return 0;
}

int i4_pipeline_remove_loras(i4_pipeline *p) {
    int rc = p->loras ? i4_lora_stack_remove_all(p->loras) : 0;
    i4_lora_stack_free(p->loras);
    p->loras = NULL;
    for (int i = 0; i < p->n_lora_files; i++) i4_lora_close(p->lora_files[i]);
    free(p->lora_files);
    p->lora_files = NULL;
    p->n_lora_files = 0;
    return rc;
}

void i4_pipeline_free(i4_pipeline *p) {
    if (!p) return;
    i4_pipeline_remove_loras(p);
    i4_tokenizer_free(p->tokenizer);
    i4_dit_free(p->cond);
    i4_dit_free(p->uncond);
    i4_vae_free(p->vae);
    free(p->preview);
    i4_backend_destroy(p->be);
    free(p);
}

const char *i4_pipeline_snapshot(const i4_pipeline *p) { return p->snapshot; }

const char *i4_pipeline_backend(const i4_pipeline *p) { return p->backend_desc; }

int i4_backend_name_ok(const char *name) { return i4_backend_name_valid(name); }

void i4_generate_params_init(i4_generate_params *gp) {
    memset(gp, 0, sizeof *gp);
    gp->width = gp->height = 1024;
    gp->preset = "V4_QUALITY_48";
    gp->guidance = -1;
    gp->mu = NAN;
    gp->std = NAN;
    gp->seed = 20260608;
}

void i4_result_free(i4_result *r) {
    if (r) free(r->rgb);
}

int i4_pipeline_preview_fit(i4_pipeline *p, double *r2_heldout, double *seconds) {
    if (!p->preview) {
        i4_preview_map *pm = malloc(sizeof *pm);
        if (!pm) return i4_error("out of memory");
        /* The fit decodes ten small grids. It runs on the CPU backend
         * whatever the model's backend is: the map is then the same on every
         * backend, and on a software Vulkan driver (lavapipe, exact fma
         * emulated in double) those decodes took minutes, not seconds. The
         * VAE weights are mapped, so a second CPU instance costs no copy. */
        i4_backend *cpu = NULL;
        i4_vae *vae = p->vae;
        int rc = 0;
        if (strcmp(i4_be_name(p->be), "cpu") != 0) {
            char dir[PATH_MAX + 32];
            component(dir, sizeof dir, p, "vae");
            rc = i4_cpu_backend_create(i4_be_threads(p->be), NULL, &cpu);
            if (rc == 0) rc = i4_vae_load(&vae, dir, p->precision, cpu);
        }
        if (rc == 0) rc = i4_preview_fit(vae, PREVIEW_FIT_GRIDS, PREVIEW_FIT_GRID, PREVIEW_FIT_SEED, pm);
        if (cpu) {
            if (vae != p->vae) i4_vae_free(vae);
            i4_backend_destroy(cpu);
        }
        if (rc != 0) {
            free(pm);
            return -1;
        }
        p->preview = pm;
    }
    if (r2_heldout) *r2_heldout = p->preview->r2_heldout;
    if (seconds) *seconds = p->preview->seconds;
    return 0;
}

/* Text features of the templated caption, text encoder loaded and released here. */
static int encode_text(i4_pipeline *p, const char *prompt, float **feat, int64_t *n_text) {
    int64_t *ids = NULL;
    size_t n = 0;
    if (i4_tokenizer_encode_prompt(p->tokenizer, prompt, strlen(prompt), &ids, &n) != 0) return -1;
    if (n > MAX_TEXT_TOKENS) {
        free(ids);
        return i4_error("the prompt is %zu tokens long (with the chat template); the limit is %d", n, MAX_TEXT_TOKENS);
    }
    char dir[PATH_MAX + 32];
    component(dir, sizeof dir, p, "text_encoder");
    i4_qwen3 *te = NULL;
    if (i4_qwen3_load(&te, dir, p->precision, p->be) != 0) {
        free(ids);
        return -1;
    }
    const i4_qwen3_config *tc = i4_qwen3_config_get(te);
    int64_t F = tc->hidden * tc->n_taps;
    if (F != i4_dit_config_get(p->cond)->llm_features) {
        i4_qwen3_free(te);
        free(ids);
        return i4_error("text encoder features (%lld) do not match the transformer's llm_features_dim (%lld)",
                        (long long)F, (long long)i4_dit_config_get(p->cond)->llm_features);
    }
    *feat = malloc(sizeof(float) * (size_t)n * (size_t)F);
    int rc = *feat ? i4_qwen3_encode(te, ids, (int64_t)n, *feat) : i4_error("out of memory");
    i4_qwen3_free(te); /* released before sampling */
    free(ids);
    *n_text = (int64_t)n;
    return rc;
}

static int load_noise(const char *path, float *z, int64_t n_img, int64_t C) {
    i4_tensor_set *set = NULL;
    if (i4_tensor_set_open(&set, path) != 0) return -1;
    const i4_tensor *t = i4_tensor_set_get(set, "noise");
    int64_t shape[3] = {1, n_img, C};
    int rc = t ? i4_tensor_expect(t, I4_DT_F32, 3, shape) : -1;
    if (rc == 0) i4_tensor_to_f32(t, z);
    i4_tensor_set_close(set);
    return rc;
}

static int save_latents(const char *path, const float *z, int64_t n_img, int64_t C) {
    i4_st_writer *w = i4_st_writer_new();
    int64_t shape[3] = {1, n_img, C};
    int rc = i4_st_writer_add_f32(w, "latents", 3, shape, z);
    if (rc == 0) rc = i4_st_writer_save(w, path);
    i4_st_writer_free(w);
    return rc;
}

typedef struct {
    i4_progress_fn fn;
    void *user;
} step_relay;

static int relay_step(void *user, int step, int steps) {
    step_relay *r = user;
    return r->fn ? r->fn(r->user, I4_PHASE_SAMPLE, step, steps) : 0;
}

/* Latents after a step -> one RGB pixel per token -> the caller's preview. */
typedef struct {
    const i4_preview_map *map;
    i4_preview_fn fn;
    void *user;
    int index, gh, gw;
    uint8_t *rgb;
} preview_relay;

static int relay_preview(void *user, int step, int steps, const float *z) {
    preview_relay *r = user;
    i4_preview_apply(r->map, z, (int64_t)r->gh * r->gw, r->rgb);
    return r->fn(r->user, r->index, step, steps, r->rgb, r->gw, r->gh);
}

int i4_generate_batch(i4_pipeline *p, const i4_generate_params *gp, int count, i4_progress_fn progress,
                      i4_image_fn on_image, void *user) {
    if (!gp->prompt) return i4_error("no prompt");
    if (count < 1 || count > 64) return i4_error("a batch is 1 to 64 images, got %d", count);
    if (count > 1 && (gp->noise_path || gp->latents_path))
        return i4_error("initial noise and saved latents need a batch of one image");
    if (gp->width < 16 || gp->height < 16 || gp->width % 16 || gp->height % 16)
        return i4_error("width and height must be positive multiples of 16, got %dx%d", gp->width, gp->height);
    const i4_preset *preset = i4_preset_find(gp->preset ? gp->preset : "V4_QUALITY_48");
    if (!preset) return i4_error("unknown preset '%s' (V4_QUALITY_48, V4_DEFAULT_20, V4_TURBO_12)", gp->preset);
    int steps = gp->steps > 0 ? gp->steps : preset->steps;
    if (steps > 1000) return i4_error("steps must be at most 1000, got %d", steps);
    float *guidance = malloc(sizeof(float) * (size_t)steps);
    if (!guidance) return i4_error("out of memory");
    for (int k = 0; k < steps; k++)
        guidance[k] = gp->guidance >= 0 ? (float)gp->guidance : i4_preset_guidance(preset, steps, k);
    i4_sampler_params sp = {
        .steps = steps,
        .mu = i4_schedule_mu(isnan(gp->mu) ? preset->mu : gp->mu, gp->width, gp->height),
        .sigma = isnan(gp->std) ? preset->sigma : gp->std,
        .guidance = guidance,
    };
    int64_t gh = gp->height / 16, gw = gp->width / 16, n_img = gh * gw;
    int64_t C = i4_dit_config_get(p->cond)->in_channels;
    float *feat = NULL, *z = NULL, *image = NULL;
    uint8_t *preview_rgb = NULL;
    int64_t n_text = 0;
    int rc = 0;
    i4_result res;
    memset(&res, 0, sizeof res);

    if (progress && progress(user, I4_PHASE_ENCODE, 0, 1)) { rc = I4_ERR_CANCELLED; goto done; }
    double t0 = i4_now_seconds();
    i4_rss_peak_reset();
    if (encode_text(p, gp->prompt, &feat, &n_text) != 0) { rc = -1; goto done; }
    double t_encode = i4_now_seconds() - t0, peak_encode = i4_rss_peak_mb();
    z = malloc(sizeof(float) * (size_t)(n_img * C));
    image = malloc(sizeof(float) * 3 * (size_t)gp->width * (size_t)gp->height);
    if (!z || !image) { rc = i4_error("out of memory for a %dx%d image", gp->width, gp->height); goto done; }
    if (gp->preview) { /* the map is fitted once per pipeline, here before the sampler's workspace exists */
        if (i4_pipeline_preview_fit(p, NULL, NULL) != 0) { rc = -1; goto done; }
        if (!(preview_rgb = malloc((size_t)n_img * 3))) { rc = i4_error("out of memory"); goto done; }
    }
    for (int i = 0; i < count; i++) {
        uint64_t seed = gp->seed + (uint64_t)i;
        double t1 = i4_now_seconds();
        if (gp->noise_path) {
            if (load_noise(gp->noise_path, z, n_img, C) != 0) { rc = i4_error_prefix("--noise"); goto done; }
        } else {
            i4_noise(seed, z, n_img * C);
        }
        if (progress && progress(user, I4_PHASE_SAMPLE, 0, steps)) { rc = I4_ERR_CANCELLED; goto done; }
        i4_rss_peak_reset();
        step_relay relay = {progress, user};
        preview_relay prelay = {p->preview, gp->preview, user, i, (int)gh, (int)gw, preview_rgb};
        sp.latents = gp->preview ? relay_preview : NULL;
        sp.latents_user = &prelay;
        rc = i4_sample(p->cond, p->uncond, feat, n_text, gh, gw, &sp, z, relay_step, &relay);
        if (rc != 0) goto done;
        double t2 = i4_now_seconds(), peak_sample = i4_rss_peak_mb();
        i4_rss_peak_reset();
        if (gp->latents_path && save_latents(gp->latents_path, z, n_img, C) != 0) { rc = -1; goto done; }
        if (progress && progress(user, I4_PHASE_DECODE, 0, 1)) { rc = I4_ERR_CANCELLED; goto done; }
        res.rgb = malloc((size_t)gp->width * (size_t)gp->height * 3);
        if (!res.rgb) { rc = i4_error("out of memory for a %dx%d image", gp->width, gp->height); goto done; }
        if (i4_vae_decode_tokens(p->vae, z, gh, gw, image) != 0) { rc = -1; goto done; }
        i4_image_to_rgb8(image, gp->width, gp->height, res.rgb);
        double t3 = i4_now_seconds();
        res.width = gp->width;
        res.height = gp->height;
        res.steps = steps;
        res.text_tokens = n_text;
        res.seconds_encode = t_encode; /* shared by the batch */
        res.seconds_sample = t2 - t1;
        res.seconds_decode = t3 - t2;
        res.peak_mb_encode = peak_encode; /* shared by the batch */
        res.peak_mb_sample = peak_sample;
        res.peak_mb_decode = i4_rss_peak_mb();
        int stop = on_image ? on_image(user, i, seed, &res) : 0;
        i4_result_free(&res);
        res.rgb = NULL;
        if (stop) { rc = I4_ERR_CANCELLED; goto done; }
    }
done:
    i4_result_free(&res);
    free(guidance);
    free(feat);
    free(z);
    free(image);
    free(preview_rgb);
    return rc;
}

/* i4_generate is a batch of one whose image is handed to the caller. */
typedef struct {
    i4_progress_fn progress;
    void *user;
    i4_result *out;
    i4_preview_fn preview;
} single_ctx;

static int single_progress(void *user, i4_phase phase, int step, int steps) {
    single_ctx *c = user;
    return c->progress ? c->progress(c->user, phase, step, steps) : 0;
}

static int single_preview(void *user, int index, int step, int steps, const uint8_t *rgb, int width, int height) {
    single_ctx *c = user;
    return c->preview(c->user, index, step, steps, rgb, width, height);
}

static int single_image(void *user, int index, uint64_t seed, i4_result *res) {
    (void)index;
    (void)seed;
    single_ctx *c = user;
    *c->out = *res;
    res->rgb = NULL; /* taken */
    return 0;
}

int i4_generate(i4_pipeline *p, const i4_generate_params *gp, i4_progress_fn progress, void *user, i4_result *out) {
    memset(out, 0, sizeof *out);
    single_ctx c = {progress, user, out, gp->preview};
    i4_generate_params g = *gp;
    if (gp->preview) g.preview = single_preview;
    int rc = i4_generate_batch(p, &g, 1, single_progress, single_image, &c);
    if (rc != 0) {
        free(out->rgb);
        out->rgb = NULL;
    }
    return rc;
}

void i4_pipeline_device_memory(const i4_pipeline *p, size_t *now, size_t *peak, const char **where) {
    static _Thread_local char name[96];
    i4_be_memory m;
    memset(&m, 0, sizeof m);
    i4_be_memory_get(p->be, &m);
    if (now) *now = m.now;
    if (peak) *peak = m.peak;
    snprintf(name, sizeof name, "%s", m.where);
    if (where) *where = name;
}
