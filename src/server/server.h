/* server.h — the HTTP API server (APP.md §3) around one pipeline. */
#ifndef I4_SERVER_H
#define I4_SERVER_H

#include "ideogram4.h"

typedef struct {
    const char *host;        /* IPv4 address, default 127.0.0.1 */
    int port;                /* default 8000; 0 = any free port is NOT supported by this cut */
    const char *model_dir;   /* snapshot folder (demo: the tiny model) */
    const char *repo;
    i4_precision precision;
    const char *output_dir;  /* generated images */
    int demo;
} i4_server_options;

typedef struct i4_server i4_server;

int i4_server_start(i4_server **out, const i4_server_options *opt);
void i4_server_stop(i4_server *s);

#endif
