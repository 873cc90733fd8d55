/*
 * generate_routes.c — generation jobs (docs/APP.md §3.3.4–§3.3.6):
 * POST /api/generate, GET /api/status/{id}, POST /api/tasks/{id}/cancel,
 * GET /api/queue, POST /api/verify.
 *
 * A request is validated here and becomes a generation job on the one job
 * queue (jobs.c). Up to queue_size generations may wait behind the running
 * job (status "queued"; 409 when full); with queue_size 0 (the reference
 * behaviour) a job is only accepted when nothing is queued or running.
 *
 * Durability: the image is written to a temporary name and renamed (image.c)
 * before its row is inserted, so a crash can leave a file without a row
 * (deleted at the next start) but never a row without a file.
 */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/utf8.h"
#include "pipeline/gen_meta.h"
#include "pipeline/preview.h"
#include "server/server_internal.h"

/* A generation job's settings and, once done, its timing. */
typedef struct {
    char *caption;         /* compact JSON */
    char *hld;             /* high_level_description, whole (stored with the image) */
    int width, height;
    char preset[32];
    int steps;             /* 0 = the preset's */
    uint64_t seed;         /* of the first image; image i has seed + i */
    int count;             /* images in the batch, 1..8 */
    i4_image_format format;
    int64_t prompt_id;     /* <= 0 = null */
    double generation_seconds;
    json_t *images;        /* image rows made so far (under lock) */
    int index;             /* image being made (worker only, read under lock) */
    int want_preview;      /* live previews (request "preview", default true) */
    char *preview;         /* latest step's preview as a PNG data URL (under lock), NULL when none */
    int preview_step;
} gen_spec;

static void gen_spec_free(void *p) {
    gen_spec *g = p;
    if (!g) return;
    free(g->caption);
    free(g->hld);
    free(g->preview);
    json_decref(g->images);
    free(g);
}

/* ------------------------------------------------------------ the job */

typedef struct {
    i4_server *s;
    srv_job *job;
    char *lora_label;
    double lora_strength;
    i4_meta_lora loras[16];
    int n_loras;
    json_t *lora_stack;    /* owns the names loras[] points into */
    double t_start;        /* of the current image */
    char error[700];       /* why the batch stopped, "" when cancelled */
} run_ctx;

static int on_progress(void *user, i4_phase phase, int step, int steps) {
    run_ctx *pc = user;
    i4_server *s = pc->s;
    srv_job *j = pc->job;
    gen_spec *g = j->spec;
    pthread_mutex_lock(&s->lock);
    double now = i4_now_seconds();
    char which[32] = "";
    if (g->count > 1) snprintf(which, sizeof which, "image %d/%d, ", g->index + 1, g->count);
    if (phase == I4_PHASE_ENCODE) {
        j->phase = "encoding";
        snprintf(j->msg, sizeof j->msg, "Encoding prompt...");
    } else if (phase == I4_PHASE_SAMPLE) {
        if (step == 0) j->sample_started = now;
        j->phase = "sampling";
        j->step = step;
        j->total_steps = steps;
        double done = steps > 0 ? ((double)g->index * steps + step) / ((double)g->count * steps) : 0;
        int pct = (int)floor(done * 100.0);
        j->progress = pct > 99 ? 99 : pct;
        snprintf(j->msg, sizeof j->msg, "Generating (%s%dx%d, %d/%d steps)...", which, g->width, g->height, step, steps);
    } else if (phase == I4_PHASE_DECODE) {
        j->phase = "decoding";
        snprintf(j->msg, sizeof j->msg, g->count > 1 ? "Decoding image %d/%d..." : "Decoding image...", g->index + 1,
                 g->count);
    }
    j->phase_started = now;
    pthread_mutex_unlock(&s->lock);
    return srv_job_should_stop(s, j);
}

/* A step's live preview: encoded outside the lock, swapped in under it. */
static int on_preview(void *user, int index, int step, int steps, const uint8_t *rgb, int width, int height) {
    (void)index;
    (void)steps;
    run_ctx *pc = user;
    i4_server *s = pc->s;
    gen_spec *g = pc->job->spec;
    char *url = i4_preview_data_url(rgb, width, height);
    if (!url) return srv_job_should_stop(s, pc->job); /* a preview is optional: no error */
    pthread_mutex_lock(&s->lock);
    char *old = g->preview;
    g->preview = url;
    g->preview_step = step;
    pthread_mutex_unlock(&s->lock);
    free(old);
    return srv_job_should_stop(s, pc->job);
}

/* The applied stack as the history row stores it: "a + b" (NULL when none)
 * and the strength when exactly one LoRA is applied (else 0). */
static char *lora_label_locked(i4_server *s, double *strength) {
    size_t n = json_array_size(s->applied_loras);
    *strength = n == 1 ? json_number_value(json_object_get(json_array_get(s->applied_loras, 0), "strength")) : 0;
    return n ? srv_lora_label(s->applied_loras) : NULL;
}

/* One decoded image of the batch: write it with its parameters inside, then
 * commit its history row; non-zero stops the batch (pc->error says why). */
static int on_image(void *user, int index, uint64_t seed, i4_result *res) {
    run_ctx *pc = user;
    i4_server *s = pc->s;
    srv_job *j = pc->job;
    gen_spec *g = j->spec;
    double seconds = i4_now_seconds() - pc->t_start;
    char name[48];
    srv_timing_record(s, res);
    pthread_mutex_lock(&s->lock);
    s->last_decode_seconds = res->seconds_decode;
    j->phase = "saving";
    snprintf(j->msg, sizeof j->msg, g->count > 1 ? "Saving image %d/%d..." : "Saving image...", index + 1, g->count);
    srv_random_hex(s, name, 32);
    pthread_mutex_unlock(&s->lock);
    strcat(name, i4_image_format_ext(g->format));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s->output_dir, name);
    int quality = g->format == I4_IMAGE_WEBP ? s->opt.quality_webp : g->format == I4_IMAGE_JPEG ? s->opt.quality_jpeg : -1;
    i4_gen_meta gm = {
        .caption = g->caption, .seed = seed, .preset = g->preset, .steps = res->steps, .width = res->width,
        .height = res->height, .guidance = -1, .loras = pc->loras, .n_loras = pc->n_loras,
        .format = i4_image_format_name(g->format), .batch_index = index, .batch_count = g->count,
    };
    json_t *meta = i4_gen_meta_json(&gm);
    char *json = meta ? json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    char *params = i4_gen_meta_parameters(&gm);
    json_decref(meta);
    i4_image_metadata im = {json, params};
    int wrc = json && params ? i4_image_write_meta(path, g->format, quality, res->rgb, res->width, res->height, &im)
                             : i4_error("out of memory");
    free(json);
    free(params);
    if (wrc != 0) {
        /* The message names the file's path: say what failed without it. */
        const char *why = i4_last_error();
        snprintf(pc->error, sizeof pc->error, "cannot save the image: %s",
                 strstr(why, "disk full") ? "disk full (no space left on device)" : "write failed");
        i4_log(&s->log, I4_LOG_ERROR, "generate", "saving %s: %s", path, why);
        return 1;
    }
    /* The file exists under its final name, synced: now commit the row.
     * A prompt deleted meanwhile leaves the image without a prompt (store.c). */
    i4_store_image row = {
        .file_name = name, .format = i4_image_format_name(g->format), .width = g->width, .height = g->height,
        .seed = (int64_t)seed, .preset = g->preset, .steps = res->steps, .generation_seconds = seconds,
        .lora_name = pc->lora_label, .lora_strength = pc->lora_strength, .prompt_id = g->prompt_id, .hld = g->hld,
    };
    int64_t image_id = 0;
    json_t *img = NULL;
    if (i4_store_image_insert(s->store, &row, &image_id) != 0 || i4_store_image_get(s->store, image_id, &img) != 0) {
        char why[600];
        i4_utf8_copy(why, sizeof why, i4_last_error());
        if (!image_id) unlink(path);
        snprintf(pc->error, sizeof pc->error, "cannot record the image: %s", why);
        return 1;
    }
    char url[64], clock[16];
    snprintf(url, sizeof url, "/api/images/%lld/file", (long long)image_id);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(clock, sizeof clock, "%H:%M:%S", &tm);
    json_object_set_new(img, "url", json_string(url));
    json_object_set_new(img, "time", json_string(clock));
    json_object_set_new(img, "seed", json_integer((json_int_t)seed));
    json_object_set_new(img, "file_name", json_string(name));
    pthread_mutex_lock(&s->lock);
    g->generation_seconds += seconds;
    /* The row tells the prompt the image really belongs to. */
    json_t *pid = json_object_get(img, "prompt_id");
    g->prompt_id = json_is_integer(pid) ? json_integer_value(pid) : 0;
    json_array_append_new(g->images, img);
    g->index = index + 1;
    pthread_mutex_unlock(&s->lock);
    i4_log(&s->log, I4_LOG_INFO, "generate", "job %s: image %lld %s (%d/%d, %dx%d, %s, seed %llu, %.1fs) | RSS %.2f GiB",
           j->id, (long long)image_id, name, index + 1, g->count, g->width, g->height, g->preset,
           (unsigned long long)seed, seconds, srv_rss_mb() / 1024.0);
    pc->t_start = i4_now_seconds();
    return 0;
}

static void run_generation(i4_server *s, srv_job *j) {
    gen_spec *g = j->spec;
    run_ctx pc = {.s = s, .job = j};
    pthread_mutex_lock(&s->lock);
    i4_pipeline *p = s->pipe; /* only this worker changes it */
    pc.lora_label = lora_label_locked(s, &pc.lora_strength);
    pc.lora_stack = json_deep_copy(s->applied_loras);
    snprintf(j->msg, sizeof j->msg, "Preparing pipeline (%dx%d, %d steps)...", g->width, g->height, j->total_steps);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < json_array_size(pc.lora_stack) && pc.n_loras < 16; i++) {
        json_t *it = json_array_get(pc.lora_stack, i);
        const char *n = json_string_value(json_object_get(it, "name"));
        pc.loras[pc.n_loras++] = (i4_meta_lora){n ? n : "", json_number_value(json_object_get(it, "strength"))};
    }
    int rc;
    if (!p) {
        rc = -1;
        snprintf(pc.error, sizeof pc.error, "Model not loaded.");
    } else {
        i4_generate_params gp;
        i4_generate_params_init(&gp);
        gp.prompt = g->caption;
        gp.width = g->width;
        gp.height = g->height;
        gp.preset = g->preset;
        gp.steps = g->steps;
        gp.seed = g->seed;
        if (g->want_preview) {
            gp.preview = on_preview;
            /* the map is fitted once per model, in the first job that wants previews (part of that
             * job, so a load is reported done at once and queue positions stay what they say) */
            double r2 = 0, secs = 0;
            int fitted_before = s->preview_fit_logged;
            if (i4_pipeline_preview_fit(p, &r2, &secs) == 0 && !fitted_before) {
                i4_log(&s->log, I4_LOG_INFO, "model",
                       "live-preview map fitted against the VAE in %.2fs (held-out R^2 %.3f)", secs, r2);
                s->preview_fit_logged = 1;
            }
        }
        double t0 = pc.t_start = i4_now_seconds();
        rc = i4_generate_batch(p, &gp, g->count, on_progress, on_image, &pc);
        if (rc == -1 && !pc.error[0]) i4_utf8_copy(pc.error, sizeof pc.error, i4_last_error());
        if (rc == 0) {
            pthread_mutex_lock(&s->lock);
            g->generation_seconds = i4_now_seconds() - t0;
            pthread_mutex_unlock(&s->lock);
        }
    }
    free(pc.lora_label);
    json_decref(pc.lora_stack);
    pthread_mutex_lock(&s->lock);
    size_t made = json_array_size(g->images);
    /* "image" is the first image (one-image clients); "images" has them all. */
    json_t *first = made ? json_deep_copy(json_array_get(g->images, 0)) : NULL;
    double seconds = g->generation_seconds;
    free(g->preview); /* previews are for running jobs */
    g->preview = NULL;
    pthread_mutex_unlock(&s->lock);
    if (pc.error[0]) {
        json_decref(first);
        if (made) srv_job_finish(s, j, JOB_ERROR, NULL, "Error: %s (%zu of %d images saved)", pc.error, made, g->count);
        else srv_job_finish(s, j, JOB_ERROR, NULL, "Error: %s", pc.error);
    } else if (rc == I4_ERR_CANCELLED) {
        json_decref(first);
        if (made) srv_job_finish(s, j, JOB_CANCELLED, NULL, "Cancelled (%zu of %d images saved).", made, g->count);
        else srv_job_finish(s, j, JOB_CANCELLED, NULL, "Cancelled.");
    } else {
        srv_job_finish(s, j, JOB_DONE, first, "Done in %.1fs", seconds);
    }
}

const srv_job_type srv_generate_job = {"generate", run_generation, gen_spec_free};

/* ------------------------------------------------------------ routes */

/* The request's settings as a spec, or NULL with the 422 set. */
static gen_spec *parse_generate(srv_req *r, json_t *body) {
    const i4_server_options *o = &r->s->opt;
    json_t *cap = json_object_get(body, "caption");
    if (!json_is_object(cap)) {
        srv_invalid(r, "caption", "must be a JSON object");
        return NULL;
    }
    int dims[2] = {1024, 1024};
    const char *dim_names[2] = {"width", "height"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(body, dim_names[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_integer(v)) {
            srv_invalid(r, dim_names[i], "must be an integer");
            return NULL;
        }
        json_int_t x = json_integer_value(v);
        if (x < o->min_size || x > o->max_size) {
            srv_invalid(r, dim_names[i], "must be between %d and %d", o->min_size, o->max_size);
            return NULL;
        }
        if (x % o->size_multiple) {
            srv_invalid(r, dim_names[i], "must be a multiple of %d", o->size_multiple);
            return NULL;
        }
        dims[i] = (int)x;
    }
    const char *preset = o->default_preset;
    json_t *v = json_object_get(body, "preset");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || !i4_preset_steps(json_string_value(v))) {
            srv_invalid(r, "preset", "preset must be one of: V4_QUALITY_48, V4_DEFAULT_20, V4_TURBO_12");
            return NULL;
        }
        preset = json_string_value(v);
    }
    uint64_t seed = (uint64_t)o->default_seed;
    v = json_object_get(body, "seed");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            srv_invalid(r, "seed", "must be a non-negative integer");
            return NULL;
        }
        seed = (uint64_t)json_integer_value(v);
    }
    i4_image_format fmt;
    i4_image_format_parse(o->default_format, &fmt);
    v = json_object_get(body, "format");
    if (v && !json_is_null(v)) {
        char low[16] = "";
        const char *in = json_is_string(v) ? json_string_value(v) : "";
        size_t n = strlen(in);
        if (n < sizeof low)
            for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)in[i]);
        if (!low[0] || !strcmp(low, "jpg") || i4_image_format_parse(low, &fmt) != 0) {
            srv_invalid(r, "format", "format must be one of: png, webp, jpeg");
            return NULL;
        }
    }
    int count = 1;
    v = json_object_get(body, "n");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > SRV_MAX_BATCH) {
            srv_invalid(r, "n", "must be an integer from 1 to %d", SRV_MAX_BATCH);
            return NULL;
        }
        count = (int)json_integer_value(v);
    }
    int64_t prompt_id = 0;
    v = json_object_get(body, "prompt_id");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            srv_invalid(r, "prompt_id", "must be a positive integer or null");
            return NULL;
        }
        prompt_id = json_integer_value(v);
    }
    int want_preview = 1;
    v = json_object_get(body, "preview");
    if (v && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            srv_invalid(r, "preview", "must be true or false");
            return NULL;
        }
        want_preview = json_is_true(v);
    }
    gen_spec *g = calloc(1, sizeof *g);
    if (!g) {
        srv_error(r, 500, "out of memory");
        return NULL;
    }
    g->caption = json_dumps(cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_t *hld = json_object_get(cap, "high_level_description");
    g->hld = strdup(json_is_string(hld) ? json_string_value(hld) : "");
    g->images = json_array();
    if (!g->caption || !g->hld || !g->images) {
        gen_spec_free(g);
        srv_error(r, 500, "out of memory");
        return NULL;
    }
    if ((long)strlen(g->caption) > o->max_caption_bytes) {
        gen_spec_free(g);
        srv_invalid(r, "caption", "caption JSON must be %ld KB or smaller", o->max_caption_bytes / 1024);
        return NULL;
    }
    g->width = dims[0];
    g->height = dims[1];
    snprintf(g->preset, sizeof g->preset, "%s", preset);
    g->seed = seed;
    g->count = count;
    g->format = fmt;
    g->prompt_id = prompt_id;
    g->want_preview = want_preview;
    return g;
}

/* Queue a generation (spec owned from here): 0 with its id and queue
 * position, else the reply (409 busy, 503 stopping, 500) is set. */
static int submit_generation(srv_req *r, gen_spec *g, char *id, int *position) {
    i4_server *s = r->s;
    int steps = g->steps > 0 ? g->steps : i4_preset_steps(g->preset);
    char log_line[200];
    snprintf(log_line, sizeof log_line, "%dx%d %s seed %llu %s x%d", g->width, g->height, g->preset,
             (unsigned long long)g->seed, i4_image_format_name(g->format), g->count);
    srv_job *j = srv_job_new(&srv_generate_job, g);
    if (!j) {
        srv_error(r, 500, "out of memory");
        return -1;
    }
    j->total_steps = steps;
    pthread_mutex_lock(&s->lock);
    int pending = s->queue_head || s->running;
    const char *busy = NULL;
    if (s->opt.queue_size == 0 && pending)
        busy = "A generation is already running. Wait for it to finish before starting another.";
    else if (s->opt.queue_size > 0 && s->waiting_generations >= s->opt.queue_size)
        busy = "The generation queue is full. Wait for a job to finish before adding another.";
    if (busy || srv_job_submit_locked(s, j, id) != 0) {
        pthread_mutex_unlock(&s->lock);
        srv_job_discard(j);
        srv_error(r, busy ? 409 : 503, "%s", busy ? busy : i4_last_error());
        return -1;
    }
    *position = srv_job_position_locked(s, j);
    pthread_mutex_unlock(&s->lock);
    i4_log(&s->log, I4_LOG_INFO, "generate", "job %s accepted: %s (queue position %d)", id, log_line, *position);
    return 0;
}

static void generate(srv_req *r) {
    json_t *body = srv_body_object(r, 0);
    if (!body) return;
    gen_spec *g = parse_generate(r, body);
    json_decref(body);
    if (!g) return;
    int n = g->count, position;
    char id[33];
    if (submit_generation(r, g, id, &position) != 0) return;
    srv_json(r, 200, json_pack("{s:s,s:s,s:i,s:i}", "task_id", id, "status", "queued", "queue_position", position, "n", n));
}

static json_t *task_json_locked(i4_server *s, srv_job *j) {
    gen_spec *g = j->spec;
    double now = i4_now_seconds();
    int finished = j->status >= JOB_DONE;
    json_t *eta = json_null();
    if (j->status == JOB_RUNNING && !strcmp(j->phase, "sampling") && j->step > 0) {
        double per_step = (now - j->sample_started) / j->step;
        eta = json_real(per_step * (j->total_steps - j->step) + s->last_decode_seconds);
    } else if (j->status == JOB_RUNNING && !strcmp(j->phase, "decoding") && s->last_decode_seconds > 0) {
        double left = s->last_decode_seconds - (now - j->phase_started);
        eta = json_real(left > 0 ? left : 0);
    } else if (finished) {
        eta = json_real(0);
    }
    json_t *out = json_pack("{s:s,s:s,s:s,s:o,s:i,s:i,s:i,s:i,s:s,s:f,s:o}", "state", finished ? "done" : "running",
                            "status", srv_job_status_name(j->status), "msg", j->msg, "image",
                            j->status == JOB_DONE && j->result ? json_deep_copy(j->result) : json_null(), "progress",
                            j->progress, "percent", j->progress, "step", j->step, "total_steps", j->total_steps,
                            "phase", j->phase, "elapsed_seconds", (finished ? j->done_at : now) - j->created,
                            "eta_seconds", eta);
    if (!out) return NULL;
    json_object_set_new(out, "prompt_id", g->prompt_id > 0 ? json_integer(g->prompt_id) : json_null());
    json_object_set_new(out, "width", json_integer(g->width));
    json_object_set_new(out, "height", json_integer(g->height));
    json_object_set_new(out, "preset", json_string(g->preset));
    json_object_set_new(out, "seed", json_integer((json_int_t)g->seed));
    json_object_set_new(out, "n", json_integer(g->count));
    json_object_set_new(out, "images", json_deep_copy(g->images)); /* so far, in order */
    if (j->status == JOB_RUNNING) json_object_set_new(out, "image_index", json_integer(g->index));
    /* live preview of the latest sampling step (null when none or finished) */
    json_object_set_new(out, "preview", g->preview ? json_string(g->preview) : json_null());
    json_object_set_new(out, "preview_step", g->preview ? json_integer(g->preview_step) : json_null());
    json_object_set_new(out, "generation_seconds",
                        j->status == JOB_DONE ? json_real(g->generation_seconds) : json_null());
    if (j->status == JOB_QUEUED) json_object_set_new(out, "queue_position", json_integer(srv_job_position_locked(s, j)));
    if (j->status == JOB_ERROR)
        json_object_set_new(out, "error", json_string(j->msg + (strncmp(j->msg, "Error: ", 7) ? 0 : 7)));
    if (j->status == JOB_CANCELLED) json_object_set_new(out, "cancelled", json_true());
    return out;
}

static void task_status(srv_req *r, const char *id) {
    i4_server *s = r->s;
    pthread_mutex_lock(&s->lock);
    srv_job *j = srv_job_find_locked(s, id, &srv_generate_job);
    json_t *out = j ? task_json_locked(s, j)
                    : json_pack("{s:s,s:s,s:s,s:n,s:i,s:i,s:s}", "state", "done", "status", "error", "msg",
                                "Task not found.", "image", "progress", 0, "total_steps", 0, "error", "Task not found.");
    pthread_mutex_unlock(&s->lock);
    srv_json(r, 200, out);
}

static void task_cancel(srv_req *r, const char *id) {
    int rc = srv_job_cancel(r->s, id, &srv_generate_job);
    if (rc < 0) srv_json(r, 404, json_pack("{s:b,s:s}", "ok", 0, "error", "Task not found."));
    else if (rc > 0) srv_json(r, 409, json_pack("{s:b,s:s}", "ok", 0, "error", "The task has already finished."));
    else {
        i4_log(&r->s->log, I4_LOG_INFO, "generate", "job %s: cancel requested", id);
        srv_json(r, 200, json_pack("{s:b}", "ok", 1));
    }
}

/* The job list in run order, each with its position (0 = running, 1 = next). */
static json_t *queue_entry_locked(srv_job *q, const char *status, int position) {
    json_t *e = json_pack("{s:s,s:s,s:s,s:i}", "id", q->id, "kind", q->type->kind, "status", status, "position", position);
    if (e && q->type == &srv_generate_job) {
        gen_spec *g = q->spec;
        json_object_set_new(e, "n", json_integer(g->count));
        json_object_set_new(e, "width", json_integer(g->width));
        json_object_set_new(e, "height", json_integer(g->height));
        json_object_set_new(e, "preset", json_string(g->preset));
        json_object_set_new(e, "seed", json_integer((json_int_t)g->seed));
        json_object_set_new(e, "images_done", json_integer((json_int_t)json_array_size(g->images)));
    }
    return e;
}

static void queue_status(srv_req *r) {
    i4_server *s = r->s;
    pthread_mutex_lock(&s->lock);
    json_t *queued = json_array(), *jobs = json_array();
    srv_job *run = s->running;
    int position = run ? 1 : 0;
    if (run) json_array_append_new(jobs, queue_entry_locked(run, "running", 0));
    for (srv_job *q = s->queue_head; q; q = q->queue_next, position++) {
        if (q->type == &srv_generate_job) json_array_append_new(queued, json_string(q->id));
        json_array_append_new(jobs, queue_entry_locked(q, "queued", position));
    }
    json_t *out = json_pack("{s:o,s:o,s:i,s:o}", "running",
                            run && run->type == &srv_generate_job ? json_string(run->id) : json_null(), "queued", queued,
                            "queue_size", s->opt.queue_size, "jobs", jobs);
    pthread_mutex_unlock(&s->lock);
    srv_json(r, 200, out);
}

static void verify(srv_req *r) {
    json_t *body = srv_body_object(r, 0);
    if (!body) return;
    json_t *cap = json_object_get(body, "caption");
    if (!json_is_object(cap)) {
        json_decref(body);
        srv_invalid(r, "caption", "must be a JSON object");
        return;
    }
    i4_caption_issues issues = {0};
    i4_caption_verify_json(cap, &issues);
    json_t *w = json_array();
    for (size_t i = 0; i < issues.count; i++) json_array_append_new(w, json_string(issues.items[i]));
    json_t *out = json_pack("{s:b,s:o}", "valid", issues.count == 0, "warnings", w);
    i4_caption_issues_free(&issues);
    json_decref(body);
    srv_json(r, 200, out);
}

/* ------------------------------------------------------------ for other routes (openai_routes.c) */

int srv_generation_submit(srv_req *r, const srv_gen_request *q, char *id, int *position) {
    const i4_server_options *o = &r->s->opt;
    gen_spec *g = calloc(1, sizeof *g);
    if (!g) return srv_error(r, 500, "out of memory"), -1;
    g->caption = json_dumps(q->caption, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_t *hld = json_object_get(q->caption, "high_level_description");
    g->hld = strdup(json_is_string(hld) ? json_string_value(hld) : "");
    g->images = json_array();
    if (!g->caption || !g->hld || !g->images) {
        gen_spec_free(g);
        return srv_error(r, 500, "out of memory"), -1;
    }
    if ((long)strlen(g->caption) > o->max_caption_bytes) {
        gen_spec_free(g);
        return srv_error(r, 400, "the caption JSON must be %ld KB or smaller", o->max_caption_bytes / 1024), -1;
    }
    g->width = q->width;
    g->height = q->height;
    snprintf(g->preset, sizeof g->preset, "%s", q->preset);
    g->steps = q->steps;
    g->seed = q->seed;
    g->count = q->count;
    g->format = q->format;
    return submit_generation(r, g, id, position);
}

int srv_generation_result(i4_server *s, const char *id, int *status, char *msg, size_t msg_size, json_t **images) {
    pthread_mutex_lock(&s->lock);
    srv_job *j = srv_job_find_locked(s, id, &srv_generate_job);
    if (j) {
        gen_spec *g = j->spec;
        *status = j->status;
        i4_utf8_copy(msg, msg_size, j->msg);
        *images = json_deep_copy(g->images);
    }
    pthread_mutex_unlock(&s->lock);
    return j ? 0 : -1;
}

void srv_route_generate(srv_req *r, const char *path) {
    int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
    if (!strcmp(path, "/generate")) post ? generate(r) : (void)srv_method_not_allowed(r, "POST");
    else if (!strcmp(path, "/verify")) post ? verify(r) : (void)srv_method_not_allowed(r, "POST");
    else if (!strcmp(path, "/queue")) get ? queue_status(r) : (void)srv_method_not_allowed(r, "GET");
    else if (!strncmp(path, "/status/", 8)) {
        const char *id = path + 8;
        if (!*id || strchr(id, '/') || strlen(id) > 64) srv_error(r, 404, "not found");
        else get ? task_status(r, id) : (void)srv_method_not_allowed(r, "GET");
    } else if (!strncmp(path, "/tasks/", 7)) {
        const char *id = path + 7, *slash = strchr(id, '/');
        if (!slash || strcmp(slash, "/cancel") || slash - id > 64) srv_error(r, 404, "not found");
        else if (!post) srv_method_not_allowed(r, "POST");
        else {
            char buf[80];
            snprintf(buf, sizeof buf, "%.*s", (int)(slash - id), id);
            task_cancel(r, buf);
        }
    } else srv_error(r, 404, "not found");
}
