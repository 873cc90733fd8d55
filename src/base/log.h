/*
 * log.h — structured log lines to stderr and to a per-run file.
 *
 * A line reads `2026-11-28T04:30:00.123Z INFO  <component> <message>`. The
 * file is `<dir>/<prefix>-YYYYMMDD-HHMMSS-<pid>.log` (UTC), created with its
 * folder on open. A logger is an object owned by its user (the server, one
 * CLI run); writes from several threads are serialised by its mutex.
 */
#ifndef I4_LOG_H
#define I4_LOG_H

#include <pthread.h>
#include <stdio.h>

typedef enum { I4_LOG_DEBUG = 0, I4_LOG_INFO = 1, I4_LOG_WARN = 2, I4_LOG_ERROR = 3 } i4_log_level;

typedef struct {
    FILE *file;              /* NULL when no log folder */
    char path[4096];         /* the file's path, "" when none */
    int to_stderr;           /* also print to stderr */
    i4_log_level min_level;  /* lines below are dropped (file and stderr) */
    pthread_mutex_t lock;
} i4_logger;

/* dir NULL, "" or "none" → no file. Returns 0, or -1 (i4_last_error) when the
 * folder or file cannot be created; the logger then still works on stderr. */
int i4_logger_open(i4_logger *lg, const char *dir, const char *prefix, int to_stderr);
void i4_logger_close(i4_logger *lg);
/* "debug" | "info" | "warning"/"warn" | "error" (case-insensitive); -1 if unknown. */
int i4_log_level_parse(const char *name);
void i4_log(i4_logger *lg, i4_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
