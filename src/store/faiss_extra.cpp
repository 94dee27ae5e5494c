// See faiss_extra.h. Exceptions never cross into C: they become -1 and a
// message, like the C API's own functions.
#include "store/faiss_extra.h"

#include <cblas.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <vector>

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

// FAISS 1.7.3's IndexIDMap2 refuses SearchParameters, so the selector goes
// to the index it wraps, whose vectors are numbered by position: this one
// maps a position to its id before asking the id selector.
struct PositionSelector : faiss::IDSelector {
    const std::vector<faiss::Index::idx_t> &id_map;
    const faiss::IDSelector &ids;
    PositionSelector(const std::vector<faiss::Index::idx_t> &map, const faiss::IDSelector &sel)
            : id_map(map), ids(sel) {}
    bool is_member(faiss::Index::idx_t i) const override
    {
        return i >= 0 && static_cast<size_t>(i) < id_map.size() && ids.is_member(id_map[i]);
    }
};

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

int cs_faiss_exact_search(const FaissIndex *index, const float *x, idx_t k, float *distances,
                          idx_t *labels, char *msg, size_t msg_size)
{
    return guarded(msg, msg_size, [&] {
        auto *base = reinterpret_cast<const faiss::Index *>(index);
        auto *map = dynamic_cast<const faiss::IndexIDMap2 *>(base);
        auto *flat = map ? dynamic_cast<const faiss::IndexFlat *>(map->index) : nullptr;
        if (!flat || flat->metric_type != faiss::METRIC_INNER_PRODUCT) {
            base->search(1, x, k, distances, labels);
            return;
        }
        const size_t n = static_cast<size_t>(flat->ntotal), d = static_cast<size_t>(flat->d);
        std::vector<float> scores(n);
        if (n)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<blasint>(n),
                        static_cast<blasint>(d), 1.0f, flat->get_xb(),
                        static_cast<blasint>(d), x, 1, 0.0f, scores.data(), 1);
        const size_t keep = std::min(n, static_cast<size_t>(k));
        std::vector<size_t> order(n);
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        // best first; equal scores by position, so the order is stable
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep),
                          order.end(), [&](size_t a, size_t b) {
                              return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
                          });
        for (size_t i = 0; i < static_cast<size_t>(k); i++) {
            distances[i] = i < keep ? scores[order[i]] : -INFINITY;
            labels[i] = i < keep ? map->id_map.at(order[i]) : -1;
        }
    });
}

int cs_faiss_knn_ip(const float *x, size_t nx, const float *y, size_t ny, size_t d, size_t k,
                    float *distances, idx_t *labels, char *msg, size_t msg_size)
{
    return guarded(msg, msg_size, [&] {
        faiss::knn_inner_product(x, y, d, nx, ny, k, distances, labels);
    });
}

int cs_faiss_search_among(const FaissIndex *index, size_t nprobe, const float *x, idx_t k,
                          const idx_t *allowed, size_t nallowed, float *distances,
                          idx_t *labels, char *msg, size_t msg_size)
{
    return guarded(msg, msg_size, [&] {
        auto *base = reinterpret_cast<const faiss::Index *>(index);
        /* A bitmap of the allowed ids when it is small beside them (ids
         * are image ids, dense): built in microseconds, where the batch
         * selector hashes every id (a 5% filter at a million: 14 ms for the
         * whole filtered search in the index, 5.3 ms with the bitmap). */
        idx_t max_id = -1;
        for (size_t i = 0; i < nallowed; i++)
            max_id = allowed[i] > max_id ? allowed[i] : max_id;
        size_t bitmap_bytes = max_id >= 0 ? static_cast<size_t>(max_id) / 8 + 1 : 0;
        std::vector<uint8_t> bitmap;
        std::unique_ptr<faiss::IDSelector> chosen;
        if (bitmap_bytes > 0 && bitmap_bytes <= 64 * nallowed + 4096) {
            bitmap.assign(bitmap_bytes, 0);
            for (size_t i = 0; i < nallowed; i++)
                if (allowed[i] >= 0)
                    bitmap[static_cast<size_t>(allowed[i]) / 8] |=
                        static_cast<uint8_t>(1u << (allowed[i] % 8));
            chosen.reset(new faiss::IDSelectorBitmap(bitmap_bytes, bitmap.data()));
        } else {
            chosen.reset(new faiss::IDSelectorBatch(nallowed, allowed));
        }
        faiss::IDSelector &selected = *chosen;
        if (auto *map = dynamic_cast<const faiss::IndexIDMap2 *>(base)) {
            PositionSelector positions(map->id_map, selected);
            faiss::SearchParameters params;
            params.sel = &positions;
            map->index->search(1, x, k, distances, labels, &params);
            for (idx_t i = 0; i < k; i++)
                if (labels[i] >= 0)
                    labels[i] = map->id_map.at(static_cast<size_t>(labels[i]));
            return;
        }
        auto *ivf = dynamic_cast<const faiss::IndexIVF *>(base);
        if (!ivf)
            throw std::invalid_argument("this kind of vector index cannot search a subset");
        faiss::SearchParametersIVF params;
        params.nprobe = nprobe;
        params.sel = &selected;
        ivf->search(1, x, k, distances, labels, &params);
    });
}

}  // extern "C"
