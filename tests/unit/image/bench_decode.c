/* Decode timing: image_decode of one file at full size and at a target
 * short side, best of N runs. Not a test; build with
 *   ninja -C BUILD tests/unit/image/image_bench_decode
 * and run: image_bench_decode FILE [TARGET_MIN_SIDE [RUNS]]. */
#include <stdio.h>
#include <stdlib.h>

#include "common/fsutil.h"
#include "image/image.h"

static double best_of(const uint8_t *data, size_t len, const char *name, int target, int runs,
                      cs_decoded *last)
{
    double best = 1e30;
    for (int i = 0; i < runs; i++) {
        cs_decode_options opt = {.target_min_side = target, .max_pixels = 0};
        cs_error err;
        double t0 = fs_now_seconds();
        if (image_decode(data, len, name, &opt, last, &err) != CS_OK) {
            fprintf(stderr, "%s: %s\n", name, err.message);
            exit(1);
        }
        double t = fs_now_seconds() - t0;
        if (t < best)
            best = t;
        if (i + 1 < runs)
            image_decoded_free(last);
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [TARGET_MIN_SIDE [RUNS]]\n", argv[0]);
        return 2;
    }
    int target = argc > 2 ? atoi(argv[2]) : 256;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    uint8_t *data;
    size_t len;
    cs_error err;
    if (fs_read_file(argv[1], 1u << 30, &data, &len, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    cs_decoded full, reduced;
    double t_full = best_of(data, len, argv[1], 0, runs, &full);
    double t_reduced = best_of(data, len, argv[1], target, runs, &reduced);
    printf("%s (%s, %dx%d): full %dx%d in %.1f ms; target %d -> %dx%d in %.1f ms (%.1fx faster)\n",
           argv[1], image_format_name(full.format), full.full_width, full.full_height,
           full.image.width, full.image.height, t_full * 1e3, target, reduced.image.width,
           reduced.image.height, t_reduced * 1e3, t_full / t_reduced);
    image_decoded_free(&full);
    image_decoded_free(&reduced);
    free(data);
    return 0;
}
