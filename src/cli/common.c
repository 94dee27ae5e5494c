#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "views/views.h"

bool cli_common_option(int opt, cli_common *common)
{
    switch (opt) {
    case 'D':
        common->db = optarg;
        return true;
    case 'J':
        common->json = true;
        return true;
    default:
        return false;
    }
}

int cli_exit_code(cs_status status)
{
    switch (status) {
    case CS_OK: return EXIT_OK;
    case CS_ERR_BUSY: return EXIT_BUSY;
    case CS_ERR_CANCELLED: return EXIT_INTERRUPTED;
    default: return EXIT_FAILURE_;
    }
}

int cli_fail(const cli_common *common, const cs_error *err)
{
    if (common && common->json) {
        cli_print_json(view_error(cs_status_name(err->code), err->message));
    } else {
        fprintf(stderr, "capsearch: %s\n", err->message);
    }
    return cli_exit_code(err->code);
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    fprintf(stderr, "capsearch %s: ", command);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'capsearch %s --help'.\n", command);
    return EXIT_USAGE;
}

int cli_open_library(const cli_common *common, const cs_open_options *options,
                     cs_library **lib)
{
    cs_error err = {0};
    char dir[4096];
    const char *path = common->db;
    if (!path) {
        if (cs_default_library_dir(dir, sizeof dir, &err) != CS_OK)
            return cli_fail(common, &err);
        path = dir;
    }
    if (cs_library_open(path, options, lib, &err) != CS_OK)
        return cli_fail(common, &err);
    return EXIT_OK;
}

void cli_print_json(json_t *value)
{
    if (!value) {
        fputs("{\"error\":{\"code\":\"out of memory\",\"message\":\"cannot build JSON output\"}}\n",
              stdout);
        return;
    }
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        free(text);
    }
    json_decref(value);
}

bool cli_parse_int(const char *text, long min, long max, long *out)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

void cli_human_bytes(int64_t bytes, char *out, size_t size)
{
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}
