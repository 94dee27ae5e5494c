/* Which concepts name the same thing at two levels of WordNet ("dog" and
 * "puppy", "person" and "woman"): each concept keeps the set of its
 * synset's hypernyms, read once when the vocabulary is built. */
#include "caption/concept_lineage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/strmap.h"

static int compare_longs(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Sorts list[0..n) and drops repeats; returns the new count. */
static size_t sort_unique(long *list, size_t n)
{
    if (n == 0)
        return 0;
    qsort(list, n, sizeof *list, compare_longs);
    size_t kept = 1;
    for (size_t i = 1; i < n; i++)
        if (list[i] != list[kept - 1])
            list[kept++] = list[i];
    return kept;
}

bool concepts_set_lineage(concept_vocab *v, size_t i, long synset, const long *hypernyms,
                          size_t n)
{
    if (i >= v->n)
        return false;
    size_t at = v->nlineage;
    for (size_t k = 0; k < n; k++) {
        if (!ARRAY_RESERVE(v->lineage, v->caplineage, v->nlineage))
            return false;
        v->lineage[v->nlineage++] = hypernyms[k];
    }
    concept *c = &v->items[i];
    c->synset = synset;
    c->lineage_at = at;
    c->lineage_n = sort_unique(v->lineage + at, n);
    v->nlineage = at + c->lineage_n;
    return true;
}

/* Whether `synset` is among the hypernyms of concept c. */
static bool has_hypernym(const concept_vocab *v, const concept *c, long synset)
{
    return synset >= 0 && c->lineage_n &&
           bsearch(&synset, v->lineage + c->lineage_at, c->lineage_n, sizeof synset,
                   compare_longs);
}

bool concepts_related(const concept_vocab *v, size_t a, size_t b)
{
    if (a >= v->n || b >= v->n)
        return false;
    const concept *x = &v->items[a], *y = &v->items[b];
    if (x->synset >= 0 && x->synset == y->synset)
        return true;
    return has_hypernym(v, x, y->synset) || has_hypernym(v, y, x->synset);
}

#if CAPSEARCH_HAVE_WORDNET

#include <wn.h>

/* WordNet's noun hierarchy is at most about 20 levels deep. */
#define MAX_LEVELS 32

/* Each synset's hypernyms, computed once: a vocabulary's concepts share
 * most of theirs ("animal", "organism", "entity"). */
typedef struct memo {
    strmap index;             /* offset -> record */
    size_t *at, *n;           /* records: a range of pool */
    size_t nrecords, caprecords, capn;
    long *pool;
    size_t npool, cappool;
} memo;

static bool memo_append(memo *m, long offset)
{
    if (!ARRAY_RESERVE(m->pool, m->cappool, m->npool))
        return false;
    m->pool[m->npool++] = offset;
    return true;
}

/* The hypernyms of `offset` (transitively) into m->pool[*at, *at + *n). */
static cs_status hypernyms_of(memo *m, long offset, int level, size_t *at, size_t *n)
{
    char key[24];
    snprintf(key, sizeof key, "%ld", offset);
    int64_t *record = NULL;
    if (strmap_get(&m->index, key, &record)) {
        *at = m->at[*record];
        *n = m->n[*record];
        return CS_OK;
    }
    *at = 0;
    *n = 0;
    if (level >= MAX_LEVELS)
        return CS_OK;
    SynsetPtr ss = read_synset(NOUN, offset, "");
    if (!ss)
        return CS_OK;
    long parents[64];
    int nparents = 0;
    for (int i = 0; i < ss->ptrcount && nparents < 64; i++)
        if (ss->ptrtyp[i] == HYPERPTR && ss->ppos[i] == NOUN)
            parents[nparents++] = ss->ptroff[i];
    free_synset(ss);
    /* The parents' lists first (they may grow the pool), then this one's
     * at the pool's end: the parents and their hypernyms. */
    cs_status rc = CS_OK;
    size_t pat[64], pn[64];
    for (int i = 0; rc == CS_OK && i < nparents; i++)
        rc = hypernyms_of(m, parents[i], level + 1, &pat[i], &pn[i]);
    size_t start = m->npool;
    for (int i = 0; rc == CS_OK && i < nparents; i++) {
        if (!memo_append(m, parents[i]))
            rc = CS_ERR_NOMEM;
        for (size_t k = 0; rc == CS_OK && k < pn[i]; k++)
            if (!memo_append(m, m->pool[pat[i] + k]))
                rc = CS_ERR_NOMEM;
    }
    if (rc != CS_OK)
        return rc;
    size_t count = sort_unique(m->pool + start, m->npool - start);
    m->npool = start + count;
    if (!ARRAY_RESERVE(m->at, m->caprecords, m->nrecords) ||
        !ARRAY_RESERVE(m->n, m->capn, m->nrecords) ||
        !strmap_put(&m->index, key, (int64_t)m->nrecords))
        return CS_ERR_NOMEM;
    m->at[m->nrecords] = start;
    m->n[m->nrecords++] = count;
    *at = start;
    *n = count;
    return CS_OK;
}

/* A literal row's synset: its word's first noun sense, -1 when none. */
static long first_sense(const char *word)
{
    char buf[CONCEPT_WORD_MAX];
    snprintf(buf, sizeof buf, "%s", word);
    for (char *c = buf; *c; c++)
        if (*c == ' ')
            *c = '_';
    IndexPtr ix = index_lookup(buf, NOUN);
    if (!ix)
        return -1;
    long offset = ix->off_cnt > 0 ? (long)ix->offset[0] : -1;
    free_index(ix);
    return offset;
}

cs_status concepts_fill_lineage(concept_vocab *v)
{
    memo m = {0};
    strmap_init(&m.index);
    cs_status rc = CS_OK;
    for (size_t i = 0; rc == CS_OK && i < v->n; i++) {
        long synset = v->items[i].synset >= 0 ? v->items[i].synset
                                              : first_sense(v->items[i].word);
        if (synset < 0)
            continue;
        size_t at = 0, n = 0;
        rc = hypernyms_of(&m, synset, 0, &at, &n);
        if (rc == CS_OK && !concepts_set_lineage(v, i, synset, m.pool + at, n))
            rc = CS_ERR_NOMEM;
    }
    strmap_free(&m.index);
    free(m.at);
    free(m.n);
    free(m.pool);
    return rc;
}

#endif
