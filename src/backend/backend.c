/*
 * backend.c — choosing a backend by name, binding weights once, and the
 * per-shape workspace (see backend.h).
 */
#include "backend/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/vulkan/vulkan.h"
#include "base/error.h"

int i4_backend_name_valid(const char *name) {
    return name && (!strcmp(name, "auto") || !strcmp(name, "cpu") || !strcmp(name, "vulkan"));
}

/* A device index as `ideogram4 devices` lists it: decimal digits, < 1000. */
static int device_index(const char *text) {
    if (!text || !*text || strlen(text) > 3) return -1;
    int n = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9') return -1;
        n = n * 10 + (*c - '0');
    }
    return n;
}

int i4_device_index_ok(const char *text) { return device_index(text) >= 0; }

int i4_backend_create(const i4_backend_options *opt, i4_backend **out) {
    *out = NULL;
    const char *name = opt && opt->name && *opt->name ? opt->name : getenv("IDEOGRAM4_BACKEND");
    if (!name || !*name) name = "auto";
    if (!i4_backend_name_valid(name))
        return i4_error("unknown backend '%s' (auto, cpu or vulkan)", name);
    const int threads = opt ? opt->threads : 0;
    const char *isa = opt && opt->cpu_isa ? opt->cpu_isa : NULL;
    const int from_env = !(opt && opt->device && *opt->device);
    const char *dev_text = from_env ? getenv("IDEOGRAM4_DEVICE") : opt->device;
    int device = -1;
    if (dev_text && *dev_text) {
        device = device_index(dev_text);
        if (device < 0)
            return i4_error("%s '%s' is not a device index (see `ideogram4 devices`)",
                            from_env ? "IDEOGRAM4_DEVICE" : "--device", dev_text);
        /* $IDEOGRAM4_DEVICE is for the Vulkan backend; an explicit cpu ignores it. */
        if (!strcmp(name, "cpu") && !from_env)
            return i4_error("--device %d selects a Vulkan device; the cpu backend has none", device);
    }
    if (!strcmp(name, "cpu")) return i4_cpu_backend_create(threads, isa, out);
    /* A named vulkan, or a device by index, accepts any device, CPU
     * implementations (lavapipe) too; the device asked for must be usable. */
    if (!strcmp(name, "vulkan") || device >= 0) {
        if (i4_vulkan_backend_create(device, 1, out) != 0) return i4_error_prefix("vulkan backend");
        return 0;
    }
    /* auto: a Vulkan GPU, else the CPU with one line (per process) saying why.
     * A CPU Vulkan device (lavapipe) is slower than the CPU backend: skipped. */
    if (i4_vulkan_backend_create(-1, 0, out) == 0) return 0;
    static int said;
    if (!said) {
        said = 1;
        fprintf(stderr, "ideogram4: vulkan unavailable: %s; using cpu\n", i4_last_error());
    }
    return i4_cpu_backend_create(threads, isa, out);
}

void i4_backend_destroy(i4_backend *be) {
    if (be) be->ops->destroy(be);
}

/* ---- weights */

void i4_weight_set_init(i4_weight_set *ws, i4_backend *be) {
    memset(ws, 0, sizeof *ws);
    ws->be = be;
}

int i4_weight_set_init_streamed(i4_weight_set *ws, i4_backend *be) {
    i4_weight_set_init(ws, be);
    if (!be->ops->stream_new) return 0;
    ws->group = be->ops->stream_new(be);
    return ws->group ? 0 : -1;
}

void i4_weight_set_release(i4_weight_set *ws) {
    for (size_t i = 0; i < ws->n; i++) i4_be_release(ws->be, ws->bufs[i]);
    if (ws->group) i4_be_release(ws->be, ws->group);
    free(ws->bufs);
    free(ws->parts);
    free(ws->offs);
    free(ws->sizes);
    i4_backend *be = ws->be;
    memset(ws, 0, sizeof *ws);
    ws->be = be;
}

/* Parts of a streamed group start at multiples of this (any binding offset
 * alignment a device asks, and the f32/int64 views of the ops). */
#define STREAM_ALIGN 256

static int stream_bind(i4_weight_set *ws, const void *host, size_t bytes, i4_dv *out) {
    if (ws->np == ws->pcap) {
        size_t cap = ws->pcap ? ws->pcap * 2 : 32;
        const void **p = realloc(ws->parts, cap * sizeof *p);
        if (p) ws->parts = p;
        size_t *o = p ? realloc(ws->offs, cap * sizeof *o) : NULL;
        if (o) ws->offs = o;
        size_t *z = o ? realloc(ws->sizes, cap * sizeof *z) : NULL;
        if (!z) return i4_error("out of memory");
        ws->sizes = z;
        ws->pcap = cap;
    }
    const size_t at = (ws->total + STREAM_ALIGN - 1) / STREAM_ALIGN * STREAM_ALIGN;
    ws->parts[ws->np] = host;
    ws->offs[ws->np] = at;
    ws->sizes[ws->np++] = bytes;
    ws->total = at + bytes;
    out->buf = ws->group;
    out->off = at;
    return 0;
}

int i4_weight_set_seal(i4_weight_set *ws) {
    if (!ws->group || !ws->parts) return 0;
    int rc = ws->be->ops->stream_fill(ws->be, ws->group, ws->parts, ws->offs, ws->sizes, ws->np, ws->total);
    free(ws->parts);
    free(ws->offs);
    free(ws->sizes);
    ws->parts = NULL;
    ws->offs = ws->sizes = NULL;
    ws->np = ws->pcap = 0;
    return rc;
}

void i4_weight_set_prefetch(i4_weight_set *ws) {
    if (ws->group) ws->be->ops->prefetch(ws->be, ws->group);
}

int i4_weight_set_bind(i4_weight_set *ws, const void *host, size_t bytes, i4_dv *out) {
    *out = i4_dv_none();
    if (!host) return 0;
    if (ws->group) return stream_bind(ws, host, bytes, out);
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? ws->cap * 2 : 64;
        i4_buf **b = realloc(ws->bufs, cap * sizeof *b);
        if (!b) return i4_error("out of memory");
        ws->bufs = b;
        ws->cap = cap;
    }
    i4_buf *b = i4_be_wrap(ws->be, host, bytes);
    if (!b) return -1;
    ws->bufs[ws->n++] = b;
    *out = i4_dv_of(b);
    return 0;
}

int i4_bind_dlinear(i4_weight_set *ws, const i4_linear_w *w, i4_dlinear *out) {
    memset(out, 0, sizeof *out);
    out->dtype = w->dtype;
    out->scale_per_tensor = w->scale_per_tensor;
    out->bias_dtype = w->bias_dtype;
    out->out = w->out;
    out->in = w->in;
    const size_t wbytes = (size_t)(w->out * w->in) * i4_dtype_size(w->dtype);
    if (i4_weight_set_bind(ws, w->w, wbytes, &out->w) != 0) return -1;
    if (w->dtype == I4_DT_F8_E4M3 &&
        i4_weight_set_bind(ws, w->scale, (size_t)(w->scale_per_tensor ? 1 : w->out) * sizeof(float), &out->scale) != 0)
        return -1;
    return i4_weight_set_bind(ws, w->bias, (size_t)w->out * i4_dtype_size(w->bias_dtype), &out->bias);
}

int i4_bind_dconv(i4_weight_set *ws, const i4_conv_w *w, i4_dconv *out) {
    memset(out, 0, sizeof *out);
    out->dtype = w->dtype;
    out->bias_dtype = w->bias_dtype;
    out->c_out = w->c_out;
    out->c_in = w->c_in;
    out->k = w->k;
    const size_t wbytes = (size_t)(w->c_out * w->c_in * w->k * w->k) * i4_dtype_size(w->dtype);
    if (i4_weight_set_bind(ws, w->w, wbytes, &out->w) != 0) return -1;
    return i4_weight_set_bind(ws, w->bias, (size_t)w->c_out * i4_dtype_size(w->bias_dtype), &out->bias);
}

int i4_bind_dparam(i4_weight_set *ws, i4_dtype dtype, const void *data, int64_t n, i4_dparam *out) {
    out->dtype = dtype;
    out->n = n;
    return i4_weight_set_bind(ws, data, (size_t)n * i4_dtype_size(dtype), &out->data);
}

i4_dlinear i4_dlinear_rows(const i4_dlinear *w, int64_t first, int64_t rows) {
    i4_dlinear s = *w;
    s.w.off += (size_t)(first * w->in) * i4_dtype_size(w->dtype);
    if (w->dtype == I4_DT_F8_E4M3 && !w->scale_per_tensor) s.scale.off += (size_t)first * sizeof(float);
    if (w->bias.buf) s.bias.off += (size_t)first * i4_dtype_size(w->bias_dtype);
    s.out = rows;
    return s;
}

/* ---- fitting on the device */

/* "9.30 GiB" or "12.5 MiB" */
static const char *human(char *out, size_t size, size_t b) {
    if (b >= ((size_t)1 << 30)) snprintf(out, size, "%.2f GiB", (double)b / (double)((size_t)1 << 30));
    else snprintf(out, size, "%.1f MiB", (double)b / (double)(1 << 20));
    return out;
}

int i4_backend_check_fit(i4_backend *be, const i4_mem_need *parts, int n, const char *hint) {
    i4_be_memory m;
    memset(&m, 0, sizeof m);
    i4_be_memory_get(be, &m);
    if (!m.capacity) return 0;
    size_t total = m.now;
    for (int i = 0; i < n; i++) total += parts[i].bytes;
    if (total <= m.capacity) return 0;
    char list[768], h[32], h2[32];
    size_t used = 0;
    list[0] = 0;
    for (int i = 0; i < n && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s %s", i ? " + " : "", parts[i].what,
                                 human(h, sizeof h, parts[i].bytes));
    if (m.now >= ((size_t)1 << 20) && used < sizeof list)
        snprintf(list + used, sizeof list - used, " + %s in use", human(h, sizeof h, m.now));
    return i4_error("does not fit on the device: %s = %s > %s on %s; %s", list, human(h, sizeof h, total),
                    human(h2, sizeof h2, m.capacity), m.where, hint);
}

/* ---- workspace */

#define WS_ALIGN 64

int i4_workspace_init(i4_workspace *w, i4_backend *be, size_t bytes, const char *what) {
    memset(w, 0, sizeof *w);
    w->be = be;
    w->size = bytes;
    w->buf = i4_be_alloc(be, bytes);
    if (!w->buf)
        return i4_error("%s: cannot allocate its %.1f MiB workspace on the %s backend", what,
                        (double)bytes / (1 << 20), i4_be_name(be));
    return 0;
}

void i4_workspace_plan(i4_workspace *w) { memset(w, 0, sizeof *w); }

i4_dv i4_workspace_take(i4_workspace *w, size_t bytes) {
    size_t start = (w->used + WS_ALIGN - 1) & ~(size_t)(WS_ALIGN - 1);
    if (!w->buf) { /* planning: only count */
        w->used = start + bytes;
        return i4_dv_none();
    }
    if (start + bytes > w->size) {
        fprintf(stderr, "ideogram4: internal error: workspace of %zu bytes overrun (%zu + %zu)\n", w->size, start,
                bytes);
        abort();
    }
    w->used = start + bytes;
    i4_dv v = {w->buf, start};
    return v;
}

void i4_workspace_free(i4_workspace *w) {
    if (w->buf) i4_be_release(w->be, w->buf);
    memset(w, 0, sizeof *w);
}
