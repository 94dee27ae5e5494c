/* Putting a picture onto a model's square input. */
#include <stdlib.h>
#include <string.h>

#include "models/tagger/tagger_internal.h"

cs_status tagger_reserve_input(tagger_session *s, size_t n, cs_error *err)
{
    if (n <= s->input_floats)
        return CS_OK;
    float *p = realloc(s->input, n * sizeof *p);
    if (!p)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for a model input");
    s->input = p;
    s->input_floats = n;
    return CS_OK;
}

cs_status tagger_place(tagger_session *s, const cs_image *image, int size, bool letterbox,
                       float mul, float add, float *input, placement *where, cs_error *err)
{
    int w = size, h = size;
    if (letterbox) {
        /* The longer side fills the input; the other keeps the aspect ratio. */
        if (image->width >= image->height) {
            h = (int)((double)image->height * size / image->width + 0.5);
            h = h < 1 ? 1 : h;
        } else {
            w = (int)((double)image->width * size / image->height + 0.5);
            w = w < 1 ? 1 : w;
        }
    }
    image_free(&s->scratch);
    cs_status rc = image_resize(image, w, h, &s->scratch, err);
    if (rc != CS_OK)
        return rc;
    int ox = (size - w) / 2, oy = (size - h) / 2;
    /* The padding is black: pixel value 0, which normalises to `add`. */
    for (size_t i = 0; i < (size_t)size * size * 3; i++)
        input[i] = add;
    for (int y = 0; y < h; y++) {
        const uint8_t *src = s->scratch.pixels + (size_t)y * w * 3;
        float *dst = input + ((size_t)(y + oy) * size + ox) * 3;
        for (int x = 0; x < w * 3; x++)
            dst[x] = src[x] * mul + add;
    }
    where->scale_x = (float)w / image->width;
    where->scale_y = (float)h / image->height;
    where->offset_x = (float)ox;
    where->offset_y = (float)oy;
    return CS_OK;
}
