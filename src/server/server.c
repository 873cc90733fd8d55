/*
 * server.c — `ideogram4 serve`: start-up, request dispatch and the helpers
 * the route files share (operation lock, task table, warm-up).
 *
 * Start-up (APP.md §3.4): create the output and database folders, open the
 * SQLite store (migrating older schemas), delete orphan image files (written
 * but never committed, e.g. after a crash), start the generation worker,
 * bind (loopback by default; a non-loopback bind needs IDEOGRAM4_API_TOKEN),
 * optionally start loading the model.
 *
 * libmicrohttpd runs one thread per connection, so a slow route (the magic
 * prompt waits for an LLM) never blocks the others; model work runs on
 * worker threads (see server_internal.h for the locks).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "model/weights.h"
#include "pipeline/schedule.h"
#include "server/server_internal.h"

/* ------------------------------------------------------------ helpers */

void srv_random_hex(i4_server *s, char *out, int n) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) out[i] = hex[i4_rng_next(&s->rng) & 15];
    out[n] = 0;
}

double srv_rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages_total = 0, pages_rss = 0;
    if (!f) return -1;
    int ok = fscanf(f, "%ld %ld", &pages_total, &pages_rss) == 2;
    fclose(f);
    return ok ? (double)pages_rss * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0) : -1;
}

int srv_op_try(i4_server *s, const char *label, char *msg, size_t size) {
    if (pthread_mutex_trylock(&s->op) == 0) {
        pthread_mutex_lock(&s->lock);
        snprintf(s->op_label, sizeof s->op_label, "%s", label);
        s->op_since = i4_now_seconds();
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    pthread_mutex_lock(&s->lock);
    snprintf(msg, size, "A model operation is already running: %s (%.0fs).",
             s->op_label[0] ? s->op_label : "current model operation", i4_now_seconds() - s->op_since);
    pthread_mutex_unlock(&s->lock);
    return -1;
}

int srv_op_wait(i4_server *s, const char *label, srv_task *t) {
    double t0 = i4_now_seconds();
    for (;;) {
        if (pthread_mutex_trylock(&s->op) == 0) break;
        pthread_mutex_lock(&s->lock);
        double now = i4_now_seconds();
        snprintf(t->msg, sizeof t->msg, "Waiting for %s (%.0fs)... (%.0fs)",
                 s->op_label[0] ? s->op_label : "current model operation", now - s->op_since, now - t0);
        t->phase = "waiting";
        int stop = s->stopping || __atomic_load_n(&t->cancel, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&s->lock);
        if (stop) return -1;
        usleep(100 * 1000);
    }
    pthread_mutex_lock(&s->lock);
    snprintf(s->op_label, sizeof s->op_label, "%s", label);
    s->op_since = i4_now_seconds();
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void srv_op_release(i4_server *s) {
    pthread_mutex_lock(&s->lock);
    s->op_label[0] = 0;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&s->op);
}

void srv_task_free(srv_task *t) {
    if (!t) return;
    free(t->caption);
    json_decref(t->image);
    json_decref(t->loras);
    json_decref(t->result);
    free(t);
}

static int task_finished(const srv_task *t) { return t->status >= TASK_DONE; }

void srv_task_purge_locked(i4_server *s) {
    double now = i4_now_seconds();
    for (int i = 0; i < I4_SERVER_MAX_TASKS; i++) {
        srv_task *t = s->tasks[i];
        if (t && task_finished(t) && now - t->done_at > I4_SERVER_TASK_KEEP_SECONDS) {
            srv_task_free(t);
            s->tasks[i] = NULL;
        }
    }
}

int srv_task_add_locked(i4_server *s, srv_task *t) {
    srv_task_purge_locked(s);
    int slot = -1, oldest = -1;
    for (int i = 0; i < I4_SERVER_MAX_TASKS; i++) {
        if (!s->tasks[i]) {
            slot = i;
            break;
        }
        if (task_finished(s->tasks[i]) && (oldest < 0 || s->tasks[i]->done_at < s->tasks[oldest]->done_at)) oldest = i;
    }
    if (slot < 0 && oldest >= 0) {
        srv_task_free(s->tasks[oldest]);
        s->tasks[oldest] = NULL;
        slot = oldest;
    }
    if (slot < 0) return -1;
    srv_random_hex(s, t->id, 32);
    t->server = s;
    t->created = i4_now_seconds();
    s->tasks[slot] = t;
    return 0;
}

srv_task *srv_task_find_locked(i4_server *s, const char *id, int kind) {
    for (int i = 0; i < I4_SERVER_MAX_TASKS; i++)
        if (s->tasks[i] && s->tasks[i]->kind == kind && strcmp(s->tasks[i]->id, id) == 0) return s->tasks[i];
    return NULL;
}

int srv_warmup(i4_server *s, i4_pipeline *p) {
    if (s->opt.warmup_steps <= 0) return 0;
    i4_generate_params gp;
    i4_generate_params_init(&gp);
    gp.prompt = "{\"high_level_description\":\"warmup\"}";
    gp.width = gp.height = s->opt.warmup_size;
    gp.steps = s->opt.warmup_steps;
    gp.guidance = 1.0;
    gp.mu = 0.0;
    gp.std = 1.5;
    gp.seed = 0;
    i4_result res;
    double t0 = i4_now_seconds();
    int rc = i4_generate(p, &gp, NULL, NULL, &res);
    if (rc == 0) i4_result_free(&res);
    i4_log(&s->log, rc == 0 ? I4_LOG_INFO : I4_LOG_WARN, "model", "warm-up %dx%d, %d steps: %s (%.2fs)",
           gp.width, gp.height, gp.steps, rc == 0 ? "done" : i4_last_error(), i4_now_seconds() - t0);
    return rc;
}

/* ------------------------------------------------------------ dispatch */

typedef struct {
    char *body;
    size_t len, limit;
    int too_large;
    double started;
} conn_ctx;

static enum MHD_Result dispatch(srv_req *r) {
    enum MHD_Result sent;
    if (srv_cors_preflight(r, &sent)) return sent;
    /* HEAD is routed as GET; libmicrohttpd leaves the body out. */
    if (!strcmp(r->method, "HEAD")) r->method = "GET";
    const char *url = r->url;
    if (strncmp(url, "/api/", 5) != 0 && strcmp(url, "/api") != 0) {
        if (!strncmp(url, "/outputs/", 9)) {
            /* Served by bare name only (APP.md §3.5 rule 4). */
            if (!srv_authorized(r)) return srv_error(r, 401, "missing or invalid API token");
            const char *name = url + 9;
            if (!i4_store_is_bare_name(name) || !strcmp(srv_image_content_type(name), "application/octet-stream"))
                return srv_error(r, 404, "not found");
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", r->s->output_dir, name);
            return srv_file(r, path, srv_image_content_type(name), 1);
        }
        return srv_static(r);
    }
    const char *path = url + 4;
    if (!strcmp(path, "/health")) {
        if (strcmp(r->method, "GET")) return srv_method_not_allowed(r, "GET");
        return srv_json(r, 200, json_pack("{s:b,s:s}", "ok", 1, "version", I4_VERSION));
    }
    if (!srv_authorized(r)) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen("{\"error\":\"missing or invalid API token\"}"), "{\"error\":\"missing or invalid API token\"}",
            MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
        return srv_send(r, 401, resp);
    }
    if (!strncmp(path, "/model/", 7)) return srv_route_model(r, path);
    if (!strcmp(path, "/generate") || !strncmp(path, "/status/", 8) || !strncmp(path, "/tasks/", 7) ||
        !strcmp(path, "/verify") || !strcmp(path, "/queue"))
        return srv_route_generate(r, path);
    if (!strncmp(path, "/images", 7) || !strncmp(path, "/prompts", 8) || !strcmp(path, "/form"))
        return srv_route_history(r, path);
    if (!strncmp(path, "/lora/", 6)) return srv_route_lora(r, path);
    if (!strncmp(path, "/magic-prompt", 13)) return srv_route_magic(r, path);
    return srv_error(r, 404, "not found");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    i4_server *s = cls;
    conn_ctx *ctx = *con_cls;
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx) return MHD_NO;
        ctx->started = i4_now_seconds();
        ctx->limit = !strcmp(url, "/api/magic-prompt") ? I4_SERVER_BODY_LIMIT_IMAGES : I4_SERVER_BODY_LIMIT;
        *con_cls = ctx;
        return MHD_YES;
    }
    if (*upload_size) {
        if (ctx->too_large || ctx->len + *upload_size > ctx->limit) {
            ctx->too_large = 1;
            free(ctx->body);
            ctx->body = NULL;
            ctx->len = 0;
        } else {
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
    srv_req r = {.s = s, .conn = c, .method = method, .url = url, .body = ctx->body, .body_len = ctx->len};
    enum MHD_Result ret;
    if (ctx->too_large)
        ret = srv_error(&r, 413, "request body too large (limit %u MB for this route)", (unsigned)(ctx->limit >> 20));
    else
        ret = dispatch(&r);
    i4_log(&s->log, strncmp(url, "/api/status/", 12) && strncmp(url, "/api/lora/operation/", 20) ? I4_LOG_INFO
                                                                                                    : I4_LOG_DEBUG,
           "http", "%s %s -> %u (%.1fms)", method, url, r.status, (i4_now_seconds() - ctx->started) * 1e3);
    return ret;
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

/* ------------------------------------------------------------ start / stop */

static int parent_dir(const char *path, char *out, size_t size) {
    snprintf(out, size, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash) return 0;
    if (slash == out) slash[1] = 0;
    else *slash = 0;
    return 1;
}

static void find_webui(i4_server *s) {
    char cand[3][PATH_MAX];
    int n = 0;
    if (s->opt.webui_dir) snprintf(cand[n++], PATH_MAX, "%s", s->opt.webui_dir);
    else {
        snprintf(cand[n++], PATH_MAX, "webui/dist");
        char exe[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len > 0) {
            exe[len] = 0;
            char *slash = strrchr(exe, '/');
            if (slash) {
                *slash = 0;
                snprintf(cand[n++], PATH_MAX, "%.*s/../webui/dist", PATH_MAX - 20, exe);
            }
        }
    }
    for (int i = 0; i < n; i++) {
        char index[PATH_MAX + 16];
        struct stat st;
        snprintf(index, sizeof index, "%s/index.html", cand[i]);
        if (stat(index, &st) == 0 && realpath(cand[i], s->webui_dir)) return;
    }
    s->webui_dir[0] = 0;
}

static int token_is_sane(const char *t) {
    if (strlen(t) < 16) return 0;
    for (; *t; t++)
        if (!isalnum((unsigned char)*t) && !strchr("-._~+/=", *t)) return 0;
    return 1;
}

static void free_server(i4_server *s) {
    i4_store_close(s->store);
    json_decref(s->applied_loras);
    i4_logger_close(&s->log);
    free(s);
}

int i4_server_start(i4_server **out, const i4_server_options *opt) {
    *out = NULL;
    if (!i4_host_is_loopback(opt->host) && !(opt->api_token && *opt->api_token))
        return i4_error("binding %s (not a loopback address) needs an API token: set IDEOGRAM4_API_TOKEN "
                        "(clients send it as 'Authorization: Bearer <token>')",
                        opt->host);
    if (opt->api_token && *opt->api_token && !token_is_sane(opt->api_token))
        return i4_error("IDEOGRAM4_API_TOKEN must be at least 16 characters of letters, digits and -._~+/=");
    i4_server *s = calloc(1, sizeof *s);
    if (!s) return i4_error("out of memory");
    s->opt = *opt;
    s->rss_before_unload_mb = s->rss_after_unload_mb = -1;
    s->applied_loras = json_array();
    i4_rng_seed(&s->rng, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->op, NULL);
    pthread_cond_init(&s->queue_cond, NULL);
    pthread_cond_init(&s->lora_cond, NULL);
    if (i4_logger_open(&s->log, opt->log_dir, "server", 1) != 0)
        fprintf(stderr, "warning: %s (logging to stderr only)\n", i4_last_error());
    s->log.min_level = (i4_log_level)opt->log_level;
    i4_log(&s->log, I4_LOG_INFO, "server", "ideogram4 %s starting (log file %s)", I4_VERSION,
           s->log.path[0] ? s->log.path : "none");

    char dbdir[PATH_MAX];
    if (i4_mkdirs(opt->output_dir) != 0 || !realpath(opt->output_dir, s->output_dir) ||
        (parent_dir(opt->db_path, dbdir, sizeof dbdir) && i4_mkdirs(dbdir) != 0)) {
        if (!i4_last_error()[0]) i4_error("cannot use output folder %s: %s", opt->output_dir, strerror(errno));
        free_server(s);
        return -1;
    }
    if (i4_store_open(opt->db_path, &s->store) != 0) {
        free_server(s);
        return -1;
    }
    i4_store_cleanup_result cr;
    json_t *missing = NULL;
    /* This server owns the output folder: any generated-name file without a
     * row was written by a run that died before committing it. */
    if (i4_store_cleanup_orphans(s->store, s->output_dir, 0, &cr, &missing) == 0) {
        i4_log(&s->log, I4_LOG_INFO, "store", "database %s; orphan files deleted: %d (failed %d); rows without file: %d",
               opt->db_path, cr.files_deleted, cr.files_failed, cr.rows_missing);
        json_decref(missing);
    } else {
        i4_log(&s->log, I4_LOG_WARN, "store", "orphan cleanup skipped: %s", i4_last_error());
    }
    s->mp_config_ok = i4_magic_prompt_config_from_env(&s->mp) == 0;
    if (!s->mp_config_ok) {
        snprintf(s->mp_config_error, sizeof s->mp_config_error, "%s", i4_last_error());
        i4_log(&s->log, I4_LOG_WARN, "magic", "magic prompt disabled: %s", s->mp_config_error);
    }
    find_webui(s);
    i4_log(&s->log, I4_LOG_INFO, "server", "web UI: %s", s->webui_dir[0] ? s->webui_dir : "not built");

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opt->port);
    const char *host = strcmp(opt->host, "localhost") ? opt->host : "127.0.0.1";
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        free_server(s);
        return i4_error("invalid host address '%s' (an IPv4 address such as 127.0.0.1)", opt->host);
    }
    if (pthread_create(&s->gen_thread, NULL, srv_generation_worker, s) != 0) {
        free_server(s);
        return i4_error("cannot start the generation worker");
    }
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, (uint16_t)opt->port,
                                 NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)120, MHD_OPTION_END);
    if (!s->daemon) {
        pthread_mutex_lock(&s->lock);
        s->stopping = 1;
        pthread_cond_broadcast(&s->queue_cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->gen_thread, NULL);
        free_server(s);
        return i4_error("cannot listen on %s:%d (port in use?)", opt->host, opt->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : opt->port;
    i4_log(&s->log, I4_LOG_INFO, "server", "listening on http://%s:%d/ (%s%s)", opt->host, s->port,
           opt->api_token ? "API token required" : "no API token", opt->queue_size ? ", queue mode" : "");
    if (opt->autoload) srv_model_start_load(s);
    *out = s;
    return 0;
}

int i4_server_port(const i4_server *s) { return s->port; }

void i4_server_stop(i4_server *s) {
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    for (int i = 0; i < I4_SERVER_MAX_TASKS; i++)
        if (s->tasks[i]) __atomic_store_n(&s->tasks[i]->cancel, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&s->queue_cond);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->gen_thread, NULL);
    pthread_mutex_lock(&s->lock);
    while (s->lora_threads > 0) pthread_cond_wait(&s->lora_cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    /* A model load in progress holds op: wait for it before freeing. */
    pthread_mutex_lock(&s->op);
    i4_pipeline_free(s->pipe);
    s->pipe = NULL;
    pthread_mutex_unlock(&s->op);
    for (int i = 0; i < I4_SERVER_MAX_TASKS; i++) srv_task_free(s->tasks[i]);
    i4_log(&s->log, I4_LOG_INFO, "server", "stopped");
    free_server(s);
}
