/* tiny_qwen3.c — placeholder until the qwen3 tiny writer lands. */
#include "base/error.h"
#include "model/tiny.h"

int i4_tiny_qwen3(const char *component_dir, uint64_t seed) {
    (void)seed;
    return i4_error("%s: tiny qwen3 writer not implemented yet", component_dir);
}
