"""A folder of a person's own images as input: find the files, read what Pillow can, skip the rest.

PATHs are folders (searched recursively; hidden files and folders ignored), glob patterns, or a
text file (``.txt``/``.lst``) with one path a line (relative to the text file; ``#`` comments).
Every format Pillow reads is taken (PNG, JPEG incl. CMYK, WebP, TIFF, BMP, GIF's first frame...)
in any mode (palette, RGBA over white, 16-bit, greyscale), turned upright by its EXIF
orientation. A file Pillow cannot read — empty, corrupt, truncated, not an image — is skipped
with the reason, never fatal: a real photo folder always holds a few. Files are only opened for
reading; nothing under PATH is ever written.

A folder is also a dataset zsc knows, named by scheme and path (`folder_spec`): ``folder:PATH``,
every image under PATH with no labels (-1, scikit-learn's mark for unlabelled), and
``imagefolder:PATH``, labelled by the sub-folder each image is in (torchvision's ImageFolder
layout, PATH/<class>/...). `zsc embed`, `zsc run` and grids take either (a bare existing folder
means ``folder:``); the rows name the folder by its absolute path.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import DataMissingError, InvalidParameterError
from ..images import as_image, open_image, thumbnail
from ..io import config_hash, sha256_file
from .core import RESOLVERS, DatasetSpec, LoadedDataset

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


def read_images(inputs: Iterable[str | os.PathLike[str]], *, thumb_size: int | None = 96,
                progress: bool = True) -> FolderImages:
    """Read every image PATHs name: each is decoded once here (so a bad file is found before any
    encoder work), hashed (the embedding cache key) and kept as a small thumbnail (none when
    `thumb_size` is None)."""
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
        if thumb_size is not None:
            out.thumbnails.append(thumbnail(im, thumb_size))
    return out


def export_images(data: LoadedDataset, out: str | os.PathLike[str], *,
                  labels_file: str | os.PathLike[str] | None = None, suffix: str = ".png") -> list[Path]:
    """Write each image of a labelled set as one file in `out` (``img_00000.png``...: no label
    in a name or a folder) and, if asked, the hidden labels to `labels_file` (CSV path,label,
    kept outside `out`): a labelled set made into a person's unlabelled folder, so what
    `zsc cluster` finds can be scored against labels it never saw."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    paths = [root / f"img_{i:05d}{suffix}" for i in range(len(data))]
    for i, p in enumerate(paths):
        as_image(data.images[i]).save(p)
    if labels_file is not None:
        import pandas as pd

        names = np.asarray(data.class_names)[data.labels] if data.class_names else data.labels
        pd.DataFrame({"path": [str(p) for p in paths], "label": names}).to_csv(labels_file, index=False)
    return paths


# --- a folder as a dataset -------------------------------------------------------------------

SCHEMES = {
    "folder": "every image under PATH, unlabelled",
    "imagefolder": "labelled by the sub-folder of PATH each image is in (PATH/<class>/...)",
}
UNLABELLED = -1  # scikit-learn's mark for an unlabelled sample (sklearn.semi_supervised)


def _parse(name: str) -> tuple[str, str] | None:
    scheme, sep, rest = str(name).partition(":")
    return (scheme, rest) if sep and scheme in SCHEMES and rest else None


def is_folder_name(name: str) -> bool:
    """Whether `name` names a folder dataset (``folder:PATH`` or ``imagefolder:PATH``)."""
    return _parse(name) is not None


def dataset_name(arg: str) -> str:
    """What a person typed for a dataset that is not registered, as zsc names it: a folder
    dataset gets its absolute path; an existing folder alone means ``folder:PATH``; anything
    else stays as it is."""
    parsed = _parse(arg)
    if parsed is None and Path(arg).expanduser().is_dir():
        parsed = ("folder", arg)
    if parsed is None:
        return arg
    scheme, path = parsed
    return f"{scheme}:{Path(path).expanduser().resolve()}"


def dataset_slug(name: str) -> str:
    """A name that can be one path part (the embedding cache's folder): a folder dataset's is
    its scheme, the folder's base name and a hash of the whole path."""
    parsed = _parse(name)
    if parsed is None:
        return name
    scheme, path = parsed
    base = "".join(c if c.isalnum() or c in "_.-" else "_" for c in Path(path).name).lstrip(".")
    return f"{scheme}-{base or 'root'}-{config_hash({'path': path}, 8)}"


def folder_spec(name: str) -> DatasetSpec:
    """The dataset spec of a folder name (see the module's docstring); made on each call, cheap."""
    canonical = dataset_name(name)
    parsed = _parse(canonical)
    if parsed is None:
        raise InvalidParameterError(f"{name!r} is not a folder dataset name "
                                    f"({' or '.join(s + ':PATH' for s in SCHEMES)})")
    scheme, path = parsed
    return DatasetSpec(
        name=canonical, title=f"images in {path}", group="Own images", loader=_load_folder,
        default_split="all", splits=("all",), offline=True, labelled=scheme == "imagefolder",
        how_to_get=f"Check that {path} is a folder of images ({scheme}: {SCHEMES[scheme]}).",
        source=lambda _root, p=Path(path): p,
    )


def _resolve(name: str) -> DatasetSpec | None:
    return folder_spec(name) if is_folder_name(dataset_name(name)) else None


RESOLVERS.append(_resolve)


def _load_folder(_root: Path, split: str, name: str) -> LoadedDataset:
    scheme, path = _parse(name)  # type: ignore[misc]
    root = Path(path)
    folder = read_images([root], thumb_size=None)
    skipped = list(folder.skipped)
    paths = [Path(p) for p in folder.paths]
    if scheme == "imagefolder":
        loose = [p for p in paths if len(p.relative_to(root).parts) == 1]
        skipped += [Skipped(str(p), "not inside a class sub-folder") for p in loose]
        paths = [p for p in paths if len(p.relative_to(root).parts) > 1]
        classes = sorted({p.relative_to(root).parts[0] for p in paths})
        index = {c: i for i, c in enumerate(classes)}
        labels = np.array([index[p.relative_to(root).parts[0]] for p in paths], dtype=np.int64)
    else:
        classes = []
        labels = np.full(len(paths), UNLABELLED, dtype=np.int64)
    if skipped:
        warnings.warn(f"{name}: {len(skipped)} file(s) skipped, e.g. {skipped[0].path}: "
                      f"{skipped[0].reason}", stacklevel=2)
    if not paths:
        raise DataMissingError(f"dataset {name!r}: no readable image in {root}"
                               + (" inside a class sub-folder" if scheme == "imagefolder" else ""))
    return LoadedDataset(name, split, _Lazy([str(p) for p in paths]), labels, classes)
