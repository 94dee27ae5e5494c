/* capsearch embed --model DIR --image FILE... | --text TEXT...: CLIP
 * embeddings, L2-normalised. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: capsearch embed --model DIR [--json] [--dump-input FILE] --image FILE...\n"
            "       capsearch embed --model DIR [--json] --text TEXT...\n\n"
            "Prints the L2-normalised CLIP embedding of each image or text, one line\n"
            "of numbers each (--json: {\"model\", \"dim\", \"embeddings\": [{\"input\",\n"
            "\"embedding\"}]}). DIR is a model folder in Hugging Face layout.\n"
            "--dump-input FILE writes the preprocessed tensor of the first image (float32,\n"
            "little-endian, channels x height x width, after normalisation).\n");
}

static void print_vector(const char *input, const float *v, int dim, json_t *list)
{
    if (list) {
        json_t *a = json_array();
        for (int i = 0; i < dim; i++)
            json_array_append_new(a, json_real(v[i]));
        json_array_append_new(list, json_pack("{s:s, s:o}", "input", input, "embedding", a));
        return;
    }
    for (int i = 0; i < dim; i++)
        printf("%s%.8g", i ? " " : "", (double)v[i]);
    printf("\n");
}

static cs_status write_input(const char *path, const float *input, size_t n, cs_error *err)
{
    FILE *f = fopen(path, "wb");
    size_t wrote = f ? fwrite(input, sizeof *input, n, f) : 0;   /* little-endian machines */
    if (!f || fclose(f) != 0 || wrote != n) {
        err->code = CS_ERR_IO;
        snprintf(err->message, sizeof err->message, "cannot write %s: %s", path,
                 strerror(errno));
        return CS_ERR_IO;
    }
    return CS_OK;
}

int cmd_embed(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        {"model", required_argument, NULL, 'm'},
        {"image", no_argument, NULL, 'i'},
        {"text", no_argument, NULL, 't'},
        {"dump-input", required_argument, NULL, 'd'},
        {0, 0, 0, 0},
    };
    cli_common common = {0};
    const char *model_dir = NULL, *dump = NULL;
    int mode = 0;
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
            model_dir = optarg;
            break;
        case 'i':
        case 't':
            if (mode && mode != opt)
                return cli_usage_error(argv[0], "give --image or --text, not both");
            mode = opt;
            break;
        case 'd':
            dump = optarg;
            break;
        default:
            return cli_usage_error(argv[0], "unknown option");
        }
    }
    if (!model_dir)
        return cli_usage_error(argv[0], "give the model folder with --model DIR");
    if (!mode || optind >= argc)
        return cli_usage_error(argv[0], "give --image FILE... or --text TEXT...");
    if (dump && mode != 'i')
        return cli_usage_error(argv[0], "--dump-input goes with --image");
    cs_error err;
    cs_clip_model *model = NULL;
    if (cs_clip_open(model_dir, &model, &err) != CS_OK)
        return cli_fail(&common, &err);
    int dim = cs_clip_dim(model), size = cs_clip_image_size(model);
    size_t input_floats = 3 * (size_t)size * (size_t)size;
    float *v = malloc((size_t)dim * sizeof *v);
    float *input = dump ? malloc(input_floats * sizeof *input) : NULL;
    json_t *list = common.json ? json_array() : NULL;
    cs_status rc = CS_OK;
    if (!v || (dump && !input)) {
        rc = err.code = CS_ERR_NOMEM;
        snprintf(err.message, sizeof err.message, "out of memory");
    }
    for (int i = optind; rc == CS_OK && i < argc; i++) {
        if (mode == 't')
            rc = cs_clip_embed_text(model, argv[i], v, &err);
        else
            rc = cs_clip_embed_image_file(model, argv[i], v, i == optind ? input : NULL, &err);
        if (rc == CS_OK)
            print_vector(argv[i], v, dim, list);
    }
    if (rc == CS_OK && dump)
        rc = write_input(dump, input, input_floats, &err);
    if (rc == CS_OK && list)
        cli_print_json(json_pack("{s:s, s:i, s:o}", "model", model_dir, "dim", dim,
                                 "embeddings", list));
    else
        json_decref(list);
    free(v);
    free(input);
    cs_clip_close(model);
    return rc == CS_OK ? EXIT_OK : cli_fail(&common, &err);
}
