/* cs_caption_file: one file through the indexer's own analysis, so that
 * `capsearch caption` shows exactly what indexing stores. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caption/lexicon.h"
#include "common/fsutil.h"
#include "common/strbuf.h"
#include "indexer/indexer_internal.h"
#include "indexer/zeroshot_model.h"
#include "library/clip_model.h"

struct cs_captioner {
    strmap no_hashes;             /* nothing to reuse: every file is analysed */
    analyze_context ctx;
    analyze_worker worker;
    tagger *tagger;
    char *ocr_languages;
    strbuf warnings;
    cs_clip_model *clip;          /* zero-shot captions (cs_captioner_use_clip) */
    zs_model zs;
    bool zs_ready;
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
    if (c->zs_ready)
        zs_model_free(&c->zs);
    cs_clip_close(c->clip);
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
    free(c->zeroshot);
    for (size_t i = 0; i < c->ncandidates; i++) {
        free(c->candidates[i].sentence);
        free(c->candidates[i].prompt);
    }
    free(c->candidates);
    free(c->concepts);
    free(c);
}

/* The library's catalog when there is one (NULL otherwise): it caches the
 * concept embeddings. */
static cs_status open_cache(const char *library_dir, catalog **out, cs_error *err)
{
    *out = NULL;
    if (!library_dir)
        return CS_OK;
    char *path = fs_path_join(library_dir, LIBRARY_CATALOG_FILE);
    if (!path)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    struct stat st;
    cs_status rc = stat(path, &st) == 0 ? catalog_open(path, false, out, err) : CS_OK;
    free(path);
    return rc;
}

cs_status cs_captioner_use_clip(cs_captioner *c, const char *model_dir, const char *library_dir,
                                cs_error *err)
{
    if (c->zs_ready || c->clip)
        return cs_error_set(err, CS_ERR_INVALID, "the captioner already has a CLIP model");
    char id[CLIP_ID_MAX];
    cs_status rc = clip_model_id(model_dir, id, sizeof id, err);
    if (rc == CS_OK)
        rc = cs_clip_open(model_dir, &c->clip, err);
    if (rc != CS_OK)
        return cs_error_prefix(err, "the CLIP model in '%s' cannot be loaded: ", model_dir);
    catalog *cat = NULL;
    rc = open_cache(library_dir, &cat, err);
    if (rc == CS_OK)
        rc = zs_model_load(&c->zs, cat, c->clip, id, NULL, NULL, NULL, err);
    catalog_close(cat);
    if (rc != CS_OK) {
        cs_clip_close(c->clip);
        c->clip = NULL;
        return cs_error_prefix(err, "zero-shot captions: ");
    }
    c->zs_ready = true;
    return CS_OK;
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

/* The picture's zero-shot caption, merged as the indexer merges it: the
 * sentence in front of the caption, the concepts as tags. */
static cs_status add_zeroshot(cs_captioner *c, const char *path, cs_caption *out, cs_error *err)
{
    zs_model *m = &c->zs;
    size_t side = (size_t)cs_clip_image_size(c->clip);
    float *pixels = malloc(3 * side * side * sizeof *pixels);
    float *image = malloc((size_t)m->dim * sizeof *image);
    float *probs = malloc(m->vocab.n * sizeof *probs);
    zs_caption z;
    cs_status rc = pixels && image && probs ? CS_OK
                                            : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    /* decoded as indexing decodes it, so the caption is the one it stores */
    if (rc == CS_OK)
        rc = cs_clip_preprocess_image_draft(c->clip, path, pixels, err);
    if (rc == CS_OK)
        rc = cs_clip_embed_pixels(c->clip, pixels, 1, image, err);
    if (rc == CS_OK)
        rc = zs_model_caption(m, c->clip, image, 1, &z, probs, err);
    free(pixels);
    free(image);
    free(probs);
    if (rc != CS_OK)
        return rc;
    const char *sentence = zs_sentence(&z);
    strbuf merged;
    strbuf_init(&merged);
    strbuf_append(&merged, sentence);
    if (sentence[0] && out->caption[0])
        strbuf_append_char(&merged, ' ');
    strbuf_append(&merged, out->caption);
    out->zeroshot = strdup(sentence);
    out->candidates = calloc((size_t)z.ncandidates + 1, sizeof *out->candidates);
    out->concepts = calloc((size_t)z.ntop + 1, sizeof *out->concepts);
    cs_caption_tag *tags = realloc(out->tags, (out->ntags + (size_t)z.npicks + 1) * sizeof *tags);
    if (tags)
        out->tags = tags;
    if (strbuf_failed(&merged) || !out->zeroshot || !out->candidates || !out->concepts || !tags) {
        strbuf_free(&merged);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    free(out->caption);
    out->caption = strbuf_take(&merged);
    for (int i = 0; i < z.ncandidates; i++) {
        cs_caption_candidate *d = &out->candidates[out->ncandidates++];
        d->sentence = strdup(z.candidates[i].sentence);
        d->prompt = strdup(z.candidates[i].prompt);
        d->score = z.candidates[i].score;
        if (!d->sentence || !d->prompt)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < z.ntop; i++) {
        const concept *k = &m->vocab.items[z.top[i].concept];
        cs_caption_tag *t = &out->concepts[out->nconcepts++];
        snprintf(t->name, sizeof t->name, "%s", k->word);
        snprintf(t->kind, sizeof t->kind, "%s", concept_kind_name(k->group->kind));
        t->score = z.top[i].prob;
    }
    for (int i = 0; i < z.npicks; i++) {
        cs_caption_tag *t = &out->tags[out->ntags++];
        snprintf(t->name, sizeof t->name, "%s", m->vocab.items[z.picks[i].concept].word);
        snprintf(t->kind, sizeof t->kind, "concept");
        t->score = z.picks[i].prob;
    }
    return CS_OK;
}

/* The related words with the zero-shot concepts, as the CLIP stage of an
 * index run makes them: the object tags, the concepts, the path words. */
static cs_status add_concepts_related(const cs_caption *caption, const char *path_words,
                                      char **related, cs_error *err)
{
    *related = NULL;
    strbuf objects;
    strbuf_init(&objects);
    const char **concepts = malloc((caption->ntags + 1) * sizeof *concepts);
    size_t nconcepts = 0;
    for (size_t i = 0; concepts && i < caption->ntags; i++) {
        const cs_caption_tag *t = &caption->tags[i];
        if (strcmp(t->kind, "concept") == 0) {
            concepts[nconcepts++] = t->name;
            continue;
        }
        for (size_t k = 0; k < analyze_object_nkinds; k++)
            if (strcmp(t->kind, analyze_object_kinds[k]) == 0) {
                if (objects.len)
                    strbuf_append_char(&objects, '\n');
                strbuf_append(&objects, t->name);
            }
    }
    cs_status rc = !concepts || strbuf_failed(&objects)
                       ? cs_error_set(err, CS_ERR_NOMEM, "out of memory")
                       : analyze_related_concepts(path_words, strbuf_str(&objects), concepts,
                                                  nconcepts, related, err);
    free(concepts);
    strbuf_free(&objects);
    return rc;
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
    if (rc == CS_OK && c->zs_ready)
        rc = add_zeroshot(c, path, caption, err);
    else if (rc == CS_OK && !(caption->zeroshot = strdup("")))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    char *related = NULL;
    if (rc == CS_OK && c->zs_ready && c->ctx.related)
        rc = add_concepts_related(caption, r.path_words, &related, err);
    if (related) {
        free(caption->related);
        caption->related = related;
    }
    index_result_free(&r);
    free(folder);
    if (rc != CS_OK) {
        cs_caption_free(caption);
        return rc;
    }
    *out = caption;
    return CS_OK;
}
