#include "common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/array.h"

cs_status fs_read_file(const char *path, uint64_t max_bytes, uint8_t **out,
                       size_t *len, cs_error *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cs_error_errno(err, errno, "cannot open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return cs_error_errno(err, e, "cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cs_error_set(err, CS_ERR_INVALID, "'%s' is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return cs_error_set(err, CS_ERR_TOO_LARGE,
                            "'%s' is %lld bytes, over the limit of %llu bytes", path,
                            (long long)st.st_size, (unsigned long long)max_bytes);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading '%s' (%zu bytes)", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return cs_error_errno(err, e, "cannot read", path);
        }
        if (n == 0)
            break;   /* the file shrank while we read it: keep what is there */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = 0;
    *out = buf;
    *len = got;
    return CS_OK;
}

cs_status fs_mkdir_p(const char *path, cs_error *err)
{
    size_t n = strlen(path);
    if (n == 0)
        return cs_error_set(err, CS_ERR_INVALID, "empty folder name");
    char *tmp = strdup(path);
    if (!tmp)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (char *p = tmp + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                cs_status rc = cs_error_errno(err, errno, "cannot create folder", tmp);
                free(tmp);
                return rc;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    free(tmp);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return cs_error_set(err, CS_ERR_IO, "'%s' exists and is not a folder", path);
    return CS_OK;
}

void fs_sync_parent(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);   /* best effort: makes the rename durable */
        close(fd);
    }
    free(dir);
}

cs_status fs_write_atomic(const char *path, fs_write_fn write_fn, void *user,
                          cs_error *err)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp-XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        cs_status rc = cs_error_errno(err, errno, "cannot create temporary file", tmp);
        free(tmp);
        return rc;
    }
    /* mkstemp creates 0600; the file replaces one anybody could read. */
    fchmod(fd, 0644);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        cs_status rc = cs_error_errno(err, errno, "cannot open temporary file", tmp);
        close(fd);
        unlink(tmp);
        free(tmp);
        return rc;
    }
    cs_status rc = write_fn(f, user, err);
    if (rc == CS_OK && fflush(f) != 0)
        rc = cs_error_errno(err, errno, "cannot write", tmp);
    if (rc == CS_OK && fsync(fileno(f)) != 0)
        rc = cs_error_errno(err, errno, "cannot sync", tmp);
    if (fclose(f) != 0 && rc == CS_OK)
        rc = cs_error_errno(err, errno, "cannot close", tmp);
    if (rc == CS_OK && rename(tmp, path) != 0)
        rc = cs_error_errno(err, errno, "cannot replace", path);
    if (rc != CS_OK)
        unlink(tmp);
    else
        fs_sync_parent(path);
    free(tmp);
    return rc;
}

/* Folders nest at most this deep below the one removed or measured. */
#define TREE_MAX_DEPTH 64

/* Removes everything in the folder open as `fd` (closed here); 0 or an errno. */
static int remove_contents(int fd, int depth)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        int e = errno;
        close(fd);
        return e;
    }
    int rc = 0;
    struct dirent *entry;
    while (rc == 0 && (entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (unlinkat(dirfd(dir), name, 0) == 0)
            continue;
        if (errno != EISDIR) {
            rc = errno;
            break;
        }
        if (depth >= TREE_MAX_DEPTH) {
            rc = ELOOP;
            break;
        }
        int sub = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = sub < 0 ? errno : remove_contents(sub, depth + 1);
        if (rc == 0 && unlinkat(dirfd(dir), name, AT_REMOVEDIR) != 0)
            rc = errno;
    }
    closedir(dir);
    return rc;
}

cs_status fs_remove_tree(const char *path, cs_error *err)
{
    if (unlink(path) == 0 || errno == ENOENT)
        return CS_OK;
    if (errno != EISDIR)
        return cs_error_errno(err, errno, "cannot remove", path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = fd < 0 ? errno : remove_contents(fd, 0);
    if (rc == 0 && rmdir(path) != 0)
        rc = errno;
    return rc ? cs_error_errno(err, rc, "cannot remove", path) : CS_OK;
}

static uint64_t tree_bytes_at(int fd, int depth)
{
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return 0;
    }
    uint64_t total = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        struct stat st;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISREG(st.st_mode)) {
            total += (uint64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode) && depth < TREE_MAX_DEPTH) {
            int sub = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                total += tree_bytes_at(sub, depth + 1);
        }
    }
    closedir(dir);
    return total;
}

uint64_t fs_tree_bytes(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? 0 : tree_bytes_at(fd, 0);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void fs_free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

cs_status fs_list_dir(DIR *dir, char ***names, size_t *count, cs_error *err)
{
    char **list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *entry;
    *names = NULL;
    *count = 0;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        if (!ARRAY_RESERVE(list, cap, n) || !(list[n] = strdup(entry->d_name))) {
            fs_free_names(list, n);
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing a folder");
        }
        n++;
    }
    if (n)
        qsort(list, n, sizeof *list, compare_names);
    *names = list;
    *count = n;
    return CS_OK;
}

cs_status fs_list_folder(const char *path, char ***names, size_t *count, cs_error *err)
{
    *names = NULL;
    *count = 0;
    DIR *dir = opendir(path);
    if (!dir)
        return cs_error_errno(err, errno, "cannot read folder", path);
    cs_status rc = fs_list_dir(dir, names, count, err);
    closedir(dir);
    return rc;
}

char *fs_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    bool slash = la > 0 && a[la - 1] != '/';
    char *s = malloc(la + lb + 2);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    if (slash)
        s[la++] = '/';
    memcpy(s + la, b, lb + 1);
    return s;
}

int64_t fs_file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (int64_t)st.st_size;
}

double fs_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
