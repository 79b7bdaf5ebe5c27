"""Atomic, verified files: a crash never leaves a half-written file that a later run trusts."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DiskFullError, UnwritablePathError


def parse_literal(text: str) -> Any:
    """A command-line value (`-p KEY VALUE`, `--option KEY VALUE`): a Python/JSON literal where it
    parses as one (3, 0.5, [1, 2], None), else the text itself."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def config_hash(config: Mapping[str, Any], length: int = 16) -> str:
    """Stable hash of a JSON-able configuration (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def array_hash(*arrays: np.ndarray, length: int = 16) -> str:
    """Hash of array contents, shapes and dtypes: identifies the inputs of a run."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.data)
    return h.hexdigest()[:length]


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (weights files can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def current_umask() -> int:
    """The process's umask. Linux states it in /proc without touching it; elsewhere it is read
    by setting it and back, which for that instant gives other threads' new files umask 0."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _unwritable(folder: Path, what: str, err: OSError) -> UnwritablePathError:
    why = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
           errno.EROFS: "read-only file system", errno.ENOTDIR: "a file stands where a folder "
           "belongs", errno.EEXIST: "a file stands where a folder belongs"}.get(
               err.errno or 0, err.strerror or type(err).__name__)
    out = UnwritablePathError(f"cannot write {what + ' ' if what else ''}{folder}: {why}; give "
                              "a folder you can write (or fix its permissions)")
    out.errno, out.filename = err.errno, str(folder)
    return out


def check_writable(folder: str | os.PathLike[str], what: str = "", *, create: bool = True) -> Path:
    """Fail now, before any work, if files cannot be created in `folder` (made if absent; with
    `create=False`, as a dry run, its nearest existing folder is probed instead): a read-only
    folder, a file in its place, no permission. Returns the folder."""
    p = Path(folder).expanduser()
    try:
        if create:
            p.mkdir(parents=True, exist_ok=True)
            where = p
        else:
            where = next(a for a in (p, *p.parents) if a.exists())
            if not where.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(where))
        fd, probe = tempfile.mkstemp(prefix=".zsc-probe.", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            return p  # full, not forbidden: the write itself says so (DiskFullError)
        raise _unwritable(p, what, err) from err
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise _unwritable(path.parent, "", err) from err
    os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600: a team shares these files
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT) or isinstance(err, DiskFullError):
            raise
        full = DiskFullError(
            f"the disk is full (no space left on device) while writing {path}; nothing was "
            f"written and any previous version of the file is kept. Free space in {path.parent} "
            f"(or point ZSC_HOME / ZSC_CACHE_DIR / ZSC_RESULTS_DIR at a larger disk) and run again."
        )
        full.errno, full.filename = err.errno, str(path)
        raise full from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def save_arrays(path: str | os.PathLike[str], meta: Mapping[str, Any], **arrays: np.ndarray) -> None:
    """Write arrays plus a JSON header holding their checksum, atomically (npz, no pickle)."""
    meta = dict(meta, checksum=array_hash(*(arrays[k] for k in sorted(arrays))), keys=sorted(arrays))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, __meta__=np.array(json.dumps(meta, default=str)), **arrays)


def load_arrays(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """Read what `save_arrays` wrote; None (with a warning) if it is missing, damaged or altered."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            arrays = {k: z[k] for k in meta["keys"]}
        if array_hash(*(arrays[k] for k in sorted(arrays))) != meta["checksum"]:
            raise ValueError("checksum mismatch")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        warnings.warn(f"cache file {path} is damaged ({err}); it will be rebuilt", stacklevel=2)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    return meta, arrays
