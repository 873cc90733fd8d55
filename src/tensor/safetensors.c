/*
 * safetensors.c — mmap reader (single file or index + shards) with a
 * validating header parser, and a deterministic writer.
 *
 * Validation of every header entry: known dtype, shape of at most
 * I4_MAX_DIMS non-negative dims, data_offsets [begin, end] inside the data
 * area with end - begin == numel * dtype size (overflow-checked), and no two
 * tensors overlapping. Anything else is an error naming the file and tensor.
 */
#include "tensor/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

#define MAX_HEADER_BYTES (100u << 20)

typedef struct {
    char *path;
    void *map;
    size_t size;
    json_t *metadata; /* "__metadata__" object or NULL */
} mapped_file;

struct i4_tensor_set {
    char *origin;
    mapped_file *files;
    size_t n_files;
    i4_tensor *tensors; /* sorted by name */
    size_t n_tensors;
};

/* ---------------------------------------------------------------- helpers */

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const i4_tensor *)a)->name, ((const i4_tensor *)b)->name);
}

typedef struct {
    uint64_t begin, end;
    const char *name;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

const char *i4_shape_str(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t used = 0;
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

/* Parse one header entry into t (name already set). */
static int parse_entry(const char *path, const char *name, json_t *entry, uint64_t data_size,
                       const uint8_t *data, i4_tensor *t) {
    if (!json_is_object(entry)) return i4_error("%s: tensor '%s': header entry is not an object", path, name);
    json_t *jd = json_object_get(entry, "dtype");
    json_t *js = json_object_get(entry, "shape");
    json_t *jo = json_object_get(entry, "data_offsets");
    if (!json_is_string(jd)) return i4_error("%s: tensor '%s': missing or non-string dtype", path, name);
    if (i4_dtype_parse(json_string_value(jd), &t->dtype) != 0)
        return i4_error("%s: tensor '%s': unsupported dtype '%s' (supported: F32, F16, BF16, F8_E4M3, I64, I32, U8)",
                        path, name, json_string_value(jd));
    if (!json_is_array(js)) return i4_error("%s: tensor '%s': missing or non-array shape", path, name);
    size_t nd = json_array_size(js);
    if (nd > I4_MAX_DIMS) return i4_error("%s: tensor '%s': %zu dimensions (at most %d)", path, name, nd, I4_MAX_DIMS);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    int overflow = 0;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return i4_error("%s: tensor '%s': shape entry %zu is not a non-negative integer", path, name, i);
        uint64_t v = (uint64_t)json_integer_value(d);
        t->shape[i] = (int64_t)v;
        if (v && numel > UINT64_MAX / v) overflow = 1;
        else numel *= v;
    }
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
        !json_is_integer(json_array_get(jo, 1)))
        return i4_error("%s: tensor '%s': data_offsets must be [begin, end] integers", path, name);
    json_int_t b = json_integer_value(json_array_get(jo, 0));
    json_int_t e = json_integer_value(json_array_get(jo, 1));
    if (b < 0 || e < b) return i4_error("%s: tensor '%s': invalid data_offsets [%lld, %lld]", path, name, (long long)b, (long long)e);
    if ((uint64_t)e > data_size)
        return i4_error("%s: tensor '%s': data_offsets [%lld, %lld] beyond the end of the data (%llu bytes; file truncated?)",
                        path, name, (long long)b, (long long)e, (unsigned long long)data_size);
    size_t es = i4_dtype_size(t->dtype);
    if (overflow || numel > UINT64_MAX / es || numel * es != (uint64_t)(e - b)) {
        char sb[160];
        return i4_error("%s: tensor '%s': shape %s of %s needs %s bytes but data_offsets span %lld bytes", path, name,
                        i4_shape_str(sb, sizeof sb, t->ndim, t->shape), i4_dtype_name(t->dtype),
                        overflow ? "too many" : "a different number of", (long long)(e - b));
    }
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)(e - b);
    t->data = data + b;
    return 0;
}

/* Map and parse one file, appending its tensors to the growing arrays. */
static int load_file(const char *path, mapped_file *mf, i4_tensor **tensors, size_t *n_tensors,
                     size_t *cap_tensors) {
    memset(mf, 0, sizeof *mf);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return i4_error("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return i4_error("%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return i4_error("%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return i4_error("%s: truncated safetensors file (%lld bytes; at least 8 needed for the header length)",
                        path, (long long)st.st_size);
    }
    mf->size = (size_t)st.st_size;
    mf->map = mmap(NULL, mf->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (mf->map == MAP_FAILED) {
        mf->map = NULL;
        return i4_error("%s: mmap failed: %s", path, strerror(errno));
    }
    mf->path = dup_str(path);
    const uint8_t *bytes = mf->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i];
    if (hlen > mf->size - 8)
        return i4_error("%s: header length %llu exceeds the file size %zu (truncated file?)", path,
                        (unsigned long long)hlen, mf->size);
    if (hlen > MAX_HEADER_BYTES)
        return i4_error("%s: header length %llu is implausibly large", path, (unsigned long long)hlen);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return i4_error("%s: header is not valid JSON: %s (at byte %d)", path, jerr.text, jerr.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return i4_error("%s: header is not a JSON object", path);
    }
    const uint8_t *data = bytes + 8 + hlen;
    uint64_t data_size = mf->size - 8 - hlen;
    size_t first = *n_tensors;
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                rc = i4_error("%s: __metadata__ is not an object", path);
                break;
            }
            mf->metadata = json_incref(val);
            continue;
        }
        if (*n_tensors == *cap_tensors) {
            size_t nc = *cap_tensors ? *cap_tensors * 2 : 64;
            i4_tensor *nt = realloc(*tensors, nc * sizeof *nt);
            if (!nt) {
                rc = i4_error("%s: out of memory", path);
                break;
            }
            *tensors = nt;
            *cap_tensors = nc;
        }
        i4_tensor *t = &(*tensors)[*n_tensors];
        memset(t, 0, sizeof *t);
        if (parse_entry(path, key, val, data_size, data, t) != 0) {
            rc = -1;
            break;
        }
        t->name = dup_str(key);
        t->file = mf->path;
        (*n_tensors)++;
    }
    json_decref(root);
    if (rc != 0) return rc;
    /* Overlap check over this file's tensors. */
    size_t cnt = *n_tensors - first;
    if (cnt > 1) {
        span *sp = malloc(cnt * sizeof *sp);
        if (!sp) return i4_error("%s: out of memory", path);
        for (size_t i = 0; i < cnt; i++) {
            const i4_tensor *t = &(*tensors)[first + i];
            sp[i].begin = (uint64_t)((const uint8_t *)t->data - data);
            sp[i].end = sp[i].begin + t->nbytes;
            sp[i].name = t->name;
        }
        qsort(sp, cnt, sizeof *sp, cmp_span);
        /* Sorted by begin, a span overlaps an earlier one iff it starts before
         * the furthest end so far (not just the previous span's end: an empty
         * tensor may sit in between). Empty spans overlap nothing. */
        const span *furthest = &sp[0];
        for (size_t i = 1; i < cnt; i++) {
            if (sp[i].begin < furthest->end && sp[i].end > sp[i].begin) {
                rc = i4_error("%s: tensors '%s' and '%s' overlap in the data area", path, furthest->name, sp[i].name);
                break;
            }
            if (sp[i].end > furthest->end) furthest = &sp[i];
        }
        free(sp);
    }
    return rc;
}

static int finish_set(i4_tensor_set *set) {
    /* A header with no tensors leaves tensors NULL, which qsort must not get. */
    if (set->n_tensors > 1) qsort(set->tensors, set->n_tensors, sizeof *set->tensors, cmp_tensor_name);
    for (size_t i = 1; i < set->n_tensors; i++)
        if (strcmp(set->tensors[i].name, set->tensors[i - 1].name) == 0)
            return i4_error("%s: tensor '%s' appears twice (in %s and %s)", set->origin, set->tensors[i].name,
                            set->tensors[i - 1].file, set->tensors[i].file);
    return 0;
}

/* ---------------------------------------------------------------- opening */

int i4_tensor_set_open_file(i4_tensor_set **out, const char *path) {
    *out = NULL;
    i4_tensor_set *set = calloc(1, sizeof *set);
    if (!set) return i4_error("out of memory");
    set->origin = dup_str(path);
    set->files = calloc(1, sizeof *set->files);
    set->n_files = 1;
    size_t cap = 0;
    if (load_file(path, &set->files[0], &set->tensors, &set->n_tensors, &cap) != 0 || finish_set(set) != 0) {
        i4_tensor_set_close(set);
        return -1;
    }
    *out = set;
    return 0;
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int open_index(i4_tensor_set **out, const char *index_path) {
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(index_path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return i4_error("%s: cannot read index: %s (line %d)", index_path, jerr.text, jerr.line);
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) {
        json_decref(root);
        return i4_error("%s: index has no \"weight_map\" object", index_path);
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", index_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");

    i4_tensor_set *set = calloc(1, sizeof *set);
    set->origin = dup_str(index_path);
    /* Distinct shard names, in first-seen order. */
    const char **shards = calloc(json_object_size(wm) + 1, sizeof *shards);
    size_t n_shards = 0;
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(wm, key, val) {
        if (!json_is_string(val)) {
            rc = i4_error("%s: weight_map entry '%s' is not a file name", index_path, key);
            break;
        }
        const char *sh = json_string_value(val);
        if (strchr(sh, '/') || strcmp(sh, "..") == 0 || sh[0] == 0) {
            rc = i4_error("%s: weight_map entry '%s' names '%s', which is not a file in the index folder", index_path, key, sh);
            break;
        }
        size_t i;
        for (i = 0; i < n_shards; i++)
            if (strcmp(shards[i], sh) == 0) break;
        if (i == n_shards) shards[n_shards++] = sh;
    }
    if (rc == 0 && n_shards == 0) rc = i4_error("%s: weight_map is empty", index_path);
    if (rc == 0) {
        set->files = calloc(n_shards, sizeof *set->files);
        size_t cap = 0;
        for (size_t i = 0; i < n_shards && rc == 0; i++) {
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/%s", dir, shards[i]);
            set->n_files = i + 1;
            rc = load_file(p, &set->files[i], &set->tensors, &set->n_tensors, &cap);
            if (rc != 0) i4_error_prefix("%s", index_path);
        }
    }
    if (rc == 0) rc = finish_set(set);
    /* Every tensor named by the index must be in the shard it names. */
    if (rc == 0) {
        json_object_foreach(wm, key, val) {
            const i4_tensor *t = i4_tensor_set_find(set, key);
            const char *base = t ? strrchr(t->file, '/') : NULL;
            base = base ? base + 1 : (t ? t->file : NULL);
            if (!t) {
                rc = i4_error("%s: tensor '%s' is listed in the index but missing from shard %s", index_path, key,
                              json_string_value(val));
                break;
            }
            if (strcmp(base, json_string_value(val)) != 0) {
                rc = i4_error("%s: tensor '%s' is listed in shard %s but stored in %s", index_path, key,
                              json_string_value(val), t->file);
                break;
            }
        }
    }
    free(shards);
    json_decref(root);
    if (rc != 0) {
        i4_tensor_set_close(set);
        return -1;
    }
    *out = set;
    return 0;
}

int i4_tensor_set_open(i4_tensor_set **out, const char *path) {
    if (has_suffix(path, ".json")) return open_index(out, path);
    return i4_tensor_set_open_file(out, path);
}

int i4_tensor_set_open_component(i4_tensor_set **out, const char *dir, const char *stem) {
    char single[PATH_MAX], index[PATH_MAX];
    snprintf(single, sizeof single, "%s/%s.safetensors", dir, stem);
    snprintf(index, sizeof index, "%s/%s.safetensors.index.json", dir, stem);
    if (access(single, F_OK) == 0) return i4_tensor_set_open_file(out, single);
    if (access(index, F_OK) == 0) return open_index(out, index);
    *out = NULL;
    return i4_error("no weights in %s: neither %s.safetensors nor %s.safetensors.index.json exists", dir, stem, stem);
}

void i4_tensor_set_close(i4_tensor_set *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n_tensors; i++) free((char *)set->tensors[i].name);
    for (size_t i = 0; i < set->n_files; i++) {
        if (set->files[i].map) munmap(set->files[i].map, set->files[i].size);
        if (set->files[i].metadata) json_decref(set->files[i].metadata);
        free(set->files[i].path);
    }
    free(set->files);
    free(set->tensors);
    free(set->origin);
    free(set);
}

/* ---------------------------------------------------------------- access */

size_t i4_tensor_set_count(const i4_tensor_set *set) { return set->n_tensors; }

const i4_tensor *i4_tensor_set_at(const i4_tensor_set *set, size_t i) {
    return i < set->n_tensors ? &set->tensors[i] : NULL;
}

const i4_tensor *i4_tensor_set_find(const i4_tensor_set *set, const char *name) {
    if (set->n_tensors == 0) return NULL; /* tensors may be NULL: not for bsearch */
    i4_tensor key = {.name = name};
    return bsearch(&key, set->tensors, set->n_tensors, sizeof key, cmp_tensor_name);
}

const i4_tensor *i4_tensor_set_get(const i4_tensor_set *set, const char *name) {
    const i4_tensor *t = i4_tensor_set_find(set, name);
    if (!t) i4_error("tensor '%s' not found in %s", name, set->origin);
    return t;
}

const char *i4_tensor_set_metadata(const i4_tensor_set *set, const char *key) {
    if (!set->n_files || !set->files[0].metadata) return NULL;
    json_t *v = json_object_get(set->files[0].metadata, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *i4_tensor_set_origin(const i4_tensor_set *set) { return set->origin; }

int i4_tensor_expect(const i4_tensor *t, i4_dtype dtype, int ndim, const int64_t *shape) {
    char a[160], b[160];
    if (t->dtype != dtype)
        return i4_error("%s: tensor '%s' has dtype %s, expected %s", t->file, t->name, i4_dtype_name(t->dtype),
                        i4_dtype_name(dtype));
    if (ndim < 0) return 0;
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same)
        return i4_error("%s: tensor '%s' has shape %s, expected %s", t->file, t->name,
                        i4_shape_str(a, sizeof a, t->ndim, t->shape), i4_shape_str(b, sizeof b, ndim, shape));
    return 0;
}

void i4_tensor_to_f32(const i4_tensor *t, float *dst) { i4_convert_to_f32(t->dtype, t->data, dst, (size_t)t->numel); }

void i4_tensor_to_i64(const i4_tensor *t, int64_t *dst) {
    const uint8_t *b = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case I4_DT_I64: memcpy(&dst[i], b + 8 * i, 8); break;
        case I4_DT_I32: { int32_t v; memcpy(&v, b + 4 * i, 4); dst[i] = v; break; }
        case I4_DT_U8: dst[i] = b[i]; break;
        default: {
            float f;
            i4_convert_to_f32(t->dtype, b + (size_t)i * i4_dtype_size(t->dtype), &f, 1);
            dst[i] = (f > -9.0e18f && f < 9.0e18f) ? (int64_t)f : 0; /* NaN/huge: no UB */
            break;
        }
        }
    }
}
