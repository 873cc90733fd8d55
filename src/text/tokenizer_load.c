/*
 * tokenizer_load.c — read tokenizer/tokenizer.json (HF tokenizers format) into
 * the tables of tokenizer_internal.h.
 *
 * The file is 11 MB, almost all of it model.vocab (151 643 entries) and
 * model.merges (151 387 pairs). Parsing it whole with jansson takes about a
 * second (one json_t per string), so a small scanner walks the top-level and
 * model objects and reads those two tables directly; every other value (added
 * tokens, normaliser, pre-tokenizer, BPE options) and every string with a
 * backslash escape is handed to jansson. Strings without escapes are checked
 * to be valid UTF-8 (as jansson would).
 *
 * Only the settings of the Qwen2/Qwen3 tokenizer are supported (docs/MODEL.md
 * §6.1); anything else is a load error naming the setting, never a silent
 * difference from the reference:
 *   normalizer NFC (or null); pre_tokenizer Sequence[Split(the Qwen2 regex,
 *   Isolated, invert false), ByteLevel(add_prefix_space false, use_regex
 *   false)]; model BPE without dropout, subword prefix/suffix or
 *   ignore_merges; added tokens with single_word/lstrip/rstrip/normalized
 *   all false.
 * Merges may be "a b" strings or ["a", "b"] arrays (of two non-empty
 * tokens). As in tokenizers (a HashMap collected in file order), a pair
 * listed twice keeps its later rank. Token ids must be numbered densely
 * (below twice the number of tokens, plus 1024): the id table is indexed by id.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "text/pretokenize.h"
#include "text/tokenizer_internal.h"

/* ------------------------------------------------------------ scanner */

typedef struct {
    const char *s;
    size_t n;
} span;

typedef struct {
    const char *p, *end;
} jscan;

static void jws(jscan *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

/* j->p at '"': raw contents (between the quotes) in *s and *n, *esc = 1 when
 * they hold a backslash escape. */
static int jstr(jscan *j, const char **s, size_t *n, int *esc) {
    if (j->p >= j->end || *j->p != '"') return -1;
    const char *q = ++j->p;
    int e = 0;
    while (q < j->end && *q != '"') {
        if (*q == '\\') {
            e = 1;
            q += 2;
            continue;
        }
        if ((unsigned char)*q < 0x20) return -1;
        q++;
    }
    if (q >= j->end) return -1;
    *s = j->p;
    *n = (size_t)(q - j->p);
    *esc = e;
    j->p = q + 1;
    return 0;
}

static int jskip(jscan *j, int depth) {
    const char *s;
    size_t n;
    int esc;
    if (depth > 64) return -1;
    jws(j);
    if (j->p >= j->end) return -1;
    char c = *j->p;
    if (c == '"') return jstr(j, &s, &n, &esc);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        jws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                jws(j);
                if (jstr(j, &s, &n, &esc) != 0) return -1;
                jws(j);
                if (j->p >= j->end || *j->p != ':') return -1;
                j->p++;
            }
            if (jskip(j, depth + 1) != 0) return -1;
            jws(j);
            if (j->p >= j->end) return -1;
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p != close) return -1;
            j->p++;
            return 0;
        }
    }
    const char *start = j->p;
    while (j->p < j->end && ((*j->p && strchr("+-.eE", *j->p)) || (*j->p >= '0' && *j->p <= '9') ||
                             (*j->p >= 'a' && *j->p <= 'z')))
        j->p++;
    return j->p > start ? 0 : -1;
}

/* Decode a scanned string. Without escapes it is used in place (checked to be
 * UTF-8); with escapes jansson decodes it and *hold keeps the value alive
 * (json_decref it after use). */
static int jdecode(const char *s, size_t n, int esc, const char **out, size_t *out_n, json_t **hold) {
    *hold = NULL;
    if (!esc) {
        if (!i4_utf8_valid(s, n)) return i4_error("invalid UTF-8 in a string");
        *out = s;
        *out_n = n;
        return 0;
    }
    json_error_t err;
    json_t *v = json_loadb(s - 1, n + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!v || !json_is_string(v)) {
        json_decref(v);
        return i4_error("bad string %.*s: %s", (int)(n < 40 ? n : 40), s, err.text);
    }
    *out = json_string_value(v);
    *out_n = json_string_length(v);
    *hold = v;
    return 0;
}

/* The members of the object in `obj` listed in `keys` (NULL-terminated):
 * vals[i] = the raw value text, or n = 0 when the key is absent. */
static int jfields(span obj, const char *const *keys, span *vals) {
    jscan j = {obj.s, obj.s + obj.n};
    for (int i = 0; keys[i]; i++) vals[i] = (span){NULL, 0};
    jws(&j);
    if (j.p >= j.end || *j.p != '{') return i4_error("expected a JSON object");
    j.p++;
    jws(&j);
    if (j.p < j.end && *j.p == '}') return 0;
    for (;;) {
        const char *k, *key;
        size_t kn, keyn;
        int esc;
        json_t *hold;
        jws(&j);
        if (jstr(&j, &k, &kn, &esc) != 0) return i4_error("malformed JSON (object key)");
        if (jdecode(k, kn, esc, &key, &keyn, &hold) != 0) return -1;
        jws(&j);
        if (j.p >= j.end || *j.p != ':') {
            json_decref(hold);
            return i4_error("malformed JSON (expected ':')");
        }
        j.p++;
        jws(&j);
        const char *v0 = j.p;
        if (jskip(&j, 0) != 0) {
            json_decref(hold);
            return i4_error("malformed JSON (value of \"%.*s\")", (int)keyn, key);
        }
        for (int i = 0; keys[i]; i++)
            if (strlen(keys[i]) == keyn && !memcmp(keys[i], key, keyn)) vals[i] = (span){v0, (size_t)(j.p - v0)};
        json_decref(hold);
        jws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}') {
            j.p++;
            jws(&j);
            return j.p == j.end ? 0 : i4_error("malformed JSON (text after the object)");
        }
        return i4_error("malformed JSON (expected ',' or '}')");
    }
}

static json_t *jload(span v, const char *what) {
    json_error_t err;
    json_t *r = json_loadb(v.s, v.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!r) i4_error("%s: %s (line %d)", what, err.text, err.line);
    return r;
}

/* ------------------------------------------------------------ tables */

static int arena_add(i4_tokenizer *t, const char *s, size_t n, uint32_t *off) {
    if (t->strings_len + n + 1 > t->strings_cap) {
        size_t cap = t->strings_cap ? t->strings_cap : 1 << 20;
        while (cap < t->strings_len + n + 1) cap *= 2;
        if (cap > UINT32_MAX) return i4_error("token strings too large");
        char *p = realloc(t->strings, cap);
        if (!p) return i4_error("out of memory");
        t->strings = p;
        t->strings_cap = cap;
    }
    memcpy(t->strings + t->strings_len, s, n);
    t->strings[t->strings_len + n] = 0;
    *off = (uint32_t)t->strings_len;
    t->strings_len += n + 1;
    return 0;
}

typedef struct {
    uint32_t off, len;
    int64_t id;
} vocab_entry;

/* string -> vocab entry index, open addressing (UINT32_MAX = empty) */
typedef struct {
    uint32_t *slot;
    size_t mask;
    const vocab_entry *e;
    const char *strings;
} vocab_map;

static uint64_t str_hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static int64_t vocab_find(const vocab_map *m, const char *s, size_t n) {
    size_t h = (size_t)str_hash(s, n) & m->mask;
    for (;;) {
        uint32_t k = m->slot[h];
        if (k == UINT32_MAX) return -1;
        const vocab_entry *e = &m->e[k];
        if (e->len == n && !memcmp(m->strings + e->off, s, n)) return e->id;
        h = (h + 1) & m->mask;
    }
}

static int parse_vocab(i4_tokenizer *t, span v, vocab_entry **out, size_t *count) {
    jscan j = {v.s, v.s + v.n};
    vocab_entry *e = NULL;
    size_t n = 0, cap = 0;
    jws(&j);
    if (j.p >= j.end || *j.p != '{') return i4_error("model.vocab is not an object");
    j.p++;
    jws(&j);
    if (j.p < j.end && *j.p == '}') goto done;
    for (;;) {
        const char *k, *key;
        size_t kn, keyn;
        int esc;
        json_t *hold;
        jws(&j);
        if (jstr(&j, &k, &kn, &esc) != 0) goto bad;
        if (jdecode(k, kn, esc, &key, &keyn, &hold) != 0) goto fail;
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 17;
            vocab_entry *ne = realloc(e, cap * sizeof *e);
            if (!ne) {
                json_decref(hold);
                i4_error("out of memory");
                goto fail;
            }
            e = ne;
        }
        int rc = arena_add(t, key, keyn, &e[n].off);
        e[n].len = (uint32_t)keyn;
        json_decref(hold);
        if (rc != 0) goto fail;
        jws(&j);
        if (j.p >= j.end || *j.p != ':') goto bad;
        j.p++;
        jws(&j);
        int64_t id = 0;
        const char *d0 = j.p;
        while (j.p < j.end && *j.p >= '0' && *j.p <= '9' && id < (1LL << 31)) id = id * 10 + (*j.p++ - '0');
        if (j.p == d0 || id >= (1LL << 31) || (j.p < j.end && strchr(".eE-+", *j.p))) {
            i4_error("model.vocab: id of token \"%s\" is not a non-negative integer", t->strings + e[n].off);
            goto fail;
        }
        e[n++].id = id;
        jws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}') break;
        goto bad;
    }
done:
    *out = e;
    *count = n;
    return 0;
bad:
    i4_error("model.vocab: malformed JSON near byte %zu of the object", (size_t)(j.p - v.s));
fail:
    free(e);
    return -1;
}

static int merge_insert(i4_tokenizer *t, uint32_t a, uint32_t b, uint32_t rank, uint32_t new_id) {
    uint64_t key = (uint64_t)a << 32 | b;
    size_t h = (size_t)i4_merge_hash(key) & t->mmask;
    while (t->mkey[h] != UINT64_MAX && t->mkey[h] != key) h = (h + 1) & t->mmask;
    t->mkey[h] = key; /* a repeated pair keeps its later rank, as tokenizers does */
    t->mrank[h] = rank;
    t->mnew[h] = new_id;
    return 0;
}

/* One merge entry at j->p: "a b" or ["a", "b"]; the two token strings are
 * written to a/b (decoded). */
static int merge_parts(jscan *j, char **buf, size_t *cap, const char **a, size_t *an, const char **b, size_t *bn) {
    const char *s, *d;
    size_t n, dn;
    int esc;
    json_t *hold[2] = {NULL, NULL};
    const char *part[2];
    size_t partn[2];
    jws(j);
    if (j->p < j->end && *j->p == '"') {
        if (jstr(j, &s, &n, &esc) != 0 || jdecode(s, n, esc, &d, &dn, &hold[0]) != 0) return -1;
        const char *sp = memchr(d, ' ', dn);
        if (!sp || sp == d || sp + 1 == d + dn || memchr(sp + 1, ' ', dn - (size_t)(sp + 1 - d))) {
            json_decref(hold[0]);
            return i4_error("merge \"%.*s\" is not two tokens separated by one space", (int)dn, d);
        }
        part[0] = d;
        partn[0] = (size_t)(sp - d);
        part[1] = sp + 1;
        partn[1] = dn - partn[0] - 1;
    } else if (j->p < j->end && *j->p == '[') {
        j->p++;
        for (int k = 0; k < 2; k++) {
            jws(j);
            if (jstr(j, &s, &n, &esc) != 0 || jdecode(s, n, esc, &part[k], &partn[k], &hold[k]) != 0) {
                json_decref(hold[0]);
                return i4_error_prefix("merge entry");
            }
            if (partn[k] == 0) { /* no token is empty */
                json_decref(hold[0]);
                json_decref(hold[1]);
                return i4_error("merge entry has an empty token");
            }
            jws(j);
            if (j->p >= j->end || *j->p != (k == 0 ? ',' : ']')) {
                json_decref(hold[0]);
                json_decref(hold[1]);
                return i4_error("merge entry is not a pair of strings");
            }
            j->p++;
        }
    } else {
        return i4_error("merge entry is neither a string nor an array");
    }
    /* copy both parts (and their concatenation) into buf: "a" "b" "ab" */
    size_t need = 2 * (partn[0] + partn[1]);
    if (need > *cap) {
        char *nb = realloc(*buf, need + 64);
        if (!nb) {
            json_decref(hold[0]);
            json_decref(hold[1]);
            return i4_error("out of memory");
        }
        *buf = nb;
        *cap = need + 64;
    }
    memcpy(*buf, part[0], partn[0]);
    memcpy(*buf + partn[0], part[1], partn[1]);
    json_decref(hold[0]);
    json_decref(hold[1]);
    *a = *buf;
    *an = partn[0];
    *b = *buf + partn[0];
    *bn = partn[1];
    return 0;
}

static int parse_merges(i4_tokenizer *t, span v, const vocab_map *vm) {
    jscan j = {v.s, v.s + v.n};
    char *buf = NULL;
    size_t cap = 0;
    uint64_t count = 0;
    /* count the entries first to size the table */
    jws(&j);
    if (j.p >= j.end || *j.p != '[') return i4_error("model.merges is not an array");
    {
        jscan c = j;
        c.p++;
        jws(&c);
        if (c.p < c.end && *c.p != ']') {
            for (;;) {
                if (jskip(&c, 1) != 0) return i4_error("model.merges: malformed JSON");
                count++;
                jws(&c);
                if (c.p < c.end && *c.p == ',') {
                    c.p++;
                    continue;
                }
                if (c.p < c.end && *c.p == ']') break;
                return i4_error("model.merges: malformed JSON");
            }
        }
    }
    if (count >= UINT32_MAX / 4) return i4_error("model.merges: too many entries");
    size_t slots = 1024;
    while (slots < 2 * count) slots *= 2;
    t->mkey = malloc(slots * sizeof *t->mkey);
    t->mrank = malloc(slots * sizeof *t->mrank);
    t->mnew = malloc(slots * sizeof *t->mnew);
    if (!t->mkey || !t->mrank || !t->mnew) return i4_error("out of memory");
    memset(t->mkey, 0xff, slots * sizeof *t->mkey);
    t->mmask = slots - 1;

    j.p++;
    for (uint32_t rank = 0; rank < count; rank++) {
        const char *a = NULL, *b = NULL;
        size_t an = 0, bn = 0;
        if (merge_parts(&j, &buf, &cap, &a, &an, &b, &bn) != 0) {
            free(buf);
            return i4_error_prefix("model.merges[%u]", rank);
        }
        int64_t ia = vocab_find(vm, a, an), ib = vocab_find(vm, b, bn), inew = vocab_find(vm, a, an + bn);
        if (ia < 0 || ib < 0 || inew < 0) {
            const char *miss = ia < 0 ? a : ib < 0 ? b : a;
            int missn = (int)(ia < 0 ? an : ib < 0 ? bn : an + bn);
            i4_error("model.merges[%u]: token \"%.*s\" is not in the vocabulary", rank, missn, miss);
            free(buf);
            return -1;
        }
        merge_insert(t, (uint32_t)ia, (uint32_t)ib, rank, (uint32_t)inew);
        jws(&j);
        if (j.p < j.end && *j.p == ',') j.p++;
    }
    free(buf);
    return 0;
}

/* ------------------------------------------------------------ settings */

static int is_false_or_absent(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return !v || json_is_false(v) || json_is_null(v);
}

static int check_normalizer(i4_tokenizer *t, span v) {
    t->normalize_nfc = 0;
    if (!v.n) return 0;
    json_t *n = jload(v, "normalizer");
    if (!n) return -1;
    int rc = 0;
    if (json_is_null(n)) t->normalize_nfc = 0;
    else if (json_is_object(n) && json_is_string(json_object_get(n, "type")) &&
             !strcmp(json_string_value(json_object_get(n, "type")), "NFC"))
        t->normalize_nfc = 1;
    else
        rc = i4_error("unsupported normalizer (only NFC is implemented)");
    json_decref(n);
    return rc;
}

static const char *jstring_at(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : "";
}

static int check_pre_tokenizer(span v) {
    if (!v.n) return i4_error("no pre_tokenizer (expected the Qwen2 Split + ByteLevel sequence)");
    json_t *p = jload(v, "pre_tokenizer");
    if (!p) return -1;
    int ok = 0;
    json_t *list = json_object_get(p, "pretokenizers");
    if (!strcmp(jstring_at(p, "type"), "Sequence") && json_is_array(list) && json_array_size(list) == 2) {
        json_t *split = json_array_get(list, 0), *bl = json_array_get(list, 1);
        json_t *pat = json_object_get(split, "pattern");
        ok = !strcmp(jstring_at(split, "type"), "Split") && !strcmp(jstring_at(pat, "Regex"), i4_qwen2_split_regex) &&
             !strcmp(jstring_at(split, "behavior"), "Isolated") && is_false_or_absent(split, "invert") &&
             !strcmp(jstring_at(bl, "type"), "ByteLevel") && is_false_or_absent(bl, "add_prefix_space") &&
             is_false_or_absent(bl, "use_regex");
    }
    json_decref(p);
    if (!ok)
        return i4_error("unsupported pre_tokenizer: expected Sequence[Split(Regex %s, Isolated), "
                        "ByteLevel(add_prefix_space=false, use_regex=false)]",
                        i4_qwen2_split_regex);
    return 0;
}

static int check_model_options(const span *mv) {
    /* mv: type, dropout, continuing_subword_prefix, end_of_word_suffix, ignore_merges */
    static const char *names[] = {"type", "dropout", "continuing_subword_prefix", "end_of_word_suffix",
                                  "ignore_merges"};
    for (int i = 0; i < 5; i++) {
        if (!mv[i].n) continue;
        json_t *x = jload(mv[i], names[i]);
        if (!x) return -1;
        int ok;
        switch (i) {
        case 0: ok = json_is_string(x) && !strcmp(json_string_value(x), "BPE"); break;
        case 1: ok = json_is_null(x) || (json_is_number(x) && json_number_value(x) == 0.0); break;
        case 2:
        case 3: ok = json_is_null(x) || (json_is_string(x) && !json_string_length(x)); break;
        default: ok = json_is_null(x) || json_is_false(x); break;
        }
        json_decref(x);
        if (!ok) return i4_error("unsupported model.%s (this engine implements plain byte-level BPE)", names[i]);
    }
    return 0;
}

static int load_added(i4_tokenizer *t, span v, int64_t *max_id) {
    if (!v.n) return 0;
    json_t *a = jload(v, "added_tokens");
    if (!a) return -1;
    int rc = 0;
    if (!json_is_array(a)) {
        rc = i4_error("added_tokens is not an array");
        goto out;
    }
    t->n_added = json_array_size(a);
    t->added = calloc(t->n_added ? t->n_added : 1, sizeof *t->added);
    if (!t->added) {
        rc = i4_error("out of memory");
        goto out;
    }
    for (size_t i = 0; i < t->n_added; i++) {
        json_t *e = json_array_get(a, i), *c = json_object_get(e, "content"), *id = json_object_get(e, "id");
        if (!json_is_string(c) || !json_string_length(c) || !json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= (1LL << 31)) {
            rc = i4_error("added_tokens[%zu]: needs a non-empty \"content\" and an \"id\"", i);
            goto out;
        }
        if (!is_false_or_absent(e, "single_word") || !is_false_or_absent(e, "lstrip") ||
            !is_false_or_absent(e, "rstrip") || !is_false_or_absent(e, "normalized")) {
            rc = i4_error("added token \"%s\": single_word/lstrip/rstrip/normalized are not supported",
                          json_string_value(c));
            goto out;
        }
        i4_added_token *at = &t->added[i];
        if (arena_add(t, json_string_value(c), json_string_length(c), &at->off) != 0) {
            rc = -1;
            goto out;
        }
        at->len = (uint32_t)json_string_length(c);
        at->id = json_integer_value(id);
        t->added_first[(uint8_t)json_string_value(c)[0]] = 1;
        if (at->id > *max_id) *max_id = at->id;
    }
out:
    json_decref(a);
    return rc;
}

/* The GPT-2 bytes_to_unicode symbol of byte b, as UTF-8 (returns length). */
static int byte_symbol(int b, char *out) {
    int cp;
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) {
        cp = b;
    } else {
        int k = 0; /* rank of b among the 68 unprintable bytes */
        for (int x = 0; x < b; x++)
            if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) k++;
        cp = 256 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* The shipped template must be the Qwen ChatML shape the engine renders. */
static int check_chat_template(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf) return i4_error("out of memory");
    buf[n] = 0;
    int ok = strstr(buf, "<|im_start|>") && strstr(buf, "<|im_end|>") && strstr(buf, "add_generation_prompt") &&
             strstr(buf, "assistant");
    free(buf);
    if (!ok)
        return i4_error("%s is not a Qwen ChatML template (<|im_start|>ROLE\\n...<|im_end|>\\n); the engine "
                        "renders \"<|im_start|>user\\n{caption}<|im_end|>\\n<|im_start|>assistant\\n\"",
                        path);
    return 0;
}

/* ------------------------------------------------------------ load */

static int read_file(const char *path, char **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return i4_error("cannot open %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) goto io;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) goto io;
    *data = malloc((size_t)n + 1);
    if (!*data) {
        fclose(f);
        return i4_error("out of memory reading %s", path);
    }
    if (fread(*data, 1, (size_t)n, f) != (size_t)n) {
        free(*data);
        goto io;
    }
    (*data)[n] = 0;
    *size = (size_t)n;
    fclose(f);
    return 0;
io:
    fclose(f);
    return i4_error("cannot read %s", path);
}

static int load(i4_tokenizer *t, const char *dir, const char *path) {
    char *data = NULL;
    size_t size = 0;
    vocab_entry *ve = NULL;
    size_t nv = 0;
    vocab_map vm = {0};
    int rc = -1;
    if (read_file(path, &data, &size) != 0) return -1;

    static const char *top_keys[] = {"added_tokens", "normalizer", "pre_tokenizer", "model", NULL};
    span top[4];
    if (jfields((span){data, size}, top_keys, top) != 0) goto out;
    if (!top[3].n) {
        i4_error("no \"model\" object");
        goto out;
    }
    static const char *model_keys[] = {"type", "dropout", "continuing_subword_prefix", "end_of_word_suffix",
                                       "ignore_merges", "vocab", "merges", NULL};
    span mv[7];
    if (jfields(top[3], model_keys, mv) != 0) {
        i4_error_prefix("model");
        goto out;
    }
    if (!mv[5].n || !mv[6].n) {
        i4_error("model has no vocab/merges (only BPE tokenizers are supported)");
        goto out;
    }
    if (check_model_options(mv) != 0 || check_normalizer(t, top[1]) != 0 || check_pre_tokenizer(top[2]) != 0)
        goto out;

    if (parse_vocab(t, mv[5], &ve, &nv) != 0) goto out;
    int64_t max_id = -1;
    for (size_t i = 0; i < nv; i++)
        if (ve[i].id > max_id) max_id = ve[i].id;
    if (load_added(t, top[0], &max_id) != 0) goto out;
    /* The id -> string table has max_id + 1 entries: an id far beyond the
     * number of tokens would make a small file allocate gigabytes. Real
     * tokenizers number their tokens densely (Qwen3: 0..151668, no gaps). */
    if (max_id >= 2 * (int64_t)(nv + t->n_added) + 1024) {
        i4_error("token id %lld is far beyond the %zu tokens of the file (ids must be numbered densely)",
                 (long long)max_id, nv + t->n_added);
        goto out;
    }

    /* id -> string table (added tokens override a vocabulary entry) */
    t->n_ids = max_id + 1;
    t->str_off = malloc((size_t)(t->n_ids ? t->n_ids : 1) * sizeof *t->str_off);
    t->str_len = malloc((size_t)(t->n_ids ? t->n_ids : 1) * sizeof *t->str_len);
    if (!t->str_off || !t->str_len) {
        i4_error("out of memory");
        goto out;
    }
    memset(t->str_off, 0xff, (size_t)t->n_ids * sizeof *t->str_off);
    for (size_t i = 0; i < nv; i++) {
        if (t->str_off[ve[i].id] != I4_NO_STRING) {
            i4_error("model.vocab: id %lld is used twice", (long long)ve[i].id);
            goto out;
        }
        t->str_off[ve[i].id] = ve[i].off;
        t->str_len[ve[i].id] = ve[i].len;
    }
    for (size_t i = 0; i < t->n_added; i++) {
        t->str_off[t->added[i].id] = t->added[i].off;
        t->str_len[t->added[i].id] = t->added[i].len;
    }

    /* string -> id map for the merges */
    size_t slots = 1024;
    while (slots < 2 * nv) slots *= 2;
    vm.slot = malloc(slots * sizeof *vm.slot);
    if (!vm.slot) {
        i4_error("out of memory");
        goto out;
    }
    memset(vm.slot, 0xff, slots * sizeof *vm.slot);
    vm.mask = slots - 1;
    vm.e = ve;
    vm.strings = t->strings;
    for (size_t i = 0; i < nv; i++) {
        const char *s = t->strings + ve[i].off;
        size_t h = (size_t)str_hash(s, ve[i].len) & vm.mask;
        while (vm.slot[h] != UINT32_MAX) {
            const vocab_entry *o = &ve[vm.slot[h]];
            if (o->len == ve[i].len && !memcmp(t->strings + o->off, s, o->len)) {
                i4_error("model.vocab: token \"%s\" is listed twice", s);
                goto out;
            }
            h = (h + 1) & vm.mask;
        }
        vm.slot[h] = (uint32_t)i;
    }
    for (int b = 0; b < 256; b++) {
        char sym[2];
        int n = byte_symbol(b, sym);
        int64_t id = vocab_find(&vm, sym, (size_t)n);
        if (id < 0) {
            i4_error("model.vocab lacks the byte-level symbol of byte 0x%02x (not a byte-level BPE?)", b);
            goto out;
        }
        t->byte_id[b] = (uint32_t)id;
    }
    if (parse_merges(t, mv[6], &vm) != 0) goto out;
    if (check_chat_template(dir) != 0) goto out;
    rc = 0;
out:
    free(vm.slot);
    free(ve);
    free(data);
    return rc;
}

int i4_tokenizer_load(i4_tokenizer **out, const char *tokenizer_dir) {
    *out = NULL;
    if (!tokenizer_dir) return i4_error("no tokenizer folder given");
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/tokenizer.json", tokenizer_dir) >= sizeof path)
        return i4_error("tokenizer path too long");
    i4_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return i4_error("out of memory");
    if (load(t, tokenizer_dir, path) != 0) {
        i4_error_prefix("loading %s", path);
        i4_tokenizer_free(t);
        return -1;
    }
    /* the chat template needs its two markers as added tokens */
    int have = 0;
    for (size_t i = 0; i < t->n_added; i++) {
        const char *s = t->strings + t->added[i].off;
        have |= !strcmp(s, "<|im_start|>") ? 1 : !strcmp(s, "<|im_end|>") ? 2 : 0;
    }
    if (have != 3) {
        i4_error("%s: <|im_start|> and <|im_end|> are not both added tokens (not a Qwen chat tokenizer)", path);
        i4_tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void i4_tokenizer_free(i4_tokenizer *t) {
    if (!t) return;
    free(t->str_off);
    free(t->str_len);
    free(t->strings);
    free(t->mkey);
    free(t->mrank);
    free(t->mnew);
    free(t->added);
    free(t);
}
