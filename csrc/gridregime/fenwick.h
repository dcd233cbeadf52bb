/* Fenwick (binary indexed) tree of int32 counts over 1-based positions 1..m.
 *
 * Plain C, header only, no Python.h: included by the Cython kernels through
 * `cdef extern from "gridregime/fenwick.h"`. The caller owns the storage: an array of
 * m + 1 int32 with slot 0 unused. Every operation is O(log m) except the O(m) build.
 */
#ifndef GRIDREGIME_FENWICK_H
#define GRIDREGIME_FENWICK_H

#include <stddef.h>
#include <stdint.h>

/* Turn plain counts in tree[1..m] into a Fenwick tree, in place, in O(m). */
static inline void fenwick_build(int32_t *tree, ptrdiff_t m) {
    for (ptrdiff_t i = 1; i <= m; ++i) {
        ptrdiff_t parent = i + (i & -i);
        if (parent <= m) tree[parent] += tree[i];
    }
}

/* counts[i] += delta, for 1 <= i <= m. */
static inline void fenwick_add(int32_t *tree, ptrdiff_t m, ptrdiff_t i, int32_t delta) {
    for (; i <= m; i += i & -i) tree[i] += delta;
}

/* counts[1] + ... + counts[i], for 0 <= i <= m (0 gives 0). */
static inline int32_t fenwick_prefix(const int32_t *tree, ptrdiff_t i) {
    int32_t s = 0;
    for (; i > 0; i -= i & -i) s += tree[i];
    return s;
}

/* Highest power of two <= m (0 when m == 0): the first step of fenwick_search. */
static inline ptrdiff_t fenwick_top(ptrdiff_t m) {
    ptrdiff_t top = 0;
    if (m <= 0) return 0;
    top = 1;
    while (top <= m / 2) top <<= 1;
    return top;
}

/* Smallest position i with prefix(i) >= k, for 1 <= k <= prefix(m): where the k-th
 * smallest element lies (1-based, counting multiplicity). *rest receives k - prefix(i - 1),
 * the element's place among those at position i. Returns m + 1 when k exceeds the total.
 * `top` is fenwick_top(m). */
static inline ptrdiff_t fenwick_search(const int32_t *tree, ptrdiff_t m, ptrdiff_t top, int32_t k,
                                       int32_t *rest) {
    ptrdiff_t pos = 0;
    for (ptrdiff_t step = top; step > 0; step >>= 1) {
        ptrdiff_t next = pos + step;
        if (next <= m && tree[next] < k) {
            pos = next;
            k -= tree[next];
        }
    }
    *rest = k;
    return pos + 1;
}

#endif /* GRIDREGIME_FENWICK_H */
