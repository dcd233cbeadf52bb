/* Grid PnL simulator over OHLC bars: one account, a sequence of grid segments.
 *
 * Plain C, header only, no Python.h. The rules are stated in full in
 * src/gridregime/kernels/gridsim.py; this file implements them and validates nothing.
 *
 * A grid of L ascending level prices P[0..L) has S = L - 1 slots; slot j owns the base
 * quantity Q[j] (0 = inactive) and is either WAITING (limit buy at P[j]) or HOLDING
 * (limit sell at P[j + 1]). The active slots of each state are kept as bit sets, so a bar
 * costs O(1) when nothing fills (compare the highest WAITING slot with the bar's low and the
 * lowest HOLDING slot with its high) and O(log S + S / 64 + fills) when something does:
 * the price where fills stop is found by binary search over P and the filled slots are
 * visited bit by bit, in ascending slot order.
 */
#ifndef GRIDREGIME_GRIDSIM_H
#define GRIDREGIME_GRIDSIM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gridregime/portable.h"

#define GR_GRIDSIM_PESSIMISTIC 0
#define GR_GRIDSIM_OHLC 1

/* Number of 64-bit words of a bit set over n slots. */
static inline int64_t gr_bits_words(int64_t n) { return (n + 63) / 64; }

/* Mask of the bits [lo, hi) of word w (bit b of word w is slot 64 * w + b). */
static inline uint64_t gr_word_mask(int64_t w, int64_t lo, int64_t hi)
{
    int64_t base = 64 * w;
    int64_t a = lo > base ? lo - base : 0;
    int64_t b = hi < base + 64 ? hi - base : 64;
    if (a >= b) return 0;
    uint64_t upper = b == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << b) - 1);
    return upper & ~((UINT64_C(1) << a) - 1);
}

/* Lowest set bit >= from, or n when there is none. */
static inline int64_t gr_bits_next(const uint64_t *bits, int64_t n, int64_t from)
{
    int64_t nw = gr_bits_words(n);
    if (from >= n) return n;
    int64_t w = from / 64;
    uint64_t word = bits[w] & (~UINT64_C(0) << (from % 64));
    for (;;) {
        if (word) return 64 * w + gr_ctz64(word);
        if (++w >= nw) return n;
        word = bits[w];
    }
}

/* Highest set bit <= from, or -1 when there is none. */
static inline int64_t gr_bits_prev(const uint64_t *bits, int64_t from)
{
    if (from < 0) return -1;
    int64_t w = from / 64;
    int r = (int)(from % 64);
    uint64_t word = bits[w] & (r == 63 ? ~UINT64_C(0) : ((UINT64_C(1) << (r + 1)) - 1));
    for (;;) {
        if (word) return 64 * w + gr_msb64(word);
        if (--w < 0) return -1;
        word = bits[w];
    }
}

/* Inputs, work space and outputs of one simulation. */
typedef struct {
    /* bars */
    const double *open, *high, *low, *close;
    int64_t n;
    /* segments: bars [seg_start[k], seg_end[k]), levels prices[level_off[k] .. level_off[k+1]),
     * quantities qty[slot_off[k] ..] (one fewer than the levels) */
    int64_t nseg;
    const int64_t *seg_start, *seg_end, *level_off, *slot_off;
    const uint8_t *seg_close;
    const double *prices, *qty;
    double budget, fee, min_notional;
    int path;
    /* size_to_equity: a grid never commits more than the account's equity (see the wrapper);
     * lot: quantity step of the scaled slots (0: none); qwork: room for the largest slot count */
    int size_to_equity;
    double lot;
    double *qwork;
    /* 3 * gr_bits_words(largest slot count) words */
    uint64_t *work;
    /* per bar and per segment outputs, caller-allocated */
    double *equity, *base;
    int64_t *seg_fills;
    double *seg_fees, *seg_pnl, *seg_traded;
    /* totals */
    double cash, fees;
    int64_t fills;
} gr_gridsim;

/* State of the grid being run. */
typedef struct {
    const double *P, *Q;
    int64_t S, nw;
    uint64_t *wait, *hold, *tmp;
    int64_t top_wait;   /* highest WAITING slot, -1 if none */
    int64_t low_hold;   /* lowest HOLDING slot, S if none */
    double cash, base, fee;
    double fees;        /* fees of the current segment */
    int64_t fills;
} gr_grid_state;

static inline void gr_grid_refresh(gr_grid_state *g)
{
    g->top_wait = gr_bits_prev(g->wait, g->S - 1);
    g->low_hold = gr_bits_next(g->hold, g->S, 0);
}

/* First slot j in [lo, hi) with P[j] >= x, given that hi - 1 qualifies. */
static inline int64_t gr_first_level_ge(const double *P, int64_t lo, int64_t hi, double x)
{
    while (lo < hi - 1) {
        int64_t mid = lo + (hi - 1 - lo) / 2;
        if (P[mid] >= x) hi = mid + 1;
        else lo = mid + 1;
    }
    return hi - 1;
}

/* First slot j in [lo, S) with P[j + 1] > x, or S when every one has P[j + 1] <= x. */
static inline int64_t gr_first_upper_gt(const double *P, int64_t lo, int64_t S, double x)
{
    int64_t hi = S;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (P[mid + 1] > x) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Every WAITING slot j with P[j] >= x buys Q[j] at P[j]. Returns the number of fills. */
static inline int64_t gr_grid_buy_down_to(gr_grid_state *g, double x)
{
    if (g->top_wait < 0 || !(g->P[g->top_wait] >= x)) return 0;
    int64_t a = gr_first_level_ge(g->P, 0, g->top_wait + 1, x);
    int64_t count = 0;
    for (int64_t w = a / 64; w < g->nw; w++) {
        uint64_t word = g->wait[w] & gr_word_mask(w, a, g->S);
        g->wait[w] &= ~word;
        g->hold[w] |= word;
        while (word) {
            int64_t j = 64 * w + gr_ctz64(word);
            word &= word - 1;
            double notional = g->Q[j] * g->P[j];
            double f = notional * g->fee;
            g->cash -= notional;
            g->cash -= f;
            g->fees += f;
            g->base += g->Q[j];
            count++;
        }
    }
    return count;
}

/* Every slot set in `sellers` below slot c sells Q[j] at P[j + 1]; the caller has checked
 * that they are HOLDING. Returns the number of fills. */
static inline int64_t gr_grid_sell(gr_grid_state *g, const uint64_t *sellers, int64_t from, int64_t c)
{
    int64_t count = 0;
    for (int64_t w = from / 64; w < g->nw && 64 * w < c; w++) {
        uint64_t word = sellers[w] & gr_word_mask(w, from, c);
        g->hold[w] &= ~word;
        g->wait[w] |= word;
        while (word) {
            int64_t j = 64 * w + gr_ctz64(word);
            word &= word - 1;
            double notional = g->Q[j] * g->P[j + 1];
            double f = notional * g->fee;
            g->cash += notional;
            g->cash -= f;
            g->fees += f;
            g->base -= g->Q[j];
            count++;
        }
    }
    return count;
}

/* Every HOLDING slot j with P[j + 1] <= x sells. Returns the number of fills. */
static inline int64_t gr_grid_sell_up_to(gr_grid_state *g, double x)
{
    if (g->low_hold >= g->S || !(g->P[g->low_hold + 1] <= x)) return 0;
    int64_t c = gr_first_upper_gt(g->P, g->low_hold, g->S, x);
    return gr_grid_sell(g, g->hold, g->low_hold, c);
}

/* One bar, pessimistic path: buys at the low first, then sells at the high by the slots
 * that were HOLDING when the bar opened. */
static inline int64_t gr_grid_bar_pessimistic(gr_grid_state *g, double hi, double lo)
{
    int sells = g->low_hold < g->S && g->P[g->low_hold + 1] <= hi;
    int buys = g->top_wait >= 0 && g->P[g->top_wait] >= lo;
    int64_t from = 0, c = 0, count = 0;
    if (!sells && !buys) return 0;
    if (sells) {
        from = g->low_hold;
        c = gr_first_upper_gt(g->P, from, g->S, hi);
        for (int64_t w = from / 64; w < g->nw && 64 * w < c; w++) g->tmp[w] = g->hold[w];
    }
    if (buys) count += gr_grid_buy_down_to(g, lo);
    if (sells) count += gr_grid_sell(g, g->tmp, from, c);
    gr_grid_refresh(g);
    return count;
}

/* One leg of the ohlc path; `rising` legs sell, falling legs buy. */
static inline int64_t gr_grid_leg(gr_grid_state *g, int rising, double to)
{
    int64_t count = rising ? gr_grid_sell_up_to(g, to) : gr_grid_buy_down_to(g, to);
    if (count) gr_grid_refresh(g);
    return count;
}

/* One bar, ohlc path: O-H-L-C when close < open, else O-L-H-C. */
static inline int64_t gr_grid_bar_ohlc(gr_grid_state *g, double o, double hi, double lo, double c)
{
    int64_t count = 0;
    if (c < o) {
        count += gr_grid_leg(g, 1, hi);
        count += gr_grid_leg(g, 0, lo);
        count += gr_grid_leg(g, 1, c);
    } else {
        count += gr_grid_leg(g, 0, lo);
        count += gr_grid_leg(g, 1, hi);
        count += gr_grid_leg(g, 0, c);
    }
    return count;
}

static inline void gr_gridsim_run(gr_gridsim *sim)
{
    gr_grid_state g;
    double eq_before, fees = 0.0;
    int64_t bar = 0, i;
    memset(&g, 0, sizeof g);
    g.cash = sim->budget;
    g.base = 0.0;
    g.fee = sim->fee;

    for (int64_t k = 0; k < sim->nseg; k++) {
        int64_t s = sim->seg_start[k], e = sim->seg_end[k];
        for (; bar < s; bar++) {
            sim->equity[bar] = g.cash + g.base * sim->close[bar];
            sim->base[bar] = g.base;
        }
        /* s == 0 only for a first segment, which starts with cash = budget and no base */
        eq_before = s > 0 ? sim->equity[s - 1] : g.cash + g.base * sim->open[s];
        int64_t fills_before = g.fills;
        g.fees = 0.0; /* per segment, so that seg_fees is a sum and not a difference */

        g.P = sim->prices + sim->level_off[k];
        g.Q = sim->qty + sim->slot_off[k];
        g.S = sim->level_off[k + 1] - sim->level_off[k] - 1;
        if (sim->size_to_equity) {
            /* a grid worth more (at its buy prices) than the equity at the open is scaled down */
            double p0 = sim->open[s], eq = g.cash + g.base * p0, alloc = 0.0;
            for (int64_t j = 0; j < g.S; j++)
                if (g.Q[j] > 0.0) alloc += g.Q[j] * g.P[j];
            if (alloc > 0.0 && eq < alloc) {
                double f = eq > 0.0 ? eq / alloc : 0.0;
                for (int64_t j = 0; j < g.S; j++) {
                    double q = g.Q[j] * f;
                    if (sim->lot > 0.0) q = floor(q / sim->lot + 1e-9) * sim->lot;
                    sim->qwork[j] = (q > 0.0 && q * g.P[j] >= sim->min_notional) ? q : 0.0;
                }
                g.Q = sim->qwork;
            }
        }
        g.nw = gr_bits_words(g.S);
        g.wait = sim->work;
        g.hold = sim->work + g.nw;
        g.tmp = sim->work + 2 * g.nw;
        memset(sim->work, 0, (size_t)(3 * g.nw) * sizeof(uint64_t));

        /* opening: slots at or above the open hold, the others wait; rebalance to target */
        double p = sim->open[s], target = 0.0;
        for (int64_t j = 0; j < g.S; j++) {
            if (!(g.Q[j] > 0.0)) continue;
            uint64_t bit = UINT64_C(1) << (j % 64);
            if (g.P[j] >= p) {
                g.hold[j / 64] |= bit;
                target += g.Q[j];
            } else {
                g.wait[j / 64] |= bit;
            }
        }
        gr_grid_refresh(&g);
        double delta = target - g.base, traded = 0.0;
        if (delta != 0.0 && fabs(delta) * p >= sim->min_notional) {
            double notional = delta * p;
            double f = fabs(notional) * g.fee;
            g.cash -= notional;
            g.cash -= f;
            g.fees += f;
            g.base = target;
            traded = delta;
        }

        for (i = s; i < e; i++) {
            if (sim->path == GR_GRIDSIM_OHLC)
                g.fills += gr_grid_bar_ohlc(&g, sim->open[i], sim->high[i], sim->low[i], sim->close[i]);
            else
                g.fills += gr_grid_bar_pessimistic(&g, sim->high[i], sim->low[i]);
            if (i == e - 1 && sim->seg_close[k] && g.base != 0.0) {
                double notional = g.base * sim->close[i];
                double f = fabs(notional) * g.fee;
                g.cash += notional;
                g.cash -= f;
                g.fees += f;
                g.base = 0.0;
            }
            sim->equity[i] = g.cash + g.base * sim->close[i];
            sim->base[i] = g.base;
        }
        bar = e;
        sim->seg_fills[k] = g.fills - fills_before;
        sim->seg_fees[k] = g.fees;
        fees += g.fees;
        sim->seg_pnl[k] = sim->equity[e - 1] - eq_before;
        sim->seg_traded[k] = traded;
    }
    for (; bar < sim->n; bar++) {
        sim->equity[bar] = g.cash + g.base * sim->close[bar];
        sim->base[bar] = g.base;
    }
    sim->cash = g.cash;
    sim->fees = fees;
    sim->fills = g.fills;
}

#endif
