/* Related words for images catalogued without them: a catalog upgraded
 * from schema version 2 (the column is new, every row holds ''), images
 * indexed while WordNet was missing, or a new revision (the lexicon's
 * rules or what feeds it changed). Recomputed from what the catalog keeps
 * (path words, object and concept tags), so no file is read again. Runs at
 * the end of an index run, in batches, and records the revision when done;
 * an interrupted run starts over next time, and images already right cost
 * no write. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption/lexicon.h"
#include "indexer/indexer_internal.h"

#define BACKFILL_BATCH 256
/* What feeds the related words, beside the lexicon's own rules: 2 = the
 * zero-shot concepts too. */
#define RELATED_SOURCES "2"

typedef struct backfill {
    catalog *cat;
    int64_t last;
    size_t count;
} backfill;

static cs_status update_one(int64_t id, const char *path_words, const char *tags, void *user,
                            cs_error *err)
{
    backfill *b = user;
    char *related = NULL;
    cs_status rc = analyze_related(path_words, tags, &related, err);
    if (rc == CS_OK)
        rc = catalog_set_related(b->cat, id, related, err);
    free(related);
    b->last = id;
    b->count++;
    return rc;
}

static cs_status set_revision(catalog *cat, const char *revision, cs_error *err)
{
    cs_status rc = catalog_begin(cat, err);
    if (rc == CS_OK)
        rc = catalog_meta_set(cat, INDEX_RELATED_META, revision, err);
    if (rc == CS_OK)
        return catalog_commit(cat, err);
    catalog_rollback(cat);
    return rc;
}

/* The revision the catalog's related words are recorded at: the lexicon's
 * and RELATED_SOURCES; false without WordNet. */
static bool related_revision(char *out, size_t size)
{
    const char *lexicon = lexicon_revision();
    return lexicon && snprintf(out, size, "%s, sources %s", lexicon, RELATED_SOURCES) <
                          (int)size;
}

cs_status index_related_current(cs_library *lib, cs_error *err)
{
    char revision[128];
    return related_revision(revision, sizeof revision) ? set_revision(lib->cat, revision, err)
                                                       : CS_OK;
}

cs_status index_backfill_related(cs_library *lib, const cs_index_options *options,
                                 cs_error *err)
{
    char revision[128];
    if (!related_revision(revision, sizeof revision))
        return CS_OK;
    catalog *cat = lib->cat;
    char *done = NULL;
    cs_status rc = catalog_meta_get(cat, INDEX_RELATED_META, &done, err);
    bool current = done && strcmp(done, revision) == 0;
    free(done);
    if (rc != CS_OK || current)
        return rc;
    backfill b = {.cat = cat};
    for (;;) {
        if (options->cancel && *options->cancel)
            return CS_OK;   /* the revision stays unrecorded: next run resumes */
        int64_t after = b.last;
        b.count = 0;
        rc = catalog_begin(cat, err);
        if (rc == CS_OK)
            rc = catalog_each_words(cat, after, BACKFILL_BATCH, analyze_related_kinds,
                                    analyze_related_nkinds, update_one, &b, err);
        if (rc == CS_OK)
            rc = catalog_commit(cat, err);
        else
            catalog_rollback(cat);
        if (rc != CS_OK)
            return cs_error_prefix(err, "filling in related words: ");
        if (b.count < BACKFILL_BATCH)
            break;
    }
    return set_revision(cat, revision, err);
}
