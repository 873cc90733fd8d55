/* debug_dit.c — placeholder until the dit debug-forward handler lands. */
#include "base/error.h"
#include "cli/commands.h"

int i4_debug_forward_dit(const char *component_dir, i4_precision p, const i4_tensor_set *in, i4_st_writer *out) {
    (void)p; (void)in; (void)out;
    return i4_error("%s: debug-forward for dit not implemented yet", component_dir);
}
