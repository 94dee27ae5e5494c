/* libFuzzer on the safetensors header parser: any bytes are refused with a
 * message or give tensors that lie inside the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/clip/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes: ASan then flags any read past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    cs_error err;
    st_file *f = NULL;
    if (st_open_buffer("fuzz.safetensors", copy, size, &f, &err) == CS_OK) {
        for (size_t i = 0; i < st_count(f); i++) {
            const st_tensor *t = st_at(f, i);
            const uint8_t *p = t->data;
            if (p < copy || p + t->nbytes > copy + size)
                abort();
            if (st_find(f, t->name) != t)
                abort();
            float *v = malloc(((size_t)t->count + 1) * sizeof *v);
            if (v && t->count < (1 << 20))
                (void)st_to_f32(f, t, v, &err);
            free(v);
        }
        st_close(f);
    }
    free(copy);
    return 0;
}
