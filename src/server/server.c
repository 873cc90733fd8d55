/*
 * server.c — `ideogram4 serve`: start-up and shut-down.
 *
 * Start-up (docs/APP.md §3.4): create the output and database folders, open the
 * SQLite store (migrating older schemas), delete orphan image files (written
 * but never committed, e.g. after a crash), start the job worker (jobs.c),
 * bind (loopback by default; a non-loopback bind needs IDEOGRAM4_API_TOKEN;
 * mhd.c), optionally queue the model load.
 *
 * Shut-down: mark the server stopping (waiting replies and LLM calls end),
 * stop the HTTP layer, cancel the running job and join the worker, free the
 * pipeline.
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
#include "server/server_internal.h"

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
    pthread_cond_destroy(&s->queue_cond);
    pthread_cond_destroy(&s->job_done_cond);
    pthread_mutex_destroy(&s->lock);
    json_decref(s->applied_loras);
    i4_logger_close(&s->log);
    free(s);
}

int srv_open(i4_server **out, const i4_server_options *opt) {
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
    pthread_cond_init(&s->queue_cond, NULL);
    pthread_cond_init(&s->job_done_cond, NULL);
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
    s->mp.cancel = &s->stopping; /* LLM calls end when the server stops */
    if (!s->mp_config_ok) {
        snprintf(s->mp_config_error, sizeof s->mp_config_error, "%s", i4_last_error());
        i4_log(&s->log, I4_LOG_WARN, "magic", "magic prompt disabled: %s", s->mp_config_error);
    }
    find_webui(s);
    i4_log(&s->log, I4_LOG_INFO, "server", "web UI: %s", s->webui_dir[0] ? s->webui_dir : "not built");

    if (srv_jobs_start(s) != 0) {
        free_server(s);
        return -1;
    }
    *out = s;
    return 0;
}

int i4_server_start(i4_server **out, const i4_server_options *opt) {
    i4_server *s;
    if (srv_open(&s, opt) != 0) return -1;
    const char *host = strcmp(opt->host, "localhost") ? opt->host : "127.0.0.1";
    if (srv_http_start(s, host) != 0) {
        char why[600];
        snprintf(why, sizeof why, "%s", i4_last_error());
        i4_server_stop(s);
        return i4_error("%s", why);
    }
    i4_log(&s->log, I4_LOG_INFO, "server", "listening on http://%s:%d/ (%s, queue %d)", opt->host, s->port,
           opt->api_token ? "API token required" : "no API token", opt->queue_size);
    if (opt->autoload) {
        char id[33];
        srv_model_submit_load(s, id);
    }
    *out = s;
    return 0;
}

int i4_server_port(const i4_server *s) { return s->port; }

void i4_server_stop(i4_server *s) {
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&s->job_done_cond);
    pthread_mutex_unlock(&s->lock);
    srv_http_stop(s);
    srv_jobs_stop(s);
    i4_pipeline_free(s->pipe);
    s->pipe = NULL;
    i4_log(&s->log, I4_LOG_INFO, "server", "stopped");
    free_server(s);
}
