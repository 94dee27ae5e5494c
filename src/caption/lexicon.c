/* WordNet through libWN (rules and sense choice in lexicon.h).
 *
 * libWN reads its files through global FILE pointers and returns words in
 * static buffers, so one mutex guards every call into it. Synsets are copied
 * into a small in-memory table on first use (words, hypernym offsets, and
 * memoised "is a physical thing" / "is a label concept" flags), and each
 * word's result is cached, so libWN is asked about a synset or a word once
 * per process. Measured on this machine (files in the page cache): opening
 * WordNet 0.2-0.3 ms; a word never seen before 0.3-3 ms, 0.4 ms on average
 * for 30 common nouns (an index lookup and 10-20 synset reads); a known
 * word ~1 us. A lookup that runs out of memory deep inside counts as "not
 * found": the words are an enrichment, never a reason to fail. */
#include "caption/lexicon.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/strmap.h"

/* Longest word handed to libWN; its buffers are 256 bytes (WORDBUF) and no
 * WordNet noun is longer than this. */
#define WORD_MAX 64
/* Index time: how high a sense's hypernyms are followed (WordNet's noun
 * hierarchy is at most ~19 deep; the stop list ends it well before). */
#define CLIMB_MAX_DEPTH 18
/* Query time: how far up a searched word may climb to reach a label
 * concept (hound -> hunting dog -> dog is 2; siamese cat -> domestic cat ->
 * cat is 2; labrador retriever -> retriever -> sporting dog -> dog is 3). */
#define QUERY_MAX_DEPTH 4
/* Senses looked at for a word that is not a label (index time) and for a
 * searched word. */
#define INDEX_SENSES 3
#define QUERY_SENSES 8
/* Words remembered per process; past this, words are looked up every time
 * (a library with this many distinct file-name words is rare). */
#define WORD_CACHE_MAX 200000
/* Bytes of related text per picture. */
#define RELATED_MAX_BYTES 4096
/* Bump when the sense rules, labels or stop list change: catalogs then
 * recompute their related words on the next index run. */
#define LEXICON_RULES "1"

#if CAPSEARCH_HAVE_WORDNET

#include <wn.h>

/* Debian's libWN is built to look here when neither $WNSEARCHDIR nor
 * $WNHOME is set (upstream's DEFAULTPATH in wn.h is not what it uses). */
#define WORDNET_DEFAULT_DIR "/usr/share/wordnet"

/* ---------- label concepts ---------- */

/* The detector's labels (COCO) and a few scene nouns, each with the WordNet
 * lemma that names it and, where its first sense is not the one a photo
 * shows, a word its sense must be a kind of. */
typedef struct label_sense {
    const char *label;
    const char *lemma;     /* WordNet spelling, spaces for underscores */
    const char *kind_of;   /* NULL: the first sense */
} label_sense;

static const label_sense label_senses[] = {
    {"person", "person", NULL}, {"bicycle", "bicycle", NULL}, {"car", "car", NULL},
    {"motorcycle", "motorcycle", NULL}, {"airplane", "airplane", NULL}, {"bus", "bus", NULL},
    {"train", "train", NULL}, {"truck", "truck", NULL}, {"boat", "boat", NULL},
    {"traffic light", "traffic light", NULL}, {"fire hydrant", "fire hydrant", NULL},
    {"stop sign", "street sign", NULL}, {"parking meter", "parking meter", NULL},
    {"bench", "bench", NULL}, {"bird", "bird", NULL}, {"cat", "cat", NULL},
    {"dog", "dog", NULL}, {"horse", "horse", NULL}, {"sheep", "sheep", NULL},
    {"cow", "cow", NULL}, {"elephant", "elephant", NULL}, {"bear", "bear", NULL},
    {"zebra", "zebra", NULL}, {"giraffe", "giraffe", NULL}, {"backpack", "backpack", NULL},
    {"umbrella", "umbrella", NULL}, {"handbag", "handbag", NULL}, {"tie", "necktie", NULL},
    {"suitcase", "suitcase", NULL}, {"frisbee", "frisbee", NULL}, {"skis", "ski", NULL},
    {"snowboard", "snowboard", NULL}, {"sports ball", "ball", "game equipment"},
    {"kite", "kite", "plaything"}, {"baseball bat", "baseball bat", NULL},
    {"baseball glove", "baseball glove", NULL}, {"skateboard", "skateboard", NULL},
    {"surfboard", "surfboard", NULL}, {"tennis racket", "tennis racket", NULL},
    {"bottle", "bottle", NULL}, {"wine glass", "wineglass", NULL}, {"cup", "cup", NULL},
    {"fork", "fork", NULL}, {"knife", "knife", NULL}, {"spoon", "spoon", NULL},
    {"bowl", "bowl", NULL}, {"banana", "banana", "edible fruit"}, {"apple", "apple", NULL},
    {"sandwich", "sandwich", NULL}, {"orange", "orange", NULL},
    {"broccoli", "broccoli", "vegetable"}, {"carrot", "carrot", "vegetable"},
    {"hot dog", "hot dog", "sandwich"}, {"pizza", "pizza", NULL}, {"donut", "donut", NULL},
    {"cake", "cake", "baked goods"}, {"chair", "chair", NULL}, {"couch", "couch", NULL},
    {"potted plant", "pot plant", NULL}, {"bed", "bed", NULL},
    {"dining table", "dining table", NULL}, {"toilet", "toilet", "plumbing fixture"},
    {"tv", "tv", "receiver"}, {"laptop", "laptop", NULL}, {"mouse", "mouse", "electronic device"},
    {"remote", "remote", NULL}, {"keyboard", "keyboard", NULL},
    {"cell phone", "cellular telephone", NULL}, {"microwave", "microwave", "kitchen appliance"},
    {"oven", "oven", NULL}, {"toaster", "toaster", "kitchen appliance"}, {"sink", "sink", NULL},
    {"refrigerator", "refrigerator", NULL}, {"book", "book", "volume"},
    {"clock", "clock", NULL}, {"vase", "vase", NULL}, {"scissors", "scissors", NULL},
    {"teddy bear", "teddy bear", NULL}, {"hair drier", "hair drier", NULL},
    {"toothbrush", "toothbrush", NULL},
    /* scene nouns a searched word may generalise to (oak -> tree) */
    {"tree", "tree", NULL}, {"flower", "flower", "angiosperm"}, {"building", "building", NULL},
    {"house", "house", NULL}, {"church", "church", "place of worship"},
    {"castle", "castle", "fortification"}, {"bridge", "bridge", NULL}, {"tower", "tower", NULL},
    {"beach", "beach", NULL}, {"mountain", "mountain", NULL}, {"hill", "hill", NULL},
    {"lake", "lake", NULL}, {"river", "river", NULL}, {"sea", "sea", NULL},
    {"waterfall", "waterfall", NULL}, {"road", "road", NULL}, {"street", "street", NULL},
    {"forest", "forest", NULL}, {"garden", "garden", NULL}, {"fish", "fish", NULL},
    {"insect", "insect", NULL}, {"ship", "ship", NULL}, {"statue", "statue", NULL},
    {"painting", "painting", "graphic art"},
};
#define NLABELS (sizeof label_senses / sizeof label_senses[0])

/* Synsets too general to say anything about a picture: climbing stops
 * below them (by their first word). */
static const char *const stop_heads[] = {
    "entity", "physical entity", "abstraction", "object", "whole", "artifact",
    "instrumentality", "living thing", "organism", "matter", "substance", "part",
    "thing", "causal agent", "psychological feature", "attribute", "relation",
    "communication", "measure", "group", "set", "unit", "physical object",
};

/* ---------- the synset table ---------- */

typedef struct wn_node {
    long offset;
    char *words;           /* "dog, domestic dog, Canis familiaris" */
    size_t head_len;       /* bytes of the first word */
    long *hypers;
    int nhypers;
    signed char physical;  /* -1 not known yet */
    signed char target;    /* -1 not known yet: is it a label concept */
    bool stop;
    bool named;            /* an instance (Chelsea, Lucille Ball): a name */
} wn_node;

typedef struct word_list {
    char **items;
    bool *same;            /* query alternatives: same_weight */
    size_t n;
} word_list;

typedef struct offsets {
    long *items;
    size_t n;
} offsets;

static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    cs_status status;
    char message[2048];
    char dir[1024];
    char revision[64];
    long physical_entity;
    long label_offsets[NLABELS];   /* 0 = not resolved yet, -1 = none */
    wn_node *nodes;
    size_t nnodes, capnodes;
    strmap node_index;             /* "%ld" offset -> index in nodes */
    offsets *related;              /* per word: sense + hypernyms */
    size_t nrelated, caprelated;
    strmap related_index;
    word_list *expanded;           /* per searched word: alternatives */
    size_t nexpanded, capexpanded;
    strmap expanded_index;
} wn = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

static char open_problem[512];

static size_t senses_of(const char *spelling, long *out, int *tagged, size_t max);

/* libWN reports through this hook; keep its words for our message. */
static int capture_message(char *msg)
{
    if (msg && !open_problem[0]) {
        snprintf(open_problem, sizeof open_problem, "%s", msg);
        size_t n = strlen(open_problem);
        while (n && (open_problem[n - 1] == '\n' || open_problem[n - 1] == ' '))
            open_problem[--n] = '\0';
    }
    return -1;
}

static void find_dir(void)
{
    const char *search = getenv("WNSEARCHDIR");
    const char *home = getenv("WNHOME");
    if (search && *search)
        snprintf(wn.dir, sizeof wn.dir, "%s", search);
    else if (home && *home)
        snprintf(wn.dir, sizeof wn.dir, "%s/dict", home);
    else
        snprintf(wn.dir, sizeof wn.dir, "%s", WORDNET_DEFAULT_DIR);
}

static void open_once(void)
{
    find_dir();
    snprintf(wn.revision, sizeof wn.revision, "wordnet %s, lexicon %s",
             wnrelease ? wnrelease : "?", LEXICON_RULES);
    strmap_init(&wn.node_index);
    strmap_init(&wn.related_index);
    strmap_init(&wn.expanded_index);
    display_message = capture_message;
    if (wninit() != 0) {
        wn.status = CS_ERR_NOT_FOUND;
        snprintf(wn.message, sizeof wn.message,
                 "WordNet's files are missing in %s (%s): searches will not find pictures "
                 "by related words (\"animal\" for a dog); install Debian's wordnet-base, "
                 "or set WNSEARCHDIR to the folder holding index.noun and data.noun",
                 wn.dir, open_problem[0] ? open_problem : "cannot open them");
        return;
    }
    long physical = 0;
    wn.physical_entity = senses_of("physical_entity", &physical, NULL, 1) ? physical : -1;
    wn.status = CS_OK;
}

cs_status lexicon_open(cs_error *err)
{
    pthread_once(&wn.once, open_once);
    if (wn.status != CS_OK)
        return cs_error_set(err, wn.status, "%s", wn.message);
    return CS_OK;
}

bool lexicon_available(void)
{
    pthread_once(&wn.once, open_once);
    return wn.status == CS_OK;
}

const char *lexicon_version(void) { return wnrelease; }

void lexicon_lock(void) { pthread_mutex_lock(&wn.mu); }
void lexicon_unlock(void) { pthread_mutex_unlock(&wn.mu); }

const char *lexicon_revision(void)
{
    pthread_once(&wn.once, open_once);
    return wn.revision;
}

const char *lexicon_data_dir(void)
{
    pthread_once(&wn.once, open_once);
    return wn.dir;
}

/* ---------- words ---------- */

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* A word as libWN's index spells it: lower case, spaces as underscores.
 * False for what WordNet cannot hold (too long, non-ASCII, control
 * characters, digits only), so libWN never sees odd input. */
static bool wn_spelling(const char *word, size_t len, char out[WORD_MAX + 1])
{
    if (len == 0 || len > WORD_MAX)
        return false;
    bool letter = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)word[i];
        if (c >= 0x80 || c < 0x20 || c == 0x7f)
            return false;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            letter = true;
        else if (!(c >= '0' && c <= '9') && c != ' ' && c != '-' && c != '\'' && c != '.')
            return false;
        out[i] = c == ' ' ? '_' : ascii_lower((char)c);
    }
    out[len] = '\0';
    return letter;
}

static bool same_ci_spaced(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++) {
        char x = a[i] == '_' ? ' ' : ascii_lower(a[i]);
        char y = b[i] == '_' ? ' ' : ascii_lower(b[i]);
        if (x != y)
            return false;
    }
    return true;
}

/* Whether `word` is one of the node's words (case, and '_' for ' ', aside). */
static bool node_has_word(const wn_node *node, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = node->words; *p;) {
        const char *end = strstr(p, ", ");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (same_ci_spaced(p, n, word) && n == wl)
            return true;
        p += n;
        if (*p)
            p += 2;
    }
    return false;
}

/* ---------- reading synsets (mutex held) ---------- */

static bool is_stop_head(const char *words, size_t head_len)
{
    for (size_t i = 0; i < sizeof stop_heads / sizeof stop_heads[0]; i++)
        if (strlen(stop_heads[i]) == head_len && strncmp(words, stop_heads[i], head_len) == 0)
            return true;
    return false;
}

/* The node for a synset offset, read through libWN the first time; -1 when
 * it cannot be read, -2 on allocation failure. */
static long node_get(long offset)
{
    char key[24];
    snprintf(key, sizeof key, "%ld", offset);
    int64_t *found = NULL;
    if (strmap_get(&wn.node_index, key, &found))
        return (long)*found;
    char none[1] = "";
    SynsetPtr ss = read_synset(NOUN, offset, none);
    if (!ss)
        return -1;
    wn_node node = {.offset = offset, .physical = -1, .target = -1};
    size_t bytes = 1;
    for (int i = 0; i < ss->wcount; i++)
        bytes += strlen(ss->words[i]) + 2;
    node.words = malloc(bytes);
    int nh = 0;
    for (int i = 0; i < ss->ptrcount; i++)
        if ((ss->ptrtyp[i] == HYPERPTR || ss->ptrtyp[i] == INSTANCE) && ss->ppos[i] == NOUN)
            nh++;
    node.hypers = malloc((size_t)(nh ? nh : 1) * sizeof *node.hypers);
    if (!node.words || !node.hypers || !ARRAY_RESERVE(wn.nodes, wn.capnodes, wn.nnodes)) {
        free(node.words);
        free(node.hypers);
        free_synset(ss);
        return -2;
    }
    size_t len = 0;
    for (int i = 0; i < ss->wcount; i++) {
        if (i) {
            memcpy(node.words + len, ", ", 2);
            len += 2;
        }
        for (const char *c = ss->words[i]; *c; c++)
            node.words[len++] = *c == '_' ? ' ' : *c;
        if (i == 0)
            node.head_len = len;
    }
    node.words[len] = '\0';
    bool kind = false;
    for (int i = 0; i < ss->ptrcount; i++) {
        if ((ss->ptrtyp[i] == HYPERPTR || ss->ptrtyp[i] == INSTANCE) && ss->ppos[i] == NOUN)
            node.hypers[node.nhypers++] = ss->ptroff[i];
        kind = kind || ss->ptrtyp[i] == HYPERPTR;
    }
    node.named = node.nhypers > 0 && !kind;
    free_synset(ss);
    char head[WORD_MAX * 2];
    snprintf(head, sizeof head, "%.*s", (int)node.head_len, node.words);
    for (char *c = head; *c; c++)
        *c = ascii_lower(*c);
    node.stop = is_stop_head(head, strlen(head));
    if (!strmap_put(&wn.node_index, key, (int64_t)wn.nnodes)) {
        free(node.words);
        free(node.hypers);
        return -2;
    }
    wn.nodes[wn.nnodes] = node;
    return (long)wn.nnodes++;
}

/* Offsets of the noun senses of a WordNet spelling, most frequent first,
 * and (when `tagged` is not NULL) how often each was seen in WordNet's
 * sense-tagged texts (0 for most senses of most words). */
static size_t senses_of(const char *spelling, long *out, int *tagged, size_t max)
{
    char buf[WORD_MAX + 1];
    snprintf(buf, sizeof buf, "%s", spelling);
    IndexPtr ix = index_lookup(buf, NOUN);
    if (!ix)
        return 0;
    size_t n = 0;
    for (int i = 0; i < ix->off_cnt && n < max; i++) {
        if (tagged)
            tagged[n] = GetTagcnt(ix, i + 1);
        out[n++] = (long)ix->offset[i];
    }
    free_index(ix);
    return n;
}

/* Is the node (transitively) a kind of physical entity? Memoised. */
static bool node_physical(long idx, int depth)
{
    if (wn.nodes[idx].physical >= 0)
        return wn.nodes[idx].physical;
    bool yes = wn.nodes[idx].offset == wn.physical_entity;
    /* node_get may move the table: index it afresh after each call */
    for (int i = 0; !yes && i < wn.nodes[idx].nhypers && depth < 32; i++) {
        long h = node_get(wn.nodes[idx].hypers[i]);
        if (h >= 0)
            yes = node_physical(h, depth + 1);
    }
    wn.nodes[idx].physical = yes;
    return yes;
}

/* Breadth-first over hypernyms: is some ancestor (or the node) named `word`? */
static bool node_kind_of(long start, const char *word)
{
    long queue[256];
    size_t head = 0, tail = 0;
    queue[tail++] = start;
    while (head < tail) {
        long idx = queue[head++];
        if (node_has_word(&wn.nodes[idx], word))
            return true;
        for (int i = 0; i < wn.nodes[idx].nhypers && tail < 256; i++) {
            long h = node_get(wn.nodes[idx].hypers[i]);
            if (h >= 0)
                queue[tail++] = h;
        }
    }
    return false;
}

static long label_offset(size_t label)
{
    if (wn.label_offsets[label])
        return wn.label_offsets[label];
    const label_sense *ls = &label_senses[label];
    char spelling[WORD_MAX + 1];
    long senses[16];
    size_t n = wn_spelling(ls->lemma, strlen(ls->lemma), spelling)
                   ? senses_of(spelling, senses, NULL, 16) : 0;
    long chosen = -1;
    for (size_t i = 0; i < n && chosen < 0; i++) {
        long idx = node_get(senses[i]);
        if (idx >= 0 && (!ls->kind_of || node_kind_of(idx, ls->kind_of)))
            chosen = senses[i];
    }
    wn.label_offsets[label] = chosen;
    return chosen;
}

/* The label whose name or WordNet lemma is `spelling` (underscored). */
static long find_label(const char *spelling)
{
    size_t n = strlen(spelling);
    for (size_t i = 0; i < NLABELS; i++)
        if (same_ci_spaced(spelling, n, label_senses[i].label) ||
            same_ci_spaced(spelling, n, label_senses[i].lemma))
            return (long)i;
    return -1;
}

/* Is the node the chosen sense of a label? A label is resolved only when
 * one of the node's words names it, so no table is built up front. */
static bool node_is_target(long idx)
{
    if (wn.nodes[idx].target >= 0)
        return wn.nodes[idx].target;
    bool yes = false;
    for (size_t i = 0; !yes && i < NLABELS; i++) {
        if (!node_has_word(&wn.nodes[idx], label_senses[i].lemma))
            continue;
        yes = label_offset(i) == wn.nodes[idx].offset;
    }
    wn.nodes[idx].target = yes;
    return yes;
}

/* The spelling WordNet lists the word under: itself, else its first base
 * form (boats -> boat, mice -> mouse); "" when WordNet has neither. */
static void lemma_of(const char *spelling, char out[WORD_MAX + 1])
{
    out[0] = '\0';
    long first;
    if (senses_of(spelling, &first, NULL, 1)) {
        snprintf(out, WORD_MAX + 1, "%s", spelling);
        return;
    }
    char buf[WORD_MAX + 1];
    snprintf(buf, sizeof buf, "%s", spelling);
    char *base = morphstr(buf, NOUN);
    if (base && strlen(base) <= WORD_MAX)
        snprintf(out, WORD_MAX + 1, "%s", base);
}

/* A sense a picture can show: a physical thing, not a name. */
static bool physical_common_sense(long idx)
{
    return !wn.nodes[idx].named && node_physical(idx, 0);
}

/* The sense a word stands for at index time (see lexicon.h), or -1. */
static long index_sense(const char *spelling)
{
    long label = find_label(spelling);
    if (label >= 0)
        return label_offset((size_t)label);
    char lemma[WORD_MAX + 1];
    lemma_of(spelling, lemma);
    if (!lemma[0])
        return -1;
    label = find_label(lemma);
    if (label >= 0)
        return label_offset((size_t)label);
    long senses[INDEX_SENSES];
    size_t n = senses_of(lemma, senses, NULL, INDEX_SENSES);
    for (size_t i = 0; i < n; i++) {
        long idx = node_get(senses[i]);
        if (idx >= 0 && physical_common_sense(idx))
            return senses[i];
    }
    return -1;
}

/* The sense and its hypernyms below the stop list, breadth first. */
static cs_status climb(long sense, offsets *out)
{
    out->items = NULL;
    out->n = 0;
    if (sense < 0)
        return CS_OK;
    long start = node_get(sense);
    if (start == -2)
        return CS_ERR_NOMEM;
    if (start < 0 || wn.nodes[start].stop)
        return CS_OK;
    long queue[LEXICON_MAX_SYNSETS];
    int depth[LEXICON_MAX_SYNSETS];
    size_t head = 0, tail = 0;
    queue[tail] = start;
    depth[tail++] = 0;
    while (head < tail) {
        long idx = queue[head];
        int d = depth[head++];
        for (int i = 0; i < wn.nodes[idx].nhypers && d < CLIMB_MAX_DEPTH; i++) {
            long h = node_get(wn.nodes[idx].hypers[i]);
            if (h == -2)
                return CS_ERR_NOMEM;
            bool seen = h < 0 || wn.nodes[h].stop;
            for (size_t k = 0; !seen && k < tail; k++)
                seen = queue[k] == h;
            if (!seen && tail < LEXICON_MAX_SYNSETS) {
                queue[tail] = h;
                depth[tail++] = d + 1;
            }
        }
    }
    out->items = malloc(tail * sizeof *out->items);
    if (!out->items)
        return CS_ERR_NOMEM;
    for (size_t i = 0; i < tail; i++)
        out->items[i] = wn.nodes[queue[i]].offset;
    out->n = tail;
    return CS_OK;
}

/* A word's synsets, from the cache or worked out and cached. *list points
 * into the cache, or at `scratch` when the cache is full. */
static cs_status related_of(const char *spelling, offsets *scratch, const offsets **list)
{
    int64_t *found = NULL;
    if (strmap_get(&wn.related_index, spelling, &found)) {
        *list = &wn.related[*found];
        return CS_OK;
    }
    cs_status rc = climb(index_sense(spelling), scratch);
    if (rc != CS_OK)
        return rc;
    *list = scratch;
    if (wn.nrelated >= WORD_CACHE_MAX)
        return CS_OK;
    if (!ARRAY_RESERVE(wn.related, wn.caprelated, wn.nrelated) ||
        !strmap_put(&wn.related_index, spelling, (int64_t)wn.nrelated))
        return CS_ERR_NOMEM;
    wn.related[wn.nrelated] = *scratch;
    *scratch = (offsets){0};
    *list = &wn.related[wn.nrelated++];
    return CS_OK;
}

static cs_status related_locked(const char *const *words, size_t n, strbuf *out)
{
    long chosen[LEXICON_MAX_SYNSETS];
    size_t nchosen = 0;
    for (size_t w = 0; w < n && nchosen < LEXICON_MAX_SYNSETS; w++) {
        char spelling[WORD_MAX + 1];
        if (!words[w] || !wn_spelling(words[w], strlen(words[w]), spelling))
            continue;
        offsets scratch = {0};
        const offsets *list = NULL;
        cs_status rc = related_of(spelling, &scratch, &list);
        if (rc != CS_OK) {
            free(scratch.items);
            return rc;
        }
        for (size_t i = 0; i < list->n && nchosen < LEXICON_MAX_SYNSETS; i++) {
            bool seen = false;
            for (size_t k = 0; !seen && k < nchosen; k++)
                seen = chosen[k] == list->items[i];
            if (!seen)
                chosen[nchosen++] = list->items[i];
        }
        free(scratch.items);
    }
    size_t start = out->len;
    for (size_t i = 0; i < nchosen; i++) {
        long idx = node_get(chosen[i]);
        if (idx < 0)
            continue;
        const char *words_text = wn.nodes[idx].words;
        if (out->len - start + strlen(words_text) + 2 > RELATED_MAX_BYTES)
            break;
        if (out->len > 0)
            strbuf_append(out, ", ");
        strbuf_append(out, words_text);
    }
    return strbuf_failed(out) ? CS_ERR_NOMEM : CS_OK;
}

cs_status lexicon_related_words(const char *const *words, size_t n, strbuf *out,
                                cs_error *err)
{
    if (!out || (n && !words))
        return cs_error_set(err, CS_ERR_INVALID, "lexicon: no words or no output");
    if (!lexicon_available())
        return CS_OK;
    pthread_mutex_lock(&wn.mu);
    cs_status rc = related_locked(words, n, out);
    pthread_mutex_unlock(&wn.mu);
    if (rc != CS_OK)
        return cs_error_set(err, rc, "out of memory looking up related words");
    return CS_OK;
}

/* ---------- query time ---------- */

static bool list_add(word_list *list, const char *text, size_t len, bool same)
{
    for (size_t i = 0; i < list->n; i++)
        if (strlen(list->items[i]) == len && strncmp(list->items[i], text, len) == 0)
            return true;
    char **items = realloc(list->items, (list->n + 1) * sizeof *items);
    if (!items)
        return false;
    list->items = items;
    bool *flags = realloc(list->same, (list->n + 1) * sizeof *flags);
    if (!flags)
        return false;
    list->same = flags;
    char *copy = malloc(len + 1);
    if (!copy)
        return false;
    for (size_t i = 0; i < len; i++)
        copy[i] = text[i] == '_' ? ' ' : text[i];
    copy[len] = '\0';
    list->items[list->n] = copy;
    list->same[list->n++] = same;
    return true;
}

static void list_free(word_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
    free(list->same);
    *list = (word_list){0};
}

/* Label concepts reached from one sense within QUERY_MAX_DEPTH; *is_label
 * when the sense is one itself (then there is nothing to add: the related
 * column of such pictures already holds all its words). `people`: whether
 * reaching "person" counts (see expand_locked). */
static cs_status targets_from(long sense_idx, bool people, word_list *out, bool *found,
                              bool *is_label)
{
    *found = *is_label = false;
    if (node_is_target(sense_idx)) {
        *found = *is_label = true;
        return CS_OK;
    }
    long queue[128];
    int depth[128];
    size_t head = 0, tail = 0;
    queue[tail] = sense_idx;
    depth[tail++] = 0;
    while (head < tail) {
        long idx = queue[head];
        int d = depth[head++];
        if (d > 0 && node_is_target(idx)) {
            if (!people && node_has_word(&wn.nodes[idx], "person"))
                continue;
            *found = true;
            const wn_node *node = &wn.nodes[idx];
            if (out->n < LEXICON_MAX_ALTERNATIVES && !list_add(out, node->words, node->head_len, false))
                return CS_ERR_NOMEM;
            continue;   /* never generalise past a label concept */
        }
        for (int i = 0; i < wn.nodes[idx].nhypers && d < QUERY_MAX_DEPTH && tail < 128; i++) {
            long h = node_get(wn.nodes[idx].hypers[i]);
            if (h == -2)
                return CS_ERR_NOMEM;
            if (h >= 0 && !wn.nodes[h].stop) {
                queue[tail] = h;
                depth[tail++] = d + 1;
            }
        }
    }
    return CS_OK;
}

static cs_status expand_locked(const char *spelling, word_list *out)
{
    char lemma[WORD_MAX + 1];
    lemma_of(spelling, lemma);
    if (!lemma[0])
        return CS_OK;
    if (strcmp(lemma, spelling) != 0 && !list_add(out, lemma, strlen(lemma), true))
        return CS_ERR_NOMEM;
    /* A label searched for is that label's concept ("mouse" the device):
     * pictures of it hold all its words already. */
    if (find_label(spelling) >= 0 || find_label(lemma) >= 0)
        return CS_OK;
    long senses[QUERY_SENSES];
    int tagged[QUERY_SENSES];
    size_t n = senses_of(lemma, senses, tagged, QUERY_SENSES);
    for (size_t i = 0; i < n; i++) {
        long idx = node_get(senses[i]);
        if (idx == -2)
            return CS_ERR_NOMEM;
        if (idx < 0 || !physical_common_sense(idx))
            continue;
        bool found = false, is_label = false;
        /* Many nouns have a slang sense for a kind of person (mug, sucker,
         * mouse): "person" is reached only from a word's first sense. */
        cs_status rc = targets_from(idx, i == 0, out, &found, &is_label);
        /* The first physical sense that reaches a label wins. A sense seen
         * in WordNet's tagged texts that reaches none ends the search: it is
         * what the word mostly means ("coffee" the drink, not the tree);
         * rare senses are passed over ("kitty": kitten, then the cat). */
        if (rc != CS_OK || found || tagged[i] > 0)
            return rc;
    }
    return CS_OK;
}

cs_status lexicon_expand_word(const char *word, size_t len, lexicon_alternative_fn fn,
                              void *user, cs_error *err)
{
    if (!word || !fn)
        return cs_error_set(err, CS_ERR_INVALID, "lexicon: no word or no callback");
    char spelling[WORD_MAX + 1];
    if (!wn_spelling(word, len, spelling) || !lexicon_available())
        return CS_OK;
    pthread_mutex_lock(&wn.mu);
    cs_status rc = CS_OK;
    word_list fresh = {0};
    const word_list *list = NULL;
    int64_t *found = NULL;
    if (strmap_get(&wn.expanded_index, spelling, &found)) {
        list = &wn.expanded[*found];
    } else {
        rc = expand_locked(spelling, &fresh);
        list = &fresh;
        if (rc == CS_OK && wn.nexpanded < WORD_CACHE_MAX) {
            if (!ARRAY_RESERVE(wn.expanded, wn.capexpanded, wn.nexpanded) ||
                !strmap_put(&wn.expanded_index, spelling, (int64_t)wn.nexpanded)) {
                rc = CS_ERR_NOMEM;
            } else {
                wn.expanded[wn.nexpanded] = fresh;
                fresh = (word_list){0};
                list = &wn.expanded[wn.nexpanded++];
            }
        }
    }
    /* Copies: the callback runs outside the lock (it may take its time). */
    word_list copy = {0};
    for (size_t i = 0; rc == CS_OK && i < list->n && i < LEXICON_MAX_ALTERNATIVES; i++)
        if (!list_add(&copy, list->items[i], strlen(list->items[i]), list->same[i]))
            rc = CS_ERR_NOMEM;
    list_free(&fresh);
    pthread_mutex_unlock(&wn.mu);
    for (size_t i = 0; rc == CS_OK && i < copy.n; i++)
        fn(copy.items[i], copy.same[i], user);
    list_free(&copy);
    if (rc != CS_OK)
        return cs_error_set(err, rc, "out of memory expanding a search word");
    return CS_OK;
}

#else /* built without libWN */

cs_status lexicon_open(cs_error *err)
{
    return cs_error_set(err, CS_ERR_UNSUPPORTED,
                        "capsearch was built without WordNet: install Debian's wordnet-dev "
                        "and wordnet-base and rebuild to find pictures by related words");
}

bool lexicon_available(void) { return false; }
const char *lexicon_version(void) { return NULL; }
const char *lexicon_revision(void) { return NULL; }
const char *lexicon_data_dir(void) { return NULL; }
void lexicon_lock(void) {}
void lexicon_unlock(void) {}

cs_status lexicon_related_words(const char *const *words, size_t n, strbuf *out,
                                cs_error *err)
{
    if (!out || (n && !words))
        return cs_error_set(err, CS_ERR_INVALID, "lexicon: no words or no output");
    return CS_OK;
}

cs_status lexicon_expand_word(const char *word, size_t len, lexicon_alternative_fn fn,
                              void *user, cs_error *err)
{
    (void)len;
    (void)user;
    if (!word || !fn)
        return cs_error_set(err, CS_ERR_INVALID, "lexicon: no word or no callback");
    return CS_OK;
}

#endif
