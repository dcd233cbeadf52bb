/* Chain ascending levels into clusters: a level joins the current cluster when it lies within
 * `tol` of the previous level. Writes each cluster's mean (summed in ascending order) and size;
 * returns the number of clusters. `levels` must be sorted and NaN-free; n == 0 gives 0.
 * Shared by the range primitives and the many-hour range discovery so both cluster alike. */
#ifndef GRIDREGIME_CLUSTER_H
#define GRIDREGIME_CLUSTER_H

#include <stdint.h>

static inline int64_t gr_cluster_sorted(const double *levels, int64_t n, double tol,
                                        double *centers, int64_t *counts)
{
    if (n <= 0) return 0;
    int64_t c = 0, members = 1;
    double acc = levels[0];
    for (int64_t i = 1; i < n; i++) {
        if (levels[i] - levels[i - 1] <= tol) {
            acc += levels[i];
            members++;
        } else {
            centers[c] = acc / (double)members;
            counts[c] = members;
            c++;
            acc = levels[i];
            members = 1;
        }
    }
    centers[c] = acc / (double)members;
    counts[c] = members;
    return c + 1;
}

#endif
