/*
 * generate_routes.c — generation jobs (APP.md §3.3.4–§3.3.6):
 * POST /api/generate, GET /api/status/{id}, POST /api/tasks/{id}/cancel,
 * GET /api/queue, POST /api/verify.
 *
 * A job is validated in the handler, then put on the FIFO that one worker
 * thread consumes. With queue_size 0 (the reference behaviour) a job is only
 * accepted when nothing is queued or running, else 409; with queue_size N
 * up to N jobs may wait behind the running one (status "queued").
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
#include "pipeline/schedule.h"
#include "server/server_internal.h"
#include "text/caption.h"

static const char *status_name(int st) {
    static const char *names[] = {"queued", "running", "done", "error", "cancelled"};
    return names[st];
}

/* ------------------------------------------------------------ worker */

static int on_progress(void *user, i4_phase phase, int step, int steps) {
    srv_task *t = user;
    i4_server *s = t->server;
    pthread_mutex_lock(&s->lock);
    double now = i4_now_seconds();
    if (phase == I4_PHASE_ENCODE) {
        t->phase = "encoding";
        snprintf(t->msg, sizeof t->msg, "Encoding prompt...");
    } else if (phase == I4_PHASE_SAMPLE) {
        if (step == 0) t->sample_started = now;
        t->phase = "sampling";
        t->step = step;
        t->total_steps = steps;
        int pct = steps > 0 ? (int)floor((double)step / steps * 100.0) : 0;
        t->progress = pct > 99 ? 99 : pct;
        snprintf(t->msg, sizeof t->msg, "Generating (%dx%d, %d/%d steps)...", t->width, t->height, step, steps);
    } else if (phase == I4_PHASE_DECODE) {
        t->phase = "decoding";
        snprintf(t->msg, sizeof t->msg, "Decoding image...");
    }
    t->phase_started = now;
    int cancel = __atomic_load_n(&t->cancel, __ATOMIC_RELAXED) || s->stopping;
    pthread_mutex_unlock(&s->lock);
    return cancel;
}

static void finish(i4_server *s, srv_task *t, int status, const char *msg) {
    pthread_mutex_lock(&s->lock);
    snprintf(t->msg, sizeof t->msg, "%s", msg);
    t->status = status;
    t->phase = "done";
    t->done_at = i4_now_seconds();
    if (status == TASK_DONE) t->progress = 100;
    pthread_mutex_unlock(&s->lock);
    i4_log(&s->log, status == TASK_ERROR ? I4_LOG_ERROR : I4_LOG_INFO, "generate", "task %s %s: %s", t->id,
           status_name(status), msg);
}

static void run_generation(i4_server *s, srv_task *t) {
    char msg[1024];
    pthread_mutex_lock(&s->lock);
    t->status = TASK_RUNNING;
    t->started = i4_now_seconds();
    t->phase = "waiting";
    snprintf(t->msg, sizeof t->msg, "Generating (%dx%d, %d steps)...", t->width, t->height, t->total_steps);
    pthread_mutex_unlock(&s->lock);
    if (srv_op_wait(s, "generating image", t) != 0) {
        finish(s, t, TASK_CANCELLED, "Cancelled.");
        return;
    }
    pthread_mutex_lock(&s->lock);
    i4_pipeline *p = s->pipe;
    char lora_label[512] = "";
    double lora_strength = 0;
    size_t n_lora = json_array_size(s->applied_loras);
    for (size_t i = 0; i < n_lora; i++) {
        json_t *l = json_array_get(s->applied_loras, i);
        size_t used = strlen(lora_label);
        snprintf(lora_label + used, sizeof lora_label - used, "%s%s", i ? " + " : "",
                 json_string_value(json_object_get(l, "name")));
        lora_strength = n_lora == 1 ? json_number_value(json_object_get(l, "strength")) : 0.0;
    }
    snprintf(t->msg, sizeof t->msg, "Preparing pipeline (%dx%d, %d steps)...", t->width, t->height, t->total_steps);
    pthread_mutex_unlock(&s->lock);
    if (!p) {
        srv_op_release(s);
        finish(s, t, TASK_ERROR, "Error: Model not loaded.");
        return;
    }
    i4_generate_params gp;
    i4_generate_params_init(&gp);
    gp.prompt = t->caption;
    gp.width = t->width;
    gp.height = t->height;
    gp.preset = t->preset;
    gp.seed = t->seed;
    i4_result res;
    double t0 = i4_now_seconds();
    int rc = i4_generate(p, &gp, on_progress, t, &res);
    srv_op_release(s);
    if (rc == I4_ERR_CANCELLED) {
        finish(s, t, TASK_CANCELLED, "Cancelled.");
        return;
    }
    if (rc != 0) {
        snprintf(msg, sizeof msg, "Error: %s", i4_last_error());
        finish(s, t, TASK_ERROR, msg);
        return;
    }
    double seconds = i4_now_seconds() - t0;
    pthread_mutex_lock(&s->lock);
    s->last_decode_seconds = res.seconds_decode;
    t->phase = "saving";
    snprintf(t->msg, sizeof t->msg, "Saving image...");
    char name[48];
    srv_random_hex(s, name, 32);
    pthread_mutex_unlock(&s->lock);
    strcat(name, i4_image_format_ext(t->format));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s->output_dir, name);
    int quality = t->format == I4_IMAGE_WEBP ? s->opt.quality_webp
                  : t->format == I4_IMAGE_JPEG ? s->opt.quality_jpeg
                                               : -1;
    int wrc = i4_image_write(path, t->format, quality, res.rgb, res.width, res.height);
    i4_result_free(&res);
    if (wrc != 0) {
        snprintf(msg, sizeof msg, "Error: %s", i4_last_error());
        finish(s, t, TASK_ERROR, msg);
        return;
    }
    /* The file exists under its final name: now commit the row. */
    i4_store_image row = {
        .file_name = name, .format = i4_image_format_name(t->format), .width = t->width, .height = t->height,
        .seed = (int64_t)t->seed, .preset = t->preset, .steps = t->total_steps, .generation_seconds = seconds,
        .lora_name = lora_label[0] ? lora_label : NULL, .lora_strength = lora_strength, .prompt_id = t->prompt_id,
        .hld = t->hld,
    };
    int64_t image_id = 0;
    json_t *img = NULL;
    if (i4_store_image_insert(s->store, &row, &image_id) != 0 || i4_store_image_get(s->store, image_id, &img) != 0) {
        snprintf(msg, sizeof msg, "Error: cannot record the image: %s", i4_last_error());
        if (!image_id) unlink(path);
        finish(s, t, TASK_ERROR, msg);
        return;
    }
    char url[64], clock[16];
    snprintf(url, sizeof url, "/api/images/%lld/file", (long long)image_id);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(clock, sizeof clock, "%H:%M:%S", &tm);
    json_object_set_new(img, "url", json_string(url));
    json_object_set_new(img, "time", json_string(clock));
    pthread_mutex_lock(&s->lock);
    t->image = img;
    t->generation_seconds = seconds;
    pthread_mutex_unlock(&s->lock);
    snprintf(msg, sizeof msg, "Done in %.1fs", seconds);
    finish(s, t, TASK_DONE, msg);
    i4_log(&s->log, I4_LOG_INFO, "generate", "task %s: image %lld %s (%dx%d, %s, %.1fs) | RSS %.2f GiB", t->id,
           (long long)image_id, name, t->width, t->height, t->preset, seconds, srv_rss_mb() / 1024.0);
}

void *srv_generation_worker(void *arg) {
    i4_server *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->queue_head && !s->stopping) pthread_cond_wait(&s->queue_cond, &s->lock);
        if (s->stopping) break;
        srv_task *t = s->queue_head;
        s->queue_head = t->queue_next;
        if (!s->queue_head) s->queue_tail = NULL;
        t->queue_next = NULL;
        s->queued--;
        if (t->status != TASK_QUEUED) continue; /* cancelled while waiting */
        s->generating = 1;
        pthread_mutex_unlock(&s->lock);
        run_generation(s, t);
        pthread_mutex_lock(&s->lock);
        s->generating = 0;
    }
    for (srv_task *t = s->queue_head; t; t = t->queue_next)
        if (t->status == TASK_QUEUED) {
            t->status = TASK_CANCELLED;
            t->done_at = i4_now_seconds();
            snprintf(t->msg, sizeof t->msg, "Cancelled.");
        }
    s->queue_head = s->queue_tail = NULL;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ------------------------------------------------------------ routes */

static enum MHD_Result generate(srv_req *r) {
    i4_server *s = r->s;
    const i4_server_options *o = &s->opt;
    enum MHD_Result sent;
    json_t *body = srv_body_object(r, 0, &sent);
    if (!body) return sent;
    enum MHD_Result ret;
    char *text = NULL;
    json_t *cap = json_object_get(body, "caption");
    if (!json_is_object(cap)) {
        ret = srv_invalid(r, "caption", "must be a JSON object");
        goto out;
    }
    int dims[2] = {1024, 1024};
    const char *dim_names[2] = {"width", "height"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(body, dim_names[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_integer(v)) {
            ret = srv_invalid(r, dim_names[i], "must be an integer");
            goto out;
        }
        json_int_t x = json_integer_value(v);
        if (x < o->min_size || x > o->max_size) {
            ret = srv_invalid(r, dim_names[i], "must be between %d and %d", o->min_size, o->max_size);
            goto out;
        }
        if (x % o->size_multiple) {
            ret = srv_invalid(r, dim_names[i], "must be a multiple of %d", o->size_multiple);
            goto out;
        }
        dims[i] = (int)x;
    }
    const char *preset = o->default_preset;
    json_t *v = json_object_get(body, "preset");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || !i4_preset_find(json_string_value(v))) {
            ret = srv_invalid(r, "preset", "preset must be one of: V4_QUALITY_48, V4_DEFAULT_20, V4_TURBO_12");
            goto out;
        }
        preset = json_string_value(v);
    }
    uint64_t seed = (uint64_t)o->default_seed;
    v = json_object_get(body, "seed");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            ret = srv_invalid(r, "seed", "must be a non-negative integer");
            goto out;
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
            ret = srv_invalid(r, "format", "format must be one of: png, webp, jpeg");
            goto out;
        }
    }
    int64_t prompt_id = 0;
    v = json_object_get(body, "prompt_id");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            ret = srv_invalid(r, "prompt_id", "must be a positive integer or null");
            goto out;
        }
        prompt_id = json_integer_value(v);
    }
    text = json_dumps(cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        ret = srv_error(r, 500, "cannot serialise the caption");
        goto out;
    }
    if ((long)strlen(text) > o->max_caption_bytes) {
        ret = srv_invalid(r, "caption", "caption JSON must be %ld KB or smaller", o->max_caption_bytes / 1024);
        goto out;
    }
    srv_task *t = calloc(1, sizeof *t);
    if (!t) {
        ret = srv_error(r, 500, "out of memory");
        goto out;
    }
    t->kind = TASK_GENERATE;
    t->status = TASK_QUEUED;
    t->phase = "queued";
    snprintf(t->msg, sizeof t->msg, "Queued...");
    json_t *hld = json_object_get(cap, "high_level_description");
    snprintf(t->hld, sizeof t->hld, "%s", json_is_string(hld) ? json_string_value(hld) : "");
    t->caption = text;
    text = NULL;
    t->width = dims[0];
    t->height = dims[1];
    snprintf(t->preset, sizeof t->preset, "%s", preset);
    t->total_steps = i4_preset_find(preset)->steps;
    t->seed = seed;
    t->format = fmt;
    t->prompt_id = prompt_id;

    pthread_mutex_lock(&s->lock);
    int pending = s->queued + s->generating;
    const char *busy = NULL;
    if (s->stopping) busy = "The server is stopping.";
    else if (o->queue_size == 0 && pending > 0)
        busy = "A generation is already running. Wait for it to finish before starting another.";
    else if (o->queue_size > 0 && s->queued >= o->queue_size)
        busy = "The generation queue is full. Wait for a job to finish before adding another.";
    if (busy || srv_task_add_locked(s, t) != 0) {
        pthread_mutex_unlock(&s->lock);
        srv_task_free(t);
        ret = srv_error(r, 409, "%s", busy ? busy : "Too many unfinished tasks.");
        goto out;
    }
    if (s->queue_tail) s->queue_tail->queue_next = t;
    else s->queue_head = t;
    s->queue_tail = t;
    s->queued++;
    int position = s->queued + s->generating - 1;
    json_t *resp = json_pack("{s:s,s:s,s:i}", "task_id", t->id, "status", "queued", "queue_position", position);
    pthread_cond_signal(&s->queue_cond);
    pthread_mutex_unlock(&s->lock);
    i4_log(&s->log, I4_LOG_INFO, "generate", "task %s accepted: %dx%d %s seed %llu %s (queue position %d)", t->id,
           dims[0], dims[1], preset, (unsigned long long)seed, i4_image_format_name(fmt), position);
    ret = srv_json(r, 200, resp);
out:
    free(text);
    json_decref(body);
    return ret;
}

static json_t *task_json_locked(i4_server *s, srv_task *t) {
    double now = i4_now_seconds();
    int finished = t->status >= TASK_DONE;
    json_t *eta = json_null();
    if (t->status == TASK_RUNNING && !strcmp(t->phase, "sampling") && t->step > 0) {
        double per_step = (now - t->sample_started) / t->step;
        eta = json_real(per_step * (t->total_steps - t->step) + s->last_decode_seconds);
    } else if (t->status == TASK_RUNNING && !strcmp(t->phase, "decoding") && s->last_decode_seconds > 0) {
        double left = s->last_decode_seconds - (now - t->phase_started);
        eta = json_real(left > 0 ? left : 0);
    } else if (finished) {
        eta = json_real(0);
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:i,s:i,s:i,s:i,s:s,s:f,s:o}", "state", finished ? "done" : "running",
                          "status", status_name(t->status), "msg", t->msg, "image",
                          t->image ? json_deep_copy(t->image) : json_null(),
                          "progress", t->progress, "percent", t->progress, "step", t->step, "total_steps",
                          t->total_steps, "phase", t->phase, "elapsed_seconds",
                          (finished ? t->done_at : now) - t->created, "eta_seconds", eta);
    json_object_set_new(j, "prompt_id", t->prompt_id > 0 ? json_integer(t->prompt_id) : json_null());
    json_object_set_new(j, "width", json_integer(t->width));
    json_object_set_new(j, "height", json_integer(t->height));
    json_object_set_new(j, "preset", json_string(t->preset));
    json_object_set_new(j, "seed", json_integer((json_int_t)t->seed));
    json_object_set_new(j, "generation_seconds", t->status == TASK_DONE ? json_real(t->generation_seconds) : json_null());
    if (t->status == TASK_QUEUED) {
        int pos = s->generating;
        for (srv_task *q = s->queue_head; q && q != t; q = q->queue_next) pos += q->status == TASK_QUEUED;
        json_object_set_new(j, "queue_position", json_integer(pos));
    }
    if (t->status == TASK_ERROR) json_object_set_new(j, "error", json_string(t->msg + (strncmp(t->msg, "Error: ", 7) ? 0 : 7)));
    if (t->status == TASK_CANCELLED) json_object_set_new(j, "cancelled", json_true());
    return j;
}

static enum MHD_Result task_status(srv_req *r, const char *id) {
    i4_server *s = r->s;
    pthread_mutex_lock(&s->lock);
    srv_task_purge_locked(s);
    srv_task *t = srv_task_find_locked(s, id, TASK_GENERATE);
    json_t *j = t ? task_json_locked(s, t)
                  : json_pack("{s:s,s:s,s:s,s:n,s:i,s:i,s:s}", "state", "done", "status", "error", "msg",
                              "Task not found.", "image", "progress", 0, "total_steps", 0, "error", "Task not found.");
    pthread_mutex_unlock(&s->lock);
    return srv_json(r, 200, j);
}

static enum MHD_Result task_cancel(srv_req *r, const char *id) {
    i4_server *s = r->s;
    pthread_mutex_lock(&s->lock);
    srv_task *t = srv_task_find_locked(s, id, TASK_GENERATE);
    int finished = t && t->status >= TASK_DONE;
    if (t && t->status == TASK_QUEUED) {
        /* Not started: cancel at once; the worker skips it. */
        t->status = TASK_CANCELLED;
        t->phase = "done";
        t->done_at = i4_now_seconds();
        snprintf(t->msg, sizeof t->msg, "Cancelled.");
    } else if (t && !finished) {
        __atomic_store_n(&t->cancel, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&s->lock);
    if (!t) return srv_json(r, 404, json_pack("{s:b,s:s}", "ok", 0, "error", "Task not found."));
    if (finished) return srv_json(r, 409, json_pack("{s:b,s:s}", "ok", 0, "error", "The task has already finished."));
    i4_log(&s->log, I4_LOG_INFO, "generate", "task %s: cancel requested", id);
    return srv_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static enum MHD_Result queue_status(srv_req *r) {
    i4_server *s = r->s;
    pthread_mutex_lock(&s->lock);
    json_t *queued = json_array();
    for (srv_task *q = s->queue_head; q; q = q->queue_next)
        if (q->status == TASK_QUEUED) json_array_append_new(queued, json_string(q->id));
    json_t *running = json_null();
    for (int i = 0; i < I4_SERVER_MAX_TASKS; i++)
        if (s->tasks[i] && s->tasks[i]->kind == TASK_GENERATE && s->tasks[i]->status == TASK_RUNNING)
            running = json_string(s->tasks[i]->id);
    json_t *j = json_pack("{s:o,s:o,s:i}", "running", running, "queued", queued, "queue_size", s->opt.queue_size);
    pthread_mutex_unlock(&s->lock);
    return srv_json(r, 200, j);
}

static enum MHD_Result verify(srv_req *r) {
    enum MHD_Result sent;
    json_t *body = srv_body_object(r, 0, &sent);
    if (!body) return sent;
    json_t *cap = json_object_get(body, "caption");
    if (!json_is_object(cap)) {
        json_decref(body);
        return srv_invalid(r, "caption", "must be a JSON object");
    }
    i4_caption_issues issues = {0};
    i4_caption_verify_json(cap, &issues);
    json_t *w = json_array();
    for (size_t i = 0; i < issues.count; i++) json_array_append_new(w, json_string(issues.items[i]));
    json_t *j = json_pack("{s:b,s:o}", "valid", issues.count == 0, "warnings", w);
    i4_caption_issues_free(&issues);
    json_decref(body);
    return srv_json(r, 200, j);
}

enum MHD_Result srv_route_generate(srv_req *r, const char *path) {
    int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
    if (!strcmp(path, "/generate")) return post ? generate(r) : srv_method_not_allowed(r, "POST");
    if (!strcmp(path, "/verify")) return post ? verify(r) : srv_method_not_allowed(r, "POST");
    if (!strcmp(path, "/queue")) return get ? queue_status(r) : srv_method_not_allowed(r, "GET");
    if (!strncmp(path, "/status/", 8)) {
        const char *id = path + 8;
        if (!*id || strchr(id, '/')) return srv_error(r, 404, "not found");
        return get ? task_status(r, id) : srv_method_not_allowed(r, "GET");
    }
    if (!strncmp(path, "/tasks/", 7)) {
        const char *id = path + 7, *slash = strchr(id, '/');
        if (!slash || strcmp(slash, "/cancel") || slash - id > 64) return srv_error(r, 404, "not found");
        if (!post) return srv_method_not_allowed(r, "POST");
        char buf[80];
        snprintf(buf, sizeof buf, "%.*s", (int)(slash - id), id);
        return task_cancel(r, buf);
    }
    return srv_error(r, 404, "not found");
}
