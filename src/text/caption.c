/*
 * caption.c — structured caption classification and verifier (docs/APP.md §2.1,
 * §8.5).
 *
 * The rules, their order and the message texts follow the official
 * caption_verifier.py (CaptionVerifier.verify_raw / verify); this is an
 * independent C implementation. In order:
 *   raw text   warn when the text holds \uXXXX escapes of non-ASCII code
 *              points (>= U+0080) but no literal non-ASCII byte
 *   parse      "invalid JSON: <msg> (line L, column C)" and stop
 *   root       must be an object (stop); unknown keys; high_level_description
 *              must be a string; style_description checked when present;
 *              compositional_deconstruction must exist
 *   style      object (stop); unknown keys; exactly one of photo/art_style
 *              (stop); key order == (aesthetics, lighting, photo, medium
 *              [, color_palette]) or (aesthetics, lighting, medium, art_style
 *              [, color_palette]); other keys "not allowed in this context";
 *              palette <= 16 colours
 *   comp.      object (stop); background exists and is a string (stop);
 *              elements exists (stop); key order (background, elements);
 *              elements is a list (stop); each element:
 *   element    object (stop); unknown keys; type exists and is 'obj'/'text'
 *              (stop); key order type [bbox] [text] desc [color_palette];
 *              bbox = 4 ints (bool counts as int, as in Python) in [0, 1000]
 *              with ymin <= ymax, xmin <= xmax; palette <= 5 colours
 *   palette    list (stop); not longer than the limit (stop); every entry a
 *              string '#' + 6 upper-case hex digits
 * Values inside messages are printed as Python's str()/repr() would print the
 * json.loads result (lists ['a', 1], tuples ('a',), None/True/False, floats
 * in shortest round-trip form).
 *
 * Known differences from Python's json.loads (parser, not checks): integers
 * outside int64, NaN/Infinity literals, lone surrogate escapes and "\u0000"
 * inside object keys are rejected as invalid JSON; parser messages and
 * column numbers are jansson's. The element type message prints the allowed
 * set as {'obj', 'text'} (docs/APP.md §8.5); upstream prints the frozenset's
 * str(), whose element order depends on Python's string hash seed.
 */
#include "text/caption.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"

/* ---- growable string ---------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->n + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) I4_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        sb_putn(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_putn(b, big, (size_t)n);
    free(big);
}

/* ---- issue list --------------------------------------------------------- */

typedef struct {
    i4_caption_issues *out;
    size_t cap;
    int oom;
} ctx;

/* Takes ownership of the buffer's text. */
static void add_issue(ctx *c, sbuf *b) {
    if (b->oom || !b->p) c->oom = 1;
    if (c->oom) {
        free(b->p);
        b->p = NULL;
        return;
    }
    i4_caption_issues *o = c->out;
    if (o->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        char **items = realloc(o->items, cap * sizeof *items);
        if (!items) {
            c->oom = 1;
            free(b->p);
            b->p = NULL;
            return;
        }
        o->items = items;
        c->cap = cap;
    }
    o->items[o->count++] = b->p;
    b->p = NULL;
}

static void issue(ctx *c, const char *fmt, ...) I4_PRINTF(2, 3);
static void issue(ctx *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) s = NULL;
    sbuf b = {s, n < 0 ? 0 : (size_t)n, n < 0 ? 0 : (size_t)n + 1, n < 0};
    add_issue(c, &b);
}

/* ---- Python-style rendering -------------------------------------------- */

static const char *py_type(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "dict";
    case JSON_ARRAY: return "list";
    case JSON_STRING: return "str";
    case JSON_INTEGER: return "int";
    case JSON_REAL: return "float";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    default: return "NoneType";
    }
}

/* str.isprintable() for one code point: everything except the categories
 * Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs — but the ASCII space is printable. */
static int py_printable(utf8proc_int32_t cp) {
    if (cp == ' ') return 1;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS: return 0;
    default: return 1;
    }
}

/* repr(str): single quotes unless the text holds ' and no ", escapes as
 * CPython's unicode_repr does. */
static void py_repr_str(sbuf *b, const char *s, size_t n) {
    int has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = (has_sq && !has_dq) ? '"' : '\'';
    sb_putn(b, &q, 1);
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) { /* cannot happen for jansson strings; keep the byte */
            sb_printf(b, "\\x%02x", (unsigned char)s[i]);
            i++;
            continue;
        }
        if (cp == q || cp == '\\') {
            char e[2] = {'\\', (char)cp};
            sb_putn(b, e, 2);
        } else if (cp == '\t') {
            sb_puts(b, "\\t");
        } else if (cp == '\n') {
            sb_puts(b, "\\n");
        } else if (cp == '\r') {
            sb_puts(b, "\\r");
        } else if (cp < 0x20 || cp == 0x7f) {
            sb_printf(b, "\\x%02x", (unsigned)cp);
        } else if (cp < 0x7f) {
            sb_putn(b, s + i, 1);
        } else if (py_printable(cp)) {
            sb_putn(b, s + i, (size_t)k);
        } else if (cp <= 0xff) {
            sb_printf(b, "\\x%02x", (unsigned)cp);
        } else if (cp <= 0xffff) {
            sb_printf(b, "\\u%04x", (unsigned)cp);
        } else {
            sb_printf(b, "\\U%08x", (unsigned)cp);
        }
        i += (size_t)k;
    }
    sb_putn(b, &q, 1);
}

/* repr(float): shortest digits that round-trip, fixed notation for decimal
 * exponents -4..15, otherwise d.ddde+XX. */
static void py_repr_float(sbuf *b, double v) {
    if (isnan(v)) {
        sb_puts(b, "nan");
        return;
    }
    if (isinf(v)) {
        sb_puts(b, v < 0 ? "-inf" : "inf");
        return;
    }
    char e[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v) break;
    }
    /* e = [-]d[.ddd]e(+|-)XX */
    const char *p = e;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    char digits[24];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = '\0';
    int exp10 = atoi(p + 1);
    if (neg) sb_puts(b, "-");
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            sb_puts(b, "0.");
            for (int i = 0; i < -exp10 - 1; i++) sb_puts(b, "0");
            sb_putn(b, digits, (size_t)nd);
        } else if (nd <= exp10 + 1) {
            sb_putn(b, digits, (size_t)nd);
            for (int i = nd; i < exp10 + 1; i++) sb_puts(b, "0");
            sb_puts(b, ".0");
        } else {
            sb_putn(b, digits, (size_t)exp10 + 1);
            sb_puts(b, ".");
            sb_putn(b, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
        }
    } else {
        sb_putn(b, digits, 1);
        if (nd > 1) {
            sb_puts(b, ".");
            sb_putn(b, digits + 1, (size_t)nd - 1);
        }
        sb_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
}

/* repr() of a parsed JSON value (strings quoted). */
static void py_repr(sbuf *b, const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        int first = 1;
        sb_puts(b, "{");
        json_object_foreach((json_t *)v, key, val) {
            if (!first) sb_puts(b, ", ");
            first = 0;
            py_repr_str(b, key, strlen(key));
            sb_puts(b, ": ");
            py_repr(b, val);
        }
        sb_puts(b, "}");
        break;
    }
    case JSON_ARRAY:
        sb_puts(b, "[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) sb_puts(b, ", ");
            py_repr(b, json_array_get(v, i));
        }
        sb_puts(b, "]");
        break;
    case JSON_STRING: py_repr_str(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: sb_printf(b, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: py_repr_float(b, json_real_value(v)); break;
    case JSON_TRUE: sb_puts(b, "True"); break;
    case JSON_FALSE: sb_puts(b, "False"); break;
    default: sb_puts(b, "None"); break;
    }
}

/* str() of a parsed JSON value: strings verbatim (an embedded NUL, which a C
 * string cannot carry, is written as \x00), everything else as repr(). */
static void py_str(sbuf *b, const json_t *v) {
    if (!json_is_string(v)) {
        py_repr(b, v);
        return;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    for (size_t i = 0; i < n;) {
        const char *z = memchr(s + i, '\0', n - i);
        size_t run = z ? (size_t)(z - (s + i)) : n - i;
        sb_putn(b, s + i, run);
        i += run;
        if (i < n) {
            sb_puts(b, "\\x00");
            i++;
        }
    }
}

/* ---- checks ------------------------------------------------------------- */

static const char *const TOP_KEYS[] = {"high_level_description", "style_description", "compositional_deconstruction"};
static const char *const STYLE_KEYS[] = {"aesthetics", "lighting", "photo", "art_style", "medium", "color_palette"};
static const char *const STYLE_ORDER_PHOTO[] = {"aesthetics", "lighting", "photo", "medium", "color_palette"};
static const char *const STYLE_ORDER_ART[] = {"aesthetics", "lighting", "medium", "art_style", "color_palette"};
static const char *const COMP_ORDER[] = {"background", "elements"};
static const char *const ELEM_KEYS[] = {"type", "bbox", "text", "desc", "color_palette"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum { STYLE_PALETTE_MAX = 16, ELEMENT_PALETTE_MAX = 5, BBOX_MIN = 0, BBOX_MAX = 1000 };

static int in_list(const char *key, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(key, list[i])) return 1;
    return 0;
}

/* "<path>: unknown keys [...] (not in schema)" for keys outside `known`. */
static void check_unknown_keys(ctx *c, const json_t *obj, const char *const *known, size_t n_known,
                               const char *path) {
    sbuf b = {0};
    const char *key;
    json_t *val;
    int n = 0;
    json_object_foreach((json_t *)obj, key, val) {
        (void)val;
        if (in_list(key, known, n_known)) continue;
        sb_puts(&b, n++ ? ", " : "[");
        py_repr_str(&b, key, strlen(key));
    }
    if (!n) return;
    sbuf m = {0};
    sb_printf(&m, "%s: unknown keys %s] (not in schema)", path, b.p ? b.p : "");
    if (b.oom) m.oom = 1;
    free(b.p);
    add_issue(c, &m);
}

static void repr_tuple(sbuf *b, const char *const *keys, size_t n) {
    sb_puts(b, "(");
    for (size_t i = 0; i < n; i++) {
        if (i) sb_puts(b, ", ");
        py_repr_str(b, keys[i], strlen(keys[i]));
    }
    sb_puts(b, n == 1 ? ",)" : ")");
}

/* The keys of obj that are in `expected` must be exactly `expected`, in
 * order; keys outside it are "not allowed in this context". */
static void check_key_order(ctx *c, const json_t *obj, const char *const *expected, size_t n_exp,
                            const char *path) {
    size_t n_keys = json_object_size(obj);
    const char **present = malloc((n_keys + 1) * sizeof *present);
    if (!present) {
        c->oom = 1;
        return;
    }
    size_t n_present = 0;
    sbuf extra = {0};
    int n_extra = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        (void)val;
        if (in_list(key, expected, n_exp)) {
            present[n_present++] = key;
        } else {
            sb_puts(&extra, n_extra++ ? ", " : "[");
            py_repr_str(&extra, key, strlen(key));
        }
    }
    int same = n_present == n_exp;
    for (size_t i = 0; same && i < n_exp; i++) same = !strcmp(present[i], expected[i]);
    if (!same) {
        sbuf m = {0};
        sb_printf(&m, "%s: key order is ", path);
        repr_tuple(&m, present, n_present);
        sb_puts(&m, ", expected ");
        repr_tuple(&m, expected, n_exp);
        add_issue(c, &m);
    }
    free(present);
    if (n_extra) {
        sbuf m = {0};
        sb_printf(&m, "%s: keys %s] are not allowed in this context", path, extra.p ? extra.p : "");
        if (extra.oom) m.oom = 1;
        add_issue(c, &m);
    }
    free(extra.p);
}

static void verify_color_palette(ctx *c, const json_t *pal, const char *path, size_t max_colors) {
    if (!json_is_array(pal)) {
        issue(c, "%s: expected a list", path);
        return;
    }
    size_t n = json_array_size(pal);
    if (n > max_colors) {
        issue(c, "%s: too many colors (%zu), expected at most %zu", path, n, max_colors);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *col = json_array_get(pal, i);
        int ok = json_is_string(col) && json_string_length(col) == 7 && json_string_value(col)[0] == '#';
        for (size_t k = 1; ok && k < 7; k++) {
            char ch = json_string_value(col)[k];
            ok = (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F');
        }
        if (ok) continue;
        sbuf m = {0};
        sb_printf(&m, "%s[%zu]: '", path, i);
        py_str(&m, col);
        sb_puts(&m, "' is not a valid #RRGGBB hex color");
        add_issue(c, &m);
    }
}

/* Python's isinstance(v, int) (True/False are ints 1/0). */
static int py_is_int(const json_t *v, long long *out) {
    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
        return 1;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v) ? 1 : 0;
        return 1;
    }
    return 0;
}

static void verify_bbox(ctx *c, size_t i, const json_t *bbox) {
    if (!json_is_array(bbox) || json_array_size(bbox) != 4) {
        issue(c, "elements[%zu].bbox: expected [ymin, xmin, ymax, xmax]", i);
        return;
    }
    long long v[4];
    for (size_t k = 0; k < 4; k++) {
        if (!py_is_int(json_array_get(bbox, k), &v[k])) {
            issue(c, "elements[%zu].bbox: all values must be int", i);
            return;
        }
    }
    int in_range = 1;
    for (size_t k = 0; k < 4; k++) in_range &= v[k] >= BBOX_MIN && v[k] <= BBOX_MAX;
    if (!in_range) {
        sbuf m = {0};
        sb_printf(&m, "elements[%zu].bbox: values must be in [%d, %d], got ", i, BBOX_MIN, BBOX_MAX);
        py_repr(&m, bbox);
        add_issue(c, &m);
    }
    sbuf a = {0}, b = {0};
    if (v[0] > v[2]) {
        py_repr(&a, json_array_get(bbox, 0));
        py_repr(&b, json_array_get(bbox, 2));
        issue(c, "elements[%zu].bbox: ymin (%s) > ymax (%s)", i, a.p ? a.p : "", b.p ? b.p : "");
        a.n = b.n = 0;
        if (a.oom || b.oom) c->oom = 1;
    }
    if (v[1] > v[3]) {
        py_repr(&a, json_array_get(bbox, 1));
        py_repr(&b, json_array_get(bbox, 3));
        issue(c, "elements[%zu].bbox: xmin (%s) > xmax (%s)", i, a.p ? a.p : "", b.p ? b.p : "");
        if (a.oom || b.oom) c->oom = 1;
    }
    free(a.p);
    free(b.p);
}


static void verify_style(ctx *c, const json_t *sd) {
    if (!json_is_object(sd)) {
        issue(c, "style_description: expected a dict");
        return;
    }
    check_unknown_keys(c, sd, STYLE_KEYS, COUNT(STYLE_KEYS), "style_description");
    int photo = json_object_get(sd, "photo") != NULL, art = json_object_get(sd, "art_style") != NULL;
    if (photo && art) {
        issue(c, "style_description: contains both 'photo' and 'art_style'; expected exactly one");
        return;
    }
    if (!photo && !art) {
        issue(c, "style_description: expected one of 'photo' (for photo captions) or 'art_style' "
                 "(for non-photo captions)");
        return;
    }
    const json_t *pal = json_object_get(sd, "color_palette");
    /* color_palette is last in both orders: drop it from the expectation when absent. */
    check_key_order(c, sd, photo ? STYLE_ORDER_PHOTO : STYLE_ORDER_ART, pal ? 5 : 4, "style_description");
    if (pal) verify_color_palette(c, pal, "style_description.color_palette", STYLE_PALETTE_MAX);
}

static void verify_element(ctx *c, size_t i, const json_t *el) {
    char path[48];
    snprintf(path, sizeof path, "elements[%zu]", i);
    if (!json_is_object(el)) {
        issue(c, "%s: expected a dict", path);
        return;
    }
    check_unknown_keys(c, el, ELEM_KEYS, COUNT(ELEM_KEYS), path);
    const json_t *type = json_object_get(el, "type");
    if (!type) {
        issue(c, "%s: 'type' must exist", path);
        return;
    }
    int is_text = json_is_string(type) && !strcmp(json_string_value(type), "text") && json_string_length(type) == 4;
    int is_obj = json_is_string(type) && !strcmp(json_string_value(type), "obj") && json_string_length(type) == 3;
    if (!is_text && !is_obj) {
        issue(c, "%s: 'type' must be one of {'obj', 'text'}", path);
        return;
    }
    const json_t *bbox = json_object_get(el, "bbox"), *pal = json_object_get(el, "color_palette");
    const char *order[5];
    size_t n = 0;
    order[n++] = "type";
    if (bbox) order[n++] = "bbox";
    if (is_text) order[n++] = "text";
    order[n++] = "desc";
    if (pal) order[n++] = "color_palette";
    check_key_order(c, el, order, n, path);
    if (bbox) verify_bbox(c, i, bbox);
    if (pal) {
        char ppath[64];
        snprintf(ppath, sizeof ppath, "elements[%zu].color_palette", i);
        verify_color_palette(c, pal, ppath, ELEMENT_PALETTE_MAX);
    }
}

static void verify_composition(ctx *c, const json_t *cd) {
    if (!json_is_object(cd)) {
        issue(c, "compositional_deconstruction: expected a dict");
        return;
    }
    const json_t *bg = json_object_get(cd, "background");
    if (!bg) {
        issue(c, "compositional_deconstruction: 'background' must exist");
        return;
    }
    if (!json_is_string(bg)) {
        issue(c, "compositional_deconstruction.background: expected a string, got %s", py_type(bg));
        return;
    }
    const json_t *els = json_object_get(cd, "elements");
    if (!els) {
        issue(c, "compositional_deconstruction: 'elements' must exist");
        return;
    }
    check_key_order(c, cd, COMP_ORDER, COUNT(COMP_ORDER), "compositional_deconstruction");
    if (!json_is_array(els)) {
        issue(c, "compositional_deconstruction.elements: expected a list");
        return;
    }
    for (size_t i = 0; i < json_array_size(els); i++) verify_element(c, i, json_array_get(els, i));
}

static void verify_root(ctx *c, const json_t *cap) {
    if (!json_is_object(cap)) {
        issue(c, "root: expected a JSON object (dict), got %s", py_type(cap));
        return;
    }
    check_unknown_keys(c, cap, TOP_KEYS, COUNT(TOP_KEYS), "root");
    const json_t *hld = json_object_get(cap, "high_level_description");
    if (hld && !json_is_string(hld))
        issue(c, "high_level_description: expected a string, got %s", py_type(hld));
    const json_t *sd = json_object_get(cap, "style_description");
    if (sd) verify_style(c, sd);
    const json_t *cd = json_object_get(cap, "compositional_deconstruction");
    if (cd)
        verify_composition(c, cd);
    else
        issue(c, "root: 'compositional_deconstruction' must exist");
}

/* ---- raw-text ensure_ascii check --------------------------------------- */

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int cmp_esc(const void *a, const void *b) { return memcmp(a, b, 6); }

/* Escapes \uXXXX with XXXX >= 0080 (matched on the raw text, like the
 * upstream regex: an escaped backslash before the u still matches). */
static void check_ensure_ascii(ctx *c, const char *text, size_t len) {
    size_t n_match = 0, cap = 0;
    char(*found)[6] = NULL;
    for (size_t i = 0; i + 6 <= len; i++) {
        if (text[i] != '\\' || text[i + 1] != 'u') continue;
        int v = 0, ok = 1;
        for (int k = 2; k < 6; k++) {
            int h = hexval(text[i + k]);
            if (h < 0) ok = 0;
            v = v * 16 + (h < 0 ? 0 : h);
        }
        if (!ok || v < 0x80) continue;
        if (n_match == cap) {
            cap = cap ? cap * 2 : 16;
            char(*f)[6] = realloc(found, cap * sizeof *found);
            if (!f) {
                free(found);
                c->oom = 1;
                return;
            }
            found = f;
        }
        memcpy(found[n_match++], text + i, 6);
        i += 5;
    }
    if (!n_match) return;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)text[i] > 0x7f) {
            free(found);
            return;
        }
    }
    qsort(found, n_match, sizeof *found, cmp_esc);
    size_t n_unique = 0;
    for (size_t i = 0; i < n_match; i++)
        if (!n_unique || memcmp(found[n_unique - 1], found[i], 6)) memmove(found[n_unique++], found[i], 6);
    sbuf m = {0};
    sb_printf(&m, "raw text: found %zu non-ASCII unicode escape(s) (e.g. ", n_match);
    for (size_t i = 0; i < n_unique && i < 3; i++) {
        if (i) sb_puts(&m, ", ");
        sb_putn(&m, found[i], 6);
    }
    sb_puts(&m, n_unique > 3 ? ", ...)" : ")");
    sb_puts(&m, " and no literal non-ASCII characters. This usually means the file was saved with "
                "ensure_ascii=True; please re-save with json.dump(..., ensure_ascii=False) so non-ASCII "
                "characters are stored as literal UTF-8. Note: this is a warning, not an error, because the "
                "escapes could have been written intentionally \xe2\x80\x94 we cannot tell from the file alone.");
    free(found);
    add_issue(c, &m);
}

/* ---- public ------------------------------------------------------------- */

static int finish(ctx *c) {
    if (!c->oom) return 0;
    i4_caption_issues_free(c->out);
    return i4_error("caption verifier: out of memory");
}

int i4_caption_verify_json(const json_t *caption, i4_caption_issues *out) {
    memset(out, 0, sizeof *out);
    ctx c = {out, 0, 0};
    verify_root(&c, caption);
    return finish(&c);
}

int i4_caption_verify(const char *text, size_t len, i4_caption_issues *out) {
    memset(out, 0, sizeof *out);
    ctx c = {out, 0, 0};
    check_ensure_ascii(&c, text, len);
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!root) {
        out->not_json = 1;
        issue(&c, "invalid JSON: %s (line %d, column %d)", err.text, err.line, err.column);
    } else {
        verify_root(&c, root);
        json_decref(root);
    }
    return finish(&c);
}

void i4_caption_issues_free(i4_caption_issues *issues) {
    if (!issues) return;
    for (size_t i = 0; i < issues->count; i++) free(issues->items[i]);
    free(issues->items);
    memset(issues, 0, sizeof *issues);
}

int i4_caption_kind(const char *text, size_t len) {
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!root) return I4_CAPTION_NOT_JSON;
    int kind = json_is_object(root) ? I4_CAPTION_OBJECT : I4_CAPTION_NOT_OBJECT;
    json_decref(root);
    return kind;
}

const char *i4_caption_kind_warning(int kind) {
    switch (kind) {
    case I4_CAPTION_NOT_JSON: return "Not JSON \xe2\x80\x94 Ideogram 4 needs structured captions for quality";
    case I4_CAPTION_NOT_OBJECT: return "JSON is not a dict, treating as plain text (low quality)";
    default: return NULL;
    }
}
