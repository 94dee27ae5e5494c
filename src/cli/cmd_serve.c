/* capsearch serve */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/array.h"
#include "server/serve.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: capsearch serve [OPTIONS]\n\n"
            "Serves the search page and the JSON API (see README and /openapi.yaml).\n"
            "Prints the URL once it accepts connections. Ctrl-C or SIGTERM finishes the\n"
            "requests in flight, lets a running index job commit, and exits.\n\n"
            "options:\n"
            "  --host ADDR       address to listen on (default 127.0.0.1: this machine only)\n"
            "  --port N          port (default 8765; 0 = any free port)\n"
            "  --token T         require 'Authorization: Bearer T' (or ?token=T) on the API;\n"
            "                    also read from $CAPSEARCH_TOKEN, which keeps it out of 'ps'\n"
            "  --insecure        allow a non-loopback --host without a token\n"
            "  --watch DIR       keep DIR indexed: changes are picked up while serving\n"
            "                    (may be repeated)\n"
            "  --rescan SECONDS  also rescan watched folders this often (default 300; 0 = never)\n"
            "  --db DIR, --help as for every command\n");
}

/* True for 127.0.0.0/8 and ::1: only this machine can connect. */
static bool is_loopback(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6);
    return strcmp(host, "localhost") == 0;
}

static void print_url(const char *url, void *user)
{
    const char *dir = user;
    printf("capsearch: serving %s at %s\n", dir, url);
    fflush(stdout);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"token", required_argument, NULL, 't'},
        {"insecure", no_argument, NULL, 'i'},
        {"watch", required_argument, NULL, 'w'},
        {"rescan", required_argument, NULL, 'r'},
        {0, 0, 0, 0},
    };
    cli_common common = {0};
    serve_config config = {.host = "127.0.0.1", .port = 8765, .rescan_seconds = 300};
    const char **watch = NULL;
    size_t nwatch = 0, capwatch = 0;
    bool insecure = false;
    long value;
    int code = EXIT_OK;
    optind = 1;
    int opt;
    while (code == EXIT_OK && (opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_common_option(opt, &common))
            continue;
        switch (opt) {
        case 'h':
            usage(stdout);
            free(watch);
            return EXIT_OK;
        case 'H':
            config.host = optarg;
            break;
        case 'p':
            if (!cli_parse_int(optarg, 0, 65535, &value))
                code = cli_usage_error("serve", "--port takes a number from 0 to 65535");
            config.port = (int)value;
            break;
        case 't':
            config.token = optarg;
            break;
        case 'i':
            insecure = true;
            break;
        case 'w':
            if (!ARRAY_RESERVE(watch, capwatch, nwatch))
                code = cli_usage_error("serve", "out of memory");
            else
                watch[nwatch++] = optarg;
            break;
        case 'r':
            if (!cli_parse_int(optarg, 0, 86400 * 7, &value))
                code = cli_usage_error("serve", "--rescan takes seconds from 0 to 604800");
            config.rescan_seconds = (double)value;
            break;
        default:
            code = cli_usage_error("serve", "unknown option");
        }
    }
    if (code == EXIT_OK && optind != argc)
        code = cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!config.token && getenv("CAPSEARCH_TOKEN") && *getenv("CAPSEARCH_TOKEN"))
        config.token = getenv("CAPSEARCH_TOKEN");
    if (code == EXIT_OK && !is_loopback(config.host) && !config.token && !insecure)
        code = cli_usage_error("serve",
                               "listening on %s lets other machines in: give --token T "
                               "(or --insecure to serve without one)", config.host);
    char dir[4096];
    cs_error err = {0};
    if (code == EXIT_OK) {
        if (common.db)
            snprintf(dir, sizeof dir, "%s", common.db);
        else if (cs_default_library_dir(dir, sizeof dir, &err) != CS_OK)
            code = cli_fail(&common, &err);
    }
    if (code == EXIT_OK) {
        config.library_dir = dir;
        config.watch = watch;
        config.nwatch = nwatch;
        config.on_listening = print_url;
        config.user = dir;
        if (serve_run(&config, &err) != CS_OK)
            code = cli_fail(&common, &err);
    }
    free(watch);
    return code;
}
