#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define I4_ERROR_CAP 2048

static _Thread_local char last_error[I4_ERROR_CAP];

const char *i4_last_error(void) { return last_error; }

int i4_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}

int i4_error_prefix(const char *fmt, ...) {
    char prefix[I4_ERROR_CAP];
    char old[I4_ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    snprintf(last_error, sizeof last_error, "%s: %s", prefix, old);
    return -1;
}
