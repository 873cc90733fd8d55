/* growbuf.c — see growbuf.h. */
#include "base/growbuf.h"

#include <stdlib.h>
#include <string.h>

int i4_growbuf_append(i4_growbuf *b, const char *p, size_t n) {
    if (b->limit && b->len + n + 1 > b->limit) {
        b->overflow = 1;
        return -1;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

size_t i4_growbuf_curl_write(char *p, size_t size, size_t nmemb, void *user) {
    const size_t n = size * nmemb;
    return i4_growbuf_append(user, p, n) == 0 ? n : 0;
}
