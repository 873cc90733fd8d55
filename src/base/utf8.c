/* utf8.c — see utf8.h. */
#include "base/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length (1..4) of the well-formed sequence at s, or 0 when it is not; then
 * *bad is the length (>= 1) of the maximal subpart to replace by one U+FFFD
 * (Unicode Table 3-7 of well-formed byte sequences). */
static size_t utf8_seq(const uint8_t *s, size_t n, size_t *bad) {
    uint8_t b0 = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (b0 < 0x80) return 1;
    if (b0 >= 0xC2 && b0 <= 0xDF) need = 1;
    else if (b0 == 0xE0) need = 2, lo = 0xA0;
    else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) need = 2;
    else if (b0 == 0xED) need = 2, hi = 0x9F;
    else if (b0 == 0xF0) need = 3, lo = 0x90;
    else if (b0 >= 0xF1 && b0 <= 0xF3) need = 3;
    else if (b0 == 0xF4) need = 3, hi = 0x8F;
    else {
        *bad = 1;
        return 0;
    }
    for (size_t k = 1; k <= need; k++) {
        uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (k >= n || s[k] < l || s[k] > h) {
            *bad = k;
            return 0;
        }
    }
    return need + 1;
}

int i4_utf8_valid(const char *s, size_t n) {
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, bad;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq(u + i, n - i, &bad);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

int i4_utf8_repair(const char *s, size_t n, char **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (i4_utf8_valid(s, n)) return 0;
    /* Worst case: every byte becomes 3 bytes. */
    if (n > ((size_t)-1) / 3 - 1) return -1;
    char *o = malloc(3 * n + 1);
    if (!o) return -1;
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, k = 0, bad;
    while (i < n) {
        size_t l = utf8_seq(u + i, n - i, &bad);
        if (l) {
            memcpy(o + k, s + i, l);
            k += l;
            i += l;
        } else {
            memcpy(o + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i += bad;
        }
    }
    o[k] = 0;
    *out = o;
    *out_len = k;
    return 0;
}

size_t i4_utf8_char_len(const char *s, size_t n) {
    size_t bad;
    return n ? utf8_seq((const uint8_t *)s, n, &bad) : 0;
}

size_t i4_utf8_prefix(const char *s, size_t n, size_t max) {
    if (n <= max) return n;
    size_t i = 0;
    while (i < n) {
        size_t len = i4_utf8_char_len(s + i, n - i);
        if (!len) len = 1; /* an invalid byte is a character of its own */
        if (i + len > max) break;
        i += len;
    }
    return i;
}

int i4_utf8_copy(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    size_t keep = i4_utf8_prefix(src, n, size - 1);
    memmove(dst, src, keep);
    dst[keep] = 0;
    return keep < n;
}

int i4_utf8_vformat(char *dst, size_t size, const char *fmt, va_list ap) {
    int n = vsnprintf(dst, size, fmt, ap);
    if (n < 0) {
        dst[0] = 0;
        return 1;
    }
    if ((size_t)n < size) return 0;
    /* vsnprintf cut at size-1 bytes, possibly inside a character: drop a
     * trailing lead byte whose continuation bytes were cut off. */
    size_t have = strlen(dst);
    for (size_t back = 1; back <= 3 && back <= have; back++) {
        unsigned char c = (unsigned char)dst[have - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation: look further back */
        size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (want > back) dst[have - back] = 0;
        break;
    }
    return 1;
}

int i4_utf8_format(char *dst, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int cut = i4_utf8_vformat(dst, size, fmt, ap);
    va_end(ap);
    return cut;
}

char *i4_utf8_sanitized(const char *s, size_t n) {
    char *fixed;
    size_t len;
    if (i4_utf8_repair(s, n, &fixed, &len) != 0) return NULL;
    if (fixed) return fixed;
    char *copy = malloc(n + 1);
    if (!copy) return NULL;
    memcpy(copy, s, n);
    copy[n] = 0;
    return copy;
}

void i4_escape_for_log(char *dst, size_t size, const char *src) {
    size_t o = 0, n = strlen(src);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)src[i];
        char esc[8];
        size_t elen, take;
        size_t len = i4_utf8_char_len(src + i, n - i);
        if (len == 1 && (c < 0x20 || c == 0x7f)) {
            if (c == '\n') memcpy(esc, "\\n", elen = 2);
            else if (c == '\r') memcpy(esc, "\\r", elen = 2);
            else if (c == '\t') memcpy(esc, "\\t", elen = 2);
            else elen = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
            take = 1;
        } else if (!len) {
            elen = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
            take = 1;
        } else {
            memcpy(esc, src + i, len);
            elen = take = len;
        }
        if (o + elen >= size) break;
        memcpy(dst + o, esc, elen);
        o += elen;
        i += take;
    }
    dst[o] = 0;
}
