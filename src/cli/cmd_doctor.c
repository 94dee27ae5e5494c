/* capsearch doctor: what this build has, what the library holds, and what
 * is missing with how to get it. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>
#include <webp/decode.h>

#include "caption/lexicon.h"
#include "caption/ocr.h"
#include "capsearch_config.h"
#include "cli/cli.h"
#include "views/views.h"
#if CAPSEARCH_HAVE_HEIF
#include <libheif/heif.h>
#endif

typedef struct dependency_row {
    const char *name;
    const char *built;       /* version at build time */
    char runtime[64];        /* version of the loaded library, where it tells */
} dependency_row;

static void webp_version(char *out, size_t size)
{
    int v = WebPGetDecoderVersion();
    snprintf(out, size, "%d.%d.%d", (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

static size_t collect_dependencies(dependency_row *rows)
{
    size_t n = 0;
    rows[n] = (dependency_row){"sqlite", CAPSEARCH_BUILT_WITH_SQLITE, ""};
    snprintf(rows[n++].runtime, sizeof rows[0].runtime, "%s", sqlite3_libversion());
    rows[n] = (dependency_row){"libuv", CAPSEARCH_BUILT_WITH_UV, ""};
    snprintf(rows[n++].runtime, sizeof rows[0].runtime, "%s", uv_version_string());
    rows[n] = (dependency_row){"faiss", CAPSEARCH_BUILT_WITH_FAISS, ""};
    snprintf(rows[n++].runtime, sizeof rows[0].runtime, "%s",
             CAPSEARCH_HAVE_FAISS_C ? "faiss_c library" : "static, C API from capsearch's shim");
    rows[n] = (dependency_row){"openblas", CAPSEARCH_BUILT_WITH_OPENBLAS, ""};
    snprintf(rows[n++].runtime, sizeof rows[0].runtime, "%s kernels", cs_blas_core());
    rows[n++] = (dependency_row){"libjpeg-turbo", CAPSEARCH_BUILT_WITH_TURBOJPEG, ""};
    rows[n] = (dependency_row){"libwebp", CAPSEARCH_BUILT_WITH_WEBP, ""};
    webp_version(rows[n++].runtime, sizeof rows[0].runtime);
    rows[n] = (dependency_row){"libheif", CAPSEARCH_BUILT_WITH_HEIF, ""};
#if CAPSEARCH_HAVE_HEIF
    snprintf(rows[n].runtime, sizeof rows[0].runtime, "%s", heif_get_version());
#endif
    n++;
    rows[n++] = (dependency_row){"libexif", CAPSEARCH_BUILT_WITH_EXIF, ""};
    rows[n] = (dependency_row){"jansson", CAPSEARCH_BUILT_WITH_JANSSON, ""};
    snprintf(rows[n++].runtime, sizeof rows[0].runtime, "%s", jansson_version_str());
    rows[n++] = (dependency_row){"xxhash", CAPSEARCH_BUILT_WITH_XXHASH, ""};
    return n;
}

static const char *decoders[][2] = {
    {"jpeg", "libjpeg-turbo (DCT-domain downscaling)"},
    {"png gif bmp tga pnm", "stb_image"},
    {"webp", "libwebp"},
#if CAPSEARCH_HAVE_HEIF
    {"heic avif", "libheif"},
#endif
};

/* WordNet (related words) and Tesseract (text in pictures): what is built
 * in, where their data is read from, and what is missing. */
typedef struct text_extras {
    const char *wordnet;        /* release, NULL when not built in */
    const char *wordnet_dir;
    cs_error wordnet_problem;   /* code CS_OK when usable */
    const char *tesseract;
    const char *tessdata;
    strbuf languages;           /* installed, "eng osd" */
    cs_error ocr_problem;
} text_extras;

static void collect_text_extras(text_extras *t)
{
    t->wordnet = lexicon_version();
    t->wordnet_dir = lexicon_data_dir();
    cs_error_clear(&t->wordnet_problem);
    lexicon_open(&t->wordnet_problem);
    t->tesseract = ocr_version();
    t->tessdata = ocr_data_dir();
    strbuf_init(&t->languages);
    ocr_installed_languages(&t->languages);
    cs_error_clear(&t->ocr_problem);
    ocr_check_languages(NULL, &t->ocr_problem);
}

static bool fts5_available(void)
{
    return sqlite3_compileoption_used("ENABLE_FTS5") != 0;
}

int cmd_doctor(int argc, char **argv)
{
    static const struct option options[] = {CLI_COMMON_OPTIONS, {0, 0, 0, 0}};
    cli_common common = {0};
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_common_option(opt, &common))
            continue;
        if (opt == 'h') {
            puts("usage: capsearch doctor [--db DIR] [--json]\n\n"
                 "Prints the versions of every library capsearch uses, the image formats\n"
                 "it decodes, the models it has, and the state of the library.");
            return EXIT_OK;
        }
        return cli_usage_error("doctor", "unknown option");
    }
    dependency_row deps[16];
    size_t ndeps = collect_dependencies(deps);
    char dir[4096];
    cs_error err = {0};
    const char *path = common.db;
    if (!path && cs_default_library_dir(dir, sizeof dir, &err) == CS_OK)
        path = dir;
    struct stat st;
    bool have_library = path && stat(path, &st) == 0;
    cs_library *lib = NULL;
    cs_stats stats = {0};
    cs_status lib_rc = CS_ERR_NOT_FOUND;
    if (have_library) {
        cs_open_options oo = {.must_exist = 1};
        lib_rc = cs_library_open(path, &oo, &lib, &err);
        if (lib_rc == CS_OK)
            lib_rc = cs_library_stats(lib, &stats, &err);
    }
    text_extras extras;
    collect_text_extras(&extras);
    /* The tagger's models: what loads, or why nothing does. */
    char models_dir[4096] = "";
    cs_error models_err;
    cs_captioner *captioner = NULL;
    const char *models_loaded = "", *models_problem = NULL;
    if (cs_default_models_dir(models_dir, sizeof models_dir, &models_err) != CS_OK ||
        cs_captioner_open("none", &captioner, &models_err) != CS_OK)
        models_problem = models_err.message;
    else if (!*(models_loaded = cs_captioner_models(captioner)))
        models_problem = cs_captioner_warnings(captioner);

    if (common.json) {
        json_t *jdeps = json_object();
        for (size_t i = 0; i < ndeps; i++)
            json_object_set_new(jdeps, deps[i].name,
                                json_pack("{s:s, s:s?}", "built", deps[i].built, "runtime",
                                          deps[i].runtime[0] ? deps[i].runtime : NULL));
        json_t *jdec = json_object();
        for (size_t i = 0; i < sizeof decoders / sizeof *decoders; i++)
            json_object_set_new(jdec, decoders[i][0], json_string(decoders[i][1]));
        json_t *jlib = json_pack("{s:o, s:b}", "path", view_text(path), "exists", have_library);
        if (lib_rc == CS_OK)
            json_object_update_new(jlib, json_pack("{s:I, s:I, s:I, s:i, s:b, s:I, s:I}",
                "images", (json_int_t)stats.images, "vectors", (json_int_t)stats.vectors,
                "errors", (json_int_t)stats.errors, "schema_version", stats.schema_version,
                "vectors_rebuilt", stats.vectors_rebuilt,
                "vectors_added_on_open", (json_int_t)stats.vectors_added_on_open,
                "vectors_removed_on_open", (json_int_t)stats.vectors_removed_on_open));
        else if (have_library)
            json_object_set_new(jlib, "problem", view_text(err.message));
        json_t *jwn = json_pack("{s:s?, s:s?, s:b}", "version", extras.wordnet, "data",
                                extras.wordnet_dir, "available",
                                extras.wordnet_problem.code == CS_OK);
        if (extras.wordnet_problem.code != CS_OK)
            json_object_set_new(jwn, "problem", view_text(extras.wordnet_problem.message));
        json_t *jocr = json_pack("{s:s?, s:s?, s:s, s:b}", "version", extras.tesseract, "data",
                                 extras.tessdata, "languages", strbuf_str(&extras.languages),
                                 "available", extras.ocr_problem.code == CS_OK);
        if (extras.ocr_problem.code != CS_OK)
            json_object_set_new(jocr, "problem", view_text(extras.ocr_problem.message));
        cli_print_json(json_pack("{s:s, s:o, s:b, s:o, s:o, s:o, s:o, s:o}", "capsearch",
                                 cs_version(), "dependencies", jdeps, "fts5", fts5_available(),
                                 "decoders", jdec, "models",
                                 json_pack("{s:s, s:s, s:s?}", "folder", models_dir, "loaded",
                                           models_loaded, "problem", models_problem), "wordnet", jwn,
                                 "ocr", jocr, "library", jlib));
    } else {
        printf("capsearch %s\n\ndependencies (built with / running):\n", cs_version());
        for (size_t i = 0; i < ndeps; i++)
            printf("  %-14s %-12s %s\n", deps[i].name, deps[i].built, deps[i].runtime);
        printf("  sqlite FTS5    %s\n", fts5_available() ? "yes" : "MISSING: install Debian's libsqlite3-0");
        printf("\nimage formats:\n");
        for (size_t i = 0; i < sizeof decoders / sizeof *decoders; i++)
            printf("  %-20s %s\n", decoders[i][0], decoders[i][1]);
#if !CAPSEARCH_HAVE_HEIF
        printf("  heic avif            missing: install libheif-dev and rebuild\n");
#endif
        printf("\nmodels (%s):\n  %s\n", models_dir,
               models_problem ? models_problem : models_loaded);
        printf("\nrelated words (WordNet):\n");
        if (!extras.wordnet)
            printf("  %s\n", extras.wordnet_problem.message);
        else if (extras.wordnet_problem.code != CS_OK)
            printf("  WordNet %s, MISSING DATA: %s\n", extras.wordnet, extras.wordnet_problem.message);
        else
            printf("  WordNet %s, data in %s\n", extras.wordnet, extras.wordnet_dir);
        printf("\ntext in pictures (Tesseract OCR):\n");
        if (!extras.tesseract)
            printf("  %s\n", extras.ocr_problem.message);
        else
            printf("  Tesseract %s, languages in %s: %s\n%s%s%s", extras.tesseract, extras.tessdata,
                   extras.languages.len ? strbuf_str(&extras.languages) : "none",
                   extras.ocr_problem.code != CS_OK ? "  MISSING: " : "",
                   extras.ocr_problem.code != CS_OK ? extras.ocr_problem.message : "",
                   extras.ocr_problem.code != CS_OK ? "\n" : "");
        printf("\nlibrary %s:\n", path ? path : "(none)");
        if (!have_library)
            printf("  not created yet: run 'capsearch index DIR'\n");
        else if (lib_rc != CS_OK)
            printf("  PROBLEM: %s\n", err.message);
        else
            printf("  %lld images, %lld vectors, %lld errors, schema version %d%s\n",
                   (long long)stats.images, (long long)stats.vectors, (long long)stats.errors,
                   stats.schema_version,
                   stats.vectors_rebuilt ? "; the vector file was rebuilt"
                   : (stats.vectors_added_on_open || stats.vectors_removed_on_open)
                       ? "; the vector file was repaired" : "");
    }
    cs_library_close(lib);
    cs_captioner_free(captioner);
    strbuf_free(&extras.languages);
    return have_library && lib_rc != CS_OK ? cli_exit_code(lib_rc) : EXIT_OK;
}
