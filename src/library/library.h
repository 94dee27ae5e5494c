/* The library object behind the public cs_library handle: a folder with the
 * catalog, the vector file and caches. Shared by the indexer, search and the
 * reports; the CLI and server see only capsearch.h. */
#ifndef CS_LIBRARY_LIBRARY_H
#define CS_LIBRARY_LIBRARY_H

#include <pthread.h>
#include <stdbool.h>

#include "capsearch/capsearch.h"
#include "models/tagger/tagger.h"
#include "store/store.h"

#define LIBRARY_CATALOG_FILE "catalog.db"
#define LIBRARY_VECTORS_FILE "vectors.faiss"
#define LIBRARY_LOCK_FILE "index.lock"

struct cs_library {
    char *dir;
    char *catalog_path;
    char *vectors_path;
    char *lock_path;
    char *model;              /* embedding model the vector index holds */
    char **retired_models;    /* earlier names of `model`, freed at close
                                 (a reader may still be looking at one) */
    size_t nretired;
    bool read_only;
    catalog *cat;             /* the connection of the thread that indexes */
    vectors *vec;             /* NULL until there is an embedding; swapped by
                                 cs_library_refresh under `mu` */
    reconcile_report reconcile;
    int64_t generation;       /* catalog generation `vec` reflects */
    pthread_mutex_t mu;       /* guards vec, generation and the reader pool */
    pthread_mutex_t refresh_mu;   /* one refresh at a time */
    tagger *tagger;           /* loaded on first search by picture when the
                                 vectors are the tagger's */
    tagger_session *tagger_session;   /* one, used under tagger_mu */
    pthread_mutex_t tagger_mu;
    cs_clip_model *clip;      /* the CLIP model of the vectors, opened on the
                                 first text or picture search (clip_model.c) */
    bool clip_text_only;      /* `clip` has its text tower alone (texts so far) */
    char *clip_for;           /* the model id `clip` was opened (or failed) for */
    cs_error clip_error;      /* why it failed, kept until the id changes */
    pthread_mutex_t clip_mu;  /* guards the four: a model runs one call at a time */
    struct query_cache *query_cache;   /* query text embeddings (query_cache.h) */
    struct filter_lists *filter_lists; /* broad filters' images (filter_lists.h) */
    catalog **readers;        /* idle reader connections */
    size_t nreaders, capreaders;
};

/* Concurrent readers (server threads) each borrow a catalog connection from
 * a pool; the handle's own `cat` belongs to the thread that indexes. A
 * borrowed connection must be given back with library_release_reader. */
catalog *library_acquire_reader(cs_library *lib, cs_error *err);
void library_release_reader(cs_library *lib, catalog *reader);

/* The current vector index with a reference held (NULL when there is none);
 * give it back with vectors_release. cs_library_refresh may swap in a newer
 * one meanwhile; the borrowed one stays valid until released. */
vectors *library_acquire_vectors(cs_library *lib);

/* Takes the library's writer lock (one indexer at a time). CS_ERR_BUSY when
 * another process holds it. *fd is released by library_unlock. */
cs_status library_lock(cs_library *lib, int *fd, cs_error *err);
void library_unlock(int fd);

/* Moves the library to another embedding model: its name, and the vector
 * index rebuilt from the catalog's embeddings of that model (saved). The
 * caller has recorded it in the catalog's meta. */
cs_status library_set_model(cs_library *lib, const char *model, cs_error *err);

/* The tagger's feature vector of a picture (RGB, orientation applied,
 * decoded with TAGGER_DECODE_MIN_SIDE), with the installed models loaded
 * once per library. CS_ERR_NOT_FOUND when the models are missing. */
cs_status library_tagger_features(cs_library *lib, const cs_image *image,
                                  float out[TAGGER_FEATURE_DIM], cs_error *err);

/* Saves the in-memory vector index stamped with the catalog's generation. */
cs_status library_save_vectors(cs_library *lib, cs_error *err);

#endif
