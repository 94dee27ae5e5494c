/* Checksums as the Hub lists them: SHA-256 for LFS files, git's blob id
 * (SHA-1 of "blob <size>\0" + content) for the others. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/hub/hub.h"

#define READ_CHUNK (1u << 20)

static cs_status digest_fd(int fd, const char *path, bool lfs, uint64_t size, char hex[65],
                           cs_error *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = malloc(READ_CHUNK);
    cs_status rc = CS_OK;
    if (!ctx || !buf) {
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory checking %s", path);
        goto done;
    }
    if (EVP_DigestInit_ex(ctx, lfs ? EVP_sha256() : EVP_sha1(), NULL) != 1) {
        rc = cs_error_set(err, CS_ERR_UNSUPPORTED, "OpenSSL cannot compute %s",
                          lfs ? "SHA-256" : "SHA-1");
        goto done;
    }
    if (!lfs) {
        char header[32];
        int n = snprintf(header, sizeof header, "blob %llu", (unsigned long long)size);
        EVP_DigestUpdate(ctx, header, (size_t)n + 1);   /* the NUL byte belongs to it */
    }
    for (;;) {
        ssize_t n = read(fd, buf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cs_error_errno(err, errno, "cannot read", path);
            goto done;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_DigestFinal_ex(ctx, md, &md_len);
    for (unsigned int i = 0; i < md_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
done:
    free(buf);
    EVP_MD_CTX_free(ctx);
    return rc;
}

cs_status hub_file_checksum(const char *path, bool lfs, char hex[65], uint64_t *size,
                            cs_error *err)
{
    hex[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cs_error_errno(err, errno, "cannot open", path);
    struct stat st;
    cs_status rc;
    if (fstat(fd, &st) != 0) {
        rc = cs_error_errno(err, errno, "cannot stat", path);
    } else {
        *size = (uint64_t)st.st_size;
        rc = digest_fd(fd, path, lfs, *size, hex, err);
    }
    close(fd);
    return rc;
}

bool hub_file_matches(const char *path, const hub_file *file)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != file->size)
        return false;
    char hex[65];
    uint64_t size;
    cs_error ignored;
    return hub_file_checksum(path, file->lfs, hex, &size, &ignored) == CS_OK &&
           size == file->size && strcmp(hex, file->oid) == 0;
}
