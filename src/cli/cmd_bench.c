/*
 * cmd_bench.c — `ideogram4 bench OP [options]`: speed of the kernels and of
 * the transformer on random data, each figure next to the machine's FMA peak
 * measured in the same run and the CPU time other processes took meanwhile.
 *
 *   peak        FMA peak per thread count 1..--threads (bench/peak.h)
 *   linear      i4_linear, weights of --dtype (FP8 with per-row scales);
 *               flops 2 M K N
 *   attention   i4_attention, no mask; flops 4 T^2 H D
 *   conv3x3     i4_conv2d C -> O (--out-channels, default C), k = 3, S x S,
 *               bf16 weights; flops 2 O C 9 S^2
 *   dit-block   one block of the engine's transformer (src/model/dit.c) at
 *               full width on random FP8 weights (a one-layer synthetic
 *               transformer written to a temporary folder, bench/synthetic.h);
 *               flops of its Linears + attention
 *   text-encoder  the engine's text encoder over T tokens: two full-width
 *               layers measured, the 36 the features need EXTRAPOLATED
 *   vae-decode  the engine's VAE decoder (full size, random weights) at R x R
 *   step        one sampling step at R x R, EXTRAPOLATED from measured parts:
 *               for each of the two transformers (conditional: text + image
 *               tokens; unconditional: image tokens only)
 *                 layers x dit-block(L) + rest(L)
 *               where the rest (everything a forward does outside its blocks)
 *               is measured; the sampler's own update (a few element-wise
 *               passes over the [image tokens, 128] latents) is not counted.
 *   preview     the live preview of one sampling step at R x R (docs/APP.md):
 *               download of the [image tokens, 128] latents from the
 *               backend, the fitted linear map to one RGB pixel per token,
 *               PNG encode + base64 data URL (what the server does each
 *               step), next to the step (--step-seconds S, else the `step`
 *               extrapolation above): preview_cost_percent_of_step. Also
 *               fits the map against the full-size VAE decoder (random
 *               weights) and reports the fit's time and held-out R^2.
 * The ops run on the backend of --backend (auto | cpu | vulkan; as generate). Exit status:
 * 0 ok, 1 the run failed (out of memory), 2 bad usage or a shape that does
 * not fit this machine's memory.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "bench/synthetic.h"
#include "model/dit.h"
#include "model/qwen3.h"
#include "model/vae.h"
#include "pipeline/preview.h"
#include "pipeline/sampler.h"
#include "bench/fill.h"
#include "bench/peak.h"
#include "bench/report.h"
#include "bench/timing.h"
#include "cli/commands.h"
#include "backend/backend.h"
#include "ideogram4.h"
#include "ops/cpu_isa.h"
#include "ops/ops.h"

#define PEAK_SECONDS 0.05 /* one run of a peak loop */
#define SEED 20260608u

enum {
    OP_PEAK = 1, OP_LINEAR = 2, OP_ATTENTION = 4, OP_CONV = 8, OP_BLOCK = 16, OP_STEP = 32, OP_TE = 64, OP_VAE = 128,
    OP_PREVIEW = 256, OP_ALL = 511
};

static const struct {
    const char *name;
    int op;
} OPS[] = {{"peak", OP_PEAK}, {"linear", OP_LINEAR}, {"attention", OP_ATTENTION},
           {"conv3x3", OP_CONV}, {"dit-block", OP_BLOCK}, {"step", OP_STEP},
           {"text-encoder", OP_TE}, {"vae-decode", OP_VAE}, {"preview", OP_PREVIEW}};

typedef struct {
    int op;
    const char *op_name;
    int threads; /* as asked (0 = online CPUs) */
    const char *backend; /* as asked (NULL = $IDEOGRAM4_BACKEND, else auto) */
    const char *device;  /* --device N (NULL = $IDEOGRAM4_DEVICE, else auto) */
    i4_precision prec;
    long repeat, warmup;
    int json;
    i4_dtype dtype;
    long m, k, n;                 /* linear */
    long tokens, heads, head_dim; /* attention, dit-block */
    long channels, size, out_channels; /* conv3x3 (out_channels -1: = channels) */
    long dim, ffn, text_tokens, llm_features, layers, resolution; /* dit-block, step */
    long fit_grids;               /* preview: 8x8-token grids the map is fitted on (0 = no fit) */
    double step_seconds;          /* preview: the step to compare with (0 = extrapolate it) */
    int repeat_given, warmup_given;
} bench_opts;

typedef struct {
    i4_bench_report rep;
    const bench_opts *o;
    i4_backend *be;    /* the ops run here */
    int threads;       /* in effect */
    double peak;       /* avx2 FMA GFLOP/s at `threads`: the best measured so far in this run */
    long peak_iters;   /* iterations of one peak run */
} bench_run;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ideogram4 bench OP [options]\n"
            "  peak                                       FMA peak per thread count 1..--threads\n"
            "  linear [--dtype fp8|bf16|f16|f32] [--m M] [--k K] [--n N]      (default fp8 1024 4608 4608)\n"
            "  attention [--tokens T] [--heads H] [--head-dim D]              (default 1024 18 256)\n"
            "  conv3x3 [--channels C] [--size S] [--out-channels O]           (default 256 128, O = C)\n"
            "  dit-block [--tokens N] [--text-tokens T]                       (default 4352 = 4096 + 256 text)\n"
            "  step [--resolution R] [--text-tokens T] [--layers N] [--llm-features F]\n"
            "                                             (default 1024 256 34 53248; an extrapolation)\n"
            "  dit-block and step: [--dim D] [--heads H] [--ffn I] (default 4608 18 12288: the real model)\n"
            "  text-encoder [--tokens T]                                      (default 256; 2 of 36 layers run,\n"
            "                                             the 36 extrapolated)\n"
            "  vae-decode [--resolution R]                                    (default 1024; --repeat 1 --warmup 0)\n"
            "  preview [--resolution R] [--step-seconds S] [--fit-grids N]    (default 1024, the step extrapolated\n"
            "                                             as `step` does (its options apply), 8 grids; --repeat 20)\n"
            "  dit-block, step, text-encoder and vae-decode write random weights of the real shapes to a\n"
            "  temporary folder under $TMPDIR (about 0.5, 0.5, 0.4 and 0.2 GB) and time the engine's own code.\n"
            "common: --threads N (default: online CPUs)  --precision f32|bf16  --backend auto|cpu|vulkan  --device N\n"
            "        --repeat N (default 5)  --warmup N (default 1)  --json (one object per line)\n");
}

/* ------------------------------------------------------------ options */

static int parse_long(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "bench: %s needs an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_dtype(const char *v, i4_dtype *out) {
    static const struct {
        const char *name;
        i4_dtype t;
    } names[] = {{"fp8", I4_DT_F8_E4M3}, {"bf16", I4_DT_BF16}, {"f16", I4_DT_F16}, {"f32", I4_DT_F32}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(v, names[i].name)) {
            *out = names[i].t;
            return 0;
        }
    fprintf(stderr, "bench: unknown --dtype '%s' (expected fp8, bf16, f16 or f32)\n", v);
    return -1;
}

static const char *dtype_label(i4_dtype t) {
    switch (t) {
    case I4_DT_F8_E4M3: return "fp8";
    case I4_DT_BF16: return "bf16";
    case I4_DT_F16: return "f16";
    default: return "f32";
    }
}

/* Numeric options: flag, the ops it applies to, range, field. */
typedef struct {
    const char *flag;
    int ops;
    long lo, hi;
    size_t off;
} num_flag;

static const num_flag NUM_FLAGS[] = {
    {"--repeat", OP_ALL, 1, 1000000, offsetof(bench_opts, repeat)},
    {"--warmup", OP_ALL, 0, 1000000, offsetof(bench_opts, warmup)},
    {"--m", OP_LINEAR, 1, 1L << 22, offsetof(bench_opts, m)},
    {"--k", OP_LINEAR, 1, 1L << 22, offsetof(bench_opts, k)},
    {"--n", OP_LINEAR, 1, 1L << 22, offsetof(bench_opts, n)},
    {"--tokens", OP_ATTENTION | OP_BLOCK | OP_TE, 1, 1L << 20, offsetof(bench_opts, tokens)},
    {"--heads", OP_ATTENTION | OP_BLOCK | OP_STEP | OP_PREVIEW, 1, 4096, offsetof(bench_opts, heads)},
    {"--head-dim", OP_ATTENTION, 1, 65536, offsetof(bench_opts, head_dim)},
    {"--channels", OP_CONV, 1, 65536, offsetof(bench_opts, channels)},
    {"--size", OP_CONV, 1, 65536, offsetof(bench_opts, size)},
    {"--out-channels", OP_CONV, 1, 65536, offsetof(bench_opts, out_channels)},
    {"--dim", OP_BLOCK | OP_STEP | OP_PREVIEW, 2, 1L << 20, offsetof(bench_opts, dim)},
    {"--ffn", OP_BLOCK | OP_STEP | OP_PREVIEW, 1, 1L << 22, offsetof(bench_opts, ffn)},
    {"--text-tokens", OP_BLOCK | OP_STEP | OP_PREVIEW, 0, 1L << 20, offsetof(bench_opts, text_tokens)},
    {"--llm-features", OP_STEP | OP_PREVIEW, 1, 1L << 22, offsetof(bench_opts, llm_features)},
    {"--layers", OP_STEP | OP_PREVIEW, 1, 10000, offsetof(bench_opts, layers)},
    {"--resolution", OP_STEP | OP_VAE | OP_PREVIEW, 16, 65536, offsetof(bench_opts, resolution)},
    {"--fit-grids", OP_PREVIEW, 0, 64, offsetof(bench_opts, fit_grids)},
};

/* Returns 0, 1 for --help (printed), or -1 after printing the error. */
static int parse_opts(int argc, char **argv, bench_opts *o) {
    memset(o, 0, sizeof *o);
    o->prec = I4_PRECISION_F32;
    o->repeat = 5;
    o->warmup = 1;
    o->dtype = I4_DT_F8_E4M3;
    o->m = 1024, o->k = 4608, o->n = 4608;
    o->tokens = -1, o->heads = 18, o->head_dim = 256;
    o->channels = 256, o->size = 128, o->out_channels = -1;
    o->dim = 4608, o->ffn = 12288, o->text_tokens = -1, o->llm_features = 53248, o->layers = 34;
    o->resolution = 1024;
    o->fit_grids = 8;
    if (argc < 2) {
        fprintf(stderr, "bench: which benchmark? (peak, linear, attention, conv3x3, dit-block, step, text-encoder, vae-decode, preview)\n");
        usage(stderr);
        return -1;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 1;
    }
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (!strcmp(argv[1], OPS[i].name)) {
            o->op = OPS[i].op;
            o->op_name = OPS[i].name;
        }
    if (!o->op) {
        fprintf(stderr, "bench: unknown benchmark '%s' (expected peak, linear, attention, conv3x3, dit-block, step, text-encoder, preview or "
                "vae-decode)\n",
                argv[1]);
        return -1;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const num_flag *nf = NULL;
        for (size_t j = 0; j < sizeof NUM_FLAGS / sizeof NUM_FLAGS[0]; j++)
            if (!strcmp(a, NUM_FLAGS[j].flag)) nf = &NUM_FLAGS[j];
        int known = nf || !strcmp(a, "--threads") || !strcmp(a, "--precision") || !strcmp(a, "--backend") ||
                    !strcmp(a, "--device") || !strcmp(a, "--dtype") || !strcmp(a, "--step-seconds");
        if (!known) {
            fprintf(stderr, "bench: unknown option '%s'\n", a);
            return -1;
        }
        if (!v) {
            fprintf(stderr, "bench: option '%s' needs a value\n", a);
            return -1;
        }
        i++;
        if (nf) {
            if (!(nf->ops & o->op)) {
                fprintf(stderr, "bench: option '%s' does not apply to '%s'\n", a, o->op_name);
                return -1;
            }
            if (parse_long(a, v, nf->lo, nf->hi, (long *)((char *)o + nf->off)) != 0) return -1;
            if (!strcmp(a, "--repeat")) o->repeat_given = 1;
            if (!strcmp(a, "--warmup")) o->warmup_given = 1;
        } else if (!strcmp(a, "--threads")) {
            long t;
            if (parse_long(a, v, 0, 4096, &t) != 0) return -1;
            o->threads = (int)t;
        } else if (!strcmp(a, "--step-seconds")) {
            char *end;
            errno = 0;
            o->step_seconds = strtod(v, &end);
            if (!(o->op & OP_PREVIEW)) {
                fprintf(stderr, "bench: option '%s' does not apply to '%s'\n", a, o->op_name);
                return -1;
            }
            if (errno || *end || end == v || !(o->step_seconds > 0) || !isfinite(o->step_seconds)) {
                fprintf(stderr, "bench: --step-seconds needs a positive number of seconds, got '%s'\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--precision")) {
            if (i4_precision_parse(v, &o->prec) != 0) {
                fprintf(stderr, "bench: %s\n", i4_last_error());
                return -1;
            }
        } else if (!strcmp(a, "--backend")) {
            if (!i4_backend_name_valid(v)) {
                fprintf(stderr, "bench: unknown backend '%s' (auto, cpu or vulkan)\n", v);
                return -1;
            }
            o->backend = v;
        } else if (!strcmp(a, "--device")) {
            if (!i4_device_index_ok(v)) {
                fprintf(stderr, "bench: --device needs a device index (see `ideogram4 devices`), got '%s'\n", v);
                return -1;
            }
            o->device = v;
        } else { /* --dtype */
            if (!(o->op & OP_LINEAR)) {
                fprintf(stderr, "bench: option '%s' does not apply to '%s'\n", a, o->op_name);
                return -1;
            }
            if (parse_dtype(v, &o->dtype) != 0) return -1;
        }
    }
    if (o->op == OP_BLOCK) {
        if (o->tokens < 0) o->tokens = 4096 + 256;
        if (o->text_tokens < 0) o->text_tokens = 0;
        if (o->text_tokens > o->tokens) {
            fprintf(stderr, "bench: --text-tokens %ld is more than --tokens %ld\n", o->text_tokens, o->tokens);
            return -1;
        }
    }
    if (o->op == OP_ATTENTION && o->tokens < 0) o->tokens = 1024;
    if (o->op == OP_TE) {
        if (o->tokens < 0) o->tokens = 256;
        if (o->tokens > 2048) {
            fprintf(stderr, "bench: the text encoder takes at most 2048 tokens, got --tokens %ld\n", o->tokens);
            return -1;
        }
    }
    if (o->op == OP_VAE) {
        if (o->resolution % 16 != 0) {
            fprintf(stderr, "bench: --resolution must be a multiple of 16, got %ld\n", o->resolution);
            return -1;
        }
        /* one decode at 1024x1024 is minutes on a CPU: one timed run unless asked */
        if (!o->repeat_given) o->repeat = 1;
        if (!o->warmup_given) o->warmup = 0;
    }
    if (o->op == OP_PREVIEW) {
        if (!o->repeat_given) o->repeat = 20;
    }
    if (o->op & (OP_STEP | OP_PREVIEW)) {
        if (o->text_tokens < 0) o->text_tokens = 256;
        if (o->resolution % 16 != 0) {
            fprintf(stderr, "bench: --resolution must be a multiple of 16, got %ld\n", o->resolution);
            return -1;
        }
    }
    if (o->op & (OP_BLOCK | OP_STEP | OP_PREVIEW)) {
        if (o->dim % o->heads != 0 || (o->dim / o->heads) % 2 != 0) {
            fprintf(stderr, "bench: --dim %ld must be a multiple of --heads %ld with an even head size\n", o->dim,
                    o->heads);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ shared */

/* Refuses work that needs more memory than the machine has. */
static int fits_memory(const char *what, double bytes) {
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    double phys = pages > 0 && psize > 0 ? (double)pages * (double)psize : 0;
    if (phys > 0 && bytes > 0.9 * phys) {
        fprintf(stderr, "bench: %s needs %.1f GiB, more than this machine's %.1f GiB of memory\n", what,
                bytes / 1073741824.0, phys / 1073741824.0);
        return 0;
    }
    return 1;
}

static void *alloc_or_report(size_t bytes, const char *what) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) fprintf(stderr, "bench: out of memory (%s, %.1f MiB)\n", what, (double)bytes / 1048576.0);
    return p;
}

static void result_init(i4_bench_result *r, const bench_run *run, const char *op) {
    memset(r, 0, sizeof *r);
    r->op = op;
    r->shape = json_object();
    r->backend = i4_be_name(run->be);
    r->isa = i4_be_kernels(run->be);
    r->precision = i4_precision_name(run->o->prec);
    r->threads = run->threads;
    r->peak_gflops = run->peak;
}

/* A fresh result for op with fn(ctx) timed into it: 0, or -1 with the
 * error printed and nothing left to free. */
static int measure(bench_run *run, i4_bench_result *r, const char *op, void (*fn)(void *), void *ctx) {
    result_init(r, run, op);
    /* a failed op (remembered by the backend, e.g. a too large operand on a
     * GPU) is an error, not a fast time */
    if (i4_bench_time(fn, ctx, (int)run->o->warmup, (int)run->o->repeat, &r->t) == 0 &&
        (!run->be || i4_be_sync(run->be) == 0))
        return 0;
    json_decref(r->shape);
    fprintf(stderr, "bench: %s\n", i4_last_error());
    return -1;
}

static void shape_int(i4_bench_result *r, const char *key, long long v) {
    json_object_set_new(r->shape, key, json_integer(v));
}

/* The AVX2 FMA peak at `threads` (GFLOP/s): best of five runs after one
 * warmup (the best, because on a shared machine a run is only ever slowed). */
static double measure_ymm_peak(int threads, long iters) {
    i4_peak_run(I4_PEAK_YMM_FMA, threads, iters);
    double best = 0;
    for (int i = 0; i < 5; i++) {
        double s = i4_peak_run(I4_PEAK_YMM_FMA, threads, iters);
        if (s > 0) {
            double g = i4_peak_flops(I4_PEAK_YMM_FMA, iters) * threads / s * 1e-9;
            if (g > best) best = g;
        }
    }
    return best;
}

/* Prints a result. Except on the peak benchmark's own lines, the peak is
 * measured again first and the best of all measurements so far is the
 * reference: on a shared machine a loaded moment can slow any one of them,
 * but nothing makes the FMA loop run faster than the machine can. */
static void report(bench_run *run, i4_bench_result *r) {
    if (strcmp(r->op, "peak") != 0) {
        double p = measure_ymm_peak(run->threads, run->peak_iters);
        if (p > run->peak) run->peak = p;
        r->peak_gflops = run->peak;
    }
    i4_bench_report_line(&run->rep, r);
}

/* ------------------------------------------------------------ peak */

typedef struct {
    i4_peak_loop loop;
    int threads;
    long iters;
} peak_ctx;

static void peak_fn(void *c) {
    peak_ctx *p = c;
    i4_peak_run(p->loop, p->threads, p->iters);
}

static int bench_peak(bench_run *run) {
    long iters[I4_PEAK_COUNT];
    for (int l = 0; l < I4_PEAK_COUNT; l++)
        iters[l] = i4_peak_supported((i4_peak_loop)l) ? i4_peak_calibrate((i4_peak_loop)l, PEAK_SECONDS) : 0;
    for (int t = 1; t <= run->threads; t++) {
        double ymm = 0;
        for (int l = 0; l < I4_PEAK_COUNT; l++) {
            if (!iters[l]) continue;
            peak_ctx c = {(i4_peak_loop)l, t, iters[l]};
            i4_bench_result r;
            if (measure(run, &r, "peak", peak_fn, &c) != 0) return -1;
            r.threads = t;
            r.isa = i4_peak_isa(c.loop);
            r.precision = i4_peak_arith(c.loop);
            r.flops = i4_peak_flops(c.loop, c.iters) * t;
            if (l == I4_PEAK_YMM_FMA) ymm = r.t.min > 0 ? r.flops / r.t.min * 1e-9 : 0;
            r.peak_gflops = ymm;
            json_object_set_new(r.shape, "loop", json_string(i4_peak_name(c.loop)));
            shape_int(&r, "chains", i4_peak_chains(c.loop));
            shape_int(&r, "iterations", c.iters);
            snprintf(r.shape_text, sizeof r.shape_text, "%s chains=%d", i4_peak_name(c.loop), i4_peak_chains(c.loop));
            report(run, &r);
        }
    }
    return 0;
}

/* ------------------------------------------------------------ linear */

/* Device buffers of one benchmark; released together. */
typedef struct {
    i4_backend *be;
    i4_buf *b[8];
    int n;
} dev_bufs;

/* A device buffer of `bytes` holding `host` (uploaded), or empty when host is NULL. */
static int dev_buf(dev_bufs *d, const void *host, size_t bytes, i4_dv *out) {
    i4_buf *b = i4_be_alloc(d->be, bytes);
    if (!b) {
        fprintf(stderr, "bench: %s\n", i4_last_error());
        return -1;
    }
    d->b[d->n++] = b;
    *out = i4_dv_of(b);
    if (host && i4_be_upload(d->be, *out, host, bytes) != 0) {
        fprintf(stderr, "bench: %s\n", i4_last_error());
        return -1;
    }
    return 0;
}

static void dev_bufs_free(dev_bufs *d) {
    for (int i = 0; i < d->n; i++) i4_be_release(d->be, d->b[i]);
    d->n = 0;
}

/* ------------------------------------------------------------ linear */

typedef struct {
    i4_backend *be;
    i4_dlinear w;
    i4_dv x, y;
    int64_t m;
    i4_precision p;
} linear_ctx;

static void linear_fn(void *c) {
    linear_ctx *l = c;
    l->be->ops->linear(l->be, &l->w, l->x, l->w.in, l->m, l->y, l->w.out, l->p);
    i4_be_sync(l->be);
}

static int bench_linear(bench_run *run) {
    const bench_opts *o = run->o;
    const int64_t M = o->m, K = o->k, N = o->n;
    const double es = (double)i4_dtype_size(o->dtype);
    if (!fits_memory("linear", (double)K * N * es + 4.0 * ((double)N + (double)M * K + (double)M * N))) return 2;
    void *w = alloc_or_report((size_t)(K * N) * (size_t)es, "weights");
    float *scale = alloc_or_report((size_t)N * sizeof *scale, "scales");
    float *x = alloc_or_report((size_t)(M * K) * sizeof *x, "x");
    dev_bufs d = {run->be, {0}, 0};
    i4_weight_set ws;
    i4_weight_set_init(&ws, run->be);
    int rc = 1;
    if (w && scale && x) {
        i4_fill_weights(w, scale, o->dtype, N, K, 1.0f / (float)K, SEED);
        i4_fill_uniform(x, M * K, 1.0f, SEED + 1, o->prec == I4_PRECISION_BF16);
        i4_linear_w hw = {o->dtype, w, scale, 0, I4_DT_F32, NULL, N, K};
        linear_ctx c = {run->be, {0}, {0}, {0}, M, o->prec};
        if (i4_bind_dlinear(&ws, &hw, &c.w) != 0) fprintf(stderr, "bench: %s\n", i4_last_error());
        else if (dev_buf(&d, x, (size_t)(M * K) * sizeof *x, &c.x) == 0 &&
                 dev_buf(&d, NULL, (size_t)(M * N) * sizeof(float), &c.y) == 0) {
            i4_bench_result r;
            if (measure(run, &r, "linear", linear_fn, &c) == 0) {
                r.flops = 2.0 * (double)M * (double)K * (double)N;
                json_object_set_new(r.shape, "dtype", json_string(dtype_label(o->dtype)));
                shape_int(&r, "m", M);
                shape_int(&r, "k", K);
                shape_int(&r, "n", N);
                snprintf(r.shape_text, sizeof r.shape_text, "%s m=%lld k=%lld n=%lld", dtype_label(o->dtype),
                         (long long)M, (long long)K, (long long)N);
                report(run, &r);
                rc = 0;
            }
        }
    }
    dev_bufs_free(&d);
    i4_weight_set_release(&ws);
    free(w);
    free(scale);
    free(x);
    return rc;
}

/* ------------------------------------------------------------ attention */

typedef struct {
    i4_backend *be;
    i4_dv q, k, v, out;
    int64_t T;
    int H, D;
    i4_precision p;
} attention_ctx;

static void attention_fn(void *c) {
    attention_ctx *a = c;
    const int64_t w = (int64_t)a->H * a->D;
    a->be->ops->attention(a->be, a->out, w, a->q, w, a->k, w, a->v, w, a->T, a->T, a->H, a->H, a->D,
                          1.0f / sqrtf((float)a->D), I4_MASK_NONE, i4_dv_none(), a->p);
    i4_be_sync(a->be);
}

static int bench_attention(bench_run *run) {
    const bench_opts *o = run->o;
    const int64_t T = o->tokens, H = o->heads, D = o->head_dim, n = T * H * D;
    if (!fits_memory("attention", 16.0 * (double)T * (double)H * (double)D)) return 2;
    float *h = alloc_or_report((size_t)n * sizeof *h, "q, k, v");
    dev_bufs d = {run->be, {0}, 0};
    int rc = 1;
    attention_ctx c = {run->be, {0}, {0}, {0}, {0}, T, (int)H, (int)D, o->prec};
    const int bf = o->prec == I4_PRECISION_BF16;
    const size_t bytes = (size_t)n * sizeof *h;
    int ok = h != NULL;
    if (ok) i4_fill_uniform(h, n, 1.0f, SEED, bf);
    ok = ok && dev_buf(&d, h, bytes, &c.q) == 0;
    if (ok) i4_fill_uniform(h, n, 1.0f, SEED + 1, bf);
    ok = ok && dev_buf(&d, h, bytes, &c.k) == 0;
    if (ok) i4_fill_uniform(h, n, 1.0f, SEED + 2, bf);
    ok = ok && dev_buf(&d, h, bytes, &c.v) == 0 && dev_buf(&d, NULL, bytes, &c.out) == 0;
    if (ok) {
        i4_bench_result r;
        if (measure(run, &r, "attention", attention_fn, &c) == 0) {
            r.flops = 4.0 * (double)T * (double)T * (double)H * (double)D;
            shape_int(&r, "tokens", T);
            shape_int(&r, "heads", H);
            shape_int(&r, "head_dim", D);
            snprintf(r.shape_text, sizeof r.shape_text, "tokens=%lld heads=%lld head_dim=%lld", (long long)T,
                     (long long)H, (long long)D);
            report(run, &r);
            rc = 0;
        }
    }
    dev_bufs_free(&d);
    free(h);
    return rc;
}

/* ------------------------------------------------------------ conv3x3 */

typedef struct {
    i4_backend *be;
    i4_dconv w;
    i4_dv x, y;
    int64_t S;
    i4_precision p;
} conv_ctx;

static void conv_fn(void *c) {
    conv_ctx *v = c;
    v->be->ops->conv2d(v->be, &v->w, v->x, v->S, v->S, 1, v->y, v->p);
    i4_be_sync(v->be);
}

static int bench_conv(bench_run *run) {
    const bench_opts *o = run->o;
    const int64_t C = o->channels, S = o->size, O = o->out_channels > 0 ? o->out_channels : C;
    /* stored bf16 weights, the kernel's f32 repack (up to 2x padding), x and y */
    if (!fits_memory("conv3x3", 10.0 * O * C * 9 + 4.0 * (double)(C + O) * S * S)) return 2;
    uint16_t *w = alloc_or_report((size_t)(O * C * 9) * sizeof *w, "weights");
    float *x = alloc_or_report((size_t)(C * S * S) * sizeof *x, "x");
    dev_bufs d = {run->be, {0}, 0};
    i4_weight_set ws;
    i4_weight_set_init(&ws, run->be);
    int rc = 1;
    if (w && x) {
        i4_fill_weights(w, NULL, I4_DT_BF16, O, C * 9, sqrtf(3.0f / (float)(C * 9)), SEED);
        i4_fill_uniform(x, C * S * S, 1.0f, SEED + 1, o->prec == I4_PRECISION_BF16);
        i4_conv_w hw = {I4_DT_BF16, w, I4_DT_F32, NULL, O, C, 3};
        conv_ctx c = {run->be, {0}, {0}, {0}, S, o->prec};
        if (i4_bind_dconv(&ws, &hw, &c.w) != 0) fprintf(stderr, "bench: %s\n", i4_last_error());
        else if (dev_buf(&d, x, (size_t)(C * S * S) * sizeof *x, &c.x) == 0 &&
                 dev_buf(&d, NULL, (size_t)(O * S * S) * sizeof(float), &c.y) == 0) {
            i4_bench_result r;
            if (measure(run, &r, "conv3x3", conv_fn, &c) == 0) {
                r.flops = 2.0 * (double)O * (double)C * 9.0 * (double)S * (double)S;
                shape_int(&r, "channels", C);
                if (O != C) shape_int(&r, "out_channels", O);
                shape_int(&r, "size", S);
                json_object_set_new(r.shape, "dtype", json_string("bf16"));
                if (O != C)
                    snprintf(r.shape_text, sizeof r.shape_text, "bf16 channels=%lld->%lld size=%lldx%lld",
                             (long long)C, (long long)O, (long long)S, (long long)S);
                else
                    snprintf(r.shape_text, sizeof r.shape_text, "bf16 channels=%lld size=%lldx%lld", (long long)C,
                             (long long)S, (long long)S);
                report(run, &r);
                rc = 0;
            }
        }
    }
    dev_bufs_free(&d);
    i4_weight_set_release(&ws);
    free(w);
    free(x);
    return rc;
}

/* ------------------------------------------------------------ dit-block, step */

static i4_tiny_dit_dims_t dit_dims(const bench_opts *o) {
    i4_fullsize_dims d;
    i4_fullsize_dims_real(&d);
    d.dit.dim = o->dim;
    d.dit.head_dim = o->dim / o->heads;
    d.dit.ffn_dim = o->ffn;
    d.dit.llm_features = o->llm_features;
    d.dit.n_layers = 1;
    return d.dit;
}

/* Host memory the transformer benchmarks need: one layer's weights and the
 * rest's (FP8 + scales), the workspaces of the runs, inputs and outputs. */
static double dit_bytes(const i4_tiny_dit_dims_t *d, int64_t n_txt, int64_t n_img, int runs) {
    const double D = (double)d->dim, I = (double)d->ffn_dim, A = (double)d->adaln_dim, C = (double)d->in_channels,
                 F = (double)d->llm_features, L = (double)(n_txt + n_img);
    const double w = 4 * D * D + 3 * D * I + 4 * D * A + D * C + D * F + 2 * D * D + A * D + D * A + C * D;
    const double ws = 4.0 * L * (2 * D + (4 * D > 2 * I ? 4 * D : 2 * I) + 2.0 * D / (double)d->head_dim * 0 + C) +
                      4.0 * 256 * F;
    return w + runs * ws + 4.0 * L * (2 * C) + 4.0 * (double)n_txt * F;
}

/* A synthetic one-layer transformer at the asked width, loaded on the backend. */
typedef struct {
    i4_bench_snapshot snap;
    i4_dit *m;
    dev_bufs d;
    i4_dit_run *run[2];  /* [0] conditional (text + image), [1] unconditional (image only) */
    i4_dv x, feat, vel;
} dit_bench;

static void dit_bench_free(dit_bench *b) {
    for (int i = 0; i < 2; i++) i4_dit_run_free(b->run[i]);
    dev_bufs_free(&b->d);
    i4_dit_free(b->m);
    i4_bench_snapshot_remove(&b->snap);
}

/* Runs for n_txt text + n_img image tokens (the unconditional one only when
 * both), inputs uniform random on the device, one untimed forward each. */
static int dit_bench_make(dit_bench *b, bench_run *run, const i4_tiny_dit_dims_t *dd, int64_t n_txt, int64_t n_img,
                          int both) {
    memset(b, 0, sizeof *b);
    b->d.be = run->be;
    i4_fullsize_dims d;
    i4_fullsize_dims_real(&d);
    d.dit = *dd;
    char dir[PATH_MAX + 32];
    const int64_t L = n_txt + n_img, C = dd->in_channels, F = dd->llm_features;
    int64_t *pos = malloc(sizeof(int64_t) * (size_t)(3 * L)), *seg = malloc(sizeof(int64_t) * (size_t)L),
            *ind = malloc(sizeof(int64_t) * (size_t)L);
    float *host = malloc(sizeof(float) * (size_t)((n_txt > 0 ? n_txt : 1) * F > L * C ? (n_txt > 0 ? n_txt : 1) * F
                                                                                        : L * C));
    int rc = -1;
    if (!pos || !seg || !ind || !host) {
        i4_error("out of memory");
        goto out;
    }
    if (i4_bench_snapshot_make(&b->snap, &d, I4_FULLSIZE_TRANSFORMER, run->o->json) != 0) goto out;
    if (i4_dit_load(&b->m, i4_bench_snapshot_component(&b->snap, "transformer", dir, sizeof dir), run->o->prec,
                    run->be) != 0)
        goto out;
    /* the sampler's layouts: text rows first, then the image grid (1 x n_img) */
    i4_layout_conditional(n_txt, 1, n_img, pos, seg, ind);
    if (i4_dit_run_new(b->m, pos, seg, ind, L, &b->run[0]) != 0) goto out;
    if (both) {
        i4_layout_unconditional(1, n_img, pos, seg, ind);
        if (i4_dit_run_new(b->m, pos, seg, ind, n_img, &b->run[1]) != 0) goto out;
    }
    const int bf = run->o->prec == I4_PRECISION_BF16;
    i4_fill_uniform(host, L * C, 1.0f, SEED + 3, bf);
    if (dev_buf(&b->d, host, sizeof(float) * (size_t)(L * C), &b->x) != 0 ||
        dev_buf(&b->d, NULL, sizeof(float) * (size_t)(L * C), &b->vel) != 0)
        goto out;
    i4_fill_uniform(host, (n_txt > 0 ? n_txt : 1) * F, 1.0f, SEED + 4, bf);
    if (dev_buf(&b->d, host, sizeof(float) * (size_t)((n_txt > 0 ? n_txt : 1) * F), &b->feat) != 0) goto out;
    /* one forward each: the hidden state a block then works on, and warm caches */
    if (i4_dit_run_forward(b->run[0], b->x, 0.5f, b->feat, b->vel) != 0 ||
        (both && i4_dit_run_forward(b->run[1], b->x, 0.5f, i4_dv_none(), b->vel) != 0) || i4_be_sync(run->be) != 0)
        goto out;
    rc = 0;
out:
    free(pos);
    free(seg);
    free(ind);
    free(host);
    if (rc != 0) fprintf(stderr, "bench: %s\n", i4_last_error());
    return rc;
}

typedef struct {
    dit_bench *b;
    int which;
    i4_backend *be;
} dit_ctx;

static void block_fn(void *c) {
    dit_ctx *d = c;
    i4_dit_run_block(d->b->run[d->which], 0);
    i4_be_sync(d->be);
}

static void rest_fn(void *c) {
    dit_ctx *d = c;
    i4_dit_run_rest(d->b->run[d->which], d->b->x, 0.5f, d->which ? i4_dv_none() : d->b->feat, d->b->vel);
    i4_be_sync(d->be);
}

static void dit_shape_json(i4_bench_result *r, const i4_tiny_dit_dims_t *d, int64_t n_txt, int64_t n_img) {
    shape_int(r, "tokens", n_txt + n_img);
    shape_int(r, "text_tokens", n_txt);
    shape_int(r, "image_tokens", n_img);
    shape_int(r, "dim", d->dim);
    shape_int(r, "heads", d->dim / d->head_dim);
    shape_int(r, "head_dim", d->head_dim);
    shape_int(r, "ffn", d->ffn_dim);
    json_object_set_new(r->shape, "weights", json_string("fp8"));
}

/* Times block 0 of run `which` and reports it; t gets the timing. */
static int time_block(bench_run *run, dit_bench *b, int which, const i4_tiny_dit_dims_t *d, int64_t n_txt,
                      int64_t n_img, i4_bench_timing *t, double *flops) {
    i4_bench_result r;
    dit_ctx c = {b, which, run->be};
    if (measure(run, &r, "dit-block", block_fn, &c) != 0) return 1;
    r.flops = i4_bench_dit_block_flops(d, n_txt + n_img);
    dit_shape_json(&r, d, n_txt, n_img);
    snprintf(r.shape_text, sizeof r.shape_text, "tokens=%lld (text %lld) D=%lld I=%lld", (long long)(n_txt + n_img),
             (long long)n_txt, (long long)d->dim, (long long)d->ffn_dim);
    *t = r.t;
    *flops = r.flops;
    report(run, &r);
    return 0;
}

static int bench_block(bench_run *run) {
    const bench_opts *o = run->o;
    const i4_tiny_dit_dims_t d = dit_dims(o);
    const int64_t n_txt = o->text_tokens, n_img = o->tokens - o->text_tokens;
    if (!fits_memory("dit-block", dit_bytes(&d, n_txt, n_img, 1))) return 2;
    dit_bench b;
    if (dit_bench_make(&b, run, &d, n_txt, n_img, 0) != 0) {
        dit_bench_free(&b);
        return 1;
    }
    i4_bench_timing t;
    double flops;
    int rc = time_block(run, &b, 0, &d, n_txt, n_img, &t, &flops);
    dit_bench_free(&b);
    return rc;
}

static int time_rest(bench_run *run, dit_bench *b, int which, const i4_tiny_dit_dims_t *d, int64_t n_txt,
                     int64_t n_img, i4_bench_timing *t, double *flops) {
    i4_bench_result r;
    dit_ctx c = {b, which, run->be};
    if (measure(run, &r, "dit-rest", rest_fn, &c) != 0) return 1;
    r.flops = i4_bench_dit_rest_flops(d, n_txt, n_img);
    dit_shape_json(&r, d, n_txt, n_img);
    shape_int(&r, "llm_features", d->llm_features);
    snprintf(r.shape_text, sizeof r.shape_text, "tokens=%lld (text %lld) outside blocks", (long long)(n_txt + n_img),
             (long long)n_txt);
    *t = r.t;
    *flops = r.flops;
    report(run, &r);
    return 0;
}

/* The extrapolated step (its median into *median when set). */
static int bench_step(bench_run *run, double *median) {
    const bench_opts *o = run->o;
    const i4_tiny_dit_dims_t d = dit_dims(o);
    const int64_t g = o->resolution / 16, n_img = g * g, n_txt = o->text_tokens;
    if (!fits_memory("step", dit_bytes(&d, n_txt, n_img, 2))) return 2;
    dit_bench b;
    if (dit_bench_make(&b, run, &d, n_txt, n_img, 1) != 0) {
        dit_bench_free(&b);
        return 1;
    }
    /* [0] conditional (text + image tokens), [1] unconditional (image tokens only) */
    i4_bench_timing tb[2], tr[2];
    double fb[2], fr[2];
    int rc = 0;
    for (int u = 0; u < 2 && rc == 0; u++) {
        const int64_t nt = u ? 0 : n_txt;
        rc = time_block(run, &b, u, &d, nt, n_img, &tb[u], &fb[u]);
        if (rc == 0) rc = time_rest(run, &b, u, &d, nt, n_img, &tr[u], &fr[u]);
    }
    dit_bench_free(&b);
    if (rc != 0) return rc;

    const double L = (double)o->layers;
    i4_bench_result r;
    result_init(&r, run, "step");
    r.extrapolated = 1;
    r.t.min = L * (tb[0].min + tb[1].min) + tr[0].min + tr[1].min;
    r.t.median = L * (tb[0].median + tb[1].median) + tr[0].median + tr[1].median;
    if (median) *median = r.t.median;
    r.t.foreign = -1;
    if (tb[0].foreign >= 0 && tb[1].foreign >= 0 && tr[0].foreign >= 0 && tr[1].foreign >= 0)
        r.t.foreign = tb[0].foreign + tb[1].foreign + tr[0].foreign + tr[1].foreign;
    r.flops = L * (fb[0] + fb[1]) + fr[0] + fr[1];
    shape_int(&r, "resolution", o->resolution);
    shape_int(&r, "image_tokens", n_img);
    shape_int(&r, "text_tokens", n_txt);
    shape_int(&r, "layers", o->layers);
    shape_int(&r, "transformers", 2);
    shape_int(&r, "dim", d.dim);
    shape_int(&r, "ffn", d.ffn_dim);
    json_object_set_new(r.shape, "estimate",
                        json_string("layers*(block(text+image)+block(image))+rest(text+image)+rest(image)"));
    snprintf(r.shape_text, sizeof r.shape_text, "EXTRAPOLATED %lldx%lld: 2 x (%lld x block + rest)",
             (long long)o->resolution, (long long)o->resolution, (long long)o->layers);
    report(run, &r);
    if (!o->json)
        printf("# step = %lld x (dit-block at %lld tokens + dit-block at %lld tokens) + both dit-rest lines: an\n"
               "# extrapolation from the parts measured above, not a measured step (foreign s: their sum).\n",
               (long long)o->layers, (long long)(n_txt + n_img), (long long)n_img);
    return 0;
}

/* ------------------------------------------------------------ text-encoder */

#define TE_MEASURED_LAYERS 2
#define TE_BENCH_VOCAB 4096 /* the lookup table's size does not change the work: a small one is written */

typedef struct {
    i4_qwen3 *m;
    const int64_t *ids;
    int64_t n;
    float *features;
    int failed;
} te_ctx;

static void te_fn(void *c) {
    te_ctx *t = c;
    if (i4_qwen3_encode(t->m, t->ids, t->n, t->features) != 0) t->failed = 1;
}

static int bench_text_encoder(bench_run *run) {
    const bench_opts *o = run->o;
    i4_fullsize_dims d;
    i4_fullsize_dims_real(&d);
    const int full_layers = (int)d.te.n_layers; /* 36: the last feature tap is layer 35 */
    d.te.n_layers = TE_MEASURED_LAYERS;
    d.te.vocab = TE_BENCH_VOCAB;
    const int64_t n = o->tokens, H = d.te.hidden;
    i4_bench_snapshot snap;
    i4_qwen3 *m = NULL;
    int64_t *ids = malloc(sizeof *ids * (size_t)n);
    float *feat = NULL;
    int rc = 1;
    char dir[PATH_MAX + 32];
    if (!ids) goto out;
    for (int64_t i = 0; i < n; i++) ids[i] = (i * 7919) % TE_BENCH_VOCAB;
    if (i4_bench_snapshot_make(&snap, &d, I4_FULLSIZE_TEXT_ENCODER, o->json) != 0 ||
        i4_qwen3_load_partial(&m, i4_bench_snapshot_component(&snap, "text_encoder", dir, sizeof dir), o->prec,
                              run->be) != 0) {
        fprintf(stderr, "bench: %s\n", i4_last_error());
        goto out;
    }
    feat = malloc(sizeof *feat * (size_t)(n * H * (i4_qwen3_config_get(m)->n_taps > 0 ? i4_qwen3_config_get(m)->n_taps : 1)));
    if (!feat) goto out;
    te_ctx c = {m, ids, n, feat, 0};
    i4_bench_result r;
    if (measure(run, &r, "text-encoder-layers", te_fn, &c) != 0) goto out;
    if (c.failed) {
        fprintf(stderr, "bench: %s\n", i4_last_error());
        json_decref(r.shape);
        goto out;
    }
    const double layer_flops = i4_bench_te_layer_flops(&d.te, n);
    r.flops = TE_MEASURED_LAYERS * layer_flops;
    shape_int(&r, "tokens", n);
    shape_int(&r, "layers", TE_MEASURED_LAYERS);
    shape_int(&r, "hidden", H);
    snprintf(r.shape_text, sizeof r.shape_text, "tokens=%lld, %d of %d layers", (long long)n, TE_MEASURED_LAYERS,
             full_layers);
    const i4_bench_timing t = r.t;
    report(run, &r);

    /* The encoder the pipeline runs: 36 layers (embedding rows and the tap
     * copies are per-token work, measured above with the two layers). */
    i4_bench_result e;
    result_init(&e, run, "text-encoder");
    e.extrapolated = 1;
    const double k = (double)full_layers / TE_MEASURED_LAYERS;
    e.t.min = k * t.min;
    e.t.median = k * t.median;
    e.t.foreign = t.foreign >= 0 ? k * t.foreign : -1;
    e.flops = full_layers * layer_flops;
    shape_int(&e, "tokens", n);
    shape_int(&e, "layers", full_layers);
    shape_int(&e, "hidden", H);
    snprintf(e.shape_text, sizeof e.shape_text, "EXTRAPOLATED tokens=%lld, %d layers", (long long)n, full_layers);
    report(run, &e);
    rc = 0;
out:
    free(ids);
    free(feat);
    i4_qwen3_free(m);
    i4_bench_snapshot_remove(&snap);
    return rc;
}

/* ------------------------------------------------------------ vae-decode */

typedef struct {
    i4_vae *m;
    const float *lat;
    int64_t g;
    float *image;
    int failed;
} vae_ctx;

static void vae_fn(void *c) {
    vae_ctx *v = c;
    if (i4_vae_decode_tokens(v->m, v->lat, v->g, v->g, v->image) != 0) v->failed = 1;
}

static int bench_vae(bench_run *run) {
    const bench_opts *o = run->o;
    i4_fullsize_dims d;
    i4_fullsize_dims_real(&d);
    const int64_t g = o->resolution / 16, R = o->resolution;
    /* three activation slots of up to 128 channels at R x R, the image, the attention scratch */
    if (!fits_memory("vae-decode", 4.0 * (3.0 * 128 * R * R + 3.0 * R * R) + 4.0 * 4 * 512 * (R / 8.0) * (R / 8.0)))
        return 2;
    i4_bench_snapshot snap;
    i4_vae *m = NULL;
    float *lat = malloc(sizeof *lat * (size_t)(g * g * 128)), *image = malloc(sizeof *image * (size_t)(3 * R * R));
    int rc = 1;
    char dir[PATH_MAX + 32];
    if (!lat || !image) {
        fprintf(stderr, "bench: out of memory\n");
        goto out;
    }
    i4_fill_uniform(lat, g * g * 128, 1.0f, SEED + 5, 0);
    if (i4_bench_snapshot_make(&snap, &d, I4_FULLSIZE_VAE, o->json) != 0 ||
        i4_vae_load(&m, i4_bench_snapshot_component(&snap, "vae", dir, sizeof dir), o->prec, run->be) != 0) {
        fprintf(stderr, "bench: %s\n", i4_last_error());
        goto out;
    }
    vae_ctx c = {m, lat, g, image, 0};
    i4_bench_result r;
    if (measure(run, &r, "vae-decode", vae_fn, &c) != 0) goto out;
    if (c.failed) {
        fprintf(stderr, "bench: %s\n", i4_last_error());
        json_decref(r.shape);
        goto out;
    }
    r.flops = i4_vae_decode_flops(m, g, g);
    shape_int(&r, "resolution", R);
    shape_int(&r, "tokens", g * g);
    snprintf(r.shape_text, sizeof r.shape_text, "%lldx%lld (%lldx%lld tokens)", (long long)R, (long long)R,
             (long long)g, (long long)g);
    report(run, &r);
    rc = 0;
out:
    free(lat);
    free(image);
    i4_vae_free(m);
    i4_bench_snapshot_remove(&snap);
    return rc;
}

/* ------------------------------------------------------------ preview */

typedef struct {
    i4_backend *be;
    i4_dv zd;            /* the sampler's latents on the backend */
    float *z;            /* host copy */
    const i4_preview_map *map;
    int64_t g;
    uint8_t *rgb;
    size_t url_bytes;
    int failed;
} preview_ctx;

/* What the server pays per step: download, map, PNG + base64 data URL. */
static void preview_fn(void *c) {
    preview_ctx *p = c;
    const int64_t n = p->g * p->g;
    if (i4_be_download(p->be, p->z, p->zd, sizeof(float) * (size_t)(n * I4_PREVIEW_CH)) != 0) {
        p->failed = 1;
        return;
    }
    i4_preview_apply(p->map, p->z, n, p->rgb);
    char *url = i4_preview_data_url(p->rgb, (int)p->g, (int)p->g);
    if (!url) p->failed = 1;
    else p->url_bytes = strlen(url);
    free(url);
}

static int bench_preview(bench_run *run) {
    const bench_opts *o = run->o;
    const int64_t g = o->resolution / 16, n = g * g;
    i4_preview_map map;
    memset(&map, 0, sizeof map);
    int rc = 1;
    if (o->fit_grids > 0) {
        /* the fit, against the full-size VAE decoder (random weights) */
        i4_fullsize_dims d;
        i4_fullsize_dims_real(&d);
        i4_bench_snapshot snap;
        i4_vae *m = NULL;
        char dir[PATH_MAX + 32];
        int frc = -1;
        if (i4_bench_snapshot_make(&snap, &d, I4_FULLSIZE_VAE, o->json) == 0 &&
            i4_vae_load(&m, i4_bench_snapshot_component(&snap, "vae", dir, sizeof dir), o->prec, run->be) == 0)
            frc = i4_preview_fit(m, (int)o->fit_grids, 8, SEED, &map);
        if (frc != 0) fprintf(stderr, "bench: %s\n", i4_last_error());
        i4_vae_free(m);
        i4_bench_snapshot_remove(&snap);
        if (frc != 0) return 1;
        if (!o->json)
            printf("# preview map fitted against the full-size VAE decoder (random weights) on %ld grids of 8x8 tokens\n"
                   "# in %.2f s: R^2 fit %.3f, held-out %.3f (constant predictor %.3f)\n",
                   o->fit_grids, map.seconds, map.r2_fit, map.r2_heldout, map.r2_const);
    } else {
        /* no fit: an arbitrary map of the same shape (the timing does not depend on it) */
        for (int c = 0; c < 3; c++)
            for (int k = 0; k <= I4_PREVIEW_CH; k++) map.w[c][k] = (float)((k * 7 + c * 3) % 11 - 5) / 64.0f;
    }
    float *z = alloc_or_report(sizeof(float) * (size_t)(n * I4_PREVIEW_CH), "latents");
    uint8_t *rgb = alloc_or_report((size_t)n * 3, "preview");
    dev_bufs db = {.be = run->be};
    preview_ctx pc = {.be = run->be, .z = z, .map = &map, .g = g, .rgb = rgb};
    if (!z || !rgb) goto out;
    i4_noise(SEED, z, n * I4_PREVIEW_CH);
    if (dev_buf(&db, z, sizeof(float) * (size_t)(n * I4_PREVIEW_CH), &pc.zd) != 0) goto out;
    i4_bench_result r;
    if (measure(run, &r, "preview", preview_fn, &pc) != 0) goto out;
    if (pc.failed) {
        fprintf(stderr, "bench: %s\n", i4_last_error());
        json_decref(r.shape);
        goto out;
    }
    const double preview_s = r.t.median;
    r.flops = (double)n * 3 * 2 * (I4_PREVIEW_CH + 1);
    shape_int(&r, "resolution", o->resolution);
    shape_int(&r, "tokens", n);
    shape_int(&r, "preview_pixels", n);
    shape_int(&r, "data_url_bytes", (long long)pc.url_bytes);
    snprintf(r.shape_text, sizeof r.shape_text, "%lldx%lld: download + map + PNG data URL of %lldx%lld px",
             (long long)o->resolution, (long long)o->resolution, (long long)g, (long long)g);
    report(run, &r);
    double step_s = o->step_seconds;
    int extrapolated = 0;
    if (step_s <= 0) {
        if (bench_step(run, &step_s) != 0) goto out;
        extrapolated = 1;
    }
    const double pct = 100.0 * preview_s / step_s;
    if (o->json) {
        json_t *j = json_pack("{s:s,s:i,s:f,s:f,s:b,s:f}", "op", "preview-cost", "resolution", (int)o->resolution,
                              "preview_seconds", preview_s, "step_seconds", step_s, "step_extrapolated", extrapolated,
                              "preview_cost_percent_of_step", pct);
        if (j && o->fit_grids > 0) {
            json_object_set_new(j, "fit_grids", json_integer(o->fit_grids));
            json_object_set_new(j, "fit_seconds", json_real(map.seconds));
            json_object_set_new(j, "fit_r2", json_real(map.r2_fit));
            json_object_set_new(j, "fit_r2_heldout", json_real(map.r2_heldout));
            json_object_set_new(j, "fit_r2_constant", json_real(map.r2_const));
        }
        char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
        if (line) printf("%s\n", line);
        free(line);
        json_decref(j);
    } else {
        printf("# preview per step: %.3f ms = %.4f%% of a %s step of %.3f s (preview_cost_percent_of_step)\n",
               preview_s * 1e3, pct, extrapolated ? "EXTRAPOLATED" : "given", step_s);
    }
    rc = 0;
out:
    dev_bufs_free(&db);
    free(z);
    free(rgb);
    return rc;
}

/* ------------------------------------------------------------ main */

static void print_preamble(const bench_run *run) {
    char model[160] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10)) {
                const char *c = strchr(line, ':');
                if (c) {
                    snprintf(model, sizeof model, "%s", c + 2);
                    model[strcspn(model, "\n")] = 0;
                }
                break;
            }
        fclose(f);
    }
    printf("# ideogram4 bench %s: backend %s, %s; %s; AVX-512F %s, AVX-512-BF16 %s\n", run->o->op_name,
           i4_be_describe(run->be), i4_precision_name(run->o->prec), model,
           i4_peak_supported(I4_PEAK_ZMM_FMA) ? "yes" : "no", i4_peak_supported(I4_PEAK_ZMM_DPBF16) ? "yes" : "no");
    printf("# %%peak: against the AVX2 FMA peak at the same thread count, measured before (now: %.1f GFLOP/s)\n"
           "# and after each benchmark, the best so far; foreign s: CPU seconds other processes used\n"
           "# during the timed runs\n",
           run->peak);
}

int i4_cmd_bench(int argc, char **argv) {
    bench_opts o;
    int prc = parse_opts(argc, argv, &o);
    if (prc == 1) return 0;
    if (prc != 0) {
        fprintf(stderr, "(see `ideogram4 bench --help`)\n");
        return 2;
    }
    if (!i4_peak_supported(I4_PEAK_YMM_FMA)) {
        fprintf(stderr, "bench: this CPU has no AVX2/FMA (the kernels need x86-64-v3)\n");
        return 1;
    }
    bench_run run;
    memset(&run, 0, sizeof run);
    i4_backend_options bo = {o.backend, o.threads, NULL, o.device};
    if (i4_backend_create(&bo, &run.be) != 0) {
        fprintf(stderr, "bench: %s\n", i4_last_error());
        return 1;
    }
    /* the code outside the backend (the peak loops, the random-weight DiT) uses its thread count too */
    i4_set_threads(i4_be_threads(run.be));
    run.o = &o;
    run.rep.out = stdout;
    run.rep.json = o.json;
    run.threads = i4_be_threads(run.be);
    run.peak_iters = i4_peak_calibrate(I4_PEAK_YMM_FMA, PEAK_SECONDS);
    run.peak = measure_ymm_peak(run.threads, run.peak_iters);
    if (!o.json) print_preamble(&run);
    int rc;
    switch (o.op) {
    case OP_PEAK: rc = bench_peak(&run) == 0 ? 0 : 1; break;
    case OP_LINEAR: rc = bench_linear(&run); break;
    case OP_ATTENTION: rc = bench_attention(&run); break;
    case OP_CONV: rc = bench_conv(&run); break;
    case OP_BLOCK: rc = bench_block(&run); break;
    case OP_TE: rc = bench_text_encoder(&run); break;
    case OP_VAE: rc = bench_vae(&run); break;
    case OP_PREVIEW: rc = bench_preview(&run); break;
    default: rc = bench_step(&run, NULL); break;
    }
    i4_backend_destroy(run.be);
    return rc;
}
