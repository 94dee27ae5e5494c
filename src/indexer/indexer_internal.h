/* Shared by the indexer's files: the work list, per-file results, and the
 * stages that turn one into the other. */
#ifndef CS_INDEXER_INTERNAL_H
#define CS_INDEXER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "caption/caption.h"
#include "caption/ocr.h"
#include "capsearch/capsearch.h"
#include "image/image.h"
#include "common/strmap.h"
#include "indexer/walk.h"
#include "library/library.h"
#include "models/tagger/tagger.h"

#define INDEX_DEFAULT_BATCH 64
#define INDEX_DEFAULT_MAX_FILE_BYTES (256ull << 20)
#define INDEX_DEFAULT_MAX_PIXELS 178956970ull   /* ~ the 16384 x 10923 JPEG limit */
#define INDEX_MAX_COLORS 8

/* A file that needs work. */
typedef struct index_job {
    char *path;
    const char *root;       /* the indexed folder it was found under */
    int64_t size;
    int64_t mtime_ns;
    int64_t old_id;         /* catalog id stored at this path before, 0 if new */
} index_job;

typedef enum result_kind {
    RESULT_INDEXED,         /* decoded and analysed */
    RESULT_REUSED,          /* same content as catalogued image reuse_id */
    RESULT_FAILED,
} result_kind;

typedef struct index_result {
    result_kind kind;
    const index_job *job;
    char content_hash[33];
    int64_t reuse_id;
    char *error;            /* RESULT_FAILED: why */
    char *folder;
    char *path_words;
    /* RESULT_INDEXED */
    int width, height;
    cs_image_format format;
    cs_exif exif;
    uint64_t phash;
    caption_result caption;
    float layout[CS_LAYOUT_DIM];
    char *ocr_text;         /* text read in the picture ("" when none) */
    char *related;          /* WordNet words for its object words */
    tagger_result *found;   /* what the tagger found (boxes in full-size
                               pixels), NULL when it did not run */
} index_result;

typedef struct analyze_context {
    const strmap *known_hashes;   /* content hash -> image id, read-only */
    uint64_t max_file_bytes;
    uint64_t max_pixels;
    bool related;                 /* WordNet is there: fill `related` */
    bool ocr;                     /* read text in pictures */
    const char *ocr_languages;    /* Tesseract's "eng", "eng+deu" */
    tagger *tagger;               /* objects and faces; NULL: none installed */
} analyze_context;

/* What one thread keeps from file to file: its Tesseract instance (slow to
 * make, ~0.15 s, and not thread-safe), made when the thread first meets a
 * picture with text. */
typedef struct analyze_worker {
    const analyze_context *ctx;
    ocr_engine *ocr;
    bool ocr_failed;              /* making it failed: no text from this thread */
    cs_error ocr_error;
    tagger_session *tagger;       /* this thread's buffers for the tagger */
} analyze_worker;

void analyze_worker_free(analyze_worker *worker);

/* Tag kinds whose names are object words for the lexicon (a detector's
 * labels and a captioner's nouns); colours, dates and cameras are not. */
extern const char *const analyze_object_kinds[];
extern const size_t analyze_object_nkinds;
/* The stored tag kinds a picture's related words come from: those, and the
 * concepts of its zero-shot caption (clip_stage.c). */
extern const char *const analyze_related_kinds[];
extern const size_t analyze_related_nkinds;

/* The related words (lexicon.h) of a file's object words: its path words
 * (space-separated; folder boilerplate like "photos" left out) and its
 * object tags ('\n' between tags). *out malloc'd ("" when none). */
cs_status analyze_related(const char *path_words, const char *object_tags, char **out,
                          cs_error *err);

/* The same with a zero-shot caption's concepts after the object tags, by
 * name (strcmp order): the order catalog_tag_names gives the backfill
 * (related.c), so both make the same words. */
cs_status analyze_related_concepts(const char *path_words, const char *object_tags,
                                   const char *const *concepts, size_t nconcepts, char **out,
                                   cs_error *err);

/* Reads, hashes and (unless its content is known and allow_reuse) decodes
 * and describes one file. Never fails as a whole: problems with the file
 * become RESULT_FAILED with a reason; only allocation failure returns an
 * error. Thread-safe, one `worker` per thread. */
cs_status analyze_file(const index_job *job, analyze_worker *worker, bool allow_reuse,
                       index_result *out, cs_error *err);
void index_result_free(index_result *result);

/* Turns what the tagger found in a width x height picture into the
 * caption's first sentence and object, face and expression tags
 * (tagging.c). */
/* Loads the installed tagger models (tagger_default_dir). Without a usable
 * object detector *out is NULL and *problem (malloc'd) says why and how to
 * get one (*broken: a model file is there but cannot be loaded): the caller
 * may go on without it. Only allocation fails. */
cs_status tagging_open(tagger **out, char **problem, bool *broken, cs_error *err);

cs_status tagging_apply(const tagger_result *found, int width, int height,
                        caption_result *caption, cs_error *err);

/* The writer stage: runs the workers over the jobs and commits their
 * results in batches (pipeline.c). */
typedef struct pipeline_config {
    cs_library *lib;
    index_job *jobs;
    size_t njobs;
    const analyze_context *analyze;
    int threads;
    int batch_size;
    volatile int *cancel;
    cs_progress_fn progress;
    void *progress_user;
    cs_index_progress *counters;
    double started;
} pipeline_config;

/* Reports a warning through the progress callback (CS_EVENT_WARNING). */
void index_warn(cs_progress_fn progress, void *user, const cs_index_progress *counters,
                const char *message);

/* meta key: the lexicon revision every image's related words come from
 * ("" or absent: some images may lack them). */
#define INDEX_RELATED_META "related_words"

/* Fills in the related words of images indexed before they existed (a
 * catalog from before schema version 3, or indexed without WordNet), once
 * per lexicon revision (related.c). */
cs_status index_backfill_related(cs_library *lib, const cs_index_options *options,
                                 cs_error *err);
/* Records that every image's related words are current (a catalog with no
 * images yet). */
cs_status index_related_current(cs_library *lib, cs_error *err);

cs_status pipeline_run(const pipeline_config *config, cs_error *err);

/* The CLIP stage (clip_stage.c): embeddings of `model_id` for every image
 * in the catalog that has none. `model` is NULL until there is work: it is
 * then opened from model_dir (a failure sets open_failed). Takes the lock
 * of nothing: the caller holds the library's writer lock. */
typedef struct clip_stage_config {
    cs_library *lib;
    const char *model_dir;
    const char *model_id;
    cs_clip_precision precision;
    cs_clip_model **model;
    int threads;                  /* preprocessing threads */
    volatile int *cancel;
    cs_progress_fn progress;
    void *progress_user;
    cs_index_progress *counters;
    double started;
} clip_stage_config;

typedef struct clip_stage_result {
    size_t embedded;
    size_t failed;                /* pictures that could not be read for CLIP */
    size_t captioned;             /* earlier embeddings given a zero-shot caption */
    char first_failure[512];
    bool open_failed;             /* the model could not be opened: err says why */
} clip_stage_result;

cs_status clip_stage_run(const clip_stage_config *config, clip_stage_result *result,
                         cs_error *err);

#endif
