/*
 * lora_routes.c — LoRA management (docs/APP.md §3.3.9, §6): GET /api/lora/status,
 * POST /api/lora/apply, POST /api/lora/remove, GET /api/lora/operation/{id}.
 *
 * Files are discovered in IDEOGRAM4_LORA_DIR (non-recursive, *.safetensors,
 * sorted); a request names files by bare name and each name must be one of
 * that listing, so no client string is ever joined into a path unchecked;
 * a file whose real path leaves the folder (a symlink out) is refused, and
 * error texts name files by bare name and never quote their bytes.
 * Apply and remove are jobs on the one queue (one pending at a time, 409
 * otherwise) and report phases
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
#include "base/utf8.h"
#include "server/server_internal.h"

#define MAX_STACK 8

/* A LoRA job: the stack to apply, or NULL to remove the applied one. */
typedef struct {
    json_t *stack; /* [{"name", "strength"}] */
} lora_spec;

static void lora_spec_free(void *p) {
    lora_spec *l = p;
    if (!l) return;
    json_decref(l->stack);
    free(l);
}

/* A parser's error about a file of the LoRA folder, fit for a client: the
 * folder's path becomes the bare name and quoted file content (jansson's
 * "near '...'") is dropped. */
static void client_file_error(const char *msg, const char *path, const char *name, char *out, size_t size) {
    char buf[1024];
    size_t o = 0, plen = strlen(path);
    for (const char *p = msg; *p && o + 1 < sizeof buf;) {
        if (plen && !strncmp(p, path, plen)) {
            size_t n = strlen(name);
            if (o + n >= sizeof buf) break;
            memcpy(buf + o, name, n);
            o += n;
            p += plen;
        } else if (!strncmp(p, " near '", 7)) {
            const char *end = strchr(p + 7, '\'');
            p = end ? end + 1 : p + strlen(p);
        } else if (*p == '/') { /* any other absolute path: keep its last part */
            const char *q = p;
            while (*q && *q != ' ' && *q != ':' && *q != ',' && *q != ')') q++;
            const char *last = p;
            for (const char *t = p; t < q; t++)
                if (*t == '/') last = t + 1;
            while (last < q && o + 1 < sizeof buf) buf[o++] = *last++;
            p = q;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o] = 0;
    i4_utf8_copy(out, size, buf);
}

/* 0 when dir/name is a regular file whose real path is inside the folder
 * (a symlink within the folder is fine, one that leads out is not); else -1
 * with the reason for the client. */
int srv_lora_file_ok(i4_server *s, const char *name, char *path, size_t path_size, char *why, size_t why_size) {
    char real_dir[PATH_MAX], real[PATH_MAX];
    snprintf(path, path_size, "%s/%s", s->opt.lora_dir, name);
    if (!realpath(s->opt.lora_dir, real_dir) || !realpath(path, real)) {
        snprintf(why, why_size, "cannot be opened");
        return -1;
    }
    size_t n = strlen(real_dir);
    if (strncmp(real, real_dir, n) != 0 || real[n] != '/' || strchr(real + n + 1, '/')) {
        snprintf(why, why_size, "is a link that leads out of the LoRA folder");
        return -1;
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_size, "is not a regular file");
        return -1;
    }
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x ? x : "", y ? y : "");
}

/* The folder's LoRA files: [{"name","format","size_mb","modules"}], and the
 * files that cannot be used in *invalid ([{"name","error"}]). A file name
 * that is not UTF-8 cannot be named in JSON: it is listed as invalid with
 * its bytes escaped, and logged. */
static json_t *list_loras(i4_server *s, json_t **invalid) {
    json_t *out = json_array();
    if (invalid) *invalid = json_array();
    DIR *d = opendir(s->opt.lora_dir);
    if (!d) return out;
    struct dirent *e;
    json_t **items = NULL;
    size_t n = 0, cap = 0;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        if (nm[0] == '.' || len <= 12 || strcmp(nm + len - 12, ".safetensors")) continue;
        if (!i4_utf8_valid(nm, len)) {
            char shown[600];
            i4_escape_for_log(shown, sizeof shown, nm);
            i4_log(&s->log, I4_LOG_WARN, "lora", "skipping a file whose name is not UTF-8: %s", shown);
            if (invalid)
                json_array_append_new(*invalid, json_pack("{s:s,s:s}", "name", shown, "error",
                                                          "the file name is not valid UTF-8; rename the file"));
            continue;
        }
        char path[PATH_MAX], why[256];
        if (srv_lora_file_ok(s, nm, path, sizeof path, why, sizeof why) != 0) {
            char msg[400];
            i4_utf8_format(msg, sizeof msg, "%s", why);
            if (invalid) json_array_append_new(*invalid, json_pack("{s:s,s:s}", "name", nm, "error", msg));
            continue;
        }
        struct stat st;
        i4_lora_info info;
        if (stat(path, &st) != 0 || i4_lora_inspect(path, &info) != 0) {
            char msg[600];
            client_file_error(i4_last_error(), path, nm, msg, sizeof msg);
            if (invalid) json_array_append_new(*invalid, json_pack("{s:s,s:s}", "name", nm, "error", msg));
            continue;
        }
        json_t *item = json_pack("{s:s,s:s,s:f,s:I}", "name", nm, "format", info.format, "size_mb",
                                 round((double)st.st_size / (1024.0 * 1024.0) * 10) / 10, "modules",
                                 (json_int_t)info.modules);
        if (!item) continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            json_t **grown = realloc(items, ncap * sizeof *grown);
            if (!grown) {
                json_decref(item);
                break;
            }
            items = grown;
            cap = ncap;
        }
        items[n++] = item;
    }
    closedir(d);
    if (n) qsort(items, n, sizeof *items, cmp_name);
    for (size_t i = 0; i < n; i++) json_array_append_new(out, items[i]);
    free(items);
    return out;
}

static json_t *find_listed(json_t *list, const char *name) {
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        const char *n = json_string_value(json_object_get(it, "name"));
        if (n && !strcmp(n, name)) return it;
    }
    return NULL;
}

char *srv_lora_label(json_t *stack) {
    size_t n = json_array_size(stack), len = 1;
    for (size_t i = 0; i < n; i++) len += strlen(json_string_value(json_object_get(json_array_get(stack, i), "name"))) + 3;
    char *label = malloc(len);
    if (!label) return NULL;
    label[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(label, " + ");
        strcat(label, json_string_value(json_object_get(json_array_get(stack, i), "name")));
    }
    return label;
}

/* ------------------------------------------------------------ the job */

static void lora_finish(i4_server *s, srv_job *j, int ok, const char *msg, json_t *applied) {
    json_t *result = json_pack("{s:b,s:s}", "ok", ok, "msg", msg);
    if (result && applied) json_object_set_new(result, "applied_loras", json_deep_copy(applied));
    srv_job_finish(s, j, ok ? JOB_DONE : JOB_ERROR, result, "%s", msg);
}

static void run_lora(i4_server *s, srv_job *j) {
    lora_spec *spec = j->spec;
    int applying = spec->stack != NULL;
    srv_job_update(s, j, "validate", 5, "%s", applying ? "Checking LoRA files..." : "Checking applied LoRA...");
    pthread_mutex_lock(&s->lock);
    i4_pipeline *p = s->pipe;
    size_t n_applied = json_array_size(s->applied_loras);
    pthread_mutex_unlock(&s->lock);
    if (!p) {
        lora_finish(s, j, 0, "Model not loaded.", NULL);
        return;
    }
    if (!applying && n_applied == 0) {
        lora_finish(s, j, 0, "No LoRA applied.", NULL);
        return;
    }
    if (n_applied) {
        srv_job_update(s, j, "restore", applying ? 15 : 25, "%s",
                       applying ? "Restoring base weights before applying new LoRA..." : "Restoring original weights...");
        i4_pipeline_remove_loras(p);
        pthread_mutex_lock(&s->lock);
        json_array_clear(s->applied_loras);
        pthread_mutex_unlock(&s->lock);
        srv_job_update(s, j, "restore", applying ? 30 : 65, "%s",
                       applying ? "Base weights restored." : "Original weights restored.");
    }
    json_t *applied = json_array();
    size_t n = json_array_size(spec->stack);
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(spec->stack, i);
        const char *name = json_string_value(json_object_get(it, "name"));
        double strength = json_number_value(json_object_get(it, "strength"));
        srv_job_update(s, j, "merge", 35 + (int)(35.0 * (double)i / (double)n),
                       "Merging %s into conditional transformer...", name);
        char path[PATH_MAX], why[256], msg[700];
        /* Checked again here: the folder may have changed since the request. */
        int bad = srv_lora_file_ok(s, name, path, sizeof path, why, sizeof why) != 0;
        double t0 = i4_now_seconds();
        if (bad || i4_pipeline_apply_lora(p, path, (float)strength) != 0) {
            if (bad) i4_utf8_format(msg, sizeof msg, "LoRA %s %s", name, why);
            else client_file_error(i4_last_error(), path, name, msg, sizeof msg);
            i4_pipeline_remove_loras(p); /* leave a consistent state: nothing applied */
            json_decref(applied);
            lora_finish(s, j, 0, msg, NULL);
            return;
        }
        i4_lora_info info = {"unknown", 0};
        i4_lora_inspect(path, &info); /* applied just now: it parses; "unknown" is only a fallback */
        json_array_append_new(applied,
                              json_pack("{s:s,s:f,s:s}", "name", name, "strength", strength, "format", info.format));
        i4_log(&s->log, I4_LOG_INFO, "lora", "merged %s (strength %.3g) in %.2fs", name, strength, i4_now_seconds() - t0);
        srv_job_update(s, j, "merge", 35 + (int)(35.0 * (double)(i + 1) / (double)n), "Merged %s.", name);
    }
    srv_job_update(s, j, "warmup", 80, "%s", applying ? "LoRA weights merged. Warming up..." : "Warming up...");
    srv_warmup(s, p);
    srv_job_update(s, j, "warmup", 95, "Warmup complete.");
    pthread_mutex_lock(&s->lock);
    json_decref(s->applied_loras);
    s->applied_loras = json_deep_copy(applied);
    pthread_mutex_unlock(&s->lock);
    if (applying) {
        char *label = srv_lora_label(applied);
        char msg[1200];
        i4_utf8_format(msg, sizeof msg, "LoRA stack applied: %s", label ? label : "");
        free(label);
        lora_finish(s, j, 1, msg, applied);
    } else {
        lora_finish(s, j, 1, "LoRA removed, original weights restored.", applied);
    }
    json_decref(applied);
}

const srv_job_type srv_lora_job = {"lora", run_lora, lora_spec_free};

/* ------------------------------------------------------------ routes */

static void start_op(srv_req *r, json_t *stack) {
    i4_server *s = r->s;
    lora_spec *spec = calloc(1, sizeof *spec);
    if (!spec) {
        json_decref(stack);
        srv_error(r, 500, "out of memory");
        return;
    }
    spec->stack = stack;
    srv_job *j = srv_job_new(&srv_lora_job, spec);
    if (!j) {
        srv_error(r, 500, "out of memory");
        return;
    }
    char id[33];
    pthread_mutex_lock(&s->lock);
    int busy = srv_job_pending_locked(s, &srv_lora_job) != NULL;
    int rc = busy ? -1 : srv_job_submit_locked(s, j, id);
    pthread_mutex_unlock(&s->lock);
    if (rc != 0) {
        srv_job_discard(j);
        if (busy) srv_error(r, 409, "A LoRA operation is already running.");
        else srv_error(r, 503, "%s", i4_last_error());
        return;
    }
    srv_json(r, 200, json_pack("{s:b,s:s,s:s}", "ok", 1, "task_id", id, "msg",
                               stack ? "LoRA apply started." : "LoRA remove started."));
}

static void lora_apply(srv_req *r) {
    json_t *body = srv_body_object(r, 0);
    if (!body) return;
    json_t *requested = json_array();
    json_t *name = json_object_get(body, "name"), *loras = json_object_get(body, "loras");
    int bad = 0;
    if (loras && !json_is_null(loras)) {
        if (!json_is_array(loras)) {
            srv_invalid(r, "loras", "must be a list of {\"name\", \"strength\"}");
            bad = 1;
        } else if (json_array_size(loras) > MAX_STACK) {
            srv_invalid(r, "loras", "at most %d LoRAs can be stacked", MAX_STACK);
            bad = 1;
        } else {
            size_t i;
            json_t *it;
            json_array_foreach(loras, i, it) {
                if (!json_is_object(it)) {
                    srv_invalid(r, "loras", "each entry must be an object with \"name\" and \"strength\"");
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
        srv_json(r, 200, json_pack("{s:b,s:s}", "ok", 0, "msg", "Missing LoRA name."));
        bad = 1;
    }
    json_t *listing = bad ? NULL : list_loras(r->s, NULL);
    json_t *stack = json_array();
    size_t i;
    json_t *it;
    if (!bad) json_array_foreach(requested, i, it) {
        json_t *nm = json_object_get(it, "name"), *st = json_object_get(it, "strength");
        if (!json_is_string(nm) || !json_string_length(nm)) {
            srv_invalid(r, "name", "must be a non-empty string");
            bad = 1;
            break;
        }
        const char *n = json_string_value(nm);
        if (!i4_store_is_bare_name(n)) {
            srv_invalid(r, "name", "must be a file name in the LoRA folder, without a path");
            bad = 1;
            break;
        }
        double strength = r->s->opt.lora_strength;
        if (st && !json_is_null(st)) {
            if (!json_is_number(st) || !(json_number_value(st) >= -4.0 && json_number_value(st) <= 4.0)) {
                srv_invalid(r, "strength", "must be a number from -4 to 4");
                bad = 1;
                break;
            }
            strength = json_number_value(st);
        }
        if (!find_listed(listing, n)) {
            char m[700];
            i4_utf8_format(m, sizeof m, "LoRA not found: %s (not a usable LoRA file of the LoRA folder)", n);
            srv_json(r, 404, json_pack("{s:b,s:s,s:s}", "ok", 0, "msg", m, "error", m));
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
        return;
    }
    start_op(r, stack);
}

static void lora_status(srv_req *r) {
    i4_server *s = r->s;
    json_t *invalid = NULL;
    json_t *available = list_loras(s, &invalid);
    pthread_mutex_lock(&s->lock);
    json_t *applied = json_deep_copy(s->applied_loras);
    int busy = srv_job_pending_locked(s, &srv_lora_job) != NULL;
    pthread_mutex_unlock(&s->lock);
    size_t n = json_array_size(applied);
    char *label = n ? srv_lora_label(applied) : NULL;
    double strength = n == 1 ? json_number_value(json_object_get(json_array_get(applied, 0), "strength"))
                      : n    ? 0.0
                             : s->opt.lora_strength;
    json_t *out = json_pack("{s:o,s:f,s:o,s:o,s:o,s:f,s:b,s:s}", "applied", label ? json_string(label) : json_null(),
                            "strength", strength, "applied_loras", applied, "available", available, "invalid", invalid,
                            "default_strength", s->opt.lora_strength, "busy", busy, "dir", s->opt.lora_dir);
    free(label);
    srv_json(r, 200, out);
}

static void lora_operation(srv_req *r, const char *id) {
    i4_server *s = r->s;
    pthread_mutex_lock(&s->lock);
    srv_job *j = srv_job_find_locked(s, id, &srv_lora_job);
    json_t *out;
    if (!j) {
        out = json_pack("{s:s,s:s,s:s,s:i,s:s,s:n}", "state", "done", "msg", "Task not found.", "phase", "done",
                        "progress", 0, "error", "Task not found.", "result");
    } else {
        int finished = j->status >= JOB_DONE;
        out = json_pack("{s:s,s:s,s:s,s:i,s:o,s:o}", "state", finished ? "done" : "running", "msg", j->msg, "phase",
                        j->status == JOB_ERROR ? "error" : j->phase, "progress", j->status == JOB_ERROR ? 0 : j->progress,
                        "error", j->status == JOB_ERROR ? json_string(j->msg) : json_null(), "result",
                        j->result ? json_deep_copy(j->result) : json_null());
    }
    pthread_mutex_unlock(&s->lock);
    srv_json(r, 200, out);
}

void srv_route_lora(srv_req *r, const char *path) {
    int get = !strcmp(r->method, "GET"), post = !strcmp(r->method, "POST");
    if (!strcmp(path, "/lora/status")) get ? lora_status(r) : (void)srv_method_not_allowed(r, "GET");
    else if (!strcmp(path, "/lora/apply")) post ? lora_apply(r) : (void)srv_method_not_allowed(r, "POST");
    else if (!strcmp(path, "/lora/remove")) post ? start_op(r, NULL) : (void)srv_method_not_allowed(r, "POST");
    else if (!strcmp(path, "/lora/presets") || !strcmp(path, "/lora/download") || !strncmp(path, "/lora/download/", 15))
        srv_route_lora_presets(r, path);
    else if (!strncmp(path, "/lora/operation/", 16)) {
        const char *id = path + 16;
        if (!*id || strchr(id, '/') || strlen(id) > 64) srv_error(r, 404, "not found");
        else get ? lora_operation(r, id) : (void)srv_method_not_allowed(r, "GET");
    } else srv_error(r, 404, "not found");
}
