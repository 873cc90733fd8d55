#include <string.h>

#include "base/error.h"
#include "ideogram4.h"

int i4_precision_parse(const char *text, i4_precision *out) {
    if (text && strcmp(text, "f32") == 0) { *out = I4_PRECISION_F32; return 0; }
    if (text && strcmp(text, "bf16") == 0) { *out = I4_PRECISION_BF16; return 0; }
    return i4_error("unknown precision '%s' (expected f32 or bf16)", text ? text : "(null)");
}

const char *i4_precision_name(i4_precision p) { return p == I4_PRECISION_BF16 ? "bf16" : "f32"; }
