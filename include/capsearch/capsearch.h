/* capsearch: offline image search driven by captions.
 *
 * The public C API. Every call that can fail returns a cs_status and fills a
 * caller-owned cs_error (never NULL) with a message meant for the user. Objects are opaque
 * and freed by their own *_free / *_close function. */
#ifndef CAPSEARCH_H
#define CAPSEARCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cs_status {
    CS_OK = 0,
    CS_ERR_INVALID = 1,     /* bad argument or input the caller can fix */
    CS_ERR_IO = 2,          /* file system error */
    CS_ERR_NOMEM = 3,       /* allocation failed */
    CS_ERR_CORRUPT = 4,     /* data is damaged or not what it claims to be */
    CS_ERR_UNSUPPORTED = 5, /* format or feature not available in this build */
    CS_ERR_TOO_LARGE = 6,   /* refused by a size or pixel limit */
    CS_ERR_DB = 7,          /* SQLite error */
    CS_ERR_VECTOR = 8,      /* FAISS error */
    CS_ERR_CANCELLED = 9,   /* stopped on request (Ctrl-C) */
    CS_ERR_NOT_FOUND = 10,  /* no such image, file or folder */
    CS_ERR_BUSY = 11,       /* the library is locked by another writer */
} cs_status;

#define CS_ERROR_MESSAGE_MAX 1024

typedef struct cs_error {
    cs_status code;
    char message[CS_ERROR_MESSAGE_MAX];
} cs_error;

/* A short name for a status ("invalid argument", "I/O error"...). */
const char *cs_status_name(cs_status status);
const char *cs_version(void);

/* OpenBLAS's name for the matrix kernels this process runs ("SkylakeX",
 * "Haswell", "Zen"...). */
const char *cs_blas_core(void);
/* When OpenBLAS did not know this CPU and fell back to its slowest (SSE3,
 * "Prescott") kernels although the CPU has AVX2 or AVX-512: the kernels to
 * ask for instead; NULL when the choice is right or OPENBLAS_CORETYPE is
 * set. */
const char *cs_blas_better_core(void);
/* For a program's main(): when cs_blas_better_core() names kernels, starts
 * the program again (same argv) with OPENBLAS_CORETYPE set to them, which
 * OpenBLAS reads only while it loads. Returns when no restart is needed or
 * it could not be done (the slow kernels still compute the same results). */
void cs_blas_restart_if_generic(char **argv);

/* ---- library (a folder holding the catalog, the vector file and caches) ---- */

typedef struct cs_library cs_library;

typedef struct cs_open_options {
    int read_only;        /* open the catalog read-only (search, stats) */
    int skip_vectors;     /* do not load or reconcile the vector file */
    int must_exist;       /* fail with CS_ERR_NOT_FOUND instead of creating */
} cs_open_options;

/* The default library folder: $CAPSEARCH_DB, else $XDG_DATA_HOME/capsearch,
 * else ~/.local/share/capsearch. Writes at most `size` bytes including NUL. */
cs_status cs_default_library_dir(char *out, size_t size, cs_error *err);

/* Opens (creating when needed and not read-only) the library in `dir`,
 * migrates an older catalog, and reconciles the vector file with it. */
cs_status cs_library_open(const char *dir, const cs_open_options *options,
                          cs_library **out, cs_error *err);
void cs_library_close(cs_library *lib);
const char *cs_library_dir(const cs_library *lib);

/* ---- indexing ---- */

typedef enum cs_index_event {
    CS_EVENT_WALK_DONE,   /* the folders were walked; total is known */
    CS_EVENT_FILE_DONE,   /* one file indexed, reused, or failed */
    CS_EVENT_BATCH,       /* a batch was committed */
    CS_EVENT_FINISHED,
    CS_EVENT_WARNING,     /* something optional is missing (WordNet, OCR
                             data, the recorded CLIP model): indexing goes
                             on without it; `error` says what and how to
                             get it */
    CS_EVENT_EMBEDDED,    /* a batch of CLIP embeddings was committed
                             (embedded of embed_total) */
    CS_EVENT_CONCEPTS,    /* a chunk of the zero-shot vocabulary's text
                             embeddings was stored (concepts_embedded of
                             concepts_total; once per model and library) */
} cs_index_event;

typedef struct cs_index_progress {
    cs_index_event event;
    uint64_t total;       /* files that need work in this run */
    uint64_t done;        /* of those, finished (indexed + reused + failed) */
    uint64_t indexed;
    uint64_t reused;      /* renamed or copied files whose results were reused */
    uint64_t failed;
    uint64_t unchanged;   /* files skipped because nothing changed */
    uint64_t removed;     /* catalog entries of deleted files */
    uint64_t bytes;       /* bytes read so far */
    double elapsed_s;
    const char *path;     /* CS_EVENT_FILE_DONE: the file */
    const char *error;    /* CS_EVENT_FILE_DONE: why it failed, or NULL (also
                             sent, without counting the file as failed, for
                             a picture the CLIP model could not read) */
    uint64_t embed_total; /* images lacking the CLIP model's embedding, known
                             once the main pass is over */
    uint64_t embedded;    /* of those, embedded so far */
    uint64_t captioned;   /* images given a zero-shot caption by the CLIP
                             model (its concepts as tags of kind "concept") */
    uint64_t concepts_embedded;  /* concept text embeddings computed by this
                             run (0 once the model's are in the catalog) */
    uint64_t concepts_total;     /* of the vocabulary, those this run had to
                             compute (set with CS_EVENT_CONCEPTS) */
} cs_index_progress;

typedef void (*cs_progress_fn)(const cs_index_progress *progress, void *user);

typedef struct cs_index_options {
    int threads;                  /* decode workers; 0 = one per core */
    int batch_size;               /* images per transaction; 0 = default (64) */
    uint64_t max_file_bytes;      /* 0 = default (256 MiB) */
    uint64_t max_pixels;          /* 0 = default (178 megapixels) */
    int no_purge;                 /* keep catalog entries of missing files */
    cs_progress_fn progress;      /* may be NULL */
    void *progress_user;
    volatile int *cancel;         /* set non-zero to stop after the batch in flight */
    const char *ocr_languages;    /* Tesseract languages for text in pictures,
                                     "eng+deu"; NULL or "" = "eng"; "none" =
                                     no OCR */
    const char *clip_model;       /* a CLIP model folder (Hugging Face layout):
                                     recorded in the library and used by this
                                     and later runs. NULL: the recorded one,
                                     if any (a recorded folder that has gone
                                     or cannot be loaded gives a warning and
                                     no CLIP embeddings). A folder given here
                                     that cannot be loaded is an error before
                                     anything is indexed. */
    int clip_precision;           /* with clip_model: CS_CLIP_F32 (0) or
                                     CS_CLIP_INT8 (see cs_clip_precision);
                                     without it the recorded precision */
} cs_index_options;

/* Indexes every image under the given folders (recursively, hidden entries
 * skipped): new and changed files are processed, renamed or copied files reuse
 * stored results, and entries of deleted files are removed. Files that cannot
 * be read or decoded are recorded in the errors table and do not stop the run.
 *
 * With a CLIP model (cs_index_options.clip_model, or the one recorded in
 * the library) every image of the catalog without an embedding of that
 * model is then embedded, 16 at a time, each batch committed. The model's
 * id is "clip:" + the folder's name + ":" + a hash of its config.json, its
 * safetensors header and a sample of its weights, so other weights give
 * another id. Once every image has an embedding of it, the library's
 * vectors (similar, search by picture, and the vector half of text search)
 * move to that model; until then they stay on the earlier one. */
cs_status cs_index(cs_library *lib, const char *const *dirs, size_t ndirs,
                   const cs_index_options *options, cs_index_progress *report,
                   cs_error *err);

/* ---- captioning single files (what indexing would store) ---- */

typedef struct cs_caption_tag {
    char name[64];
    char kind[16];        /* "object", "face", "expression", "color", "date", ... */
    float score;          /* 0..1 */
} cs_caption_tag;

typedef struct cs_caption_object {
    char label[32];       /* COCO name: "person", "cup", "dining table" */
    float score;
    float box[4];         /* x1, y1, x2, y2 in the full-size picture's pixels,
                             after EXIF orientation */
} cs_caption_object;

typedef struct cs_caption_face {
    float score;
    float box[4];         /* as for objects */
    char expression[16];  /* "happy", "neutral", ...; "" when the face is too
                             small to read */
    float expression_score;
} cs_caption_face;

typedef struct cs_caption_candidate {
    char *sentence;       /* "A dog on a beach at sunset." */
    char *prompt;         /* what CLIP embedded: "a photo of a dog on a beach at sunset." */
    float score;          /* its cosine with the picture's CLIP embedding */
} cs_caption_candidate;

typedef struct cs_caption {
    int width, height;    /* full size, after orientation */
    char *caption;        /* the sentence(s) */
    char *ocr_text;       /* words read in the picture ("" when none) */
    char *related;        /* WordNet's words for its object words ("" when none) */
    cs_caption_tag *tags;
    size_t ntags;
    cs_caption_object *objects;   /* best first */
    size_t nobjects;
    cs_caption_face *faces;
    size_t nfaces;
    /* With a CLIP model (cs_captioner_use_clip): the zero-shot caption, also
     * in front of `caption`, its concepts are `tags` of kind "concept". */
    char *zeroshot;                    /* the chosen sentence, "" when none */
    cs_caption_candidate *candidates;  /* as composed; `zeroshot` is the best */
    size_t ncandidates;
    cs_caption_tag *concepts;          /* the highest concept probabilities
                                          (softmax over the vocabulary), best
                                          first; kind: "object", "scene",
                                          "activity", "event", "weather",
                                          "picture" */
    size_t nconcepts;
} cs_caption;

typedef struct cs_captioner cs_captioner;

/* The folder the tagger's models are read from: $CAPSEARCH_MODELS, else
 * $XDG_DATA_HOME/capsearch/models, else ~/.local/share/capsearch/models,
 * plus "human-models-3.0.4". */
cs_status cs_default_models_dir(char *out, size_t size, cs_error *err);

/* Loads what indexing uses: the tagger's models (from $CAPSEARCH_MODELS or
 * the data folder), WordNet and Tesseract (`ocr_languages` as for
 * cs_index_options). What is missing is left out and said in
 * cs_captioner_warnings; a model file that exists but is broken is an error. */
cs_status cs_captioner_open(const char *ocr_languages, cs_captioner **out, cs_error *err);
void cs_captioner_free(cs_captioner *captioner);
/* "centernet blazeface emotion" (the tagger's models loaded), "" when none. */
const char *cs_captioner_models(const cs_captioner *captioner);
/* What is missing and how to get it, one line each; "" when nothing is. */
const char *cs_captioner_warnings(const cs_captioner *captioner);
/* Captions one file as the indexer would when indexing its folder. Not
 * thread-safe: one captioner per thread. */
cs_status cs_caption_file(cs_captioner *captioner, const char *path, cs_caption **out,
                          cs_error *err);
void cs_caption_free(cs_caption *caption);
/* Adds zero-shot captions from the CLIP model in `model_dir` (see
 * cs_caption). The concept vocabulary's embeddings are read from, or
 * computed once and stored in, the catalog of the library in `library_dir`
 * when one is there (NULL or no catalog: computed in memory, which takes a
 * while for a real model). Needs WordNet: CS_ERR_NOT_FOUND without it. */
cs_status cs_captioner_use_clip(cs_captioner *captioner, const char *model_dir,
                                const char *library_dir, cs_error *err);

/* ---- CLIP models ---- */

/* Tokenizes `len` bytes of text with the CLIP tokenizer of a model folder in
 * Hugging Face layout (vocab.json, merges.txt; config.json's
 * text_config.max_position_embeddings, default 77, is the context length):
 * start token, the text's tokens, end token, cut to the context length with
 * the end token kept. *ids is malloc'd; *truncated says whether text was cut. */
cs_status cs_clip_tokenize(const char *model_dir, const char *text, size_t len,
                           int32_t **ids, size_t *n, int *truncated, cs_error *err);

typedef struct cs_clip_model cs_clip_model;

/* Loads a CLIP model folder in Hugging Face layout (config.json,
 * model.safetensors in f32, f16 or bf16, vocab.json, merges.txt, and
 * preprocessor_config.json when present). Errors name the file and tensor. */
cs_status cs_clip_open(const char *dir, cs_clip_model **out, cs_error *err);
void cs_clip_close(cs_clip_model *model);
/* The embedding size (projection_dim) and the image input's side. */
int cs_clip_dim(const cs_clip_model *model);
int cs_clip_image_size(const cs_clip_model *model);
/* L2-normalised embeddings into out[cs_clip_dim]. For an image file,
 * `input` (NULL or 3 x size x size floats) receives the preprocessed tensor:
 * RGB, resized (shortest side, bicubic with antialiasing), centre-cropped,
 * scaled and normalised with the model's mean and std. */
cs_status cs_clip_embed_text(cs_clip_model *model, const char *text, float *out, cs_error *err);
cs_status cs_clip_embed_image_file(cs_clip_model *model, const char *path, float *out,
                                   float *input, cs_error *err);

typedef enum cs_clip_precision {
    CS_CLIP_F32 = 0,    /* float32 weights and activations (the default) */
    CS_CLIP_INT8 = 1,   /* int8 GEMMs: weights per output channel, activations per row */
    CS_CLIP_F16 = 2,    /* float16 copies of the blocks' weight matrices, widened in the
                           GEMM; activations float32. Half the bytes to read: for queries
                           (one short text), embeddings within cosine 0.9999 of f32 */
} cs_clip_precision;

typedef struct cs_clip_options {
    cs_clip_precision precision;
    int threads;        /* 0: one per core */
    int max_batch;      /* inputs per forward pass; 0: 16 */
    int text_only;      /* non-zero: the text tower alone (about 40% of a ViT-B's
                           weights); cs_clip_embed_pixels then refuses */
} cs_clip_options;

/* cs_clip_open with options (NULL: the defaults). A model runs one call at
 * a time (its scratch memory is allocated once, at open); each call uses
 * `threads` cores. */
cs_status cs_clip_open_with(const char *dir, const cs_clip_options *options,
                            cs_clip_model **out, cs_error *err);
/* How the model runs, for logs: "f32", "int8 (VNNI)" or "int8 (7-bit
 * activations: this CPU has no VNNI)". */
const char *cs_clip_precision_name(const cs_clip_model *model);
/* Batched embeddings: n inputs in, n x cs_clip_dim L2-normalised floats out.
 * pixels holds n preprocessed images of 3 x size x size floats (as
 * cs_clip_embed_image_file's `input`); texts are NUL-terminated UTF-8. */
cs_status cs_clip_embed_pixels(cs_clip_model *model, const float *pixels, size_t n,
                               float *out, cs_error *err);
cs_status cs_clip_embed_texts(cs_clip_model *model, const char *const *texts, size_t n,
                              float *out, cs_error *err);
/* Decodes and preprocesses an image file into `input` (3 x size x size
 * floats) for cs_clip_embed_pixels. Safe to call from several threads at
 * once, also while the model embeds. */
cs_status cs_clip_preprocess_image_file(const cs_clip_model *model, const char *path,
                                        float *input, cs_error *err);
/* As cs_clip_preprocess_image_file, but a large JPEG is decoded at a
 * reduced DCT scale (1/2, 1/4 or 1/8, as Pillow's Image.draft picks it for
 * CS_CLIP_DRAFT_FACTOR times the model's input side) and resized from there.
 * Less decoding and resizing for a large photo (README: the embed command);
 * the tensor differs slightly from the full-size path (on the sample JPEGs
 * by 50.7 dB PSNR on average, 43.5 at least). At 1/8 a progressive JPEG
 * is decoded from its DC scans alone. Other formats and
 * pictures too small to reduce give exactly cs_clip_preprocess_image_file's
 * tensor. Indexing uses this. */
#define CS_CLIP_DRAFT_FACTOR 1
cs_status cs_clip_preprocess_image_draft(const cs_clip_model *model, const char *path,
                                         float *input, cs_error *err);
/* Debugging: while set (dir != NULL), every call writes the intermediate
 * activations of its first input to dir as raw little-endian float32 files,
 * with dir/layers.json listing each file's name and shape (see README). */
cs_status cs_clip_set_dump_dir(cs_clip_model *model, const char *dir, cs_error *err);

/* ---- CLIP models from the Hugging Face Hub ---- */

/* The folder models are kept in: $CAPSEARCH_MODELS, else
 * $XDG_DATA_HOME/capsearch/models, else ~/.local/share/capsearch/models (the
 * parent of cs_default_models_dir). */
cs_status cs_models_root(char *out, size_t size, cs_error *err);

/* The folder a Hub model is kept in: models_dir (NULL: cs_models_root) +
 * "/owner/name". Checks `name` first: exactly "owner/name", each part 1 to 96
 * characters of [A-Za-z0-9._-], not starting with '.', without "..", and not
 * ending in ".partial" (the suffix of unfinished downloads). */
cs_status cs_model_folder(const char *models_dir, const char *name, char *out, size_t size,
                          cs_error *err);

typedef enum cs_pull_event {
    CS_PULL_LISTED,        /* the repository's file list arrived: count, total */
    CS_PULL_FILE_PRESENT,  /* `file` is already there, size and checksum right */
    CS_PULL_FILE_START,    /* a download begins; resumed_from > 0 continues a .part */
    CS_PULL_FILE_BYTES,    /* more of `file` arrived (often: throttle the display) */
    CS_PULL_FILE_DONE,     /* `file` arrived and its checksum is right */
    CS_PULL_NOTE,          /* `message` says what happened (a download restarts...) */
} cs_pull_event;

typedef struct cs_pull_progress {
    cs_pull_event event;
    const char *file;         /* "model.safetensors" */
    size_t index, count;      /* the file's number (1-based) and how many there are */
    uint64_t done;            /* bytes of the file on disk */
    uint64_t size;            /* the file's size (CS_PULL_LISTED: all files') */
    uint64_t resumed_from;    /* bytes kept from an earlier, interrupted pull */
    double elapsed_s;         /* since this download began */
    const char *message;      /* CS_PULL_NOTE */
} cs_pull_progress;

typedef struct cs_pull_options {
    const char *revision;     /* branch, tag or commit; NULL: "main" */
    const char *models_dir;   /* NULL: cs_models_root */
    const char *endpoint;     /* NULL: $CAPSEARCH_HF_ENDPOINT, else https://huggingface.co */
    const char *token;        /* NULL: $HF_TOKEN; sent as a bearer token to the
                                 endpoint's host only, never to redirect targets */
    int timeout_s;            /* connecting, and a transfer that stalls this
                                 long, fail; 0: $CAPSEARCH_HUB_TIMEOUT, else 30 */
    void (*progress)(const cs_pull_progress *progress, void *user);
    void *progress_user;
    volatile int *cancel;     /* non-zero stops the transfer (CS_ERR_CANCELLED);
                                 the next pull resumes */
} cs_pull_options;

typedef struct cs_pull_result {
    char dir[4096];           /* the model folder */
    size_t files;             /* files the model has */
    size_t downloaded;        /* of those, fetched by this pull */
    uint64_t bytes_received;  /* bytes fetched by this pull */
} cs_pull_result;

/* Fetches a CLIP model ("openai/clip-vit-base-patch32") in Hugging Face
 * layout into cs_model_folder: config.json, model.safetensors, vocab.json and
 * merges.txt, and preprocessor_config.json, tokenizer_config.json and
 * special_tokens_map.json when the repository has them. Every file is checked
 * against the Hub's size and checksum (SHA-256 for LFS files, git's blob SHA-1
 * for the others); files already there and right are kept. Downloads go to
 * NAME.partial/ (FILE.part while a file arrives; an interrupted pull resumes
 * from there) and the folder takes the model's name only once every file is
 * verified, so a folder with the model's name is always complete. */
cs_status cs_model_pull(const char *name, const cs_pull_options *options,
                        cs_pull_result *result, cs_error *err);

typedef struct cs_model_entry {
    char *name;               /* "owner/name", or the folder's own name */
    char *path;
    const char *kind;         /* "clip" or "tagger" */
    uint64_t bytes;           /* the files' sizes, summed */
    int complete;             /* usable as it is */
    int dim, image_size;      /* CLIP: projection_dim and the image side; 0
                                 when config.json cannot be read */
    char *problem;            /* why it is incomplete or what else is wrong,
                                 NULL when nothing is */
} cs_model_entry;

typedef struct cs_model_list {
    char *dir;                /* the models folder */
    size_t count;
    cs_model_entry *items;    /* by name */
} cs_model_list;

/* The models in models_dir (NULL: cs_models_root): CLIP folders (config.json
 * and model.safetensors, as owner/name/ or directly in the folder), the
 * tagger's human-models-* folders, and interrupted pulls (NAME.partial/,
 * FILE.part) as incomplete. A missing folder is an empty list. */
cs_status cs_model_list_read(const char *models_dir, cs_model_list **out, cs_error *err);
void cs_model_list_free(cs_model_list *list);

/* ---- search ---- */

typedef struct cs_source_rank {
    const char *source;   /* "text", "vector"; "date" for a listing */
    int rank;             /* 1-based rank in that source's list, 0 = absent */
    double score;         /* that source's raw score (bm25: lower is better) */
} cs_source_rank;

#define CS_MAX_SOURCES 4

typedef struct cs_result {
    int64_t id;
    char *path;
    double score;         /* fused score (higher is better) */
    char *caption;
    char *tags;           /* space-separated tags */
    int width, height;
    int64_t taken_at;     /* seconds since the epoch as local wall time, 0 = unknown */
    int nsources;
    cs_source_rank sources[CS_MAX_SOURCES];
} cs_result;

/* One term of a composed query ("beach" + 2:"sunset" - "people"). */
typedef struct cs_query_term {
    char *text;           /* the quoted text, without the quotes */
    double weight;        /* signed: negative for a term after '-' */
} cs_query_term;

/* Where a search's time went, in milliseconds (shown by explain). The
 * text ranking runs beside the query's embedding, so the parts can add up
 * to more than took_ms. */
typedef struct cs_search_timings {
    double text_ms;     /* the words' ranking */
    double embed_ms;    /* the query's CLIP text embedding (near 0 when cached) */
    double vector_ms;   /* the vector ranking (index search and filters) */
    double page_ms;     /* fusion and reading the page's rows */
} cs_search_timings;

typedef struct cs_results {
    size_t count;
    cs_result *items;
    size_t total_candidates;  /* distinct images found by any source */
    double took_ms;
    cs_search_timings timings;
    char *fts_query;          /* the FTS5 expression that was run (for explain) */
    char *warning;            /* why a ranking the search would have used did
                                 not run (the CLIP model cannot be loaded),
                                 NULL when none */
    int embeddings_computed;  /* query texts run through the CLIP text tower */
    int embeddings_cached;    /* query texts whose embedding came from the
                                 library's cache (cs_library_query_cache_stats) */
    size_t nterms;            /* a composed query's terms (see cs_search), */
    cs_query_term *terms;     /* NULL for plain text */
    const char *vector_filter;    /* how a filtered vector ranking was made:
                                     "post-filter" (the index asked for more
                                     candidates, each checked) or
                                     "id-selector" (the index searched only
                                     the images the filter keeps) or
                                     "stored" (the few images it keeps
                                     scored by their stored embeddings);
                                     NULL when no filtered vector ranking
                                     ran */
    const char *filter_list;      /* a filter keeping too many images to list
                                     for every search, listed for the vector
                                     ranking of an IVF index: "listed" (by
                                     this search) or "kept" (the list of an
                                     earlier search of this handle, the
                                     catalog unchanged since); NULL
                                     otherwise */
} cs_results;

/* Restricts results; unset fields (NULL / has_* = 0) do not filter. */
typedef struct cs_filter {
    const char *folder;   /* images in this folder or below (absolute path) */
    int has_from;
    int64_t from;         /* taken_at >= from (wall-clock seconds, see cs_result) */
    int has_to;
    int64_t to;           /* taken_at <= to */
    const char *type;     /* format name: "jpeg", "png", "gif", "webp", "heif", ... */
    const char *camera;   /* camera make or model contains this text (ASCII
                             letters case-insensitive; "" = no filter) */
    int has_text;         /* only images where OCR read some text */
    int has_faces;        /* only images where the tagger found a face */
} cs_filter;

typedef struct cs_search_options {
    int k;                /* results wanted; 0 = 20 */
    int offset;           /* results to skip (paging) */
    int explain;          /* fill sources[] */
    double text_weight;   /* RRF weight of the text list; 0 = 1.0 */
    int rrf_k;            /* RRF constant; 0 = 60 */
    cs_filter filter;
    int has_alpha;        /* alpha is set; otherwise 0.5 */
    double alpha;         /* text search in a library whose vectors are a
                             CLIP model's: 0 = the text ranking only (the
                             text encoder does not run), 1 = the vector
                             ranking only, between = both fused with RRF
                             weights (1 - alpha) * text_weight and alpha.
                             Outside 0..1 is CS_ERR_INVALID. */
} cs_search_options;

/* Ranked text search: the FTS5 ranking of captions, tags, text, names and
 * related words; when the library's vectors are a CLIP model's and its
 * folder loads, fused with the vector ranking of the query's CLIP text
 * embedding (see alpha). Without the model the text ranking serves alone
 * and results->warning says why.
 *
 * A composed query is double-quoted terms joined by + and -, each with an
 * optional weight prefix: "beach" + 2:"sunset" - "people" (at most
 * CS_MAX_QUERY_TERMS terms, weights from 0 to 100 exclusive of 0). Its
 * vector is the re-normalised sum of the terms' embeddings times their
 * signed weights; its text side searches the positive terms as phrases,
 * OR'ed, without images matching a negative one. Text of any other shape
 * is plain text. A malformed composed query (a bad weight, an empty term,
 * too many terms) is CS_ERR_INVALID.
 *
 * A query without words to rank by, blank or exclusions alone ("-dog
 * -cat"), lists the images the filter keeps that match no excluded word,
 * newest first (date taken, then the latest added; undated last), as the
 * one source "date" (its raw score the date); results->fts_query is then
 * NOT (the excluded words' expression). Other text without words
 * (punctuation alone) finds nothing.
 *
 * Query embeddings are cached per library handle (model id + exact text,
 * CS_QUERY_CACHE_SIZE entries, least recently used dropped first), so a
 * repeated or paged query does not run the text tower again. */
#define CS_MAX_QUERY_TERMS 16
#define CS_QUERY_CACHE_SIZE 256
cs_status cs_search(cs_library *lib, const char *query,
                    const cs_search_options *options, cs_results **out,
                    cs_error *err);
/* Images that look like image `id` (by the stored image embedding). */
cs_status cs_search_similar(cs_library *lib, int64_t id,
                            const cs_search_options *options, cs_results **out,
                            cs_error *err);
/* Images that look like the picture in `data` (any supported format),
 * embedded the way the library's vectors were (colour layout, the tagger's
 * features, or the CLIP model's image tower). */
cs_status cs_search_image(cs_library *lib, const uint8_t *data, size_t len,
                          const cs_search_options *options, cs_results **out,
                          cs_error *err);
void cs_results_free(cs_results *results);

/* ---- one image ---- */

typedef struct cs_tag {
    char *tag;
    char *kind;           /* "color", "shape", "date", "camera", "format", ... */
    double score;
} cs_tag;

typedef struct cs_image_info {
    int64_t id;
    char *path;
    char *folder;
    int64_t size;
    int64_t mtime_ns;
    char *content_hash;
    int width, height;
    char *format;
    int has_taken_at;
    int64_t taken_at;
    char *camera_make;    /* "" when unknown */
    char *camera_model;
    int has_gps;
    double gps_lat, gps_lon;
    int has_phash;
    uint64_t phash;
    char *caption;
    char *path_words;
    char *exif_text;
    char *ocr;
    size_t ntags;
    cs_tag *tags;         /* by kind, then score (highest first) */
} cs_image_info;

/* Everything the catalog knows about image `id`. CS_ERR_NOT_FOUND if none. */
cs_status cs_image_get(cs_library *lib, int64_t id, cs_image_info **out, cs_error *err);
void cs_image_info_free(cs_image_info *info);

/* A JPEG thumbnail whose longer side is `size` pixels (16..1024; never
 * larger than the original), EXIF orientation applied. Made once and kept in
 * the library's thumbs/ folder; later calls read the file. *jpeg is malloc'd. */
cs_status cs_thumbnail(cs_library *lib, int64_t id, int size, uint8_t **jpeg, size_t *len,
                       cs_error *err);

/* ---- long-running readers (the server) ---- */

/* Checks whether the catalog changed (another process indexed) and, if so,
 * swaps in a vector index that matches it. Searches running meanwhile keep
 * using the old one. *changed (may be NULL) says whether anything changed.
 * A library handle may be used by several threads at once for searches,
 * cs_image_get, cs_thumbnail, stats and refresh; cs_index needs its own. */
cs_status cs_library_refresh(cs_library *lib, int *changed, cs_error *err);

/* The query embedding cache of a library handle (see cs_search): lookups
 * that found an embedding (hits) or had to compute one (misses) since the
 * handle was opened, and the entries held. Thread-safe. */
typedef struct cs_query_cache_stats {
    uint64_t hits, misses;
    size_t entries, capacity;
} cs_query_cache_stats;

void cs_library_query_cache_stats(cs_library *lib, cs_query_cache_stats *out);

/* ---- facts about the library ---- */

typedef struct cs_stats {
    int64_t images;
    int64_t vectors;            /* entries in the vector index */
    int64_t embeddings;         /* embeddings of embedding_model in the catalog */
    int64_t errors;
    int64_t generation;
    int schema_version;
    int64_t catalog_bytes;
    int64_t vector_bytes;
    int64_t total_image_bytes;  /* sum of indexed file sizes */
    char embedding_model[128];
    /* How the vector file was repaired when the library was opened. */
    int vectors_rebuilt;
    int64_t vectors_added_on_open;
    int64_t vectors_removed_on_open;
} cs_stats;

cs_status cs_library_stats(cs_library *lib, cs_stats *out, cs_error *err);

typedef struct cs_error_entry {
    char *path;
    char *reason;
    int64_t at;                 /* when it was recorded, unix seconds */
} cs_error_entry;

typedef struct cs_error_list {
    size_t count;
    cs_error_entry *items;
} cs_error_list;

cs_status cs_library_errors(cs_library *lib, cs_error_list **out, cs_error *err);
void cs_error_list_free(cs_error_list *list);

typedef struct cs_duplicate_group {
    size_t count;
    int64_t *ids;
    char **paths;
    int *distances;            /* Hamming distance of each member to the first */
} cs_duplicate_group;

typedef struct cs_duplicate_groups {
    size_t count;
    cs_duplicate_group *groups;
} cs_duplicate_groups;

/* Groups images whose 64-bit perceptual hashes differ in at most
 * `max_distance` bits (0..16). */
cs_status cs_library_duplicates(cs_library *lib, int max_distance,
                                cs_duplicate_groups **out, cs_error *err);
void cs_duplicate_groups_free(cs_duplicate_groups *groups);

#ifdef __cplusplus
}
#endif

#endif
