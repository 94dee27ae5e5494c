/* Opening the user's concept-embedding cache (concept_cache.h). */
#include "indexer/concept_cache.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/fsutil.h"

static cs_status cache_folder(char *out, size_t size, cs_error *err)
{
    const char *own = getenv("CAPSEARCH_CACHE");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (own && *own)
        n = snprintf(out, size, "%s", own);
    else if (xdg && *xdg == '/')
        n = snprintf(out, size, "%s/capsearch", xdg);
    else if (home && *home)
        n = snprintf(out, size, "%s/.cache/capsearch", home);
    else
        return cs_error_set(err, CS_ERR_NOT_FOUND, "no cache folder: set HOME or CAPSEARCH_CACHE");
    if (n < 0 || (size_t)n >= size)
        return cs_error_set(err, CS_ERR_INVALID, "the cache folder's name is too long");
    return CS_OK;
}

catalog *concept_cache_open(cs_error *err)
{
    char folder[4096];
    if (cache_folder(folder, sizeof folder, err) != CS_OK || fs_mkdir_p(folder, err) != CS_OK)
        return NULL;
    char *path = fs_path_join(folder, CONCEPT_CACHE_FILE);
    if (!path) {
        cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        return NULL;
    }
    catalog *cache = NULL;
    if (catalog_open(path, false, &cache, err) != CS_OK)
        cache = NULL;
    free(path);
    return cache;
}
