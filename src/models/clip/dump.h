/* The towers' debug output: intermediate activations of one input written
 * as raw little-endian float32 files, dir/<name>.f32, listed with their
 * shapes in dir/layers.json ({"layers": [{"name", "shape"}...]}), so a
 * reference implementation can be compared layer by layer. */
#ifndef CS_MODELS_CLIP_DUMP_H
#define CS_MODELS_CLIP_DUMP_H

#include <stddef.h>

#include "common/error.h"

typedef struct clip_dump clip_dump;

cs_status clip_dump_open(const char *dir, clip_dump **out, cs_error *err);
/* rows x cols floats; rows == 0 writes a vector of cols. Failures are kept
 * and reported by clip_dump_close. */
void clip_dump_write(clip_dump *d, const char *name, const float *data, size_t rows, size_t cols);
/* Writes layers.json; returns the first error of any write. */
cs_status clip_dump_close(clip_dump *d, cs_error *err);

#endif
