/* test_utf8.c — the UTF-8 helpers every fixed buffer of user text goes through. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "test.h"

I4_TEST(utf8_copy_never_cuts_a_character) {
    char buf[6];
    /* "aaaaé": the 5th+6th bytes are é; a 6-byte buffer holds 5 bytes. */
    CHECK(i4_utf8_copy(buf, sizeof buf, "aaaa\xc3\xa9") == 1);
    CHECK(!strcmp(buf, "aaaa"));
    CHECK(i4_utf8_copy(buf, sizeof buf, "aaa\xc3\xa9") == 0 && !strcmp(buf, "aaa\xc3\xa9"));
    /* A 4-byte character cut in every position. */
    for (size_t size = 1; size <= 5; size++) {
        char small[8];
        i4_utf8_copy(small, size, "\xf0\x9f\x98\x80");
        CHECK(i4_utf8_valid(small, strlen(small)));
        CHECK(strlen(small) == (size == 5 ? 4u : 0u));
    }
}

I4_TEST(utf8_format_cut_is_valid) {
    char buf[512];
    char in[600];
    memset(in, 'a', 510);
    strcpy(in + 510, "\xc3\xa9 tail");
    CHECK(i4_utf8_format(buf, sizeof buf, "%s", in) == 1);
    CHECK(strlen(buf) == 510 && i4_utf8_valid(buf, strlen(buf)));
    CHECK(i4_utf8_format(buf, sizeof buf, "%s", "short \xc3\xa9") == 0 && !strcmp(buf, "short \xc3\xa9"));
    /* The old snprintf cut left a lone lead byte: invalid. */
    char old[512];
    snprintf(old, sizeof old, "%s", in);
    CHECK(!i4_utf8_valid(old, strlen(old)));
}

I4_TEST(utf8_validation_rules) {
    CHECK(i4_utf8_valid("plain", 5));
    CHECK(!i4_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    CHECK(!i4_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!i4_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    CHECK(!i4_utf8_valid("\xff", 1));
    CHECK(i4_utf8_prefix("ab\xe2\x82\xac", 5, 4) == 2); /* € does not fit in 2 bytes */
    char *fixed = i4_utf8_sanitized("a\xffz", 3);
    CHECK(fixed && !strcmp(fixed, "a\xef\xbf\xbdz"));
    free(fixed);
}

I4_TEST(utf8_log_escape_keeps_one_line_D12) {
    char out[128];
    i4_escape_for_log(out, sizeof out, "GET /x\r\n2026 INFO forged\t\x01\xff ok \xc3\xa9");
    CHECK(!strchr(out, '\n') && !strchr(out, '\r'));
    CHECK(!strcmp(out, "GET /x\\r\\n2026 INFO forged\\t\\x01\\xff ok \xc3\xa9"));
    char tiny[8];
    i4_escape_for_log(tiny, sizeof tiny, "\n\n\n\n\n");
    CHECK(!strcmp(tiny, "\\n\\n\\n"));
}
