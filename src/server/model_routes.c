/*
 * model_routes.c — model lifecycle (APP.md §5): GET /api/model/status,
 * POST /api/model/load, POST /api/model/unload.
 *
 * States idle → loading → loaded → (unload) → idle; a failed load ends in
 * `error` with the reason as the message (the reference app showed `idle`
 * there); loading again from `error` is allowed. Load runs on a worker thread holding
 * the operation lock as "loading model" and ends with the warm-up (§5.3).
 * Unload frees the pipeline (its weights are mmap'd, so the resident set
 * drops at once); the status shows the RSS measured before and after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "server/server_internal.h"

static void *load_worker(void *arg) {
    i4_server *s = arg;
    pthread_mutex_lock(&s->lock);
    int stopping = s->stopping;
    pthread_mutex_unlock(&s->lock);
    if (stopping) {
        srv_op_release(s);
        return NULL;
    }
    double t0 = i4_now_seconds();
    pthread_mutex_lock(&s->lock);
    snprintf(s->model_msg, sizeof s->model_msg, "Loading pipeline...");
    s->load_progress = 10;
    pthread_mutex_unlock(&s->lock);
    i4_log(&s->log, I4_LOG_INFO, "model", "loading %s", s->opt.model_dir ? s->opt.model_dir
                                                       : s->opt.repo ? s->opt.repo : "ideogram-ai/ideogram-4-fp8");
    i4_load_options lo = {.model_dir = s->opt.model_dir, .repo = s->opt.repo, .precision = s->opt.precision};
    i4_pipeline *p = NULL;
    int rc = i4_pipeline_load(&p, &lo);
    char err[600] = "";
    if (rc == 0) {
        pthread_mutex_lock(&s->lock);
        snprintf(s->model_msg, sizeof s->model_msg, "Warming up...");
        s->load_progress = 90;
        pthread_mutex_unlock(&s->lock);
        srv_warmup(s, p); /* a failed warm-up is logged, not fatal: generation reports its own errors */
    } else {
        snprintf(err, sizeof err, "%s", i4_last_error());
    }
    pthread_mutex_lock(&s->lock);
    if (rc == 0) {
        s->pipe = p;
        s->model_state = MODEL_LOADED;
        s->load_progress = 100;
        snprintf(s->model_msg, sizeof s->model_msg, "Model loaded.");
    } else {
        s->model_state = MODEL_ERROR;
        s->load_progress = 0;
        snprintf(s->model_msg, sizeof s->model_msg, "%s", err);
    }
    json_array_clear(s->applied_loras);
    pthread_mutex_unlock(&s->lock);
    if (rc == 0)
        i4_log(&s->log, I4_LOG_INFO, "model", "loaded %s in %.2fs (RSS %.0f MB)", i4_pipeline_snapshot(p),
               i4_now_seconds() - t0, srv_rss_mb());
    else
        i4_log(&s->log, I4_LOG_ERROR, "model", "load failed: %s", err);
    srv_op_release(s);
    return NULL;
}

/* Called with the operation lock held ("loading model"); the worker
 * releases it. */
static void start_load_holding_op(i4_server *s) {
    pthread_mutex_lock(&s->lock);
    int start = s->model_state != MODEL_LOADED;
    if (start) {
        s->model_state = MODEL_LOADING;
        s->load_progress = 0;
        snprintf(s->model_msg, sizeof s->model_msg, "Starting model load...");
    }
    pthread_mutex_unlock(&s->lock);
    pthread_t t;
    if (!start) { /* already loaded: loading again is a no-op */
        srv_op_release(s);
        return;
    }
    if (pthread_create(&t, NULL, load_worker, s) != 0) {
        pthread_mutex_lock(&s->lock);
        s->model_state = MODEL_ERROR; /* a load that could not start is a failed load */
        snprintf(s->model_msg, sizeof s->model_msg, "cannot start the load thread");
        pthread_mutex_unlock(&s->lock);
        srv_op_release(s);
        return;
    }
    pthread_detach(t);
}

void srv_model_start_load(i4_server *s) {
    char busy[200];
    if (srv_op_try(s, "loading model", busy, sizeof busy) == 0) start_load_holding_op(s);
}

static enum MHD_Result model_load(srv_req *r) {
    char busy[200];
    if (srv_op_try(r->s, "loading model", busy, sizeof busy) != 0) return srv_error(r, 409, "%s", busy);
    start_load_holding_op(r->s);
    return srv_json(r, 200, json_pack("{s:b,s:s}", "ok", 1, "msg", "Load started."));
}

static enum MHD_Result model_unload(srv_req *r) {
    i4_server *s = r->s;
    char busy[200];
    if (srv_op_try(s, "unloading model", busy, sizeof busy) != 0) return srv_error(r, 409, "%s", busy);
    double before = srv_rss_mb();
    pthread_mutex_lock(&s->lock);
    i4_pipeline *p = s->pipe;
    s->pipe = NULL;
    s->model_state = MODEL_IDLE;
    s->model_msg[0] = 0;
    s->load_progress = 0;
    json_array_clear(s->applied_loras);
    pthread_mutex_unlock(&s->lock);
    i4_pipeline_free(p);
    double after = srv_rss_mb();
    pthread_mutex_lock(&s->lock);
    s->rss_before_unload_mb = before;
    s->rss_after_unload_mb = after;
    pthread_mutex_unlock(&s->lock);
    i4_log(&s->log, I4_LOG_INFO, "model", "unloaded%s: RSS %.0f MB -> %.0f MB", p ? "" : " (was not loaded)", before,
           after);
    srv_op_release(s);
    return srv_json(r, 200, json_pack("{s:b,s:f,s:f}", "ok", 1, "rss_before_mb", before, "rss_after_mb", after));
}

static enum MHD_Result model_status(srv_req *r) {
    static const char *names[] = {"idle", "loading", "loaded", "error"};
    i4_server *s = r->s;
    pthread_mutex_lock(&s->lock);
    const char *weights = s->opt.demo ? "demo: built-in tiny model"
                          : s->pipe   ? i4_pipeline_snapshot(s->pipe)
                          : s->opt.model_dir ? s->opt.model_dir
                          : s->opt.repo      ? s->opt.repo
                                             : "ideogram-ai/ideogram-4-fp8";
    json_t *j = json_pack("{s:s,s:s,s:b,s:s,s:f,s:i,s:s}", "state", names[s->model_state], "msg", s->model_msg, "demo",
                          s->opt.demo, "weights", weights, "rss_mb", srv_rss_mb(), "progress",
                          s->model_state == MODEL_LOADED ? 100 : s->load_progress, "precision",
                          s->opt.precision == I4_PRECISION_BF16 ? "bf16" : "f32");
    json_object_set_new(j, "rss_before_unload_mb",
                        s->rss_before_unload_mb >= 0 ? json_real(s->rss_before_unload_mb) : json_null());
    json_object_set_new(j, "rss_after_unload_mb",
                        s->rss_after_unload_mb >= 0 ? json_real(s->rss_after_unload_mb) : json_null());
    json_object_set_new(j, "operation", s->op_label[0] ? json_string(s->op_label) : json_null());
    pthread_mutex_unlock(&s->lock);
    return srv_json(r, 200, j);
}

enum MHD_Result srv_route_model(srv_req *r, const char *path) {
    int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
    if (!strcmp(path, "/model/status")) return get ? model_status(r) : srv_method_not_allowed(r, "GET");
    if (!strcmp(path, "/model/load")) return post ? model_load(r) : srv_method_not_allowed(r, "POST");
    if (!strcmp(path, "/model/unload")) return post ? model_unload(r) : srv_method_not_allowed(r, "POST");
    return srv_error(r, 404, "not found");
}
