/* What the kernel headers need from the compiler and the platform, in one place.
 *
 * Plain C, header only, no Python.h. Everything compiler-specific is guarded here, with a
 * portable fall-back, so that the other headers build with any C99 compiler.
 */
#ifndef GRIDREGIME_PORTABLE_H
#define GRIDREGIME_PORTABLE_H

#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Index and length type: the kernels are called with Py_ssize_t / npy_intp values, which
   have the width of ptrdiff_t on every platform CPython supports. */
typedef ptrdiff_t gr_idx;

/* Loops without a dependency between iterations whose selects gcc only if-converts (and so
   vectorises) when FP comparisons may be treated as non-trapping. Results are unchanged:
   IEEE arithmetic is not affected. Other compilers either do this anyway (clang) or do not
   know the attribute. */
#if defined(__GNUC__) && !defined(__clang__)
#define GR_NO_TRAPPING_MATH __attribute__((optimize("no-trapping-math")))
#else
#define GR_NO_TRAPPING_MATH
#endif

/* A function kept out of line: rare work (such as starting a block) called from a hot loop,
   which would otherwise take registers from the loop. */
#if defined(__GNUC__) || defined(__clang__)
#define GR_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define GR_NOINLINE __declspec(noinline)
#else
#define GR_NOINLINE
#endif

/* Index of the lowest set bit of x (x != 0). */
static inline int gr_ctz64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(x);
#else
    int k = 0;
    while (!(x & 1u)) { x >>= 1; k++; }
    return k;
#endif
}

/* Index of the highest set bit of x (x != 0). */
static inline int gr_msb64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return 63 - __builtin_clzll(x);
#else
    int k = 63;
    while (!(x >> k)) k--;
    return k;
#endif
}

#endif /* GRIDREGIME_PORTABLE_H */
