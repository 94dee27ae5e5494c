/* cs_caption_file: one file through the indexer's own analysis, so that
 * `capsearch caption` shows exactly what indexing stores. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caption/lexicon.h"
#include "common/strbuf.h"
#include "indexer/indexer_internal.h"

struct cs_captioner {
    strmap no_hashes;             /* nothing to reuse: every file is analysed */
    analyze_context ctx;
    analyze_worker worker;
    tagger *tagger;
    char *ocr_languages;
    strbuf warnings;
};

static void add_warning(cs_captioner *c, const char *message)
{
    if (c->warnings.len)
        strbuf_append_char(&c->warnings, '\n');
    strbuf_append(&c->warnings, message);
}

cs_status cs_default_models_dir(char *out, size_t size, cs_error *err)
{
    return tagger_default_dir(out, size, err);
}

cs_status cs_captioner_open(const char *ocr_languages, cs_captioner **out, cs_error *err)
{
    *out = NULL;
    cs_captioner *c = calloc(1, sizeof *c);
    if (!c)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    strmap_init(&c->no_hashes);
    strbuf_init(&c->warnings);
    c->ocr_languages = strdup(ocr_languages && *ocr_languages ? ocr_languages : "eng");
    if (!c->ocr_languages) {
        cs_captioner_free(c);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    cs_error why;
    char *problem = NULL;
    bool broken = false;
    cs_status rc = tagging_open(&c->tagger, &problem, &broken, err);
    if (rc == CS_OK && broken)
        rc = cs_error_set(err, CS_ERR_CORRUPT, "%s", problem);   /* the user asked for it */
    else if (problem)
        add_warning(c, problem);
    free(problem);
    bool related = rc == CS_OK && lexicon_open(&why) == CS_OK;
    if (rc == CS_OK && !related)
        add_warning(c, why.message);
    bool ocr = false;
    if (rc == CS_OK && strcmp(c->ocr_languages, "none") != 0) {
        cs_status checked = ocr_check_languages(c->ocr_languages, &why);
        ocr = checked == CS_OK;
        if (checked == CS_ERR_INVALID || (checked == CS_ERR_NOT_FOUND && ocr_languages &&
                                          *ocr_languages))
            rc = cs_error_set(err, checked, "%s", why.message);
        else if (!ocr)
            add_warning(c, why.message);
    }
    if (rc == CS_OK && strbuf_failed(&c->warnings))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc != CS_OK) {
        cs_captioner_free(c);
        return rc;
    }
    c->ctx = (analyze_context){
        .known_hashes = &c->no_hashes,
        .max_file_bytes = INDEX_DEFAULT_MAX_FILE_BYTES,
        .max_pixels = INDEX_DEFAULT_MAX_PIXELS,
        .related = related,
        .ocr = ocr,
        .ocr_languages = c->ocr_languages,
        .tagger = c->tagger,
    };
    c->worker.ctx = &c->ctx;
    *out = c;
    return CS_OK;
}

void cs_captioner_free(cs_captioner *c)
{
    if (!c)
        return;
    analyze_worker_free(&c->worker);
    tagger_free(c->tagger);
    strmap_free(&c->no_hashes);
    strbuf_free(&c->warnings);
    free(c->ocr_languages);
    free(c);
}

const char *cs_captioner_models(const cs_captioner *c)
{
    return c->tagger ? tagger_describe(c->tagger) : "";
}

const char *cs_captioner_warnings(const cs_captioner *c)
{
    return strbuf_str(&c->warnings);
}

void cs_caption_free(cs_caption *c)
{
    if (!c)
        return;
    free(c->caption);
    free(c->ocr_text);
    free(c->related);
    free(c->tags);
    free(c->objects);
    free(c->faces);
    free(c);
}

static char *take(char **s)
{
    char *v = *s ? *s : strdup("");
    *s = NULL;
    return v;
}

/* Copies the analysis into the public shape. */
static cs_status fill(index_result *r, cs_caption *out, cs_error *err)
{
    out->width = r->width;
    out->height = r->height;
    out->caption = take(&r->caption.caption);
    out->ocr_text = take(&r->ocr_text);
    out->related = take(&r->related);
    int nobjects = r->found ? r->found->nobjects : 0, nfaces = r->found ? r->found->nfaces : 0;
    out->tags = calloc((size_t)r->caption.ntags + 1, sizeof *out->tags);
    out->objects = calloc((size_t)nobjects + 1, sizeof *out->objects);
    out->faces = calloc((size_t)nfaces + 1, sizeof *out->faces);
    if (!out->caption || !out->ocr_text || !out->related || !out->tags || !out->objects ||
        !out->faces)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < r->caption.ntags; i++) {
        cs_caption_tag *t = &out->tags[out->ntags++];
        snprintf(t->name, sizeof t->name, "%s", r->caption.tags[i].name);
        snprintf(t->kind, sizeof t->kind, "%s", r->caption.tags[i].kind);
        t->score = r->caption.tags[i].score;
    }
    for (int i = 0; i < nobjects; i++) {
        const tagger_object *o = &r->found->objects[i];
        cs_caption_object *d = &out->objects[out->nobjects++];
        snprintf(d->label, sizeof d->label, "%s", o->label);
        d->score = o->score;
        memcpy(d->box, o->box, sizeof d->box);
    }
    for (int i = 0; i < nfaces; i++) {
        const tagger_face *f = &r->found->faces[i];
        cs_caption_face *d = &out->faces[out->nfaces++];
        d->score = f->score;
        memcpy(d->box, f->box, sizeof d->box);
        snprintf(d->expression, sizeof d->expression, "%s", f->expression ? f->expression : "");
        d->expression_score = f->expression ? f->expression_score : 0.0f;
    }
    return CS_OK;
}

cs_status cs_caption_file(cs_captioner *c, const char *path, cs_caption **out, cs_error *err)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0)
        return cs_error_errno(err, errno, "cannot read", path);
    if (!S_ISREG(st.st_mode))
        return cs_error_set(err, CS_ERR_INVALID, "'%s' is not a file", path);
    char *folder = strdup(path);
    if (!folder)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    char *slash = strrchr(folder, '/');
    if (slash)
        *slash = '\0';
    /* Its own folder stands for the indexed one: its name counts as a path word. */
    index_job job = {(char *)path, slash ? folder : "", (int64_t)st.st_size, 0, 0};
    index_result r;
    cs_status rc = analyze_file(&job, &c->worker, false, &r, err);
    if (rc == CS_OK && r.kind == RESULT_FAILED)
        rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: %s", path, r.error);
    cs_caption *caption = NULL;
    if (rc == CS_OK && !(caption = calloc(1, sizeof *caption)))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc == CS_OK)
        rc = fill(&r, caption, err);
    index_result_free(&r);
    free(folder);
    if (rc != CS_OK) {
        cs_caption_free(caption);
        return rc;
    }
    *out = caption;
    return CS_OK;
}
