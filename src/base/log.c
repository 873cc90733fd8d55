/* log.c — see log.h. */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/utf8.h"

int i4_logger_open(i4_logger *lg, const char *dir, const char *prefix, int to_stderr) {
    memset(lg, 0, sizeof *lg);
    lg->to_stderr = to_stderr;
    lg->min_level = I4_LOG_INFO;
    pthread_mutex_init(&lg->lock, NULL);
    if (!dir || !*dir || !strcmp(dir, "none")) return 0;
    if (i4_mkdirs(dir) != 0) return -1;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    if ((size_t)snprintf(lg->path, sizeof lg->path, "%s/%s-%s-%d.log", dir, prefix, stamp, (int)getpid()) >=
        sizeof lg->path) {
        lg->path[0] = 0;
        return i4_error("log folder path too long: %s", dir);
    }
    lg->file = fopen(lg->path, "a");
    if (!lg->file) {
        int e = errno;
        i4_error("cannot create log file %s: %s", lg->path, strerror(e));
        lg->path[0] = 0;
        return -1;
    }
    return 0;
}

void i4_logger_close(i4_logger *lg) {
    if (lg->file) fclose(lg->file);
    lg->file = NULL;
    pthread_mutex_destroy(&lg->lock);
}

int i4_log_level_parse(const char *name) {
    if (!name) return -1;
    if (!strcasecmp(name, "debug")) return I4_LOG_DEBUG;
    if (!strcasecmp(name, "info")) return I4_LOG_INFO;
    if (!strcasecmp(name, "warning") || !strcasecmp(name, "warn")) return I4_LOG_WARN;
    if (!strcasecmp(name, "error")) return I4_LOG_ERROR;
    return -1;
}

void i4_log(i4_logger *lg, i4_log_level level, const char *component, const char *fmt, ...) {
    if (!lg || level < lg->min_level) return;
    static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char line[2048];
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03dZ %s %s ", (int)(tv.tv_usec / 1000), names[level],
                  component);
    /* Messages carry client text (URLs, names): control characters are
     * escaped so a request cannot forge or split log lines. */
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    i4_utf8_vformat(msg, sizeof msg, fmt, ap);
    va_end(ap);
    i4_escape_for_log(line + n, sizeof line - (size_t)n, msg);
    pthread_mutex_lock(&lg->lock);
    if (lg->to_stderr) fprintf(stderr, "%s\n", line);
    if (lg->file) {
        fprintf(lg->file, "%s\n", line);
        fflush(lg->file);
    }
    pthread_mutex_unlock(&lg->lock);
}
