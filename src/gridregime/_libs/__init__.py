"""Compiled kernels (private). Use :mod:`gridregime.kernels` instead."""
