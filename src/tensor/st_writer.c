/*
 * st_writer.c — writes safetensors files with tensors in name order and a
 * compact JSON header padded to a multiple of 8 bytes, so the same tensors
 * always give the same bytes. Files are written whole or not at all
 * (i4_write_file_atomic).
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

static int cmp_pending_ptr(const void *a, const void *b) {
    return strcmp((*(pending *const *)a)->name, (*(pending *const *)b)->name);
}

typedef struct {
    pending **items;
    size_t n;
    const char *header;
} st_file;

/* u64 header length (little endian), the header padded with spaces to a
 * multiple of 8, then the tensor bytes in order. */
static int write_st_file(FILE *f, void *ctx) {
    const st_file *sf = ctx;
    size_t hl = strlen(sf->header);
    size_t padded = (hl + 7) & ~(size_t)7;
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len, 1, 8, f) == 8 && fwrite(sf->header, 1, hl, f) == hl;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
    for (size_t i = 0; ok && i < sf->n; i++)
        ok = sf->items[i]->nbytes == 0 || fwrite(sf->items[i]->data, 1, sf->items[i]->nbytes, f) == sf->items[i]->nbytes;
    return ok ? 0 : i4_write_failed(errno, "write failed");
}

/* Write items[0..n) (already ordered) to path. */
static int write_items(pending **items, size_t n, json_t *metadata, const char *path) {
    json_t *hdr = json_object();
    if (metadata && json_object_size(metadata)) json_object_set(hdr, "__metadata__", metadata);
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
    if (!text) return i4_error("%s: cannot serialise header", path);
    st_file file = {items, n, text};
    int rc = i4_write_file_atomic(path, write_st_file, &file);
    free(text);
    return rc;
}

static pending **sorted_items(const i4_st_writer *w) {
    pending **v = malloc((w->n ? w->n : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < w->n; i++) v[i] = &w->items[i];
    qsort(v, w->n, sizeof *v, cmp_pending_ptr);
    return v;
}

int i4_st_writer_save(const i4_st_writer *w, const char *path) {
    pending **v = sorted_items(w);
    if (!v) return i4_error("writer: out of memory");
    int rc = write_items(v, w->n, w->metadata, path);
    free(v);
    return rc;
}

int i4_st_writer_save_sharded(const i4_st_writer *w, const char *dir, const char *stem, size_t shard_bytes) {
    pending **v = sorted_items(w);
    if (!v) return i4_error("writer: out of memory");
    /* Assign shards greedily in name order. */
    size_t *shard_of = calloc(w->n ? w->n : 1, sizeof *shard_of);
    size_t n_shards = 0, acc = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (i == 0 || (acc + v[i]->nbytes > shard_bytes && acc > 0)) {
            n_shards++;
            acc = 0;
        }
        shard_of[i] = n_shards - 1;
        acc += v[i]->nbytes;
    }
    int rc = 0;
    json_t *wm = json_object();
    for (size_t s = 0; s < n_shards && rc == 0; s++) {
        char name[256], path[PATH_MAX];
        snprintf(name, sizeof name, "%s-%05zu-of-%05zu.safetensors", stem, s + 1, n_shards);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        size_t first = 0;
        while (shard_of[first] != s) first++;
        size_t cnt = 0;
        while (first + cnt < w->n && shard_of[first + cnt] == s) {
            json_object_set_new(wm, v[first + cnt]->name, json_string(name));
            cnt++;
        }
        rc = write_items(v + first, cnt, w->metadata, path);
    }
    if (rc == 0) {
        json_t *root = json_object();
        json_t *meta = json_object();
        json_object_set_new(meta, "total_size", json_integer((json_int_t)w->data_bytes));
        json_object_set_new(root, "metadata", meta);
        json_object_set_new(root, "weight_map", wm);
        wm = NULL;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s.safetensors.index.json", dir, stem);
        rc = i4_write_json_file(path, root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(root);
    }
    json_decref(wm);
    free(shard_of);
    free(v);
    return rc;
}
