/*
 * server_internal.h — state shared by the server's files.
 *
 * Layers, outside in:
 *   mhd.c       libmicrohttpd glue: connections (limits, per-IP counts,
 *               header/body deadlines), body buffering, deferred replies.
 *   dispatch.c  the request policy (URL, Host, token, Origin, Content-Type,
 *               body limits) and the route table. No libmicrohttpd here, so a
 *               request can be handed to it without a socket (fuzzing).
 *   *_routes.c  JSON in, job specs or store calls, JSON out.
 *   jobs.c      the job queue and the one worker thread that owns the
 *               pipeline: load, unload, LoRA apply/remove (each ending with
 *               the warm-up) and generation are jobs run in FIFO order.
 *
 * Locking: `lock` guards the job table and queue, the model state fields and
 * the applied LoRA list. Only the worker touches `pipe` (and frees it, after
 * clearing the pointer under `lock`). No lock is held while model work runs.
 */
#ifndef I4_SERVER_INTERNAL_H
#define I4_SERVER_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "base/log.h"
#include "base/rng.h"
#include "ideogram4.h"
#include "server/magic_prompt.h"
#include "server/server.h"
#include "server/store.h"

#define I4_SERVER_JOB_KEEP_SECONDS 3600.0       /* finished jobs stay visible this long */
#define I4_SERVER_JOB_KEEP_COUNT 256            /* ... and at most this many of them */
#define I4_SERVER_BODY_LIMIT (1u << 20)          /* 1 MB */
#define I4_SERVER_BODY_LIMIT_IMAGES (16u << 20)  /* 16 MB: magic prompt with images */
#define SRV_MAX_BATCH 8                          /* images per generation request (n) */
#define SRV_DEFAULT_REPO "ideogram-ai/ideogram-4-fp8" /* when IDEOGRAM4_MODEL_REPO is not set */

enum { MODEL_IDLE, MODEL_LOADING, MODEL_LOADED, MODEL_ERROR };
enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_ERROR, JOB_CANCELLED };

typedef struct srv_job srv_job;

/* What a kind of job does; the spec it carries is its own struct. */
typedef struct {
    const char *kind;                        /* "generate", "lora", "load", "unload" */
    void (*run)(i4_server *s, srv_job *j);   /* on the worker; must end with srv_job_finish */
    void (*free_spec)(void *spec);
} srv_job_type;

struct srv_job {
    const srv_job_type *type;
    void *spec;            /* owned, type-specific (generation settings, LoRA stack) */
    json_t *result;        /* set by the job when it finishes (image row, LoRA result) */
    char id[33];
    int status;            /* JOB_*, under lock */
    int cancel;            /* atomic: set by cancel and at stop */
    int refs;              /* table + queue + worker; freed at 0 */
    char msg[512];
    const char *phase;     /* static string */
    int step, total_steps, progress;
    double created, started, sample_started, phase_started, done_at; /* i4_now_seconds() */
    srv_job *queue_next;
    srv_job *table_next;
    i4_server *server;     /* set for jobs on their own thread */
};

/* One HTTP reply as the routes build it; mhd.c turns it into a response and
 * adds the CORS and nosniff headers. */
#define SRV_MAX_HEADERS 6
typedef struct {
    unsigned status;       /* 0 = nothing queued yet */
    char *body;            /* malloc'd */
    size_t len;
    int fd;                /* file body when >= 0 (then body is NULL) */
    uint64_t fd_size;
    const char *content_type;
    const char *header_names[SRV_MAX_HEADERS];
    char *header_values[SRV_MAX_HEADERS]; /* malloc'd */
    int n_headers;
} srv_resp;

enum { SRV_HEADER, SRV_QUERY, SRV_COOKIE };
typedef const char *(*srv_lookup_fn)(void *src, int kind, const char *key);

typedef struct srv_req srv_req;
/* A reply computed off the event loop (an LLM call, a wait for a job): runs
 * on its own thread and fills out->resp. */
typedef void (*srv_deferred_fn)(i4_server *s, void *arg, srv_req *out);

struct srv_req {
    i4_server *s;
    const char *method, *url;
    const char *body;
    size_t body_len;
    srv_lookup_fn lookup;  /* headers, query arguments, cookies; NULL in deferred replies */
    void *lookup_src;
    srv_resp resp;
    srv_deferred_fn deferred;
    void *deferred_arg;
    void (*deferred_free)(void *arg);
    int holds_magic_slot;  /* this request counts against magic_concurrency */
    int openai;            /* under /v1/: errors in OpenAI's shape (http.c) */
};

struct i4_server {
    i4_server_options opt;
    char output_dir[4096];
    char webui_dir[4096];  /* "" when no built UI was found */
    char lora_dir[4096];   /* realpath of the LoRA folder, "" when missing */
    i4_logger log;
    i4_store *store;
    i4_magic_prompt_config mp;
    int mp_config_ok;
    char mp_config_error[512];
    void *http;            /* mhd.c state */
    int port;

    pthread_mutex_t lock;
    /* model (under lock; pipe written by the worker only) */
    i4_pipeline *pipe;
    int model_state;
    char model_msg[600];
    char model_weights[4096];
    char model_backend[128]; /* "cpu (avx512, 2 threads)" once loaded */
    int preview_fit_logged;  /* the worker logged this model's preview fit (worker thread only) */
    int load_progress;
    double rss_before_unload_mb, rss_after_unload_mb; /* < 0 until an unload */
    json_t *applied_loras; /* [{"name","strength","format"}] */
    double last_decode_seconds;
    /* The last generated image's run, measured on this machine: seconds per
     * sampling step at timing_w x timing_h, and its encode and decode
     * seconds; timing_w = 0 when none since the load. (The warm-up is not
     * used: 64x64 and cold, it overstates a full-size step many times.) */
    double timing_step_seconds, timing_encode_seconds, timing_decode_seconds;
    int timing_w, timing_h;

    /* jobs (under lock) */
    srv_job *jobs;         /* table, newest first */
    srv_job *queue_head, *queue_tail;
    srv_job *running;
    int waiting_generations;
    pthread_cond_t queue_cond, job_done_cond;
    pthread_t worker;
    int worker_started;
    int side_running;      /* jobs running on their own threads (downloads) */
    int stopping;
    int magic_running;     /* requests holding a magic-prompt slot */
    i4_rng rng;
};

/* ---- dispatch.c: the request layer */
/* Checks made once the headers are in, before any body byte is buffered:
 * 0 = go on (*limit = the route's body limit, *magic = counts against the
 * magic-prompt cap), else r->resp holds the rejection. content_length < 0
 * when unknown (chunked). */
int srv_precheck(srv_req *r, long long content_length, int expect_continue, size_t *limit, int *magic);
/* Route a request whose body is complete; fills r->resp or r->deferred. */
void srv_dispatch(srv_req *r);
/* Release what a request's reply holds. */
void srv_resp_clear(srv_resp *resp);

/* ---- http.c: replies and request helpers */
int srv_json(srv_req *r, unsigned status, json_t *body); /* steals body */
int srv_error(srv_req *r, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* FastAPI-style 422 with an "error" string too. */
int srv_invalid(srv_req *r, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int srv_method_not_allowed(srv_req *r, const char *allowed);
/* {"error": {"message", "type", "param", "code"}} as OpenAI's API answers. */
int srv_openai_error(srv_req *r, unsigned status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int srv_add_header(srv_req *r, const char *name, const char *value);
/* Parse the body as a JSON object; on failure sets the 422 and returns NULL. */
json_t *srv_body_object(srv_req *r, int empty_ok);
const char *srv_lookup(srv_req *r, int kind, const char *key);
/* A path segment as a positive id; 0 when not one. */
int64_t srv_parse_id(const char *text);
/* A file of dir by bare name, opened without following a symlink. */
int srv_file_in(srv_req *r, const char *dir, const char *name, const char *content_type, int immutable);
int srv_static(srv_req *r);
int srv_cors_preflight(srv_req *r);
const char *srv_allowed_origin(i4_server *s, const char *origin);
int srv_authorized(srv_req *r);
int srv_secret_equal(const char *a, const char *b);
const char *srv_image_content_type(const char *name);
/* Run fn on its own thread and reply with what it writes (mhd.c). */
void srv_defer(srv_req *r, srv_deferred_fn fn, void *arg, void (*free_arg)(void *));

/* ---- jobs.c */
srv_job *srv_job_new(const srv_job_type *type, void *spec);
void srv_job_discard(srv_job *j); /* a job that was never submitted */
/* Queue a job (under lock). -1 with why set when the server stops. The job's
 * id is written into id_out (33 bytes). */
int srv_job_submit_locked(i4_server *s, srv_job *j, char *id_out);
/* Run a job on its own thread, outside the queue (downloads, which never
 * touch the pipeline). Same table, progress and cancel flag; -1 when the
 * server stops or no thread can be started (the job is then not in the
 * table: discard it). */
int srv_job_start_thread_locked(i4_server *s, srv_job *j, char *id_out);
srv_job *srv_job_find_locked(i4_server *s, const char *id, const srv_job_type *type);
/* A job of this type that is queued or running (under lock), else NULL. */
srv_job *srv_job_pending_locked(i4_server *s, const srv_job_type *type);
/* Cancel: 0 done (queued: removed at once; running: asked to stop),
 * 1 already finished, -1 not found. */
int srv_job_cancel(i4_server *s, const char *id, const srv_job_type *type);
/* Jobs ahead of j (the running one included); j must be queued. */
int srv_job_position_locked(i4_server *s, const srv_job *j);
/* Progress from the worker: phase, progress percent and a message. */
void srv_job_update(i4_server *s, srv_job *j, const char *phase, int progress, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void srv_job_finish(i4_server *s, srv_job *j, int status, json_t *result, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int srv_job_should_stop(i4_server *s, srv_job *j);
/* Wait until the job finishes or timeout seconds pass: 1 finished, 0 not. */
int srv_job_wait(i4_server *s, const char *id, double timeout);
int srv_jobs_start(i4_server *s);
void srv_jobs_stop(i4_server *s);
const char *srv_job_status_name(int status);
void srv_random_hex(i4_server *s, char *out, int n); /* under lock */
double srv_rss_mb(void);
/* A throw-away generation after load and LoRA changes (docs/APP.md §5.3). */
int srv_warmup(i4_server *s, i4_pipeline *p);
/* Record a generated image's per-step timing (takes the lock); the model status reports it. */
void srv_timing_record(i4_server *s, const i4_result *res);
/* The last recorded timing as JSON ({step_seconds, width, height, encode_seconds, decode_seconds})
 * or null; under lock. */
json_t *srv_timing_json_locked(i4_server *s);

/* ---- route files */
void srv_route_model(srv_req *r, const char *path);
void srv_route_generate(srv_req *r, const char *path);
void srv_route_history(srv_req *r, const char *path);
void srv_route_lora(srv_req *r, const char *path);
void srv_route_magic(srv_req *r, const char *path);
/* POST /api/model/download, GET /api/model/download/{id}, POST .../{id}/cancel */
void srv_route_model_download(srv_req *r, const char *path);
/* The latest model download as the model status shows it (under lock); NULL when none. */
json_t *srv_model_download_json_locked(i4_server *s);
/* GET /api/lora/presets, POST /api/lora/download, GET /api/lora/download/{id} */
void srv_route_lora_presets(srv_req *r, const char *path);
/* 0 when name is a regular file of the LoRA folder (not a link out of it);
 * else -1 with the reason for a client in why. */
int srv_lora_file_ok(i4_server *s, const char *name, char *path, size_t path_size, char *why, size_t why_size);
/* Queue a model load (autoload at start and POST /api/model/load). */
int srv_model_submit_load(i4_server *s, char *id_out);
/* "a + b" of a LoRA stack's names ([{"name", ...}], malloc'd); NULL when
 * out of memory. */
char *srv_lora_label(json_t *stack);
/* A generation request another route validated (the OpenAI endpoint). */
typedef struct {
    json_t *caption;       /* a JSON object (borrowed) */
    int width, height;
    const char *preset;
    int steps;             /* 0 = the preset's */
    uint64_t seed;
    int count;             /* 1..SRV_MAX_BATCH */
    i4_image_format format;
} srv_gen_request;
/* Queue it: 0 with its task id (33 bytes) and queue position; else the reply
 * is set (400 caption too big, 409 queue full, 503 stopping). */
int srv_generation_submit(srv_req *r, const srv_gen_request *q, char *id, int *position);
/* How a generation job stands: JOB_* status, its message, a copy of the
 * image rows made so far (each with "id", "file_name", "seed", "url"). -1
 * when the job is unknown. */
int srv_generation_result(i4_server *s, const char *id, int *status, char *msg, size_t msg_size, json_t **images);
void srv_route_openai(srv_req *r, const char *path);
extern const srv_job_type srv_generate_job, srv_lora_job, srv_load_job, srv_unload_job;
extern const srv_job_type srv_model_download_job, srv_lora_download_job;
/* Delete a file of the output folder by its stored name, confined to it. */
void srv_delete_output_file(i4_server *s, const char *stored_name);

/* ---- server.c: everything of i4_server_start but the HTTP listener (the
 * route fuzzer drives a server made this way); i4_server_stop ends both. */
int srv_open(i4_server **out, const i4_server_options *opt);

/* ---- mhd.c */
int srv_http_start(i4_server *s, const char *host);
void srv_http_stop(i4_server *s);

#endif
