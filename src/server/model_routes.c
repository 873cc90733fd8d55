/*
 * model_routes.c — model lifecycle (docs/APP.md §5): GET /api/model/status,
 * POST /api/model/load, POST /api/model/unload, and the load and unload jobs.
 *
 * States idle → loading → loaded → (unload) → idle; a failed load ends in
 * `error` with the reason as the message (the reference app showed `idle`
 * there); loading again from `error` is allowed. Load and unload are jobs on
 * the one queue (jobs.c): a load ends with the warm-up (§5.3); an unload
 * frees the pipeline (its weights are mmap'd, so the resident set drops at
 * once) and the status shows the RSS measured before and after. The unload
 * route waits a few seconds for its job so that the usual case (nothing
 * queued) answers with the RSS figures; behind a long job it answers with
 * the job id instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/utf8.h"
#include "server/server_internal.h"

#define UNLOAD_WAIT_SECONDS 10.0

static void no_spec_free(void *spec) { (void)spec; }

/* ------------------------------------------------------------ jobs */

static void set_model(i4_server *s, int state, int progress, const char *msg) {
    pthread_mutex_lock(&s->lock);
    if (state >= 0) s->model_state = state;
    if (progress >= 0) s->load_progress = progress;
    i4_utf8_copy(s->model_msg, sizeof s->model_msg, msg);
    pthread_mutex_unlock(&s->lock);
}

static void run_load(i4_server *s, srv_job *j) {
    if (s->pipe) {
        set_model(s, MODEL_LOADED, 100, "Model loaded.");
        srv_job_finish(s, j, JOB_DONE, NULL, "Model already loaded.");
        return;
    }
    double t0 = i4_now_seconds();
    set_model(s, MODEL_LOADING, 10, "Loading pipeline...");
    srv_job_update(s, j, "loading", 10, "Loading pipeline...");
    i4_log(&s->log, I4_LOG_INFO, "model", "loading %s",
           s->opt.model_dir ? s->opt.model_dir : s->opt.repo ? s->opt.repo : SRV_DEFAULT_REPO);
    i4_load_options lo = {.model_dir = s->opt.model_dir,
                          .repo = s->opt.repo,
                          .precision = s->opt.precision,
                          .backend = s->opt.backend,
                          .threads = s->opt.threads,
                          .device = s->opt.device,
                          .offload = s->opt.offload};
    i4_pipeline *p = NULL;
    if (i4_pipeline_load(&p, &lo) != 0) {
        char err[600];
        i4_utf8_copy(err, sizeof err, i4_last_error());
        set_model(s, MODEL_ERROR, 0, err);
        srv_job_finish(s, j, JOB_ERROR, NULL, "Error: %s", err);
        return;
    }
    set_model(s, -1, 90, "Warming up...");
    srv_job_update(s, j, "warmup", 90, "Warming up...");
    srv_warmup(s, p); /* a failed warm-up is logged, not fatal: generation reports its own errors */
    pthread_mutex_lock(&s->lock);
    s->pipe = p;
    s->preview_fit_logged = 0; /* a new pipeline fits its own map */
    i4_utf8_copy(s->model_weights, sizeof s->model_weights, i4_pipeline_snapshot(p));
    i4_utf8_copy(s->model_backend, sizeof s->model_backend, i4_pipeline_backend(p));
    json_array_clear(s->applied_loras);
    pthread_mutex_unlock(&s->lock);
    set_model(s, MODEL_LOADED, 100, "Model loaded.");
    i4_log(&s->log, I4_LOG_INFO, "model", "loaded %s in %.2fs on %s (RSS %.0f MB)", i4_pipeline_snapshot(p),
           i4_now_seconds() - t0, i4_pipeline_backend(p), srv_rss_mb());
    srv_job_finish(s, j, JOB_DONE, NULL, "Model loaded.");
}

static void run_unload(i4_server *s, srv_job *j) {
    double before = srv_rss_mb();
    pthread_mutex_lock(&s->lock);
    i4_pipeline *p = s->pipe;
    s->pipe = NULL;
    s->model_state = MODEL_IDLE;
    s->model_msg[0] = 0;
    s->model_weights[0] = 0;
    s->load_progress = 0;
    s->timing_w = 0; /* the next model measures its own steps */
    json_array_clear(s->applied_loras);
    pthread_mutex_unlock(&s->lock);
    i4_pipeline_free(p);
    double after = srv_rss_mb();
    pthread_mutex_lock(&s->lock);
    s->rss_before_unload_mb = before;
    s->rss_after_unload_mb = after;
    pthread_mutex_unlock(&s->lock);
    srv_job_finish(s, j, JOB_DONE, json_pack("{s:f,s:f}", "rss_before_mb", before, "rss_after_mb", after),
                   "Model unloaded%s: RSS %.0f MB -> %.0f MB.", p ? "" : " (was not loaded)", before, after);
}

const srv_job_type srv_load_job = {"load", run_load, no_spec_free};
const srv_job_type srv_unload_job = {"unload", run_unload, no_spec_free};

int srv_model_submit_load(i4_server *s, char *id_out) {
    pthread_mutex_lock(&s->lock);
    srv_job *pending = srv_job_pending_locked(s, &srv_load_job);
    if (pending) { /* one load at a time: a second request joins the first */
        memcpy(id_out, pending->id, sizeof pending->id);
        pthread_mutex_unlock(&s->lock);
        return 1;
    }
    srv_job *j = srv_job_new(&srv_load_job, NULL);
    int rc = j ? srv_job_submit_locked(s, j, id_out) : i4_error("out of memory");
    if (rc == 0 && s->model_state != MODEL_LOADED) {
        s->model_state = MODEL_LOADING;
        s->load_progress = 0;
        snprintf(s->model_msg, sizeof s->model_msg, "Waiting to load...");
    }
    pthread_mutex_unlock(&s->lock);
    if (rc != 0) srv_job_discard(j);
    return rc;
}

/* ------------------------------------------------------------ routes */

static void model_load(srv_req *r) {
    char id[33];
    int rc = srv_model_submit_load(r->s, id);
    if (rc < 0) {
        srv_error(r, 503, "%s", i4_last_error());
        return;
    }
    srv_json(r, 200, json_pack("{s:b,s:s,s:s}", "ok", 1, "msg", rc ? "A load is already in progress." : "Load started.",
                               "task_id", id));
}

typedef struct {
    char id[33];
} unload_wait;

static void unload_reply(i4_server *s, void *arg, srv_req *out) {
    unload_wait *w = arg;
    if (!srv_job_wait(s, w->id, UNLOAD_WAIT_SECONDS)) {
        srv_json(out, 202, json_pack("{s:b,s:s,s:s}", "ok", 1, "msg", "Unload queued behind the running job.",
                                     "task_id", w->id));
        return;
    }
    pthread_mutex_lock(&s->lock);
    srv_job *j = srv_job_find_locked(s, w->id, &srv_unload_job);
    json_t *reply = json_pack("{s:b,s:s,s:s}", "ok", 1, "msg", j ? j->msg : "Model unloaded.", "task_id", w->id);
    if (j && j->result) json_object_update(reply, j->result);
    pthread_mutex_unlock(&s->lock);
    srv_json(out, 200, reply);
}

static void model_unload(srv_req *r) {
    i4_server *s = r->s;
    unload_wait *w = calloc(1, sizeof *w);
    if (!w) {
        srv_error(r, 500, "out of memory");
        return;
    }
    pthread_mutex_lock(&s->lock);
    srv_job *pending = srv_job_pending_locked(s, &srv_unload_job);
    int rc = 0;
    if (pending) memcpy(w->id, pending->id, sizeof w->id);
    else {
        srv_job *j = srv_job_new(&srv_unload_job, NULL);
        rc = j ? srv_job_submit_locked(s, j, w->id) : i4_error("out of memory");
        if (rc != 0) srv_job_discard(j);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc != 0) {
        free(w);
        srv_error(r, 503, "%s", i4_last_error());
        return;
    }
    srv_defer(r, unload_reply, w, free);
}

static void model_status(srv_req *r) {
    static const char *names[] = {"idle", "loading", "loaded", "error"};
    i4_server *s = r->s;
    /* Whether the weights are on disk (the first-run panel offers the download
     * when not): a --model folder or the repo's snapshot in the Hub cache. */
    char snap[4096];
    int present = s->opt.demo || i4_resolve_snapshot(s->opt.model_dir, s->opt.repo, snap, sizeof snap) == 0;
    pthread_mutex_lock(&s->lock);
    const char *weights = s->opt.demo            ? "demo: built-in tiny model"
                          : s->model_weights[0] ? s->model_weights
                          : s->opt.model_dir    ? s->opt.model_dir
                          : s->opt.repo         ? s->opt.repo
                                                : SRV_DEFAULT_REPO;
    json_t *j = json_pack("{s:s,s:s,s:b,s:s,s:f,s:i,s:s}", "state", names[s->model_state], "msg", s->model_msg, "demo",
                          s->opt.demo, "weights", weights, "rss_mb", srv_rss_mb(), "progress",
                          s->model_state == MODEL_LOADED ? 100 : s->load_progress, "precision",
                          s->opt.precision == I4_PRECISION_BF16 ? "bf16" : "f32");
    json_object_set_new(j, "rss_before_unload_mb",
                        s->rss_before_unload_mb >= 0 ? json_real(s->rss_before_unload_mb) : json_null());
    json_object_set_new(j, "rss_after_unload_mb",
                        s->rss_after_unload_mb >= 0 ? json_real(s->rss_after_unload_mb) : json_null());
    /* the backend in use once loaded; before that, the one asked for */
    json_object_set_new(j, "backend", json_string(s->model_state == MODEL_LOADED && s->model_backend[0]
                                                      ? s->model_backend
                                                      : s->opt.backend ? s->opt.backend : "auto"));
    json_object_set_new(j, "weights_present", json_boolean(present || s->model_state == MODEL_LOADED));
    /* the last image's steps measured on this machine (null until one): the UI's time estimate */
    json_object_set_new(j, "timing", srv_timing_json_locked(s));
    json_object_set_new(j, "operation", s->running ? json_string(s->running->type->kind) : json_null());
    json_t *dl = srv_model_download_json_locked(s);
    json_object_set_new(j, "download", dl ? dl : json_null());
    pthread_mutex_unlock(&s->lock);
    srv_json(r, 200, j);
}

void srv_route_model(srv_req *r, const char *path) {
    int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
    if (!strcmp(path, "/model/status")) get ? model_status(r) : (void)srv_method_not_allowed(r, "GET");
    else if (!strcmp(path, "/model/load")) post ? model_load(r) : (void)srv_method_not_allowed(r, "POST");
    else if (!strcmp(path, "/model/unload")) post ? model_unload(r) : (void)srv_method_not_allowed(r, "POST");
    else if (!strcmp(path, "/model/download") || !strncmp(path, "/model/download/", 16)) srv_route_model_download(r, path);
    else srv_error(r, 404, "not found");
}
