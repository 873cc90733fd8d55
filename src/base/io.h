/* io.h — small I/O and clock helpers shared by the CLI, pipeline and server. */
#ifndef I4_IO_H
#define I4_IO_H

#include <stddef.h>
#include <stdio.h>

/* Read all of f into a NUL-terminated malloc'd buffer (the text may itself
 * contain NUL bytes; *len, if non-NULL, gets the byte count). NULL on error
 * or out of memory. */
char *i4_read_stream(FILE *f, size_t *len);

/* Monotonic clock in seconds (for durations). */
double i4_now_seconds(void);

#endif
