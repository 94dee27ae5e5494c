/* capsearch search TEXT, capsearch similar ID */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "views/views.h"
#include "common/dates.h"
#include "common/fsutil.h"

/* The largest picture `search --image` reads (as the indexer's default). */
#define MAX_IMAGE_BYTES (256ull << 20)

typedef struct search_args {
    cli_common common;
    cs_search_options options;
    const char *subject;     /* the query text, the image id, or the picture's path */
    const char *image;       /* search --image FILE */
} search_args;

static void print_results(const search_args *a, const cs_results *res)
{
    if (a->common.json) {
        cli_print_json(view_results(res, a->image ? NULL : a->subject, a->options.explain,
                                    NULL));
        return;
    }
    if (res->warning)
        fprintf(stderr, "warning: %s\n", res->warning);
    if (res->count == 0)
        fprintf(stderr, "no images match '%s'\n", a->subject);
    for (size_t i = 0; i < res->count; i++) {
        const cs_result *r = &res->items[i];
        printf("%3zu. %s\n", (size_t)a->options.offset + i + 1, r->path);
        printf("     %s\n", r->caption && *r->caption ? r->caption : "(no caption)");
        if (a->options.explain) {
            printf("     id %lld  fused %.5f", (long long)r->id, r->score);
            for (int s = 0; s < r->nsources; s++)
                if (r->sources[s].rank)
                    printf("  %s #%d (%.4f)", r->sources[s].source, r->sources[s].rank,
                           r->sources[s].score);
            printf("\n");
        }
    }
    if (a->options.explain && res->fts_query)
        printf("text query: %s\n", res->fts_query);
    if (a->options.explain && res->nterms) {
        printf("composed:");
        for (size_t t = 0; t < res->nterms; t++) {
            double w = res->terms[t].weight;
            printf("%s%g:\"%s\"", w < 0 ? " - " : t ? " + " : " ", w < 0 ? -w : w,
                   res->terms[t].text);
        }
        printf("\n");
    }
    if (a->options.explain && (res->embeddings_computed || res->embeddings_cached))
        printf("query embedding: %d computed, %d cached\n", res->embeddings_computed,
               res->embeddings_cached);
    if (a->options.explain && res->vector_filter)
        printf("vector filter: %s\n", res->vector_filter);
    if (a->options.explain && res->filter_list)
        printf("filter list: %s\n", res->filter_list);
}

static void usage(FILE *out, const char *command)
{
    if (strcmp(command, "similar") == 0)
        fprintf(out,
                "usage: capsearch similar [OPTIONS] ID\n\n"
                "Lists the indexed images that look most like image ID (an id printed\n"
                "by 'capsearch search --explain' or --json).\n\n");
    else
        fprintf(out,
                "usage: capsearch search [OPTIONS] TEXT\n\n"
                "Finds images whose caption, tags, file path, date or camera match TEXT.\n"
                "Words are matched with stemming (boats finds boat) and without accents.\n"
                "\"quoted words\" must appear together, word* matches a prefix, -word\n"
                "excludes. Any other character is searched for literally. When the\n"
                "library's vectors come from a CLIP model, TEXT is also matched by\n"
                "meaning and the two rankings are fused (see --alpha).\n"
                "Composed: '\"beach\" + 2:\"sunset\" - \"people\"' (quoted terms joined\n"
                "by + and -, optional weights N: up to 100) searches by the weighted\n"
                "sum of the terms' meanings, and by the words of the + terms without\n"
                "images matching a - term.\n"
                "An empty TEXT, or exclusions alone (-- '-dog -cat'), lists the\n"
                "images the filters keep, without the excluded, newest first.\n"
                "With --image FILE instead of TEXT: images that look like FILE.\n\n");
    fprintf(out,
            "options:\n"
            "  -k N          how many results (default 20, at most 1000)\n"
            "  --offset N    skip the first N results (paging)\n"
            "  --explain     show each ranking source's rank and raw score\n"
            "  --folder DIR  only images in DIR or below\n"
            "  --from DAY    only images taken on or after DAY (YYYY-MM-DD)\n"
            "  --to DAY      only images taken on or before DAY\n"
            "  --type T      only images of format T (jpeg, png, gif, webp, heif, ...)\n"
            "  --camera TEXT only images whose camera make or model contains TEXT\n"
            "  --has-text    only images in which text was read (OCR)\n"
            "  --has-faces   only images in which a face was found\n");
    if (strcmp(command, "similar") != 0)
        fprintf(out,
            "  --alpha A     0 to 1: the share of the CLIP ranking against the text\n"
            "                ranking (default 0.5; 0 = text only, 1 = CLIP only)\n"
            "  --image FILE  search by this picture instead of TEXT\n");
    fprintf(out,
            "  --db DIR, --json, --help as for every command\n");
}

/* Called for getopt's '?'. A query such as -dog reads as options, so the
 * message shows how to pass it. */
static int unknown_option(const char *command, char **argv)
{
    if (optopt == 0)
        return cli_usage_error(command, "unknown option '%s'", argv[optind - 1]);
    if (strcmp(command, "search") != 0)
        return cli_usage_error(command, "unknown option '-%c'", optopt);
    return cli_usage_error(command,
                           "unknown option '-%c'; a query that starts with '-' goes "
                           "after --, as in: capsearch search -- '-dog'",
                           optopt);
}

static bool parse_alpha(const char *text, double *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (!*text || !end || *end || !(v >= 0.0 && v <= 1.0))
        return false;
    *out = v;
    return true;
}

/* search --image FILE: the picture's bytes go to cs_search_image. */
static cs_status search_image(cs_library *lib, const search_args *a, cs_results **res,
                              cs_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    cs_status rc = fs_read_file(a->image, MAX_IMAGE_BYTES, &data, &len, err);
    if (rc == CS_OK)
        rc = cs_search_image(lib, data, len, &a->options, res, err);
    free(data);
    return rc;
}

static int parse(int argc, char **argv, search_args *a)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        {"offset", required_argument, NULL, 'o'},
        {"explain", no_argument, NULL, 'e'},
        {"folder", required_argument, NULL, 'f'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"type", required_argument, NULL, 'y'},
        {"camera", required_argument, NULL, 'c'},
        {"has-text", no_argument, NULL, 'X'},
        {"has-faces", no_argument, NULL, 'P'},
        {"alpha", required_argument, NULL, 'a'},
        {"image", required_argument, NULL, 'i'},
        {0, 0, 0, 0},
    };
    const char *command = argv[0];
    long value;
    int opt;
    optind = 1;
    opterr = 0; /* unknown_option says it once, with the way to search for -word */
    while ((opt = getopt_long(argc, argv, ":hk:", options, NULL)) != -1) {
        if (cli_common_option(opt, &a->common))
            continue;
        switch (opt) {
        case 'h':
            usage(stdout, command);
            return -1;
        case 'k':
            if (!cli_parse_int(optarg, 1, 1000, &value))
                return cli_usage_error(command, "-k takes a number from 1 to 1000");
            a->options.k = (int)value;
            break;
        case 'o':
            if (!cli_parse_int(optarg, 0, 100000, &value))
                return cli_usage_error(command, "--offset takes a number from 0 to 100000");
            a->options.offset = (int)value;
            break;
        case 'e':
            a->options.explain = 1;
            break;
        case 'f':
            a->options.filter.folder = optarg;
            break;
        case 'F':
        case 'T':
            if (!dates_parse_day(optarg, opt == 'T',
                                 opt == 'F' ? &a->options.filter.from : &a->options.filter.to))
                return cli_usage_error(command, "--%s takes a date as YYYY-MM-DD",
                                       opt == 'F' ? "from" : "to");
            *(opt == 'F' ? &a->options.filter.has_from : &a->options.filter.has_to) = 1;
            break;
        case 'y':
            a->options.filter.type = optarg;
            break;
        case 'c':
            a->options.filter.camera = optarg;
            break;
        case 'X':
            a->options.filter.has_text = 1;
            break;
        case 'P':
            a->options.filter.has_faces = 1;
            break;
        case 'a':
        case 'i':
            if (strcmp(command, "similar") == 0)
                return cli_usage_error(command, "unknown option");
            if (opt == 'i') {
                a->image = optarg;
                break;
            }
            if (!parse_alpha(optarg, &a->options.alpha))
                return cli_usage_error(command, "--alpha takes a number from 0 to 1");
            a->options.has_alpha = 1;
            break;
        case ':':
            return cli_usage_error(command, "%s needs a value", argv[optind - 1]);
        default:
            return unknown_option(command, argv);
        }
    }
    if (a->image) {
        if (optind != argc)
            return cli_usage_error(command, "give either TEXT or --image FILE, not both");
        a->subject = a->image;
        return EXIT_OK;
    }
    if (optind != argc - 1)
        return cli_usage_error(command, strcmp(command, "similar") == 0
                                            ? "give exactly one image id"
                                            : "give the query as one argument (quote it)");
    a->subject = argv[optind];
    return EXIT_OK;
}

static int run(int argc, char **argv, bool similar)
{
    search_args a = {0};
    int code = parse(argc, argv, &a);
    if (code != EXIT_OK)
        return code < 0 ? EXIT_OK : code;
    long id = 0;
    if (similar && !cli_parse_int(a.subject, 1, INT64_MAX > LONG_MAX ? LONG_MAX : INT64_MAX, &id))
        return cli_usage_error("similar", "'%s' is not an image id", a.subject);
    /* The catalog holds canonical absolute paths. */
    char *folder = a.options.filter.folder ? realpath(a.options.filter.folder, NULL) : NULL;
    if (folder)
        a.options.filter.folder = folder;
    cs_library *lib = NULL;
    cs_open_options oo = {.must_exist = 1};
    code = cli_open_library(&a.common, &oo, &lib);
    if (code != EXIT_OK) {
        free(folder);
        return code;
    }
    cs_results *res = NULL;
    cs_error err = {0};
    cs_status rc = similar   ? cs_search_similar(lib, id, &a.options, &res, &err)
                   : a.image ? search_image(lib, &a, &res, &err)
                             : cs_search(lib, a.subject, &a.options, &res, &err);
    if (rc == CS_OK)
        print_results(&a, res);
    else
        code = cli_fail(&a.common, &err);
    cs_results_free(res);
    cs_library_close(lib);
    free(folder);
    return code;
}

int cmd_search(int argc, char **argv)
{
    return run(argc, argv, false);
}

int cmd_similar(int argc, char **argv)
{
    return run(argc, argv, true);
}
