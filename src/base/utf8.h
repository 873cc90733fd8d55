/*
 * utf8.h — UTF-8 text in fixed buffers, validation and repair, and escaping
 * for log lines.
 *
 * Every place that copies user or file-system text into a bounded buffer
 * goes through these helpers, so a cut never lands inside a multi-byte
 * character (a cut character is invalid UTF-8, which JSON encoders and the
 * database then refuse). Validation follows RFC 3629: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
 */
#ifndef I4_UTF8_H
#define I4_UTF8_H

#include <stdarg.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 when the
 * bytes at s (at most n of them) do not start one. */
size_t i4_utf8_char_len(const char *s, size_t n);
/* 1 when the n bytes at s are valid UTF-8 (NUL bytes count as valid). */
int i4_utf8_valid(const char *s, size_t n);
/* Repair as Rust's from_utf8_lossy does (each maximal invalid subpart
 * becomes one U+FFFD, Unicode Table 3-7): *out is NULL when s is already
 * valid, else a malloc'd NUL-terminated repaired copy. -1 out of memory. */
int i4_utf8_repair(const char *s, size_t n, char **out, size_t *out_len);
/* The longest prefix of the n bytes at s that is at most max bytes and does
 * not end inside a character (a byte count). Invalid bytes count as one
 * character each, so the cut never makes valid text invalid. */
size_t i4_utf8_prefix(const char *s, size_t n, size_t max);
/* Copy src into dst (size bytes, NUL-terminated), cut at a character
 * boundary. Returns 1 when src was cut, 0 when it fit. size must be >= 1. */
int i4_utf8_copy(char *dst, size_t size, const char *src);
/* vsnprintf into dst whose result, when cut, is cut back to a character
 * boundary. Returns 1 when the text was cut. */
int i4_utf8_vformat(char *dst, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
int i4_utf8_format(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A malloc'd NUL-terminated copy of the n bytes at s, repaired as
 * i4_utf8_repair does. NULL only when out of memory. */
char *i4_utf8_sanitized(const char *s, size_t n);
/* Copy src into dst (size bytes) with control characters (< 0x20, 0x7f)
 * written as \n, \r, \t or \xNN and invalid UTF-8 bytes as \xNN, so one log
 * line stays one line and readable. Cut at a boundary when full. */
void i4_escape_for_log(char *dst, size_t size, const char *src);

#endif
