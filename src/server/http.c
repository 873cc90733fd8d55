/*
 * http.c — response helpers shared by the routes: JSON bodies and the error
 * shapes of APP.md §3.1, CORS (allow-list from IDEOGRAM4_CORS_ORIGINS), the
 * bearer-token check, files from the output folder and the built web UI
 * (webui/dist, with index.html for client routes such as /history/<id>).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server_internal.h"

#define DEFAULT_CORS "http://127.0.0.1:5173,http://localhost:5173"

/* The request's Origin when it is on the allow-list, else NULL. */
static const char *allowed_origin(srv_req *r) {
    const char *origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
    if (!origin || !*origin) return NULL;
    const char *list = r->s->opt.cors_origins ? r->s->opt.cors_origins : DEFAULT_CORS;
    size_t olen = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        size_t n = (size_t)(t - p);
        if ((n == 1 && *p == '*') || (n == olen && !strncmp(p, origin, n))) return origin;
        p = e;
    }
    return NULL;
}

static void add_cors(srv_req *r, struct MHD_Response *resp) {
    const char *origin = allowed_origin(r);
    if (!origin) return;
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(resp, "Vary", "Origin");
    if (r->s->opt.cors_credentials) MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
}

enum MHD_Result srv_send(srv_req *r, unsigned status, struct MHD_Response *resp) {
    if (!resp) {
        r->status = 500;
        return MHD_NO;
    }
    add_cors(r, resp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result srv_json(srv_req *r, unsigned status, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) text = strdup("{\"error\":\"internal error: cannot serialise the reply\"}"), status = 500;
    if (!text) return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    return srv_send(r, status, resp);
}

enum MHD_Result srv_error(srv_req *r, unsigned status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return srv_json(r, status, json_pack("{s:s}", "error", msg));
}

enum MHD_Result srv_invalid(srv_req *r, const char *field, const char *fmt, ...) {
    char msg[700], full[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s: %s", field, msg);
    json_t *d = json_pack("[{s:[s,s],s:s,s:s}]", "loc", "body", field, "msg", msg, "type", "value_error");
    return srv_json(r, 422, json_pack("{s:o,s:s}", "detail", d, "error", full));
}

enum MHD_Result srv_method_not_allowed(srv_req *r, const char *allowed) {
    char *text = NULL;
    json_t *j = json_pack("{s:s}", "error", "method not allowed");
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Allow", allowed);
    return srv_send(r, 405, resp);
}

json_t *srv_body_object(srv_req *r, int empty_ok, enum MHD_Result *sent) {
    size_t i = 0;
    while (i < r->body_len && isspace((unsigned char)r->body[i])) i++;
    if (i == r->body_len && empty_ok) return json_object();
    json_error_t e;
    json_t *j = r->body_len ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (!j) {
        *sent = r->body_len ? srv_invalid(r, "body", "invalid JSON at line %d column %d: %s", e.line, e.column, e.text)
                            : srv_invalid(r, "body", "a JSON object is required");
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *sent = srv_invalid(r, "body", "must be a JSON object");
        return NULL;
    }
    return j;
}

int64_t srv_parse_id(const char *text) {
    if (!text || !*text || strlen(text) > 18) return 0;
    int64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int srv_cors_preflight(srv_req *r, enum MHD_Result *sent) {
    if (strcmp(r->method, "OPTIONS") != 0) return 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (allowed_origin(r)) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Access-Control-Request-Headers");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", h && *h ? h : "Content-Type, Authorization");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    *sent = srv_send(r, 204, resp);
    return 1;
}

/* Equal strings, in time independent of where they differ. */
static int secret_equal(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = (unsigned char)(na != nb);
    for (size_t i = 0; i < na; i++) diff |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return diff == 0;
}

int srv_authorized(srv_req *r) {
    const char *token = r->s->opt.api_token;
    if (!token || !*token) return 1;
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (h && !strncasecmp(h, "Bearer ", 7) && secret_equal(h + 7, token)) return 1;
    /* The web UI served by this server gets the token as a cookie (set when
     * the page is opened with ?token=...), so <img> tags work too. */
    const char *c = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "ideogram4_token");
    return c && secret_equal(c, token);
}

const char *srv_image_content_type(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return "application/octet-stream";
    if (!strcasecmp(dot, ".png")) return "image/png";
    if (!strcasecmp(dot, ".webp")) return "image/webp";
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")) return "image/jpeg";
    return "application/octet-stream";
}

static const char *static_content_type(const char *path) {
    static const char *map[][2] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".webp", "image/webp"}, {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".ico", "image/x-icon"},
        {".woff2", "font/woff2"}, {".woff", "font/woff"}, {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"}, {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof map / sizeof *map; i++)
            if (!strcasecmp(dot, map[i][0])) return map[i][1];
    return "application/octet-stream";
}

enum MHD_Result srv_file(srv_req *r, const char *path, const char *content_type, int immutable) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return srv_error(r, 404, "not found");
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "Cache-Control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
    return srv_send(r, 200, resp);
}

/* A URL path made only of safe segments (no "..", no hidden files). */
static int safe_static_path(const char *p) {
    if (*p != '/') return 0;
    for (const char *q = p; *q; q++) {
        unsigned char ch = (unsigned char)*q;
        if (!(isalnum(ch) || ch == '/' || ch == '.' || ch == '-' || ch == '_' || ch == '@' || ch == '~')) return 0;
        if (ch == '/' && q[1] == '.') return 0;
    }
    return 1;
}

enum MHD_Result srv_static(srv_req *r) {
    i4_server *s = r->s;
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) return srv_method_not_allowed(r, "GET, HEAD");
    if (!s->webui_dir[0]) {
        static const char page[] =
            "<!doctype html><meta charset=utf-8><title>Ideogram 4</title><h1>Ideogram 4 API</h1>"
            "<p>The web UI is not built. Run <code>npm --prefix webui ci &amp;&amp; npm --prefix webui run build</code> "
            "(or <code>./scripts/setup.sh</code>) and restart, or set IDEOGRAM4_WEBUI_DIR. The API is under "
            "<code>/api/</code>.</p>";
        struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof page - 1, (void *)page, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
        return srv_send(r, 404, resp);
    }
    const char *url = r->url;
    if (!safe_static_path(url)) return srv_error(r, 404, "not found");
    char path[PATH_MAX];
    struct stat st;
    int n = snprintf(path, sizeof path, "%s%s", s->webui_dir, url);
    if (n > 0 && (size_t)n < sizeof path && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return srv_file(r, path, static_content_type(path), strncmp(url, "/assets/", 8) == 0);
    /* A missing asset is a 404; any other path is a client route. */
    const char *last = strrchr(url, '/');
    if (last && strchr(last, '.')) return srv_error(r, 404, "not found");
    snprintf(path, sizeof path, "%s/index.html", s->webui_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) close(fd);
        return srv_error(r, 404, "not found");
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    const char *token = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "token");
    if (token && s->opt.api_token && secret_equal(token, s->opt.api_token)) {
        char cookie[1200];
        snprintf(cookie, sizeof cookie, "ideogram4_token=%s; Path=/; HttpOnly; SameSite=Strict", s->opt.api_token);
        MHD_add_response_header(resp, "Set-Cookie", cookie);
    }
    return srv_send(r, 200, resp);
}
