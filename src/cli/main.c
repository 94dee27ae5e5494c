/* capsearch: the command line. Global options, then a command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"index", cmd_index, "index the images under one or more folders"},
    {"search", cmd_search, "find images matching a text query"},
    {"caption", cmd_caption, "what indexing would store for image files, with objects and faces"},
    {"similar", cmd_similar, "find images that look like an indexed image"},
    {"stats", cmd_stats, "counts and sizes of the library"},
    {"errors", cmd_errors, "files that could not be indexed, and why"},
    {"duplicates", cmd_duplicates, "groups of near-duplicate images"},
    {"embed", cmd_embed, "CLIP embeddings of images or texts"},
    {"tokenize", cmd_tokenize, "the CLIP token ids of a text"},
    {"models", cmd_models, "download CLIP models from the Hugging Face Hub, list models"},
    {"doctor", cmd_doctor, "versions, decoders, models, and library health"},
    {"serve", cmd_serve, "the search page and the JSON API over HTTP"},
};

static void print_help(FILE *out)
{
    fprintf(out,
            "capsearch %s: offline image search driven by captions\n\n"
            "usage: capsearch [--db DIR] COMMAND [OPTIONS] [ARGS]\n\n"
            "commands:\n", cs_version());
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nglobal options (also accepted after the command):\n"
            "  --db DIR    the library folder (default: $CAPSEARCH_DB, else\n"
            "              $XDG_DATA_HOME/capsearch, else ~/.local/share/capsearch)\n"
            "  --json      machine-readable output (one JSON document or JSON lines)\n"
            "  --help      this text; 'capsearch COMMAND --help' for a command\n"
            "  --version   print the version\n\n"
            "exit codes: 0 success, 1 failure (the message says why), 2 bad command\n"
            "line, 4 another process is indexing the library, 130 interrupted.\n");
}

int main(int argc, char **argv)
{
    cs_blas_restart_if_generic(argv);
    /* Global options come before the command; they are passed on to it. */
    int i = 1;
    const char *db = NULL;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("capsearch %s\n", cs_version());
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[i + 1];
            i += 2;
            continue;
        }
        if (strncmp(argv[i], "--db=", 5) == 0) {
            db = argv[i] + 5;
            i++;
            continue;
        }
        if (strcmp(argv[i], "--db") == 0)
            fprintf(stderr, "capsearch: --db needs the library folder\n\n");
        else
            fprintf(stderr, "capsearch: unknown option '%s'\n\n", argv[i]);
        print_help(stderr);
        return EXIT_USAGE;
    }
    if (i >= argc) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    for (size_t c = 0; c < sizeof commands / sizeof *commands; c++) {
        if (strcmp(argv[i], commands[c].name) != 0)
            continue;
        /* Rebuild argv as: COMMAND [--db DIR] ARGS..., so each command parses
         * the global --db with its own options. */
        char **args = calloc((size_t)argc + 3, sizeof *args);
        if (!args) {
            fprintf(stderr, "capsearch: out of memory\n");
            return EXIT_FAILURE_;
        }
        int n = 0;
        args[n++] = argv[i];
        if (db) {
            args[n++] = "--db";
            args[n++] = (char *)db;
        }
        for (int k = i + 1; k < argc; k++)
            args[n++] = argv[k];
        args[n] = NULL;
        int rc = commands[c].run(n, args);
        free(args);
        return rc;
    }
    fprintf(stderr, "capsearch: unknown command '%s'\n\n", argv[i]);
    print_help(stderr);
    return EXIT_USAGE;
}
