/* gen_meta.c — generation parameters as JSON and as AUTOMATIC1111 text (gen_meta.h). */
#include "pipeline/gen_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ideogram4.h"
#include "pipeline/schedule.h"

json_t *i4_gen_meta_json(const i4_gen_meta *m) {
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "caption", json_string(m->caption ? m->caption : ""));
    json_object_set_new(o, "seed", json_integer((json_int_t)m->seed));
    json_object_set_new(o, "preset", json_string(m->preset));
    json_object_set_new(o, "steps", json_integer(m->steps));
    json_object_set_new(o, "resolution", json_pack("[i,i]", m->width, m->height));
    const i4_preset *p = i4_preset_find(m->preset);
    if (m->guidance >= 0 || !p)
        json_object_set_new(o, "guidance", json_real(m->guidance >= 0 ? m->guidance : 0));
    else /* the preset's two-level schedule: main, then polish for the last steps */
        json_object_set_new(o, "guidance",
                            json_pack("{s:s,s:f,s:f,s:i}", "schedule", p->name, "main", (double)p->guidance, "polish",
                                      (double)p->polish_guidance, "polish_steps",
                                      p->polish_steps < m->steps ? p->polish_steps : m->steps));
    json_t *loras = json_array();
    for (int i = 0; i < m->n_loras; i++)
        json_array_append_new(loras, json_pack("{s:s,s:f}", "name", m->loras[i].name, "strength", m->loras[i].strength));
    json_object_set_new(o, "loras", loras);
    if (m->format) json_object_set_new(o, "format", json_string(m->format));
    json_object_set_new(o, "engine", json_string("ideogram4.c " I4_VERSION));
    if (m->batch_count > 1)
        json_object_set_new(o, "batch", json_pack("{s:i,s:i}", "index", m->batch_index + 1, "count", m->batch_count));
    return o;
}

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} text;

static void put(text *t, const char *s) {
    size_t n = strlen(s);
    if (t->oom) return;
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        while (cap < t->n + n + 1) cap *= 2;
        char *g = realloc(t->p, cap);
        if (!g) {
            t->oom = 1;
            return;
        }
        t->p = g;
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n + 1);
    t->n += n;
}

/* A value as AUTOMATIC1111 quotes it: as is unless it holds ',', ':' or a
 * newline, else as a JSON string. */
static void put_value(text *t, const char *v) {
    if (!strpbrk(v, ",:\n\"")) {
        put(t, v);
        return;
    }
    json_t *s = json_string(v);
    char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    if (q) put(t, q);
    else t->oom = 1;
    free(q);
    json_decref(s);
}

static void field(text *t, const char *name, const char *value) {
    put(t, ", ");
    put(t, name);
    put(t, ": ");
    put_value(t, value);
}

char *i4_gen_meta_parameters(const i4_gen_meta *m) {
    text t = {0};
    char buf[64];
    /* The caption is one line in the first paragraph; a caption with line
     * breaks keeps them (A1111 reads every line before "Negative prompt:" /
     * "Steps:" as the prompt). */
    put(&t, m->caption ? m->caption : "");
    put(&t, "\nSteps: ");
    snprintf(buf, sizeof buf, "%d", m->steps);
    put(&t, buf);
    field(&t, "Sampler", "Euler");
    field(&t, "Schedule type", m->preset);
    const i4_preset *p = i4_preset_find(m->preset);
    snprintf(buf, sizeof buf, "%g", m->guidance >= 0 ? m->guidance : p ? (double)p->guidance : 0.0);
    field(&t, "CFG scale", buf);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)m->seed);
    field(&t, "Seed", buf);
    snprintf(buf, sizeof buf, "%dx%d", m->width, m->height);
    field(&t, "Size", buf);
    field(&t, "Model", "Ideogram 4");
    if (m->n_loras > 0) {
        text l = {0};
        for (int i = 0; i < m->n_loras; i++) {
            put(&l, i ? ", " : "");
            put(&l, m->loras[i].name);
            put(&l, ": ");
            snprintf(buf, sizeof buf, "%g", m->loras[i].strength);
            put(&l, buf);
        }
        if (l.oom) t.oom = 1;
        else field(&t, "Lora", l.p);
        free(l.p);
    }
    if (m->batch_count > 1) {
        snprintf(buf, sizeof buf, "%d", m->batch_count);
        field(&t, "Batch size", buf);
        snprintf(buf, sizeof buf, "%d", m->batch_index);
        field(&t, "Batch pos", buf);
    }
    field(&t, "Version", "ideogram4.c " I4_VERSION);
    if (t.oom) {
        free(t.p);
        return NULL;
    }
    return t.p;
}
