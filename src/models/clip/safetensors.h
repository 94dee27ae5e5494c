/* Reading safetensors files (Hugging Face's weight format): an 8-byte
 * little-endian header length, a JSON header {name: {dtype, shape,
 * data_offsets: [begin, end]}, "__metadata__": {...}}, then the tensor bytes
 * (offsets relative to the first byte after the header, row-major).
 *
 * The file is mapped read-only; every tensor's dtype, shape and byte range
 * is checked when the file is opened (a header that lies about offsets, a
 * truncated file, overlapping tensors, an unknown dtype or an absurd shape
 * is refused with a message naming the file and the tensor), so a tensor
 * handed out is always inside the mapping. */
#ifndef CS_MODELS_CLIP_SAFETENSORS_H
#define CS_MODELS_CLIP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define ST_MAX_DIMS 8
/* The header is JSON text; real checkpoints have headers of tens of KB. */
#define ST_MAX_HEADER_BYTES (100u << 20)

typedef enum st_dtype {
    ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
} st_dtype;

typedef struct st_tensor {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t count;            /* elements: the product of shape (1 for a scalar) */
    const void *data;         /* inside the mapping; not aligned in general */
    size_t nbytes;
} st_tensor;

typedef struct st_file st_file;

cs_status st_open(const char *path, st_file **out, cs_error *err);
/* The same over a buffer the caller keeps alive until st_close; `name`
 * stands for the file in messages. */
cs_status st_open_buffer(const char *name, const void *data, size_t size, st_file **out,
                         cs_error *err);
void st_close(st_file *file);

const char *st_path(const st_file *file);
size_t st_count(const st_file *file);
const st_tensor *st_at(const st_file *file, size_t index);
/* NULL when there is no tensor of that name. */
const st_tensor *st_find(const st_file *file, const char *name);
/* "F32", "F16", ... */
const char *st_dtype_name(st_dtype dtype);
size_t st_dtype_size(st_dtype dtype);

/* Copies a floating-point tensor (F32, F16 or BF16) into out[count] as
 * float32. CS_ERR_UNSUPPORTED for other dtypes. */
cs_status st_to_f32(const st_file *file, const st_tensor *tensor, float *out, cs_error *err);

/* Tells the kernel this process is done with the tensor's bytes: the file's
 * pages under it leave the resident set (a copied model would otherwise
 * count twice until the file is closed). Reading it again still works. */
void st_release(const st_file *file, const st_tensor *tensor);

#endif
