/* capsearch index DIR... */
#include <malloc.h>
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
    /* A second Ctrl-C stops at once; the catalog is still consistent. */
    signal(sig, SIG_DFL);
}

typedef struct progress_view {
    bool json;
    bool tty;
    double last_draw;
    bool drew;
} progress_view;

static void format_eta(double seconds, char *out, size_t size)
{
    if (seconds < 0 || seconds > 360000) {
        snprintf(out, size, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else
        snprintf(out, size, "%ld:%02ld", s / 60, s % 60);
}

static double rate_of(const cs_index_progress *p)
{
    return p->elapsed_s > 0 ? (double)p->done / p->elapsed_s : 0.0;
}

static void draw_bar(progress_view *v, const cs_index_progress *p, bool final)
{
    if (!final && p->elapsed_s - v->last_draw < 0.1)
        return;
    v->last_draw = p->elapsed_s;
    v->drew = true;
    double rate = rate_of(p);
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    char eta[32];
    format_eta(rate > 0 ? (double)(p->total - p->done) / rate : -1, eta, sizeof eta);
    char bar[31];
    int filled = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[30] = '\0';
    /* \033[K clears what a longer previous line left behind */
    fprintf(stderr, "\r[%s] %llu/%llu  %.1f files/s  ETA %s  failed %llu\033[K", bar,
            (unsigned long long)p->done, (unsigned long long)p->total, rate, eta,
            (unsigned long long)p->failed);
    fflush(stderr);
}

static json_t *counters_json(const char *event, const cs_index_progress *p)
{
    json_t *o = view_index_progress(p);
    if (o)
        json_object_set_new(o, "event", json_string(event));
    return o;
}

static void on_progress(const cs_index_progress *p, void *user)
{
    progress_view *v = user;
    if (p->event == CS_EVENT_WARNING) {
        if (v->json) {
            cli_print_json(json_pack("{s:s, s:s}", "event", "warning", "message",
                                     p->error ? p->error : ""));
            fflush(stdout);
        } else {
            if (v->drew)
                fputc('\n', stderr);
            fprintf(stderr, "warning: %s\n", p->error ? p->error : "");
        }
        return;
    }
    if (v->json) {
        if (p->event == CS_EVENT_FILE_DONE && p->error) {
            json_t *line = json_pack("{s:s, s:o, s:s}", "event", "error",
                                     "path", view_text(p->path), "reason", p->error);
            cli_print_json(line);
        } else if (p->event == CS_EVENT_WALK_DONE) {
            cli_print_json(counters_json("walked", p));
        } else if (p->event == CS_EVENT_BATCH) {
            cli_print_json(counters_json("progress", p));
        } else if (p->event == CS_EVENT_EMBEDDED) {
            cli_print_json(counters_json("embedded", p));
        } else if (p->event == CS_EVENT_CONCEPTS) {
            cli_print_json(counters_json("concepts", p));
        }
        fflush(stdout);
        return;
    }
    if (v->tty && p->event == CS_EVENT_CONCEPTS) {
        fprintf(stderr, "\rZero-shot vocabulary (once per model): %llu/%llu concepts embedded"
                        "\033[K",
                (unsigned long long)p->concepts_embedded,
                (unsigned long long)p->concepts_total);
        fflush(stderr);
        v->drew = true;
        return;
    }
    if (v->tty && p->event == CS_EVENT_EMBEDDED) {
        fprintf(stderr, "\rCLIP: %llu/%llu pictures embedded\033[K",
                (unsigned long long)p->embedded, (unsigned long long)p->embed_total);
        fflush(stderr);
        v->drew = true;
        return;
    }
    if (v->tty && p->event == CS_EVENT_WALK_DONE)
        fprintf(stderr, "%llu new or changed files to index, %llu unchanged\n",
                (unsigned long long)p->total, (unsigned long long)p->unchanged);
    if (v->tty && (p->event == CS_EVENT_FILE_DONE || p->event == CS_EVENT_BATCH))
        draw_bar(v, p, false);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: capsearch index [OPTIONS] DIR...\n\n"
            "Indexes the images under each folder (recursively; hidden files and\n"
            "folders are skipped). New and changed files are read; renamed or copied\n"
            "files reuse what is stored; entries of deleted files are removed. Files\n"
            "that cannot be decoded are listed by 'capsearch errors'. Ctrl-C stops\n"
            "after the current batch; running the command again resumes.\n\n"
            "options:\n"
            "  --threads N       decode threads (default: one per core)\n"
            "  --batch N         images per transaction (default 64)\n"
            "  --max-pixels N    refuse images larger than N pixels (default 178956970)\n"
            "  --max-file-mb N   refuse files larger than N MiB (default 256)\n"
            "  --no-purge        keep entries of files that are no longer there\n"
            "  --ocr-lang LANGS  read text in pictures in these Tesseract languages,\n"
            "                    joined by '+' (default eng; e.g. eng+deu needs Debian's\n"
            "                    tesseract-ocr-deu); 'none' reads no text\n"
            "  --model DIR       also embed every picture with this CLIP model (a folder\n"
            "                    in Hugging Face layout); recorded, later runs use it;\n"
            "                    searches use it once every picture has its embedding;\n"
            "                    with WordNet, each picture also gets a zero-shot\n"
            "                    caption and concept tags from it\n"
            "  --precision P     with --model: f32 (default) or int8\n"
            "  --quiet           no progress bar and no summary\n"
            "  --db DIR, --json, --help as for every command\n\n"
            "With --json, progress is printed as JSON lines: {\"event\":\"walked\"...},\n"
            "{\"event\":\"progress\"...}, {\"event\":\"embedded\"...} (CLIP batches),\n"
            "{\"event\":\"error\",\"path\",\"reason\"},\n"
            "{\"event\":\"warning\",\"message\"} (WordNet or OCR data missing: indexing\n"
            "goes on without it) and a final {\"event\":\"done\"...}.\n");
}

int cmd_index(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        {"threads", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'},
        {"max-pixels", required_argument, NULL, 'p'},
        {"max-file-mb", required_argument, NULL, 'm'},
        {"no-purge", no_argument, NULL, 'n'},
        {"quiet", no_argument, NULL, 'q'},
        {"ocr-lang", required_argument, NULL, 'l'},
        {"model", required_argument, NULL, 'M'},
        {"precision", required_argument, NULL, 'P'},
        {0, 0, 0, 0},
    };
    cli_common common = {0};
    cs_index_options io = {0};
    bool quiet = false;
    bool precision_given = false;
    long value;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_common_option(opt, &common))
            continue;
        switch (opt) {
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 't':
            if (!cli_parse_int(optarg, 1, 256, &value))
                return cli_usage_error("index", "--threads takes a number from 1 to 256");
            io.threads = (int)value;
            break;
        case 'b':
            if (!cli_parse_int(optarg, 1, 100000, &value))
                return cli_usage_error("index", "--batch takes a number from 1 to 100000");
            io.batch_size = (int)value;
            break;
        case 'p':
            if (!cli_parse_int(optarg, 1, 4000000000L, &value))
                return cli_usage_error("index", "--max-pixels takes a positive number");
            io.max_pixels = (uint64_t)value;
            break;
        case 'm':
            if (!cli_parse_int(optarg, 1, 1 << 20, &value))
                return cli_usage_error("index", "--max-file-mb takes a positive number");
            io.max_file_bytes = (uint64_t)value << 20;
            break;
        case 'n':
            io.no_purge = 1;
            break;
        case 'q':
            quiet = true;
            break;
        case 'l':
            io.ocr_languages = optarg;
            break;
        case 'M':
            io.clip_model = optarg;
            break;
        case 'P':
            if (strcmp(optarg, "f32") != 0 && strcmp(optarg, "int8") != 0)
                return cli_usage_error("index", "--precision takes f32 or int8");
            io.clip_precision = strcmp(optarg, "int8") == 0 ? CS_CLIP_INT8 : CS_CLIP_F32;
            precision_given = true;
            break;
        default:
            return cli_usage_error("index", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("index", "name at least one folder to index");
    if (precision_given && !io.clip_model)
        return cli_usage_error("index", "--precision goes with --model DIR (a library's "
                                        "model keeps the precision it was given)");

    /* Decoding allocates and frees tens of megabytes per photo. Keep that
     * memory in the heap instead of mapping and faulting it in anew for every
     * file (measured: a sixth of the time on large PNGs went to page faults). */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);

    cs_library *lib = NULL;
    int code = cli_open_library(&common, NULL, &lib);
    if (code != EXIT_OK)
        return code;
    progress_view view = {.json = common.json, .tty = !quiet && isatty(STDERR_FILENO)};
    io.progress = on_progress;
    io.progress_user = &view;
    io.cancel = &interrupted;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    cs_index_progress done = {0};
    cs_error err = {0};
    cs_status rc = cs_index(lib, (const char *const *)&argv[optind], (size_t)(argc - optind),
                            &io, &done, &err);
    if (view.drew) {
        draw_bar(&view, &done, true);
        fputc('\n', stderr);
    }
    if (common.json) {
        json_t *summary = counters_json("done", &done);
        json_object_set_new(summary, "status", json_string(rc == CS_OK ? "ok" : cs_status_name(rc)));
        if (rc != CS_OK)
            json_object_set_new(summary, "message", view_text(err.message));
        cli_print_json(summary);
    } else if (!quiet && (rc == CS_OK || rc == CS_ERR_CANCELLED)) {
        fprintf(stderr,
                "%s %llu new or changed, %llu reused, %llu unchanged, %llu removed, "
                "%llu failed in %.1f s\n", rc == CS_OK ? "indexed:" : "interrupted:",
                (unsigned long long)done.indexed, (unsigned long long)done.reused,
                (unsigned long long)done.unchanged, (unsigned long long)done.removed,
                (unsigned long long)done.failed, done.elapsed_s);
        if (done.failed)
            fprintf(stderr, "%llu file(s) could not be indexed: see 'capsearch errors'\n",
                    (unsigned long long)done.failed);
        if (done.embed_total)
            fprintf(stderr, "CLIP: %llu of %llu pictures embedded\n",
                    (unsigned long long)done.embedded, (unsigned long long)done.embed_total);
        if (done.captioned || done.concepts_embedded)
            fprintf(stderr, "CLIP: %llu pictures captioned (zero-shot); %llu concept "
                    "embeddings computed\n", (unsigned long long)done.captioned,
                    (unsigned long long)done.concepts_embedded);
    }
    if (rc != CS_OK && !common.json)
        code = cli_fail(&common, &err);
    else if (rc != CS_OK)
        code = cli_exit_code(rc);
    cs_library_close(lib);
    return code;
}
