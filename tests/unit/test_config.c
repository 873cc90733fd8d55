/* test_config.c — model/config.h: a component's config.json behind typed getters. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "base/io.h"
#include "ideogram4.h"
#include "model/config.h"
#include "test.h"

static const char *write_config(const char *name, const char *text) {
    static char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", i4_test_tmpdir(), name);
    return i4_write_text_file(dir, "config.json", text) == 0 ? dir : NULL;
}

I4_TEST(config_getters) {
    const char *dir = write_config("cfg_ok", "{\"a\": 1.5, \"n\": 7, \"s\": \"silu\", \"b\": false, \"z\": null, "
                                             "\"t\": {\"u\": {\"v\": 3}}, \"l\": [1, 2, 3], \"one\": 4}");
    REQUIRE(dir);
    i4_config c;
    REQUIRE(i4_config_load(&c, dir, 1) == 0);
    double d;
    int64_t n, l[4];
    int b;
    const char *s;
    CHECK(i4_config_number(&c, "a", 0, &d) == 0 && d == 1.5);
    CHECK(i4_config_number(&c, "n", 0, &d) == 0 && d == 7);        /* an integer is a number */
    CHECK(i4_config_number(&c, "z", 9, &d) == 0 && d == 9);        /* null = default */
    CHECK(i4_config_number(&c, "missing", 2, &d) == 0 && d == 2);
    CHECK(i4_config_number(&c, "t.u.v", 0, &d) == 0 && d == 3);    /* dotted path */
    CHECK(i4_config_number(&c, "t.x.v", 5, &d) == 0 && d == 5);    /* absent in the middle */
    CHECK(i4_config_int(&c, "n", 0, &n) == 0 && n == 7);
    CHECK(i4_config_bool(&c, "b", 1, &b) == 0 && b == 0);
    CHECK(i4_config_string(&c, "s", "x", &s) == 0 && !strcmp(s, "silu"));
    CHECK(i4_config_int_list(&c, "l", 1, l, 4) == 3 && l[0] == 1 && l[2] == 3);
    CHECK(i4_config_int_list(&c, "one", 1, l, 4) == 1 && l[0] == 4);
    CHECK(i4_config_int_list(&c, "missing", 1, l, 4) == 0);

    /* Wrong types: errors that name the file and the key. */
    CHECK(i4_config_int(&c, "a", 0, &n) != 0 && strstr(i4_last_error(), "config.json: 'a' must be an integer"));
    CHECK(i4_config_number(&c, "s", 0, &d) != 0 && strstr(i4_last_error(), "'s' must be a number"));
    CHECK(i4_config_bool(&c, "n", 0, &b) != 0 && strstr(i4_last_error(), "'n'"));
    CHECK(i4_config_string(&c, "n", "", &s) != 0 && strstr(i4_last_error(), "'n' must be a string"));
    CHECK(i4_config_number(&c, "a.b", 0, &d) != 0 && strstr(i4_last_error(), "'a' must be an object"));
    CHECK(i4_config_int_list(&c, "l", 2, l, 4) < 0 && strstr(i4_last_error(), "'l'"));
    CHECK(i4_config_int_list(&c, "l", 1, l, 2) < 0 && strstr(i4_last_error(), "1..2"));
    i4_config_free(&c);
}

I4_TEST(config_load_errors) {
    i4_config c;
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/cfg_none", i4_test_tmpdir());
    /* Optional: absent file = every default. */
    REQUIRE(i4_config_load(&c, missing, 0) == 0);
    double d;
    CHECK(i4_config_number(&c, "x.y", 4, &d) == 0 && d == 4);
    i4_config_free(&c);
    /* Required: the message names the file. */
    CHECK(i4_config_load(&c, missing, 1) != 0 && strstr(i4_last_error(), "cfg_none/config.json"));

    const char *dir = write_config("cfg_bad", "{\"a\": ");
    REQUIRE(dir);
    CHECK(i4_config_load(&c, dir, 0) != 0 && strstr(i4_last_error(), "invalid JSON"));
    dir = write_config("cfg_array", "[1, 2]");
    REQUIRE(dir);
    CHECK(i4_config_load(&c, dir, 1) != 0 && strstr(i4_last_error(), "must be an object"));
}
