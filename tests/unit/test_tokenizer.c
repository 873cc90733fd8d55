/*
 * test_tokenizer.c — the Qwen2 BPE tokenizer against HF tokenizers.
 *
 * tests/vectors/tokenizer_cases.json (tools/reference/ref_tokenizer.py, made
 * with tokenizers on the tiny model's tokenizer/tokenizer.json) lists hard
 * strings with their raw ids and chat-template ids; every case must match
 * exactly. Cases with "bytes_hex" feed invalid UTF-8 bytes; the reference ids
 * are those of Python's bytes.decode("utf-8", "replace") of the same bytes.
 * Also: the CLI (`tokenize`, `--raw`, stdin), token texts, and load errors.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "ideogram4.h"
#include "test.h"
#include "text/tokenizer.h"

static const char *tok_dir(void) {
    static char dir[512];
    if (!dir[0]) snprintf(dir, sizeof dir, "%s/tokenizer", i4_test_tiny_model());
    return dir;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static json_t *load_cases_file(const char *name) {
    char path[512];
    json_error_t err;
    json_t *c = json_load_file(i4_test_vector_path(name, path, sizeof path), JSON_ALLOW_NUL, &err);
    if (!c) fprintf(stderr, "  cannot read %s: %s\n", path, err.text);
    return c;
}

static json_t *load_cases(void) { return load_cases_file("tokenizer_cases.json"); }

/* The input bytes of a case (bytes_hex when present); malloc'd. */
static char *case_bytes(json_t *c, size_t *len) {
    json_t *hex = json_object_get(c, "bytes_hex");
    if (json_is_string(hex)) {
        const char *h = json_string_value(hex);
        size_t n = strlen(h) / 2;
        char *b = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            unsigned v;
            sscanf(h + 2 * i, "%2x", &v);
            b[i] = (char)v;
        }
        b[n] = 0;
        *len = n;
        return b;
    }
    json_t *t = json_object_get(c, "text");
    *len = json_string_length(t);
    char *b = malloc(*len + 1);
    memcpy(b, json_string_value(t), *len);
    b[*len] = 0;
    return b;
}

/* 0 when ids equal the JSON list; else prints the first difference. */
static int compare_ids(const char *what, size_t case_no, const char *text, const int64_t *ids, size_t n,
                       json_t *expect) {
    size_t m = json_array_size(expect), i = 0;
    while (i < n && i < m && ids[i] == json_integer_value(json_array_get(expect, i))) i++;
    if (i == n && i == m) return 0;
    fprintf(stderr, "  case %zu %s \"%.60s%s\": %zu ids, expected %zu; first difference at %zu: got %lld, want %lld\n",
            case_no, what, text, strlen(text) > 60 ? "..." : "", n, m, i, i < n ? (long long)ids[i] : -1LL,
            i < m ? (long long)json_integer_value(json_array_get(expect, i)) : -1LL);
    return 1;
}

I4_TEST(tokenizer_reference_cases) {
    json_t *cases = load_cases();
    REQUIRE(cases && json_is_array(cases));
    CHECK(json_array_size(cases) >= 40);
    double t0 = now_ms();
    i4_tokenizer *tok;
    int rc = i4_tokenizer_load(&tok, tok_dir());
    double t1 = now_ms();
    if (rc != 0) fprintf(stderr, "  %s\n", i4_last_error());
    REQUIRE(rc == 0);
    fprintf(stderr, "  load %.1f ms\n", t1 - t0);
    size_t bad = 0, longest = 0;
    double longest_ms = 0;
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        size_t len;
        char *b = case_bytes(c, &len);
        const char *label = json_string_value(json_object_get(c, "text"));
        int64_t *ids;
        size_t n;
        double a = now_ms();
        rc = i4_tokenizer_encode(tok, b, len, &ids, &n);
        double e = now_ms();
        CHECK(rc == 0);
        if (rc == 0) {
            bad += (size_t)compare_ids("raw", k, label, ids, n, json_object_get(c, "raw_ids"));
            free(ids);
        }
        if (len > longest) longest = len, longest_ms = e - a;
        rc = i4_tokenizer_encode_prompt(tok, b, len, &ids, &n);
        CHECK(rc == 0);
        if (rc == 0) {
            bad += (size_t)compare_ids("prompt", k, label, ids, n, json_object_get(c, "prompt_ids"));
            free(ids);
        }
        free(b);
    }
    fprintf(stderr, "  %zu cases, %zu mismatches; longest input %zu bytes encoded in %.2f ms\n",
            json_array_size(cases), bad, longest, longest_ms);
    CHECK(bad == 0);
    i4_tokenizer_free(tok);
    json_decref(cases);
}

/* A small tokenizer written by the reference script from the same file:
 * merges as "a b" strings and as ["a", "b"] arrays, tokens needing JSON
 * escapes, a pair listed twice. */
I4_TEST(tokenizer_mini_merge_formats) {
    json_t *cases = load_cases_file("tokenizer_mini_cases.json");
    REQUIRE(cases && json_array_size(cases) > 0);
    static const char *dirs[] = {"tokenizer_mini", "tokenizer_mini_arrays"};
    for (int d = 0; d < 2; d++) {
        char dir[512];
        i4_tokenizer *tok;
        int rc = i4_tokenizer_load(&tok, i4_test_vector_path(dirs[d], dir, sizeof dir));
        if (rc != 0) fprintf(stderr, "  %s\n", i4_last_error());
        REQUIRE(rc == 0);
        size_t bad = 0;
        for (size_t k = 0; k < json_array_size(cases); k++) {
            json_t *c = json_array_get(cases, k);
            const char *text = json_string_value(json_object_get(c, "text"));
            size_t len = json_string_length(json_object_get(c, "text"));
            int64_t *ids;
            size_t n;
            REQUIRE(i4_tokenizer_encode(tok, text, len, &ids, &n) == 0);
            bad += (size_t)compare_ids(dirs[d], k, text, ids, n, json_object_get(c, "raw_ids"));
            free(ids);
            REQUIRE(i4_tokenizer_encode_prompt(tok, text, len, &ids, &n) == 0);
            bad += (size_t)compare_ids(dirs[d], k, text, ids, n, json_object_get(c, "prompt_ids"));
            free(ids);
        }
        CHECK(bad == 0);
        i4_tokenizer_free(tok);
    }
    json_decref(cases);
}

I4_TEST(tokenizer_known_ids_and_texts) {
    i4_tokenizer *tok;
    REQUIRE(i4_tokenizer_load(&tok, tok_dir()) == 0);
    /* docs/MODEL.md §12.7 */
    static const int64_t hello[] = {151644, 872, 198, 9707, 151645, 198, 151644, 77091, 198};
    int64_t *ids;
    size_t n;
    REQUIRE(i4_tokenizer_encode_prompt(tok, "Hello", 5, &ids, &n) == 0);
    CHECK(n == 9 && !memcmp(ids, hello, sizeof hello));
    free(ids);
    /* empty input: no ids, but a valid array */
    REQUIRE(i4_tokenizer_encode(tok, "", 0, &ids, &n) == 0);
    CHECK(n == 0 && ids != NULL);
    free(ids);
    CHECK(i4_tokenizer_vocab_size(tok) == 151669);
    const char *s = i4_tokenizer_token_text(tok, 9707);
    CHECK(s && !strcmp(s, "Hello"));
    s = i4_tokenizer_token_text(tok, 220); /* " " in the byte-level alphabet */
    CHECK(s && !strcmp(s, "\xC4\xA0"));
    s = i4_tokenizer_token_text(tok, 151645);
    CHECK(s && !strcmp(s, "<|im_end|>"));
    CHECK(i4_tokenizer_token_text(tok, -1) == NULL);
    CHECK(i4_tokenizer_token_text(tok, 151669) == NULL);
    CHECK(i4_tokenizer_token_text(tok, 1LL << 40) == NULL);
    i4_tokenizer_free(tok);
    /* The public one-call form (ideogram4.h). */
    REQUIRE(i4_tokenize(tok_dir(), "Hello", 5, 1, &ids, &n) == 0);
    CHECK(n == 9 && !memcmp(ids, hello, sizeof hello));
    free(ids);
    REQUIRE(i4_tokenize(tok_dir(), "Hello", 5, 0, &ids, &n) == 0);
    CHECK(n == 1 && ids[0] == 9707);
    free(ids);
    CHECK(i4_tokenize("/nonexistent", "x", 1, 1, &ids, &n) != 0);
}

/* Invalid UTF-8 is replaced, per maximal invalid subpart, by U+FFFD. */
I4_TEST(tokenizer_invalid_utf8) {
    i4_tokenizer *tok;
    REQUIRE(i4_tokenizer_load(&tok, tok_dir()) == 0);
    static const struct {
        const char *bad, *fixed;
    } cases[] = {
        {"abc\xff" "def", "abc\xEF\xBF\xBD" "def"},
        {"\xe2\x82 x", "\xEF\xBF\xBD x"},                                    /* truncated 3-byte: one U+FFFD */
        {"\xed\xa0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},           /* surrogate: three */
        {"\xc0\xaf", "\xEF\xBF\xBD\xEF\xBF\xBD"},                           /* overlong */
        {"\xf0\x9f\x98", "\xEF\xBF\xBD"},                                   /* truncated at the end */
        {"x\x80\x80y", "x\xEF\xBF\xBD\xEF\xBF\xBDy"},                       /* stray continuations */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int64_t *a, *b;
        size_t na, nb;
        REQUIRE(i4_tokenizer_encode(tok, cases[k].bad, strlen(cases[k].bad), &a, &na) == 0);
        REQUIRE(i4_tokenizer_encode(tok, cases[k].fixed, strlen(cases[k].fixed), &b, &nb) == 0);
        CHECK(na == nb && !memcmp(a, b, na * sizeof *a));
        free(a);
        free(b);
    }
    /* NUL is an ordinary character (length-delimited input) */
    int64_t *ids;
    size_t n;
    REQUIRE(i4_tokenizer_encode(tok, "a\0b", 3, &ids, &n) == 0);
    CHECK(n == 3);
    free(ids);
    i4_tokenizer_free(tok);
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

I4_TEST(tokenizer_load_errors) {
    char dir[600], path[700];
    i4_tokenizer *tok = (i4_tokenizer *)1;
    snprintf(dir, sizeof dir, "%s/tok-missing", i4_test_tmpdir());
    mkdir(dir, 0755);
    CHECK(i4_tokenizer_load(&tok, dir) != 0);
    CHECK(tok == NULL);
    CHECK(strstr(i4_last_error(), "tokenizer.json") != NULL);

    /* truncated / malformed JSON */
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    REQUIRE(write_file(path, "{\"model\": {\"vocab\": {\"a\": 0, ") == 0);
    CHECK(i4_tokenizer_load(&tok, dir) != 0);
    /* a different split regex is refused, not silently mis-tokenized */
    REQUIRE(write_file(path, "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"Sequence\","
                             "\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\s+\"},"
                             "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\"}]},"
                             "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}") == 0);
    CHECK(i4_tokenizer_load(&tok, dir) != 0);
    CHECK(strstr(i4_last_error(), "pre_tokenizer") != NULL);
    /* the right regex but a vocabulary without the byte alphabet */
    char json[2048];
    snprintf(json, sizeof json,
             "{\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":"
             "\"Split\",\"pattern\":{\"Regex\":\"%s\"},\"behavior\":\"Isolated\",\"invert\":false},{\"type\":"
             "\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]},"
             "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a\"]}}",
             "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+"
             "[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+");
    REQUIRE(write_file(path, json) == 0);
    CHECK(i4_tokenizer_load(&tok, dir) != 0);
    CHECK(strstr(i4_last_error(), "byte-level") != NULL);

    /* every truncation of a valid file fails cleanly; byte mutations never crash */
    char src[512];
    snprintf(src, sizeof src, "%s/tokenizer.json", i4_test_vector_path("tokenizer_mini", json, sizeof json));
    FILE *f = fopen(src, "rb");
    REQUIRE(f);
    static char orig[16384];
    size_t n = fread(orig, 1, sizeof orig, f);
    fclose(f);
    REQUIRE(n > 1000 && n < sizeof orig);
    size_t accepted = 0;
    for (size_t cut = 0; cut < n - 1; cut += 1 + cut / 512) {
        FILE *o = fopen(path, "wb");
        REQUIRE(o);
        fwrite(orig, 1, cut, o);
        fclose(o);
        if (i4_tokenizer_load(&tok, dir) == 0) {
            accepted++;
            i4_tokenizer_free(tok);
        }
    }
    CHECK(accepted == 0);
    uint64_t r = 12345;
    static const char junk[] = "{}[]\":,\\ 0a-\x01\xff";
    for (int it = 0; it < 300; it++) {
        char mut[16384];
        memcpy(mut, orig, n);
        for (int k = 0; k < 3; k++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            mut[(r >> 33) % n] = junk[(r >> 20) % (sizeof junk - 1)];
        }
        FILE *o = fopen(path, "wb");
        REQUIRE(o);
        fwrite(mut, 1, n, o);
        fclose(o);
        if (i4_tokenizer_load(&tok, dir) == 0) {
            int64_t *ids;
            size_t m;
            if (i4_tokenizer_encode_prompt(tok, "hello abc", 9, &ids, &m) == 0) free(ids);
            i4_tokenizer_free(tok);
        }
    }
}

/* Writes tests/vectors/tokenizer_mini/tokenizer.json, changed by edit(root),
 * into dir and returns the result of loading it (freed). */
static int load_edited(const char *dir, void (*edit)(json_t *root)) {
    char src[512], path[700];
    json_t *root = json_load_file(i4_test_vector_path("tokenizer_mini/tokenizer.json", src, sizeof src), 0, NULL);
    if (!root) return -2;
    edit(root);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    int rc = json_dump_file(root, path, 0);
    json_decref(root);
    if (rc != 0) return -2;
    i4_tokenizer *tok = NULL;
    rc = i4_tokenizer_load(&tok, dir);
    i4_tokenizer_free(tok);
    return rc;
}

static json_t *merges_of(json_t *root) { return json_object_get(json_object_get(root, "model"), "merges"); }
static void first_merge_space(json_t *root) { json_array_insert_new(merges_of(root), 0, json_string(" ")); }
static void first_merge_empty_pair(json_t *root) {
    json_array_insert_new(merges_of(root), 0, json_pack("[s, s]", "", "a"));
}
static void huge_added_id(json_t *root) {
    json_array_append_new(json_object_get(root, "added_tokens"),
                          json_pack("{s:I, s:s}", "id", (json_int_t)2147483647, "content", "<big>"));
}
static void unchanged(json_t *root) { (void)root; }

/* Found by tests/fuzz/fuzz_tokenizer_load (corpus files empty_merge and
 * huge_id): a first merge with an empty token ("a b" split into "" and "")
 * passed a NULL buffer to memcpy (UBSan), and one added token with id
 * 2^31 - 1 made a 4 KB file allocate and fill a 16 GB id table. */
I4_TEST(tokenizer_load_rejects_empty_merges_and_sparse_ids) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/tok-edited", i4_test_tmpdir());
    mkdir(dir, 0755);
    REQUIRE(load_edited(dir, unchanged) == 0);
    CHECK(load_edited(dir, first_merge_space) == -1);
    CHECK(strstr(i4_last_error(), "not two tokens") != NULL);
    CHECK(load_edited(dir, first_merge_empty_pair) == -1);
    CHECK(strstr(i4_last_error(), "empty token") != NULL);
    CHECK(load_edited(dir, huge_added_id) == -1);
    CHECK(strstr(i4_last_error(), "2147483647") != NULL);
}

/* Run a shell command, return its stdout (first 64 KB). */
static char *run(const char *cmd) {
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, p);
    buf[n] = 0;
    if (pclose(p) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int ids_line_matches(const char *line, json_t *expect) {
    const char *p = line;
    for (size_t i = 0; i < json_array_size(expect); i++) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v != json_integer_value(json_array_get(expect, i))) return 0;
        p = end;
    }
    return !strcmp(p, "\n");
}

I4_TEST(tokenizer_cli) {
    const char *bin = getenv("I4_BIN") ? getenv("I4_BIN") : "build/ideogram4";
    json_t *cases = load_cases();
    REQUIRE(cases);
    json_t *hello = NULL, *accents = NULL, *pretty = NULL;
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        const char *t = json_string_value(json_object_get(c, "text"));
        if (!strcmp(t, "Hello")) hello = c;
        if (!strncmp(t, "Caf\xC3\xA9 cr", 7)) accents = c;
        if (!strncmp(t, "{\n  \"high_level", 15)) pretty = c;
    }
    REQUIRE(hello && accents && pretty);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' tokenize --model '%s' Hello", bin, i4_test_tiny_model());
    char *out = run(cmd);
    CHECK(out && ids_line_matches(out, json_object_get(hello, "prompt_ids")));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' tokenize --tokenizer '%s' --raw '%s'", bin, tok_dir(),
             json_string_value(json_object_get(accents, "text")));
    out = run(cmd);
    CHECK(out && ids_line_matches(out, json_object_get(accents, "raw_ids")));
    free(out);
    /* stdin: a multi-line caption, verbatim */
    char path[600];
    snprintf(path, sizeof path, "%s/pretty.txt", i4_test_tmpdir());
    REQUIRE(write_file(path, json_string_value(json_object_get(pretty, "text"))) == 0);
    snprintf(cmd, sizeof cmd, "'%s' tokenize --model '%s' - < '%s'", bin, i4_test_tiny_model(), path);
    out = run(cmd);
    CHECK(out && ids_line_matches(out, json_object_get(pretty, "prompt_ids")));
    free(out);
    /* errors: missing tokenizer -> exit 1, no text -> usage (exit 2) */
    snprintf(cmd, sizeof cmd, "'%s' tokenize --tokenizer '%s/nowhere' x 2>/dev/null", bin, i4_test_tmpdir());
    CHECK(system(cmd) != 0);
    snprintf(cmd, sizeof cmd, "'%s' tokenize --model '%s' 2>/dev/null", bin, i4_test_tiny_model());
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    json_decref(cases);
}
