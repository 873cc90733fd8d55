/*
 * server.h — the HTTP API server (docs/APP.md §3–§7) around one pipeline.
 *
 * Options come from the environment (docs/APP.md §10.1; a `.env` file in the
 * working directory is read first by i4_dotenv_load) and then from the
 * `serve` flags. Strings are borrowed: they must outlive the server.
 */
#ifndef I4_SERVER_H
#define I4_SERVER_H

#include "ideogram4.h"

typedef struct {
    const char *host;          /* IPv4 address; IDEOGRAM4_SERVER_HOST, default 127.0.0.1 */
    int port;                  /* IDEOGRAM4_SERVER_PORT, default 8000 */
    const char *model_dir;     /* snapshot folder (demo: the tiny model); NULL = resolve repo */
    const char *repo;          /* IDEOGRAM4_MODEL_REPO */
    const char *revision;      /* IDEOGRAM4_MODEL_REVISION: what POST /api/model/download fetches (NULL = main) */
    i4_precision precision;
    const char *backend;       /* IDEOGRAM4_BACKEND: auto | cpu | vulkan (default auto) */
    const char *device;        /* IDEOGRAM4_DEVICE: Vulkan device index (--device; NULL = auto) */
    int offload;               /* IDEOGRAM4_OFFLOAD=1 (--offload): stream transformer layers that do not fit */
    int threads;               /* CPU backend threads (--threads; 0 = online CPUs) */
    int demo;                  /* the built-in tiny model */
    const char *output_dir;    /* IDEOGRAM4_OUTPUT_DIR, default server/output */
    const char *db_path;       /* IDEOGRAM4_DB_PATH, default server/data/ideogram4.db */
    const char *lora_dir;      /* IDEOGRAM4_LORA_DIR, default models/loras */
    const char *log_dir;       /* IDEOGRAM4_LOG_DIR, default logs ("none" = no file) */
    int log_level;             /* i4_log_level; IDEOGRAM4_SERVER_LOG_LEVEL, default info */
    const char *webui_dir;     /* IDEOGRAM4_WEBUI_DIR; NULL = webui/dist here or next to the binary */
    const char *api_token;     /* IDEOGRAM4_API_TOKEN; required when host is not loopback */
    const char *cors_origins;  /* IDEOGRAM4_CORS_ORIGINS, comma-separated */
    int cors_credentials;      /* IDEOGRAM4_CORS_ALLOW_CREDENTIALS */
    const char *default_preset;/* IDEOGRAM4_DEFAULT_PRESET */
    const char *default_format;/* IDEOGRAM4_DEFAULT_FORMAT */
    long long default_seed;    /* IDEOGRAM4_DEFAULT_SEED */
    int quality_webp, quality_jpeg;
    int min_size, max_size, size_multiple;
    long max_caption_bytes, max_form_bytes;
    double lora_strength;      /* IDEOGRAM4_LORA_STRENGTH: default strength */
    int warmup_size, warmup_steps; /* IDEOGRAM4_WARMUP_*; steps 0 = no warm-up */
    int query_limit;           /* IDEOGRAM4_DB_QUERY_LIMIT */
    int queue_size;            /* IDEOGRAM4_QUEUE_SIZE (default 16): generations that may wait behind the
                                  running job; 409 when full. 0 = one slot (409 whenever a job is pending) */
    int autoload;              /* IDEOGRAM4_AUTOLOAD: start loading the model at start */
    /* Request and connection limits (see README "Security"). */
    const char *allowed_hosts; /* IDEOGRAM4_ALLOWED_HOSTS: extra Host names accepted on a loopback bind */
    int max_connections;       /* IDEOGRAM4_MAX_CONNECTIONS (default 4000; capped by the fd limit) */
    int per_ip_connections;    /* IDEOGRAM4_PER_IP_CONNECTIONS (default 64; loopback peers exempt) */
    int http_threads;          /* IDEOGRAM4_HTTP_THREADS (default 4): event-loop threads */
    int header_timeout;        /* IDEOGRAM4_HEADER_TIMEOUT seconds (default 30): request line + headers */
    int body_timeout;          /* IDEOGRAM4_BODY_TIMEOUT seconds (default 120): the whole body */
    long long max_inflight_bytes; /* IDEOGRAM4_MAX_INFLIGHT_BODY_BYTES (default 64 MiB): bodies buffered at once */
    int magic_concurrency;     /* IDEOGRAM4_MAGIC_PROMPT_CONCURRENCY (default 2): magic prompts at once */
} i4_server_options;

/* Defaults of docs/APP.md §10.1, then every IDEOGRAM4_* variable that is set.
 * Returns -1 (i4_last_error names the variable) on a malformed value. */
int i4_server_options_from_env(i4_server_options *o);

/* Read KEY=VALUE lines of a .env file into the environment without
 * overriding variables already set (comments, blank lines, `export `
 * prefixes and single/double quotes handled). A missing file is not an
 * error (returns 0); a malformed line is (-1, naming file and line). */
int i4_dotenv_load(const char *path);

/* 1 for 127.0.0.0/8 and "localhost". */
int i4_host_is_loopback(const char *host);

typedef struct i4_server i4_server;

/* Opens the database, cleans orphan files, binds and starts serving (and
 * loading the model when autoload is set). */
int i4_server_start(i4_server **out, const i4_server_options *opt);
/* The port actually bound (useful with port 0). */
int i4_server_port(const i4_server *s);
void i4_server_stop(i4_server *s);

#endif
