/* Fetching CLIP models from the Hugging Face Hub (cs_model_pull) and listing
 * the models folder (cs_model_list_read): what the pieces share. */
#ifndef CS_MODELS_HUB_HUB_H
#define CS_MODELS_HUB_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "models/hub/hub_http.h"

/* The files of a model folder that capsearch uses, in download order (the
 * small ones first, so a wrong repository fails fast). */
typedef struct hub_known_file {
    const char *path;
    bool required;
} hub_known_file;

extern const hub_known_file hub_known_files[];
extern const size_t hub_known_count;

/* Whether `path` is one of hub_known_files. */
bool hub_is_known_file(const char *path);

/* A folder name ending in this holds a pull in progress or interrupted; a
 * file ending in HUB_PART_SUFFIX is a download in progress. */
#define HUB_PARTIAL_SUFFIX ".partial"
#define HUB_PART_SUFFIX ".part"

/* One file to fetch, as the Hub lists it. */
typedef struct hub_file {
    const char *path;      /* one of hub_known_files */
    uint64_t size;
    bool lfs;              /* checksum: SHA-256 (LFS files) or git's blob SHA-1 */
    char oid[65];          /* the expected checksum, lower-case hex */
} hub_file;

typedef struct hub_plan {
    hub_file files[8];
    size_t count;
    uint64_t total;        /* bytes, all files */
} hub_plan;

/* Reads the Hub's tree listing (a JSON array) into the files to fetch. Fails
 * when a required file is missing, with a message saying what the repository
 * has instead (no model.safetensors: only safetensors weights are read). */
cs_status hub_tree_parse(const char *json, size_t len, const char *name, const char *revision,
                         hub_plan *plan, cs_error *err);

/* GET {endpoint}/api/models/{name}/tree/{revision}, parsed. */
cs_status hub_tree_fetch(hub_http *http, const char *endpoint, const char *name,
                         const char *revision, hub_plan *plan, cs_error *err);

/* The checksum of a file the way the Hub lists it: SHA-256 of the content
 * (lfs) or SHA-1 of "blob <size>\0" + content (git's blob id), as lower-case
 * hex. *size receives the file's size. */
cs_status hub_file_checksum(const char *path, bool lfs, char hex[65], uint64_t *size,
                            cs_error *err);

/* Whether `path` exists with the file's size and checksum. */
bool hub_file_matches(const char *path, const hub_file *file);

/* Turns an unexpected HTTP status into a message a user can act on. `file`
 * is NULL for the file listing, else the file being downloaded. */
cs_status hub_status_error(const hub_get *get, bool have_token, const char *name,
                           const char *revision, const char *file, cs_error *err);

/* Where one pull is: shared by the file fetches. */
typedef struct hub_session {
    hub_http *http;
    const char *endpoint, *name, *revision;
    const char *dir;                 /* NAME.partial/ */
    void (*progress)(const cs_pull_progress *progress, void *user);
    void *progress_user;
    size_t count;                    /* files in the plan */
    uint64_t bytes_received;
} hub_session;

/* Downloads one file into session->dir: into FILE.part (continuing what an
 * earlier pull left there with a Range request), checked, then renamed to
 * FILE. A checksum mismatch deletes the .part and fails naming both sums;
 * after a resumed download it first retries once from the start. */
cs_status hub_fetch_file(hub_session *session, const hub_file *file, size_t index,
                         cs_error *err);

/* Reports a progress event when the caller asked for them. */
void hub_report(const hub_session *session, const cs_pull_progress *progress);

/* Checks a revision (branch, tag or commit) before it goes into URLs: 1 to
 * 128 characters of [A-Za-z0-9._-], not starting with '.', without "..". */
cs_status hub_check_revision(const char *revision, cs_error *err);

/* *dir, or when it is NULL the default models folder (cs_models_root,
 * written into buf). */
cs_status hub_models_dir(const char **dir, char *buf, size_t size, cs_error *err);

bool hub_ends_with(const char *s, const char *suffix);

/* Writes "a/b" into out; fails when it does not fit. */
cs_status hub_join(char *out, size_t size, const char *a, const char *b, cs_error *err);

#endif
