/*
 * hub.c — the Hugging Face Hub client (see hub.h for the cache layout).
 *
 * Snapshot download, in order:
 *   1. GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true
 *      → "sha" (the commit) and "siblings" ([{"rfilename", "size"?}]).
 *   2. For each file (filtered by the include patterns):
 *      HEAD {endpoint}/{repo}/resolve/{commit}/{path}, redirects not
 *      followed: an LFS file answers 302 with X-Linked-Etag (its sha256) and
 *      X-Linked-Size; a small file 200 with ETag (its git blob sha1) and
 *      Content-Length. The etag names the blob.
 *   3. Unless blobs/<etag> is there already: check the free space, then GET
 *      the same URL (redirects followed, to the CDN) into
 *      blobs/<etag>.incomplete, from where an earlier try stopped (Range);
 *      a transfer cut midway is resumed up to RETRIES times. The bytes are
 *      hashed as they arrive (sha256 for LFS, git's "blob N\0" sha1
 *      otherwise) and must match the etag; then fsync and rename.
 *   4. snapshots/<commit>/<path> → ../../blobs/<etag> (a relative link).
 *   5. refs/<rev> ← the commit, when rev is not the commit itself.
 * Status codes become plain messages: 401/403 name the licence page and how
 * to log in, 404 says what was not found (X-Error-Code tells a missing
 * revision or file from a missing repository).
 */
#include "hub/hub.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/growbuf.h"
#include "base/io.h"
#include "ideogram4.h"

#define LISTING_LIMIT (32u << 20)          /* bytes of the revision listing */
#define MAX_FILES 100000
#define MAX_FILE_SIZE (1ull << 50)
#define MAX_PATH_DEPTH 16
#define RETRIES 3                          /* resumed tries after a cut transfer */
#define SPACE_MARGIN (1ull << 20)

/* ------------------------------------------------------------ names */

static int name_char(int c) { return isalnum(c) || c == '-' || c == '_' || c == '.'; }

static int valid_part(const char *s, size_t n, size_t max) {
    if (n == 0 || n > max || s[0] == '.' || s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)s[i])) return 0;
    return 1;
}

int i4_hub_valid_repo(const char *repo) {
    if (!repo) return 0;
    const char *slash = strchr(repo, '/');
    if (!slash || strchr(slash + 1, '/')) return 0;
    return valid_part(repo, (size_t)(slash - repo), 96) && valid_part(slash + 1, strlen(slash + 1), 96) &&
           !strstr(repo, "..");
}

int i4_hub_valid_revision(const char *rev) {
    return rev && valid_part(rev, strlen(rev), 128) && !strstr(rev, "..");
}

int i4_hub_valid_repo_path(const char *path) {
    if (!path || !*path || path[0] == '/' || strlen(path) > 1024) return 0;
    int depth = 0;
    for (const char *seg = path;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)seg[i];
            if (c < 0x20 || c == 0x7f || c == '\\' || c == ':') return 0;
        }
        if (++depth > MAX_PATH_DEPTH) return 0;
        if (!end) break;
        seg = end + 1;
    }
    return 1;
}

static int is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) return 0;
    return 1;
}

static void human(uint64_t b, char *out, size_t size) {
    if (b >= (1ull << 30)) snprintf(out, size, "%.2f GB", (double)b / 1e9);
    else if (b >= (1ull << 20)) snprintf(out, size, "%.1f MB", (double)b / 1e6);
    else snprintf(out, size, "%" PRIu64 " bytes", b);
}

/* ------------------------------------------------------------ environment */

typedef struct {
    char endpoint[1024];
    char token[1024];      /* "" = none */
    char token_from[PATH_MAX + 32];
    char hub[PATH_MAX];
} hub_env;

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    size_t k = 0;
    while (s[k] && isspace((unsigned char)s[k])) k++;
    if (k) memmove(s, s + k, n - k + 1);
}

static int token_ok(const char *t) {
    for (; *t; t++)
        if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) return 0;
    return 1;
}

static int env_load(hub_env *e) {
    memset(e, 0, sizeof *e);
    const char *ep = getenv("HF_ENDPOINT");
    snprintf(e->endpoint, sizeof e->endpoint, "%s", ep && *ep ? ep : "https://huggingface.co");
    size_t n = strlen(e->endpoint);
    while (n && e->endpoint[n - 1] == '/') e->endpoint[--n] = 0;
    if (strncmp(e->endpoint, "https://", 8) && strncmp(e->endpoint, "http://", 7))
        return i4_error("HF_ENDPOINT must start with https:// or http://");
    for (const char *p = e->endpoint; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f) return i4_error("HF_ENDPOINT holds a blank or control character");
    const char *tok = getenv("HF_TOKEN");
    if (tok && *tok) {
        snprintf(e->token, sizeof e->token, "%s", tok);
        snprintf(e->token_from, sizeof e->token_from, "HF_TOKEN");
    } else {
        char path[PATH_MAX];
        const char *tp = getenv("HF_TOKEN_PATH"), *home = getenv("HF_HOME");
        if (tp && *tp) snprintf(path, sizeof path, "%s", tp);
        else if (home && *home) snprintf(path, sizeof path, "%s/token", home);
        else snprintf(path, sizeof path, "%s/.cache/huggingface/token", getenv("HOME") ? getenv("HOME") : "");
        snprintf(e->token_from, sizeof e->token_from, "%s", path);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(e->token, sizeof e->token, f)) e->token[0] = 0;
            fclose(f);
        }
    }
    trim(e->token);
    if (e->token[0] && !token_ok(e->token))
        return i4_error("the Hugging Face token (from %s) holds a blank or control character", e->token_from);
    i4_hf_hub_dir(e->hub, sizeof e->hub);
    return 0;
}

/* ------------------------------------------------------------ HTTP */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;
static void curl_init(void) { curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }

typedef struct {
    char error_code[64];   /* X-Error-Code */
    char linked_etag[132], etag[132];
    int64_t linked_size, content_length;
} resp_headers;

static void headers_reset(resp_headers *h) {
    memset(h, 0, sizeof *h);
    h->linked_size = h->content_length = -1;
}

static void header_value(char *out, size_t size, const char *v, size_t n) {
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
    while (n && *v == ' ') v++, n--;
    if (n >= size) n = size - 1;
    memcpy(out, v, n);
    out[n] = 0;
}

static int64_t parse_size(const char *v) {
    if (!isdigit((unsigned char)v[0])) return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || x > MAX_FILE_SIZE) return -1;
    return (int64_t)x;
}

static size_t on_header(char *buf, size_t size, size_t nmemb, void *user) {
    resp_headers *h = user;
    size_t len = size * nmemb;
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) { /* a new response of a redirect chain */
        headers_reset(h);
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon) return len;
    size_t klen = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vlen = len - klen - 1;
    char val[160];
    header_value(val, sizeof val, v, vlen);
#define IS(name) (klen == strlen(name) && !strncasecmp(buf, name, klen))
    if (IS("X-Error-Code")) snprintf(h->error_code, sizeof h->error_code, "%s", val);
    else if (IS("X-Linked-Etag")) snprintf(h->linked_etag, sizeof h->linked_etag, "%s", val);
    else if (IS("ETag")) snprintf(h->etag, sizeof h->etag, "%s", val);
    else if (IS("X-Linked-Size")) h->linked_size = parse_size(val);
    else if (IS("Content-Length")) h->content_length = parse_size(val);
#undef IS
    return len;
}

typedef struct {
    CURL *c;
    struct curl_slist *headers;
    resp_headers h;
} http;

static int http_open(http *x, const hub_env *e, const char *url, int follow) {
    pthread_once(&curl_once, curl_init);
    if (!curl_ready) return i4_error("curl_global_init failed");
    memset(x, 0, sizeof *x);
    headers_reset(&x->h);
    x->c = curl_easy_init();
    if (!x->c) return i4_error("curl_easy_init failed");
    curl_easy_setopt(x->c, CURLOPT_URL, url);
    curl_easy_setopt(x->c, CURLOPT_USERAGENT, "ideogram4.c/" I4_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(x->c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(x->c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(x->c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(x->c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer fails after 2 minutes */
    curl_easy_setopt(x->c, CURLOPT_LOW_SPEED_TIME, 120L);
    curl_easy_setopt(x->c, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    curl_easy_setopt(x->c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(x->c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->c, CURLOPT_HEADERDATA, &x->h);
    /* sizes and hashes are of the stored bytes: no content coding */
    x->headers = curl_slist_append(NULL, "Accept-Encoding: identity");
    if (x->headers && e->token[0]) {
        /* libcurl sends a custom Authorization header only to the host of
         * the first URL, never to the CDN a redirect leads to. */
        char auth[1100];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", e->token);
        struct curl_slist *more = curl_slist_append(x->headers, auth);
        if (!more) curl_slist_free_all(x->headers);
        x->headers = more;
    }
    if (!x->headers) {
        curl_easy_cleanup(x->c);
        return i4_error("out of memory");
    }
    curl_easy_setopt(x->c, CURLOPT_HTTPHEADER, x->headers);
    return 0;
}

static void http_close(http *x) {
    if (x->c) curl_easy_cleanup(x->c);
    curl_slist_free_all(x->headers);
    memset(x, 0, sizeof *x);
}

static long http_status(http *x) {
    long code = 0;
    curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

/* The message for an HTTP failure about `what` (a file or the listing). */
static int http_fail(const hub_env *e, const char *repo, const char *rev, const char *what, long code,
                     const resp_headers *h) {
    const char *ec = h->error_code;
    if ((code == 401 || code == 403) && strcmp(ec, "RepoNotFound") != 0) {
        char how[PATH_MAX + 200];
        if (e->token[0])
            snprintf(how, sizeof how, "a token was sent (from %s): it was refused, or its account has not accepted the licence",
                     e->token_from);
        else
            snprintf(how, sizeof how, "no token was found: HF_TOKEN is not set and there is no token file at %s",
                     e->token_from);
        return i4_error("%s: access denied (HTTP %ld). This repository is gated: accept the licence at %s/%s and "
                        "log in (set HF_TOKEN or run `hf auth login`); %s.",
                        what, code, e->endpoint, repo, how);
    }
    if (code == 404 || code == 401 || code == 403) {
        if (!strcmp(ec, "RevisionNotFound"))
            return i4_error("%s: revision '%s' not found in %s (HTTP %ld)", what, rev, repo, code);
        if (!strcmp(ec, "EntryNotFound")) return i4_error("%s: file not found in %s@%s (HTTP %ld)", what, repo, rev, code);
        return i4_error("%s: repository %s or revision '%s' not found at %s (HTTP %ld); check --repo and --revision "
                        "(a private repository also needs a token: HF_TOKEN or `hf auth login`)",
                        what, repo, rev, e->endpoint, code);
    }
    if (code == 416) return i4_error("%s: the server refused the resume range (HTTP 416)", what);
    return i4_error("%s: HTTP %ld from %s", what, code, e->endpoint);
}

static int curl_fail(CURLcode rc, const char *what, const char *errbuf) {
    return i4_error("%s: %s", what, errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

/* ------------------------------------------------------------ listing */


typedef struct {
    char *path;
    char etag[72];
    uint64_t size;
    int have_size;
} hub_file;

typedef struct {
    char commit[48];
    hub_file *files;
    int n;
} listing;

static void listing_free(listing *l) {
    for (int i = 0; i < l->n; i++) free(l->files[i].path);
    free(l->files);
    memset(l, 0, sizeof *l);
}

static int included(const i4_hub_request *rq, const char *path) {
    if (!rq->include || rq->n_include <= 0) return 1;
    for (int i = 0; i < rq->n_include; i++)
        if (fnmatch(rq->include[i], path, 0) == 0) return 1;
    return 0;
}

static int get_listing(const hub_env *e, const i4_hub_request *rq, const char *rev, listing *out) {
    memset(out, 0, sizeof *out);
    char url[2048];
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s?blobs=true", e->endpoint, rq->repo, rev);
    http x;
    if (http_open(&x, e, url, 1) != 0) return -1;
    i4_growbuf m = {.limit = LISTING_LIMIT};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(x.c, CURLOPT_WRITEFUNCTION, i4_growbuf_curl_write);
    curl_easy_setopt(x.c, CURLOPT_WRITEDATA, &m);
    curl_easy_setopt(x.c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(x.c, CURLOPT_TIMEOUT, 120L);
    CURLcode rc = curl_easy_perform(x.c);
    long code = http_status(&x);
    resp_headers h = x.h;
    http_close(&x);
    char what[400];
    snprintf(what, sizeof what, "listing %s@%s", rq->repo, rev);
    if (m.overflow) {
        free(m.data);
        return i4_error("%s: the answer is larger than %u MB", what, LISTING_LIMIT >> 20);
    }
    if (rc != CURLE_OK) {
        free(m.data);
        return curl_fail(rc, what, errbuf);
    }
    if (code != 200) {
        free(m.data);
        return http_fail(e, rq->repo, rev, what, code, &h);
    }
    json_error_t jerr;
    json_t *root = m.data ? json_loadb(m.data, m.len, 0, &jerr) : NULL;
    free(m.data);
    const char *sha = json_string_value(json_object_get(root, "sha"));
    json_t *sib = json_object_get(root, "siblings");
    if (!root || !sha || !is_hex(sha, 40) || !json_is_array(sib) || json_array_size(sib) > MAX_FILES) {
        json_decref(root);
        return i4_error("%s: unexpected answer (no 40-digit \"sha\" or no \"siblings\" list)", what);
    }
    snprintf(out->commit, sizeof out->commit, "%s", sha);
    out->files = calloc(json_array_size(sib) + 1, sizeof *out->files);
    if (!out->files) {
        json_decref(root);
        return i4_error("out of memory");
    }
    size_t i;
    json_t *it;
    json_array_foreach(sib, i, it) {
        const char *p = json_string_value(json_object_get(it, "rfilename"));
        if (!p || !i4_hub_valid_repo_path(p)) {
            json_decref(root);
            listing_free(out);
            return i4_error("%s: the Hub listed an unsafe file name (absolute, with '..', or control characters); "
                            "nothing was downloaded",
                            what);
        }
        if (!included(rq, p)) continue;
        hub_file *f = &out->files[out->n];
        f->path = strdup(p);
        if (!f->path) {
            json_decref(root);
            listing_free(out);
            return i4_error("out of memory");
        }
        json_t *sz = json_object_get(it, "size");
        if (json_is_integer(sz) && json_integer_value(sz) >= 0 && (uint64_t)json_integer_value(sz) <= MAX_FILE_SIZE) {
            f->size = (uint64_t)json_integer_value(sz);
            f->have_size = 1;
        }
        out->n++;
    }
    json_decref(root);
    return 0;
}

/* HEAD the resolve URL: the etag and size of one file. */
static int head_file(const hub_env *e, const char *repo, const char *rev, const char *path, char *etag, size_t etag_size,
                     uint64_t *size) {
    char *esc_path = NULL;
    {
        /* escape each segment, keep the slashes */
        size_t cap = strlen(path) * 3 + 1;
        esc_path = malloc(cap);
        if (!esc_path) return i4_error("out of memory");
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
            if (isalnum(*p) || strchr("/-_.~", *p)) esc_path[o++] = (char)*p;
            else o += (size_t)snprintf(esc_path + o, cap - o, "%%%02X", *p);
        }
        esc_path[o] = 0;
    }
    char url[4096];
    int n = snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", e->endpoint, repo, rev, esc_path);
    free(esc_path);
    if (n < 0 || (size_t)n >= sizeof url) return i4_error("%s: URL too long", path);
    http x;
    if (http_open(&x, e, url, 0) != 0) return -1;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(x.c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(x.c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(x.c, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(x.c);
    long code = http_status(&x);
    resp_headers h = x.h;
    http_close(&x);
    if (rc != CURLE_OK) return curl_fail(rc, path, errbuf);
    if (code != 200 && !(code >= 301 && code <= 308)) return http_fail(e, repo, rev, path, code, &h);
    const char *tag = h.linked_etag[0] ? h.linked_etag : h.etag;
    int64_t sz = h.linked_etag[0] ? h.linked_size : h.content_length;
    if (code != 200 && !h.linked_etag[0])
        return i4_error("%s: the Hub redirected (HTTP %ld) without naming the file (no X-Linked-Etag)", path, code);
    /* "W/" (weak) prefix and quotes off */
    if (!strncmp(tag, "W/", 2)) tag += 2;
    char clean[132];
    snprintf(clean, sizeof clean, "%s", tag);
    size_t cl = strlen(clean);
    if (cl >= 2 && clean[0] == '"' && clean[cl - 1] == '"') {
        memmove(clean, clean + 1, cl - 2);
        clean[cl - 2] = 0;
    }
    for (char *p = clean; *p; p++) *p = (char)tolower((unsigned char)*p);
    if (!is_hex(clean, 64) && !is_hex(clean, 40))
        return i4_error("%s: the Hub gave no usable ETag (expected a sha256 or a git sha1)", path);
    if (sz < 0) return i4_error("%s: the Hub gave no file size", path);
    snprintf(etag, etag_size, "%s", clean);
    *size = (uint64_t)sz;
    return 0;
}

/* ------------------------------------------------------------ one file */

typedef struct {
    const i4_hub_request *rq;
    i4_hub_progress *prog;
    CURL *c;
    int fd;
    EVP_MD_CTX *md;
    int git;              /* hashing as a git blob (sha1 of "blob N\0" + data) */
    uint64_t have, expect;
    int write_errno, too_big, cancelled, http_error, checked;
    double last_report;
} sink;

static int report(sink *k, int finished) {
    if (!k->rq->progress) return 0;
    k->prog->file_done = k->have;
    k->prog->finished = finished;
    return k->rq->progress(k->rq->user, k->prog);
}

static int md_restart(sink *k) {
    const EVP_MD *type = k->git ? EVP_sha1() : EVP_sha256();
    if (EVP_DigestInit_ex(k->md, type, NULL) != 1) return -1;
    if (k->git) {
        char hdr[64];
        int n = snprintf(hdr, sizeof hdr, "blob %" PRIu64, k->expect);
        if (EVP_DigestUpdate(k->md, hdr, (size_t)n + 1) != 1) return -1; /* with its NUL */
    }
    return 0;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *user) {
    sink *k = user;
    size_t len = size * nmemb;
    if (!k->checked) {
        long code = 0;
        curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &code);
        if (code == 200 && k->have > 0) { /* the Range was ignored: start over */
            if (ftruncate(k->fd, 0) != 0 || lseek(k->fd, 0, SEEK_SET) != 0 || md_restart(k) != 0) {
                k->write_errno = errno ? errno : EIO;
                return 0;
            }
            k->have = 0;
        } else if (code != 200 && code != 206) {
            k->http_error = 1;
            return len; /* the error body is dropped; the status says it */
        }
        k->checked = 1;
    }
    if (k->http_error) return len;
    if (len > k->expect - k->have) {
        k->too_big = 1;
        return 0;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(k->fd, buf + off, len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            k->write_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    EVP_DigestUpdate(k->md, buf, len);
    k->have += len;
    return len;
}

static int on_xfer(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    sink *k = user;
    double now = i4_now_seconds();
    if (now - k->last_report < 0.1) return 0;
    k->last_report = now;
    if (report(k, 0) != 0) {
        k->cancelled = 1;
        return 1;
    }
    return 0;
}

static int transient(CURLcode rc) {
    return rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
           rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_COULDNT_CONNECT || rc == CURLE_GOT_NOTHING ||
           rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
}

static int open_partial(const char *tmp, uint64_t expect, int *fd_out, uint64_t *have) {
    struct stat st;
    *have = 0;
    if (lstat(tmp, &st) == 0) {
        if (!S_ISREG(st.st_mode)) return i4_error("%s exists and is not a regular file", tmp);
        *have = (uint64_t)st.st_size <= expect ? (uint64_t)st.st_size : 0;
    }
    int fd = open(tmp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return errno == ENOSPC ? i4_write_failed(ENOSPC, tmp) : i4_error("cannot create %s: %s", tmp, strerror(errno));
    if (*have == 0 && ftruncate(fd, 0) != 0) {
        close(fd);
        return i4_error("cannot truncate %s: %s", tmp, strerror(errno));
    }
    *fd_out = fd;
    return 0;
}

/* Hash the bytes a previous try left (the resume point). */
static int hash_existing(sink *k) {
    char *buf = malloc(1 << 20);
    if (!buf) return i4_error("out of memory");
    uint64_t left = k->have;
    if (lseek(k->fd, 0, SEEK_SET) != 0) left = UINT64_MAX;
    while (left && left != UINT64_MAX) {
        ssize_t r = read(k->fd, buf, left < (1u << 20) ? (size_t)left : (1u << 20));
        if (r <= 0) {
            left = UINT64_MAX;
            break;
        }
        EVP_DigestUpdate(k->md, buf, (size_t)r);
        left -= (uint64_t)r;
    }
    free(buf);
    if (left == UINT64_MAX || lseek(k->fd, (off_t)k->have, SEEK_SET) != (off_t)k->have)
        return i4_error("cannot read the partial download back");
    return 0;
}

static int space_check(const char *dir, const char *path, uint64_t need) {
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0) return 0; /* unknown: the writes will tell */
    uint64_t avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    if (avail >= need + SPACE_MARGIN) return 0;
    char a[32], b[32];
    human(need, a, sizeof a);
    human(avail, b, sizeof b);
    return i4_error("not enough disk space for %s in %s: %s more are needed, %s are free. Free some space (or set "
                    "HF_HUB_CACHE to a folder on a bigger disk) and run the download again: it resumes.",
                    path, dir, a, b);
}

/* GET url into tmp (resuming), verify against etag, rename to final. */
static int fetch(const hub_env *e, const i4_hub_request *rq, i4_hub_progress *prog, const char *repo, const char *rev,
                 const char *path, const char *etag, uint64_t expect, const char *dir, const char *tmp,
                 const char *final, int (*check)(const char *, void *), void *check_user) {
    char url[4096];
    {
        char esc[3200];
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *)path; *p && o + 4 < sizeof esc; p++) {
            if (isalnum(*p) || strchr("/-_.~", *p)) esc[o++] = (char)*p;
            else o += (size_t)snprintf(esc + o, sizeof esc - o, "%%%02X", *p);
        }
        esc[o] = 0;
        snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", e->endpoint, repo, rev, esc);
    }
    sink k = {.rq = rq, .prog = prog, .fd = -1, .expect = expect, .git = strlen(etag) == 40};
    if (open_partial(tmp, expect, &k.fd, &k.have) != 0) return -1;
    int rc = -1;
    k.md = EVP_MD_CTX_new();
    if (!k.md || md_restart(&k) != 0) {
        i4_error("cannot start the hash");
        goto out;
    }
    if (k.have && hash_existing(&k) != 0) goto out;
    if (space_check(dir, path, expect - k.have) != 0) goto out;
    for (int attempt = 0; k.have < expect; attempt++) {
        http x;
        if (http_open(&x, e, url, 1) != 0) goto out;
        char errbuf[CURL_ERROR_SIZE] = "";
        k.c = x.c;
        k.checked = k.http_error = 0;
        curl_easy_setopt(x.c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(x.c, CURLOPT_WRITEDATA, &k);
        curl_easy_setopt(x.c, CURLOPT_XFERINFOFUNCTION, on_xfer);
        curl_easy_setopt(x.c, CURLOPT_XFERINFODATA, &k);
        curl_easy_setopt(x.c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(x.c, CURLOPT_ERRORBUFFER, errbuf);
        if (k.have) curl_easy_setopt(x.c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)k.have);
        CURLcode cr = curl_easy_perform(x.c);
        long code = http_status(&x);
        resp_headers h = x.h;
        http_close(&x);
        k.c = NULL;
        if (k.cancelled) {
            i4_error("%s: download cancelled (the partial file is kept; it resumes next time)", path);
            goto out;
        }
        if (k.write_errno) {
            char a[32], b[32];
            human(k.have, a, sizeof a);
            human(expect, b, sizeof b);
            if (k.write_errno == ENOSPC || k.write_errno == EDQUOT)
                i4_error("the disk is full: writing %s into %s stopped at %s of %s. Free some space (or set "
                         "HF_HUB_CACHE to a folder on a bigger disk) and run the download again: it resumes.",
                         path, dir, a, b);
            else i4_error("writing %s: %s", tmp, strerror(k.write_errno));
            goto out;
        }
        if (k.too_big) {
            i4_error("%s: the server sent more than the %" PRIu64 " bytes the Hub announced; the partial file was deleted",
                     path, expect);
            unlink(tmp);
            goto out;
        }
        if (k.http_error || (cr == CURLE_OK && code != 200 && code != 206)) {
            http_fail(e, repo, rev, path, code, &h);
            if (code == 416) unlink(tmp);
            goto out;
        }
        if (cr == CURLE_OK && k.have < expect) cr = CURLE_PARTIAL_FILE;
        if (cr != CURLE_OK) {
            if (!transient(cr) || attempt >= RETRIES) {
                curl_fail(cr, path, errbuf);
                i4_error_prefix("downloading (the partial file is kept; run again to resume)");
                goto out;
            }
            struct timespec ts = {0, 250000000L * (attempt + 1)};
            nanosleep(&ts, NULL);
        }
    }
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(k.md, dig, &dlen);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < dlen; i++) snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    if (strcmp(hex, etag) != 0) {
        unlink(tmp);
        i4_error("%s: checksum mismatch (expected %s %s, got %s); the download was deleted, run again", path,
                 k.git ? "git sha1" : "sha256", etag, hex);
        goto out;
    }
    if (fsync(k.fd) != 0) {
        i4_write_failed(errno, "fsync failed");
        goto out;
    }
    close(k.fd);
    k.fd = -1;
    if (check && check(tmp, check_user) != 0) {
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, final) != 0) {
        i4_error("cannot rename %s to %s: %s", tmp, final, strerror(errno));
        goto out;
    }
    report(&k, 1);
    rc = 0;
out:
    if (k.fd >= 0) close(k.fd);
    EVP_MD_CTX_free(k.md);
    return rc;
}

/* ------------------------------------------------------------ the cache */

/* mkdir that accepts an existing real folder only (never a link). */
static int strict_mkdir(const char *p) {
    if (mkdir(p, 0755) == 0) return 0;
    struct stat st;
    if (errno == EEXIST && lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return i4_error("cannot create the folder %s: %s", p, errno == EEXIST ? "something else is there" : strerror(errno));
}

/* snapshots/<commit>/<path> → ../(depth)../blobs/<etag>; the folders on the
 * way are created here and may not be links. */
static int link_file(const char *snap, const char *path, const char *etag) {
    char p[PATH_MAX], target[PATH_MAX];
    int depth = 0;
    size_t sl = strlen(snap);
    if (sl + 1 + strlen(path) >= sizeof p) return i4_error("path too long: %s", path);
    snprintf(p, sizeof p, "%s/%s", snap, path);
    for (char *q = p + sl + 1; *q; q++) {
        if (*q != '/') continue;
        *q = 0;
        int r = strict_mkdir(p);
        *q = '/';
        if (r != 0) return -1;
        depth++;
    }
    size_t o = 0;
    for (int i = 0; i < depth + 2; i++) o += (size_t)snprintf(target + o, sizeof target - o, "../");
    snprintf(target + o, sizeof target - o, "blobs/%s", etag);
    struct stat st;
    if (lstat(p, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return i4_error("%s is a folder, expected a file", p);
        char old[PATH_MAX];
        ssize_t n = readlink(p, old, sizeof old - 1);
        if (n >= 0) {
            old[n] = 0;
            if (!strcmp(old, target)) return 0;
        }
        if (unlink(p) != 0) return i4_error("cannot replace %s: %s", p, strerror(errno));
    }
    if (symlink(target, p) != 0) return i4_error("cannot link %s: %s", p, strerror(errno));
    return 0;
}

static int write_ref(const char *base, const char *rev, const char *commit) {
    char dir[PATH_MAX], tmp[PATH_MAX + 16], path[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/refs", base);
    if (i4_mkdirs(dir) != 0) return -1;
    snprintf(path, sizeof path, "%s/%s", dir, rev);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return i4_error("cannot write %s: %s", tmp, strerror(errno));
    size_t n = strlen(commit);
    int ok = write(fd, commit, n) == (ssize_t)n;
    if (close(fd) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return i4_write_failed(errno, "cannot write the ref");
    }
    return 0;
}

int i4_hub_download_snapshot(const i4_hub_request *rq, char *out, size_t out_size) {
    const char *rev = rq->revision && *rq->revision ? rq->revision : "main";
    if (!i4_hub_valid_repo(rq->repo)) return i4_error("--repo '%s' is not of the form ORG/NAME", rq->repo ? rq->repo : "");
    if (!i4_hub_valid_revision(rev))
        return i4_error("--revision '%s': only letters, digits, '-', '_' and '.' are accepted", rev);
    hub_env e;
    if (env_load(&e) != 0) return -1;
    listing l;
    if (get_listing(&e, rq, rev, &l) != 0) return -1;
    if (l.n == 0) {
        listing_free(&l);
        return i4_error("%s@%s: no file to download%s", rq->repo, rev, rq->n_include ? " (nothing matches --include)" : "");
    }
    const char *slash = strchr(rq->repo, '/');
    char base[PATH_MAX], blobs[PATH_MAX + 8], snap[PATH_MAX + 64];
    snprintf(base, sizeof base, "%s/models--%.*s--%s", e.hub, (int)(slash - rq->repo), rq->repo, slash + 1);
    snprintf(blobs, sizeof blobs, "%s/blobs", base);
    snprintf(snap, sizeof snap, "%s/snapshots/%s", base, l.commit);
    int rc = -1;
    if (i4_mkdirs(blobs) != 0 || i4_mkdirs(snap) != 0) goto done;
    i4_hub_progress prog = {.count = l.n};
    for (int i = 0; i < l.n; i++) prog.total += l.files[i].size;
    for (int i = 0; i < l.n; i++) {
        hub_file *f = &l.files[i];
        uint64_t size;
        if (head_file(&e, rq->repo, l.commit, f->path, f->etag, sizeof f->etag, &size) != 0) goto done;
        if (f->have_size) prog.total -= f->size;
        prog.total += size;
        f->size = size;
        prog.path = f->path;
        prog.index = i + 1;
        prog.file_size = size;
        prog.file_done = 0;
        char blob[PATH_MAX + 80], tmp[PATH_MAX + 100];
        snprintf(blob, sizeof blob, "%s/%s", blobs, f->etag);
        snprintf(tmp, sizeof tmp, "%s.incomplete", blob);
        struct stat st;
        if (lstat(blob, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size) {
            prog.file_done = size;
            prog.finished = 1;
            if (rq->progress && rq->progress(rq->user, &prog) != 0) {
                i4_error("download cancelled");
                goto done;
            }
        } else if (fetch(&e, rq, &prog, rq->repo, l.commit, f->path, f->etag, size, blobs, tmp, blob, NULL, NULL) != 0) {
            goto done;
        }
        prog.done += size;
        if (link_file(snap, f->path, f->etag) != 0) goto done;
    }
    if (strcmp(rev, l.commit) != 0 && write_ref(base, rev, l.commit) != 0) goto done;
    if ((size_t)snprintf(out, out_size, "%s", snap) >= out_size) {
        i4_error("path too long");
        goto done;
    }
    rc = 0;
done:
    listing_free(&l);
    return rc;
}

int i4_hub_is_commit(const char *s) { return s && is_hex(s, 40); }

int i4_hub_resolve_commit(const i4_hub_request *rq, char *commit, size_t size) {
    const char *rev = rq->revision && *rq->revision ? rq->revision : "main";
    if (!i4_hub_valid_repo(rq->repo)) return i4_error("repository '%s' is not of the form ORG/NAME", rq->repo ? rq->repo : "");
    if (!i4_hub_valid_revision(rev)) return i4_error("revision '%s' is not acceptable", rev);
    if (size < 41) return i4_error("internal error: commit buffer too small");
    if (i4_hub_is_commit(rev)) { /* already a commit */
        snprintf(commit, size, "%s", rev);
        return 0;
    }
    hub_env e;
    if (env_load(&e) != 0) return -1;
    listing l;
    if (get_listing(&e, rq, rev, &l) != 0) return -1;
    snprintf(commit, size, "%s", l.commit);
    listing_free(&l);
    return 0;
}

int i4_hub_download_file(const i4_hub_request *rq, const char *path_in_repo, const char *dest,
                         int (*check)(const char *, void *), void *check_user) {
    const char *rev = rq->revision && *rq->revision ? rq->revision : "main";
    if (!i4_hub_valid_repo(rq->repo)) return i4_error("repository '%s' is not of the form ORG/NAME", rq->repo ? rq->repo : "");
    if (!i4_hub_valid_revision(rev)) return i4_error("revision '%s' is not acceptable", rev);
    if (!i4_hub_valid_repo_path(path_in_repo)) return i4_error("file name '%s' is not acceptable", path_in_repo);
    hub_env e;
    if (env_load(&e) != 0) return -1;
    char dir[PATH_MAX], tmp[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s", dest);
    char *slash = strrchr(dir, '/');
    const char *name = slash ? slash + 1 : dest;
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    if (!*name) return i4_error("no file name in %s", dest);
    snprintf(tmp, sizeof tmp, "%s/.%s.incomplete", dir, name);
    char etag[72];
    uint64_t size;
    if (head_file(&e, rq->repo, rev, path_in_repo, etag, sizeof etag, &size) != 0) return -1;
    i4_hub_progress prog = {.path = path_in_repo, .index = 1, .count = 1, .file_size = size, .total = size};
    return fetch(&e, rq, &prog, rq->repo, rev, path_in_repo, etag, size, dir, tmp, dest, check, check_user);
}
