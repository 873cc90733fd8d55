/*
 * dispatch.c — the request policy and the route table.
 *
 * srv_precheck runs as soon as the request line and headers are in, before a
 * single body byte is buffered, in this order:
 *   1. the decoded path and query hold no control character (a %00 would
 *      otherwise cut the path short inside the C strings) → 400
 *   2. on a loopback bind the Host is localhost, 127.0.0.1 or [::1] (any
 *      port) or listed in IDEOGRAM4_ALLOWED_HOSTS → else 421: a page on
 *      another site cannot reach us through DNS rebinding
 *   3. the API token, where one is set → 401
 *   4. a state-changing request (POST, DELETE, PUT, PATCH) carrying an Origin
 *      is same-origin or on the CORS allow-list → else 403 (CSRF)
 *   5. a request with a body says Content-Type: application/json → else 415
 *      (a cross-site form or text/plain POST needs no preflight)
 *   6. the announced body fits the route's limit → 413, or 417 when the
 *      client asked for 100-continue
 *   7. a magic-prompt slot is free → 429
 * The OpenAI-compatible routes under /v1/ pass the same checks (token
 * included) and answer errors in OpenAI's shape.
 * srv_dispatch then routes the complete request. Neither needs a socket, so
 * the fuzzer hands requests straight to them.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/utf8.h"
#include "server/server_internal.h"

static int has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) return 1;
    return 0;
}

/* The host part of a Host header value: "name", "name:port", "[v6]:port". */
static int host_name(const char *host, char *out, size_t size) {
    size_t n;
    if (host[0] == '[') {
        const char *e = strchr(host, ']');
        if (!e) return -1;
        n = (size_t)(e - host) + 1;
        if (e[1] && e[1] != ':') return -1;
    } else {
        const char *colon = strchr(host, ':');
        n = colon ? (size_t)(colon - host) : strlen(host);
    }
    if (n == 0 || n >= size) return -1;
    for (size_t i = 0; i < n; i++) out[i] = (char)tolower((unsigned char)host[i]);
    out[n] = 0;
    return 0;
}

static int in_list(const char *list, const char *name) {
    if (!list) return 0;
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        if ((size_t)(e - p) == len && !strncasecmp(p, name, len)) return 1;
        p = e;
    }
    return 0;
}

static int host_allowed(i4_server *s, const char *host) {
    if (!i4_host_is_loopback(s->opt.host)) return 1; /* the token guards other binds */
    if (!host) return 1;                              /* HTTP/1.0 without Host: no browser sends that */
    char name[256];
    if (host_name(host, name, sizeof name) != 0) return 0;
    return !strcmp(name, "localhost") || !strcmp(name, "127.0.0.1") || !strcmp(name, "[::1]") ||
           in_list(s->opt.allowed_hosts, name);
}

/* The Origin of a state-changing request is this server's own page (same
 * scheme, host and port as the Host header) or an allowed CORS origin. */
static int origin_allowed(srv_req *r, const char *origin) {
    if (srv_allowed_origin(r->s, origin)) return 1;
    const char *host = srv_lookup(r, SRV_HEADER, "Host");
    if (!host || strncmp(origin, "http://", 7)) return 0;
    return !strcasecmp(origin + 7, host);
}

static int is_json_type(const char *type) {
    if (!type) return 0;
    while (*type == ' ') type++;
    size_t n = strlen("application/json");
    if (strncasecmp(type, "application/json", n)) return 0;
    const char *rest = type + n;
    while (*rest == ' ') rest++;
    return *rest == 0 || *rest == ';';
}

static int state_changing(const char *method) {
    return !strcmp(method, "POST") || !strcmp(method, "DELETE") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
}

static void unauthorized(srv_req *r) {
    srv_error(r, 401, "missing or invalid API token");
    srv_add_header(r, "WWW-Authenticate", "Bearer");
}

int srv_precheck(srv_req *r, long long content_length, int expect_continue, size_t *limit, int *magic) {
    i4_server *s = r->s;
    const char *url = r->url;
    *limit = I4_SERVER_BODY_LIMIT;
    *magic = 0;
    /* /v1/: the OpenAI-compatible routes, behind the same token and checks. */
    int v1 = !strncmp(url, "/v1/", 4) || !strcmp(url, "/v1");
    r->openai = v1;
    if (has_control(url)) {
        srv_error(r, 400, "the URL holds a NUL or control character");
        return -1;
    }
    const char *host = srv_lookup(r, SRV_HEADER, "Host");
    if (!host_allowed(s, host)) {
        srv_error(r, 421, "unexpected Host header: this server answers to localhost, 127.0.0.1 and [::1] "
                          "(set IDEOGRAM4_ALLOWED_HOSTS to add names)");
        return -1;
    }
    int api = !strncmp(url, "/api/", 5) || !strcmp(url, "/api") || v1;
    int is_public = !strcmp(url, "/api/health") || !strcmp(r->method, "OPTIONS") || (!api && strncmp(url, "/outputs/", 9));
    if (!is_public && !srv_authorized(r)) {
        unauthorized(r);
        return -1;
    }
    const char *origin = srv_lookup(r, SRV_HEADER, "Origin");
    if (state_changing(r->method) && origin && !origin_allowed(r, origin)) {
        srv_error(r, 403, "cross-origin request refused: the origin is not allowed (IDEOGRAM4_CORS_ORIGINS)");
        return -1;
    }
    int has_body = content_length != 0; /* < 0: chunked, length unknown */
    if (has_body && !is_json_type(srv_lookup(r, SRV_HEADER, "Content-Type"))) {
        srv_error(r, 415, "the request body must be JSON, sent with Content-Type: application/json");
        return -1;
    }
    if (!strcmp(url, "/api/magic-prompt") && !strcmp(r->method, "POST")) {
        *limit = I4_SERVER_BODY_LIMIT_IMAGES;
        *magic = 1;
    }
    if (content_length > 0 && (unsigned long long)content_length > *limit) {
        srv_error(r, expect_continue ? 417 : 413, "request body too large (limit %u MB for this route)",
                  (unsigned)(*limit >> 20));
        return -1;
    }
    if (*magic) {
        pthread_mutex_lock(&s->lock);
        int ok = s->magic_running < s->opt.magic_concurrency;
        if (ok) s->magic_running++;
        pthread_mutex_unlock(&s->lock);
        if (!ok) {
            srv_error(r, 429, "too many magic prompts at once (%d); try again when one has finished",
                      s->opt.magic_concurrency);
            srv_add_header(r, "Retry-After", "5");
            *magic = 0;
            return -1;
        }
        r->holds_magic_slot = 1;
    }
    return 0;
}

void srv_dispatch(srv_req *r) {
    if (!strcmp(r->method, "OPTIONS")) {
        srv_cors_preflight(r);
        return;
    }
    /* HEAD is routed as GET; the HTTP layer leaves the body out. */
    if (!strcmp(r->method, "HEAD")) r->method = "GET";
    const char *url = r->url;
    if (!strncmp(url, "/v1/", 4) || !strcmp(url, "/v1")) {
        r->openai = 1;
        srv_route_openai(r, url + 3);
        return;
    }
    if (strncmp(url, "/api/", 5) != 0 && strcmp(url, "/api") != 0) {
        if (!strncmp(url, "/outputs/", 9)) {
            /* Served by bare name only (docs/APP.md §3.5 rule 4). */
            const char *name = url + 9;
            if (!i4_store_is_bare_name(name) || !strcmp(srv_image_content_type(name), "application/octet-stream"))
                srv_error(r, 404, "not found");
            else if (strcmp(r->method, "GET")) srv_method_not_allowed(r, "GET, HEAD");
            else srv_file_in(r, r->s->output_dir, name, srv_image_content_type(name), 1);
            return;
        }
        srv_static(r);
        return;
    }
    const char *path = url + 4;
    if (!strcmp(path, "/health")) {
        if (strcmp(r->method, "GET")) srv_method_not_allowed(r, "GET");
        else srv_json(r, 200, json_pack("{s:b,s:s}", "ok", 1, "version", I4_VERSION));
    } else if (!strcmp(path, "/config")) {
        /* The limits a client needs to build a valid request (the web UI's size fields, batch count), the
         * LoRA folder and the weights repository the server is configured with (the first-run command). */
        const i4_server_options *o = &r->s->opt;
        if (strcmp(r->method, "GET")) srv_method_not_allowed(r, "GET");
        else
            srv_json(r, 200,
                     json_pack("{s:i,s:i,s:i,s:i,s:i,s:b,s:s,s:s,s:s,s:o}", "min_size", o->min_size, "max_size",
                               o->max_size, "size_multiple", o->size_multiple, "max_batch", SRV_MAX_BATCH,
                               "queue_size", o->queue_size, "demo", o->demo, "lora_dir", o->lora_dir, "version",
                               I4_VERSION, "model_repo", o->repo ? o->repo : SRV_DEFAULT_REPO, "model_revision",
                               o->revision ? json_string(o->revision) : json_null()));
    } else if (!strncmp(path, "/model/", 7)) srv_route_model(r, path);
    else if (!strcmp(path, "/generate") || !strncmp(path, "/status/", 8) || !strncmp(path, "/tasks/", 7) ||
             !strcmp(path, "/verify") || !strcmp(path, "/queue"))
        srv_route_generate(r, path);
    else if (!strncmp(path, "/images", 7) || !strncmp(path, "/prompts", 8) || !strcmp(path, "/form"))
        srv_route_history(r, path);
    else if (!strncmp(path, "/lora/", 6)) srv_route_lora(r, path);
    else if (!strncmp(path, "/magic-prompt", 13)) srv_route_magic(r, path);
    else srv_error(r, 404, "not found");
}
