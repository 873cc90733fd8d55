/*
 * mhd.c — the libmicrohttpd glue: event loop, connection limits, deadlines,
 * body buffering and deferred replies.
 *
 * The daemon runs epoll event loops on a small thread pool (no select, so no
 * 1024-fd ceiling, and no thread per connection). Handlers never block: model
 * work is a job (jobs.c) and the few replies that wait on something slow (an
 * LLM call, an unload behind a running job) are deferred — the connection is
 * suspended, a thread computes the reply, the connection resumes.
 *
 * Defences against slow and greedy clients:
 *   - a global connection limit sized to the open-file limit, and a per-IP
 *     limit for peers that are not loopback (on a loopback bind every client
 *     is 127.0.0.1, so a per-IP limit there would be a global one);
 *   - deadlines: the request line and headers must arrive within
 *     header_timeout seconds (also the longest a kept-alive connection may
 *     sit idle) and the body within body_timeout, however slowly the bytes
 *     trickle; a sweeper thread shuts such sockets down;
 *   - dispatch.c's checks (token, Origin, Content-Type, size) run on the
 *     headers, before any body byte is buffered;
 *   - the bytes of bodies buffered at once are capped (503 beyond), as are
 *     concurrent magic prompts (429) and deferred replies (503).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "server/server_internal.h"

#define MAX_DEFERRED 64   /* reply threads at once */
#define FD_RESERVE 64     /* descriptors kept for files, the database, logs */

enum { PHASE_HEADERS, PHASE_BODY, PHASE_BUSY };

/* One TCP connection (libmicrohttpd's socket context). */
typedef struct conn_track {
    int fd;
    int phase;
    double since;          /* when the current phase began */
    uint32_t peer;         /* IPv4, network order */
    int loopback;
    int shut;              /* the sweeper already shut it down */
    struct conn_track *prev, *next;
} conn_track;

typedef struct {
    uint32_t ip;
    int count;
} ip_count;

typedef struct {
    struct MHD_Daemon *daemon;
    pthread_mutex_t lock;  /* everything below */
    conn_track *conns;
    int n_conns;
    ip_count *ips;         /* non-loopback peers with open connections */
    size_t n_ips, cap_ips;
    long long inflight;    /* body bytes reserved */
    int deferred;          /* reply threads running */
    pthread_cond_t cond;   /* sweeper sleep; deferred threads ending */
    int stop;
    pthread_t sweeper;
    int sweeper_started;
    int connection_limit;
} srv_http;

/* One request (libmicrohttpd's con_cls). */
typedef struct {
    srv_req req;
    struct MHD_Connection *conn;
    char *body;
    size_t len, limit;
    long long reserved;
    int answered;          /* req.resp holds the reply to send at the final call */
    int deferred;          /* 1 running, 2 reply ready */
    double started;
} req_ctx;

static srv_http *http_of(i4_server *s) { return s->http; }

/* ------------------------------------------------------------ per-IP counts */

static ip_count *ip_find_locked(srv_http *h, uint32_t ip) {
    for (size_t i = 0; i < h->n_ips; i++)
        if (h->ips[i].ip == ip) return &h->ips[i];
    return NULL;
}

static void ip_add_locked(srv_http *h, uint32_t ip, int delta) {
    ip_count *c = ip_find_locked(h, ip);
    if (!c && delta > 0) {
        if (h->n_ips == h->cap_ips) {
            size_t cap = h->cap_ips ? h->cap_ips * 2 : 64;
            ip_count *grown = realloc(h->ips, cap * sizeof *grown);
            if (!grown) return;
            h->ips = grown;
            h->cap_ips = cap;
        }
        c = &h->ips[h->n_ips++];
        c->ip = ip;
        c->count = 0;
    }
    if (!c) return;
    c->count += delta;
    if (c->count <= 0) *c = h->ips[--h->n_ips];
}

static int is_loopback_addr(uint32_t ip_network_order) { return (ntohl(ip_network_order) >> 24) == 127; }

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
    i4_server *s = cls;
    srv_http *h = http_of(s);
    if (addr->sa_family != AF_INET || addrlen < (socklen_t)sizeof(struct sockaddr_in)) return MHD_YES;
    uint32_t ip = ((const struct sockaddr_in *)addr)->sin_addr.s_addr;
    if (is_loopback_addr(ip)) return MHD_YES;
    pthread_mutex_lock(&h->lock);
    ip_count *c = ip_find_locked(h, ip);
    int ok = !c || c->count < s->opt.per_ip_connections;
    pthread_mutex_unlock(&h->lock);
    return ok ? MHD_YES : MHD_NO;
}

/* ------------------------------------------------------------ connections */

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode code) {
    i4_server *s = cls;
    srv_http *h = http_of(s);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_track *t = calloc(1, sizeof *t);
        if (!t) return;
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *addr = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        t->fd = fd ? fd->connect_fd : -1;
        t->phase = PHASE_HEADERS;
        t->since = i4_now_seconds();
        if (addr && addr->client_addr && addr->client_addr->sa_family == AF_INET)
            t->peer = ((const struct sockaddr_in *)addr->client_addr)->sin_addr.s_addr;
        t->loopback = is_loopback_addr(t->peer);
        pthread_mutex_lock(&h->lock);
        t->next = h->conns;
        if (h->conns) h->conns->prev = t;
        h->conns = t;
        h->n_conns++;
        if (!t->loopback) ip_add_locked(h, t->peer, 1);
        pthread_mutex_unlock(&h->lock);
        *socket_context = t;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_track *t = *socket_context;
        if (!t) return;
        /* libmicrohttpd closes the socket after this returns: once the entry
         * is off the list the sweeper can no longer touch the descriptor. */
        pthread_mutex_lock(&h->lock);
        if (t->prev) t->prev->next = t->next;
        else h->conns = t->next;
        if (t->next) t->next->prev = t->prev;
        h->n_conns--;
        if (!t->loopback) ip_add_locked(h, t->peer, -1);
        pthread_mutex_unlock(&h->lock);
        free(t);
        *socket_context = NULL;
    }
}

static conn_track *track_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void set_phase(srv_http *h, struct MHD_Connection *c, int phase) {
    conn_track *t = track_of(c);
    if (!t) return;
    pthread_mutex_lock(&h->lock);
    t->phase = phase;
    t->since = i4_now_seconds();
    pthread_mutex_unlock(&h->lock);
}

static void *sweeper_main(void *arg) {
    i4_server *s = arg;
    srv_http *h = http_of(s);
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&h->cond, &h->lock, &until);
        double now = i4_now_seconds();
        int closed = 0;
        for (conn_track *t = h->conns; t; t = t->next) {
            double limit = t->phase == PHASE_HEADERS ? s->opt.header_timeout
                           : t->phase == PHASE_BODY  ? s->opt.body_timeout
                                                     : -1;
            if (limit < 0 || t->shut || now - t->since <= limit || t->fd < 0) continue;
            shutdown(t->fd, SHUT_RDWR); /* the event loop sees the close and cleans up */
            t->shut = 1;
            closed++;
        }
        if (closed)
            i4_log(&s->log, I4_LOG_INFO, "http", "closed %d connection(s) past the header/body deadline", closed);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* ------------------------------------------------------------ requests */

static const char *mhd_lookup(void *src, int kind, const char *key) {
    enum MHD_ValueKind k = kind == SRV_HEADER ? MHD_HEADER_KIND : kind == SRV_QUERY ? MHD_GET_ARGUMENT_KIND : MHD_COOKIE_KIND;
    return MHD_lookup_connection_value(src, k, key);
}

/* Reserve n more bytes of the in-flight body budget. */
static int reserve(i4_server *s, req_ctx *ctx, long long n) {
    srv_http *h = http_of(s);
    pthread_mutex_lock(&h->lock);
    int ok = h->inflight + n <= s->opt.max_inflight_bytes;
    if (ok) {
        h->inflight += n;
        ctx->reserved += n;
    }
    pthread_mutex_unlock(&h->lock);
    return ok ? 0 : -1;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 32) >= 'a' && (c | 32) <= 'f') return (c | 32) - 'a' + 10;
    return -1;
}

static size_t unescape(void *cls, struct MHD_Connection *c, char *text) {
    (void)cls, (void)c;
    /* Percent-decoding in place; a %00 becomes 0x7f (DEL) instead of ending
     * the C string early, so the checks see it and answer 400. */
    char *o = text;
    for (const char *p = text; *p;) {
        int hi = p[0] == '%' ? hex_value(p[1]) : -1;
        int lo = hi >= 0 ? hex_value(p[2]) : -1;
        if (lo >= 0) {
            int v = hi * 16 + lo;
            *o++ = (char)(v ? v : 0x7f);
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return (size_t)(o - text);
}

static enum MHD_Result find_control(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    int *found = cls;
    for (const char *p = key; p && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) *found = 1;
    for (const char *p = value; p && *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) *found = 1;
    return *found ? MHD_NO : MHD_YES;
}

static enum MHD_Result send_reply(i4_server *s, req_ctx *ctx) {
    srv_req *r = &ctx->req;
    srv_resp *resp = &r->resp;
    if (!resp->status) srv_error(r, 500, "internal error: no reply");
    struct MHD_Response *mr;
    if (resp->fd >= 0) {
        mr = MHD_create_response_from_fd(resp->fd_size, resp->fd);
        if (mr) resp->fd = -1; /* libmicrohttpd closes it */
    } else if (resp->body) {
        mr = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE);
        if (mr) resp->body = NULL;
    } else {
        mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!mr) return MHD_NO;
    if (resp->content_type) MHD_add_response_header(mr, "Content-Type", resp->content_type);
    for (int i = 0; i < resp->n_headers; i++) MHD_add_response_header(mr, resp->header_names[i], resp->header_values[i]);
    const char *origin = srv_allowed_origin(s, MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, "Origin"));
    if (origin) {
        MHD_add_response_header(mr, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(mr, "Vary", "Origin");
        if (s->opt.cors_credentials) MHD_add_response_header(mr, "Access-Control-Allow-Credentials", "true");
    }
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(ctx->conn, resp->status, mr);
    MHD_destroy_response(mr);
    const char *url = r->url;
    i4_log(&s->log,
           strncmp(url, "/api/status/", 12) && strncmp(url, "/api/lora/operation/", 20) ? I4_LOG_INFO : I4_LOG_DEBUG,
           "http", "%s %s -> %u (%.1fms)", r->method, url, resp->status, (i4_now_seconds() - ctx->started) * 1e3);
    set_phase(http_of(s), ctx->conn, PHASE_BUSY);
    return ret;
}

typedef struct {
    i4_server *s;
    req_ctx *ctx;
    srv_deferred_fn fn;
    void *arg;
    void (*free_arg)(void *);
} deferred_run;

static void *deferred_main(void *p) {
    deferred_run *d = p;
    i4_server *s = d->s;
    srv_http *h = http_of(s);
    srv_req out = {.s = s, .method = d->ctx->req.method, .url = d->ctx->req.url};
    out.resp.fd = -1;
    d->fn(s, d->arg, &out);
    if (d->free_arg) d->free_arg(d->arg);
    req_ctx *ctx = d->ctx;
    srv_resp_clear(&ctx->req.resp);
    ctx->req.resp = out.resp;
    ctx->deferred = 2;
    struct MHD_Connection *conn = ctx->conn;
    free(d);
    /* From here on ctx belongs to libmicrohttpd again. */
    MHD_resume_connection(conn);
    pthread_mutex_lock(&h->lock);
    h->deferred--;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

void srv_defer(srv_req *r, srv_deferred_fn fn, void *arg, void (*free_arg)(void *)) {
    r->deferred = fn;
    r->deferred_arg = arg;
    r->deferred_free = free_arg;
}

/* Start the deferred reply of ctx: 0 started (connection suspended), -1 not
 * (ctx->req.resp then holds a 503). */
static int start_deferred(i4_server *s, req_ctx *ctx) {
    srv_http *h = http_of(s);
    srv_req *r = &ctx->req;
    deferred_run *d = calloc(1, sizeof *d);
    pthread_mutex_lock(&h->lock);
    int ok = d && !h->stop && h->deferred < MAX_DEFERRED;
    if (ok) h->deferred++;
    pthread_mutex_unlock(&h->lock);
    if (ok) {
        *d = (deferred_run){s, ctx, r->deferred, r->deferred_arg, r->deferred_free};
        ctx->deferred = 1;
        MHD_suspend_connection(ctx->conn);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        ok = pthread_create(&t, &attr, deferred_main, d) == 0;
        pthread_attr_destroy(&attr);
        if (ok) return 0;
        MHD_resume_connection(ctx->conn);
        ctx->deferred = 0;
        pthread_mutex_lock(&h->lock);
        h->deferred--;
        pthread_mutex_unlock(&h->lock);
    }
    free(d);
    if (r->deferred_free) r->deferred_free(r->deferred_arg);
    srv_error(r, 503, "the server is busy; try again shortly");
    return -1;
}

static long long content_length_of(struct MHD_Connection *c) {
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    if (te && strcasecmp(te, "identity")) return -1;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (!cl) return 0;
    char *end;
    errno = 0;
    long long n = strtoll(cl, &end, 10);
    return errno || *end || n < 0 ? -1 : n;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    i4_server *s = cls;
    req_ctx *ctx = *con_cls;
    if (!ctx) {
        /* Headers are in; nothing of the body has been read. */
        ctx = calloc(1, sizeof *ctx);
        if (!ctx) return MHD_NO;
        *con_cls = ctx;
        ctx->conn = c;
        ctx->started = i4_now_seconds();
        ctx->req = (srv_req){.s = s, .method = method, .url = url, .lookup = mhd_lookup, .lookup_src = c};
        ctx->req.resp.fd = -1;
        set_phase(http_of(s), c, PHASE_BODY);
        int control = 0;
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, find_control, &control);
        long long length = content_length_of(c);
        const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
        int magic = 0;
        if (control) srv_error(&ctx->req, 400, "the query string holds a NUL or control character");
        else if (srv_precheck(&ctx->req, length, expect && !strcasecmp(expect, "100-continue"), &ctx->limit, &magic) == 0 &&
                 length > 0 && reserve(s, ctx, length) != 0)
            srv_error(&ctx->req, 503, "the server is receiving too much data at once; try again shortly");
        if (ctx->req.resp.status) return send_reply(s, ctx); /* refused before reading the body */
        return MHD_YES;
    }
    if (ctx->deferred == 2) return send_reply(s, ctx);
    if (ctx->deferred == 1) return MHD_YES; /* spurious call while suspended */
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (ctx->answered) return MHD_YES;
        if (ctx->len + n > ctx->limit) {
            srv_error(&ctx->req, 413, "request body too large (limit %u MB for this route)", (unsigned)(ctx->limit >> 20));
            ctx->answered = 1;
        } else if ((long long)(ctx->len + n) > ctx->reserved && reserve(s, ctx, (long long)(ctx->len + n) - ctx->reserved)) {
            srv_error(&ctx->req, 503, "the server is receiving too much data at once; try again shortly");
            ctx->answered = 1;
        } else {
            char *grown = realloc(ctx->body, ctx->len + n + 1);
            if (!grown) {
                srv_error(&ctx->req, 503, "out of memory");
                ctx->answered = 1;
            } else {
                ctx->body = grown;
                memcpy(ctx->body + ctx->len, upload, n);
                ctx->len += n;
                ctx->body[ctx->len] = 0;
            }
        }
        if (ctx->answered) {
            free(ctx->body);
            ctx->body = NULL;
            ctx->len = 0;
        }
        return MHD_YES;
    }
    /* The whole body is in. */
    set_phase(http_of(s), c, PHASE_BUSY);
    if (ctx->answered) return send_reply(s, ctx);
    ctx->req.body = ctx->body ? ctx->body : "";
    ctx->req.body_len = ctx->len;
    srv_dispatch(&ctx->req);
    if (ctx->req.deferred) {
        /* A deferred reply works on what the route parsed: the raw body
         * (up to 16 MB) is not kept while it waits. */
        free(ctx->body);
        ctx->body = NULL;
        ctx->req.body = "";
        ctx->req.body_len = 0;
        srv_http *h = http_of(s);
        pthread_mutex_lock(&h->lock);
        h->inflight -= ctx->reserved;
        ctx->reserved = 0;
        pthread_mutex_unlock(&h->lock);
        if (start_deferred(s, ctx) == 0) return MHD_YES;
    }
    return send_reply(s, ctx);
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code) {
    (void)code;
    i4_server *s = cls;
    srv_http *h = http_of(s);
    req_ctx *ctx = *con_cls;
    if (ctx) {
        pthread_mutex_lock(&h->lock);
        h->inflight -= ctx->reserved;
        pthread_mutex_unlock(&h->lock);
        if (ctx->req.holds_magic_slot) {
            pthread_mutex_lock(&s->lock);
            s->magic_running--;
            pthread_mutex_unlock(&s->lock);
        }
        srv_resp_clear(&ctx->req.resp);
        free(ctx->body);
        free(ctx);
    }
    *con_cls = NULL;
    set_phase(h, c, PHASE_HEADERS); /* a kept-alive connection waits for its next request */
}

/* ------------------------------------------------------------ start / stop */

/* Raise the soft open-file limit to the hard one and size the connection
 * limit to what is left after a reserve for files and the database. */
static int connection_limit(i4_server *s) {
    struct rlimit rl;
    int limit = s->opt.max_connections;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rlim_t want = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
            if (want > rl.rlim_cur) {
                rl.rlim_cur = want;
                setrlimit(RLIMIT_NOFILE, &rl);
                getrlimit(RLIMIT_NOFILE, &rl);
            }
        }
        long room = (long)rl.rlim_cur - FD_RESERVE - s->opt.http_threads * 4;
        if (room < 16) room = 16;
        if (room < limit) limit = (int)room;
    }
    return limit;
}

int srv_http_start(i4_server *s, const char *host) {
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->opt.port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return i4_error("invalid host address '%s' (an IPv4 address such as 127.0.0.1)", s->opt.host);
    srv_http *h = calloc(1, sizeof *h);
    if (!h) return i4_error("out of memory");
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    s->http = h;
    h->connection_limit = connection_limit(s);
    if (pthread_create(&h->sweeper, NULL, sweeper_main, s) == 0) h->sweeper_started = 1;
    h->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO, (uint16_t)s->opt.port, accept_policy,
        s, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)s->opt.http_threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->connection_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_NOTIFY_COMPLETED, request_done, s,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!h->daemon) {
        srv_http_stop(s);
        return i4_error("cannot listen on %s:%d (port in use?)", s->opt.host, s->opt.port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->opt.port;
    i4_log(&s->log, I4_LOG_INFO, "http", "%d event-loop threads, up to %d connections (%d per non-loopback peer), "
           "deadlines: headers %ds, body %ds", s->opt.http_threads, h->connection_limit, s->opt.per_ip_connections,
           s->opt.header_timeout, s->opt.body_timeout);
    return 0;
}

void srv_http_stop(i4_server *s) {
    srv_http *h = http_of(s);
    if (!h) return;
    pthread_mutex_lock(&h->lock);
    h->stop = 1;
    pthread_cond_broadcast(&h->cond);
    /* Suspended connections must be resumed before the daemon stops: wait
     * for the reply threads (they end quickly once the server stops: jobs
     * are cancelled and LLM calls aborted). */
    while (h->deferred > 0) pthread_cond_wait(&h->cond, &h->lock);
    pthread_mutex_unlock(&h->lock);
    if (h->daemon) MHD_stop_daemon(h->daemon);
    if (h->sweeper_started) pthread_join(h->sweeper, NULL);
    free(h->ips);
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->lock);
    free(h);
    s->http = NULL;
}
