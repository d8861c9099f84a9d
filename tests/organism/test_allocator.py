"""Worker processes keep the memory they free (`organism.allocator`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from celery.signals import worker_init, worker_process_init

from organism.allocator import keep_freed_memory
from organism.celery import keep_worker_memory

PROBE = """
import ctypes, ctypes.util, json, sys
import numpy as np
from organism.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
if not hasattr(libc, "mallinfo2"):
    print(json.dumps(None)); sys.exit()
libc.mallinfo2.restype = MallInfo2
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
before = libc.mallinfo2()
block = np.ones(20 * 2**20 // 8)
during = libc.mallinfo2()
del block
after = libc.mallinfo2()
print(json.dumps({"kept": kept, "mmapped": during.hblkhd - before.hblkhd,
                  "free_after": after.fordblks}))
"""


def probe(mode: str) -> dict:
    """A fresh interpreter allocates and frees a 20 MB array: what glibc did with it."""
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[2])
    result = json.loads(done.stdout)
    if result is None:
        pytest.skip("the C library has no mallinfo2 (not glibc >= 2.33)")
    return result


def test_it_keeps_a_freed_20_mb_block_in_the_heap():
    # when
    default, kept = probe("default"), probe("keep")
    # then: by default glibc maps the block on its own (and unmaps it when freed); kept, it
    # comes from the heap and stays there, free, for the next allocation
    assert default["mmapped"] >= 20 * 2**20
    assert kept["kept"] is True
    assert kept["mmapped"] == 0 and kept["free_after"] >= 20 * 2**20


def test_it_is_idempotent():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True


def test_every_celery_worker_keeps_its_freed_memory_when_it_starts():
    receivers = [ref() for _, ref in worker_init.receivers] + \
        [ref() for _, ref in worker_process_init.receivers]
    assert receivers.count(keep_worker_memory) == 2
