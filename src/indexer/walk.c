/* Recursive folder walk. Hidden entries (names starting with '.') are
 * skipped; symlinks to files are followed, symlinks to folders are not (they
 * would allow cycles and index the same photos twice). Entries are visited in
 * name order so runs are reproducible. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/strbuf.h"
#include "image/image.h"
#include "indexer/walk.h"

typedef struct walker {
    const walk_callbacks *cb;
    volatile int *cancel;
    strbuf path;
} walker;

static void report_unreadable(walker *w, int errnum)
{
    if (w->cb->on_unreadable)
        w->cb->on_unreadable(w->path.data, errnum, w->cb->user);
}

static cs_status walk_folder(walker *w, int depth, cs_error *err);

static cs_status visit(walker *w, int dirfd, const char *name, int depth, cs_error *err)
{
    size_t base = w->path.len;
    if (base == 0 || w->path.data[base - 1] != '/')   /* the root may be "/" */
        strbuf_append_char(&w->path, '/');
    strbuf_append(&w->path, name);
    if (strbuf_failed(&w->path))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    struct stat lst, st;
    cs_status rc = CS_OK;
    if (fstatat(dirfd, name, &lst, AT_SYMLINK_NOFOLLOW) != 0) {
        report_unreadable(w, errno);
    } else if (S_ISDIR(lst.st_mode)) {
        rc = walk_folder(w, depth + 1, err);
    } else if (w->cb->on_file && image_has_known_extension(name)) {
        bool ok = true;
        if (S_ISLNK(lst.st_mode))
            ok = fstatat(dirfd, name, &st, 0) == 0 && S_ISREG(st.st_mode);
        else
            st = lst, ok = S_ISREG(lst.st_mode);
        if (ok) {
            int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
            rc = w->cb->on_file(w->path.data, (int64_t)st.st_size, mtime_ns, w->cb->user, err);
        }
    }
    w->path.len = base;
    w->path.data[base] = '\0';
    return rc;
}

/* Folders nest at most this deep; deeper ones are reported, not walked. */
#define MAX_DEPTH 256

static cs_status walk_folder(walker *w, int depth, cs_error *err)
{
    if (depth > MAX_DEPTH) {
        report_unreadable(w, ELOOP);
        return CS_OK;
    }
    int fd = open(w->path.data, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        report_unreadable(w, errno);
        if (fd >= 0)
            close(fd);
        return CS_OK;
    }
    cs_status rc = w->cb->on_folder ? w->cb->on_folder(w->path.data, w->cb->user, err) : CS_OK;
    char **names = NULL;
    size_t count = 0;
    if (rc == CS_OK)
        rc = fs_list_dir(dir, &names, &count, err);
    for (size_t i = 0; i < count; i++) {
        if (rc == CS_OK && !(w->cancel && *w->cancel))
            rc = visit(w, dirfd(dir), names[i], depth, err);
        free(names[i]);
    }
    free(names);
    closedir(dir);
    return rc;
}

cs_status walk_tree(const char *root, const walk_callbacks *callbacks, volatile int *cancel,
                    cs_error *err)
{
    walker w = {callbacks, cancel, {0}};
    strbuf_init(&w.path);
    strbuf_append(&w.path, root);
    cs_status rc = strbuf_failed(&w.path) ? cs_error_set(err, CS_ERR_NOMEM, "out of memory")
                                          : walk_folder(&w, 0, err);
    strbuf_free(&w.path);
    return rc;
}
