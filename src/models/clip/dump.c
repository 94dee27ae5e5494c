/* Layer dumps (dump.h). */
#include "models/clip/dump.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct clip_dump {
    char dir[4096];
    json_t *layers;
    cs_status rc;
    cs_error err;
};

cs_status clip_dump_open(const char *dir, clip_dump **out, cs_error *err)
{
    *out = NULL;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return cs_error_set(err, CS_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    clip_dump *d = calloc(1, sizeof *d);
    if (!d || !(d->layers = json_array())) {
        free(d);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    if (snprintf(d->dir, sizeof d->dir, "%s", dir) >= (int)sizeof d->dir) {
        json_decref(d->layers);
        free(d);
        return cs_error_set(err, CS_ERR_INVALID, "folder name is too long: %s", dir);
    }
    *out = d;
    return CS_OK;
}

void clip_dump_write(clip_dump *d, const char *name, const float *data, size_t rows, size_t cols)
{
    if (!d || d->rc != CS_OK)
        return;
    char path[4352];
    snprintf(path, sizeof path, "%s/%s.f32", d->dir, name);
    size_t n = (rows ? rows : 1) * cols;
    FILE *f = fopen(path, "wb");
    size_t wrote = f ? fwrite(data, sizeof *data, n, f) : 0;
    if (!f || fclose(f) != 0 || wrote != n) {
        d->rc = cs_error_set(&d->err, CS_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        return;
    }
    json_t *shape = rows ? json_pack("[I, I]", (json_int_t)rows, (json_int_t)cols)
                         : json_pack("[I]", (json_int_t)cols);
    if (!shape || json_array_append_new(d->layers, json_pack("{s:s, s:o}", "name", name,
                                                             "shape", shape)) != 0)
        d->rc = cs_error_set(&d->err, CS_ERR_NOMEM, "out of memory");
}

cs_status clip_dump_close(clip_dump *d, cs_error *err)
{
    if (!d)
        return CS_OK;
    cs_status rc = d->rc;
    if (rc != CS_OK)
        *err = d->err;
    else {
        char path[4352];
        snprintf(path, sizeof path, "%s/layers.json", d->dir);
        json_t *root = json_pack("{s:O}", "layers", d->layers);
        if (!root || json_dump_file(root, path, JSON_INDENT(1)) != 0)
            rc = cs_error_set(err, CS_ERR_IO, "cannot write %s", path);
        json_decref(root);
    }
    json_decref(d->layers);
    free(d);
    return rc;
}
