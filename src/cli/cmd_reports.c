/* capsearch stats, capsearch errors, capsearch duplicates */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "views/views.h"

/* Parses the options shared by the report commands. Returns -1 after
 * --help, EXIT_USAGE on a bad option, EXIT_OK otherwise. */
static int parse_simple(int argc, char **argv, cli_common *common, const char *help,
                        long *distance)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        {"distance", required_argument, NULL, 'd'},
        {0, 0, 0, 0},
    };
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_common_option(opt, common))
            continue;
        if (opt == 'h') {
            fputs(help, stdout);
            return -1;
        }
        if (opt == 'd' && distance) {
            if (!cli_parse_int(optarg, 0, 16, distance))
                return cli_usage_error(argv[0], "--distance takes a number of bits from 0 to 16");
            continue;
        }
        return cli_usage_error(argv[0], "unknown option");
    }
    if (optind != argc)
        return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
    return EXIT_OK;
}

int cmd_stats(int argc, char **argv)
{
    cli_common common = {0};
    int code = parse_simple(argc, argv, &common,
                            "usage: capsearch stats [--db DIR] [--json]\n\n"
                            "Counts of images, vectors and errors, and the library's sizes.\n",
                            NULL);
    if (code != EXIT_OK)
        return code < 0 ? EXIT_OK : code;
    cs_library *lib = NULL;
    cs_open_options oo = {.must_exist = 1};
    if ((code = cli_open_library(&common, &oo, &lib)) != EXIT_OK)
        return code;
    cs_stats st;
    cs_error err = {0};
    if (cs_library_stats(lib, &st, &err) != CS_OK) {
        code = cli_fail(&common, &err);
    } else if (common.json) {
        cli_print_json(view_stats(&st, cs_library_dir(lib)));
    } else {
        char cat[32], vec[32], img[32];
        cli_human_bytes(st.catalog_bytes, cat, sizeof cat);
        cli_human_bytes(st.vector_bytes, vec, sizeof vec);
        cli_human_bytes(st.total_image_bytes, img, sizeof img);
        printf("library     %s\n", cs_library_dir(lib));
        printf("images      %lld (%s of image files)\n", (long long)st.images, img);
        printf("vectors     %lld in the index, %lld in the catalog (%s)\n",
               (long long)st.vectors, (long long)st.embeddings, st.embedding_model);
        printf("errors      %lld file(s) could not be indexed\n", (long long)st.errors);
        printf("catalog     %s (schema version %d, generation %lld)\n", cat,
               st.schema_version, (long long)st.generation);
        printf("vector file %s\n", vec);
    }
    cs_library_close(lib);
    return code;
}

int cmd_errors(int argc, char **argv)
{
    cli_common common = {0};
    int code = parse_simple(argc, argv, &common,
                            "usage: capsearch errors [--db DIR] [--json]\n\n"
                            "Files that could not be indexed, with the reason. They are tried\n"
                            "again when they change.\n", NULL);
    if (code != EXIT_OK)
        return code < 0 ? EXIT_OK : code;
    cs_library *lib = NULL;
    cs_open_options oo = {.must_exist = 1};
    if ((code = cli_open_library(&common, &oo, &lib)) != EXIT_OK)
        return code;
    cs_error_list *list = NULL;
    cs_error err = {0};
    if (cs_library_errors(lib, &list, &err) != CS_OK) {
        code = cli_fail(&common, &err);
    } else if (common.json) {
        cli_print_json(view_errors(list));
    } else {
        for (size_t i = 0; i < list->count; i++)
            printf("%s\n    %s\n", list->items[i].path, list->items[i].reason);
        if (list->count == 0)
            fprintf(stderr, "no errors\n");
    }
    cs_error_list_free(list);
    cs_library_close(lib);
    return code;
}

int cmd_duplicates(int argc, char **argv)
{
    cli_common common = {0};
    long distance = 6;
    int code = parse_simple(argc, argv, &common,
                            "usage: capsearch duplicates [--distance BITS] [--db DIR] [--json]\n\n"
                            "Groups of near-duplicate images: resized, recompressed or lightly\n"
                            "edited copies. Two images are near-duplicates when their 64-bit\n"
                            "perceptual hashes differ in at most BITS bits (default 6; 0 =\n"
                            "identical hashes, up to 16 = loose).\n", &distance);
    if (code != EXIT_OK)
        return code < 0 ? EXIT_OK : code;
    cs_library *lib = NULL;
    cs_open_options oo = {.skip_vectors = 1, .must_exist = 1};
    if ((code = cli_open_library(&common, &oo, &lib)) != EXIT_OK)
        return code;
    cs_duplicate_groups *groups = NULL;
    cs_error err = {0};
    if (cs_library_duplicates(lib, (int)distance, &groups, &err) != CS_OK) {
        code = cli_fail(&common, &err);
    } else if (common.json) {
        cli_print_json(view_duplicates(groups, (int)distance));
    } else {
        for (size_t g = 0; g < groups->count; g++) {
            const cs_duplicate_group *group = &groups->groups[g];
            printf("group %zu (%zu images)\n", g + 1, group->count);
            for (size_t i = 0; i < group->count; i++)
                printf("  %2d bits  %s\n", group->distances[i], group->paths[i]);
        }
        if (groups->count == 0)
            fprintf(stderr, "no near-duplicates within %ld bits\n", distance);
    }
    cs_duplicate_groups_free(groups);
    cs_library_close(lib);
    return code;
}
