/*
 * http.c — reply helpers shared by the routes: JSON bodies and the error
 * shapes of docs/APP.md §3.1, CORS (allow-list from IDEOGRAM4_CORS_ORIGINS), the
 * bearer-token check, files from the output folder and the built web UI
 * (webui/dist, with index.html for client routes such as /history/<id>).
 *
 * Replies are built into srv_req.resp; mhd.c sends them. Every text that may
 * carry client input is formatted with the UTF-8-safe helpers, so a cut
 * never produces invalid UTF-8 (which JSON cannot carry). Files are opened
 * relative to their folder with O_NOFOLLOW, so a symlink planted in the
 * output folder or the UI folder is never followed.
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

#include "base/utf8.h"
#include "server/server_internal.h"

#define DEFAULT_CORS "http://127.0.0.1:5173,http://localhost:5173"

const char *srv_lookup(srv_req *r, int kind, const char *key) {
    return r->lookup ? r->lookup(r->lookup_src, kind, key) : NULL;
}

const char *srv_allowed_origin(i4_server *s, const char *origin) {
    if (!origin || !*origin) return NULL;
    const char *list = s->opt.cors_origins ? s->opt.cors_origins : DEFAULT_CORS;
    size_t olen = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        size_t n = (size_t)(t - p);
        if ((n == 1 && *p == '*') || (n && n == olen && !strncmp(p, origin, n))) return origin;
        p = e;
    }
    return NULL;
}

void srv_resp_clear(srv_resp *resp) {
    free(resp->body);
    if (resp->fd >= 0) close(resp->fd);
    for (int i = 0; i < resp->n_headers; i++) free(resp->header_values[i]);
    memset(resp, 0, sizeof *resp);
    resp->fd = -1;
}

int srv_add_header(srv_req *r, const char *name, const char *value) {
    if (r->resp.n_headers >= SRV_MAX_HEADERS) return -1;
    char *v = strdup(value);
    if (!v) return -1;
    r->resp.header_names[r->resp.n_headers] = name;
    r->resp.header_values[r->resp.n_headers++] = v;
    return 0;
}

/* Replace whatever reply was set with this body. */
static void set_body(srv_req *r, unsigned status, char *body, size_t len, const char *type) {
    srv_resp_clear(&r->resp);
    r->resp.status = status;
    r->resp.body = body;
    r->resp.len = len;
    r->resp.content_type = type;
}

int srv_json(srv_req *r, unsigned status, json_t *body) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) text = strdup("{\"error\":\"internal error: cannot serialise the reply\"}"), status = 500;
    if (!text) {
        set_body(r, 500, NULL, 0, "application/json");
        return 0;
    }
    set_body(r, status, text, strlen(text), "application/json");
    srv_add_header(r, "Cache-Control", "no-store");
    return 0;
}

int srv_error(srv_req *r, unsigned status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    i4_utf8_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Text from elsewhere (a file name, a library) may still be invalid. */
    char *fixed = i4_utf8_sanitized(msg, strlen(msg));
    int rc = r->openai ? srv_openai_error(r, status, NULL, NULL, "%s", fixed ? fixed : "error")
                       : srv_json(r, status, json_pack("{s:s}", "error", fixed ? fixed : "error"));
    free(fixed);
    return rc;
}

int srv_openai_error(srv_req *r, unsigned status, const char *param, const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    i4_utf8_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *fixed = i4_utf8_sanitized(msg, strlen(msg));
    const char *type = status == 401 ? "authentication_error" : status == 429 ? "rate_limit_error"
                       : status >= 500 ? "server_error" : "invalid_request_error";
    if (!code && status == 401) code = "invalid_api_key";
    json_t *e = json_pack("{s:s,s:s,s:o,s:o}", "message", fixed ? fixed : "error", "type", type, "param",
                          param ? json_string(param) : json_null(), "code", code ? json_string(code) : json_null());
    free(fixed);
    return srv_json(r, status, json_pack("{s:o}", "error", e));
}

int srv_invalid(srv_req *r, const char *field, const char *fmt, ...) {
    char msg[700], full[800];
    va_list ap;
    va_start(ap, fmt);
    i4_utf8_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *fixed = i4_utf8_sanitized(msg, strlen(msg));
    i4_utf8_format(full, sizeof full, "%s: %s", field, fixed ? fixed : "invalid");
    json_t *d = json_pack("[{s:[s,s],s:s,s:s}]", "loc", "body", field, "msg", fixed ? fixed : "invalid", "type",
                          "value_error");
    free(fixed);
    return srv_json(r, 422, json_pack("{s:o,s:s}", "detail", d, "error", full));
}

int srv_method_not_allowed(srv_req *r, const char *allowed) {
    if (r->openai) srv_openai_error(r, 405, NULL, NULL, "method not allowed (allowed: %s)", allowed);
    else srv_json(r, 405, json_pack("{s:s}", "error", "method not allowed"));
    srv_add_header(r, "Allow", allowed);
    return 0;
}

json_t *srv_body_object(srv_req *r, int empty_ok) {
    size_t i = 0;
    while (i < r->body_len && isspace((unsigned char)r->body[i])) i++;
    if (i == r->body_len && empty_ok) return json_object();
    json_error_t e;
    json_t *j = r->body_len ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e) : NULL;
    if (!j) {
        if (r->body_len) srv_invalid(r, "body", "invalid JSON at line %d column %d: %s", e.line, e.column, e.text);
        else srv_invalid(r, "body", "a JSON object is required");
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        srv_invalid(r, "body", "must be a JSON object");
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

int srv_cors_preflight(srv_req *r) {
    set_body(r, 204, NULL, 0, NULL);
    if (srv_allowed_origin(r->s, srv_lookup(r, SRV_HEADER, "Origin"))) {
        srv_add_header(r, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        const char *h = srv_lookup(r, SRV_HEADER, "Access-Control-Request-Headers");
        char allowed[512];
        i4_utf8_copy(allowed, sizeof allowed, h && *h ? h : "Content-Type, Authorization");
        srv_add_header(r, "Access-Control-Allow-Headers", allowed);
        srv_add_header(r, "Access-Control-Max-Age", "600");
    }
    return 0;
}

/* Equal strings, in time independent of where they differ. */
int srv_secret_equal(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = (unsigned char)(na != nb);
    for (size_t i = 0; i < na; i++) diff |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return diff == 0;
}

int srv_authorized(srv_req *r) {
    const char *token = r->s->opt.api_token;
    if (!token || !*token) return 1;
    const char *h = srv_lookup(r, SRV_HEADER, "Authorization");
    if (h && !strncasecmp(h, "Bearer ", 7) && srv_secret_equal(h + 7, token)) return 1;
    /* The web UI served by this server gets the token as a cookie (set when
     * the page is opened with ?token=...), so <img> tags work too. */
    const char *c = srv_lookup(r, SRV_COOKIE, "ideogram4_token");
    return c && srv_secret_equal(c, token);
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

/* Open dir/rel (rel: segments separated by '/', already checked to hold no
 * "." or ".." segment) walking one segment at a time with O_NOFOLLOW, so no
 * symlink anywhere below dir is followed. -1 when missing or a link. */
static int open_below(const char *dir, const char *rel) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    char seg[NAME_MAX + 1];
    const char *p = rel;
    while (*p == '/') p++;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || n > NAME_MAX || (seg[0] = p[0], n == 1 && p[0] == '.') || (n == 2 && !strncmp(p, "..", 2))) {
            close(fd);
            return -1;
        }
        memcpy(seg, p, n);
        seg[n] = 0;
        int last = !e || !e[1];
        int next = openat(fd, seg, (last ? O_RDONLY : O_RDONLY | O_DIRECTORY) | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        if (next < 0) return -1;
        fd = next;
        p += n;
        while (*p == '/') p++;
    }
    return fd;
}

/* Reply with the regular file open at fd (taken over). */
static int reply_fd(srv_req *r, int fd, const char *content_type, const char *cache) {
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return srv_error(r, 404, "not found");
    }
    set_body(r, 200, NULL, 0, content_type);
    r->resp.fd = fd;
    r->resp.fd_size = (uint64_t)st.st_size;
    srv_add_header(r, "Cache-Control", cache);
    return 0;
}

int srv_file_in(srv_req *r, const char *dir, const char *name, const char *content_type, int immutable) {
    return reply_fd(r, open_below(dir, name), content_type, immutable ? "public, max-age=31536000, immutable" : "no-cache");
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

int srv_static(srv_req *r) {
    i4_server *s = r->s;
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) return srv_method_not_allowed(r, "GET, HEAD");
    if (!s->webui_dir[0]) {
        static const char page[] =
            "<!doctype html><meta charset=utf-8><title>Ideogram 4</title><h1>Ideogram 4 API</h1>"
            "<p>The web UI is not built. Run <code>npm --prefix webui ci &amp;&amp; npm --prefix webui run build</code> "
            "(or <code>./scripts/setup.sh</code>) and restart, or set IDEOGRAM4_WEBUI_DIR. The API is under "
            "<code>/api/</code>.</p>";
        char *copy = strdup(page);
        set_body(r, 404, copy, copy ? sizeof page - 1 : 0, "text/html; charset=utf-8");
        return 0;
    }
    const char *url = r->url;
    if (!safe_static_path(url)) return srv_error(r, 404, "not found");
    int fd = open_below(s->webui_dir, url);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        return reply_fd(r, fd, static_content_type(url), strncmp(url, "/assets/", 8) == 0
                                                              ? "public, max-age=31536000, immutable"
                                                              : "no-cache");
    if (fd >= 0) close(fd);
    /* A missing asset is a 404; any other path is a client route. */
    const char *last = strrchr(url, '/');
    if (last && strchr(last, '.')) return srv_error(r, 404, "not found");
    reply_fd(r, open_below(s->webui_dir, "index.html"), "text/html; charset=utf-8", "no-cache");
    const char *token = srv_lookup(r, SRV_QUERY, "token");
    if (r->resp.status == 200 && token && s->opt.api_token && srv_secret_equal(token, s->opt.api_token)) {
        char cookie[1200];
        snprintf(cookie, sizeof cookie, "ideogram4_token=%s; Path=/; HttpOnly; SameSite=Strict", s->opt.api_token);
        srv_add_header(r, "Set-Cookie", cookie);
    }
    return 0;
}
