// See faiss_extra.h. Exceptions never cross into C: they become -1 and a
// message, like the C API's own functions.
#include "store/faiss_extra.h"

#include <cblas.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/utils/Heap.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
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

// The dot product of per-query weights with one 8-bit code: sixteen
// independent sums, which the compiler vectorises (x86-64-v3: AVX2 + FMA)
// without reassociating one sum.
__attribute__((target_clones("default", "arch=x86-64-v3")))
float code_dot(const float *w, const uint8_t *code, size_t d)
{
    float acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= d; i += 16)
        for (size_t j = 0; j < 16; j++)
            acc[j] += w[i + j] * static_cast<float>(code[i + j]);
    for (; i < d; i++)
        acc[0] += w[i] * static_cast<float>(code[i]);
    float sum = 0;
    for (size_t j = 0; j < 16; j++)
        sum += acc[j];
    return sum;
}

// An IVF index of 8-bit codes (not uniform) on inner products, as
// vectors.c builds it: the kind the own scan below handles.
const faiss::IndexIVFScalarQuantizer *own_scan_index(const faiss::IndexIVF *ivf)
{
    auto *sq = dynamic_cast<const faiss::IndexIVFScalarQuantizer *>(ivf);
    auto *coarse = sq ? dynamic_cast<const faiss::IndexFlat *>(sq->quantizer) : nullptr;
    if (!sq || !coarse || sq->metric_type != faiss::METRIC_INNER_PRODUCT ||
        coarse->metric_type != faiss::METRIC_INNER_PRODUCT ||
        sq->sq.qtype != faiss::ScalarQuantizer::QT_8bit || !sq->invlists ||
        sq->sq.trained.size() != 2 * static_cast<size_t>(sq->d) || sq->code_size != size_t(sq->d))
        return nullptr;
    return sq;
}

// One query, the k best of the nprobe nearest lists (ids passing `sel`
// only, when given), best first, -1 padding. FAISS's own scanner decodes
// each component in scalar code when FAISS is built without SIMD (Debian's
// is): here the centroids' scores are one cblas_sgemv, and a code's score
// is a dot product of its bytes with weights folded once per query. A
// component decodes to vmin + (c + 0.5) / 255 * vdiff, and a residual code
// adds its list's centroid score, so the inner product with the query is
// centroid + sum(q * vmin + q * vdiff * 0.5 / 255) + sum(q * vdiff / 255 * c).
//
// Past the first nprobe lists, up to max_probe: the next list is scanned
// while its centroid score plus `margin` reaches the k-th best score found,
// i.e. while it may still hold a better vector (margin: how far the query's
// dot product with a decoded residual can lift a code above its centroid).
// A query like the indexed vectors has its k best far above every other
// list and stops at nprobe; one unlike them (a direction the index's
// clusters do not follow) goes on.
void own_scan_search(const faiss::IndexIVFScalarQuantizer &index, size_t nprobe,
                     size_t max_probe, float margin, const float *x, int64_t k,
                     const faiss::IDSelector *sel, float *distances, int64_t *labels)
{
    const size_t d = static_cast<size_t>(index.d), nlist = index.nlist;
    auto *coarse = static_cast<const faiss::IndexFlat *>(index.quantizer);
    std::vector<float> centroid_scores(nlist);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(nlist), static_cast<int>(d), 1.0f,
                coarse->get_xb(), static_cast<int>(d), x, 1, 0.0f, centroid_scores.data(), 1);
    nprobe = std::min(std::max<size_t>(nprobe, 1), nlist);
    max_probe = margin > 0.0f ? std::min(std::max(max_probe, nprobe), nlist) : nprobe;
    std::vector<size_t> lists(nlist);
    std::iota(lists.begin(), lists.end(), size_t{0});
    auto nearer = [&](size_t a, size_t b) {
        return centroid_scores[a] != centroid_scores[b] ? centroid_scores[a] > centroid_scores[b]
                                                        : a < b;
    };
    std::partial_sort(lists.begin(), lists.begin() + static_cast<long>(max_probe), lists.end(),
                      nearer);
    const float *vmin = index.sq.trained.data(), *vdiff = vmin + d;
    std::vector<float> weights(d);
    float folded = 0.0f;
    for (size_t i = 0; i < d; i++) {
        weights[i] = x[i] * vdiff[i] / 255.0f;
        folded += x[i] * (vmin[i] + 0.5f * vdiff[i] / 255.0f);
    }
    faiss::minheap_heapify(static_cast<size_t>(k), distances, labels);
    for (size_t p = 0; p < max_probe; p++) {
        size_t list = lists[p];
        // distances[0] is the k-th best so far (-inf until k are found)
        if (p >= nprobe && centroid_scores[list] + margin < distances[0])
            break;
        size_t n = index.invlists->list_size(list);
        if (n == 0)
            continue;
        faiss::InvertedLists::ScopedCodes codes(index.invlists, list);
        faiss::InvertedLists::ScopedIds ids(index.invlists, list);
        float base = (index.by_residual ? centroid_scores[list] : 0.0f) + folded;
        for (size_t j = 0; j < n; j++) {
            if (sel && !sel->is_member(ids[j]))
                continue;
            float score = base + code_dot(weights.data(), codes.get() + j * d, d);
            if (score > distances[0])
                faiss::minheap_replace_top(static_cast<size_t>(k), distances, labels, score,
                                           ids[j]);
        }
    }
    faiss::minheap_reorder(static_cast<size_t>(k), distances, labels);
}

// An IVF search of n queries with `nprobe` lists: the own scan when the
// index is of its kind, FAISS's otherwise.
void ivf_search(const faiss::IndexIVF &ivf, int64_t n, const float *x, int64_t k,
                size_t nprobe, size_t max_probe, float margin, const faiss::IDSelector *sel,
                float *distances, int64_t *labels)
{
    if (auto *own = own_scan_index(&ivf)) {
        for (int64_t q = 0; q < n; q++)
            own_scan_search(*own, nprobe, max_probe, margin, x + q * ivf.d, k, sel,
                            distances + q * k, labels + q * k);
        return;
    }
    faiss::SearchParametersIVF params;
    params.nprobe = nprobe;
    params.sel = const_cast<faiss::IDSelector *>(sel);
    ivf.search(n, x, k, distances, labels, &params);
}

// The index of the largest of n scores (the first of equal ones): one pass
// for the largest value in sixteen lanes, one to find it.
__attribute__((target_clones("default", "arch=x86-64-v3")))
size_t argmax(const float *v, size_t n)
{
    float lanes[16];
    for (size_t j = 0; j < 16; j++)
        lanes[j] = -INFINITY;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (size_t j = 0; j < 16; j++)
            lanes[j] = v[i + j] > lanes[j] ? v[i + j] : lanes[j];
    float best = -INFINITY;
    for (size_t j = 0; j < 16; j++)
        best = lanes[j] > best ? lanes[j] : best;
    for (; i < n; i++)
        best = v[i] > best ? v[i] : best;
    for (i = 0; i < n; i++)
        if (v[i] == best)
            return i;
    return 0;   // every score NaN: no vector here has one (vectors.c refuses them)
}

// Each of n vectors' nearest of ny rows by inner product (ties: the first
// row), through cblas_sgemm in blocks and argmax: no OpenMP region. FAISS's
// flat search follows each block's GEMM with an OpenMP region, whose idle
// threads then spin through the next GEMM against OpenBLAS's own threads:
// on two cores, a third of a million-vector build went to that.
void nearest_rows(const float *x, size_t n, const float *y, size_t ny, size_t d,
                  float *scores, faiss::Index::idx_t *labels)
{
    const size_t block = 1024;
    std::vector<float> products(std::min(n, block) * ny);
    for (size_t i0 = 0; i0 < n; i0 += block) {
        size_t rows = std::min(block, n - i0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(rows),
                    static_cast<blasint>(ny), static_cast<blasint>(d), 1.0f, x + i0 * d,
                    static_cast<blasint>(d), y, static_cast<blasint>(d), 0.0f, products.data(),
                    static_cast<blasint>(ny));
        for (size_t r = 0; r < rows; r++) {
            const float *row = products.data() + r * ny;
            size_t best = argmax(row, ny);
            labels[i0 + r] = static_cast<faiss::Index::idx_t>(best);
            if (scores)
                scores[i0 + r] = row[best];
        }
    }
}

// An inner-product flat index whose nearest-one search is nearest_rows:
// what k-means assigns with while training an IVF index's lists.
struct NearestRowsIP : faiss::IndexFlatIP {
    explicit NearestRowsIP(faiss::Index::idx_t d) : faiss::IndexFlatIP(d) {}
    void search(idx_t n, const float *x, idx_t k, float *distances, idx_t *labels,
                const faiss::SearchParameters *params = nullptr) const override
    {
        if (k != 1 || params || ntotal == 0) {
            faiss::IndexFlatIP::search(n, x, k, distances, labels, params);
            return;
        }
        nearest_rows(x, static_cast<size_t>(n), get_xb(), static_cast<size_t>(ntotal),
                     static_cast<size_t>(d), distances, labels);
    }
};

// The IVF index over an inner-product flat quantizer that the own
// assignment serves, or null.
faiss::IndexIVF *ip_flat_ivf(FaissIndex *index)
{
    auto *ivf = dynamic_cast<faiss::IndexIVF *>(reinterpret_cast<faiss::Index *>(index));
    auto *coarse = ivf ? dynamic_cast<const faiss::IndexFlat *>(ivf->quantizer) : nullptr;
    if (!coarse || coarse->metric_type != faiss::METRIC_INNER_PRODUCT ||
        ivf->metric_type != faiss::METRIC_INNER_PRODUCT)
        return nullptr;
    return ivf;
}

}  // namespace

extern "C" {

int cs_faiss_train(FaissIndex *index, idx_t n, const float *x, char *msg, size_t msg_size)
{
    return guarded(msg, msg_size, [&] {
        faiss::IndexIVF *ivf = ip_flat_ivf(index);
        if (!ivf || ivf->clustering_index) {
            reinterpret_cast<faiss::Index *>(index)->train(n, x);
            return;
        }
        NearestRowsIP assigner(ivf->d);
        ivf->clustering_index = &assigner;
        try {
            ivf->train(n, x);
        } catch (...) {
            ivf->clustering_index = nullptr;
            throw;
        }
        ivf->clustering_index = nullptr;
    });
}

int cs_faiss_add_with_ids(FaissIndex *index, idx_t n, const float *x, const idx_t *ids,
                          char *msg, size_t msg_size)
{
    return guarded(msg, msg_size, [&] {
        faiss::IndexIVF *ivf = ip_flat_ivf(index);
        if (!ivf || !ivf->is_trained || n <= 0) {
            reinterpret_cast<faiss::Index *>(index)->add_with_ids(n, x, ids);
            return;
        }
        auto *coarse = static_cast<const faiss::IndexFlat *>(ivf->quantizer);
        std::vector<faiss::Index::idx_t> lists(static_cast<size_t>(n));
        nearest_rows(x, static_cast<size_t>(n), coarse->get_xb(),
                     static_cast<size_t>(coarse->ntotal), static_cast<size_t>(ivf->d), nullptr,
                     lists.data());
        ivf->add_core(n, x, ids, lists.data());
    });
}

int cs_faiss_nearest_rows(const float *x, size_t n, const float *y, size_t ny, size_t d,
                          float *scores, idx_t *labels, char *msg, size_t msg_size)
{
    return guarded(msg, msg_size, [&] {
        if (ny == 0)
            throw std::invalid_argument("no rows to compare with");
        nearest_rows(x, n, y, ny, d, scores, labels);
    });
}

int cs_faiss_ivf_search(const FaissIndex *ivf, idx_t n, const float *x, idx_t k, size_t nprobe,
                        float *distances, idx_t *labels, char *msg, size_t msg_size)
{
    return cs_faiss_ivf_search_deeper(ivf, n, x, k, nprobe, nprobe, 0.0f, distances, labels, msg,
                                      msg_size);
}

int cs_faiss_ivf_search_deeper(const FaissIndex *ivf, idx_t n, const float *x, idx_t k,
                               size_t nprobe, size_t max_probe, float margin, float *distances,
                               idx_t *labels, char *msg, size_t msg_size)
{
    return guarded(msg, msg_size, [&] {
        auto *index = dynamic_cast<const faiss::IndexIVF *>(
                reinterpret_cast<const faiss::Index *>(ivf));
        if (!index)
            throw std::invalid_argument("not an IVF index");
        ivf_search(*index, n, x, k, nprobe, max_probe, margin, nullptr, distances, labels);
    });
}

int cs_faiss_ivf_residual_spread(const FaissIndex *ivf, size_t sample, float *spread, char *msg,
                                 size_t msg_size)
{
    return guarded(msg, msg_size, [&] {
        *spread = 0.0f;
        auto *base = dynamic_cast<const faiss::IndexIVF *>(
                reinterpret_cast<const faiss::Index *>(ivf));
        auto *index = base ? own_scan_index(base) : nullptr;
        if (!index || !index->by_residual || index->ntotal <= 0 || sample == 0)
            return;
        // every step-th code, counted across the lists in order
        const size_t d = static_cast<size_t>(index->d), total = index->ntotal;
        const size_t step = std::max<size_t>(total / sample, 1);
        const float *vmin = index->sq.trained.data(), *vdiff = vmin + d;
        double sum = 0.0;
        size_t count = 0, next = 0, seen = 0;
        for (size_t list = 0; list < index->nlist; list++) {
            size_t n = index->invlists->list_size(list);
            if (next >= seen + n) {
                seen += n;
                continue;
            }
            faiss::InvertedLists::ScopedCodes codes(index->invlists, list);
            for (; next < seen + n; next += step) {
                const uint8_t *code = codes.get() + (next - seen) * d;
                double norm2 = 0.0;
                for (size_t i = 0; i < d; i++) {
                    double r = vmin[i] + (code[i] + 0.5) / 255.0 * vdiff[i];
                    norm2 += r * r;
                }
                sum += norm2;
                count++;
            }
            seen += n;
        }
        if (count)
            *spread = static_cast<float>(std::sqrt(sum / static_cast<double>(count) /
                                                   static_cast<double>(d)));
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

int cs_faiss_search_among(const FaissIndex *index, size_t nprobe, size_t max_probe,
                          float margin, const float *x, idx_t k, const idx_t *allowed,
                          size_t nallowed, float *distances, idx_t *labels, char *msg,
                          size_t msg_size)
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
        ivf_search(*ivf, 1, x, k, nprobe, max_probe, margin, &selected, distances, labels);
    });
}

}  // extern "C"
