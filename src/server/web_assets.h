/* The search page, compiled into the binary from web/ (no files are read at
 * run time, so the page always matches the server). */
#ifndef CS_SERVER_WEB_ASSETS_H
#define CS_SERVER_WEB_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct web_asset {
    const char *path;          /* "/index.html" */
    const char *content_type;
    const char *data;
    size_t len;
} web_asset;

/* Fills *out with the asset served at `path`; false when there is none. */
bool web_asset_find(const char *path, web_asset *out);

#endif
