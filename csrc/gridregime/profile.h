/* Volume-profile helpers shared by the range primitives and the many-hour range discovery,
 * so both bin prices and grow value areas identically. */
#ifndef GRIDREGIME_PROFILE_H
#define GRIDREGIME_PROFILE_H

#include <stdint.h>

/* Bin of price p (first <= p <= last) over `bins` evenly spaced edges, scale = bins / (last -
 * first). The scaled index can be off by one next to an edge: it is settled on the edges, so
 * the result follows numpy.histogram (last bin closed on the right). */
static inline int64_t gr_profile_bin(double p, double first, double scale, const double *edges,
                                     int64_t bins)
{
    int64_t b = (int64_t)((p - first) * scale);
    if (b >= bins) b = bins - 1;
    if (b > 0 && p < edges[b]) b--;
    else if (b < bins - 1 && p >= edges[b + 1]) b++;
    return b;
}

/* Point of control (first bin with the most volume) and value area [*lo, *hi] (bin indices):
 * grown from the POC one bin at a time towards the neighbour with more volume (upwards on a
 * tie) until it holds at least `share` of the total. Returns 0 when the total is not > 0. */
static inline int gr_value_area(const double *prof, int64_t bins, double share, int64_t *poc,
                                int64_t *lo, int64_t *hi)
{
    double total = 0.0;
    int64_t p = 0;
    for (int64_t k = 0; k < bins; k++) {
        total += prof[k];
        if (prof[k] > prof[p]) p = k;
    }
    *poc = p;
    if (!(total > 0.0)) return 0;
    int64_t a = p, b = p;
    double acc = prof[p];
    while (acc < share * total && (a > 0 || b < bins - 1)) {
        double below = a > 0 ? prof[a - 1] : -1.0;
        double above = b < bins - 1 ? prof[b + 1] : -1.0;
        if (above >= below) { b++; acc += above; }
        else { a--; acc += below; }
    }
    *lo = a;
    *hi = b;
    return 1;
}

#endif
