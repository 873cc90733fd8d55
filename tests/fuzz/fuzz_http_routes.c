/*
 * fuzz_http_routes.c — the HTTP route layer without a socket.
 *
 * Input: "METHOD URL\n", then "Name: value" header lines, an empty line,
 * then the body. The URL's query string is split into arguments (no
 * decoding: the fuzzer supplies any bytes directly, as the event loop would
 * after percent-decoding). The request goes through the same srv_precheck
 * and srv_dispatch that libmicrohttpd's handler calls, against one server
 * made once (temporary database, output and LoRA folders; no model, so
 * generation and LoRA jobs fail fast on the worker; the magic prompt points
 * at a closed loopback port). Deferred replies run inline.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server/server_internal.h"

#define MAX_PAIRS 32

typedef struct {
    const char *names[MAX_PAIRS], *values[MAX_PAIRS];
    int kinds[MAX_PAIRS];
    int n;
} fake_request;

static i4_server *g_server;

static const char *fake_lookup(void *src, int kind, const char *key) {
    fake_request *f = src;
    for (int i = 0; i < f->n; i++)
        if (f->kinds[i] == kind && !strcasecmp(f->names[i], key)) return f->values[i];
    return NULL;
}

static void add_pair(fake_request *f, int kind, char *name, char *value) {
    if (f->n >= MAX_PAIRS) return;
    f->kinds[f->n] = kind;
    f->names[f->n] = name;
    f->values[f->n++] = value;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char dir[] = "/tmp/i4-fuzz-routes-XXXXXX";
    if (!mkdtemp(dir)) abort();
    char out[256], db[256], lora[256];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(db, sizeof db, "%s/db/app.db", dir);
    snprintf(lora, sizeof lora, "%s/loras", dir);
    setenv("IDEOGRAM4_MAGIC_PROMPT_BASE_URL", "http://127.0.0.1:1/v1", 1);
    setenv("IDEOGRAM4_MAGIC_PROMPT_TIMEOUT", "1", 1);
    /* the routes, not the GPU: probing Vulkan loads every installed driver,
     * whose one-time allocations libFuzzer's per-input leak check reports */
    setenv("IDEOGRAM4_BACKEND", "cpu", 1);
    /* downloads (LoRA presets) fail at once: nothing listens there */
    setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
    {
        char hub[300];
        snprintf(hub, sizeof hub, "%s/hub", dir);
        setenv("HF_HUB_CACHE", hub, 1);
    }
    i4_server_options o;
    if (i4_server_options_from_env(&o) != 0) abort();
    o.output_dir = strdup(out);
    o.db_path = strdup(db);
    o.lora_dir = strdup(lora);
    o.log_dir = "none";
    o.log_level = I4_LOG_ERROR;
    o.model_dir = strdup(dir); /* no weights there: a load fails at once */
    o.warmup_steps = 0;
    if (srv_open(&g_server, &o) != 0) abort();
    g_server->log.to_stderr = 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    fake_request f = {0};
    /* Request line. */
    char *nl = memchr(text, '\n', size);
    char *line_end = nl ? nl : text + size;
    *line_end = 0;
    char *sp = strchr(text, ' ');
    const char *method = text, *url = "/";
    if (sp) {
        *sp = 0;
        url = sp + 1;
    }
    char *url_copy = strdup(url);
    char *q = url_copy ? strchr(url_copy, '?') : NULL;
    if (q) {
        *q++ = 0;
        for (char *arg = strtok(q, "&"); arg; arg = strtok(NULL, "&")) {
            char *eq = strchr(arg, '=');
            if (eq) *eq++ = 0;
            add_pair(&f, SRV_QUERY, arg, eq ? eq : (char *)"");
        }
    }
    /* Headers until an empty line; the rest is the body. */
    char *p = nl ? nl + 1 : text + size;
    char *end = text + size;
    while (p < end) {
        char *e = memchr(p, '\n', (size_t)(end - p));
        char *stop = e ? e : end;
        *stop = 0;
        if (stop == p) {
            p = stop + 1;
            break;
        }
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = 0;
            char *v = colon + 1;
            while (*v == ' ') v++;
            add_pair(&f, !strcasecmp(p, "Cookie") ? SRV_COOKIE : SRV_HEADER, p, v);
        }
        p = stop + 1;
    }
    if (p > end) p = end;
    size_t body_len = (size_t)(end - p);
    srv_req r = {.s = g_server, .method = method, .url = url_copy ? url_copy : "/", .lookup = fake_lookup,
                 .lookup_src = &f};
    r.resp.fd = -1;
    size_t limit;
    int magic;
    if (srv_precheck(&r, (long long)body_len, 0, &limit, &magic) == 0 && body_len <= limit) {
        r.body = p;
        r.body_len = body_len;
        srv_dispatch(&r);
        if (r.deferred) {
            srv_req out = {.s = g_server, .method = r.method, .url = r.url};
            out.resp.fd = -1;
            r.deferred(g_server, r.deferred_arg, &out);
            if (r.deferred_free) r.deferred_free(r.deferred_arg);
            srv_resp_clear(&out.resp);
        }
    }
    if (r.holds_magic_slot) {
        pthread_mutex_lock(&g_server->lock);
        g_server->magic_running--;
        pthread_mutex_unlock(&g_server->lock);
    }
    srv_resp_clear(&r.resp);
    free(url_copy);
    free(text);
    return 0;
}
