/* commands.h — CLI subcommands, one file each. */
#ifndef I4_COMMANDS_H
#define I4_COMMANDS_H

#include "ideogram4.h"

int i4_cmd_bench(int argc, char **argv);
int i4_cmd_make_tiny_model(int argc, char **argv);
int i4_cmd_debug_forward(int argc, char **argv);
int i4_cmd_devices(int argc, char **argv);
int i4_cmd_download(int argc, char **argv);
int i4_cmd_generate(int argc, char **argv);
int i4_cmd_info(int argc, char **argv);
int i4_cmd_serve(int argc, char **argv);
int i4_cmd_tokenize(int argc, char **argv);
int i4_cmd_verify(int argc, char **argv);

#endif
