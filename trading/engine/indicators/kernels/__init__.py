"""Numba kernels behind the batch indicators.

Each kernel makes one pass over contiguous float64 arrays and writes into an
output array the caller allocated (NaN during warm-up). Where TA-Lib has the
same indicator, the kernel repeats TA-Lib's arithmetic operation for operation
(same running sums, same order of additions and divisions), so results agree
to the last bit or close to it, and the incremental classes can repeat the same
arithmetic to give the same floats. Kernels are compiled with `cache=True`.
"""
