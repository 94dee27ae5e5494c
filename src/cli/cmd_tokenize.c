/* capsearch tokenize --model DIR TEXT: the CLIP token ids of a text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: capsearch tokenize --model DIR [--json] TEXT\n\n"
            "Prints the CLIP token ids of TEXT, start and end tokens included, cut to\n"
            "the model's context length (config.json, default 77) with the end token\n"
            "kept. DIR is a model folder in Hugging Face layout (vocab.json,\n"
            "merges.txt). --json prints {\"ids\": [...], \"truncated\": false}.\n");
}

int cmd_tokenize(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        {"model", required_argument, NULL, 'm'},
        {0, 0, 0, 0},
    };
    cli_common common = {0};
    const char *model = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_common_option(opt, &common))
            continue;
        switch (opt) {
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'm':
            model = optarg;
            break;
        default:
            return cli_usage_error(argv[0], "unknown option");
        }
    }
    if (!model)
        return cli_usage_error(argv[0], "give the model folder with --model DIR");
    if (optind != argc - 1)
        return cli_usage_error(argv[0], "give the text as one argument (quote it)");
    const char *text = argv[optind];
    cs_error err;
    int32_t *ids = NULL;
    size_t n = 0;
    int truncated = 0;
    if (cs_clip_tokenize(model, text, strlen(text), &ids, &n, &truncated, &err) != CS_OK)
        return cli_fail(&common, &err);
    if (common.json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_integer(ids[i]));
        cli_print_json(json_pack("{s:o, s:b}", "ids", a, "truncated", truncated));
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? " " : "", ids[i]);
        printf("\n");
    }
    free(ids);
    return EXIT_OK;
}
