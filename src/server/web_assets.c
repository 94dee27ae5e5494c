#include "server/web_assets.h"

#include <string.h>

/* Generated from web/ by tools/embed_files.py. */
extern const char cs_web_index_html[], cs_web_app_js[], cs_web_style_css[],
    cs_web_favicon_svg[], cs_web_openapi_yaml[];
extern const size_t cs_web_index_html_len, cs_web_app_js_len, cs_web_style_css_len,
    cs_web_favicon_svg_len, cs_web_openapi_yaml_len;

bool web_asset_find(const char *path, web_asset *out)
{
    static const char *const paths[5] = {"/index.html", "/app.js", "/style.css",
                                         "/favicon.svg", "/openapi.yaml"};
    static const char *const types[5] = {
        "text/html; charset=utf-8", "text/javascript; charset=utf-8",
        "text/css; charset=utf-8", "image/svg+xml", "application/yaml; charset=utf-8"};
    const char *const data[5] = {cs_web_index_html, cs_web_app_js, cs_web_style_css,
                                 cs_web_favicon_svg, cs_web_openapi_yaml};
    const size_t lens[5] = {cs_web_index_html_len, cs_web_app_js_len, cs_web_style_css_len,
                            cs_web_favicon_svg_len, cs_web_openapi_yaml_len};
    for (int i = 0; i < 5; i++) {
        if (strcmp(path, paths[i]) == 0) {
            *out = (web_asset){paths[i], types[i], data[i], lens[i]};
            return true;
        }
    }
    return false;
}
