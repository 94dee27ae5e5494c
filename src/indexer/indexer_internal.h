/* Shared by the indexer's files: the work list, per-file results, and the
 * stages that turn one into the other. */
#ifndef CS_INDEXER_INTERNAL_H
#define CS_INDEXER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "caption/caption.h"
#include "capsearch/capsearch.h"
#include "image/image.h"
#include "common/strmap.h"
#include "indexer/walk.h"
#include "library/library.h"

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
} index_result;

typedef struct analyze_context {
    const strmap *known_hashes;   /* content hash -> image id, read-only */
    uint64_t max_file_bytes;
    uint64_t max_pixels;
} analyze_context;

/* Reads, hashes and (unless its content is known and allow_reuse) decodes
 * and describes one file. Never fails as a whole: problems with the file
 * become RESULT_FAILED with a reason; only allocation failure returns an
 * error. Thread-safe. */
cs_status analyze_file(const index_job *job, const analyze_context *ctx, bool allow_reuse,
                       index_result *out, cs_error *err);
void index_result_free(index_result *result);

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

cs_status pipeline_run(const pipeline_config *config, cs_error *err);

#endif
