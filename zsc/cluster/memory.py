"""The memory budget of the O(n²) clusterers: how much they need, how much there is, and sizes
written as text.

Affinity Propagation (scikit-learn's) and average / complete / weighted-linkage agglomerative
clustering hold n×n (or condensed n(n-1)/2) matrices; everything else zsc runs is O(n·d). A
budget (`max_memory`, bytes; default this machine's physical memory) decides when zsc must
deviate from the paper's computation on all points: Affinity Propagation is fitted on the
largest seeded subsample that fits, these linkages are refused (`MemoryBudgetError`). Each
deviation is recorded (`ClusterResult.deviation`, the results row's `deviation` column).
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..errors import InvalidParameterError

FULL_MATRIX_LINKAGES = ("average", "complete", "weighted")

# bare K/M/G/T and KiB/MiB/GiB/TiB are binary (as slurm's --mem and docker); KB/MB/GB/TB decimal
_UNITS = {"": 1, "b": 1,
          "k": 2**10, "kib": 2**10, "kb": 10**3,
          "m": 2**20, "mib": 2**20, "mb": 10**6,
          "g": 2**30, "gib": 2**30, "gb": 10**9,
          "t": 2**40, "tib": 2**40, "tb": 10**12}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e([+-]?[0-9]+))?\s*([a-z]*)\s*$", re.I)


class MemoryBudgetError(InvalidParameterError):
    """A clusterer needs more memory than the budget and zsc will not deviate for it."""


def parse_bytes(value: Any) -> int:
    """A size in bytes from a positive whole number or text such as "64GiB", "500MB", "12G",
    "1.5 TiB" or "1e9". K, M, G, T and KiB … TiB are powers of 1024; KB … TB powers of 1000."""
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if value >= 1:
            return value
    elif isinstance(value, float):
        if value >= 1 and value != float("inf"):
            return int(value)
    elif isinstance(value, str):
        m = _SIZE.match(value)
        if m and m.group(3).lower() in _UNITS:
            number = float(m.group(1)) * 10 ** int(m.group(2) or 0)
            size = int(number * _UNITS[m.group(3).lower()])
            if size >= 1:
                return size
    raise InvalidParameterError(
        f"max_memory must be a positive size such as 64GiB, 500MB, 12G or a number of bytes, "
        f"got {value!r}")


def is_size(value: Any) -> bool:
    """Does `parse_bytes` accept `value`?"""
    try:
        parse_bytes(value)
    except InvalidParameterError:
        return False
    return True


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where the system does not say)."""
    try:
        size = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return int(size) if size > 0 else None


def budget(max_memory: Any = None) -> int | None:
    """The budget in bytes: `max_memory` parsed, or this machine's memory when it is None."""
    return machine_memory() if max_memory is None else parse_bytes(max_memory)


def format_bytes(size: float) -> str:
    """A size for people: "74.5 GiB", "976.6 KiB", "12 B"."""
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{int(size)} B"


def round_up(size: float) -> str:
    """A size rounded up to a whole GiB (MiB below 1 GiB), as `--max-memory` takes it: "75GiB"."""
    unit, factor = ("GiB", 2**30) if size > 2**30 else ("MiB", 2**20)
    return f"{-(-int(size) // factor)}{unit}"


def ap_need(n_samples: int, n_features: int, itemsize: int = 8) -> int:
    """Bytes scikit-learn's AffinityPropagation allocates at its peak: the similarity matrix S
    (input dtype), responsibility, availability and the update temporary (float64), and, while S
    is made non-degenerate, a float64 normal draw and a temporary of S's dtype — 6·n²·8 bytes for
    float64 input, 5·n²·8 for float32 (measured with tracemalloc, tests/test_memory.py) — plus
    the input (n·d·8) and O(n) bookkeeping (the convergence history and a few vectors: n·64·8)."""
    n = int(n_samples)
    return n * n * (4 * 8 + 2 * int(itemsize)) + n * (int(n_features) + 64) * 8


def linkage_need(n_samples: int, n_features: int, linkage: str) -> int:
    """Bytes of agglomerative clustering: average / complete / weighted linkage hold the float64
    condensed distance matrix twice at the peak (scipy's pdist and fastcluster's working copy,
    measured); the vector linkages (ward, centroid, median, single) only the data."""
    n, data = int(n_samples), int(n_samples) * int(n_features) * 8
    if linkage in FULL_MATRIX_LINKAGES:
        return 2 * (n * (n - 1) // 2) * 8 + data
    return data


def largest_fitting(need: Any, n_samples: int, limit: int) -> int:
    """The largest m ≤ n_samples with need(m) ≤ limit (0 when not even one point fits)."""
    lo, hi = 0, int(n_samples)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if need(mid) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo
