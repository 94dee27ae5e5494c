/* Related words for images catalogued without them: a catalog upgraded
 * from schema version 2 (the column is new, every row holds ''), images
 * indexed while WordNet was missing, or a new lexicon revision (its rules
 * changed). Recomputed from what the catalog keeps (path words and object
 * tags), so no file is read again. Runs at the end of an index run, in
 * batches, and records the revision when done; an interrupted run starts
 * over next time, and images already right cost no write. */
#include <stdlib.h>
#include <string.h>

#include "caption/lexicon.h"
#include "indexer/indexer_internal.h"

#define BACKFILL_BATCH 256

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

cs_status index_related_current(cs_library *lib, cs_error *err)
{
    const char *revision = lexicon_revision();
    return revision ? set_revision(lib->cat, revision, err) : CS_OK;
}

cs_status index_backfill_related(cs_library *lib, const cs_index_options *options,
                                 cs_error *err)
{
    const char *revision = lexicon_revision();
    if (!revision)
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
            rc = catalog_each_words(cat, after, BACKFILL_BATCH, analyze_object_kinds,
                                    analyze_object_nkinds, update_one, &b, err);
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
