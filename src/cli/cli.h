/* Shared by the capsearch subcommands. */
#ifndef CS_CLI_CLI_H
#define CS_CLI_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "capsearch/capsearch.h"

/* Exit codes (documented in the README and in `capsearch --help`). */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_ = 1,     /* the command failed; the message says why */
    EXIT_USAGE = 2,        /* bad command line */
    EXIT_BUSY = 4,         /* another process is indexing this library */
    EXIT_INTERRUPTED = 130,
};

typedef struct cli_common {
    const char *db;        /* --db DIR, or NULL for the default */
    bool json;
} cli_common;

/* Long options every command accepts; commands append their own. */
#define CLI_COMMON_OPTIONS \
    {"db", required_argument, NULL, 'D'}, \
    {"json", no_argument, NULL, 'J'}, \
    {"help", no_argument, NULL, 'h'}

/* Handles the common options inside a command's getopt loop. Returns true
 * when `opt` was one of them. */
bool cli_common_option(int opt, cli_common *common);

/* Opens the library (--db or the default folder). On failure prints the
 * error and returns the exit code; 0 on success. */
int cli_open_library(const cli_common *common, const cs_open_options *options,
                     cs_library **lib);

/* Prints "capsearch: <message>" on stderr (or a JSON error object on stdout
 * with --json) and returns the exit code for the status. */
int cli_fail(const cli_common *common, const cs_error *err);
/* The exit code for a status. */
int cli_exit_code(cs_status status);
int cli_usage_error(const char *command, const char *fmt, ...);

/* Prints a JSON value on stdout followed by a newline, then releases it. */
void cli_print_json(json_t *value);

/* Parses a whole non-negative integer within [min, max]. */
bool cli_parse_int(const char *text, long min, long max, long *out);

/* "1.5 MiB", "512 B": sizes for people. */
void cli_human_bytes(int64_t bytes, char *out, size_t size);

int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_similar(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_errors(int argc, char **argv);
int cmd_duplicates(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_caption(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_models(int argc, char **argv);

#endif
