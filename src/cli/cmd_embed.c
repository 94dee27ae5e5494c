/* capsearch embed --model DIR --image FILE... | --text TEXT...: CLIP
 * embeddings, L2-normalised. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/error.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: capsearch embed --model DIR [OPTIONS] [--dump-input FILE] --image FILE...\n"
            "       capsearch embed --model DIR [OPTIONS] --text TEXT...\n\n"
            "Prints the L2-normalised CLIP embedding of each image or text, one line\n"
            "of numbers each (--json: {\"model\", \"dim\", \"precision\", \"embeddings\":\n"
            "[{\"input\", \"embedding\"}]}). DIR is a model folder in Hugging Face layout.\n\n"
            "  --precision f32|f16|int8  int8: 8-bit GEMMs in the transformer blocks; f16:\n"
            "                        their weights in float16 (default f32)\n"
            "  --threads N           cores to use (default: all)\n"
            "  --batch N             inputs per forward pass (default 16)\n"
            "  --draft               decode a large JPEG at a reduced DCT scale (its short\n"
            "                        side still twice the model's input or more), as\n"
            "                        'capsearch index' does: faster, nearly the same\n"
            "  --dump-input FILE     write the first image's preprocessed tensor (float32,\n"
            "                        little-endian, channels x height x width, normalised)\n"
            "  --dump-layers DIR     write the first input's intermediate activations\n"
            "                        (DIR/<layer>.f32 and DIR/layers.json)\n");
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

/* A number option between lo and hi. */
static bool parse_count(const char *text, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

/* Embeds inputs[0..n) a batch at a time and prints them. */
static cs_status embed_all(cs_clip_model *model, bool images, bool draft, char **inputs, int n,
                           int batch, float *input_dump, json_t *list, cs_error *err)
{
    int dim = cs_clip_dim(model), size = cs_clip_image_size(model);
    size_t floats = 3 * (size_t)size * (size_t)size;
    float *v = malloc((size_t)batch * dim * sizeof *v);
    float *pixels = images ? malloc((size_t)batch * floats * sizeof *pixels) : NULL;
    cs_status rc = CS_OK;
    if (!v || (images && !pixels))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (int at = 0; rc == CS_OK && at < n; at += batch) {
        int k = n - at < batch ? n - at : batch;
        if (images) {
            for (int i = 0; rc == CS_OK && i < k; i++) {
                float *slot = pixels + (size_t)i * floats;
                rc = draft ? cs_clip_preprocess_image_draft(model, inputs[at + i], slot, err)
                           : cs_clip_preprocess_image_file(model, inputs[at + i], slot, err);
            }
            if (rc == CS_OK && at == 0 && input_dump)
                memcpy(input_dump, pixels, floats * sizeof *pixels);
            if (rc == CS_OK)
                rc = cs_clip_embed_pixels(model, pixels, (size_t)k, v, err);
        } else {
            rc = cs_clip_embed_texts(model, (const char *const *)inputs + at, (size_t)k, v, err);
        }
        /* Layers are dumped for the first input only. */
        if (rc == CS_OK && at == 0)
            rc = cs_clip_set_dump_dir(model, NULL, err);
        for (int i = 0; rc == CS_OK && i < k; i++)
            print_vector(inputs[at + i], v + (size_t)i * dim, dim, list);
    }
    free(v);
    free(pixels);
    return rc;
}

int cmd_embed(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        {"model", required_argument, NULL, 'm'},
        {"image", no_argument, NULL, 'i'},
        {"text", no_argument, NULL, 't'},
        {"dump-input", required_argument, NULL, 'd'},
        {"draft", no_argument, NULL, 'r'},
        {"dump-layers", required_argument, NULL, 'L'},
        {"precision", required_argument, NULL, 'p'},
        {"threads", required_argument, NULL, 'T'},
        {"batch", required_argument, NULL, 'B'},
        {0, 0, 0, 0},
    };
    cli_common common = {0};
    const char *model_dir = NULL, *dump = NULL, *dump_layers = NULL;
    cs_clip_options clip_options = {.precision = CS_CLIP_F32};
    int mode = 0;
    bool draft = false;
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
        case 'r':
            draft = true;
            break;
        case 'L':
            dump_layers = optarg;
            break;
        case 'p':
            if (strcmp(optarg, "f32") == 0)
                clip_options.precision = CS_CLIP_F32;
            else if (strcmp(optarg, "int8") == 0)
                clip_options.precision = CS_CLIP_INT8;
            else if (strcmp(optarg, "f16") == 0)
                clip_options.precision = CS_CLIP_F16;
            else
                return cli_usage_error(argv[0], "--precision is f32, f16 or int8");
            break;
        case 'T':
            if (!parse_count(optarg, 1, 256, &clip_options.threads))
                return cli_usage_error(argv[0], "--threads takes 1 to 256");
            break;
        case 'B':
            if (!parse_count(optarg, 1, 1024, &clip_options.max_batch))
                return cli_usage_error(argv[0], "--batch takes 1 to 1024");
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
    if (draft && mode != 'i')
        return cli_usage_error(argv[0], "--draft goes with --image");
    cs_error err;
    cs_clip_model *model = NULL;
    clip_options.text_only = mode == 't';   /* the vision tower's weights are not read */
    if (cs_clip_open_with(model_dir, &clip_options, &model, &err) != CS_OK)
        return cli_fail(&common, &err);
    int dim = cs_clip_dim(model), size = cs_clip_image_size(model);
    size_t input_floats = 3 * (size_t)size * (size_t)size;
    int batch = clip_options.max_batch ? clip_options.max_batch : 16;
    float *input = dump ? malloc(input_floats * sizeof *input) : NULL;
    json_t *list = common.json ? json_array() : NULL;
    cs_status rc = CS_OK;
    if (dump && !input)
        rc = cs_error_set(&err, CS_ERR_NOMEM, "out of memory");
    if (rc == CS_OK && dump_layers)
        rc = cs_clip_set_dump_dir(model, dump_layers, &err);
    if (rc == CS_OK)
        rc = embed_all(model, mode == 'i', draft, argv + optind, argc - optind, batch, input,
                       list, &err);
    if (rc == CS_OK && dump)
        rc = write_input(dump, input, input_floats, &err);
    if (rc == CS_OK && list)
        cli_print_json(json_pack("{s:s, s:i, s:s, s:o}", "model", model_dir, "dim", dim,
                                 "precision", cs_clip_precision_name(model), "embeddings", list));
    else
        json_decref(list);
    free(input);
    cs_clip_close(model);
    return rc == CS_OK ? EXIT_OK : cli_fail(&common, &err);
}
