/* Which OpenBLAS kernels run, and the way out when OpenBLAS does not know
 * the CPU (capsearch.h: cs_blas_core, cs_blas_restart_if_generic).
 *
 * OpenBLAS's Debian build picks its kernels by CPU model when it is loaded.
 * A model newer than the library (0.3.21 does not know Emerald Rapids, for
 * one) gets its SSE3 "Prescott" kernels, several times slower than the
 * AVX2 or AVX-512 ones the CPU can run. OPENBLAS_CORETYPE overrides the
 * choice, but is read only while the library loads: the process has to be
 * started again with it set. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "capsearch/capsearch.h"

const char *cs_blas_core(void)
{
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
}

/* The kernels to ask for on this CPU, by instruction set, as OpenBLAS
 * names them: SkylakeX needs AVX-512 F/CD/BW/DQ/VL, Haswell AVX2 and FMA. */
static const char *core_for_cpu(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
    return NULL;
}

const char *cs_blas_better_core(void)
{
    const char *chosen = getenv("OPENBLAS_CORETYPE");
    if (chosen && *chosen)
        return NULL;   /* the user's choice stands */
    /* A CPU of Prescott's own time has neither AVX2 nor AVX-512: the
     * fallback is told apart from a real Prescott by the instruction set. */
    if (strcasecmp(cs_blas_core(), "Prescott") != 0)
        return NULL;
    return core_for_cpu();
}

void cs_blas_restart_if_generic(char **argv)
{
    const char *core = cs_blas_better_core();
    if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* Not restarted (no /proc, say): go on with the slow kernels. The
     * variable stays set, so a child process gets the fast ones. */
}
