/*
 * server_internal.h — state shared by the server's route files.
 *
 * Locks (APP.md §3.2):
 *   - `op` serialises everything that touches the model (load, unload, LoRA
 *     apply/remove, generation). It carries a label and start time for the
 *     busy messages. Workers wait for it; HTTP handlers only try it.
 *   - `lock` guards the task table, the generation queue and the model
 *     state fields (state, message, LoRA stack). Never held while waiting for
 *     `op` or while running model work.
 * Generation tasks go through a FIFO consumed by one worker thread; with
 * queue_size 0 the FIFO never holds more than the running job (409 when
 * busy). LoRA operations run on their own short-lived thread, one at a time.
 */
#ifndef I4_SERVER_INTERNAL_H
#define I4_SERVER_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>

#include "base/log.h"
#include "base/rng.h"
#include "pipeline/image.h"
#include "server/magic_prompt.h"
#include "server/server.h"
#include "server/store.h"

#define I4_SERVER_MAX_TASKS 256
#define I4_SERVER_TASK_KEEP_SECONDS 3600.0
#define I4_SERVER_BODY_LIMIT (1u << 20)          /* 1 MB */
#define I4_SERVER_BODY_LIMIT_IMAGES (16u << 20)  /* 16 MB: magic prompt with images */

enum { MODEL_IDLE, MODEL_LOADING, MODEL_LOADED, MODEL_ERROR };
enum { TASK_QUEUED, TASK_RUNNING, TASK_DONE, TASK_ERROR, TASK_CANCELLED };
enum { TASK_GENERATE, TASK_LORA };

typedef struct srv_task {
    struct i4_server *server;
    int kind;
    char id[33];
    int status;            /* TASK_* */
    int cancel;            /* set by the cancel route (atomic) */
    char msg[512];
    const char *phase;     /* static string */
    int step, total_steps, progress;
    double created, started, sample_started, phase_started, done_at; /* i4_now_seconds() */
    /* generation */
    char *caption;
    char hld[512];
    int width, height;
    char preset[32];
    uint64_t seed;
    i4_image_format format;
    int64_t prompt_id;     /* <= 0 = null */
    json_t *image;         /* result object once done */
    double generation_seconds;
    /* LoRA: [{"name", "strength"}] to apply, or NULL to remove */
    json_t *loras;
    json_t *result;        /* {"ok", "msg", "applied_loras"?} */
    struct srv_task *queue_next;
} srv_task;

struct i4_server {
    i4_server_options opt;
    char output_dir[4096];
    char webui_dir[4096];  /* "" when no built UI was found */
    i4_logger log;
    i4_store *store;
    i4_magic_prompt_config mp;
    int mp_config_ok;
    char mp_config_error[512];
    struct MHD_Daemon *daemon;
    int port;

    pthread_mutex_t lock;
    pthread_mutex_t op;
    char op_label[64];     /* under lock; "" when op is free */
    double op_since;

    /* model (under lock) */
    i4_pipeline *pipe;
    int model_state;
    char model_msg[600];
    int load_progress;
    double rss_before_unload_mb, rss_after_unload_mb; /* < 0 until an unload */
    json_t *applied_loras; /* [{"name","strength","format"}] */
    double last_decode_seconds;

    /* tasks (under lock) */
    srv_task *tasks[I4_SERVER_MAX_TASKS];
    srv_task *queue_head, *queue_tail;
    int queued, generating, lora_busy;
    pthread_cond_t queue_cond;
    pthread_t gen_thread;
    int stopping;
    int lora_threads;      /* running LoRA threads, joined at stop */
    pthread_cond_t lora_cond;
    i4_rng rng;
};

/* One HTTP request as the route functions see it. */
typedef struct {
    i4_server *s;
    struct MHD_Connection *conn;
    const char *method, *url;
    const char *body;
    size_t body_len;
    unsigned status;       /* set when a response is queued (for the log) */
} srv_req;

/* ---- http.c: responses and request helpers */
enum MHD_Result srv_send(srv_req *r, unsigned status, struct MHD_Response *resp);
enum MHD_Result srv_json(srv_req *r, unsigned status, json_t *body); /* steals body */
enum MHD_Result srv_error(srv_req *r, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* FastAPI-style 422 with an "error" string too. */
enum MHD_Result srv_invalid(srv_req *r, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
enum MHD_Result srv_method_not_allowed(srv_req *r, const char *allowed);
/* Parse the body as a JSON object; on failure queues the 422 and returns NULL
 * with *sent set. An empty body counts as {} when empty_ok. */
json_t *srv_body_object(srv_req *r, int empty_ok, enum MHD_Result *sent);
/* A path segment as a positive id; 0 when not one. */
int64_t srv_parse_id(const char *text);
enum MHD_Result srv_file(srv_req *r, const char *path, const char *content_type, int immutable);
enum MHD_Result srv_static(srv_req *r);
int srv_cors_preflight(srv_req *r, enum MHD_Result *sent);
int srv_authorized(srv_req *r);
const char *srv_image_content_type(const char *name);

/* ---- server.c: shared helpers */
void srv_random_hex(i4_server *s, char *out, int n); /* under lock */
double srv_rss_mb(void);
/* Take `op` without waiting (0) or fail (-1) with the busy message in msg. */
int srv_op_try(i4_server *s, const char *label, char *msg, size_t size);
/* Wait for `op`, updating t->msg to "Waiting for <label> (Ns)... (Ws)";
 * returns -1 when the task was cancelled or the server stops while waiting. */
int srv_op_wait(i4_server *s, const char *label, srv_task *t);
void srv_op_release(i4_server *s);
/* Register a task in the table (under lock); evicts the oldest finished task
 * when full. -1 when every slot holds an unfinished task. */
int srv_task_add_locked(i4_server *s, srv_task *t);
srv_task *srv_task_find_locked(i4_server *s, const char *id, int kind);
void srv_task_purge_locked(i4_server *s);
void srv_task_free(srv_task *t);
/* A throw-away generation after load and LoRA changes (APP.md §5.3). */
int srv_warmup(i4_server *s, i4_pipeline *p);

/* ---- route files */
enum MHD_Result srv_route_model(srv_req *r, const char *path);
enum MHD_Result srv_route_generate(srv_req *r, const char *path);
enum MHD_Result srv_route_history(srv_req *r, const char *path);
enum MHD_Result srv_route_lora(srv_req *r, const char *path);
enum MHD_Result srv_route_magic(srv_req *r, const char *path);
void srv_model_start_load(i4_server *s);
void *srv_generation_worker(void *arg);
/* Delete a file of the output folder by its stored name, confined to it. */
void srv_delete_output_file(i4_server *s, const char *stored_name);

#endif
