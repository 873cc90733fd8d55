/* main.c — `ideogram4 COMMAND ...`: dispatch to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "ideogram4.h"

static void usage(FILE *f) {
    fprintf(f,
            "ideogram4 %s — Ideogram 4 text-to-image engine\n\n"
            "usage: ideogram4 COMMAND [options]\n\n"
            "commands:\n"
            "  generate (--prompt TEXT | --prompt-file FILE) --out IMAGE [options]\n"
            "                         caption to image (see `ideogram4 generate --help`)\n"
            "  serve [--host H] [--port P] [--model DIR | --repo ORG/NAME | --demo] [--output DIR]\n"
            "                         HTTP API server (model lifecycle, generation with progress, verify)\n"
            "  make-tiny-model DIR [--seed N] [--tokenizer DIR] [--full-size [--layers N] [--dry-run] [--shard-size S]]\n"
            "                         write a deterministic tiny random checkpoint (official layout);\n"
            "                         --full-size: the real dimensions and dtypes (~27 GB, --dry-run to list)\n"
            "  debug-forward COMPONENT --model DIR|--repo ORG/NAME --in IN.safetensors --out OUT.safetensors\n"
            "                [--precision f32|bf16] [--threads N]\n"
            "                         run one network on tensors from a file; COMPONENT is transformer,\n"
            "                         unconditional-transformer, text-encoder or vae-decoder\n"
            "  bench OP [options]     kernel and transformer speed against the measured FMA peak; OP is\n"
            "                         peak, linear, attention, conv3x3, dit-block or step (`bench --help`)\n"
            "  download [--repo ORG/NAME] [--revision R] [--include GLOB]...\n"
            "                         fetch a snapshot from the Hugging Face Hub into the local cache\n"
            "                         (resumable, checksummed; HF_TOKEN, HF_ENDPOINT, HF_HUB_CACHE)\n"
            "  devices                list the Vulkan devices and the backend `--backend auto` picks\n"
            "  info [--parameters] IMAGE...\n"
            "                         print the generation parameters stored in an image\n"
            "  verify FILE|-          check a structured caption (JSON) against the caption schema\n"
            "  version                print the engine version\n"
            "  help                   this text\n",
            I4_VERSION);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "make-tiny-model")) return i4_cmd_make_tiny_model(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return i4_cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "generate")) return i4_cmd_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "debug-forward")) return i4_cmd_debug_forward(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenize")) return i4_cmd_tokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return i4_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "download")) return i4_cmd_download(argc - 1, argv + 1);
    if (!strcmp(cmd, "devices")) return i4_cmd_devices(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return i4_cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "verify")) return i4_cmd_verify(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("ideogram4 %s\n", I4_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ideogram4: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
