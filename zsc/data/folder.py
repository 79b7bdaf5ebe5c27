"""A folder of a person's own images as input: find the files, read what Pillow can, skip the rest.

PATHs are folders (searched recursively; hidden files and folders ignored), glob patterns, or a
text file (``.txt``/``.lst``) with one path a line (relative to the text file; ``#`` comments).
Every format Pillow reads is taken (PNG, JPEG incl. CMYK, WebP, TIFF, BMP, GIF's first frame...)
in any mode (palette, RGBA over white, 16-bit, greyscale), turned upright by its EXIF
orientation. A file Pillow cannot read — empty, corrupt, truncated, not an image — is skipped
with the reason, never fatal: a real photo folder always holds a few. Files are only opened for
reading; nothing under PATH is ever written.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..errors import InvalidParameterError
from ..gallery import open_image, thumbnail
from ..io import sha256_file

LIST_SUFFIXES = (".txt", ".lst")
GLOB_CHARS = set("*?[")


@dataclass
class Skipped:
    """A file that was not read, and why (shown in the report)."""

    path: str
    reason: str


@dataclass
class FolderImages:
    """The readable images under some PATHs: paths, content hashes, small thumbnails for the
    report; `images` opens each at full size again, lazily, for the encoder."""

    paths: list[str]
    sha256: list[str]
    sizes: list[tuple[int, int]]
    thumbnails: list[Image.Image]
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def images(self) -> Sequence[Image.Image]:
        return _Lazy(self.paths)


class _Lazy(Sequence[Any]):
    def __init__(self, paths: list[str]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Any:  # type: ignore[override]
        return open_image(self.paths[i])


def _hidden(p: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(root).parts)


def _list_file(path: Path) -> list[Path]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            q = Path(line).expanduser()
            out.append(q if q.is_absolute() else path.parent / q)
    return out


def find_files(inputs: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Skipped]]:
    """The files that PATHs name, in a stable order, each once; listed paths that do not exist
    are skipped (a PATH given on the command line that does not exist is an error)."""
    found: list[Path] = []
    skipped: list[Skipped] = []
    for raw in inputs:
        text = os.path.expanduser(str(raw))
        p = Path(text)
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.is_file() and not _hidden(q, p))
        elif p.is_file() and p.suffix.lower() in LIST_SUFFIXES:
            for q in _list_file(p):
                (found.append(q) if q.is_file() else
                 skipped.append(Skipped(str(q), f"listed in {p.name} but not found")))
        elif p.is_file():
            found.append(p)
        elif GLOB_CHARS & set(text):
            hits = sorted(Path(h) for h in glob.glob(text, recursive=True))
            if not hits:
                raise InvalidParameterError(f"no file matches {text!r}")
            found += [h for h in hits if h.is_file()]
            for d in (h for h in hits if h.is_dir()):
                found += sorted(q for q in d.rglob("*") if q.is_file() and not _hidden(q, d))
        else:
            raise InvalidParameterError(f"{text}: no such file or folder")
    seen: set[Path] = set()
    unique = []
    for f in found:
        r = f.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(f)
    return unique, skipped


def why_unreadable(path: Path, err: BaseException) -> str:
    """The reason a file was skipped, in words a person acts on."""
    if path.stat().st_size == 0:
        return "empty file"
    if isinstance(err, UnidentifiedImageError):
        return "not an image Pillow can read"
    if isinstance(err, Image.DecompressionBombError):
        return "too many pixels (Pillow's decompression-bomb limit)"
    msg = str(err).strip() or type(err).__name__
    return f"corrupt or truncated ({msg})"


def read_images(inputs: Iterable[str | os.PathLike[str]], *, thumb_size: int = 96,
                progress: bool = True) -> FolderImages:
    """Read every image PATHs name: each is decoded once here (so a bad file is found before any
    encoder work), hashed (the embedding cache key) and kept as a small thumbnail."""
    from tqdm import tqdm

    files, skipped = find_files(inputs)
    out = FolderImages([], [], [], [], skipped)
    for f in tqdm(files, desc="reading images", unit="file", disable=not progress):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # EXIF / palette warnings: the file still reads
                im = open_image(f)
            if im.width == 0 or im.height == 0:
                raise OSError("zero-size image")
        except Exception as err:  # noqa: BLE001 — any failure to decode means: skip, with why
            out.skipped.append(Skipped(str(f), why_unreadable(f, err)))
            continue
        out.paths.append(str(f))
        out.sha256.append(sha256_file(f))
        out.sizes.append(im.size)
        out.thumbnails.append(thumbnail(im, thumb_size))
    return out
