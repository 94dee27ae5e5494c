/* Test driver for the CLIP tokenizer: clip_tokenize <model dir> [context]
 * reads one hex-encoded UTF-8 (or broken) string a line on stdin and prints
 * its ids, space-separated, one line each. An empty line is the empty
 * string. Load errors go to stderr with exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/clip/tokenizer.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: clip_tokenize <model dir> [context length]\n");
        return 2;
    }
    size_t ctx = argc > 2 ? strtoul(argv[2], NULL, 10) : CLIP_CONTEXT_LENGTH;
    cs_error err = {0};
    clip_tokenizer *tok;
    if (clip_tokenizer_load(argv[1], &tok, &err) != CS_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    int32_t *ids = malloc((ctx ? ctx : 1) * sizeof *ids);
    char *line = NULL, *bytes = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (ids && (n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        free(bytes);
        bytes = malloc((size_t)n / 2 + 1);
        if (!bytes) {
            rc = 1;
            break;
        }
        size_t len = 0;
        for (ssize_t i = 0; i + 1 < n; i += 2)
            bytes[len++] = (char)(hexval(line[i]) << 4 | hexval(line[i + 1]));
        size_t count;
        bool cut;
        if (clip_tokenizer_encode(tok, bytes, len, ids, ctx, &count, &cut, &err) != CS_OK) {
            printf("ERROR %s\n", err.message);
            continue;
        }
        for (size_t i = 0; i < count; i++)
            printf(i ? " %d" : "%d", (int)ids[i]);
        printf("\n");
    }
    free(bytes);
    free(line);
    free(ids);
    clip_tokenizer_free(tok);
    return rc;
}
