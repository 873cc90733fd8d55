/* test_magic_prompt.c — the magic-prompt client (docs/APP.md §7) against a fake
 * OpenAI-compatible server (libmicrohttpd on a free loopback port, one per
 * test, own thread per connection). Cases: good reply in a code fence with
 * prose (request body, headers and the resulting caption checked exactly),
 * unparsable JSON, no JSON object, HTTP 500 and 401, a slow reply past a 1 s
 * timeout, a reply without choices, a caption the verifier rejects, input
 * validation, the env config loader, the JSON extraction on tricky text and
 * i4_mp_parse_reply on reply bodies without HTTP. */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ideogram4.h"
#include "server/magic_prompt.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* Fake server                                                         */

enum { M_GOOD, M_BAD_JSON, M_NO_OBJECT, M_500, M_401, M_SLOW, M_NO_CHOICES, M_INVALID_CAPTION };

typedef struct {
    int mode;
    struct MHD_Daemon *d;
    int port;
    volatile int stop;
    pthread_mutex_t mu;
    int requests;
    char *body;       /* last request body */
    char auth[256];   /* last Authorization header ("" if none) */
    char url[256];
    char method[16];
} fake_t;

typedef struct {
    char *data;
    size_t len;
} conn_buf;

/* The LLM's message content for the good mode: prose, a fenced block with
 * aspect_ratio, bboxes, style aliases, a palette as one lower-case string,
 * keys out of order and non-ASCII text; then trailing prose. */
static const char GOOD_CONTENT[] =
    "Sure! Here is the caption you asked for:\n"
    "```json\n"
    "{\"aspect_ratio\": \"16:9\", \"high_level_description\": \"A caf\xC3\xA9 sign reading '\xE3\x82\xAB\xE3\x83\x95\xE3\x82\xA7' {open}.\","
    " \"style_description\": {\"medium\": \" Digital Photograph \", \"aesthetics\": \"crisp\", \"lighting\": \"soft daylight\","
    " \"camera\": \"35mm lens\", \"palette\": \"#aabbcc, #112233 ,#FfEeDd\"},"
    " \"compositional_deconstruction\": {\"elements\": ["
    "{\"desc\": \"A wooden sign with a brace } inside\", \"bbox\": [1, 2, 3, 4], \"type\": \"obj\"},"
    "{\"desc\": \"Hand-painted white letters\", \"text\": \"\xE3\x82\xAB\xE3\x83\x95\xE3\x82\xA7\\nOPEN\", \"type\": \"text\", \"bbox\": [10, 20, 30, 40]}],"
    " \"background\": \"A narrow street \\\"at noon\\\".\"}}\n"
    "```\n"
    "Hope this helps {really}.";

static const char GOOD_EXPECTED[] =
    "{\"high_level_description\":\"A caf\xC3\xA9 sign reading '\xE3\x82\xAB\xE3\x83\x95\xE3\x82\xA7' {open}.\","
    "\"style_description\":{\"aesthetics\":\"crisp\",\"lighting\":\"soft daylight\",\"photo\":\"35mm lens\","
    "\"medium\":\"digital_photograph\",\"color_palette\":[\"#AABBCC\",\"#112233\",\"#FFEEDD\"]},"
    "\"compositional_deconstruction\":{\"background\":\"A narrow street \\\"at noon\\\".\",\"elements\":["
    "{\"type\":\"obj\",\"desc\":\"A wooden sign with a brace } inside\"},"
    "{\"type\":\"text\",\"text\":\"\xE3\x82\xAB\xE3\x83\x95\xE3\x82\xA7\\nOPEN\",\"desc\":\"Hand-painted white letters\"}]}}";

static const char *content_for(int mode) {
    switch (mode) {
    case M_GOOD: return GOOD_CONTENT;
    case M_BAD_JSON: return "```\n{\"high_level_description\": \"x\", \"style_description\": {,}}\n```";
    case M_NO_OBJECT: return "I cannot help with that.";
    case M_INVALID_CAPTION:
        return "{\"high_level_description\": \"x\", \"style_description\": {\"aesthetics\": \"a\", \"lighting\": \"b\","
               " \"photo\": \"c\", \"medium\": \"photograph\", \"art_style\": \"d\"},"
               " \"compositional_deconstruction\": {\"background\": \"bg\", \"elements\": []}}";
    default: return "";
    }
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *text) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls) {
    (void)version;
    fake_t *f = cls;
    conn_buf *b = *con_cls;
    if (!b) {
        *con_cls = calloc(1, sizeof(conn_buf));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        char *nd = realloc(b->data, b->len + *upload_data_size + 1);
        if (!nd) return MHD_NO;
        b->data = nd;
        memcpy(b->data + b->len, upload_data, *upload_data_size);
        b->len += *upload_data_size;
        b->data[b->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&f->mu);
    f->requests++;
    free(f->body);
    f->body = b->data ? strdup(b->data) : strdup("");
    snprintf(f->auth, sizeof f->auth, "%s", auth ? auth : "");
    snprintf(f->url, sizeof f->url, "%s", url);
    snprintf(f->method, sizeof f->method, "%s", method);
    pthread_mutex_unlock(&f->mu);

    switch (f->mode) {
    case M_500: return send_text(c, 500, "{\"error\": \"model crashed while loading\"}");
    case M_401: return send_text(c, 401, "{\"error\": {\"message\": \"Invalid API key\"}}");
    case M_NO_CHOICES: return send_text(c, 200, "{\"id\": \"x\", \"choices\": []}");
    case M_SLOW:
        for (int i = 0; i < 300 && !f->stop; i++) usleep(10000); /* up to 3 s, cut short at shutdown */
        return send_text(c, 200, "{\"choices\": []}");
    default: {
        json_t *reply = json_pack("{s:s, s:[{s:i, s:{s:s, s:s}}]}", "id", "chatcmpl-1", "choices", "index", 0,
                                  "message", "role", "assistant", "content", content_for(f->mode));
        char *txt = json_dumps(reply, 0);
        json_decref(reply);
        enum MHD_Result r = send_text(c, 200, txt);
        free(txt);
        return r;
    }
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    conn_buf *b = *con_cls;
    if (b) {
        free(b->data);
        free(b);
        *con_cls = NULL;
    }
}

static int fake_start(fake_t *f, int mode) {
    memset(f, 0, sizeof *f);
    f->mode = mode;
    pthread_mutex_init(&f->mu, NULL);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = 0; /* any free port */
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                            handler, f, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, f, MHD_OPTION_END);
    if (!f->d) return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
    f->port = info ? info->port : 0;
    return f->port > 0 ? 0 : -1;
}

static void fake_stop(fake_t *f) {
    f->stop = 1;
    if (f->d) MHD_stop_daemon(f->d);
    free(f->body);
    pthread_mutex_destroy(&f->mu);
}

static void fake_config(i4_magic_prompt_config *cfg, const fake_t *f) {
    i4_magic_prompt_config_defaults(cfg);
    snprintf(cfg->base_url, sizeof cfg->base_url, "http://127.0.0.1:%d/v1", f->port);
    snprintf(cfg->model, sizeof cfg->model, "%s", "test-llm");
    snprintf(cfg->api_key, sizeof cfg->api_key, "%s", "sk-test-123");
    cfg->timeout_seconds = 5;
    cfg->max_tokens = 777;
    cfg->temperature = 0.25;
}

/* A 1x1 PNG and the first bytes of a JPEG / WebP, base64. */
static const char PNG_B64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
static const char JPEG_B64[] = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgH";
static const char WEBP_B64[] = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==";

/* ------------------------------------------------------------------ */
/* End-to-end against the fake server                                  */

I4_TEST(magic_good_reply_and_request) {
    fake_t f;
    REQUIRE(fake_start(&f, M_GOOD) == 0);
    i4_magic_prompt_config cfg;
    fake_config(&cfg, &f);
    char png_url[512], jpeg_mislabelled[512];
    snprintf(png_url, sizeof png_url, "data:image/png;base64,%s", PNG_B64);
    snprintf(jpeg_mislabelled, sizeof jpeg_mislabelled, "data:image/png;base64,%s", JPEG_B64); /* sniffed → jpeg */
    const char *imgs[3] = {png_url, jpeg_mislabelled, WEBP_B64};
    i4_magic_prompt_result r;
    int rc = i4_magic_prompt_run(&cfg, "A caf\xC3\xA9 sign", imgs, 3, 1920, 1088, &r);
    if (rc) fprintf(stderr, "  run: %s: %s\n", i4_mp_error_name(r.kind), r.message);
    CHECK(rc == 0);
    CHECK(r.kind == I4_MP_OK);
    CHECK(r.http_status == 200);
    CHECK(r.issues.count == 0);
    REQUIRE(r.caption_json != NULL);
    if (strcmp(r.caption_json, GOOD_EXPECTED)) fprintf(stderr, "  got caption: %s\n", r.caption_json);
    CHECK(!strcmp(r.caption_json, GOOD_EXPECTED));
    i4_magic_prompt_result_free(&r);

    /* what the server received */
    CHECK(f.requests == 1);
    CHECK(!strcmp(f.method, "POST"));
    CHECK(!strcmp(f.url, "/v1/chat/completions"));
    CHECK(!strcmp(f.auth, "Bearer sk-test-123"));
    json_t *body = json_loads(f.body, 0, NULL);
    REQUIRE(body != NULL);
    CHECK(!strcmp(json_string_value(json_object_get(body, "model")) ?: "", "test-llm"));
    CHECK(json_integer_value(json_object_get(body, "max_tokens")) == 777);
    CHECK_NEAR(json_number_value(json_object_get(body, "temperature")), 0.25, 1e-12);
    CHECK(json_object_get(body, "response_format") == NULL);
    CHECK(json_object_get(body, "chat_template_kwargs") == NULL); /* openai_compatible */
    json_t *msgs = json_object_get(body, "messages");
    REQUIRE(json_array_size(msgs) == 2);
    json_t *sys = json_array_get(msgs, 0), *usr = json_array_get(msgs, 1);
    CHECK(!strcmp(json_string_value(json_object_get(sys, "role")) ?: "", "system"));
    const char *sys_text = json_string_value(json_object_get(sys, "content"));
    CHECK(sys_text && strstr(sys_text, "aspect_ratio, high_level_description, style_description, "
                                       "compositional_deconstruction"));
    CHECK(!strcmp(json_string_value(json_object_get(usr, "role")) ?: "", "user"));
    json_t *parts = json_object_get(usr, "content");
    REQUIRE(json_array_size(parts) == 4);
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(parts, 0), "type")) ?: "", "text"));
    CHECK(!strcmp(json_string_value(json_object_get(json_array_get(parts, 0), "text")) ?: "",
                  "TARGET IMAGE ASPECT RATIO: 30:17 (width:height).\n\nA caf\xC3\xA9 sign"));
    const char *mimes[3] = {"data:image/png;base64,", "data:image/jpeg;base64,", "data:image/webp;base64,"};
    const char *payloads[3] = {PNG_B64, JPEG_B64, WEBP_B64};
    for (int i = 0; i < 3; i++) {
        json_t *p = json_array_get(parts, (size_t)i + 1);
        CHECK(!strcmp(json_string_value(json_object_get(p, "type")) ?: "", "image_url"));
        const char *u = json_string_value(json_object_get(json_object_get(p, "image_url"), "url"));
        REQUIRE(u != NULL);
        CHECK(!strncmp(u, mimes[i], strlen(mimes[i])));
        CHECK(!strcmp(u + strlen(mimes[i]), payloads[i]));
    }
    json_decref(body);
    fake_stop(&f);
}

I4_TEST(magic_llama_cpp_request_fields_no_key) {
    fake_t f;
    REQUIRE(fake_start(&f, M_GOOD) == 0);
    i4_magic_prompt_config cfg;
    fake_config(&cfg, &f);
    cfg.api_key[0] = '\0'; /* optional for llama_cpp */
    cfg.provider = I4_MP_PROVIDER_LLAMA_CPP;
    cfg.profile = I4_MP_PROFILE_COMPACT;
    cfg.response_format_json = 1;
    snprintf(cfg.token_param, sizeof cfg.token_param, "max_completion_tokens");
    i4_magic_prompt_result r;
    CHECK(i4_magic_prompt_run(&cfg, "a cat", NULL, 0, 1024, 1024, &r) == 0);
    CHECK(r.kind == I4_MP_OK);
    i4_magic_prompt_result_free(&r);
    CHECK(f.auth[0] == '\0');
    json_t *body = json_loads(f.body, 0, NULL);
    REQUIRE(body != NULL);
    CHECK(json_object_get(body, "max_tokens") == NULL);
    CHECK(json_integer_value(json_object_get(body, "max_completion_tokens")) == 777);
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(body, "response_format"), "type")) ?: "",
                  "json_object"));
    CHECK(json_is_false(json_object_get(json_object_get(body, "chat_template_kwargs"), "enable_thinking")));
    CHECK(!strcmp(json_string_value(json_object_get(body, "reasoning_format")) ?: "", "none"));
    json_t *usr = json_array_get(json_object_get(body, "messages"), 1);
    CHECK(!strcmp(json_string_value(json_object_get(usr, "content")) ?: "",
                  "TARGET IMAGE ASPECT RATIO: 1:1 (width:height).\n\nUSER IDEA:\na cat"));
    json_decref(body);
    fake_stop(&f);
}

static void expect_failure(int *i4_failures, int mode, i4_mp_error kind, long status, const char *needle,
                           double timeout) {
    fake_t f;
    if (fake_start(&f, mode) != 0) {
        fprintf(stderr, "  fake server did not start\n");
        (*i4_failures)++;
        return;
    }
    i4_magic_prompt_config cfg;
    fake_config(&cfg, &f);
    if (timeout > 0) cfg.timeout_seconds = timeout;
    i4_magic_prompt_result r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = i4_magic_prompt_run(&cfg, "a cat", NULL, 0, 1024, 768, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (r.kind != kind || !strstr(r.message, needle))
        fprintf(stderr, "  mode %d: got %s '%s'\n", mode, i4_mp_error_name(r.kind), r.message);
    CHECK(rc == -1);
    CHECK(r.kind == kind);
    CHECK(r.http_status == status);
    CHECK(strstr(r.message, needle) != NULL);
    if (kind == I4_MP_TIMEOUT) CHECK(dt >= 0.9 && dt < 2.5);
    CHECK(f.requests == 1);
    i4_magic_prompt_result_free(&r);
    fake_stop(&f);
}

I4_TEST(magic_http_500) {
    expect_failure(i4_failures, M_500, I4_MP_HTTP_ERROR, 500,
                   "HTTP 500 Internal Server Error: {\"error\": \"model crashed while loading\"}", 0);
}
I4_TEST(magic_http_401) {
    expect_failure(i4_failures, M_401, I4_MP_HTTP_ERROR, 401, "HTTP 401 Unauthorized: {\"error\": {\"message\": \"Invalid API key\"}}", 0);
}
I4_TEST(magic_timeout) { expect_failure(i4_failures, M_SLOW, I4_MP_TIMEOUT, 0, "timed out after 1 s", 1.0); }
I4_TEST(magic_no_choices) {
    expect_failure(i4_failures, M_NO_CHOICES, I4_MP_BAD_REPLY, 200, "No choices in response: {\"id\": \"x\"", 0);
}
I4_TEST(magic_bad_json_reply) {
    expect_failure(i4_failures, M_BAD_JSON, I4_MP_BAD_REPLY, 200, "Invalid JSON in response: ", 0);
}
I4_TEST(magic_no_object_reply) {
    expect_failure(i4_failures, M_NO_OBJECT, I4_MP_BAD_REPLY, 200,
                   "No JSON object found in response: I cannot help with that.", 0);
}
I4_TEST(magic_invalid_caption) {
    expect_failure(i4_failures, M_INVALID_CAPTION, I4_MP_INVALID_CAPTION, 200,
                   "Magic prompt produced an invalid caption: style_description: contains both 'photo' and "
                   "'art_style'; expected exactly one",
                   0);
}

/* i4_mp_parse_reply without HTTP: content parts, the reasoning_content
 * fallback and the error kinds (tests/fuzz/fuzz_magic_prompt feeds it too). */
static int parse_reply_is(const char *body, i4_mp_error kind, const char *want) {
    i4_magic_prompt_result r;
    memset(&r, 0, sizeof r);
    int rc = i4_mp_parse_reply(body, &r);
    const char *got = kind == I4_MP_OK ? r.caption_json : r.message;
    int ok = (rc == 0) == (kind == I4_MP_OK) && r.kind == kind && got && strstr(got, want);
    if (!ok) fprintf(stderr, "  parse_reply(%s) -> kind %d, %s\n", body, (int)r.kind, got ? got : "NULL");
    i4_magic_prompt_result_free(&r);
    return ok;
}

I4_TEST(magic_parse_reply) {
    CHECK(parse_reply_is("{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"compositional_"
                         "deconstruction\\\":\"},{\"type\":\"image\"},{\"text\":\"{\\\"elements\\\":[],\\\"background\\\":"
                         "\\\"b\\\"}}\"}]}}]}",
                         I4_MP_OK, "{\"compositional_deconstruction\":{\"background\":\"b\",\"elements\":[]}}"));
    CHECK(parse_reply_is("{\"choices\":[{\"message\":{\"content\":\"\",\"reasoning_content\":\"```\\n{\\\"compositional_"
                         "deconstruction\\\":{\\\"background\\\":\\\"b\\\",\\\"elements\\\":[]}}\\n```\"}}]}",
                         I4_MP_OK, "{\"compositional_deconstruction\":"));
    CHECK(parse_reply_is("{\"choices\":[{\"message\":{\"content\":\"{\\\"a\\\":1}\"}}]}", I4_MP_INVALID_CAPTION,
                         "root: 'compositional_deconstruction' must exist"));
    CHECK(parse_reply_is("{\"choices\":[]}", I4_MP_BAD_REPLY, "No choices in response"));
    CHECK(parse_reply_is("{\"choices\":[{\"message\":{}}]}", I4_MP_BAD_REPLY, "Empty message in response"));
    CHECK(parse_reply_is("[1]", I4_MP_BAD_REPLY, "LLM reply is not a JSON object"));
    CHECK(parse_reply_is("{\"choices\":[{\"message\":{\"content\":\"no json\"}}]}", I4_MP_BAD_REPLY,
                         "No JSON object found in response: no json"));
}

I4_TEST(magic_unreachable_and_not_configured) {
    /* a port nobody listens on: start and stop a fake server to get one */
    fake_t f;
    REQUIRE(fake_start(&f, M_GOOD) == 0);
    i4_magic_prompt_config cfg;
    fake_config(&cfg, &f);
    fake_stop(&f);
    i4_magic_prompt_result r;
    CHECK(i4_magic_prompt_run(&cfg, "a cat", NULL, 0, 1024, 1024, &r) == -1);
    CHECK(r.kind == I4_MP_UNREACHABLE);
    i4_magic_prompt_result_free(&r);

    cfg.base_url[0] = '\0';
    CHECK(i4_magic_prompt_run(&cfg, "a cat", NULL, 0, 1024, 1024, &r) == -1);
    CHECK(r.kind == I4_MP_NOT_CONFIGURED);
    CHECK(strstr(r.message, "IDEOGRAM4_MAGIC_PROMPT_BASE_URL") != NULL);
    i4_magic_prompt_result_free(&r);
    snprintf(cfg.base_url, sizeof cfg.base_url, "ftp://x/v1");
    CHECK(i4_magic_prompt_run(&cfg, "a cat", NULL, 0, 1024, 1024, &r) == -1);
    CHECK(r.kind == I4_MP_NOT_CONFIGURED);
    i4_magic_prompt_result_free(&r);
}

/* ------------------------------------------------------------------ */
/* Validation (no network: errors come before the call)                */

I4_TEST(magic_input_validation) {
    i4_magic_prompt_config cfg;
    i4_magic_prompt_config_defaults(&cfg);
    snprintf(cfg.base_url, sizeof cfg.base_url, "http://127.0.0.1:1/v1"); /* never reached */
    i4_magic_prompt_result r;
    struct {
        const char *text;
        const char *img;
        size_t n;
        const char *msg;
    } cases[] = {
        {"", NULL, 0, "prompt or at least one image is required"},
        {"  \n ", NULL, 0, "prompt or at least one image is required"},
        {"x", "data:image/png;base64,iVBO*w==", 1, "image payload must be valid base64"},
        {"x", "iVBORw0", 1, "image payload must be valid base64"},
        {"x", "data:image/png,iVBORw0K", 1, "image payload must be valid base64"},
        {"x", "data:text/plain;base64,aGVsbG8=", 1, "unsupported image type: text/plain"},
        {"x", NULL, 5, "at most 4 images are allowed"},
    };
    const char *five[5] = {PNG_B64, PNG_B64, PNG_B64, PNG_B64, PNG_B64};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *one[1] = {cases[i].img};
        const char *const *imgs = cases[i].n == 5 ? five : one;
        CHECK(i4_magic_prompt_run(&cfg, cases[i].text, imgs, cases[i].n, 1024, 1024, &r) == -1);
        if (r.kind != I4_MP_INVALID_INPUT || strcmp(r.message, cases[i].msg))
            fprintf(stderr, "  case %zu: %s '%s'\n", i, i4_mp_error_name(r.kind), r.message);
        CHECK(r.kind == I4_MP_INVALID_INPUT);
        CHECK(!strcmp(r.message, cases[i].msg));
        i4_magic_prompt_result_free(&r);
    }
    /* size cap: 16 base64 chars = 12 bytes > 10 */
    cfg.max_image_bytes = 10;
    const char *big[1] = {"AAAAAAAAAAAAAAAA"};
    CHECK(i4_magic_prompt_run(&cfg, "x", big, 1, 1024, 1024, &r) == -1);
    CHECK(r.kind == I4_MP_INVALID_INPUT && strstr(r.message, "MB or smaller"));
    i4_magic_prompt_result_free(&r);
    cfg.max_image_bytes = 6291456;
    char msg[128];
    char *u = i4_mp_normalize_image("AAAAAAAAAAAAAAAA", 12, msg, sizeof msg); /* exactly at the cap, unknown → jpeg */
    CHECK(u && !strcmp(u, "data:image/jpeg;base64,AAAAAAAAAAAAAAAA"));
    free(u);
    CHECK(i4_mp_normalize_image("AAAAAAAAAAAAAAAA", 11, msg, sizeof msg) == NULL);
    CHECK(!strcmp(msg, "each image must be 0.0 MB or smaller"));
    /* prompt length in code points: 3 × "é" (6 bytes) passes a cap of 3 */
    cfg.max_chars = 3;
    cfg.base_url[0] = '\0'; /* so the call stops right after validation… */
    CHECK(i4_magic_prompt_run(&cfg, "\xC3\xA9\xC3\xA9\xC3\xA9", NULL, 0, 1024, 1024, &r) == -1);
    CHECK(r.kind == I4_MP_NOT_CONFIGURED); /* …config is checked first */
    i4_magic_prompt_result_free(&r);
    snprintf(cfg.base_url, sizeof cfg.base_url, "http://127.0.0.1:1/v1");
    CHECK(i4_magic_prompt_run(&cfg, "abcd", NULL, 0, 1024, 1024, &r) == -1);
    CHECK(r.kind == I4_MP_INVALID_INPUT && !strcmp(r.message, "prompt must be at most 3 characters"));
    i4_magic_prompt_result_free(&r);
    CHECK(i4_magic_prompt_run(&cfg, "abc", NULL, 0, 0, 1024, &r) == -1);
    CHECK(r.kind == I4_MP_INVALID_INPUT);
    i4_magic_prompt_result_free(&r);

    char ar[32];
    CHECK(i4_mp_aspect_ratio(1024, 1024, ar, sizeof ar) == 0 && !strcmp(ar, "1:1"));
    CHECK(i4_mp_aspect_ratio(1920, 1088, ar, sizeof ar) == 0 && !strcmp(ar, "30:17"));
    CHECK(i4_mp_aspect_ratio(768, 1344, ar, sizeof ar) == 0 && !strcmp(ar, "4:7"));
    CHECK(i4_mp_aspect_ratio(-1, 5, ar, sizeof ar) == -1);
}

/* ------------------------------------------------------------------ */
/* Extraction and normalisation                                        */

static int extract_is(const char *reply, const char *want) {
    char err[512];
    char *got = i4_mp_extract_json_object(reply, err, sizeof err);
    int ok = got && !strcmp(got, want);
    if (!ok) fprintf(stderr, "  extract(%s) -> %s\n", reply, got ? got : err);
    free(got);
    return ok;
}

static int extract_fails(const char *reply, const char *want_err) {
    char err[512] = "";
    char *got = i4_mp_extract_json_object(reply, err, sizeof err);
    int ok = !got && !strcmp(err, want_err);
    if (!ok) fprintf(stderr, "  extract(%s) -> %s / %s\n", reply, got ? got : "NULL", err);
    free(got);
    return ok;
}

I4_TEST(magic_extract_json) {
    CHECK(extract_is("{\"a\":1}", "{\"a\":1}"));
    CHECK(extract_is("  \n```json\n{\"a\": {\"b\": 2}}\n```\n  ", "{\"a\": {\"b\": 2}}"));
    CHECK(extract_is("```\n{\"a\":1}\n```", "{\"a\":1}"));
    CHECK(extract_is("Here you go: {\"a\": \"}\"} and {\"b\": 2}", "{\"a\": \"}\"}"));
    CHECK(extract_is("{\"a\": \"quote \\\" brace { \\\\\"} tail", "{\"a\": \"quote \\\" brace { \\\\\"}"));
    CHECK(extract_is("prose {x} first", "{x}")); /* balanced even when not JSON: parsing reports it later */
    CHECK(extract_is("{\"t\": \"\xE3\x82\xAB{\"}\n\nthanks!", "{\"t\": \"\xE3\x82\xAB{\"}"));
    CHECK(extract_is("```json\n{\"code\": \"```\"}\n```", "{\"code\": \"```\"}"));
    CHECK(extract_fails("no json here", "No JSON object found in response: no json here"));
    CHECK(extract_fails("```json\n```", "No JSON object found in response: ```json\n```"));
    CHECK(extract_fails("ok {\"a\": {\"b\": 1}", "Unclosed JSON object in response: {\"a\": {\"b\": 1}"));
    CHECK(extract_fails("{\"a\": \"}", "Unclosed JSON object in response: {\"a\": \"}"));
    /* excerpt capped at 300 chars */
    char longtxt[1000];
    memset(longtxt, 'x', sizeof longtxt - 1);
    longtxt[sizeof longtxt - 1] = '\0';
    char err[512];
    CHECK(i4_mp_extract_json_object(longtxt, err, sizeof err) == NULL);
    CHECK(strlen(err) == strlen("No JSON object found in response: ") + 300);
}

static int normalize_is(const char *in, const char *want) {
    char err[512];
    char *got = i4_mp_normalize_caption(in, err, sizeof err);
    int ok = got && !strcmp(got, want);
    if (!ok) fprintf(stderr, "  normalize(%s) -> %s\n", in, got ? got : err);
    free(got);
    return ok;
}

I4_TEST(magic_normalize_caption) {
    /* art style aliases, medium, palette array, unknown keys kept after known ones */
    CHECK(normalize_is("{\"zzz\":1,\"compositional_deconstruction\":{\"elements\":[{\"color_palette\":[\"#abcdef\"],"
                       "\"desc\":\"d\",\"type\":\"obj\",\"extra\":true}],\"background\":\"b\"},\"style_description\":"
                       "{\"Color Palette\":[\"#abcdef\"],\"artStyle\":\"flat\",\"medium\":\"Graphic Design\","
                       "\"lighting\":\"l\",\"aesthetics\":\"a\"},\"aspect_ratio\":\"1:1\"}",
                       "{\"style_description\":{\"aesthetics\":\"a\",\"lighting\":\"l\",\"medium\":\"graphic_design\","
                       "\"art_style\":\"flat\",\"color_palette\":[\"#ABCDEF\"]},\"compositional_deconstruction\":"
                       "{\"background\":\"b\",\"elements\":[{\"type\":\"obj\",\"desc\":\"d\",\"color_palette\":"
                       "[\"#abcdef\"],\"extra\":true}]},\"zzz\":1}"));
    /* canonical key present: alias kept as an unknown key; ambiguous style and unknown type left as they are */
    CHECK(normalize_is("{\"style_description\":{\"photo\":\"p\",\"art_style\":\"s\",\"aesthetics\":\"a\"},"
                       "\"compositional_deconstruction\":{\"elements\":[{\"desc\":\"d\",\"type\":\"img\",\"bbox\":[1,2,3,4]}],"
                       "\"background\":\"b\"}}",
                       "{\"style_description\":{\"photo\":\"p\",\"art_style\":\"s\",\"aesthetics\":\"a\"},"
                       "\"compositional_deconstruction\":{\"background\":\"b\",\"elements\":[{\"desc\":\"d\",\"type\":\"img\"}]}}"));
    char err[512];
    CHECK(i4_mp_normalize_caption("{\"a\":1,}", err, sizeof err) == NULL);
    CHECK(!strncmp(err, "Invalid JSON in response: ", 26));
    CHECK(i4_mp_normalize_caption("{\"a\":1", err, sizeof err) == NULL);
}

/* ------------------------------------------------------------------ */
/* Config loader                                                       */

static const char *table_getenv(const char *name, void *ctx) {
    const char *const *kv = ctx;
    for (; kv[0]; kv += 2)
        if (!strcmp(kv[0], name)) return kv[1];
    return NULL;
}

I4_TEST(magic_config_env) {
    i4_magic_prompt_config c;
    const char *empty[] = {NULL};
    REQUIRE(i4_magic_prompt_config_load(&c, table_getenv, (void *)empty) == 0);
    CHECK(!strcmp(c.base_url, "http://127.0.0.1:18082/v1"));
    CHECK(!strcmp(c.model, "local-model"));
    CHECK(c.api_key[0] == '\0');
    CHECK(c.provider == I4_MP_PROVIDER_OPENAI && c.profile == I4_MP_PROFILE_OFFICIAL);
    CHECK(c.response_format_json == 0 && !strcmp(c.token_param, "max_tokens"));
    CHECK(c.max_tokens == 16384);
    CHECK_NEAR(c.temperature, 1.0, 0);
    CHECK_NEAR(c.timeout_seconds, 120.0, 0);
    CHECK(c.max_chars == 12000 && c.max_images == 4 && c.max_image_bytes == 6291456);

    const char *full[] = {"IDEOGRAM4_MAGIC_PROMPT_BASE_URL", "https://api.example.com/v1/",
                          "IDEOGRAM4_MAGIC_PROMPT_MODEL", "m-1",
                          "IDEOGRAM4_MAGIC_PROMPT_API_KEY", "k",
                          "IDEOGRAM4_MAGIC_PROMPT_RESPONSE_FORMAT", "json_object",
                          "IDEOGRAM4_MAGIC_PROMPT_TOKEN_PARAM", "max_completion_tokens",
                          "IDEOGRAM4_MAGIC_PROMPT_MAX_TOKENS", "2048",
                          "IDEOGRAM4_MAGIC_PROMPT_TEMPERATURE", "0.1",
                          "IDEOGRAM4_MAGIC_PROMPT_TIMEOUT", "30",
                          "IDEOGRAM4_MAGIC_PROMPT_PROMPT_PROFILE", "gemma4",
                          NULL};
    REQUIRE(i4_magic_prompt_config_load(&c, table_getenv, (void *)full) == 0);
    CHECK(!strcmp(c.base_url, "https://api.example.com/v1"));
    CHECK(!strcmp(c.model, "m-1") && !strcmp(c.api_key, "k"));
    CHECK(c.response_format_json == 1 && !strcmp(c.token_param, "max_completion_tokens"));
    CHECK(c.max_tokens == 2048);
    CHECK_NEAR(c.temperature, 0.1, 1e-12);
    CHECK_NEAR(c.timeout_seconds, 30.0, 0);
    CHECK(c.provider == I4_MP_PROVIDER_OPENAI && c.profile == I4_MP_PROFILE_GEMMA4);

    /* local llama: provider llama_cpp, compact profile, budget capped at 0.55 × 8192 = 4505 */
    const char *local[] = {"IDEOGRAM4_MAGIC_PROMPT_LOCAL_LLAMA", "1", NULL};
    REQUIRE(i4_magic_prompt_config_load(&c, table_getenv, (void *)local) == 0);
    CHECK(c.provider == I4_MP_PROVIDER_LLAMA_CPP && c.profile == I4_MP_PROFILE_COMPACT);
    CHECK(c.max_tokens == 4505);
    const char *small_ctx[] = {"IDEOGRAM4_MAGIC_PROMPT_PROVIDER", "llama-cpp", "IDEOGRAM4_MAGIC_PROMPT_LOCAL_LLAMA_CTX",
                               "512", NULL};
    REQUIRE(i4_magic_prompt_config_load(&c, table_getenv, (void *)small_ctx) == 0);
    CHECK(c.provider == I4_MP_PROVIDER_LLAMA_CPP && c.max_tokens == 512);

    const char *bad[][3] = {
        {"IDEOGRAM4_MAGIC_PROMPT_RESPONSE_FORMAT", "json", NULL},
        {"IDEOGRAM4_MAGIC_PROMPT_TOKEN_PARAM", "tokens", NULL},
        {"IDEOGRAM4_MAGIC_PROMPT_PROVIDER", "anthropic", NULL},
        {"IDEOGRAM4_MAGIC_PROMPT_PROMPT_PROFILE", "fancy", NULL},
        {"IDEOGRAM4_MAGIC_PROMPT_TIMEOUT", "soon", NULL},
        {"IDEOGRAM4_MAGIC_PROMPT_MAX_TOKENS", "12abc", NULL},
        {"IDEOGRAM4_MAGIC_PROMPT_TEMPERATURE", "-1", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(i4_magic_prompt_config_load(&c, table_getenv, (void *)bad[i]) == -1);
        CHECK(strstr(i4_last_error(), bad[i][0]) != NULL);
    }

    /* the process-environment wrapper */
    setenv("IDEOGRAM4_MAGIC_PROMPT_MODEL", "from-env", 1);
    REQUIRE(i4_magic_prompt_config_from_env(&c) == 0);
    CHECK(!strcmp(c.model, "from-env"));
    unsetenv("IDEOGRAM4_MAGIC_PROMPT_MODEL");
}
