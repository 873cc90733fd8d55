/*
 * pretokenize.c — the Qwen2 pre-tokenizer split, by hand (docs/MODEL.md §6.1):
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * HF tokenizers runs this pattern with Oniguruma (onig crate, UTF-8, Ruby
 * syntax): find the leftmost match, alternatives tried left to right, greedy
 * quantifiers with backtracking; "Isolated" keeps every match as a piece.
 * Every position starts a match (each character is a letter, a number,
 * whitespace or "other"), so the pieces tile the text. Character classes, per
 * code point of the NFC text:
 *   L  \p{L}  general category Lu Ll Lt Lm Lo (utf8proc)
 *   N  \p{N}  Nd Nl No — one code point per match, so numbers split digit by digit
 *   S  \s     Unicode White_Space (Oniguruma's CR_Space): U+0009–000D, 0020,
 *             0085, 00A0, 1680, 2000–200A, 2028, 2029, 202F, 205F, 3000
 *   O  anything else (punctuation, symbols, marks M*, Cf such as U+200B/ZWJ,
 *      controls, private use, unassigned)
 *   NL \r or \n (also in S)
 * At position i the first alternative that matches gives the piece:
 *   1. "'" + s|t|m|d, or "'" + re|ve|ll, case-insensitively with Unicode simple
 *      case folding: besides ASCII upper case only U+017F (long s) folds to one
 *      of these letters (checked against the reference over all code points).
 *   2. L+ from i; or, when c[i] is not NL/L/N and c[i+1] is L, c[i] + L+.
 *   3. one N.
 *   4. (optional U+0020 then) O+ then NL*: " " + O-run when c[i] == ' ' and
 *      c[i+1] is O, else O-run when c[i] is O; greedy trailing \r\n.
 *   5-7 (c[i] is whitespace). Let [i, j) be the maximal whitespace run.
 *   5. \s*[\r\n]+ : if the run holds \r or \n, the piece ends just after the
 *      LAST \r/\n of the run (greedy \s* backs off to it).
 *   6. \s+(?!\S) : else, at the end of the text the whole run; else a run of
 *      k >= 2 gives its first k-1 (the last space joins the next piece via 2
 *      or 4, or stands alone via 7 before a digit or another "other" start).
 *   7. \s+ : the single whitespace character.
 *
 * Unicode versions (checked over every code point U+0000–3FFFF, E0000–E0FFF
 * against tokenizers 0.23.3): the split agrees everywhere except on 5 004
 * code points assigned in Unicode 15.1/16.0 (CJK Ext. I U+2EBF0–2EE5D,
 * Egyptian Ext. A U+13460–143FA, Garay, Tulu-Tigalari, ...), which the
 * reference's Oniguruma (Unicode 16) sees as letters/digits and utf8proc 2.8
 * (Unicode 15.0) as unassigned ("other"). The reference's NFC tables are older
 * still (Unicode 9: about 108 combining marks added since, e.g. U+1E2EC–1E2EF,
 * U+10F46–10F50, keep combining class 0 there, and U+11935 U+11930 is not
 * composed), so sequences with those marks can normalise differently. None of
 * this touches common text.
 */
#include "text/pretokenize.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

const char i4_qwen2_split_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* ---------------------------------------------------------------- UTF-8 */

/* ------------------------------------------------------ character classes */

enum { C_L = 1, C_N = 2, C_S = 4, C_NL = 8 }; /* C_O = none of L/N/S */

static int is_white_space(uint32_t c) {
    if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || c == 0x20;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static uint8_t classify(uint32_t c) {
    if (c < 0x80) {
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return C_L;
        if (c >= '0' && c <= '9') return C_N;
        if (c == '\r' || c == '\n') return C_S | C_NL;
        return is_white_space(c) ? C_S : 0;
    }
    if (is_white_space(c)) return C_S;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return C_L;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return C_N;
    default: return 0;
    }
}

/* The ASCII letter c case-folds to (Oniguruma (?i), Unicode simple folding),
 * or 0: ASCII letters fold to lower case; U+017F LATIN SMALL LETTER LONG S
 * folds to 's'. */
static uint32_t fold(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c >= 'a' && c <= 'z') return c;
    if (c == 0x017F) return 's';
    return 0;
}

/* ------------------------------------------------------------------ split */

static int grow(i4_pretok_work *w, size_t n) {
    if (n + 1 <= w->cap) return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < n + 1) cap *= 2;
    uint32_t *cp = realloc(w->cp, cap * sizeof *cp);
    if (cp) w->cp = cp;
    uint8_t *cls = realloc(w->cls, cap);
    if (cls) w->cls = cls;
    size_t *off = realloc(w->off, cap * sizeof *off);
    if (off) w->off = off;
    if (!cp || !cls || !off) return -1;
    w->cap = cap;
    return 0;
}

/* End (code point index) of the piece starting at i. */
static size_t piece_end(const uint32_t *cp, const uint8_t *cls, size_t n, size_t i) {
    uint8_t c = cls[i];
    size_t j;
    /* 1. contractions */
    if (cp[i] == '\'' && i + 1 < n) {
        uint32_t a = fold(cp[i + 1]), b = i + 2 < n ? fold(cp[i + 2]) : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    /* 2. [^\r\n\p{L}\p{N}]?\p{L}+ */
    j = i;
    if (!(c & (C_L | C_N | C_NL)) && i + 1 < n && (cls[i + 1] & C_L)) j = i + 1;
    if (cls[j] & C_L) {
        while (j < n && (cls[j] & C_L)) j++;
        return j;
    }
    /* 3. \p{N} */
    if (c & C_N) return i + 1;
    /* 4. ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
    j = i;
    if (cp[i] == ' ' && i + 1 < n && !cls[i + 1]) j = i + 1;
    if (!cls[j]) {
        while (j < n && !cls[j]) j++;
        while (j < n && (cls[j] & C_NL)) j++;
        return j;
    }
    /* 5-7: c[i] is whitespace; [i, j) = the maximal whitespace run */
    j = i;
    size_t last_nl = n;
    while (j < n && (cls[j] & C_S)) {
        if (cls[j] & C_NL) last_nl = j;
        j++;
    }
    if (last_nl < n) return last_nl + 1; /* 5 */
    if (j == n) return j;                /* 6, run at the end */
    if (j - i >= 2) return j - 1;        /* 6, lookahead backs off one */
    return j;                            /* 7 */
}

long i4_pretokenize(const char *s, size_t n, i4_pretok_work *w) {
    if (grow(w, n) != 0) return -1;
    /* decode to code points (s is valid UTF-8) */
    size_t m = 0, i = 0;
    while (i < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t l = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        if (l <= 0) { /* cannot happen for repaired input; keep going byte-wise */
            c = 0xFFFD;
            l = 1;
        }
        w->cp[m] = (uint32_t)c;
        w->cls[m] = classify((uint32_t)c);
        w->off[m] = i;
        m++;
        i += (size_t)l;
    }
    w->off[m] = n;
    size_t np = 0;
    for (size_t p = 0; p < m;) {
        size_t e = piece_end(w->cp, w->cls, m, p);
        if (np == w->pieces_cap) {
            size_t cap = w->pieces_cap ? 2 * w->pieces_cap : 64;
            i4_span *ps = realloc(w->pieces, cap * sizeof *ps);
            if (!ps) return -1;
            w->pieces = ps;
            w->pieces_cap = cap;
        }
        w->pieces[np].start = w->off[p];
        w->pieces[np].end = w->off[e];
        np++;
        p = e;
    }
    return (long)np;
}

void i4_pretok_work_free(i4_pretok_work *w) {
    free(w->cp);
    free(w->cls);
    free(w->off);
    free(w->pieces);
    memset(w, 0, sizeof *w);
}
