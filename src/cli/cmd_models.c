/* capsearch models pull NAME | capsearch models list: CLIP models from the
 * Hugging Face Hub, and what the models folder holds. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "views/views.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = 1;
    /* A second Ctrl-C stops at once; the .part files are kept either way. */
    signal(sig, SIG_DFL);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: capsearch models pull NAME [--revision REV] [--dir MODELS_DIR] [--quiet] [--json]\n"
            "       capsearch models list [--dir MODELS_DIR] [--json]\n\n"
            "pull fetches a CLIP model in Hugging Face layout (NAME is OWNER/NAME on the\n"
            "Hub, e.g. openai/clip-vit-base-patch32) into MODELS_DIR/OWNER/NAME: config.json,\n"
            "model.safetensors, vocab.json, merges.txt, and preprocessor_config.json,\n"
            "tokenizer_config.json and special_tokens_map.json when the model has them.\n"
            "Every file is checked against the Hub's size and checksum; files already\n"
            "there are kept, and an interrupted pull resumes where it stopped. The\n"
            "folder gets the model's name only once every file is verified.\n"
            "list shows the models in MODELS_DIR: name, size, embedding size, image size,\n"
            "and whether each is complete.\n\n"
            "options:\n"
            "  --revision REV     branch, tag or commit (default: main)\n"
            "  --dir MODELS_DIR   the models folder (default: $CAPSEARCH_MODELS, else\n"
            "                     $XDG_DATA_HOME/capsearch/models, else\n"
            "                     ~/.local/share/capsearch/models)\n"
            "  --quiet            no progress on stderr\n"
            "  --json, --help     as for every command\n\n"
            "environment: HF_TOKEN (a Hub token, for private and gated models; sent to the\n"
            "Hub only), CAPSEARCH_HF_ENDPOINT (default https://huggingface.co; a mirror),\n"
            "CAPSEARCH_HUB_TIMEOUT (seconds before a silent connection fails; default 30).\n");
}

/* What pull shows while it runs. */
typedef struct pull_view {
    const char *name, *revision;
    bool quiet;
    bool tty;
    bool drew;          /* a progress bar is on the current line */
    double last_draw;
    json_t *files;      /* --json: what happened to each file */
} pull_view;

static double rate_of(const cs_pull_progress *p)
{
    return p->elapsed_s > 0 ? (double)(p->done - p->resumed_from) / p->elapsed_s : 0.0;
}

static void draw_bar(pull_view *v, const cs_pull_progress *p)
{
    if (v->drew && p->elapsed_s - v->last_draw < 0.1)
        return;
    v->last_draw = p->elapsed_s;
    v->drew = true;
    double frac = p->size ? (double)p->done / (double)p->size : 1.0;
    char bar[25], done[32], size[32], rate[32];
    int filled = (int)(frac * 24);
    for (int i = 0; i < 24; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[24] = '\0';
    cli_human_bytes((int64_t)p->done, done, sizeof done);
    cli_human_bytes((int64_t)p->size, size, sizeof size);
    cli_human_bytes((int64_t)rate_of(p), rate, sizeof rate);
    /* \033[K clears what a longer previous line left behind */
    fprintf(stderr, "\r[%zu/%zu] %s [%s] %s / %s %3.0f%% %s/s\033[K", p->index, p->count,
            p->file, bar, done, size, frac * 100, rate);
    fflush(stderr);
}

static void clear_bar(pull_view *v)
{
    if (v->drew)
        fputs("\r\033[K", stderr);
    v->drew = false;
}

static void record(pull_view *v, const cs_pull_progress *p, const char *status)
{
    if (v->files)
        json_array_append_new(v->files,
                              json_pack("{s:s, s:I, s:s, s:I}", "path", p->file, "size",
                                        (json_int_t)p->size, "status", status, "resumed_from",
                                        (json_int_t)p->resumed_from));
}

static void on_pull_progress(const cs_pull_progress *p, void *user)
{
    pull_view *v = user;
    char done[32], size[32], rate[32];
    cli_human_bytes((int64_t)p->done, done, sizeof done);
    cli_human_bytes((int64_t)p->size, size, sizeof size);
    cli_human_bytes((int64_t)rate_of(p), rate, sizeof rate);
    if (p->event == CS_PULL_FILE_PRESENT)
        record(v, p, "present");
    else if (p->event == CS_PULL_FILE_DONE)
        record(v, p, p->resumed_from ? "resumed" : "downloaded");
    if (v->quiet)
        return;
    switch (p->event) {
    case CS_PULL_LISTED:
        fprintf(stderr, "%s (%s): %zu files, %s\n", v->name, v->revision, p->count, size);
        break;
    case CS_PULL_FILE_PRESENT:
        fprintf(stderr, "[%zu/%zu] %s: already there (%s, checksum verified)\n", p->index,
                p->count, p->file, size);
        break;
    case CS_PULL_FILE_START:
        if (p->resumed_from)
            fprintf(stderr, "[%zu/%zu] %s: resuming at %s of %s\n", p->index, p->count,
                    p->file, done, size);
        if (v->tty)
            draw_bar(v, p);
        break;
    case CS_PULL_FILE_BYTES:
        if (v->tty)
            draw_bar(v, p);
        break;
    case CS_PULL_FILE_DONE:
        clear_bar(v);
        fprintf(stderr, "[%zu/%zu] %s: %s %s in %.1f s (%s/s), checksum verified\n", p->index,
                p->count, p->file, p->resumed_from ? "finished" : "downloaded", size,
                p->elapsed_s, rate);
        break;
    case CS_PULL_NOTE:
        clear_bar(v);
        fprintf(stderr, "note: %s\n", p->message);
        break;
    }
    fflush(stderr);
}

static int run_pull(const cli_common *common, const char *name, const char *revision,
                    const char *dir, bool quiet)
{
    char folder[4096];
    cs_error err;
    if (cs_model_folder(dir, name, folder, sizeof folder, &err) != CS_OK)
        return cli_usage_error("models pull", "%s", err.message);
    pull_view view = {.name = name, .revision = revision ? revision : "main", .quiet = quiet, .tty = !quiet && isatty(STDERR_FILENO),
                      .files = common->json ? json_array() : NULL};
    cs_pull_options options = {.revision = revision, .models_dir = dir,
                               .progress = on_pull_progress, .progress_user = &view,
                               .cancel = (volatile int *)&interrupted};
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cs_pull_result result;
    cs_status rc = cs_model_pull(name, &options, &result, &err);
    clear_bar(&view);
    if (rc != CS_OK) {
        json_decref(view.files);
        return cli_fail(common, &err);
    }
    char received[32];
    cli_human_bytes((int64_t)result.bytes_received, received, sizeof received);
    if (common->json) {
        cli_print_json(json_pack("{s:s, s:s, s:o, s:o, s:I, s:I}", "name", name, "revision",
                                 view.revision, "dir", view_text(result.dir), "files",
                                 view.files, "downloaded", (json_int_t)result.downloaded,
                                 "bytes_received", (json_int_t)result.bytes_received));
    } else if (result.downloaded == 0) {
        printf("%s is up to date in %s (%zu files)\n", name, result.dir, result.files);
    } else {
        printf("%s is in %s (%zu of %zu files downloaded, %s)\n", name, result.dir,
               result.downloaded, result.files, received);
    }
    return EXIT_OK;
}

static json_t *entry_json(const cs_model_entry *e)
{
    bool clip = strcmp(e->kind, "clip") == 0;
    return json_pack("{s:o, s:s, s:o, s:I, s:b, s:o, s:o, s:o}", "name", view_text(e->name),
                     "kind", e->kind, "path", view_text(e->path), "bytes", (json_int_t)e->bytes,
                     "complete", e->complete,
                     "dim", clip && e->dim ? json_integer(e->dim) : json_null(),
                     "image_size", clip && e->image_size ? json_integer(e->image_size) : json_null(),
                     "problem", view_text(e->problem));
}

static int run_list(const cli_common *common, const char *dir)
{
    cs_model_list *list = NULL;
    cs_error err;
    if (cs_model_list_read(dir, &list, &err) != CS_OK)
        return cli_fail(common, &err);
    if (common->json) {
        json_t *items = json_array();
        for (size_t i = 0; i < list->count; i++)
            json_array_append_new(items, entry_json(&list->items[i]));
        cli_print_json(json_pack("{s:o, s:o}", "dir", view_text(list->dir), "models", items));
        cs_model_list_free(list);
        return EXIT_OK;
    }
    if (list->count == 0)
        printf("no models in %s ('capsearch models pull openai/clip-vit-base-patch32' fetches "
               "one)\n", list->dir);
    else
        printf("models in %s:\n", list->dir);
    int width = 0;
    for (size_t i = 0; i < list->count; i++) {
        int n = (int)strlen(list->items[i].name);
        width = n > width ? n : width;
    }
    for (size_t i = 0; i < list->count; i++) {
        const cs_model_entry *e = &list->items[i];
        char size[32], shape[48] = "";
        cli_human_bytes((int64_t)e->bytes, size, sizeof size);
        if (e->dim)
            snprintf(shape, sizeof shape, "dim %d, image %d", e->dim, e->image_size);
        printf("  %-*s  %-6s  %10s  %-20s  %s%s%s\n", width, e->name, e->kind, size, shape,
               e->complete ? "complete" : "incomplete", e->problem ? ": " : "",
               e->problem ? e->problem : "");
    }
    cs_model_list_free(list);
    return EXIT_OK;
}

int cmd_models(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        {"revision", required_argument, NULL, 'r'},
        {"dir", required_argument, NULL, 'd'},
        {"quiet", no_argument, NULL, 'q'},
        {0, 0, 0, 0},
    };
    cli_common common = {0};
    const char *revision = NULL, *dir = NULL;
    bool quiet = false;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_common_option(opt, &common))
            continue;
        switch (opt) {
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'r':
            revision = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            return cli_usage_error("models", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("models", "give 'pull NAME' or 'list'");
    const char *action = argv[optind];
    int rest = argc - optind - 1;
    if (dir && !*dir)
        return cli_usage_error("models", "--dir needs a folder");
    if (strcmp(action, "pull") == 0) {
        if (rest != 1)
            return cli_usage_error("models pull", "give one model NAME (OWNER/NAME)");
        return run_pull(&common, argv[optind + 1], revision, dir, quiet);
    }
    if (strcmp(action, "list") == 0) {
        if (rest != 0)
            return cli_usage_error("models list", "unexpected argument '%s'", argv[optind + 1]);
        if (revision)
            return cli_usage_error("models list", "--revision goes with pull");
        return run_list(&common, dir);
    }
    return cli_usage_error("models", "unknown action '%s': give 'pull NAME' or 'list'", action);
}
