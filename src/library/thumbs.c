/* One image through the public API: its catalog record (cs_image_get) and its
 * JPEG thumbnails (cs_thumbnail).
 *
 * Thumbnails are cached as <library>/thumbs/<id>-<size>.jpg. Ids are never
 * reused for other content, so a cached file never goes stale; the catalog is
 * still asked first on every call, so a deleted image's thumbnails are not
 * served. Each file is written atomically under a unique temporary name:
 * threads making the same thumbnail at once each write a complete file and
 * the last rename wins. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "image/image.h"
#include "library/library.h"

#define THUMB_MIN_SIDE 16
#define THUMB_MAX_SIDE 1024
#define THUMB_QUALITY 85
#define THUMBS_FOLDER "thumbs"
/* A cached 1024-pixel JPEG is far below this; anything bigger is not ours. */
#define THUMB_MAX_FILE_BYTES (16ull << 20)
/* The indexer's default file-size limit: an original it indexed is readable. */
#define ORIGINAL_MAX_FILE_BYTES (256ull << 20)

cs_status cs_image_get(cs_library *lib, int64_t id, cs_image_info **out, cs_error *err)
{
    *out = NULL;
    catalog *reader = library_acquire_reader(lib, err);
    if (!reader)
        return err->code;
    cs_status rc = catalog_image_info(reader, id, out, err);
    library_release_reader(lib, reader);
    return rc;
}

/* The short side to ask the decoder for so that the decoded picture's longer
 * side still covers `size` (0 = full size). Decoders reduce by the short side
 * and round the sides they compute; asking one pixel more than the exact
 * ratio keeps the rounded longer side at or above `size`. */
static int decode_min_side(int width, int height, int size)
{
    int64_t longer = width > height ? width : height;
    int64_t shorter = width > height ? height : width;
    if (shorter <= 0 || longer <= size)
        return 0;
    return (int)(((int64_t)size * shorter + longer - 1) / longer) + 1;
}

/* RGB → baseline JPEG (quality 85, 4:2:0) in a malloc'd buffer. */
static cs_status encode_jpeg(const cs_image *img, uint8_t **jpeg, size_t *len, cs_error *err)
{
    unsigned long cap = tjBufSize(img->width, img->height, TJSAMP_420);
    if (cap == (unsigned long)-1)
        return cs_error_set(err, CS_ERR_INVALID, "cannot size a %dx%d JPEG: %s", img->width,
                            img->height, tjGetErrorStr2(NULL));
    tjhandle tj = tjInitCompress();
    if (!tj)
        return cs_error_set(err, CS_ERR_NOMEM, "cannot start the JPEG encoder: %s",
                            tjGetErrorStr2(NULL));
    /* Our own buffer of the worst-case size, so TurboJPEG never reallocates
     * it and the caller can free() what it gets. */
    unsigned char *buf = malloc(cap);
    unsigned long size = cap;
    cs_status rc = CS_OK;
    if (!buf)
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory encoding a thumbnail");
    else if (tjCompress2(tj, img->pixels, img->width, 0, img->height, TJPF_RGB, &buf, &size,
                         TJSAMP_420, THUMB_QUALITY, TJFLAG_NOREALLOC) != 0)
        rc = cs_error_set(err, CS_ERR_CORRUPT, "cannot encode the thumbnail as JPEG: %s",
                          tjGetErrorStr2(tj));
    tjDestroy(tj);
    if (rc != CS_OK) {
        free(buf);
        return rc;
    }
    /* Give back the unused worst-case tail; keep the big buffer if that fails. */
    unsigned char *shrunk = realloc(buf, size);
    *jpeg = shrunk ? shrunk : buf;
    *len = size;
    return CS_OK;
}

/* Decodes the original of `info` and encodes it at `size`. *partial says the
 * original decoded only in part (truncated, or being written). */
static cs_status make_thumbnail(const cs_image_info *info, int size, uint8_t **jpeg,
                                size_t *len, bool *partial, cs_error *err)
{
    uint8_t *data = NULL;
    size_t n = 0;
    cs_status rc = fs_read_file(info->path, ORIGINAL_MAX_FILE_BYTES, &data, &n, err);
    if (rc == CS_ERR_NOT_FOUND)
        return cs_error_set(err, CS_ERR_NOT_FOUND,
                            "the file of image %lld, '%s', is gone (moved or deleted since it "
                            "was indexed); index its folder again",
                            (long long)info->id, info->path);
    if (rc != CS_OK)
        return cs_error_prefix(err, "thumbnail of image %lld", (long long)info->id);
    cs_decode_options options = {
        .target_min_side = decode_min_side(info->width, info->height, size),
    };
    cs_decoded decoded;
    rc = image_decode(data, n, info->path, &options, &decoded, err);
    free(data);
    if (rc != CS_OK)
        return cs_error_prefix(err, "thumbnail of image %lld ('%s')", (long long)info->id,
                               info->path);
    *partial = decoded.partial;
    cs_image thumb = {0};
    rc = image_thumbnail(&decoded.image, size, &thumb, err);
    image_decoded_free(&decoded);
    if (rc == CS_OK)
        rc = encode_jpeg(&thumb, jpeg, len, err);
    image_free(&thumb);
    return rc;
}

typedef struct bytes {
    const uint8_t *data;
    size_t len;
} bytes;

static cs_status write_bytes(FILE *f, void *user, cs_error *err)
{
    const bytes *b = user;
    if (fwrite(b->data, 1, b->len, f) != b->len)
        return cs_error_set(err, CS_ERR_IO, "cannot write a thumbnail file");
    return CS_OK;
}

cs_status cs_thumbnail(cs_library *lib, int64_t id, int size, uint8_t **jpeg, size_t *len,
                       cs_error *err)
{
    *jpeg = NULL;
    *len = 0;
    if (size < THUMB_MIN_SIDE || size > THUMB_MAX_SIDE)
        return cs_error_set(err, CS_ERR_INVALID,
                            "thumbnail size must be %d..%d pixels, got %d", THUMB_MIN_SIDE,
                            THUMB_MAX_SIDE, size);
    /* Asked first, even when a cached file exists: a deleted image's
     * thumbnails must not be served. The reader goes back before the slow
     * decode so other threads can use it. */
    catalog *reader = library_acquire_reader(lib, err);
    if (!reader)
        return err->code;
    cs_image_info *info = NULL;
    cs_status rc = catalog_image_info(reader, id, &info, err);
    library_release_reader(lib, reader);
    if (rc != CS_OK)
        return rc;

    char name[64];
    snprintf(name, sizeof name, "%lld-%d.jpg", (long long)id, size);
    char *folder = fs_path_join(lib->dir, THUMBS_FOLDER);
    char *file = folder ? fs_path_join(folder, name) : NULL;
    if (!file) {
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        goto done;
    }
    cs_error ignored;
    if (fs_read_file(file, THUMB_MAX_FILE_BYTES, jpeg, len, &ignored) == CS_OK && *len > 0)
        goto done;
    /* Missing or unreadable cache file: make the thumbnail again. */
    free(*jpeg);
    *jpeg = NULL;
    *len = 0;
    bool partial = false;
    rc = make_thumbnail(info, size, jpeg, len, &partial, err);
    /* Caching is best effort: a library on read-only media still serves
     * thumbnails. A partly decoded original (perhaps still being copied) is
     * served but not kept, so the next call tries again. */
    if (rc == CS_OK && !partial) {
        bytes b = {*jpeg, *len};
        if (fs_mkdir_p(folder, &ignored) == CS_OK)
            fs_write_atomic(file, write_bytes, &b, &ignored);
    }
done:
    free(folder);
    free(file);
    cs_image_info_free(info);
    return rc;
}
