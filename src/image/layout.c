/* Colour-layout vector: an 8x8 grid of mean colours in L*a*b*, so that the
 * inner product of two vectors compares where which colours are. */
#include <math.h>

#include "image/image_internal.h"

#define LAYOUT_GRID 8
/* Lab is roughly perceptually uniform, so one scale for all three channels:
 * 100 units (black to white) maps to 1. */
#define LAYOUT_SCALE 100.0f
/* Added to every component before normalising: negligible next to any real
 * content, but it gives a flat mid-gray image (all zeros otherwise) a
 * well-defined direction, so two such images still score 1. */
#define LAYOUT_BIAS 1e-3f

void image_layout_vector(const cs_image *image, float out[CS_LAYOUT_DIM])
{
    _Static_assert(LAYOUT_GRID * LAYOUT_GRID * 3 == CS_LAYOUT_DIM, "grid x Lab = dimension");
    for (int i = 0; i < CS_LAYOUT_DIM; i++)
        out[i] = 0.0f;
    cs_image grid = {0};
    bool have_grid = image && image->pixels && image->width > 0 && image->height > 0 &&
                     image_resize(image, LAYOUT_GRID, LAYOUT_GRID, &grid, NULL) == CS_OK;
    if (have_grid) {
        /* Luminance relative to the image's mean (an exposure change should
         * not make a scene look different); chroma as is (a red scene and a
         * blue one should). */
        float mean_l = 0;
        for (int i = 0; i < LAYOUT_GRID * LAYOUT_GRID; i++) {
            const uint8_t *p = grid.pixels + 3 * i;
            color_srgb_to_lab(p[0], p[1], p[2], out + 3 * i);
            mean_l += out[3 * i];
        }
        mean_l /= LAYOUT_GRID * LAYOUT_GRID;
        for (int i = 0; i < LAYOUT_GRID * LAYOUT_GRID; i++)
            out[3 * i] -= mean_l;
        image_free(&grid);
    }
    double norm2 = 0;
    for (int i = 0; i < CS_LAYOUT_DIM; i++) {
        out[i] = out[i] / LAYOUT_SCALE + LAYOUT_BIAS;
        norm2 += (double)out[i] * out[i];
    }
    /* Never zero: the luminance deviations sum to zero, so one of them is
     * >= 0 and its component is at least the bias. */
    float inv = (float)(1.0 / sqrt(norm2));
    for (int i = 0; i < CS_LAYOUT_DIM; i++)
        out[i] *= inv;
}
