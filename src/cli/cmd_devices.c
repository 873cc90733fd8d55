/* cmd_devices.c — `ideogram4 devices`: the Vulkan devices this machine has
 * (index, name, type, memory, feature support), and which one `--backend
 * auto` would take. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/vulkan/vulkan.h"
#include "base/error.h"
#include "cli/commands.h"

int i4_cmd_devices(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: ideogram4 devices\n\nLists the Vulkan devices (index, name, type, device memory, f64/f16/int8/\n"
               "bf16 shader support, cooperative-matrix extension) and the backend `auto` picks.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "ideogram4 devices: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    int n = i4_vulkan_list_devices(stdout);
    if (n < 0) printf("no Vulkan: %s\n", i4_last_error());
    else if (n == 0) printf("no Vulkan devices\n");
    i4_backend *be = NULL;
    i4_backend_options o = {"auto", 0, NULL, NULL};
    if (i4_backend_create(&o, &be) != 0) {
        fprintf(stderr, "ideogram4: %s\n", i4_last_error());
        return 1;
    }
    printf("auto: %s\n", i4_be_describe(be));
    i4_backend_destroy(be);
    return 0;
}
