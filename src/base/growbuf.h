/* growbuf.h — a NUL-terminated byte buffer that grows up to a limit: the
 * body of an HTTP reply collected by libcurl (its write callback). */
#ifndef I4_GROWBUF_H
#define I4_GROWBUF_H

#include <stddef.h>

typedef struct {
    char *data;      /* NUL-terminated; NULL until the first byte */
    size_t len, cap;
    size_t limit;    /* most bytes kept (including the NUL); 0 = no limit */
    int overflow;    /* set when a write would pass the limit */
} i4_growbuf;

/* Appends n bytes; 0 on success, -1 when past the limit (overflow set) or out of memory. */
int i4_growbuf_append(i4_growbuf *b, const char *p, size_t n);
/* A libcurl CURLOPT_WRITEFUNCTION appending to the i4_growbuf in user
 * (a short count stops the transfer with CURLE_WRITE_ERROR). */
size_t i4_growbuf_curl_write(char *p, size_t size, size_t nmemb, void *user);

#endif
