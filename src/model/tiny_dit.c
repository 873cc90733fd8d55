/* tiny_dit.c — placeholder until the dit tiny writer lands. */
#include "base/error.h"
#include "model/tiny.h"

int i4_tiny_dit(const char *component_dir, uint64_t seed) {
    (void)seed;
    return i4_error("%s: tiny dit writer not implemented yet", component_dir);
}
