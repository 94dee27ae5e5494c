/* cs_model_pull: the file list, what is already there, the downloads, and
 * the folder put in place once every file is verified. Everything is
 * gathered in NAME.partial/ (locked, so two pulls of one model do not mix),
 * which then takes the model's name; the model's folder is never half
 * written. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "models/hub/hub.h"

#define DEFAULT_ENDPOINT "https://huggingface.co"
#define DEFAULT_TIMEOUT_S 30

typedef struct pull_settings {
    const char *revision;
    char endpoint[2048];
    const char *token;
    int timeout_s;
} pull_settings;

static cs_status read_settings(const cs_pull_options *o, pull_settings *s, cs_error *err)
{
    s->revision = o && o->revision ? o->revision : "main";
    const char *endpoint = o && o->endpoint ? o->endpoint : getenv("CAPSEARCH_HF_ENDPOINT");
    if (!endpoint || !*endpoint)
        endpoint = DEFAULT_ENDPOINT;
    if (strncmp(endpoint, "https://", 8) != 0 && strncmp(endpoint, "http://", 7) != 0)
        return cs_error_set(err, CS_ERR_INVALID,
                            "the Hub's address must start with https:// (or http://): '%s'",
                            endpoint);
    size_t len = strlen(endpoint);
    while (len > 8 && endpoint[len - 1] == '/')
        len--;
    if (len >= sizeof s->endpoint)
        return cs_error_set(err, CS_ERR_INVALID, "the Hub's address is too long");
    memcpy(s->endpoint, endpoint, len);
    s->endpoint[len] = '\0';
    s->token = o && o->token ? o->token : getenv("HF_TOKEN");
    if (s->token && !*s->token)
        s->token = NULL;
    s->timeout_s = o && o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S;
    const char *timeout = getenv("CAPSEARCH_HUB_TIMEOUT");
    if (!(o && o->timeout_s > 0) && timeout && *timeout) {
        char *end = NULL;
        long v = strtol(timeout, &end, 10);
        if (*end || v < 1 || v > 3600)
            return cs_error_set(err, CS_ERR_INVALID,
                                "CAPSEARCH_HUB_TIMEOUT must be a number of seconds from 1 to "
                                "3600, not '%s'", timeout);
        s->timeout_s = (int)v;
    }
    return hub_check_revision(s->revision, err);
}

/* Creates NAME.partial/ and locks it; *fd holds the lock. */
static cs_status lock_partial(const char *partial, const char *name, int *fd_out, cs_error *err)
{
    for (int tries = 0; tries < 5; tries++) {
        if (mkdir(partial, 0755) != 0 && errno != EEXIST)
            return cs_error_errno(err, errno, "cannot create folder", partial);
        int fd = open(partial, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            continue;   /* another pull just put it in place */
        if (fd < 0)
            return cs_error_errno(err, errno, "cannot open folder", partial);
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                return cs_error_set(err, CS_ERR_BUSY, "another pull of %s is running (it holds %s)",
                                    name, partial);
            return cs_error_errno(err, e, "cannot lock", partial);
        }
        struct stat held, now;
        if (fstat(fd, &held) == 0 && stat(partial, &now) == 0 && held.st_dev == now.st_dev &&
            held.st_ino == now.st_ino) {
            *fd_out = fd;
            return CS_OK;
        }
        close(fd);   /* renamed away while we waited: take the new one */
    }
    return cs_error_set(err, CS_ERR_BUSY, "%s keeps changing: is another pull of %s running?",
                        partial, name);
}

static void report_present(hub_session *s, const hub_file *file, size_t index)
{
    cs_pull_progress p = {.event = CS_PULL_FILE_PRESENT, .file = file->path, .index = index,
                          .count = s->count, .done = file->size, .size = file->size};
    hub_report(s, &p);
}

/* Gathers every file of the plan in NAME.partial/: what is there already
 * (from an interrupted pull, or linked from the model's folder when it has
 * the file unchanged), then the downloads. */
static cs_status gather(hub_session *s, const hub_plan *plan, const char *final,
                        cs_pull_result *result, cs_error *err)
{
    for (size_t i = 0; i < plan->count; i++) {
        const hub_file *file = &plan->files[i];
        char in_partial[4096], in_final[4096];
        cs_status rc = hub_join(in_partial, sizeof in_partial, s->dir, file->path, err);
        if (rc == CS_OK)
            rc = hub_join(in_final, sizeof in_final, final, file->path, err);
        if (rc != CS_OK)
            return rc;
        if (hub_file_matches(in_partial, file)) {
            report_present(s, file, i + 1);
            continue;
        }
        if (hub_file_matches(in_final, file)) {
            unlink(in_partial);
            if (link(in_final, in_partial) == 0) {
                report_present(s, file, i + 1);
                continue;
            }
        }
        if ((rc = hub_fetch_file(s, file, i + 1, err)) != CS_OK)
            return rc;
        result->downloaded++;
    }
    /* Files of ours the plan does not have (an older revision's) go. */
    for (size_t k = 0; k < hub_known_count; k++) {
        bool planned = false;
        for (size_t i = 0; i < plan->count; i++)
            planned = planned || strcmp(plan->files[i].path, hub_known_files[k].path) == 0;
        char path[4096], part[4096];
        int n = snprintf(path, sizeof path, "%s/%s", s->dir, hub_known_files[k].path);
        int m = snprintf(part, sizeof part, "%s%s", path, HUB_PART_SUFFIX);
        if (!planned && n > 0 && (size_t)n < sizeof path && m > 0 && (size_t)m < sizeof part) {
            unlink(path);
            unlink(part);
        }
    }
    return CS_OK;
}

/* Moves what else the model's folder holds (the user's own files) into the
 * new one, so that replacing the folder loses nothing but our old files. */
static cs_status carry_over(const char *final, const char *partial, cs_error *err)
{
    DIR *dir = opendir(final);
    if (!dir)
        return errno == ENOENT ? CS_OK : cs_error_errno(err, errno, "cannot read folder", final);
    cs_status rc = CS_OK;
    struct dirent *entry;
    while (rc == CS_OK && (entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || hub_is_known_file(name) ||
            hub_ends_with(name, HUB_PART_SUFFIX))
            continue;
        char from[4096], to[4096];
        rc = hub_join(from, sizeof from, final, name, err);
        if (rc == CS_OK)
            rc = hub_join(to, sizeof to, partial, name, err);
        if (rc == CS_OK && rename(from, to) != 0)
            rc = cs_error_errno(err, errno, "cannot move into the new model folder", from);
    }
    closedir(dir);
    return rc;
}

/* NAME.partial/ becomes NAME/; the old NAME/ goes (via .NAME.old, which a
 * later pull clears if this one is interrupted in between). */
static cs_status put_in_place(const char *partial, const char *final, const char *old,
                              cs_error *err)
{
    char inside[4096];
    if (hub_join(inside, sizeof inside, partial, ".", err) == CS_OK)
        fs_sync_parent(inside);
    cs_status rc = fs_remove_tree(old, err);
    if (rc != CS_OK)
        return rc;
    struct stat st;
    bool replace = lstat(final, &st) == 0;
    if (replace && rename(final, old) != 0)
        return cs_error_errno(err, errno, "cannot move aside", final);
    if (rename(partial, final) != 0) {
        rc = cs_error_errno(err, errno, "cannot rename", partial);
        if (replace)
            rename(old, final);
        return rc;
    }
    fs_sync_parent(final);
    cs_error ignored;
    fs_remove_tree(old, &ignored);   /* a leftover is cleared by the next pull */
    return CS_OK;
}

/* NAME.partial/ and .NAME.old next to the model's folder. */
static cs_status sibling_paths(const char *final, char *partial, char *old, size_t size,
                               cs_error *err)
{
    const char *slash = strrchr(final, '/');
    int n = snprintf(partial, size, "%s%s", final, HUB_PARTIAL_SUFFIX);
    int m = snprintf(old, size, "%.*s/.%s.old", (int)(slash - final), final, slash + 1);
    if (n < 0 || (size_t)n >= size || m < 0 || (size_t)m >= size)
        return cs_error_set(err, CS_ERR_INVALID, "path too long: %s", final);
    return CS_OK;
}

/* The model's folder must be a real folder (or not exist): it is replaced. */
static cs_status check_final(const char *final, cs_error *err)
{
    struct stat st;
    if (lstat(final, &st) != 0)
        return errno == ENOENT ? CS_OK : cs_error_errno(err, errno, "cannot stat", final);
    if (!S_ISDIR(st.st_mode))
        return cs_error_set(err, CS_ERR_INVALID,
                            "'%s' exists and is not a folder (a link?): move it away, or pull "
                            "into another models folder with --dir", final);
    return CS_OK;
}

static cs_status pull_into(hub_session *s, const char *final, cs_pull_result *result,
                           cs_error *err)
{
    hub_plan plan;
    cs_status rc = hub_tree_fetch(s->http, s->endpoint, s->name, s->revision, &plan, err);
    if (rc != CS_OK)
        return rc;
    s->count = plan.count;
    result->files = plan.count;
    cs_pull_progress listed = {.event = CS_PULL_LISTED, .count = plan.count, .size = plan.total};
    hub_report(s, &listed);
    char owner[4096], old[4096];
    snprintf(owner, sizeof owner, "%s", final);
    *strrchr(owner, '/') = '\0';
    if ((rc = check_final(final, err)) != CS_OK || (rc = fs_mkdir_p(owner, err)) != CS_OK)
        return rc;
    char partial[4096];
    if ((rc = sibling_paths(final, partial, old, sizeof partial, err)) != CS_OK)
        return rc;
    int lock = -1;
    if ((rc = lock_partial(partial, s->name, &lock, err)) != CS_OK)
        return rc;
    s->dir = partial;
    rc = gather(s, &plan, final, result, err);
    if (rc == CS_OK)
        rc = carry_over(final, partial, err);
    if (rc == CS_OK)
        rc = put_in_place(partial, final, old, err);
    close(lock);
    return rc;
}

cs_status cs_model_pull(const char *name, const cs_pull_options *options,
                        cs_pull_result *result, cs_error *err)
{
    memset(result, 0, sizeof *result);
    pull_settings settings;
    cs_status rc = read_settings(options, &settings, err);
    if (rc == CS_OK)
        rc = cs_model_folder(options ? options->models_dir : NULL, name, result->dir,
                             sizeof result->dir, err);
    if (rc != CS_OK)
        return rc;
    hub_http_config config = {
        .token = settings.token, .timeout_s = settings.timeout_s,
        .allow_http = strncmp(settings.endpoint, "http://", 7) == 0,
        .cancel = options ? options->cancel : NULL,
    };
    hub_session session = {
        .endpoint = settings.endpoint, .name = name, .revision = settings.revision,
        .progress = options ? options->progress : NULL,
        .progress_user = options ? options->progress_user : NULL,
    };
    if ((rc = hub_http_open(&config, &session.http, err)) != CS_OK)
        return rc;
    rc = pull_into(&session, result->dir, result, err);
    result->bytes_received = session.bytes_received;
    hub_http_close(session.http);
    return rc;
}
