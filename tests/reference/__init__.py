"""Slow, obviously-correct twins of the compiled kernels: one twin per quantity, one module per
kernel module (rolling, rank, ranges, discovery, gridsim). The analysis tests use them too.

NaN convention, shared by every twin (and by the kernels they check): ``+/-inf`` inputs count as
NaN; an output that cannot be computed is NaN. Moving statistics and recursive filters need a
full window (or run) of defined values; ranks and quantiles skip NaN and need ``min_periods``
defined values; a bar with NaN is never a pivot and never touches a bound; NaN prices or volumes
never enter a volume profile. Range discovery does not analyse a lookback that holds a NaN
(``discovery.BAD_BARS``). Each module's docstring says more where a quantity needs it.
"""
