// See faiss_extra.h. Exceptions never cross into C: they become -1 and a
// message, like the C API's own functions.
#include "store/faiss_extra.h"

#include <faiss/IndexIVF.h>
#include <faiss/utils/distances.h>

#include <cstdio>
#include <exception>
#include <stdexcept>

namespace {

template <typename F>
int guarded(char *msg, size_t msg_size, F &&f) noexcept
{
    try {
        f();
        return 0;
    } catch (const std::exception &e) {
        if (msg && msg_size)
            std::snprintf(msg, msg_size, "%s", e.what());
    } catch (...) {
        if (msg && msg_size)
            std::snprintf(msg, msg_size, "unknown exception");
    }
    return -1;
}

}  // namespace

extern "C" {

int cs_faiss_ivf_search(const FaissIndex *ivf, idx_t n, const float *x, idx_t k, size_t nprobe,
                        float *distances, idx_t *labels, char *msg, size_t msg_size)
{
    return guarded(msg, msg_size, [&] {
        auto *index = dynamic_cast<const faiss::IndexIVF *>(
                reinterpret_cast<const faiss::Index *>(ivf));
        if (!index)
            throw std::invalid_argument("not an IVF index");
        faiss::SearchParametersIVF params;
        params.nprobe = nprobe;
        index->search(n, x, k, distances, labels, &params);
    });
}

int cs_faiss_knn_ip(const float *x, size_t nx, const float *y, size_t ny, size_t d, size_t k,
                    float *distances, idx_t *labels, char *msg, size_t msg_size)
{
    return guarded(msg, msg_size, [&] {
        faiss::knn_inner_product(x, y, d, nx, ny, k, distances, labels);
    });
}

}  // extern "C"
