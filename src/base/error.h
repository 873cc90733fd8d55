/*
 * error.h — error reporting: failing functions return a negative status and
 * record a message for i4_last_error(). The message buffer is thread-local so
 * kernels and server threads never race on it (the one exception to "no global
 * mutable state": it is per thread and carries no model state).
 */
#ifndef I4_ERROR_H
#define I4_ERROR_H

#include "ideogram4.h"

#if defined(__GNUC__)
#define I4_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define I4_PRINTF(a, b)
#endif

/* Record a message; always returns -1 so callers can `return i4_error(...)`. */
int i4_error(const char *fmt, ...) I4_PRINTF(1, 2);
/* Prefix the current message with more context ("loading X: <old message>"). */
int i4_error_prefix(const char *fmt, ...) I4_PRINTF(1, 2);

#endif
