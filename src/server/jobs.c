/*
 * jobs.c — the job queue and the one worker thread that owns the pipeline.
 *
 * Every piece of model work — load, unload, LoRA apply/remove (with their
 * warm-up) and generation — is a job. Routes build a job (its type and its
 * own spec struct), submit it, and read its progress back; the worker pops
 * jobs in FIFO order and runs them one at a time, so nothing else ever
 * touches the pipeline and no route waits for a lock.
 *
 * Lifetime: a job is referenced by the table (visible to status routes), the
 * queue while it waits, and the worker while it runs; it is freed when the
 * last reference goes. Cancelling a queued job unlinks it from the queue in
 * the same critical section that marks it cancelled. The table keeps
 * finished jobs for I4_SERVER_JOB_KEEP_SECONDS, at most
 * I4_SERVER_JOB_KEEP_COUNT of them, and never drops an unfinished one.
 *
 * Downloads (model snapshot, LoRA presets) never touch the pipeline and can
 * take hours, so they do not wait in the queue: srv_job_start_thread runs
 * such a job on its own thread, with the same table entry, progress and
 * cancel flag. The worker stays free for generation meanwhile; stopping the
 * server cancels them and waits for their threads.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/utf8.h"
#include "server/server_internal.h"

const char *srv_job_status_name(int status) {
    static const char *names[] = {"queued", "running", "done", "error", "cancelled"};
    return status >= 0 && status <= JOB_CANCELLED ? names[status] : "unknown";
}

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

srv_job *srv_job_new(const srv_job_type *type, void *spec) {
    srv_job *j = calloc(1, sizeof *j);
    if (!j) {
        type->free_spec(spec);
        return NULL;
    }
    j->type = type;
    j->spec = spec;
    j->status = JOB_QUEUED;
    j->phase = "queued";
    snprintf(j->msg, sizeof j->msg, "Queued...");
    return j;
}

static void job_free(srv_job *j) {
    if (!j) return;
    j->type->free_spec(j->spec);
    json_decref(j->result);
    free(j);
}

void srv_job_discard(srv_job *j) { job_free(j); }

static void job_unref_locked(srv_job *j) {
    if (--j->refs == 0) job_free(j);
}

static int finished(const srv_job *j) { return j->status >= JOB_DONE; }

/* Drop finished jobs past their age, and the oldest finished ones beyond the
 * count. Unfinished jobs are never dropped. */
static void table_trim_locked(i4_server *s) {
    double now = i4_now_seconds();
    int kept_finished = 0;
    for (srv_job **pp = &s->jobs; *pp;) {
        srv_job *j = *pp;
        if (finished(j) && (now - j->done_at > I4_SERVER_JOB_KEEP_SECONDS ||
                            ++kept_finished > I4_SERVER_JOB_KEEP_COUNT)) {
            *pp = j->table_next;
            j->table_next = NULL;
            job_unref_locked(j);
            continue;
        }
        pp = &j->table_next;
    }
}

int srv_job_submit_locked(i4_server *s, srv_job *j, char *id_out) {
    if (s->stopping) return i4_error("The server is stopping.");
    table_trim_locked(s);
    srv_random_hex(s, j->id, 32);
    j->created = i4_now_seconds();
    j->refs = 2; /* table + queue */
    j->table_next = s->jobs;
    s->jobs = j;
    if (s->queue_tail) s->queue_tail->queue_next = j;
    else s->queue_head = j;
    s->queue_tail = j;
    if (j->type == &srv_generate_job) s->waiting_generations++;
    if (id_out) memcpy(id_out, j->id, sizeof j->id);
    pthread_cond_signal(&s->queue_cond);
    return 0;
}

srv_job *srv_job_pending_locked(i4_server *s, const srv_job_type *type) {
    for (srv_job *j = s->jobs; j; j = j->table_next)
        if (j->type == type && !finished(j)) return j;
    return NULL;
}

srv_job *srv_job_find_locked(i4_server *s, const char *id, const srv_job_type *type) {
    for (srv_job *j = s->jobs; j; j = j->table_next)
        if ((!type || j->type == type) && !strcmp(j->id, id)) return j;
    return NULL;
}

/* Unlink j from the queue (under lock); 1 when it was there. */
static int queue_remove_locked(i4_server *s, srv_job *j) {
    srv_job *prev = NULL;
    for (srv_job *q = s->queue_head; q; prev = q, q = q->queue_next) {
        if (q != j) continue;
        if (prev) prev->queue_next = q->queue_next;
        else s->queue_head = q->queue_next;
        if (s->queue_tail == q) s->queue_tail = prev;
        q->queue_next = NULL;
        if (q->type == &srv_generate_job) s->waiting_generations--;
        return 1;
    }
    return 0;
}

static void mark_finished_locked(i4_server *s, srv_job *j, int status) {
    j->status = status;
    j->phase = "done";
    j->done_at = i4_now_seconds();
    if (status == JOB_DONE) j->progress = 100;
    pthread_cond_broadcast(&s->job_done_cond);
}

int srv_job_cancel(i4_server *s, const char *id, const srv_job_type *type) {
    pthread_mutex_lock(&s->lock);
    srv_job *j = srv_job_find_locked(s, id, type);
    int rc = -1;
    if (j && finished(j)) rc = 1;
    else if (j && j->status == JOB_QUEUED) {
        /* Removed from the queue and marked in one critical section: the
         * worker can never pick it up afterwards. */
        if (queue_remove_locked(s, j)) {
            snprintf(j->msg, sizeof j->msg, "Cancelled.");
            mark_finished_locked(s, j, JOB_CANCELLED);
            job_unref_locked(j); /* the queue's reference; the table keeps one */
        }
        rc = 0;
    } else if (j) {
        __atomic_store_n(&j->cancel, 1, __ATOMIC_RELAXED);
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int srv_job_position_locked(i4_server *s, const srv_job *j) {
    int pos = s->running ? 1 : 0;
    for (srv_job *q = s->queue_head; q && q != j; q = q->queue_next) pos++;
    return pos;
}

void srv_job_update(i4_server *s, srv_job *j, const char *phase, int progress, const char *fmt, ...) {
    pthread_mutex_lock(&s->lock);
    if (phase) j->phase = phase;
    if (progress >= 0) j->progress = progress;
    j->phase_started = i4_now_seconds();
    va_list ap;
    va_start(ap, fmt);
    i4_utf8_vformat(j->msg, sizeof j->msg, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&s->lock);
}

void srv_job_finish(i4_server *s, srv_job *j, int status, json_t *result, const char *fmt, ...) {
    pthread_mutex_lock(&s->lock);
    va_list ap;
    va_start(ap, fmt);
    i4_utf8_vformat(j->msg, sizeof j->msg, fmt, ap);
    va_end(ap);
    json_decref(j->result);
    j->result = result;
    mark_finished_locked(s, j, status);
    pthread_mutex_unlock(&s->lock);
    /* The worker still holds its reference, so j is alive here. */
    i4_log(&s->log, status == JOB_ERROR ? I4_LOG_ERROR : I4_LOG_INFO, j->type->kind, "job %s %s: %s", j->id,
           srv_job_status_name(status), j->msg);
}

int srv_job_should_stop(i4_server *s, srv_job *j) {
    return __atomic_load_n(&j->cancel, __ATOMIC_RELAXED) || __atomic_load_n(&s->stopping, __ATOMIC_RELAXED);
}

int srv_job_wait(i4_server *s, const char *id, double timeout) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    double whole = floor(timeout);
    until.tv_sec += (time_t)whole;
    until.tv_nsec += (long)((timeout - whole) * 1e9);
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&s->lock);
    int done = 0;
    for (;;) {
        srv_job *j = srv_job_find_locked(s, id, NULL);
        if (!j || finished(j)) {
            done = 1;
            break;
        }
        if (s->stopping || pthread_cond_timedwait(&s->job_done_cond, &s->lock, &until) != 0) break;
    }
    pthread_mutex_unlock(&s->lock);
    return done;
}

static void *worker_main(void *arg) {
    i4_server *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->queue_head && !s->stopping) pthread_cond_wait(&s->queue_cond, &s->lock);
        if (s->stopping) break;
        srv_job *j = s->queue_head;
        queue_remove_locked(s, j); /* the queue's reference passes to the worker */
        j->status = JOB_RUNNING;
        j->started = j->phase_started = i4_now_seconds();
        j->phase = "waiting";
        s->running = j;
        pthread_mutex_unlock(&s->lock);
        j->type->run(s, j);
        pthread_mutex_lock(&s->lock);
        if (!finished(j)) { /* a job type that forgot to finish: an internal error, not a hang */
            snprintf(j->msg, sizeof j->msg, "Error: the job ended without a result.");
            mark_finished_locked(s, j, JOB_ERROR);
        }
        s->running = NULL;
        job_unref_locked(j);
    }
    /* Stopping: every job still waiting ends cancelled. */
    while (s->queue_head) {
        srv_job *j = s->queue_head;
        queue_remove_locked(s, j);
        snprintf(j->msg, sizeof j->msg, "Cancelled: the server is stopping.");
        mark_finished_locked(s, j, JOB_CANCELLED);
        job_unref_locked(j);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void *side_main(void *arg) {
    srv_job *j = arg;
    i4_server *s = j->server;
    j->type->run(s, j);
    pthread_mutex_lock(&s->lock);
    if (!finished(j)) {
        snprintf(j->msg, sizeof j->msg, "Error: the job ended without a result.");
        mark_finished_locked(s, j, JOB_ERROR);
    }
    s->side_running--;
    pthread_cond_broadcast(&s->job_done_cond);
    job_unref_locked(j);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

int srv_job_start_thread_locked(i4_server *s, srv_job *j, char *id_out) {
    if (s->stopping) return i4_error("The server is stopping.");
    table_trim_locked(s);
    srv_random_hex(s, j->id, 32);
    j->created = j->started = j->phase_started = i4_now_seconds();
    j->status = JOB_RUNNING;
    j->phase = "start";
    j->server = s;
    j->refs = 2; /* table + thread */
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, side_main, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) return i4_error("cannot start a thread for the job");
    s->side_running++;
    j->table_next = s->jobs;
    s->jobs = j;
    if (id_out) memcpy(id_out, j->id, sizeof j->id);
    return 0;
}

int srv_jobs_start(i4_server *s) {
    if (pthread_create(&s->worker, NULL, worker_main, s) != 0) return i4_error("cannot start the job worker");
    s->worker_started = 1;
    return 0;
}

void srv_jobs_stop(i4_server *s) {
    pthread_mutex_lock(&s->lock);
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELAXED);
    if (s->running) __atomic_store_n(&s->running->cancel, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&s->queue_cond);
    pthread_cond_broadcast(&s->job_done_cond);
    pthread_mutex_unlock(&s->lock);
    if (s->worker_started) pthread_join(s->worker, NULL);
    s->worker_started = 0;
    pthread_mutex_lock(&s->lock);
    /* Jobs on their own threads (downloads): ask them to stop, wait for them. */
    for (srv_job *j = s->jobs; j; j = j->table_next)
        if (!finished(j)) __atomic_store_n(&j->cancel, 1, __ATOMIC_RELAXED);
    while (s->side_running > 0) pthread_cond_wait(&s->job_done_cond, &s->lock);
    while (s->jobs) {
        srv_job *j = s->jobs;
        s->jobs = j->table_next;
        job_unref_locked(j);
    }
    pthread_mutex_unlock(&s->lock);
}

void srv_timing_record(i4_server *s, const i4_result *res) {
    if (!res || res->steps <= 0 || res->width <= 0 || res->height <= 0) return;
    pthread_mutex_lock(&s->lock);
    s->timing_step_seconds = res->seconds_sample / res->steps;
    s->timing_encode_seconds = res->seconds_encode;
    s->timing_decode_seconds = res->seconds_decode;
    s->timing_w = res->width;
    s->timing_h = res->height;
    pthread_mutex_unlock(&s->lock);
}

json_t *srv_timing_json_locked(i4_server *s) {
    if (s->timing_w <= 0) return json_null();
    return json_pack("{s:f,s:i,s:i,s:f,s:f}", "step_seconds", s->timing_step_seconds, "width", s->timing_w, "height",
                     s->timing_h, "encode_seconds", s->timing_encode_seconds, "decode_seconds",
                     s->timing_decode_seconds);
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
    i4_log(&s->log, rc == 0 ? I4_LOG_INFO : I4_LOG_WARN, "model", "warm-up %dx%d, %d steps: %s (%.2fs)", gp.width,
           gp.height, gp.steps, rc == 0 ? "done" : i4_last_error(), i4_now_seconds() - t0);
    return rc;
}
