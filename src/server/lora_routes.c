/*
 * lora_routes.c — LoRA management (APP.md §3.3.9, §6): GET /api/lora/status,
 * POST /api/lora/apply, POST /api/lora/remove, GET /api/lora/operation/{id}.
 *
 * Files are discovered in IDEOGRAM4_LORA_DIR (non-recursive, *.safetensors,
 * sorted); a request names files by bare name and each name must be one of
 * that listing, so no client string is ever joined into a path unchecked.
 * Apply and remove run as tasks on their own thread (one at a time, 409
 * otherwise), wait for the model operation lock, and report phases
 * validate → restore → merge → warmup → done. Applying always replaces the
 * previous stack. The engine keeps the checkpoint's weights mmap'd and merges
 * into copies of the affected layers, so "restore" is dropping the copies
 * (no backup of the base weights is needed).
 */
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "base/io.h"
#include "model/lora.h"
#include "server/server_internal.h"

#define MAX_STACK 8

static int cmp_name(const void *a, const void *b) {
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
                  json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* The folder's LoRA files: [{"name","format","size_mb","modules"}], and the
 * files that could not be parsed in *invalid ([{"name","error"}]). */
static json_t *list_loras(i4_server *s, json_t **invalid) {
    json_t *out = json_array();
    if (invalid) *invalid = json_array();
    DIR *d = opendir(s->opt.lora_dir);
    if (!d) return out;
    struct dirent *e;
    json_t *items[1024];
    size_t n = 0;
    while ((e = readdir(d)) && n < 1024) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        if (nm[0] == '.' || len <= 12 || strcmp(nm + len - 12, ".safetensors")) continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", s->opt.lora_dir, nm);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        i4_lora *l = NULL;
        if (i4_lora_open(&l, path) != 0) {
            if (invalid) json_array_append_new(*invalid, json_pack("{s:s,s:s}", "name", nm, "error", i4_last_error()));
            continue;
        }
        items[n++] = json_pack("{s:s,s:s,s:f,s:I}", "name", nm, "format", i4_lora_format(l), "size_mb",
                               round((double)st.st_size / (1024.0 * 1024.0) * 10) / 10, "modules",
                               (json_int_t)i4_lora_module_count(l));
        i4_lora_close(l);
    }
    closedir(d);
    qsort(items, n, sizeof *items, cmp_name);
    for (size_t i = 0; i < n; i++) json_array_append_new(out, items[i]);
    return out;
}

static json_t *find_listed(json_t *list, const char *name) {
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) if (!strcmp(json_string_value(json_object_get(it, "name")), name)) return it;
    return NULL;
}

/* ------------------------------------------------------------ worker */

static void set_op(srv_task *t, const char *phase, int progress, const char *fmt, const char *arg) {
    i4_server *s = t->server;
    pthread_mutex_lock(&s->lock);
    t->phase = phase;
    t->progress = progress;
    snprintf(t->msg, sizeof t->msg, fmt, arg ? arg : "");
    pthread_mutex_unlock(&s->lock);
}

static void finish_op(srv_task *t, int ok, const char *msg, json_t *applied) {
    i4_server *s = t->server;
    pthread_mutex_lock(&s->lock);
    t->status = ok ? TASK_DONE : TASK_ERROR;
    t->phase = ok ? "done" : "error";
    t->progress = ok ? 100 : 0;
    t->done_at = i4_now_seconds();
    snprintf(t->msg, sizeof t->msg, "%s", msg);
    t->result = json_pack("{s:b,s:s}", "ok", ok, "msg", msg);
    if (applied) json_object_set_new(t->result, "applied_loras", json_deep_copy(applied));
    s->lora_busy = 0;
    pthread_mutex_unlock(&s->lock);
    i4_log(&s->log, ok ? I4_LOG_INFO : I4_LOG_ERROR, "lora", "operation %s: %s", t->id, msg);
}

static void *lora_worker(void *arg) {
    srv_task *t = arg;
    i4_server *s = t->server;
    char msg[1200];
    int applying = t->loras != NULL;
    pthread_mutex_lock(&s->lock);
    t->status = TASK_RUNNING;
    t->started = i4_now_seconds();
    pthread_mutex_unlock(&s->lock);
    if (srv_op_wait(s, applying ? "applying LoRA and warming up" : "removing LoRA and warming up", t) != 0) {
        finish_op(t, 0, "Cancelled: the server is stopping.", NULL);
        goto out;
    }
    set_op(t, "validate", 5, applying ? "Checking LoRA files..." : "Checking applied LoRA...", NULL);
    pthread_mutex_lock(&s->lock);
    i4_pipeline *p = s->pipe;
    size_t n_applied = json_array_size(s->applied_loras);
    pthread_mutex_unlock(&s->lock);
    if (!p) {
        srv_op_release(s);
        finish_op(t, 0, "Model not loaded.", NULL);
        goto out;
    }
    if (!applying && n_applied == 0) {
        srv_op_release(s);
        finish_op(t, 0, "No LoRA applied.", NULL);
        goto out;
    }
    if (n_applied) {
        set_op(t, "restore", applying ? 15 : 25,
               applying ? "Restoring base weights before applying new LoRA..." : "Restoring original weights...", NULL);
        i4_pipeline_remove_loras(p);
        pthread_mutex_lock(&s->lock);
        json_array_clear(s->applied_loras);
        pthread_mutex_unlock(&s->lock);
        set_op(t, "restore", applying ? 30 : 65, applying ? "Base weights restored." : "Original weights restored.",
               NULL);
    }
    json_t *applied = json_array();
    int failed = 0;
    size_t n = json_array_size(t->loras);
    for (size_t i = 0; i < n && !failed; i++) {
        json_t *it = json_array_get(t->loras, i);
        const char *name = json_string_value(json_object_get(it, "name"));
        double strength = json_number_value(json_object_get(it, "strength"));
        set_op(t, "merge", 35 + (int)(35.0 * (double)i / (double)n), "Merging %s into conditional transformer...", name);
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", s->opt.lora_dir, name);
        double t0 = i4_now_seconds();
        if (i4_pipeline_apply_lora(p, path, (float)strength) != 0) {
            snprintf(msg, sizeof msg, "%s", i4_last_error());
            failed = 1;
            break;
        }
        i4_lora *l = NULL;
        const char *format = "unknown";
        if (i4_lora_open(&l, path) == 0) format = i4_lora_format(l);
        json_array_append_new(applied, json_pack("{s:s,s:f,s:s}", "name", name, "strength", strength, "format", format));
        i4_lora_close(l);
        i4_log(&s->log, I4_LOG_INFO, "lora", "merged %s (strength %.3g) in %.2fs", name, strength,
               i4_now_seconds() - t0);
        set_op(t, "merge", 35 + (int)(35.0 * (double)(i + 1) / (double)n), "Merged %s.", name);
    }
    if (failed) {
        /* Leave a consistent state: nothing applied. */
        i4_pipeline_remove_loras(p);
        json_decref(applied);
        srv_op_release(s);
        finish_op(t, 0, msg, NULL);
        goto out;
    }
    set_op(t, "warmup", 75, applying ? "LoRA weights merged. Preparing warmup..." : "Preparing warmup...", NULL);
    set_op(t, "warmup", 80, "Warming up...", NULL);
    srv_warmup(s, p);
    set_op(t, "warmup", 95, "Warmup complete.", NULL);
    pthread_mutex_lock(&s->lock);
    json_decref(s->applied_loras);
    s->applied_loras = json_deep_copy(applied);
    pthread_mutex_unlock(&s->lock);
    srv_op_release(s);
    if (applying) {
        char label[900] = "";
        for (size_t i = 0; i < n; i++) {
            size_t used = strlen(label);
            snprintf(label + used, sizeof label - used, "%s%s", i ? " + " : "",
                     json_string_value(json_object_get(json_array_get(applied, i), "name")));
        }
        snprintf(msg, sizeof msg, "LoRA stack applied: %s", label);
        finish_op(t, 1, msg, applied);
    } else {
        finish_op(t, 1, "LoRA removed, original weights restored.", applied);
    }
    json_decref(applied);
out:
    pthread_mutex_lock(&s->lock);
    s->lora_threads--;
    pthread_cond_broadcast(&s->lora_cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ------------------------------------------------------------ routes */

static enum MHD_Result start_op(srv_req *r, json_t *stack) {
    i4_server *s = r->s;
    srv_task *t = calloc(1, sizeof *t);
    if (!t) {
        json_decref(stack);
        return srv_error(r, 500, "out of memory");
    }
    t->kind = TASK_LORA;
    t->status = TASK_QUEUED;
    t->phase = "queued";
    t->loras = stack;
    snprintf(t->msg, sizeof t->msg, "Queued...");
    pthread_mutex_lock(&s->lock);
    if (s->lora_busy || s->stopping || srv_task_add_locked(s, t) != 0) {
        pthread_mutex_unlock(&s->lock);
        srv_task_free(t);
        return srv_error(r, 409, "A LoRA operation is already running.");
    }
    s->lora_busy = 1;
    s->lora_threads++;
    pthread_t th;
    if (pthread_create(&th, NULL, lora_worker, t) != 0) {
        s->lora_busy = 0;
        s->lora_threads--;
        t->status = TASK_ERROR;
        t->done_at = i4_now_seconds();
        pthread_mutex_unlock(&s->lock);
        return srv_error(r, 500, "cannot start the LoRA worker");
    }
    pthread_detach(th);
    json_t *resp = json_pack("{s:b,s:s,s:s}", "ok", 1, "task_id", t->id, "msg",
                             stack ? "LoRA apply started." : "LoRA remove started.");
    pthread_mutex_unlock(&s->lock);
    return srv_json(r, 200, resp);
}

static enum MHD_Result lora_apply(srv_req *r) {
    enum MHD_Result sent;
    json_t *body = srv_body_object(r, 0, &sent);
    if (!body) return sent;
    json_t *requested = json_array();
    json_t *name = json_object_get(body, "name"), *loras = json_object_get(body, "loras");
    enum MHD_Result ret = MHD_NO;
    int bad = 0;
    if (loras && !json_is_null(loras)) {
        if (!json_is_array(loras)) {
            ret = srv_invalid(r, "loras", "must be a list of {\"name\", \"strength\"}");
            bad = 1;
        } else if (json_array_size(loras) > MAX_STACK) {
            ret = srv_invalid(r, "loras", "at most %d LoRAs can be stacked", MAX_STACK);
            bad = 1;
        } else {
            size_t i;
            json_t *it;
            json_array_foreach(loras, i, it) {
                if (!json_is_object(it)) {
                    ret = srv_invalid(r, "loras", "each entry must be an object with \"name\" and \"strength\"");
                    bad = 1;
                    break;
                }
                json_array_append(requested, it);
            }
        }
    } else if (name && !json_is_null(name)) {
        json_t *one = json_object();
        json_object_set(one, "name", name);
        if (json_object_get(body, "strength")) json_object_set(one, "strength", json_object_get(body, "strength"));
        json_array_append_new(requested, one);
    }
    if (!bad && json_array_size(requested) == 0) {
        ret = srv_json(r, 200, json_pack("{s:b,s:s}", "ok", 0, "msg", "Missing LoRA name."));
        bad = 1;
    }
    json_t *listing = bad ? NULL : list_loras(r->s, NULL);
    json_t *stack = json_array();
    size_t i;
    json_t *it;
    if (!bad) json_array_foreach(requested, i, it) {
        json_t *nm = json_object_get(it, "name"), *st = json_object_get(it, "strength");
        if (!json_is_string(nm) || !json_string_length(nm)) {
            ret = srv_invalid(r, "name", "must be a non-empty string");
            bad = 1;
            break;
        }
        const char *n = json_string_value(nm);
        if (!i4_store_is_bare_name(n)) {
            ret = srv_invalid(r, "name", "must be a file name in the LoRA folder, without a path");
            bad = 1;
            break;
        }
        double strength = r->s->opt.lora_strength;
        if (st && !json_is_null(st)) {
            if (!json_is_number(st) || !(json_number_value(st) >= -4.0 && json_number_value(st) <= 4.0)) {
                ret = srv_invalid(r, "strength", "must be a number from -4 to 4");
                bad = 1;
                break;
            }
            strength = json_number_value(st);
        }
        if (!find_listed(listing, n)) {
            char m[700];
            snprintf(m, sizeof m, "LoRA not found: %s (not a readable LoRA file in %s)", n, r->s->opt.lora_dir);
            ret = srv_json(r, 404, json_pack("{s:b,s:s,s:s}", "ok", 0, "msg", m, "error", m));
            bad = 1;
            break;
        }
        json_array_append_new(stack, json_pack("{s:s,s:f}", "name", n, "strength", strength));
    }
    json_decref(listing);
    json_decref(requested);
    json_decref(body);
    if (bad) {
        json_decref(stack);
        return ret;
    }
    return start_op(r, stack);
}

static enum MHD_Result lora_status(srv_req *r) {
    i4_server *s = r->s;
    json_t *invalid = NULL;
    json_t *available = list_loras(s, &invalid);
    pthread_mutex_lock(&s->lock);
    json_t *applied = json_deep_copy(s->applied_loras);
    pthread_mutex_unlock(&s->lock);
    size_t n = json_array_size(applied);
    char label[900] = "";
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(label);
        snprintf(label + used, sizeof label - used, "%s%s", i ? " + " : "",
                 json_string_value(json_object_get(json_array_get(applied, i), "name")));
    }
    double strength = n == 1 ? json_number_value(json_object_get(json_array_get(applied, 0), "strength"))
                      : n    ? 0.0
                             : s->opt.lora_strength;
    json_t *j = json_pack("{s:o,s:f,s:o,s:o,s:o,s:f}", "applied", n ? json_string(label) : json_null(), "strength",
                          strength, "applied_loras", applied, "available", available, "invalid", invalid,
                          "default_strength", s->opt.lora_strength);
    pthread_mutex_lock(&s->lock);
    json_object_set_new(j, "busy", json_boolean(s->lora_busy));
    pthread_mutex_unlock(&s->lock);
    return srv_json(r, 200, j);
}

static enum MHD_Result lora_operation(srv_req *r, const char *id) {
    i4_server *s = r->s;
    pthread_mutex_lock(&s->lock);
    srv_task_purge_locked(s);
    srv_task *t = srv_task_find_locked(s, id, TASK_LORA);
    json_t *j;
    if (!t) {
        j = json_pack("{s:s,s:s,s:s,s:i,s:s,s:n}", "state", "done", "msg", "Task not found.", "phase", "done",
                      "progress", 0, "error", "Task not found.", "result");
    } else {
        int finished = t->status >= TASK_DONE;
        j = json_pack("{s:s,s:s,s:s,s:i,s:o,s:o}", "state", finished ? "done" : "running", "msg", t->msg, "phase",
                      t->phase, "progress", t->progress, "error",
                      t->status == TASK_ERROR ? json_string(t->msg) : json_null(), "result",
                      t->result ? json_deep_copy(t->result) : json_null());
    }
    pthread_mutex_unlock(&s->lock);
    return srv_json(r, 200, j);
}

enum MHD_Result srv_route_lora(srv_req *r, const char *path) {
    int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
    if (!strcmp(path, "/lora/status")) return get ? lora_status(r) : srv_method_not_allowed(r, "GET");
    if (!strcmp(path, "/lora/apply")) return post ? lora_apply(r) : srv_method_not_allowed(r, "POST");
    if (!strcmp(path, "/lora/remove")) return post ? start_op(r, NULL) : srv_method_not_allowed(r, "POST");
    if (!strncmp(path, "/lora/operation/", 16)) {
        const char *id = path + 16;
        if (!*id || strchr(id, '/') || strlen(id) > 64) return srv_error(r, 404, "not found");
        return get ? lora_operation(r, id) : srv_method_not_allowed(r, "GET");
    }
    return srv_error(r, 404, "not found");
}
