/* Sliding window over dense integer ranks, for rolling rank and rolling quantiles.
 *
 * Plain C, header only, no Python.h. The series x[0..n) is cut into blocks of
 * `block = min(window, n)` values. Every window that ends inside block k lies inside
 * blocks k-1 and k, so those <= 2*block values are compressed to dense ranks 1..m
 * (equal values share a rank, NaN gets rank 0) and the window is a multiset of ranks:
 * counts per rank plus a Fenwick tree over them, of size m <= 2*block, small enough to
 * stay in cache (345 kB at window = 43,200).
 * Each block is sorted once (bucket sort of order-preserving integer keys) and merged
 * twice, so the whole pass costs O(n log window).
 *
 * Use:   gr_window_init(&win, x, n, window)        -- 0 on success, -1 if out of memory
 *        for t = 0 .. n-1:
 *            r = gr_window_advance(&win, t);       -- the window is now x[t-window+1 .. t]
 *            ... win.nobs, gr_window_count_less, gr_window_kth
 *        gr_window_free(&win)
 * gr_window_advance starts each block (gr_window_start_block), then slides the window by
 * one value (gr_window_rank, gr_window_insert, gr_window_remove).
 */
#ifndef GRIDREGIME_DENSE_WINDOW_H
#define GRIDREGIME_DENSE_WINDOW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gridregime/fenwick.h"
#include "gridregime/portable.h"

typedef struct {
    uint64_t key; /* order-preserving image of the value */
    int64_t pos;  /* index in x */
} gr_keyed;

/* Map a non-NaN double to an unsigned integer with the same order. -0.0 and 0.0 compare
 * equal as doubles, so they must share a key. */
static inline uint64_t gr_order_key(double v) {
    uint64_t u;
    if (v == 0.0) v = 0.0;
    memcpy(&u, &v, sizeof u);
    return (u >> 63) ? ~u : (u | UINT64_C(0x8000000000000000));
}

/* Inverse of gr_order_key (zero comes back as +0.0). */
static inline double gr_key_value(uint64_t u) {
    double v;
    u = (u >> 63) ? (u & ~UINT64_C(0x8000000000000000)) : ~u;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Sort a[0..n) by key (order among equal keys is unspecified); tmp has room for n items.
 *
 * MSD bucket sort on the key bits below the common prefix of the run: one counting pass
 * into about n/4 buckets by the top varying bits of (key - min), insertion sort for small
 * buckets, recursion for the rare large ones; every level is linear. Smooth data such as
 * a price series is sorted in about three passes. Past GR_SORT_MAX_DEPTH levels (data
 * clustered at many scales) a bucket is heap-sorted instead, which keeps the stack small
 * (8 kB per level) and the worst case O(n log n). */
static inline void gr_insertion_sort_keyed(gr_keyed *a, ptrdiff_t n) {
    for (ptrdiff_t i = 1; i < n; ++i) {
        gr_keyed item = a[i];
        ptrdiff_t j = i - 1;
        while (j >= 0 && a[j].key > item.key) {
            a[j + 1] = a[j];
            --j;
        }
        a[j + 1] = item;
    }
}

static inline void gr_sift_down_keyed(gr_keyed *a, ptrdiff_t root, ptrdiff_t n) {
    gr_keyed item = a[root];
    for (;;) {
        ptrdiff_t child = 2 * root + 1;
        if (child >= n) break;
        if (child + 1 < n && a[child + 1].key > a[child].key) ++child;
        if (a[child].key <= item.key) break;
        a[root] = a[child];
        root = child;
    }
    a[root] = item;
}

static inline void gr_heap_sort_keyed(gr_keyed *a, ptrdiff_t n) {
    for (ptrdiff_t i = n / 2 - 1; i >= 0; --i) gr_sift_down_keyed(a, i, n);
    for (ptrdiff_t end = n - 1; end > 0; --end) {
        gr_keyed top = a[0];
        a[0] = a[end];
        a[end] = top;
        gr_sift_down_keyed(a, 0, end);
    }
}

#define GR_SORT_SMALL 48
#define GR_SORT_MAX_DIGIT 11
#define GR_SORT_MAX_DEPTH 4

static void gr_bucket_sort_keyed(gr_keyed *a, gr_keyed *tmp, ptrdiff_t n, int depth) {
    if (n <= GR_SORT_SMALL) {
        gr_insertion_sort_keyed(a, n);
        return;
    }
    if (depth >= GR_SORT_MAX_DEPTH) {
        gr_heap_sort_keyed(a, n);
        return;
    }
    uint64_t lo = a[0].key, hi = a[0].key;
    for (ptrdiff_t i = 1; i < n; ++i) {
        uint64_t k = a[i].key;
        if (k < lo) lo = k;
        if (k > hi) hi = k;
    }
    uint64_t span = hi - lo;
    if (span == 0) return; /* all keys equal */
    int span_bits = gr_msb64(span) + 1;
    int digit = 2;         /* about four items per bucket */
    while (digit < GR_SORT_MAX_DIGIT && ((ptrdiff_t)1 << (digit + 2)) < n) ++digit;
    if (digit > span_bits) digit = span_bits;
    int shift = span_bits - digit;
    ptrdiff_t buckets = (ptrdiff_t)1 << digit;
    uint32_t end[1 << GR_SORT_MAX_DIGIT];
    memset(end, 0, (size_t)buckets * sizeof end[0]);
    for (ptrdiff_t i = 0; i < n; ++i) end[(a[i].key - lo) >> shift]++;
    uint32_t offset = 0;
    for (ptrdiff_t b = 0; b < buckets; ++b) { /* end[b] becomes the start of bucket b */
        uint32_t c = end[b];
        end[b] = offset;
        offset += c;
    }
    for (ptrdiff_t i = 0; i < n; ++i) tmp[end[(a[i].key - lo) >> shift]++] = a[i];
    memcpy(a, tmp, (size_t)n * sizeof *a); /* now end[b] is the end of bucket b */
    uint32_t start = 0;
    for (ptrdiff_t b = 0; b < buckets; ++b) {
        ptrdiff_t size = (ptrdiff_t)end[b] - start;
        if (size > GR_SORT_SMALL) gr_bucket_sort_keyed(a + start, tmp + start, size, depth + 1);
        else if (size > 1) gr_insertion_sort_keyed(a + start, size);
        start = end[b];
    }
}

static inline void gr_sort_keyed(gr_keyed *a, gr_keyed *tmp, ptrdiff_t n) {
    gr_bucket_sort_keyed(a, tmp, n, 0);
}

typedef struct {
    const double *x;
    ptrdiff_t n, window, block;
    gr_keyed *prev, *cur, *tmp; /* sorted non-NaN values of the previous and current block */
    ptrdiff_t n_prev, n_cur;
    ptrdiff_t base;             /* rank_of[j] is the dense rank of x[base + j] */
    int32_t *rank_of;           /* 2*block entries; 0 = NaN */
    double *value_of_rank;      /* 2*block + 1 entries; [r] = value with dense rank r */
    int32_t *counts;            /* 2*block + 1 entries; [r] = multiplicity of rank r in the window */
    int32_t *tree;              /* Fenwick tree over counts, 2*block + 1 entries */
    ptrdiff_t m, top;           /* number of distinct ranks; fenwick_top(m) */
    ptrdiff_t block_end;        /* end of the current block (0 before the first) */
    int32_t nobs;               /* non-NaN values in the window */
} gr_window;

static inline void gr_window_free(gr_window *w) {
    free(w->prev);
    free(w->cur);
    free(w->tmp);
    free(w->rank_of);
    free(w->value_of_rank);
    free(w->counts);
    free(w->tree);
    memset(w, 0, sizeof *w);
}

/* Requires n >= 1 and window >= 1 (the block is then >= 1). Returns 0, or -1 when an
 * allocation fails (everything already allocated is released). */
static inline int gr_window_init(gr_window *w, const double *x, ptrdiff_t n, ptrdiff_t window) {
    memset(w, 0, sizeof *w);
    w->x = x;
    w->n = n;
    w->window = window;
    w->block = window < n ? window : n;
    size_t b = (size_t)w->block;
    w->prev = (gr_keyed *)malloc(b * sizeof(gr_keyed));
    w->cur = (gr_keyed *)malloc(b * sizeof(gr_keyed));
    w->tmp = (gr_keyed *)malloc(b * sizeof(gr_keyed));
    w->rank_of = (int32_t *)malloc(2 * b * sizeof(int32_t));
    w->value_of_rank = (double *)malloc((2 * b + 1) * sizeof(double));
    w->counts = (int32_t *)malloc((2 * b + 1) * sizeof(int32_t));
    w->tree = (int32_t *)malloc((2 * b + 1) * sizeof(int32_t));
    if (!w->prev || !w->cur || !w->tmp || !w->rank_of || !w->value_of_rank || !w->counts || !w->tree) {
        gr_window_free(w);
        return -1;
    }
    return 0;
}

/* Dense rank of x[pos] (0 when NaN); pos must lie in [lo - block, hi) of the current block. */
static inline int32_t gr_window_rank(const gr_window *w, ptrdiff_t pos) {
    return w->rank_of[pos - w->base];
}

static inline void gr_window_insert(gr_window *w, int32_t r) {
    w->counts[r] += 1;
    fenwick_add(w->tree, w->m, r, 1);
    w->nobs += 1;
}

static inline void gr_window_remove(gr_window *w, int32_t r) {
    w->counts[r] -= 1;
    fenwick_add(w->tree, w->m, r, -1);
    w->nobs -= 1;
}

/* Number of values in the window with a rank below r (1 <= r <= m). */
static inline int32_t gr_window_count_less(const gr_window *w, int32_t r) {
    return fenwick_prefix(w->tree, r - 1);
}

/* Rank of the k-th smallest value in the window, 1 <= k <= nobs (ties counted). */
static inline int32_t gr_window_kth(const gr_window *w, int32_t k) {
    int32_t rest;
    return (int32_t)fenwick_search(w->tree, w->m, w->top, k, &rest);
}

/* Prepare the block x[lo..hi): blocks must be started in order, lo = 0, block, 2*block...
 * Afterwards the window holds x[max(0, lo - window + 1) .. lo - 1]. */
GR_NOINLINE static void gr_window_start_block(gr_window *w, ptrdiff_t lo, ptrdiff_t hi) {
    const double *x = w->x;
    ptrdiff_t i, j;

    /* Sort the non-NaN values of the new block. */
    w->n_cur = 0;
    for (i = lo; i < hi; ++i) {
        double v = x[i];
        if (v == v) {
            w->cur[w->n_cur].key = gr_order_key(v);
            w->cur[w->n_cur].pos = i;
            w->n_cur += 1;
        }
    }
    gr_sort_keyed(w->cur, w->tmp, w->n_cur);

    /* Merge with the previous block into dense ranks over x[lo - block .. hi). */
    w->base = lo - w->block;
    memset(w->rank_of, 0, 2 * (size_t)w->block * sizeof(int32_t));
    const gr_keyed *a = w->prev, *c = w->cur;
    ptrdiff_t na = lo > 0 ? w->n_prev : 0, nc = w->n_cur;
    int32_t *rank_of = w->rank_of;
    const ptrdiff_t base = w->base;
    double *value_of_rank = w->value_of_rank;
    int32_t r = 0;
    uint64_t last = 0;
    i = 0;
    j = 0;
    /* Branch-free merge step: which run supplies the next item is data-dependent and
     * unpredictable, so select instead of branching. */
    while (i < na && j < nc) {
        int from_a = a[i].key <= c[j].key;
        gr_keyed item = from_a ? a[i] : c[j];
        i += from_a;
        j += 1 - from_a;
        r += (r == 0) | (item.key != last);
        last = item.key;
        value_of_rank[r] = gr_key_value(last);
        rank_of[item.pos - base] = r;
    }
    for (; i < na; ++i) {
        r += (r == 0) | (a[i].key != last);
        last = a[i].key;
        value_of_rank[r] = gr_key_value(last);
        rank_of[a[i].pos - base] = r;
    }
    for (; j < nc; ++j) {
        r += (r == 0) | (c[j].key != last);
        last = c[j].key;
        value_of_rank[r] = gr_key_value(last);
        rank_of[c[j].pos - base] = r;
    }
    w->m = r;
    w->top = fenwick_top(r);

    /* Load the window that ends just before lo. */
    memset(w->counts, 0, ((size_t)r + 1) * sizeof(int32_t));
    w->nobs = 0;
    ptrdiff_t first = lo - w->window + 1;
    if (first < 0) first = 0;
    for (i = first; i < lo; ++i) {
        int32_t rk = w->rank_of[i - w->base];
        if (rk) {
            w->counts[rk] += 1;
            w->nobs += 1;
        }
    }
    memcpy(w->tree, w->counts, ((size_t)r + 1) * sizeof(int32_t));
    fenwick_build(w->tree, r);

    /* The current block becomes the previous one. */
    gr_keyed *swap = w->prev;
    w->prev = w->cur;
    w->cur = swap;
    w->n_prev = w->n_cur;
    w->block_end = hi;
}

/* Slide the window to end at x[t], for t = 0, 1, ..., n-1 in turn: the window becomes
 * x[max(0, t - window + 1) .. t]. Returns the dense rank of x[t] (0 when NaN). At the first
 * value of a block the block is started, which loads the window ending at t - 1; otherwise
 * x[t - window] leaves. */
static inline int32_t gr_window_advance(gr_window *w, ptrdiff_t t) {
    int32_t r;
    if (t == w->block_end) {
        gr_window_start_block(w, t, t + w->block < w->n ? t + w->block : w->n);
    } else if (t >= w->window) {
        r = gr_window_rank(w, t - w->window);
        if (r) gr_window_remove(w, r);
    }
    r = gr_window_rank(w, t);
    if (r) gr_window_insert(w, r);
    return r;
}

#endif /* GRIDREGIME_DENSE_WINDOW_H */
