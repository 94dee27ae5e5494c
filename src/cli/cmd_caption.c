/* capsearch caption IMAGE...: what indexing would store for each picture
 * (caption, tags with scores, text read in it, related words), and the
 * objects and faces found, with boxes in the picture's own pixels. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: capsearch caption [OPTIONS] IMAGE...\n\n"
            "Prints, for each image, the caption and tags (with scores) that indexing\n"
            "would store, the text read in it and WordNet's related words, and the\n"
            "objects and faces found, with boxes (x1 y1 x2 y2) in the image's pixels\n"
            "after EXIF orientation. Uses whatever models are installed. The file's\n"
            "folder stands for the indexed folder (its name is one of the path words).\n\n"
            "With --model, also the zero-shot caption of the CLIP model: the\n"
            "candidate sentences with CLIP's score (cosine with the picture) and the\n"
            "concepts with the highest probabilities. The concept vocabulary's text\n"
            "embeddings are cached in the library (--db) when it exists.\n\n"
            "options:\n"
            "  --ocr-lang LANGS  Tesseract languages, as for 'capsearch index'\n"
            "  --model DIR       a CLIP model folder (zero-shot captions)\n"
            "  --json            one JSON document: {\"models\", \"warnings\", \"images\": [...]}\n"
            "  --help            this text\n\n"
            "Exit code 1 when any image could not be captioned (the others are printed).\n");
}

static json_t *box_json(const float box[4])
{
    json_t *a = json_array();
    for (int i = 0; i < 4; i++)
        json_array_append_new(a, json_real(box[i]));
    return a;
}

static json_t *caption_json(const char *path, const cs_caption *c, bool zeroshot)
{
    json_t *tags = json_array(), *objects = json_array(), *faces = json_array();
    for (size_t i = 0; i < c->ntags; i++)
        json_array_append_new(tags, json_pack("{s:s, s:s, s:f}", "name", c->tags[i].name, "kind",
                                              c->tags[i].kind, "score", c->tags[i].score));
    for (size_t i = 0; i < c->nobjects; i++)
        json_array_append_new(objects, json_pack("{s:s, s:f, s:o}", "label", c->objects[i].label,
                                                 "score", c->objects[i].score, "box",
                                                 box_json(c->objects[i].box)));
    for (size_t i = 0; i < c->nfaces; i++) {
        const cs_caption_face *f = &c->faces[i];
        json_t *face = json_pack("{s:f, s:o}", "score", f->score, "box", box_json(f->box));
        if (f->expression[0]) {
            json_object_set_new(face, "expression", json_string(f->expression));
            json_object_set_new(face, "expression_score", json_real(f->expression_score));
        }
        json_array_append_new(faces, face);
    }
    json_t *doc = json_pack("{s:s, s:i, s:i, s:s, s:o, s:o, s:o, s:s, s:s}", "path", path,
                            "width", c->width, "height", c->height, "caption", c->caption,
                            "tags", tags, "objects", objects, "faces", faces, "text",
                            c->ocr_text, "related", c->related);
    if (doc && zeroshot) {
        json_t *candidates = json_array(), *concepts = json_array();
        for (size_t i = 0; i < c->ncandidates; i++)
            json_array_append_new(candidates, json_pack("{s:s, s:s, s:f}", "sentence",
                                                        c->candidates[i].sentence, "prompt",
                                                        c->candidates[i].prompt, "score",
                                                        c->candidates[i].score));
        for (size_t i = 0; i < c->nconcepts; i++)
            json_array_append_new(concepts, json_pack("{s:s, s:s, s:f}", "name",
                                                      c->concepts[i].name, "kind",
                                                      c->concepts[i].kind, "probability",
                                                      c->concepts[i].score));
        json_object_set_new(doc, "zeroshot", json_string(c->zeroshot));
        json_object_set_new(doc, "candidates", candidates);
        json_object_set_new(doc, "concepts", concepts);
    }
    return doc;
}

static void print_text(const char *path, const cs_caption *c, bool zeroshot)
{
    printf("%s (%d x %d)\n  %s\n  tags:", path, c->width, c->height, c->caption);
    for (size_t i = 0; i < c->ntags; i++)
        printf(" %s (%s %.2f)%s", c->tags[i].name, c->tags[i].kind, c->tags[i].score,
               i + 1 < c->ntags ? "," : "");
    printf("\n");
    for (size_t i = 0; i < c->nobjects; i++) {
        const cs_caption_object *o = &c->objects[i];
        printf("  object %-14s %.2f  [%.0f %.0f %.0f %.0f]\n", o->label, o->score, o->box[0],
               o->box[1], o->box[2], o->box[3]);
    }
    for (size_t i = 0; i < c->nfaces; i++) {
        const cs_caption_face *f = &c->faces[i];
        printf("  face   %.2f  [%.0f %.0f %.0f %.0f]", f->score, f->box[0], f->box[1], f->box[2],
               f->box[3]);
        if (f->expression[0])
            printf("  %s %.2f", f->expression, f->expression_score);
        printf("\n");
    }
    if (*c->ocr_text)
        printf("  text: %s\n", c->ocr_text);
    if (*c->related)
        printf("  related: %s\n", c->related);
    if (!zeroshot)
        return;
    printf("  zero-shot: %s\n", *c->zeroshot ? c->zeroshot : "(no concept was sure enough)");
    for (size_t i = 0; i < c->ncandidates; i++)
        printf("    %.4f  %s\n", c->candidates[i].score, c->candidates[i].sentence);
    printf("  concepts:");
    for (size_t i = 0; i < c->nconcepts; i++)
        printf(" %s (%s %.3f)%s", c->concepts[i].name, c->concepts[i].kind, c->concepts[i].score,
               i + 1 < c->nconcepts ? "," : "");
    printf("\n");
}

int cmd_caption(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_COMMON_OPTIONS,
        {"ocr-lang", required_argument, NULL, 'l'},
        {"model", required_argument, NULL, 'm'},
        {0, 0, 0, 0},
    };
    cli_common common = {0};
    const char *languages = NULL;
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
        case 'l':
            languages = optarg;
            break;
        case 'm':
            model = optarg;
            break;
        default:
            return cli_usage_error(argv[0], "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error(argv[0], "give one or more image files");
    cs_error err;
    cs_captioner *captioner = NULL;
    if (cs_captioner_open(languages, &captioner, &err) != CS_OK)
        return cli_fail(&common, &err);
    if (model) {
        char library[4096];
        const char *dir = common.db;
        if (!dir && cs_default_library_dir(library, sizeof library, &err) == CS_OK)
            dir = library;
        if (cs_captioner_use_clip(captioner, model, dir, &err) != CS_OK) {
            cs_captioner_free(captioner);
            return cli_fail(&common, &err);
        }
    }
    const char *warnings = cs_captioner_warnings(captioner);
    json_t *images = common.json ? json_array() : NULL;
    if (!common.json && *warnings)
        fprintf(stderr, "warning: %s\n", warnings);
    int failures = 0;
    for (int i = optind; i < argc; i++) {
        cs_caption *c = NULL;
        if (cs_caption_file(captioner, argv[i], &c, &err) != CS_OK) {
            failures++;
            if (common.json)
                json_array_append_new(images, json_pack("{s:s, s:s}", "path", argv[i], "error",
                                                        err.message));
            else
                fprintf(stderr, "capsearch: %s\n", err.message);
            continue;
        }
        if (common.json)
            json_array_append_new(images, caption_json(argv[i], c, model != NULL));
        else
            print_text(argv[i], c, model != NULL);
        cs_caption_free(c);
    }
    if (common.json) {
        json_t *w = json_array();
        for (const char *p = warnings; *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            json_array_append_new(w, json_stringn(p, n));
            p += n + (nl ? 1 : 0);
        }
        cli_print_json(json_pack("{s:s, s:o, s:o}", "models", cs_captioner_models(captioner),
                                 "warnings", w, "images", images));
    }
    cs_captioner_free(captioner);
    return failures ? EXIT_FAILURE_ : EXIT_OK;
}
