/*
 * st_writer.c — writes safetensors files with tensors in name order and a
 * compact JSON header padded to a multiple of 8 bytes, so the same tensors
 * always give the same bytes. Files are written whole or not at all
 * (i4_write_file_atomic).
 *
 * Two front ends share one path (file plan -> header -> data): the
 * in-memory writer (i4_st_writer_*, the tiny model) and the streaming one
 * (i4_st_stream_*, the full-size model), whose tensors produce their bytes
 * chunk by chunk through a callback, so a shard of any size is written with
 * one chunk buffer in memory. The same tensors give the same file bytes
 * through either.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "tensor/safetensors.h"

/* Bytes produced and written per fill call. */
#define CHUNK_BYTES ((size_t)4 << 20)

typedef struct {
    char *name;
    i4_dtype dtype;
    int ndim;
    int64_t shape[I4_MAX_DIMS];
    void *data;
    size_t nbytes;
} pending;

struct i4_st_writer {
    pending *items;
    size_t n, cap;
    json_t *metadata;
    size_t data_bytes;
};

i4_st_writer *i4_st_writer_new(void) {
    i4_st_writer *w = calloc(1, sizeof *w);
    if (w) w->metadata = json_object();
    return w;
}

void i4_st_writer_free(i4_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->items[i].name);
        free(w->items[i].data);
    }
    free(w->items);
    json_decref(w->metadata);
    free(w);
}

int i4_st_writer_add(i4_st_writer *w, const char *name, i4_dtype dtype, int ndim, const int64_t *shape,
                     const void *data) {
    if (ndim < 0 || ndim > I4_MAX_DIMS) return i4_error("writer: tensor '%s' has %d dims", name, ndim);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->items[i].name, name) == 0) return i4_error("writer: tensor '%s' added twice", name);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return i4_error("writer: tensor '%s' has a negative dim", name);
        numel *= (size_t)shape[i];
    }
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        pending *ni = realloc(w->items, nc * sizeof *ni);
        if (!ni) return i4_error("writer: out of memory");
        w->items = ni;
        w->cap = nc;
    }
    pending *p = &w->items[w->n];
    memset(p, 0, sizeof *p);
    p->nbytes = numel * i4_dtype_size(dtype);
    p->data = malloc(p->nbytes ? p->nbytes : 1);
    size_t nl = strlen(name) + 1;
    p->name = malloc(nl);
    if (!p->data || !p->name) {
        free(p->data);
        free(p->name);
        return i4_error("writer: out of memory for tensor '%s'", name);
    }
    memcpy(p->name, name, nl);
    if (p->nbytes) memcpy(p->data, data, p->nbytes);
    p->dtype = dtype;
    p->ndim = ndim;
    for (int i = 0; i < ndim; i++) p->shape[i] = shape[i];
    w->data_bytes += p->nbytes;
    w->n++;
    return 0;
}

int i4_st_writer_add_f32(i4_st_writer *w, const char *name, int ndim, const int64_t *shape, const float *data) {
    return i4_st_writer_add(w, name, I4_DT_F32, ndim, shape, data);
}

int i4_st_writer_set_metadata(i4_st_writer *w, const char *key, const char *value) {
    return json_object_set_new(w->metadata, key, json_string(value)) == 0 ? 0 : i4_error("writer: bad metadata");
}

size_t i4_st_writer_data_bytes(const i4_st_writer *w) { return w->data_bytes; }

/* ------------------------------------------------------ the shared path */

/* One tensor to write: its bytes in memory (data) or produced by fill. */
typedef struct {
    const char *name;
    i4_dtype dtype;
    int ndim;
    const int64_t *shape;
    uint64_t nbytes;
    const void *data;
    const i4_st_source *src; /* the streamed tensor, or NULL */
} item;

static int cmp_item_ptr(const void *a, const void *b) {
    return strcmp((*(const item *const *)a)->name, (*(const item *const *)b)->name);
}

/* Ordered item pointers, or NULL (out of memory). */
static const item **sorted_items(const item *items, size_t n) {
    const item **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) v[i] = &items[i];
    qsort(v, n, sizeof *v, cmp_item_ptr);
    return v;
}

/* The header of a file holding items[0..n) (already ordered), unpadded:
 * a malloc'd string, or NULL with an error. */
static char *header_text(const item **items, size_t n, const json_t *metadata) {
    json_t *hdr = json_object();
    if (metadata && json_object_size(metadata)) json_object_set(hdr, "__metadata__", (json_t *)metadata);
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        json_t *sh = json_array();
        for (int d = 0; d < items[i]->ndim; d++) json_array_append_new(sh, json_integer(items[i]->shape[d]));
        json_object_set_new(e, "dtype", json_string(i4_dtype_name(items[i]->dtype)));
        json_object_set_new(e, "shape", sh);
        json_t *o = json_array();
        json_array_append_new(o, json_integer((json_int_t)off));
        json_array_append_new(o, json_integer((json_int_t)(off + items[i]->nbytes)));
        json_object_set_new(e, "data_offsets", o);
        json_object_set_new(hdr, items[i]->name, e);
        off += items[i]->nbytes;
    }
    /* JSON_PRESERVE_ORDER keeps insertion (= name) order; compact separators. */
    char *text = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(hdr);
    if (!text) i4_error("cannot serialise a safetensors header");
    return text;
}

static uint64_t padded_len(size_t header_len) { return ((uint64_t)header_len + 7) & ~(uint64_t)7; }

typedef struct {
    const item **items;
    size_t n;
    const char *header;
    i4_st_progress_fn progress;
    void *user;
    uint64_t done; /* bytes written so far by this save (all its files) */
} st_file;

/* u64 header length (little endian), the header padded with spaces to a
 * multiple of 8, then the tensor bytes in order. */
static int write_st_file(FILE *f, void *ctx) {
    st_file *sf = ctx;
    size_t hl = strlen(sf->header);
    uint64_t padded = padded_len(hl);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(padded >> (8 * i));
    int ok = fwrite(len, 1, 8, f) == 8 && fwrite(sf->header, 1, hl, f) == hl;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    if (!ok) return i4_write_failed(errno, "write failed");
    sf->done += 8 + padded;
    uint8_t *buf = NULL;
    for (size_t i = 0; i < sf->n; i++) {
        const item *it = sf->items[i];
        if (it->data) {
            if (it->nbytes && fwrite(it->data, 1, it->nbytes, f) != it->nbytes) {
                ok = 0;
                break;
            }
            sf->done += it->nbytes;
            continue;
        }
        if (!buf && !(buf = malloc(CHUNK_BYTES))) return i4_error("out of memory");
        for (uint64_t off = 0; off < it->nbytes;) {
            size_t len_c = it->nbytes - off < CHUNK_BYTES ? (size_t)(it->nbytes - off) : CHUNK_BYTES;
            if (it->src->fill(it->src->ctx, buf, off, len_c) != 0) {
                free(buf);
                return i4_error_prefix("tensor %s", it->name);
            }
            if (fwrite(buf, 1, len_c, f) != len_c) {
                ok = 0;
                break;
            }
            off += len_c;
            sf->done += len_c;
            if (sf->progress) sf->progress(sf->user, sf->done);
        }
        if (!ok) break;
    }
    free(buf);
    if (!ok || ferror(f)) return i4_write_failed(errno, "write failed");
    if (sf->progress) sf->progress(sf->user, sf->done);
    return 0;
}

/* How items are split into files: file k holds ordered items
 * [first[k], first[k + 1]). shard_bytes 0 = one file. */
typedef struct {
    const item **v;
    size_t n, n_files;
    size_t *first; /* [n_files + 1] */
    uint64_t data_bytes;
} file_plan;

static void plan_free(file_plan *p) {
    free(p->v);
    free(p->first);
}

static int plan_files(const item *items, size_t n, uint64_t shard_bytes, file_plan *p) {
    memset(p, 0, sizeof *p);
    p->n = n;
    p->v = sorted_items(items, n);
    p->first = malloc((n + 2) * sizeof *p->first);
    if (!p->v || !p->first) {
        plan_free(p);
        return i4_error("writer: out of memory");
    }
    for (size_t i = 1; i < n; i++)
        if (strcmp(p->v[i - 1]->name, p->v[i]->name) == 0) {
            const char *dup = p->v[i]->name;
            plan_free(p);
            return i4_error("writer: tensor '%s' added twice", dup);
        }
    /* Shards are assigned greedily in name order. */
    uint64_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || (shard_bytes && acc + p->v[i]->nbytes > shard_bytes && acc > 0)) {
            p->first[p->n_files++] = i;
            acc = 0;
        }
        acc += p->v[i]->nbytes;
        p->data_bytes += p->v[i]->nbytes;
    }
    if (p->n_files == 0) p->first[p->n_files++] = 0; /* no tensors: one empty file */
    p->first[p->n_files] = n;
    return 0;
}

static void file_name(const char *stem, size_t k, size_t n_files, int sharded, char *buf, size_t size) {
    if (sharded) snprintf(buf, size, "%s-%05zu-of-%05zu.safetensors", stem, k + 1, n_files);
    else snprintf(buf, size, "%s.safetensors", stem);
}

/* Write (or, when each is set, only describe through it) the files of items:
 * dir/<stem>.safetensors when !sharded, else the shards and the index. */
static int save_items(const item *items, size_t n, const json_t *metadata, const char *dir, const char *stem,
                      int sharded, uint64_t shard_bytes, i4_st_progress_fn progress, void *user,
                      i4_st_file_fn each, void *each_user) {
    file_plan p;
    if (plan_files(items, n, sharded ? shard_bytes : 0, &p) != 0) return -1;
    int rc = 0;
    json_t *wm = sharded ? json_object() : NULL;
    st_file sf = {.progress = progress, .user = user};
    for (size_t k = 0; k < p.n_files && rc == 0; k++) {
        char name[256], path[PATH_MAX];
        file_name(stem, k, p.n_files, sharded, name, sizeof name);
        if (dir) snprintf(path, sizeof path, "%s/%s", dir, name);
        else snprintf(path, sizeof path, "%s", stem);
        const item **fi = p.v + p.first[k];
        size_t cnt = p.first[k + 1] - p.first[k];
        char *header = header_text(fi, cnt, metadata);
        if (!header) {
            rc = -1;
            break;
        }
        if (each) {
            uint64_t bytes = 8 + padded_len(strlen(header));
            const i4_st_source **srcs = malloc((cnt ? cnt : 1) * sizeof *srcs);
            if (!srcs) rc = i4_error("writer: out of memory");
            for (size_t i = 0; srcs && i < cnt; i++) {
                bytes += fi[i]->nbytes;
                srcs[i] = fi[i]->src;
            }
            if (srcs) each(each_user, name, bytes, srcs, cnt);
            free(srcs);
        } else {
            sf.items = fi;
            sf.n = cnt;
            sf.header = header;
            rc = i4_write_file_atomic(path, write_st_file, &sf);
        }
        free(header);
        for (size_t i = 0; wm && i < cnt; i++) json_object_set_new(wm, fi[i]->name, json_string(name));
    }
    if (rc == 0 && sharded && !each) {
        json_t *root = json_object();
        json_t *meta = json_object();
        json_object_set_new(meta, "total_size", json_integer((json_int_t)p.data_bytes));
        json_object_set_new(root, "metadata", meta);
        json_object_set_new(root, "weight_map", wm);
        wm = NULL;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s.safetensors.index.json", dir, stem);
        rc = i4_write_json_file(path, root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(root);
    }
    json_decref(wm);
    plan_free(&p);
    return rc;
}

/* ------------------------------------------------------ in-memory front end */

static item *writer_items(const i4_st_writer *w) {
    item *v = calloc(w->n ? w->n : 1, sizeof *v);
    for (size_t i = 0; v && i < w->n; i++) {
        const pending *p = &w->items[i];
        v[i] = (item){p->name, p->dtype, p->ndim, p->shape, p->nbytes, p->data, NULL};
    }
    return v;
}

int i4_st_writer_save(const i4_st_writer *w, const char *path) {
    item *v = writer_items(w);
    if (!v) return i4_error("writer: out of memory");
    int rc = save_items(v, w->n, w->metadata, NULL, path, 0, 0, NULL, NULL, NULL, NULL);
    free(v);
    return rc;
}

int i4_st_writer_save_sharded(const i4_st_writer *w, const char *dir, const char *stem, size_t shard_bytes) {
    item *v = writer_items(w);
    if (!v) return i4_error("writer: out of memory");
    int rc = save_items(v, w->n, w->metadata, dir, stem, 1, shard_bytes, NULL, NULL, NULL, NULL);
    free(v);
    return rc;
}

/* ------------------------------------------------------ streaming front end */

static item *source_items(const i4_st_source *src, size_t n) {
    item *v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < src[i].ndim; d++) numel *= (uint64_t)src[i].shape[d];
        v[i] = (item){src[i].name, src[i].dtype, src[i].ndim, src[i].shape, numel * i4_dtype_size(src[i].dtype),
                      NULL, &src[i]};
    }
    return v;
}

static int check_sources(const i4_st_source *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (src[i].ndim < 0 || src[i].ndim > I4_MAX_DIMS)
            return i4_error("writer: tensor '%s' has %d dims", src[i].name, src[i].ndim);
        for (int d = 0; d < src[i].ndim; d++)
            if (src[i].shape[d] < 0) return i4_error("writer: tensor '%s' has a negative dim", src[i].name);
        if (!src[i].fill) return i4_error("writer: tensor '%s' has no fill function", src[i].name);
    }
    return 0;
}

int i4_st_stream_save(const i4_st_source *src, size_t n, const char *dir, const char *stem, uint64_t shard_bytes,
                      i4_st_progress_fn progress, void *user) {
    if (check_sources(src, n) != 0) return -1;
    item *v = source_items(src, n);
    if (!v) return i4_error("writer: out of memory");
    int rc = save_items(v, n, NULL, dir, stem, shard_bytes > 0, shard_bytes, progress, user, NULL, NULL);
    free(v);
    return rc;
}

int i4_st_stream_describe(const i4_st_source *src, size_t n, const char *stem, uint64_t shard_bytes,
                          i4_st_file_fn each, void *user) {
    if (check_sources(src, n) != 0) return -1;
    item *v = source_items(src, n);
    if (!v) return i4_error("writer: out of memory");
    int rc = save_items(v, n, NULL, ".", stem, shard_bytes > 0, shard_bytes, NULL, NULL, each, user);
    free(v);
    return rc;
}
