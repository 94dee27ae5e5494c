// The part of the FAISS C API that capsearch calls, for builds where no
// libfaiss_c exists (Debian's libfaiss-dev ships the C headers and a C++
// libfaiss.a, but not the C API's implementation). The declarations come
// from the upstream headers, so the compiler checks every signature here
// against them; the behaviour follows upstream: 0 on success, a negative
// FaissErrorCode when the C++ call throws, and the exception's message kept
// per thread for faiss_get_last_error().
//
// Compiled only when the build finds no faiss_c library (see meson.build).

#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/MetaIndexes_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/impl/AuxIndexStructures_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#include <faiss/Index.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <cstring>
#include <exception>
#include <string>
#include <type_traits>

namespace {

using fidx_t = faiss::Index::idx_t;

// The C headers and the C++ library must agree on the id type, or every
// pointer to ids passed across would be misread.
static_assert(std::is_same<fidx_t, ::idx_t>::value, "FAISS id types differ");

// Per thread, like upstream: concurrent searches must not see each other's
// errors. Cleared only by the next failure, as upstream does.
thread_local std::string last_error;
thread_local bool have_error = false;

int record(int code, const char *what) noexcept
{
    try {
        last_error = what ? what : "unknown error";
        have_error = true;
    } catch (...) {
        // No memory for the message: still report the failure by its code.
        have_error = false;
    }
    return code;
}

// Runs f, turning any exception into the C API's error codes.
template <typename F>
int guarded(F &&f) noexcept
{
    try {
        f();
        return OK;
    } catch (const faiss::FaissException &e) {
        return record(FAISS_EXCEPT, e.what());
    } catch (const std::exception &e) {
        return record(STD_EXCEPT, e.what());
    } catch (...) {
        return record(UNKNOWN_EXCEPT, "unknown exception");
    }
}

faiss::Index *cxx(FaissIndex *p) { return reinterpret_cast<faiss::Index *>(p); }
// IVF handles are the same pointers seen through the IndexIVF type (the C
// API's FaissIndexIVF aliases FaissIndex).
const faiss::IndexIVF *ivf(const FaissIndexIVF *p)
{
    return dynamic_cast<const faiss::IndexIVF *>(reinterpret_cast<const faiss::Index *>(p));
}
const faiss::Index *cxx(const FaissIndex *p) { return reinterpret_cast<const faiss::Index *>(p); }
FaissIndex *c_handle(faiss::Index *p) { return reinterpret_cast<FaissIndex *>(p); }

}  // namespace

extern "C" {

const char *faiss_get_last_error()
{
    return have_error ? last_error.c_str() : nullptr;
}

int faiss_index_factory(FaissIndex **p_index, int d, const char *description,
                        FaissMetricType metric)
{
    return guarded([&] {
        *p_index = c_handle(faiss::index_factory(
                d, description, static_cast<faiss::MetricType>(metric)));
    });
}

void faiss_Index_free(FaissIndex *obj)
{
    delete cxx(obj);
}

int faiss_Index_d(const FaissIndex *index)
{
    return cxx(index)->d;
}

idx_t faiss_Index_ntotal(const FaissIndex *index)
{
    return cxx(index)->ntotal;
}

FaissMetricType faiss_Index_metric_type(const FaissIndex *index)
{
    return static_cast<FaissMetricType>(cxx(index)->metric_type);
}

int faiss_Index_train(FaissIndex *index, idx_t n, const float *x)
{
    return guarded([&] { cxx(index)->train(n, x); });
}

int faiss_Index_add(FaissIndex *index, idx_t n, const float *x)
{
    return guarded([&] { cxx(index)->add(n, x); });
}

int faiss_Index_add_with_ids(FaissIndex *index, idx_t n, const float *x, const idx_t *xids)
{
    return guarded([&] { cxx(index)->add_with_ids(n, x, xids); });
}

int faiss_Index_search(const FaissIndex *index, idx_t n, const float *x, idx_t k,
                       float *distances, idx_t *labels)
{
    return guarded([&] { cxx(index)->search(n, x, k, distances, labels); });
}

int faiss_Index_reconstruct(const FaissIndex *index, idx_t key, float *recons)
{
    return guarded([&] { cxx(index)->reconstruct(key, recons); });
}

int faiss_Index_remove_ids(FaissIndex *index, const FaissIDSelector *sel, size_t *n_removed)
{
    return guarded([&] {
        size_t n = cxx(index)->remove_ids(*reinterpret_cast<const faiss::IDSelector *>(sel));
        if (n_removed)
            *n_removed = n;
    });
}

int faiss_IDSelectorBatch_new(FaissIDSelectorBatch **p_sel, size_t n, const idx_t *indices)
{
    return guarded([&] {
        // Hand out the base-class pointer: faiss_IDSelector_free and
        // faiss_Index_remove_ids read the handle as a faiss::IDSelector.
        faiss::IDSelector *sel = new faiss::IDSelectorBatch(n, indices);
        *p_sel = reinterpret_cast<FaissIDSelectorBatch *>(sel);
    });
}

void faiss_IDSelector_free(FaissIDSelector *obj)
{
    delete reinterpret_cast<faiss::IDSelector *>(obj);
}

FaissIndexIDMap2 *faiss_IndexIDMap2_cast(FaissIndex *index)
{
    return c_handle(dynamic_cast<faiss::IndexIDMap2 *>(cxx(index)));
}

void faiss_IndexIDMap2_id_map(FaissIndexIDMap2 *index, idx_t **p_id_map, size_t *p_size)
{
    auto *m = reinterpret_cast<faiss::IndexIDMap2 *>(index);
    *p_id_map = m->id_map.data();
    *p_size = m->id_map.size();
}

FaissIndexIVF *faiss_IndexIVF_cast(FaissIndex *index)
{
    return c_handle(dynamic_cast<faiss::IndexIVF *>(cxx(index)));
}

FaissIndex *faiss_IndexIVF_quantizer(const FaissIndexIVF *index)
{
    return c_handle(ivf(index)->quantizer);
}

size_t faiss_IndexIVF_nlist(const FaissIndexIVF *index)
{
    return ivf(index)->nlist;
}

size_t faiss_IndexIVF_nprobe(const FaissIndexIVF *index)
{
    return ivf(index)->nprobe;
}

void faiss_IndexIVF_set_nprobe(FaissIndexIVF *index, size_t nprobe)
{
    const_cast<faiss::IndexIVF *>(ivf(index))->nprobe = nprobe;
}

size_t faiss_IndexIVF_get_list_size(const FaissIndexIVF *index, size_t list_no)
{
    return ivf(index)->get_list_size(list_no);
}

void faiss_IndexIVF_invlists_get_ids(const FaissIndexIVF *index, size_t list_no, idx_t *invlist)
{
    const faiss::InvertedLists *lists = ivf(index)->invlists;
    faiss::InvertedLists::ScopedIds ids(lists, list_no);
    std::memcpy(invlist, ids.get(), lists->list_size(list_no) * sizeof *invlist);
}

int faiss_write_index(const FaissIndex *idx, FILE *f)
{
    return guarded([&] { faiss::write_index(cxx(idx), f); });
}

int faiss_read_index(FILE *f, int io_flags, FaissIndex **p_out)
{
    return guarded([&] { *p_out = c_handle(faiss::read_index(f, io_flags)); });
}

}  // extern "C"
