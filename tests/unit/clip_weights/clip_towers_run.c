/* Runs both towers of a CLIP model folder: the image embedding of a raw
 * float32 tensor (3 x S x S) and the text embedding of token ids; prints
 * {"image": [...], "text": [...]} or the error and exit 1. */
#include <stdio.h>
#include <stdlib.h>

#include "models/clip/towers.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: clip_towers_run DIR PIXELS.f32 END_ID ID...\n");
        return 2;
    }
    cs_error err;
    clip_weights *w = NULL;
    if (clip_weights_load(argv[1], false, &w, &err) != CS_OK) {
        printf("error: %s\n", err.message);
        return 1;
    }
    size_t s = (size_t)w->config.vision.image_size, e = (size_t)w->config.projection_dim;
    float *pixels = malloc(3 * s * s * sizeof *pixels), *out = malloc(e * sizeof *out);
    int32_t ids[4096];
    size_t n = 0;
    for (int i = 4; i < argc && n < 4096; i++)
        ids[n++] = (int32_t)atol(argv[i]);
    FILE *f = fopen(argv[2], "rb");
    int rc = 1;
    if (!pixels || !out || !f || fread(pixels, sizeof *pixels, 3 * s * s, f) != 3 * s * s) {
        printf("error: cannot read %s\n", argv[2]);
    } else if (clip_encode_image(w, pixels, out, &err) != CS_OK) {
        printf("error: %s\n", err.message);
    } else {
        printf("{\"image\": [");
        for (size_t i = 0; i < e; i++)
            printf("%s%.9g", i ? ", " : "", (double)out[i]);
        if (clip_encode_text(w, ids, n, (int32_t)atol(argv[3]), out, &err) != CS_OK) {
            printf("]}\nerror: %s\n", err.message);
        } else {
            printf("], \"text\": [");
            for (size_t i = 0; i < e; i++)
                printf("%s%.9g", i ? ", " : "", (double)out[i]);
            printf("]}\n");
            rc = 0;
        }
    }
    if (f)
        fclose(f);
    free(pixels);
    free(out);
    clip_weights_free(w);
    return rc;
}
