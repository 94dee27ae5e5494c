/* One file of a model: downloaded into FILE.part (resuming what an earlier
 * pull left), checked against the Hub's size and checksum, renamed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "models/hub/hub.h"

void hub_report(const hub_session *session, const cs_pull_progress *progress)
{
    if (session->progress)
        session->progress(progress, session->progress_user);
}

typedef struct fetch_state {
    hub_session *session;
    const hub_file *file;
    size_t index;
    uint64_t resumed_from;
    double started;
} fetch_state;

static void report(const fetch_state *f, cs_pull_event event, uint64_t done, const char *message)
{
    cs_pull_progress p = {
        .event = event, .file = f->file->path, .index = f->index,
        .count = f->session->count, .done = done, .size = f->file->size,
        .resumed_from = f->resumed_from, .elapsed_s = fs_now_seconds() - f->started,
        .message = message,
    };
    hub_report(f->session, &p);
}

static void on_bytes(uint64_t in_file, void *user)
{
    report(user, CS_PULL_FILE_BYTES, in_file, NULL);
}

static void note(const fetch_state *f, const char *what)
{
    char message[256];
    snprintf(message, sizeof message, "%s %s", f->file->path, what);
    report(f, CS_PULL_NOTE, 0, message);
}

/* Adds to a failure what was kept and how to go on. */
static cs_status keep_hint(cs_error *err, const char *part, const hub_file *file)
{
    int64_t kept = fs_file_size(part);
    if (kept <= 0)
        return err->code;
    char message[CS_ERROR_MESSAGE_MAX];
    memcpy(message, err->message, sizeof message);
    return cs_error_set(err, err->code,
                        "%s (%lld of %llu bytes of %s kept: run the same command again to resume)",
                        message, (long long)kept, (unsigned long long)file->size, file->path);
}

/* Requests what FILE.part lacks. *resumed: bytes already there were kept. */
static cs_status download(fetch_state *f, const char *url, const char *part, bool *resumed,
                          bool *refused_range, cs_error *err)
{
    hub_session *s = f->session;
    const hub_file *file = f->file;
    *resumed = *refused_range = false;
    int64_t have = fs_file_size(part);
    if (have > 0 && (uint64_t)have > file->size) {
        note(f, "is larger in the unfinished download than on the Hub: downloading it again");
        unlink(part);
        have = 0;
    }
    if (have < 0)
        have = 0;
    f->resumed_from = (uint64_t)have;
    f->started = fs_now_seconds();
    report(f, CS_PULL_FILE_START, (uint64_t)have, NULL);
    if (have > 0 && (uint64_t)have == file->size) {
        *resumed = true;   /* the last pull stopped between download and check */
        return CS_OK;
    }
    int fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return cs_error_errno(err, errno, "cannot create", part);
    hub_get get = {.url = url, .fd = fd, .path = part, .offset = (uint64_t)have,
                   .limit = file->size, .on_bytes = on_bytes, .user = f};
    strbuf_init(&get.body);
    cs_status rc = hub_http_get(s->http, &get, err);
    s->bytes_received += get.received;
    if (rc == CS_OK && get.status == 416 && have > 0)
        *refused_range = true;
    else if (rc == CS_OK && (get.status < 200 || get.status >= 300))
        rc = hub_status_error(&get, hub_http_has_token(s->http), s->name, s->revision,
                              file->path, err);
    if (rc == CS_OK && get.restarted) {
        f->resumed_from = 0;
        note(f, "was sent whole instead of the missing part: the download started over");
    }
    *resumed = have > 0 && !get.restarted;
    if (rc == CS_OK && fsync(fd) != 0)
        rc = cs_error_errno(err, errno, "cannot write", part);
    if (close(fd) != 0 && rc == CS_OK)
        rc = cs_error_errno(err, errno, "cannot write", part);
    strbuf_free(&get.body);
    return rc == CS_OK ? CS_OK : keep_hint(err, part, file);
}

cs_status hub_fetch_file(hub_session *session, const hub_file *file, size_t index, cs_error *err)
{
    char dest[4096], part[4096], url[8192];
    cs_status rc = hub_join(dest, sizeof dest, session->dir, file->path, err);
    if (rc != CS_OK)
        return rc;
    int n = snprintf(part, sizeof part, "%s%s", dest, HUB_PART_SUFFIX);
    int m = snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", session->endpoint, session->name,
                     session->revision, file->path);
    if (n < 0 || (size_t)n >= sizeof part || m < 0 || (size_t)m >= sizeof url)
        return cs_error_set(err, CS_ERR_INVALID, "path or URL too long for %s", file->path);
    fetch_state f = {.session = session, .file = file, .index = index};
    for (int attempt = 0;; attempt++) {
        bool resumed, refused_range;
        rc = download(&f, url, part, &resumed, &refused_range, err);
        if (rc != CS_OK)
            return rc;
        if (refused_range) {
            /* 416: what is kept does not fit the file any more */
            unlink(part);
            if (attempt > 0)
                return cs_error_set(err, CS_ERR_IO, "%s: the server refused every range (HTTP 416)",
                                    url);
            note(&f, "could not be resumed (HTTP 416): downloading it again");
            continue;
        }
        char hex[65];
        uint64_t size = 0;
        rc = hub_file_checksum(part, file->lfs, hex, &size, err);
        if (rc != CS_OK)
            return rc;
        if (size != file->size)
            return cs_error_set(err, CS_ERR_IO,
                                "%s: the download ended after %llu of %llu bytes (kept in %s: "
                                "run the same command again to resume)", url,
                                (unsigned long long)size, (unsigned long long)file->size, part);
        if (strcmp(hex, file->oid) != 0) {
            unlink(part);
            if (resumed && attempt == 0) {
                note(&f, "does not match its checksum after resuming: downloading it again");
                continue;
            }
            return cs_error_set(err, CS_ERR_CORRUPT,
                                "%s does not match the Hub's checksum: expected %s %s, got %s (the "
                                "download was deleted; run the command again, and check any proxy "
                                "if this repeats)", file->path, file->lfs ? "SHA-256" : "git SHA-1",
                                file->oid, hex);
        }
        if (rename(part, dest) != 0)
            return cs_error_errno(err, errno, "cannot rename", part);
        fs_sync_parent(dest);
        report(&f, CS_PULL_FILE_DONE, size, NULL);
        return CS_OK;
    }
}
