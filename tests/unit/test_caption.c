/* test_caption.c — the structured caption verifier (docs/APP.md §8.5): one test per
 * rule with the exact upstream message, Python-style value rendering, the
 * raw-text ensure_ascii warning, invalid JSON, prompt classification and the
 * shipped examples. Expected strings are the upstream caption_verifier.py
 * message patterns (docs/APP.md §8.5), written out by hand. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ideogram4.h"
#include "test.h"
#include "text/caption.h"

/* Test captions are written with ' for JSON's " (readability); q() swaps
 * them back. Captions that need a real apostrophe are passed verbatim. */
static const char *q(const char *s) {
    static char buf[8][4096];
    static int slot;
    char *b = buf[slot++ % 8];
    size_t n = strlen(s);
    if (n >= sizeof buf[0]) n = sizeof buf[0] - 1;
    for (size_t i = 0; i < n; i++) b[i] = s[i] == '\'' ? '"' : s[i];
    b[n] = '\0';
    return b;
}

/* Runs the verifier on text and compares the issue list with want (NULL-terminated). */
static void expect_issues(int *i4_failures, int line, const char *text, size_t len, const char *const *want) {
    i4_caption_issues is;
    if (i4_caption_verify(text, len, &is) != 0) {
        fprintf(stderr, "  line %d: verifier failed: %s\n", line, i4_last_error());
        (*i4_failures)++;
        return;
    }
    size_t n_want = 0;
    while (want[n_want]) n_want++;
    int ok = is.count == n_want;
    for (size_t i = 0; ok && i < n_want; i++) ok = !strcmp(is.items[i], want[i]);
    if (!ok) {
        fprintf(stderr, "  line %d: issues differ for %s\n", line, text);
        for (size_t i = 0; i < n_want; i++) fprintf(stderr, "    want: %s\n", want[i]);
        for (size_t i = 0; i < is.count; i++) fprintf(stderr, "    got:  %s\n", is.items[i]);
        (*i4_failures)++;
    }
    i4_caption_issues_free(&is);
}

#define EXPECT_RAW(text, ...) \
    expect_issues(i4_failures, __LINE__, (text), strlen(text), (const char *const[]){__VA_ARGS__, NULL})
#define EXPECT(text, ...) EXPECT_RAW(q(text), __VA_ARGS__)
#define EXPECT_CLEAN(text) EXPECT(text, NULL)

/* A valid composition block to append where the test is about other keys. */
#define COMP "'compositional_deconstruction':{'background':'bg','elements':[]}"
#define PHOTO_STYLE "'aesthetics':'a','lighting':'l','photo':'p','medium':'m'"

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

static void expect_file(int *i4_failures, int line, const char *path, const char *const *want) {
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) {
        fprintf(stderr, "  line %d: cannot read %s (run from the repository root)\n", line, path);
        (*i4_failures)++;
        return;
    }
    expect_issues(i4_failures, line, text, len, want);
    free(text);
}

I4_TEST(caption_examples) {
    const char *const none[] = {NULL};
    expect_file(i4_failures, __LINE__, "examples/caption.json", none);
    expect_file(i4_failures, __LINE__, "examples/poster.json", none);
    expect_file(i4_failures, __LINE__, "examples/hanok_ko.json", none);
    const char *const folk[] = {"style_description: expected one of 'photo' (for photo captions) or 'art_style' "
                                "(for non-photo captions)",
                                NULL};
    expect_file(i4_failures, __LINE__, "examples/folk_art_ko.json", folk);

    /* The canonical example has the shape docs/APP.md §8.7 describes. */
    size_t len = 0;
    char *text = read_file("examples/caption.json", &len);
    REQUIRE(text);
    json_t *root = json_loadb(text, len, 0, NULL);
    free(text);
    REQUIRE(root);
    json_t *sd = json_object_get(root, "style_description");
    json_t *els = json_object_get(json_object_get(root, "compositional_deconstruction"), "elements");
    CHECK(json_is_string(json_object_get(root, "high_level_description")));
    CHECK(!strcmp(json_string_value(json_object_get(sd, "medium")), "digital photograph"));
    CHECK(json_array_size(json_object_get(sd, "color_palette")) == 6);
    CHECK(json_array_size(els) == 4);
    for (size_t i = 0; i < json_array_size(els); i++) {
        CHECK(!strcmp(json_string_value(json_object_get(json_array_get(els, i), "type")), "obj"));
        CHECK(json_object_get(json_array_get(els, i), "bbox") == NULL);
    }
    json_decref(root);
}

I4_TEST(caption_minimal_valid) {
    EXPECT_CLEAN("{" COMP "}");
    EXPECT_CLEAN("{'high_level_description':'x','style_description':{" PHOTO_STYLE ",'color_palette':['#00FF7A']}," COMP
                 "}");
    EXPECT_CLEAN("{'style_description':{'aesthetics':'a','lighting':'l','medium':'m','art_style':'s'}," COMP "}");
    /* Top-level order is not checked by the verifier. */
    EXPECT_CLEAN("{" COMP ",'high_level_description':'x'}");
    EXPECT_CLEAN("{'compositional_deconstruction':{'background':'b','elements':["
                 "{'type':'obj','desc':'d'},"
                 "{'type':'obj','bbox':[0,0,1000,1000],'desc':'d','color_palette':['#ABCDEF','#012345']},"
                 "{'type':'text','text':'T','desc':'d'},"
                 "{'type':'text','bbox':[5,5,5,5],'text':'T','desc':'d','color_palette':[]}]}}");
}

I4_TEST(caption_root_not_object) {
    EXPECT("[1, 2]", "root: expected a JSON object (dict), got list");
    EXPECT("'a cat on a roof'", "root: expected a JSON object (dict), got str");
    EXPECT("42", "root: expected a JSON object (dict), got int");
    EXPECT("4.5", "root: expected a JSON object (dict), got float");
    EXPECT("true", "root: expected a JSON object (dict), got bool");
    EXPECT(" null ", "root: expected a JSON object (dict), got NoneType");
}

I4_TEST(caption_unknown_top_level_keys) {
    EXPECT("{'aspect_ratio':'1:1'," COMP ",'canvas':{}}", "root: unknown keys ['aspect_ratio', 'canvas'] (not in schema)");
    /* Python repr picks double quotes for a key holding an apostrophe. */
    EXPECT_RAW("{\"it's\":1,\"compositional_deconstruction\":{\"background\":\"b\",\"elements\":[]}}",
               "root: unknown keys [\"it's\"] (not in schema)");
}

I4_TEST(caption_hld_type) {
    EXPECT("{'high_level_description':5," COMP "}", "high_level_description: expected a string, got int");
    EXPECT("{'high_level_description':null," COMP "}", "high_level_description: expected a string, got NoneType");
    EXPECT("{'high_level_description':['a']," COMP "}", "high_level_description: expected a string, got list");
}

I4_TEST(caption_style_not_object) {
    EXPECT("{'style_description':'photo'," COMP "}", "style_description: expected a dict");
    EXPECT("{'style_description':[]," COMP "}", "style_description: expected a dict");
}

I4_TEST(caption_style_unknown_keys) {
    EXPECT("{'style_description':{" PHOTO_STYLE ",'mood':'calm'}," COMP "}",
           "style_description: unknown keys ['mood'] (not in schema)",
           "style_description: keys ['mood'] are not allowed in this context");
}

I4_TEST(caption_style_photo_and_art_style) {
    /* Stops the style checks: no key-order or palette findings follow. */
    EXPECT("{'style_description':{'photo':'p','art_style':'s','color_palette':'x'}," COMP "}",
           "style_description: contains both 'photo' and 'art_style'; expected exactly one");
}

I4_TEST(caption_style_neither_photo_nor_art_style) {
    EXPECT("{'style_description':{'aesthetics':'a','lighting':'l','medium':'m','color_palette':[1]}," COMP "}",
           "style_description: expected one of 'photo' (for photo captions) or 'art_style' (for non-photo captions)");
    EXPECT("{'style_description':{}," COMP "}",
           "style_description: expected one of 'photo' (for photo captions) or 'art_style' (for non-photo captions)");
}

I4_TEST(caption_style_key_order) {
    /* The web form's order (medium before photo). */
    EXPECT("{'style_description':{'aesthetics':'a','lighting':'l','medium':'m','photo':'p'}," COMP "}",
           "style_description: key order is ('aesthetics', 'lighting', 'medium', 'photo'), expected "
           "('aesthetics', 'lighting', 'photo', 'medium')");
    /* Missing keys are reported through the order check; one-element tuple. */
    EXPECT("{'style_description':{'photo':'p'}," COMP "}",
           "style_description: key order is ('photo',), expected ('aesthetics', 'lighting', 'photo', 'medium')");
    /* Non-photo order, palette last when present. */
    EXPECT("{'style_description':{'aesthetics':'a','lighting':'l','color_palette':[],'medium':'m','art_style':'s'}," COMP
           "}",
           "style_description: key order is ('aesthetics', 'lighting', 'color_palette', 'medium', 'art_style'), "
           "expected ('aesthetics', 'lighting', 'medium', 'art_style', 'color_palette')");
}

I4_TEST(caption_keys_not_allowed_in_context) {
    /* canvas/layout are not in the schema; the composition has no unknown-key
     * check, only "not allowed in this context". */
    EXPECT("{'compositional_deconstruction':{'canvas':'c','background':'b','elements':[],'layout':'l'}}",
           "compositional_deconstruction: keys ['canvas', 'layout'] are not allowed in this context");
}

I4_TEST(caption_palette_not_list) {
    EXPECT("{'style_description':{" PHOTO_STYLE ",'color_palette':'#FFFFFF'}," COMP "}",
           "style_description.color_palette: expected a list");
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'type':'obj','desc':'d','color_palette':{}}]}}",
           "elements[0].color_palette: expected a list");
}

I4_TEST(caption_palette_too_many) {
    /* 17 global colours (one of them invalid: not reported, the check stops). */
    EXPECT("{'style_description':{" PHOTO_STYLE ",'color_palette':['#000000','#000001','#000002','#000003','#000004',"
           "'#000005','#000006','#000007','#000008','#000009','#00000A','#00000B','#00000C','#00000D','#00000E',"
           "'#00000F','bad']}," COMP "}",
           "style_description.color_palette: too many colors (17), expected at most 16");
    EXPECT("{'style_description':{" PHOTO_STYLE ",'color_palette':['#000000','#000001','#000002','#000003','#000004',"
           "'#000005','#000006','#000007','#000008','#000009','#00000A','#00000B','#00000C','#00000D','#00000E',"
           "'#00000F']}," COMP "}",
           NULL);
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'type':'obj','desc':'d',"
           "'color_palette':['#000000','#111111','#222222','#333333','#444444','#555555']}]}}",
           "elements[0].color_palette: too many colors (6), expected at most 5");
}

I4_TEST(caption_palette_bad_colors) {
    EXPECT("{'style_description':{" PHOTO_STYLE ",'color_palette':['#ffaa00','#FFAA0','#FFAA001','FFAA00A','#GG0000',"
           "'#A1B2C3',5,null,1.5,true,['#FFFFFF']]}," COMP "}",
           "style_description.color_palette[0]: '#ffaa00' is not a valid #RRGGBB hex color",
           "style_description.color_palette[1]: '#FFAA0' is not a valid #RRGGBB hex color",
           "style_description.color_palette[2]: '#FFAA001' is not a valid #RRGGBB hex color",
           "style_description.color_palette[3]: 'FFAA00A' is not a valid #RRGGBB hex color",
           "style_description.color_palette[4]: '#GG0000' is not a valid #RRGGBB hex color",
           "style_description.color_palette[6]: '5' is not a valid #RRGGBB hex color",
           "style_description.color_palette[7]: 'None' is not a valid #RRGGBB hex color",
           "style_description.color_palette[8]: '1.5' is not a valid #RRGGBB hex color",
           "style_description.color_palette[9]: 'True' is not a valid #RRGGBB hex color",
           "style_description.color_palette[10]: '['#FFFFFF']' is not a valid #RRGGBB hex color");
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'type':'text','text':'t','desc':'d',"
           "'color_palette':['#123abc']}]}}",
           "elements[0].color_palette[0]: '#123abc' is not a valid #RRGGBB hex color");
}

I4_TEST(caption_python_value_rendering) {
    /* str() of non-string palette entries: Python float repr, dicts, nested reprs. */
    EXPECT("{'style_description':{" PHOTO_STYLE ",'color_palette':[1e16,0.0001,1.5e-5,100.0,-0.0,0.1,"
           "123456789012345678.0,2.5e300]}," COMP "}",
           "style_description.color_palette[0]: '1e+16' is not a valid #RRGGBB hex color",
           "style_description.color_palette[1]: '0.0001' is not a valid #RRGGBB hex color",
           "style_description.color_palette[2]: '1.5e-05' is not a valid #RRGGBB hex color",
           "style_description.color_palette[3]: '100.0' is not a valid #RRGGBB hex color",
           "style_description.color_palette[4]: '-0.0' is not a valid #RRGGBB hex color",
           "style_description.color_palette[5]: '0.1' is not a valid #RRGGBB hex color",
           "style_description.color_palette[6]: '1.2345678901234568e+17' is not a valid #RRGGBB hex color",
           "style_description.color_palette[7]: '2.5e+300' is not a valid #RRGGBB hex color");
    EXPECT_RAW("{\"style_description\":{\"aesthetics\":\"a\",\"lighting\":\"l\",\"photo\":\"p\",\"medium\":\"m\","
               "\"color_palette\":[{\"k\":[null,false,\"it's\",\"a\\nb\",\"\xc3\xa9\",\"\\u200b\"]},\"x\\ty\"]},"
               "\"compositional_deconstruction\":{\"background\":\"b\",\"elements\":[]}}",
               "style_description.color_palette[0]: '{'k': [None, False, \"it's\", 'a\\nb', '\xc3\xa9', '\\u200b']}' "
               "is not a valid #RRGGBB hex color",
               /* a string value is printed verbatim (str, not repr) */
               "style_description.color_palette[1]: 'x\ty' is not a valid #RRGGBB hex color");
    /* Key reprs: control characters escaped, printable non-ASCII literal. */
    EXPECT_RAW("{\"a\\u0001\":1,\"\xed\x95\x9c\":2,\"b\\\\\":3,\"\\u00a0\":4,"
               "\"compositional_deconstruction\":{\"background\":\"b\",\"elements\":[]}}",
               "root: unknown keys ['a\\x01', '\xed\x95\x9c', 'b\\\\', '\\xa0'] (not in schema)");
}

I4_TEST(caption_composition_missing) {
    EXPECT("{'high_level_description':'x'}", "root: 'compositional_deconstruction' must exist");
    EXPECT("{}", "root: 'compositional_deconstruction' must exist");
}

I4_TEST(caption_composition_not_object) {
    EXPECT("{'compositional_deconstruction':[]}", "compositional_deconstruction: expected a dict");
}

I4_TEST(caption_background) {
    /* Missing background stops: the missing elements are not reported. */
    EXPECT("{'compositional_deconstruction':{}}", "compositional_deconstruction: 'background' must exist");
    EXPECT("{'compositional_deconstruction':{'background':['b'],'elements':5}}",
           "compositional_deconstruction.background: expected a string, got list");
    EXPECT("{'compositional_deconstruction':{'background':1.0,'elements':[]}}",
           "compositional_deconstruction.background: expected a string, got float");
}

I4_TEST(caption_elements_missing) {
    EXPECT("{'compositional_deconstruction':{'background':'b','canvas':1}}",
           "compositional_deconstruction: 'elements' must exist");
}

I4_TEST(caption_composition_key_order) {
    EXPECT("{'compositional_deconstruction':{'elements':[],'background':'b'}}",
           "compositional_deconstruction: key order is ('elements', 'background'), expected ('background', 'elements')");
}

I4_TEST(caption_elements_not_list) {
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':{'type':'obj'}}}",
           "compositional_deconstruction.elements: expected a list");
}

I4_TEST(caption_element_not_object) {
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'type':'obj','desc':'d'},'x',[]]}}",
           "elements[1]: expected a dict", "elements[2]: expected a dict");
}

I4_TEST(caption_element_unknown_keys) {
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'type':'obj','desc':'d','color':'red'}]}}",
           "elements[0]: unknown keys ['color'] (not in schema)",
           "elements[0]: keys ['color'] are not allowed in this context");
    /* 'text' on an obj element is known but not in the obj order. */
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'type':'obj','text':'T','desc':'d'}]}}",
           "elements[0]: keys ['text'] are not allowed in this context");
}

I4_TEST(caption_element_type) {
    /* Unknown keys are reported before the type check stops the element. */
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'desc':'d','x':1}]}}",
           "elements[0]: unknown keys ['x'] (not in schema)", "elements[0]: 'type' must exist");
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'type':'image','bbox':'x','desc':'d'},"
           "{'type':['obj']},{'type':null}]}}",
           "elements[0]: 'type' must be one of {'obj', 'text'}", "elements[1]: 'type' must be one of {'obj', 'text'}",
           "elements[2]: 'type' must be one of {'obj', 'text'}");
}

I4_TEST(caption_element_key_order) {
    /* The web form's order (text before bbox). */
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'type':'text','text':'T','bbox':[1,2,3,4],"
           "'desc':'d'}]}}",
           "elements[0]: key order is ('type', 'text', 'bbox', 'desc'), expected ('type', 'bbox', 'text', 'desc')");
    /* Missing desc / text. */
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'type':'obj'},{'type':'text','desc':'d'}]}}",
           "elements[0]: key order is ('type',), expected ('type', 'desc')",
           "elements[1]: key order is ('type', 'desc'), expected ('type', 'text', 'desc')");
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'color_palette':[],'type':'obj','desc':'d'}]}}",
           "elements[0]: key order is ('color_palette', 'type', 'desc'), expected ('type', 'desc', 'color_palette')");
}

I4_TEST(caption_bbox_shape) {
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':[{'type':'obj','bbox':[1,2,3],'desc':'d'},"
           "{'type':'obj','bbox':'0,0,10,10','desc':'d'},{'type':'obj','bbox':[1,2,3,4,5],'desc':'d'}]}}",
           "elements[0].bbox: expected [ymin, xmin, ymax, xmax]", "elements[1].bbox: expected [ymin, xmin, ymax, xmax]",
           "elements[2].bbox: expected [ymin, xmin, ymax, xmax]");
}

I4_TEST(caption_bbox_values) {
    EXPECT("{'compositional_deconstruction':{'background':'b','elements':["
           "{'type':'obj','bbox':[0,0,10.0,10],'desc':'d'},"
           "{'type':'obj','bbox':[0,'0',10,10],'desc':'d'},"
           "{'type':'obj','bbox':[500,600,400,1200],'desc':'d'},"
           "{'type':'obj','bbox':[10,900,20,100],'desc':'d'},"
           "{'type':'obj','bbox':[-1,0,1001,-5],'desc':'d'},"
           "{'type':'obj','bbox':[true,0,false,5],'desc':'d'}]}}",
           "elements[0].bbox: all values must be int", "elements[1].bbox: all values must be int",
           "elements[2].bbox: values must be in [0, 1000], got [500, 600, 400, 1200]",
           "elements[2].bbox: ymin (500) > ymax (400)", "elements[3].bbox: xmin (900) > xmax (100)",
           "elements[4].bbox: values must be in [0, 1000], got [-1, 0, 1001, -5]",
           "elements[4].bbox: xmin (0) > xmax (-5)",
           /* bool is an int subclass in Python: accepted, printed as True/False */
           "elements[5].bbox: ymin (True) > ymax (False)");
}

I4_TEST(caption_issue_order_across_sections) {
    EXPECT("{'x':1,'high_level_description':2,'style_description':{'photo':'p','medium':'m','aesthetics':'a',"
           "'lighting':'l'},'compositional_deconstruction':{'background':'b','elements':[{'type':'obj','bbox':[0,0,1,1,1],"
           "'desc':'d','color_palette':['#fff']}]}}",
           "root: unknown keys ['x'] (not in schema)", "high_level_description: expected a string, got int",
           "style_description: key order is ('photo', 'medium', 'aesthetics', 'lighting'), expected ('aesthetics', "
           "'lighting', 'photo', 'medium')",
           "elements[0].bbox: expected [ymin, xmin, ymax, xmax]",
           "elements[0].color_palette[0]: '#fff' is not a valid #RRGGBB hex color");
}

I4_TEST(caption_duplicate_keys) {
    /* Like Python's json.loads: last value wins, the key keeps its first position. */
    EXPECT("{'high_level_description':'a'," COMP ",'high_level_description':5}",
           "high_level_description: expected a string, got int");
    EXPECT_CLEAN("{'compositional_deconstruction':{'background':1,'elements':[],'background':'b'}}");
    EXPECT("{'compositional_deconstruction':{'elements':[],'background':'b','elements':[]}}",
           "compositional_deconstruction: key order is ('elements', 'background'), expected ('background', 'elements')");
}

static const char ASCII_TAIL[] =
    " and no literal non-ASCII characters. This usually means the file was saved with ensure_ascii=True; please "
    "re-save with json.dump(..., ensure_ascii=False) so non-ASCII characters are stored as literal UTF-8. Note: this "
    "is a warning, not an error, because the escapes could have been written intentionally \xe2\x80\x94 we cannot "
    "tell from the file alone.";

I4_TEST(caption_ensure_ascii_warning) {
    char want[1024];
    snprintf(want, sizeof want, "raw text: found 4 non-ASCII unicode escape(s) (e.g. \\u00e9, \\ub155, \\uc548)%s",
             ASCII_TAIL);
    EXPECT_RAW("{\"high_level_description\":\"\\uc548\\ub155 \\uc548\","
               "\"compositional_deconstruction\":{\"background\":\"caf\\u00e9\",\"elements\":[]}}",
               want);
    /* More than three distinct escapes: ", ..."; sorted as text (upper-case hex sorts first). */
    snprintf(want, sizeof want,
             "raw text: found 4 non-ASCII unicode escape(s) (e.g. \\u00E9, \\u00e9, \\u0100, ...)%s", ASCII_TAIL);
    EXPECT_RAW("{\"high_level_description\":\"\\u0100\\u00e9\\u00E9\\uFFFF\","
               "\"compositional_deconstruction\":{\"background\":\"b\",\"elements\":[]}}",
               want);
    /* Any literal non-ASCII character silences it; ASCII escapes never count. */
    EXPECT_RAW("{\"high_level_description\":\"\\uc548 \xed\x95\x9c\","
               "\"compositional_deconstruction\":{\"background\":\"b\",\"elements\":[]}}",
               NULL);
    EXPECT_RAW("{\"high_level_description\":\"\\u0041\\u007f\","
               "\"compositional_deconstruction\":{\"background\":\"b\",\"elements\":[]}}",
               NULL);
    /* The check runs on the raw text before parsing: it precedes other findings,
     * and even an escaped backslash followed by u00e9 counts (regex on raw text). */
    snprintf(want, sizeof want, "raw text: found 1 non-ASCII unicode escape(s) (e.g. \\u00e9)%s", ASCII_TAIL);
    EXPECT_RAW("{\"high_level_description\":\"C:\\\\u00e9\"}", want, "root: 'compositional_deconstruction' must exist");
}

I4_TEST(caption_invalid_json) {
    const char *bad[] = {"{\"compositional_deconstruction\": {\"background\": \"b\",", "{\"a\": 1}}", "{'a': 1}",
                         "a cat on a roof", "", "{\"a\": NaN}"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        i4_caption_issues is;
        REQUIRE(i4_caption_verify(bad[k], strlen(bad[k]), &is) == 0);
        CHECK(is.not_json == 1);
        CHECK(is.count == 1);
        if (is.count == 1) {
            CHECK(!strncmp(is.items[0], "invalid JSON: ", 14));
            CHECK(strstr(is.items[0], " (line 1, column ") != NULL);
        }
        i4_caption_issues_free(&is);
    }
    /* Line numbers are reported. */
    i4_caption_issues is;
    const char *two = "{\n  \"a\": tru\n}";
    REQUIRE(i4_caption_verify(two, strlen(two), &is) == 0);
    CHECK(is.count == 1 && strstr(is.items[0], "(line 2, column") != NULL);
    i4_caption_issues_free(&is);
    /* Length is honoured: the text need not be NUL-terminated. */
    const char *part = "{\"compositional_deconstruction\":{\"background\":\"b\",\"elements\":[]}}garbage";
    REQUIRE(i4_caption_verify(part, strlen(part) - 7, &is) == 0);
    CHECK(is.count == 0 && is.not_json == 0);
    i4_caption_issues_free(&is);
}

I4_TEST(caption_verify_json_api) {
    json_t *root = json_loads(q("{'high_level_description':1}"), 0, NULL);
    REQUIRE(root);
    i4_caption_issues is;
    REQUIRE(i4_caption_verify_json(root, &is) == 0);
    CHECK(is.count == 2 && is.not_json == 0);
    if (is.count == 2) {
        CHECK(!strcmp(is.items[0], "high_level_description: expected a string, got int"));
        CHECK(!strcmp(is.items[1], "root: 'compositional_deconstruction' must exist"));
    }
    i4_caption_issues_free(&is);
    CHECK(is.items == NULL && is.count == 0);
    i4_caption_issues_free(&is); /* idempotent */
    json_decref(root);
}

I4_TEST(caption_kind) {
    const char *t;
    t = "A cat sitting on a windowsill.";
    CHECK(i4_caption_kind(t, strlen(t)) == I4_CAPTION_NOT_JSON);
    t = "";
    CHECK(i4_caption_kind(t, 0) == I4_CAPTION_NOT_JSON);
    t = "{\"a\": 1,}";
    CHECK(i4_caption_kind(t, strlen(t)) == I4_CAPTION_NOT_JSON);
    t = "[\"a\"]";
    CHECK(i4_caption_kind(t, strlen(t)) == I4_CAPTION_NOT_OBJECT);
    t = "\"a cat\"";
    CHECK(i4_caption_kind(t, strlen(t)) == I4_CAPTION_NOT_OBJECT);
    t = "12";
    CHECK(i4_caption_kind(t, strlen(t)) == I4_CAPTION_NOT_OBJECT);
    t = " \n{\"a\": 1}\n";
    CHECK(i4_caption_kind(t, strlen(t)) == I4_CAPTION_OBJECT);
    CHECK(!strcmp(i4_caption_kind_warning(I4_CAPTION_NOT_JSON),
                  "Not JSON \xe2\x80\x94 Ideogram 4 needs structured captions for quality"));
    CHECK(!strcmp(i4_caption_kind_warning(I4_CAPTION_NOT_OBJECT),
                  "JSON is not a dict, treating as plain text (low quality)"));
    CHECK(i4_caption_kind_warning(I4_CAPTION_OBJECT) == NULL);
}
