/* tiny_vae.c — placeholder until the vae tiny writer lands. */
#include "base/error.h"
#include "model/tiny.h"

int i4_tiny_vae(const char *component_dir, uint64_t seed) {
    (void)seed;
    return i4_error("%s: tiny vae writer not implemented yet", component_dir);
}
