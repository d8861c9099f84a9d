"""Worker processes keep the memory they free instead of handing it back to the kernel.

Why: a GA worker builds and drops a generation's arrays (block signals, signal
matrices, returns) over and over. glibc's malloc gives freed memory at the top
of its heap back to the kernel once more than 128 KB is free, and serves blocks
over 128 KB (a threshold it raises as it goes) with fresh `mmap` pages, so each
generation writes to pages the kernel must fault in again. On the virtual
machines we run on, a first touch costs 1.5-3 µs per 4 KB page (measured:
writing a fresh 70 KB array took 26-57 µs, a reused one 4 µs), which made the
memory traffic of a generation cost as much as its arithmetic. Raising the trim
and mmap thresholds keeps freed memory in the heap for the next generation; a
worker's resident size then stays at its peak (under 1 GB for an evolution
worker, see `bench/evolution.py`).

Guarantees: `keep_freed_memory()` sets glibc's M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
and M_TOP_PAD through `mallopt`, returns whether all three were accepted, is
idempotent, and does nothing (returns False) where the C library has no `mallopt`
(musl, macOS). It never raises. Celery workers call it when they start
(`organism.celery`: the embedded worker too); so does `bench/evolution.py`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters
TRIM_THRESHOLD = 1 << 30  # free memory kept at the top of the heap before trimming
MMAP_THRESHOLD = 32 << 20  # glibc's largest: blocks up to 32 MB come from the heap
TOP_PAD = 16 << 20  # the heap grows 16 MB at a time (fewer brk calls)


@functools.cache
def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory for reuse (see the module docstring)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                (M_TOP_PAD, TOP_PAD))
    return all(mallopt(option, value) == 1 for option, value in settings)
