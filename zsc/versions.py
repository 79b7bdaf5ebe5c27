"""The versions of the packages that decide zsc's numbers, and whether they are the locked ones.

A results row, a chapter's provenance and a report name these versions, so a reader who gets
other numbers next year can tell whether the software changed. The lock is the project's
`requirements.lock.txt` (made by `scripts/lock.sh`); a wheel install has none to compare with.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from ._version import __version__

# What computes the embeddings, reductions, clusterings and scores (and reads the data).
DECIDING = (
    "numpy", "scipy", "scikit-learn", "umap-learn", "pynndescent", "numba", "pacmap",
    "fastcluster", "torch", "torchvision", "timm", "pandas", "pyarrow", "pillow",
)

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)


def normalise(name: str) -> str:
    """A distribution name as packaging compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=1)
def installed() -> dict[str, str]:
    """Every installed distribution, by normalised name."""
    return {normalise(d.metadata["Name"]): d.version for d in metadata.distributions()
            if d.metadata["Name"]}


def versions() -> dict[str, str]:
    """zsc's version and those of the packages that decide its numbers ("absent" if missing)."""
    have = installed()
    return {"zsc": __version__, **{n: have.get(normalise(n), "absent") for n in DECIDING}}


def versions_text(v: Mapping[str, str] | None = None) -> str:
    """One line for a page: `numpy 2.4.6, scipy 1.17.1, ...`."""
    return ", ".join(f"{k} {val}" for k, val in (v or versions()).items())


def read_lock(path: str | Path) -> dict[str, str]:
    """The pins of a lock file (`name==version` lines; hashes and comments ignored)."""
    return {normalise(n): v for n, v in _PIN.findall(Path(path).read_text())}


def lock_differences(lock: Mapping[str, str],
                     have: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """Locked packages whose installed version differs: name -> (locked, installed or "absent")."""
    have = installed() if have is None else have
    return {n: (v, have.get(n, "absent")) for n, v in sorted(lock.items()) if have.get(n) != v}


def lock_status(path: str | Path) -> str:
    """One sentence: does this environment hold exactly the locked versions?"""
    p = Path(path)
    if not p.is_file():
        return f"no lock file at {p}: the versions are whatever was installed"
    diff = lock_differences(read_lock(p))
    if not diff:
        return f"every package at its locked version ({p.name})"
    shown = "; ".join(f"{n} {old} locked, {new} installed" for n, (old, new) in list(diff.items())[:8])
    more = f" and {len(diff) - 8} more" if len(diff) > 8 else ""
    return f"not the lock: {len(diff)} package(s) differ from {p.name} ({shown}{more})"
