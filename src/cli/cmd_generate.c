/*
 * cmd_generate.c — `ideogram4 generate`: caption to image file, with the
 * flags of the Python tool it replaces (docs/APP.md §2) plus engine options.
 * Prints a progress bar on a terminal (plain lines otherwise), phase times
 * and peak memory; writes a JSON sidecar (<image stem>.json) and the same
 * JSON inside the image (gen_meta.h, i4_image_write_meta). --count N makes a
 * batch with seeds seed, seed+1, ... from one text encoding, named
 * <stem>-1.<ext> ... <stem>-N.<ext>. Ctrl-C cancels between steps.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "cli/commands.h"
#include "ideogram4.h"
#include "pipeline/gen_meta.h"

static volatile sig_atomic_t interrupted; /* set by SIGINT; the CLI's only global */

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

typedef struct {
    int tty;
    double start;       /* of the current phase */
    double last_print;
    int image, count;   /* the batch: image being made (0-based) and its size */
} progress_state;

static int on_progress(void *user, i4_phase phase, int step, int steps) {
    progress_state *ps = user;
    double t = i4_now_seconds();
    if (phase == I4_PHASE_ENCODE) {
        fprintf(stderr, "encoding the prompt...\n");
        ps->start = t;
    } else if (phase == I4_PHASE_SAMPLE) {
        if (step == 0) {
            ps->start = t;
            if (ps->count > 1) fprintf(stderr, "image %d/%d\n", ps->image + 1, ps->count);
            return interrupted ? 1 : 0;
        }
        double el = t - ps->start;
        double per = step > 0 ? el / step : 0;
        double eta = per * (steps - step);
        if (ps->tty) {
            int width = 30, filled = steps ? width * step / steps : 0;
            char bar[64];
            for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
            bar[width] = 0;
            fprintf(stderr, "\rsampling [%s] %d/%d  %.2f s/step  ETA %.0f s ", bar, step, steps, per, eta);
            if (step == steps) fputc('\n', stderr);
        } else {
            fprintf(stderr, "step %d/%d  %.2f s/step  ETA %.0f s\n", step, steps, per, eta);
        }
    } else if (phase == I4_PHASE_DECODE) {
        fprintf(stderr, "decoding...\n");
    }
    fflush(stderr);
    return interrupted ? 1 : 0;
}

/* Trim surrounding whitespace in place (the reference trims --prompt-file text). */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t')) s[--n] = 0;
    return s;
}

static int parse_int(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "generate: %s needs an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_double(const char *flag, const char *v, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || end == v || !isfinite(x)) {
        fprintf(stderr, "generate: %s needs a number, got '%s'\n", flag, v);
        return -1;
    }
    *out = x;
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: ideogram4 generate (--prompt TEXT | --prompt-file FILE|-) --out IMAGE [options]\n"
            "  --model DIR | --repo ORG/NAME   weights (default: ideogram-ai/ideogram-4-fp8 in the HF cache)\n"
            "  --width W --height H            size, multiples of 16 (together); or --resolution N (default 1024)\n"
            "  --preset P                      V4_QUALITY_48 (default), V4_DEFAULT_20, V4_TURBO_12\n"
            "  --steps N --guidance G --mu M --std S   override the preset\n"
            "  --seed N                        default 20260608\n"
            "  --count N                       a batch of N images (1-64), seeds N, N+1, ..., one text encoding;\n"
            "                                  written as <stem>-1.<ext> ... <stem>-N.<ext>\n"
            "  --format png|webp|jpeg          default from the extension of --out\n"
            "  --quality 1-100                 lossy webp/jpeg (default: webp lossless, jpeg 95)\n"
            "  --lora PATH [--lora-strength S] (repeatable; strength default 0.6)\n"
            "  --noise FILE.safetensors        initial noise (tensor `noise` F32 [1,tokens,128])\n"
            "  --save-latents FILE.safetensors final latents (tensor `latents`)\n"
            "  --preview FILE.png              live preview: after each step, the latents mapped to RGB, one pixel\n"
            "                                  per 16x16 patch (replaced atomically; off by default)\n"
            "  --threads N --precision f32|bf16\n"
            "  --backend auto|cpu|vulkan       compute backend (default $IDEOGRAM4_BACKEND, else auto)\n"
            "  --device N                      Vulkan device N of `ideogram4 devices` (default $IDEOGRAM4_DEVICE,\n"
            "                                  else the best GPU)\n"
            "  --offload                       transformer layers that do not fit on the device stream from\n"
            "                                  host memory (default $IDEOGRAM4_OFFLOAD=1)\n"
            "The image carries its parameters (PNG text chunks, WebP/JPEG XMP): `ideogram4 info IMAGE`.\n"
            "Run logs go to $IDEOGRAM4_LOG_DIR (\"none\" = off), else $XDG_STATE_HOME/ideogram4/logs\n"
            "(default ~/.local/state/ideogram4/logs).\n");
}

/* $IDEOGRAM4_LOG_DIR ("none" = no file), else $XDG_STATE_HOME/ideogram4/logs,
 * else ~/.local/state/ideogram4/logs; "" (no file) without a home. */
static void cli_log_dir(char *out, size_t size) {
    const char *dir = getenv("IDEOGRAM4_LOG_DIR"), *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (dir && *dir) snprintf(out, size, "%s", dir);
    else if (state && state[0] == '/') snprintf(out, size, "%s/ideogram4/logs", state);
    else if (home && *home) snprintf(out, size, "%s/.local/state/ideogram4/logs", home);
    else snprintf(out, size, "none");
}

/* What the per-image callback needs to write an image and its sidecar. */
typedef struct {
    const i4_generate_params *gp;
    i4_image_format fmt;
    int quality, count;
    const char *stem, *ext;
    const i4_meta_lora *loras;
    int n_loras;
    double t_load;
    const char *cmd;
    i4_precision precision;
    i4_logger *lg;
    progress_state *ps;
    i4_pipeline *pipe;
    const char *preview_path; /* --preview */
    int preview_warned;
    int written, failed;
} batch_ctx;

static int on_image(void *user, int index, uint64_t seed, i4_result *res) {
    batch_ctx *b = user;
    char out_path[PATH_MAX + 16], sidecar[PATH_MAX + 16];
    if (b->count > 1) {
        snprintf(out_path, sizeof out_path, "%s-%d%s", b->stem, index + 1, b->ext);
        snprintf(sidecar, sizeof sidecar, "%s-%d.json", b->stem, index + 1);
    } else {
        snprintf(out_path, sizeof out_path, "%s%s", b->stem, b->ext);
        snprintf(sidecar, sizeof sidecar, "%s.json", b->stem);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_mb = (double)ru.ru_maxrss / 1024.0;
    /* the phase peaks reset the kernel's high-water mark: the run's peak is the largest of them */
    if (res->peak_mb_encode > peak_mb) peak_mb = res->peak_mb_encode;
    if (res->peak_mb_sample > peak_mb) peak_mb = res->peak_mb_sample;
    if (res->peak_mb_decode > peak_mb) peak_mb = res->peak_mb_decode;
    fprintf(stderr, "times: load %.2f s, text encoding %.2f s, sampling %.2f s, decoding %.2f s; peak memory %.0f MB\n",
            b->t_load, res->seconds_encode, res->seconds_sample, res->seconds_decode, peak_mb);
    /* What the backend held for buffers at most: device memory on a GPU (the
     * CPU backend counts its workspaces; its weights are the mmap'd files). */
    size_t dev_now = 0, dev_peak = 0;
    const char *dev_where = "";
    i4_pipeline_device_memory(b->pipe, &dev_now, &dev_peak, &dev_where);
    const double dev_peak_mb = (double)dev_peak / (1 << 20);
    fprintf(stderr, "peak device memory %.1f MB (%s)\n", dev_peak_mb, dev_where);
    if (res->peak_mb_sample >= 0)
        fprintf(stderr, "peak memory by phase: text encoding %.0f MB, sampling %.0f MB, decoding %.0f MB\n",
                res->peak_mb_encode, res->peak_mb_sample, res->peak_mb_decode);

    /* The sidecar: the parameters the image carries, then this run's facts. */
    i4_gen_meta gm = {
        .caption = b->gp->prompt, .seed = seed, .preset = b->gp->preset, .steps = res->steps,
        .width = res->width, .height = res->height, .guidance = b->gp->guidance, .loras = b->loras,
        .n_loras = b->n_loras, .format = i4_image_format_name(b->fmt), .batch_index = index, .batch_count = b->count,
    };
    json_t *meta = i4_gen_meta_json(&gm);
    char *params = i4_gen_meta_parameters(&gm);
    if (!meta || !params) {
        json_decref(meta);
        free(params);
        fprintf(stderr, "generate: out of memory\n");
        b->failed = 1;
        return 1;
    }
    /* The image carries the parameters alone, so the same settings give the
     * same file; the sidecar adds this run's facts. */
    json_object_set_new(meta, "precision", json_string(i4_precision_name(b->precision)));
    char *embedded = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_object_set_new(meta, "generation_seconds", json_real(round((res->seconds_sample + res->seconds_decode) * 10) / 10));
    json_t *timings = json_object();
    json_object_set_new(timings, "load", json_real(b->t_load));
    json_object_set_new(timings, "text_encoding", json_real(res->seconds_encode));
    json_object_set_new(timings, "sampling", json_real(res->seconds_sample));
    json_object_set_new(timings, "decoding", json_real(res->seconds_decode));
    json_object_set_new(meta, "timings_seconds", timings);
    json_object_set_new(meta, "peak_memory_mb", json_real(round(peak_mb)));
    json_object_set_new(meta, "peak_device_memory_mb", json_real(round(dev_peak_mb * 10) / 10));
    if (res->peak_mb_sample >= 0) {
        json_t *ph = json_object();
        json_object_set_new(ph, "text_encoding", json_real(round(res->peak_mb_encode)));
        json_object_set_new(ph, "sampling", json_real(round(res->peak_mb_sample)));
        json_object_set_new(ph, "decoding", json_real(round(res->peak_mb_decode)));
        json_object_set_new(meta, "peak_memory_mb_by_phase", ph);
    }
    json_object_set_new(meta, "output", json_string(out_path));
    json_object_set_new(meta, "device", json_string(i4_pipeline_backend(b->pipe)));
    json_object_set_new(meta, "text_tokens", json_integer(res->text_tokens));
    json_object_set_new(meta, "cmd", json_string(b->cmd));
    i4_image_metadata im = {embedded, params};
    int rc = embedded ? i4_image_write_meta(out_path, b->fmt, b->quality, res->rgb, res->width, res->height, &im)
                      : i4_error("out of memory");
    free(embedded);
    free(params);
    if (rc != 0) {
        fprintf(stderr, "generate: %s\n", i4_last_error());
        i4_log(b->lg, I4_LOG_ERROR, "output", "%s", i4_last_error());
        json_decref(meta);
        b->failed = 1;
        return 1;
    }
    if (i4_write_json_file(sidecar, meta, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) != 0)
        fprintf(stderr, "warning: cannot write the sidecar: %s\n", i4_last_error());
    json_decref(meta);
    printf("%s\n", out_path);
    fflush(stdout);
    fprintf(stderr, "done: %.1f s -> %s\n", res->seconds_sample + res->seconds_decode, out_path);
    i4_log(b->lg, I4_LOG_INFO, "generate",
           "done -> %s | load %.2f s, text encoding %.2f s, sampling %.2f s, decoding %.2f s | peak memory %.0f MB | seed %llu",
           out_path, b->t_load, res->seconds_encode, res->seconds_sample, res->seconds_decode,
           peak_mb, (unsigned long long)seed);
    b->written++;
    b->ps->image = index + 1;
    return interrupted ? 1 : 0;
}

/* --preview: the step's preview replaces the file (i4_image_write renames a
 * finished temporary); a failure warns once and sampling goes on. */
static int on_preview(void *user, int index, int step, int steps, const uint8_t *rgb, int width, int height) {
    (void)index;
    (void)step;
    (void)steps;
    batch_ctx *b = user;
    if (i4_image_write(b->preview_path, I4_IMAGE_PNG, -1, rgb, width, height) != 0 && !b->preview_warned) {
        fprintf(stderr, "\ngenerate: warning: --preview: %s\n", i4_last_error());
        b->preview_warned = 1;
    }
    return interrupted ? 1 : 0;
}

static int on_batch_progress(void *user, i4_phase phase, int step, int steps) {
    return on_progress(((batch_ctx *)user)->ps, phase, step, steps);
}

int i4_cmd_generate(int argc, char **argv) {
    const char *prompt_arg = NULL, *prompt_file = NULL, *out_arg = NULL, *format_arg = NULL, *preview_path = NULL;
    const char *loras[16];
    int n_loras = 0;
    double lora_strength = 0.6;
    long width = 0, height = 0, resolution = 1024, quality = -1, threads = 0, count = 1;
    i4_load_options lo = {0};
    i4_generate_params gp;
    i4_generate_params_init(&gp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(); return 0; }
        if (!strcmp(a, "--offload")) { lo.offload = 1; continue; }
        if (!v) { fprintf(stderr, "generate: option '%s' needs a value (or is unknown)\n", a); usage(); return 2; }
        i++;
        if (!strcmp(a, "--prompt")) prompt_arg = v;
        else if (!strcmp(a, "--prompt-file")) prompt_file = v;
        else if (!strcmp(a, "--out")) out_arg = v;
        else if (!strcmp(a, "--model")) lo.model_dir = v;
        else if (!strcmp(a, "--repo")) lo.repo = v;
        else if (!strcmp(a, "--format")) format_arg = v;
        else if (!strcmp(a, "--preset")) gp.preset = v;
        else if (!strcmp(a, "--noise")) gp.noise_path = v;
        else if (!strcmp(a, "--save-latents")) gp.latents_path = v;
        else if (!strcmp(a, "--preview")) preview_path = v;
        else if (!strcmp(a, "--width")) { if (parse_int(a, v, 1, 16384, &width)) return 2; }
        else if (!strcmp(a, "--height")) { if (parse_int(a, v, 1, 16384, &height)) return 2; }
        else if (!strcmp(a, "--resolution")) { if (parse_int(a, v, 1, 16384, &resolution)) return 2; }
        else if (!strcmp(a, "--quality")) { if (parse_int(a, v, 1, 100, &quality)) return 2; }
        else if (!strcmp(a, "--backend")) {
            if (!i4_backend_name_ok(v)) {
                fprintf(stderr, "generate: unknown backend '%s' (auto, cpu or vulkan)\n", v);
                return 2;
            }
            lo.backend = v;
        }
        else if (!strcmp(a, "--device")) {
            if (!i4_device_index_ok(v)) {
                fprintf(stderr, "generate: --device needs a device index (see `ideogram4 devices`), got '%s'\n", v);
                return 2;
            }
            lo.device = v;
        }
        else if (!strcmp(a, "--count")) { if (parse_int(a, v, 1, 64, &count)) return 2; }
        else if (!strcmp(a, "--threads")) { if (parse_int(a, v, 0, 4096, &threads)) return 2; }
        else if (!strcmp(a, "--steps")) { if (parse_int(a, v, 1, 1000, &x)) return 2; gp.steps = (int)x; }
        else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || *end || v[0] == '-' || end == v) { fprintf(stderr, "generate: --seed needs a non-negative integer, got '%s'\n", v); return 2; }
            gp.seed = s;
        }
        else if (!strcmp(a, "--guidance")) { if (parse_double(a, v, &gp.guidance) || gp.guidance < 0) { fprintf(stderr, "generate: --guidance must be >= 0\n"); return 2; } }
        else if (!strcmp(a, "--mu")) { if (parse_double(a, v, &gp.mu)) return 2; }
        else if (!strcmp(a, "--std")) { if (parse_double(a, v, &gp.std) || gp.std <= 0) { fprintf(stderr, "generate: --std must be > 0\n"); return 2; } }
        else if (!strcmp(a, "--lora-strength")) { if (parse_double(a, v, &lora_strength)) return 2; }
        else if (!strcmp(a, "--lora")) {
            if (n_loras == 16) { fprintf(stderr, "generate: at most 16 --lora\n"); return 2; }
            loras[n_loras++] = v;
        }
        else if (!strcmp(a, "--precision")) {
            if (i4_precision_parse(v, &lo.precision) != 0) { fprintf(stderr, "generate: %s\n", i4_last_error()); return 2; }
        }
        else { fprintf(stderr, "generate: unknown option '%s'\n", a); usage(); return 2; }
    }
    if (!prompt_arg && !prompt_file) { fprintf(stderr, "generate: --prompt or --prompt-file is required\n"); usage(); return 2; }
    if (!out_arg) { fprintf(stderr, "generate: --out is required\n"); usage(); return 2; }
    if ((width > 0) != (height > 0)) { fprintf(stderr, "generate: --width and --height must be set together\n"); return 2; }
    if (!width) width = height = resolution;
    if (width % 16 || height % 16) {
        long sw = width >= 16 ? width / 16 * 16 : 16, sh = height >= 16 ? height / 16 * 16 : 16;
        fprintf(stderr, "generate: width and height must be multiples of 16, got %ldx%ld (e.g. %ldx%ld)\n", width,
                height, sw, sh);
        return 2;
    }
    gp.width = (int)width;
    gp.height = (int)height;
    if (!i4_preset_steps(gp.preset)) {
        fprintf(stderr, "generate: unknown preset '%s' (V4_QUALITY_48, V4_DEFAULT_20, V4_TURBO_12)\n", gp.preset);
        return 2;
    }
    for (int i = 0; i < n_loras; i++)
        if (access(loras[i], R_OK) != 0) { fprintf(stderr, "generate: --lora %s: %s\n", loras[i], strerror(errno)); return 2; }
    if (count > 1 && (gp.noise_path || gp.latents_path)) {
        fprintf(stderr, "generate: --noise and --save-latents need --count 1\n");
        return 2;
    }

    /* Output path and format. The name asked for is kept when its extension
     * names the format (x.jpeg stays x.jpeg, X.PNG stays X.PNG); --format
     * naming another format replaces the extension. */
    i4_image_format fmt = I4_IMAGE_PNG, ext_fmt = I4_IMAGE_PNG;
    const char *dot = strrchr(out_arg, '.');
    const char *slash = strrchr(out_arg, '/');
    int ext_known = 0;
    if (dot && (!slash || dot > slash)) {
        char low[8] = "";
        size_t n = strlen(dot + 1);
        if (n < sizeof low) {
            for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)dot[1 + i]);
            ext_known = i4_image_format_parse(low, &ext_fmt) == 0;
        }
        if (ext_known) fmt = ext_fmt;
    } else {
        dot = NULL;
    }
    if (format_arg && i4_image_format_parse(format_arg, &fmt) != 0) { fprintf(stderr, "generate: %s\n", i4_last_error()); return 2; }
    if (dot && !ext_known && !format_arg)
        fprintf(stderr, "generate: '%s' is not a png, webp or jpeg extension: writing PNG data\n", dot);
    char out_path[PATH_MAX], stem[PATH_MAX], ext[PATH_MAX];
    snprintf(stem, sizeof stem, "%.*s", dot ? (int)(dot - out_arg) : (int)strlen(out_arg), out_arg);
    snprintf(ext, sizeof ext, "%s", dot && (!format_arg || (ext_known && ext_fmt == fmt)) ? dot : i4_image_format_ext(fmt));
    snprintf(out_path, sizeof out_path, "%s%s", stem, ext);
    if (quality > 0 && fmt == I4_IMAGE_PNG) fprintf(stderr, "generate: --quality is ignored for png\n");

    /* The caption. */
    char *prompt_buf = NULL;
    if (prompt_file) {
        FILE *f = strcmp(prompt_file, "-") ? fopen(prompt_file, "rb") : stdin;
        if (!f) { fprintf(stderr, "generate: cannot open %s: %s\n", prompt_file, strerror(errno)); return 2; }
        prompt_buf = i4_read_stream(f, NULL);
        if (f != stdin) fclose(f);
        if (!prompt_buf) { fprintf(stderr, "generate: cannot read %s\n", prompt_file); return 2; }
        gp.prompt = trim(prompt_buf);
    } else {
        gp.prompt = prompt_arg;
    }
    if (!*gp.prompt) { fprintf(stderr, "generate: the prompt is empty\n"); free(prompt_buf); return 2; }
    int kind = i4_caption_kind(gp.prompt, strlen(gp.prompt));
    const char *first = gp.prompt + strspn(gp.prompt, " \t\r\n");
    if (kind == I4_CAPTION_NOT_JSON && (*first == '{' || *first == '[')) {
        /* Meant as JSON but broken: refuse rather than render the braces as text. */
        i4_caption_issues issues = {0};
        i4_caption_verify(gp.prompt, strlen(gp.prompt), &issues);
        fprintf(stderr, "generate: the caption is not valid JSON: %s\n",
                issues.count ? issues.items[issues.count - 1] : "parse error");
        i4_caption_issues_free(&issues);
        free(prompt_buf);
        return 2;
    }
    if (kind != I4_CAPTION_OBJECT) fprintf(stderr, "warning: %s\n", i4_caption_kind_warning(kind));

    /* Parent folders of the output. */
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", out_path);
    char *ps = strrchr(parent, '/');
    if (ps && ps != parent) {
        *ps = 0;
        if (i4_mkdirs(parent) != 0) { fprintf(stderr, "generate: %s\n", i4_last_error()); free(prompt_buf); return 1; }
    }

    lo.threads = (int)threads;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);

    /* A log file per run, in the user's state folder, never in the current one. */
    i4_logger lg;
    char log_dir[PATH_MAX];
    cli_log_dir(log_dir, sizeof log_dir);
    if (i4_logger_open(&lg, log_dir, "ideogram4", 0) != 0)
        fprintf(stderr, "warning: %s (no log file)\n", i4_last_error());
    {
        char cmdline[2048] = "ideogram4";
        for (int i = 0; i < argc; i++) {
            size_t used = strlen(cmdline);
            snprintf(cmdline + used, sizeof cmdline - used, " %s", argv[i]);
        }
        i4_log(&lg, I4_LOG_INFO, "cli", "%s", cmdline);
    }

    double t0 = i4_now_seconds();
    i4_pipeline *pipe = NULL;
    fprintf(stderr, "loading the model...\n");
    if (i4_pipeline_load(&pipe, &lo) != 0) {
        fprintf(stderr, "generate: %s\n", i4_last_error());
        i4_log(&lg, I4_LOG_ERROR, "model", "load failed: %s", i4_last_error());
        i4_logger_close(&lg);
        free(prompt_buf);
        return 1;
    }
    double t_load = i4_now_seconds() - t0;
    fprintf(stderr, "loaded %s in %.1f s (%s, %s)\n", i4_pipeline_snapshot(pipe), t_load,
            i4_precision_name(lo.precision), i4_pipeline_backend(pipe));
    i4_log(&lg, I4_LOG_INFO, "model", "loaded %s in %.2f s (%s, %s)", i4_pipeline_snapshot(pipe), t_load,
           i4_precision_name(lo.precision), i4_pipeline_backend(pipe));
    for (int i = 0; i < n_loras; i++) {
        if (i4_pipeline_apply_lora(pipe, loras[i], (float)lora_strength) != 0) {
            fprintf(stderr, "generate: %s\n", i4_last_error());
            i4_log(&lg, I4_LOG_ERROR, "lora", "%s", i4_last_error());
            i4_logger_close(&lg);
            i4_pipeline_free(pipe);
            free(prompt_buf);
            return 1;
        }
        fprintf(stderr, "applied LoRA %s (strength %g, conditional transformer)\n", loras[i], lora_strength);
        i4_log(&lg, I4_LOG_INFO, "lora", "applied %s (strength %g)", loras[i], lora_strength);
    }
    if (count > 1)
        fprintf(stderr, "preset %s | %dx%d | seeds %llu..%llu (%ld images)\n", gp.preset, gp.width, gp.height,
                (unsigned long long)gp.seed, (unsigned long long)(gp.seed + (uint64_t)count - 1), count);
    else
        fprintf(stderr, "preset %s | %dx%d | seed %llu\n", gp.preset, gp.width, gp.height, (unsigned long long)gp.seed);
    i4_log(&lg, I4_LOG_INFO, "generate", "preset %s | %dx%d | seed %llu | count %ld", gp.preset, gp.width, gp.height,
           (unsigned long long)gp.seed, count);
    size_t cmdlen = 16;
    for (int i = 0; i < argc; i++) cmdlen += strlen(argv[i]) + 1;
    char *cmd = calloc(1, cmdlen);
    if (cmd) {
        strcat(cmd, "ideogram4");
        for (int i = 0; i < argc; i++) { strcat(cmd, " "); strcat(cmd, argv[i]); }
    }
    i4_meta_lora mloras[16];
    for (int i = 0; i < n_loras; i++) {
        const char *base = strrchr(loras[i], '/');
        mloras[i] = (i4_meta_lora){base ? base + 1 : loras[i], lora_strength};
    }
    progress_state ps_state = {.tty = isatty(2), .count = (int)count};
    batch_ctx bc = {
        .gp = &gp, .fmt = fmt, .quality = (int)quality, .count = (int)count, .stem = stem, .ext = ext,
        .loras = mloras, .n_loras = n_loras, .t_load = t_load, .cmd = cmd ? cmd : "ideogram4",
        .precision = lo.precision, .lg = &lg, .ps = &ps_state, .pipe = pipe, .preview_path = preview_path,
    };
    if (preview_path) {
        double r2 = 0, secs = 0;
        if (i4_pipeline_preview_fit(pipe, &r2, &secs) != 0) {
            fprintf(stderr, "generate: %s\n", i4_last_error());
            free(cmd);
            i4_logger_close(&lg);
            i4_pipeline_free(pipe);
            free(prompt_buf);
            return 1;
        }
        gp.preview = on_preview;
        fprintf(stderr, "live preview map fitted against the VAE in %.2f s (held-out R^2 %.3f); previews to %s\n", secs,
                r2, preview_path);
        i4_log(&lg, I4_LOG_INFO, "generate", "preview map fitted in %.2f s (held-out R^2 %.3f)", secs, r2);
    }
    int rc = i4_generate_batch(pipe, &gp, (int)count, on_batch_progress, on_image, &bc);
    free(cmd);
    if (bc.failed) rc = 1;
    else if (rc == I4_ERR_CANCELLED) {
        if (bc.written) fprintf(stderr, "\ncancelled after %d of %ld images\n", bc.written, count);
        else fprintf(stderr, "\ncancelled; nothing written\n");
        i4_log(&lg, I4_LOG_WARN, "generate", "cancelled after %d of %ld images", bc.written, count);
        rc = 130;
    } else if (rc != 0) {
        fprintf(stderr, "generate: %s\n", i4_last_error());
        i4_log(&lg, I4_LOG_ERROR, "generate", "%s", i4_last_error());
        rc = 1;
    }
    i4_logger_close(&lg);
    i4_pipeline_free(pipe);
    free(prompt_buf);
    return rc;
}
