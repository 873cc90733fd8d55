/*
 * server.c — `ideogram4 serve`: the HTTP API of APP.md §3 on libmicrohttpd.
 *
 * One process owns one pipeline. Model operations (load, unload,
 * generation) are serialised by `op_lock`; HTTP handlers never block on
 * model work: load and generation run on background threads and clients
 * poll /api/model/status and /api/status/{task}. `lock` guards the task
 * table and the model state fields.
 *
 * This first cut covers health, model lifecycle, generation with progress
 * and cancel, verification and the generated image files; history
 * (SQLite), LoRA and the magic prompt come next (issue 4).
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/rng.h"
#include "model/weights.h"
#include "pipeline/image.h"
#include "pipeline/schedule.h"
#include "text/caption.h"

#define MAX_TASKS 256
#define MAX_IMAGES 4096
#define MAX_BODY (1u << 20)
#define TASK_KEEP_SECONDS 3600.0

enum { MODEL_IDLE, MODEL_LOADING, MODEL_LOADED };


typedef struct {
    i4_server *server;
    char id[33];
    int done;
    int cancel;
    char msg[300];
    int progress, total_steps;
    int64_t image_id;          /* -1 when none */
    char hld[512];
    double created, done_at;
    int64_t prompt_id;         /* -1 = null */
    /* request */
    char *caption;
    int width, height;
    char preset[32];
    uint64_t seed;
    i4_image_format format;
} task;

typedef struct {
    int64_t id;
    char file[64];
} image_entry;

struct i4_server {
    i4_server_options opt;
    pthread_mutex_t lock;
    pthread_mutex_t op_lock;
    i4_pipeline *pipe;
    int model_state;
    char model_msg[600];
    task *tasks[MAX_TASKS];
    int generating;
    image_entry images[MAX_IMAGES];
    int n_images;
    int64_t next_image_id;
    i4_rng rng;
    struct MHD_Daemon *daemon;
};

static void random_hex(i4_server *s, char *out, int n) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) out[i] = hex[i4_rng_next(&s->rng) & 15];
    out[n] = 0;
}

/* ------------------------------------------------------------ responses */

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *body) {
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg) {
    return send_json(c, status, json_pack("{s:s}", "error", msg));
}

/* FastAPI-style 422 with an extra "error" string the UI can show. */
static enum MHD_Result send_invalid(struct MHD_Connection *c, const char *field, const char *msg) {
    json_t *d = json_pack("[{s:[s,s],s:s,s:s}]", "loc", "body", field, "msg", msg, "type", "value_error");
    char full[400];
    snprintf(full, sizeof full, "%s: %s", field, msg);
    return send_json(c, 422, json_pack("{s:o,s:s}", "detail", d, "error", full));
}

/* ------------------------------------------------------------ model */

static void *load_worker(void *arg) {
    i4_server *s = arg;
    pthread_mutex_lock(&s->op_lock);
    pthread_mutex_lock(&s->lock);
    int already = s->pipe != NULL;
    pthread_mutex_unlock(&s->lock);
    if (!already) {
        i4_load_options lo = {.model_dir = s->opt.model_dir, .repo = s->opt.repo, .precision = s->opt.precision};
        i4_pipeline *p = NULL;
        int rc = i4_pipeline_load(&p, &lo);
        pthread_mutex_lock(&s->lock);
        if (rc == 0) {
            s->pipe = p;
            s->model_state = MODEL_LOADED;
            snprintf(s->model_msg, sizeof s->model_msg, "Model loaded.");
        } else {
            s->model_state = MODEL_IDLE;
            snprintf(s->model_msg, sizeof s->model_msg, "%s", i4_last_error());
        }
        pthread_mutex_unlock(&s->lock);
        fprintf(stderr, "[server] model load %s: %s\n", rc == 0 ? "done" : "failed", s->model_msg);
    }
    pthread_mutex_unlock(&s->op_lock);
    return NULL;
}

static enum MHD_Result model_load(i4_server *s, struct MHD_Connection *c) {
    if (pthread_mutex_trylock(&s->op_lock) != 0)
        return send_error(c, 409, "A model operation is already running.");
    pthread_mutex_unlock(&s->op_lock);
    pthread_mutex_lock(&s->lock);
    if (s->model_state == MODEL_IDLE) {
        s->model_state = MODEL_LOADING;
        snprintf(s->model_msg, sizeof s->model_msg, "Starting model load...");
        pthread_t t;
        pthread_create(&t, NULL, load_worker, s);
        pthread_detach(t);
    }
    pthread_mutex_unlock(&s->lock);
    return send_json(c, 200, json_pack("{s:b,s:s}", "ok", 1, "msg", "Load started."));
}

static enum MHD_Result model_unload(i4_server *s, struct MHD_Connection *c) {
    if (pthread_mutex_trylock(&s->op_lock) != 0)
        return send_error(c, 409, "A model operation is already running.");
    pthread_mutex_lock(&s->lock);
    i4_pipeline *p = s->pipe;
    s->pipe = NULL;
    s->model_state = MODEL_IDLE;
    s->model_msg[0] = 0;
    pthread_mutex_unlock(&s->lock);
    i4_pipeline_free(p);
    pthread_mutex_unlock(&s->op_lock);
    return send_json(c, 200, json_pack("{s:b}", "ok", 1));
}

static enum MHD_Result model_status(i4_server *s, struct MHD_Connection *c) {
    static const char *names[] = {"idle", "loading", "loaded"};
    pthread_mutex_lock(&s->lock);
    json_t *j = json_pack("{s:s,s:s,s:b}", "state", names[s->model_state], "msg", s->model_msg, "demo", s->opt.demo);
    pthread_mutex_unlock(&s->lock);
    return send_json(c, 200, j);
}

/* ------------------------------------------------------------ tasks */

static void purge_tasks_locked(i4_server *s) {
    double now = i4_now_seconds();
    for (int i = 0; i < MAX_TASKS; i++) {
        task *t = s->tasks[i];
        if (t && t->done && now - t->done_at > TASK_KEEP_SECONDS) {
            free(t->caption);
            free(t);
            s->tasks[i] = NULL;
        }
    }
}

static task *find_task_locked(i4_server *s, const char *id) {
    for (int i = 0; i < MAX_TASKS; i++)
        if (s->tasks[i] && strcmp(s->tasks[i]->id, id) == 0) return s->tasks[i];
    return NULL;
}

static int on_progress(void *user, i4_phase phase, int step, int steps) {
    task *t = user;
    (void)phase;
    /* Plain int stores read by the status handler under the server lock;
     * a torn read is impossible for aligned ints and the values only grow. */
    if (phase == I4_PHASE_SAMPLE && steps > 0) {
        int pct = (int)floor((double)step / steps * 100.0);
        t->progress = pct > 99 ? 99 : pct;
    }
    return __atomic_load_n(&t->cancel, __ATOMIC_RELAXED);
}

static void finish_task(i4_server *s, task *t, const char *msg) {
    pthread_mutex_lock(&s->lock);
    snprintf(t->msg, sizeof t->msg, "%s", msg);
    t->done = 1;
    t->done_at = i4_now_seconds();
    s->generating = 0;
    pthread_mutex_unlock(&s->lock);
}

static void *generate_worker(void *arg) {
    task *t = arg;
    i4_server *s = t->server;
    pthread_mutex_lock(&s->op_lock);
    pthread_mutex_lock(&s->lock);
    i4_pipeline *p = s->pipe;
    snprintf(t->msg, sizeof t->msg, "Generating (%dx%d, %d steps)...", t->width, t->height, t->total_steps);
    pthread_mutex_unlock(&s->lock);
    if (!p) {
        pthread_mutex_unlock(&s->op_lock);
        finish_task(s, t, "Error: Model not loaded.");
        return NULL;
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
    pthread_mutex_unlock(&s->op_lock);
    char msg[400];
    if (rc == I4_ERR_CANCELLED) {
        finish_task(s, t, "Cancelled.");
        return NULL;
    }
    if (rc != 0) {
        snprintf(msg, sizeof msg, "Error: %s", i4_last_error());
        finish_task(s, t, msg);
        return NULL;
    }
    char name[48], path[PATH_MAX];
    pthread_mutex_lock(&s->lock);
    random_hex(s, name, 32);
    pthread_mutex_unlock(&s->lock);
    strcat(name, i4_image_format_ext(t->format));
    snprintf(path, sizeof path, "%s/%s", s->opt.output_dir, name);
    int quality = t->format == I4_IMAGE_WEBP ? 90 : t->format == I4_IMAGE_JPEG ? 95 : -1;
    if (i4_image_write(path, t->format, quality, res.rgb, res.width, res.height) != 0) {
        snprintf(msg, sizeof msg, "Error: %s", i4_last_error());
        i4_result_free(&res);
        finish_task(s, t, msg);
        return NULL;
    }
    i4_result_free(&res);
    pthread_mutex_lock(&s->lock);
    if (s->n_images < MAX_IMAGES) {
        image_entry *e = &s->images[s->n_images++];
        e->id = s->next_image_id++;
        snprintf(e->file, sizeof e->file, "%s", name);
        t->image_id = e->id;
    }
    t->progress = 100;
    pthread_mutex_unlock(&s->lock);
    snprintf(msg, sizeof msg, "Done in %.1fs", i4_now_seconds() - t0);
    finish_task(s, t, msg);
    fprintf(stderr, "[server] task %s: %s -> %s\n", t->id, msg, name);
    return NULL;
}

static enum MHD_Result generate(i4_server *s, struct MHD_Connection *c, json_t *body) {
    json_t *cap = json_object_get(body, "caption");
    if (!json_is_object(cap)) return send_invalid(c, "caption", "must be a JSON object");
    int width = 1024, height = 1024;
    const char *dims[2] = {"width", "height"};
    int *vals[2] = {&width, &height};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(body, dims[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_integer(v)) return send_invalid(c, dims[i], "must be an integer");
        json_int_t x = json_integer_value(v);
        if (x < 128 || x > 2048) return send_invalid(c, dims[i], "must be between 128 and 2048");
        if (x % 16) return send_invalid(c, dims[i], "must be a multiple of 16");
        *vals[i] = (int)x;
    }
    const char *preset = "V4_QUALITY_48";
    json_t *v = json_object_get(body, "preset");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || !i4_preset_find(json_string_value(v)))
            return send_invalid(c, "preset", "preset must be one of: V4_QUALITY_48, V4_DEFAULT_20, V4_TURBO_12");
        preset = json_string_value(v);
    }
    uint64_t seed = 20260608;
    v = json_object_get(body, "seed");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) return send_invalid(c, "seed", "must be a non-negative integer");
        seed = (uint64_t)json_integer_value(v);
    }
    i4_image_format fmt = I4_IMAGE_WEBP;
    v = json_object_get(body, "format");
    if (v && !json_is_null(v)) {
        char low[16] = "";
        if (json_is_string(v) && strlen(json_string_value(v)) < sizeof low)
            for (size_t i = 0; i <= strlen(json_string_value(v)); i++) {
                char ch = json_string_value(v)[i];
                low[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
            }
        if (!low[0] || i4_image_format_parse(low, &fmt) != 0 || !strcmp(low, "jpg"))
            return send_invalid(c, "format", "format must be one of: png, webp, jpeg");
    }
    int64_t prompt_id = -1;
    v = json_object_get(body, "prompt_id");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v)) return send_invalid(c, "prompt_id", "must be an integer or null");
        prompt_id = json_integer_value(v);
    }
    char *text = json_dumps(cap, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) return send_error(c, 500, "cannot serialise the caption");
    if (strlen(text) > 262144) {
        free(text);
        return send_invalid(c, "caption", "caption JSON must be 256 KB or smaller");
    }
    pthread_mutex_lock(&s->lock);
    purge_tasks_locked(s);
    int slot = -1;
    for (int i = 0; i < MAX_TASKS && slot < 0; i++)
        if (!s->tasks[i]) slot = i;
    if (s->generating || slot < 0) {
        pthread_mutex_unlock(&s->lock);
        free(text);
        return send_error(c, 409, "A generation is already running. Wait for it to finish before starting another.");
    }
    task *t = calloc(1, sizeof *t);
    random_hex(s, t->id, 32);
    snprintf(t->msg, sizeof t->msg, "Queued...");
    t->image_id = -1;
    t->prompt_id = prompt_id;
    t->created = i4_now_seconds();
    json_t *hld = json_object_get(cap, "high_level_description");
    snprintf(t->hld, sizeof t->hld, "%s", json_is_string(hld) ? json_string_value(hld) : "");
    t->server = s;
    t->caption = text;
    t->width = width;
    t->height = height;
    snprintf(t->preset, sizeof t->preset, "%s", preset);
    t->total_steps = i4_preset_find(preset)->steps;
    t->seed = seed;
    t->format = fmt;
    s->tasks[slot] = t;
    s->generating = 1;
    pthread_t th;
    pthread_create(&th, NULL, generate_worker, t);
    pthread_detach(th);
    json_t *resp = json_pack("{s:s}", "task_id", t->id);
    pthread_mutex_unlock(&s->lock);
    return send_json(c, 200, resp);
}

static enum MHD_Result task_status(i4_server *s, struct MHD_Connection *c, const char *id) {
    pthread_mutex_lock(&s->lock);
    purge_tasks_locked(s);
    task *t = find_task_locked(s, id);
    json_t *j;
    if (!t) {
        j = json_pack("{s:s,s:s,s:n,s:i,s:i}", "state", "done", "msg", "Task not found.", "image", "progress", 0,
                      "total_steps", 0);
    } else {
        json_t *img = json_null();
        if (t->image_id >= 0) {
            char url[64];
            snprintf(url, sizeof url, "/api/images/%lld/file", (long long)t->image_id);
            img = json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)t->image_id, "url", url, "hld", t->hld, "prompt_id",
                            t->prompt_id >= 0 ? json_integer(t->prompt_id) : json_null());
        }
        int progress = t->progress;
        char msg[340];
        if (!t->done && progress > 0)
            snprintf(msg, sizeof msg, "Generating (%dx%d, %d/%d steps)...", t->width, t->height,
                     progress * t->total_steps / 100, t->total_steps);
        else
            snprintf(msg, sizeof msg, "%s", t->msg);
        j = json_pack("{s:s,s:s,s:o,s:i,s:i,s:f}", "state", t->done ? "done" : "running", "msg", msg, "image", img,
                      "progress", progress, "total_steps", t->total_steps, "elapsed_seconds",
                      (t->done ? t->done_at : i4_now_seconds()) - t->created);
        if (t->done && strncmp(t->msg, "Error: ", 7) == 0) json_object_set_new(j, "error", json_string(t->msg + 7));
        if (t->done && strcmp(t->msg, "Cancelled.") == 0) json_object_set_new(j, "cancelled", json_true());
    }
    pthread_mutex_unlock(&s->lock);
    return send_json(c, 200, j);
}

static enum MHD_Result task_cancel(i4_server *s, struct MHD_Connection *c, const char *id) {
    pthread_mutex_lock(&s->lock);
    task *t = find_task_locked(s, id);
    if (t) __atomic_store_n(&t->cancel, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s->lock);
    if (!t) return send_error(c, 404, "not found");
    return send_json(c, 200, json_pack("{s:b}", "ok", 1));
}

static enum MHD_Result verify(struct MHD_Connection *c, json_t *body) {
    json_t *cap = json_object_get(body, "caption");
    if (!json_is_object(cap)) return send_invalid(c, "caption", "must be a JSON object");
    i4_caption_issues issues = {0};
    i4_caption_verify_json(cap, &issues);
    json_t *w = json_array();
    for (size_t i = 0; i < issues.count; i++) json_array_append_new(w, json_string(issues.items[i]));
    json_t *j = json_pack("{s:b,s:o}", "valid", issues.count == 0, "warnings", w);
    i4_caption_issues_free(&issues);
    return send_json(c, 200, j);
}

static enum MHD_Result image_file(i4_server *s, struct MHD_Connection *c, const char *id_text) {
    char *end;
    long long id = strtoll(id_text, &end, 10);
    if (*end || end == id_text) return send_error(c, 404, "not found");
    char name[64] = "";
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n_images; i++)
        if (s->images[i].id == id) snprintf(name, sizeof name, "%s", s->images[i].file);
    pthread_mutex_unlock(&s->lock);
    if (!name[0]) return send_error(c, 404, "not found");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", s->opt.output_dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) close(fd);
        return send_error(c, 404, "not found");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    const char *type = strstr(name, ".png") ? "image/png" : strstr(name, ".webp") ? "image/webp" : "image/jpeg";
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ------------------------------------------------------------ dispatch */

typedef struct {
    char *body;
    size_t len;
    int too_large;
} conn_ctx;

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    i4_server *s = cls;
    conn_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_size) {
        if (ctx->len + *upload_size > MAX_BODY) ctx->too_large = 1;
        else {
            char *nb = realloc(ctx->body, ctx->len + *upload_size + 1);
            if (!nb) ctx->too_large = 1;
            else {
                ctx->body = nb;
                memcpy(ctx->body + ctx->len, upload, *upload_size);
                ctx->len += *upload_size;
                ctx->body[ctx->len] = 0;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (ctx->too_large) return send_error(c, 413, "request body too large");
    int is_get = !strcmp(method, "GET"), is_post = !strcmp(method, "POST");
    if (strncmp(url, "/api/", 5) != 0) return send_error(c, 404, "not found");
    const char *p = url + 4;
    if (!strcmp(p, "/health")) {
        if (!is_get) return send_error(c, 405, "method not allowed");
        return send_json(c, 200, json_pack("{s:b,s:s}", "ok", 1, "version", I4_VERSION));
    }
    if (!strcmp(p, "/model/status")) return is_get ? model_status(s, c) : send_error(c, 405, "method not allowed");
    if (!strcmp(p, "/model/load")) return is_post ? model_load(s, c) : send_error(c, 405, "method not allowed");
    if (!strcmp(p, "/model/unload")) return is_post ? model_unload(s, c) : send_error(c, 405, "method not allowed");
    if (!strncmp(p, "/status/", 8)) return is_get ? task_status(s, c, p + 8) : send_error(c, 405, "method not allowed");
    if (!strncmp(p, "/tasks/", 7)) {
        const char *id = p + 7, *slash = strchr(id, '/');
        if (slash && !strcmp(slash, "/cancel") && is_post) {
            char buf[64];
            snprintf(buf, sizeof buf, "%.*s", (int)(slash - id), id);
            return task_cancel(s, c, buf);
        }
        return send_error(c, 404, "not found");
    }
    if (!strncmp(p, "/images/", 8)) {
        const char *id = p + 8, *slash = strchr(id, '/');
        if (slash && !strcmp(slash, "/file") && is_get) {
            char buf[32];
            if (slash - id >= (long)sizeof buf) return send_error(c, 404, "not found");
            snprintf(buf, sizeof buf, "%.*s", (int)(slash - id), id);
            return image_file(s, c, buf);
        }
        return send_error(c, 404, "not found");
    }
    if (!strcmp(p, "/generate") || !strcmp(p, "/verify")) {
        if (!is_post) return send_error(c, 405, "method not allowed");
        json_error_t jerr;
        json_t *body = ctx->body ? json_loads(ctx->body, 0, &jerr) : NULL;
        if (!json_is_object(body)) {
            json_decref(body);
            return send_invalid(c, "body", "must be a JSON object");
        }
        enum MHD_Result r = !strcmp(p, "/generate") ? generate(s, c, body) : verify(c, body);
        json_decref(body);
        return r;
    }
    return send_error(c, 404, "not found");
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code) {
    (void)cls;
    (void)c;
    (void)code;
    conn_ctx *ctx = *con_cls;
    if (ctx) {
        free(ctx->body);
        free(ctx);
    }
    *con_cls = NULL;
}

int i4_server_start(i4_server **out, const i4_server_options *opt) {
    *out = NULL;
    i4_server *s = calloc(1, sizeof *s);
    if (!s) return i4_error("out of memory");
    s->opt = *opt;
    s->next_image_id = 1;
    i4_rng_seed(&s->rng, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->op_lock, NULL);
    if (i4_mkdirs(opt->output_dir) != 0) {
        free(s);
        return -1;
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt->port);
    if (inet_pton(AF_INET, opt->host, &addr.sin_addr) != 1) {
        free(s);
        return i4_error("invalid host address '%s' (an IPv4 address such as 127.0.0.1)", opt->host);
    }
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, (uint16_t)opt->port,
                                 NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_END);
    if (!s->daemon) {
        free(s);
        return i4_error("cannot listen on %s:%d (port in use?)", opt->host, opt->port);
    }
    *out = s;
    return 0;
}

void i4_server_stop(i4_server *s) {
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    /* Wait for a running model operation to end before freeing. */
    pthread_mutex_lock(&s->op_lock);
    i4_pipeline_free(s->pipe);
    pthread_mutex_unlock(&s->op_lock);
    for (int i = 0; i < MAX_TASKS; i++)
        if (s->tasks[i]) {
            free(s->tasks[i]->caption);
            free(s->tasks[i]);
        }
    free(s);
}
