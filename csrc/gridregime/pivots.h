/* Fractal swing points: bar i is a pivot high when high[i] is strictly above each of the
 * `order` highs on either side (a pivot low: strictly below the lows). The first and last
 * `order` bars never qualify; the comparisons are written so that a NaN anywhere in the
 * neighbourhood rules the bar out. Shared by the range primitives and the many-hour range
 * discovery so both find the same pivots. */
#ifndef GRIDREGIME_PIVOTS_H
#define GRIDREGIME_PIVOTS_H

#include <stddef.h>
#include <stdint.h>

static inline void gr_fractal_pivots(const double *high, const double *low, ptrdiff_t n,
                                     ptrdiff_t order, uint8_t *is_high, uint8_t *is_low)
{
    for (ptrdiff_t i = order; i < n - order; i++) {
        int up = high[i] == high[i], down = low[i] == low[i];
        for (ptrdiff_t j = i - order; j <= i + order && (up || down); j++) {
            if (j == i) continue;
            if (up && !(high[i] > high[j])) up = 0;
            if (down && !(low[i] < low[j])) down = 0;
        }
        is_high[i] = (uint8_t)up;
        is_low[i] = (uint8_t)down;
    }
}

#endif
