/* Prints a safetensors file's tensors as JSON lines (name, dtype, shape and
 * the values as float32 for float tensors), or the error and exit 1: the
 * test compares them with numpy's reading of the same bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/clip/safetensors.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: st_dump FILE\n");
        return 2;
    }
    cs_error err;
    st_file *f = NULL;
    if (st_open(argv[1], &f, &err) != CS_OK) {
        printf("error: %s\n", err.message);
        return 1;
    }
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        printf("{\"name\": \"%s\", \"dtype\": \"%s\", \"shape\": [", t->name,
               st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
        printf("], \"values\": [");
        float *v = malloc(((size_t)t->count + 1) * sizeof *v);
        if (!v) {
            printf("error: out of memory\n");
            return 1;
        }
        if (st_to_f32(f, t, v, &err) == CS_OK)
            for (int64_t k = 0; k < t->count; k++) {
                const char *sep = k ? ", " : "";
                if (isinf(v[k]))   /* as Python's json reads them */
                    printf("%s%sInfinity", sep, v[k] < 0 ? "-" : "");
                else if (v[k] == 0 && signbit(v[k]))
                    printf("%s-0.0", sep);   /* "-0" would read back as the integer 0 */
                else if (isnan(v[k]))
                    printf("%sNaN", sep);
                else
                    printf("%s%.9g", sep, (double)v[k]);
            }
        free(v);
        printf("]}\n");
        if (st_find(f, t->name) != t) {
            printf("error: st_find lost '%s'\n", t->name);
            return 1;
        }
    }
    if (st_find(f, "no such tensor")) {
        printf("error: found a tensor that is not there\n");
        return 1;
    }
    st_close(f);
    return 0;
}
