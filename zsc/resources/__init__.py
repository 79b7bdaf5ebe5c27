"""Data files that ship inside the package: what zsc reads at run time, wherever it is installed.

- ``paper_datasets.csv``: the paper's 26-dataset table (the talk slides) with splits and levels;
- ``paper_settings_v5.json``: the paper's final clustering settings, from the paper's code;
- ``grids/*.yaml``: batch grids (``zsc batch NAME``); ``profiles/*.yaml``: book profiles;
- ``claims.yaml``: the paper's claims, each with the analysis and rule that decide it (`zsc.claims`).
"""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path

from ..errors import UnknownNameError


def path(*parts: str) -> Path:
    """Filesystem path of a shipped resource (zsc installs unzipped, so this is a real file)."""
    return Path(str(resources.files(__name__).joinpath(*parts)))


def names(folder: str, suffix: str = ".yaml") -> list[str]:
    """Names (stems) of the shipped files in a resource folder, e.g. ``names("profiles")``."""
    return sorted(p.stem for p in path(folder).glob(f"*{suffix}"))


def find(folder: str, name_or_path: str, what: str, suffix: str = ".yaml") -> Path:
    """A file given by path, or by the name of a shipped one; an unknown name lists the known."""
    given = Path(name_or_path)
    if given.is_file():
        return given
    shipped = path(folder, f"{name_or_path}{suffix}")
    if not given.suffix and shipped.is_file():
        return shipped
    known = names(folder, suffix)
    close = difflib.get_close_matches(str(name_or_path), known, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownNameError(f"no {what} {name_or_path!r}.{hint} Shipped {what}s: "
                           f"{', '.join(known) or '(none)'} (or give the path of a {suffix} file)")
