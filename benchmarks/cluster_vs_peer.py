#!/usr/bin/env python
"""`zsc cluster` against clustimage, the nearest tool, on the same folders in one run (issue 22).

    python benchmarks/cluster_vs_peer.py                       # fm2k fm10k digits mixture (~65 min on 2 cores)
    python benchmarks/cluster_vs_peer.py --quick               # small folders, a smoke run (~3 min)
    python benchmarks/cluster_vs_peer.py --folders fm2k digits --json out.json
    python benchmarks/cluster_vs_peer.py --quick --no-peer     # zsc alone (the smoke test's run)

Why: a person with a folder of unlabelled images can reach for clustimage (PyPI) or for `zsc
cluster`; the question is which reads more of the folder, finds clusters closer to what is in
it, and takes less time. How:

* **Folders** are exported from zsc's offline labelled data, with the labels kept *out* of the
  folder (file names are seeded random numbers; `labels/<folder>.csv`, path -> label, lies beside
  it in the work dir): `fm2k` (a seeded 2,000 of Fashion-MNIST test), `fm10k` (all 10,000 of it),
  `digits` (scikit-learn's 1,797 8x8 digits), `mixture` (a seeded 600 Fashion-MNIST + 400 digits
  in odd formats: JPEG RGB and CMYK, palette PNG, 16-bit greyscale PNG and TIFF, RGBA WebP, GIF,
  BMP, greyscale PNG, in two sub-folders, plus 3 unreadable files: an empty one, a truncated JPEG
  and a text file named .png; 20 classes). Exports are deterministic (seed 0) and reused.
* **zsc**: `python -m zsc.cli cluster FOLDER -o OUT --no-progress` with every default
  (efficientnet_lite0, UMAP-50, ward, rule silhouette_min5, 2 stability seeds), from an empty
  zsc home (no cached embedding or UMAP: the time a person sees the first time), in a
  subprocess; its cluster per file is read from OUT/assignments.csv.
* **clustimage**: `Clustimage()` with its defaults (PCA features, t-SNE map, agglomerative
  ward, silhouette over k = 3..25), `.fit_transform(FOLDER)`, in a subprocess of its own
  virtualenv (`--peer-venv`, default ~/.cache/zsc-bench/clustimage-venv, created and filled
  with `pip install clustimage` when missing); its clusters are `results['labels']` per
  `results['pathnames']`. If it cannot be installed or fails on a folder, its cells say so
  (the error's last line) and the run goes on.
* **Measured**: images each tool read (files in its output), k, AMI of its clusters against the
  hidden labels *over the images it read* (`zsc.metrics.ami`), wall time of the whole process
  (interpreter start, imports, reading, everything) and its peak RSS (the process's own VmHWM,
  which it reports at exit). Both tools run one after the other on the same machine in the same
  run; the ratio is zsc's time over clustimage's (< 1: zsc is faster). The JSON also keeps each
  tool's per-run details (zsc's stage times and report size, the 1-minute load average after
  each run: on a shared machine wall times are only comparable within one run).
* **Guards** for a shared machine: a tool is stopped past `--timeout` seconds or when the
  machine's available memory falls under `--min-free-gib` (default 2); its cells then say so.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("fm2k", "fm10k", "digits", "mixture")
SIZES = {"fm2k": 2000, "fm10k": 10000, "digits": None, "mixture": (600, 400)}
QUICK = {"fm2k": 200, "fm10k": 400, "digits": 200, "mixture": (60, 40)}
DEFAULT_WORK = Path.home() / ".cache" / "zsc-bench" / "cluster-vs-peer"
DEFAULT_VENV = Path.home() / ".cache" / "zsc-bench" / "clustimage-venv"
EXPORT_VERSION = "2"  # bumped when an export changes (2: the WebP files really are RGBA)
MIN_FREE_GIB = 2.0  # a tool is stopped when the machine's available memory falls under this
ODD_FORMATS = ("jpeg", "jpeg_cmyk", "png_palette", "png16", "tiff16", "webp_rgba", "gif", "bmp", "png_grey")
UNREADABLE = {"empty.png": "empty", "cut.jpg": "truncated JPEG", "readme.png": "text file named .png"}

# Runs zsc's CLI and reports the process's own peak RSS at exit (not ru_maxrss of a child,
# which keeps the high-water mark of the parent it was forked from).
ZSC_WRAPPER = """\
import atexit, sys
def _peak():
    try:
        with open('/proc/self/status') as f:
            kb = next(int(ln.split()[1]) for ln in f if ln.startswith('VmHWM:'))
        sys.stderr.write(f'\\nBENCH_PEAK_KB {kb}\\n')
    except (OSError, StopIteration):
        pass
atexit.register(_peak)
sys.argv = ['zsc'] + sys.argv[1:]
from zsc.cli import main
sys.exit(main())
"""

PEER_DRIVER = """\
import json, sys, traceback
folder, out = sys.argv[1], sys.argv[2]
res = {}
try:
    from clustimage import Clustimage
    cl = Clustimage()
    r = cl.fit_transform(folder)
    res = {"pathnames": [str(p) for p in r["pathnames"]], "labels": [int(x) for x in r["labels"]]}
except BaseException as err:
    res = {"error": (traceback.format_exc().strip().splitlines() or [repr(err)])[-1]}
with open('/proc/self/status') as f:
    res["peak_kb"] = next(int(ln.split()[1]) for ln in f if ln.startswith('VmHWM:'))
with open(out, "w") as f:
    json.dump(res, f)
"""


@dataclass
class Outcome:
    """One tool on one folder."""

    ok: bool = False
    error: str = ""
    read: int = 0
    k: int = 0
    ami: float = float("nan")
    seconds: float = float("nan")
    peak_gib: float = float("nan")
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------- export


def _grey_u8(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.uint8)


def write_image(arr: np.ndarray, path: Path, fmt: str) -> Path:
    """One greyscale uint8 image saved in `fmt` (`ODD_FORMATS` or 'png'); returns the path."""
    from PIL import Image

    g = Image.fromarray(_grey_u8(arr))  # mode L
    if fmt in ("png", "png_grey"):
        path = path.with_suffix(".png")
        g.save(path)
    elif fmt == "jpeg":
        path = path.with_suffix(".jpg")
        g.convert("RGB").save(path, quality=95)
    elif fmt == "jpeg_cmyk":
        path = path.with_suffix(".jpg")
        g.convert("RGB").convert("CMYK").save(path, quality=95)
    elif fmt == "png_palette":
        path = path.with_suffix(".png")
        g.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path)
    elif fmt in ("png16", "tiff16"):
        path = path.with_suffix(".png" if fmt == "png16" else ".tif")
        a16 = _grey_u8(arr).astype(np.uint16) * 257
        Image.fromarray(a16).save(path)  # mode I;16
    elif fmt == "webp_rgba":
        path = path.with_suffix(".webp")
        alpha = np.full(np.shape(arr), 255, np.uint8)
        alpha[[0, 0, -1, -1], [0, -1, 0, -1]] = 0  # transparent corners: an opaque RGBA is stored as RGB
        rgba = g.convert("RGBA")
        rgba.putalpha(Image.fromarray(alpha))
        rgba.save(path, lossless=True)
    elif fmt == "gif":
        path = path.with_suffix(".gif")
        g.save(path)
    elif fmt == "bmp":
        path = path.with_suffix(".bmp")
        g.convert("RGB").save(path)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return path


def _write_labels(rows: list[tuple[str, str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        w.writerows(rows)


def _source(name: str, n: int | None, seed: int) -> tuple[np.ndarray, list[str]]:
    """`n` seeded images of an offline dataset (all when None) and their class names."""
    from zsc.data import load_dataset

    ds = load_dataset("digits", "all") if name == "digits" else load_dataset("fashion_mnist", "test")
    images = np.asarray(ds.images)
    idx = np.arange(len(images)) if n is None or n >= len(images) else \
        np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
    names = [f"{name}:{ds.class_names[int(y)]}" for y in np.asarray(ds.labels)[idx]]
    return images[idx], names


def export(folder: str, work: Path, quick: bool = False, seed: int = 0) -> tuple[Path, Path]:
    """Write folder `folder` under work/folders/ (unless already complete) and its hidden labels
    to work/labels/; returns (folder path, labels csv)."""
    sizes = QUICK if quick else SIZES
    tag = f"{folder}-quick" if quick else folder
    out, labels = work / "folders" / tag, work / "labels" / f"{tag}.csv"
    done = out / ".complete"
    if done.is_file() and done.read_text() == EXPORT_VERSION and labels.is_file():
        return out, labels
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(seed + 1)
    rows: list[tuple[str, str]] = []
    if folder in ("fm2k", "fm10k", "digits"):
        imgs, names = _source("digits" if folder == "digits" else "fashion_mnist", sizes[folder], seed)
        order = rng.permutation(len(imgs))  # file names say nothing about the label
        for pos, i in enumerate(order):
            p = write_image(imgs[i], out / f"{pos:05d}", "png")
            rows.append((p.name, names[i]))
    elif folder == "mixture":
        n_fm, n_dg = sizes["mixture"]
        a, an = _source("fashion_mnist", n_fm, seed)
        b, bn = _source("digits", n_dg, seed)
        pool = [(x, y) for x, y in zip(a, an, strict=True)] + [(x, y) for x, y in zip(b, bn, strict=True)]
        order = rng.permutation(len(pool))
        for pos, i in enumerate(order):
            x, y = pool[i]
            fmt = ODD_FORMATS[pos % len(ODD_FORMATS)]
            sub = out / ("batch_a" if pos % 2 else "batch_b")
            sub.mkdir(exist_ok=True)
            p = write_image(x, sub / f"{pos:05d}", fmt)
            rows.append((str(p.relative_to(out)), y))
        (out / "empty.png").write_bytes(b"")
        good = write_image(a[0], out / "cut_source", "jpeg")
        (out / "cut.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
        good.unlink()
        (out / "readme.png").write_text("not an image, only named like one\n")
    else:
        raise SystemExit(f"unknown folder {folder!r}; choose from {', '.join(FOLDERS)}")
    _write_labels(rows, labels)
    done.write_text(EXPORT_VERSION)  # hidden: neither tool reads it
    return out, labels


def hidden_labels(labels_csv: Path, folder: Path) -> dict[str, str]:
    """Resolved file path -> label."""
    with open(labels_csv, newline="") as f:
        return {str((folder / r["path"]).resolve()): r["label"] for r in csv.DictReader(f)}


def score(pred: dict[str, int], truth: dict[str, str]) -> tuple[int, int, float]:
    """(images read, k, AMI over the images read that have a hidden label)."""
    from zsc.metrics import ami

    common = [p for p in pred if p in truth]
    if not common:
        return len(pred), len(set(pred.values())), float("nan")
    names = sorted({truth[p] for p in common})
    y = np.array([names.index(truth[p]) for p in common])
    z = np.array([pred[p] for p in common])
    return len(pred), len(set(pred.values())), float(ami(y, z))


# ---------------------------------------------------------------- the two tools


def _sizes(pred: dict[str, int]) -> list[int]:
    """Cluster sizes, largest first."""
    return sorted(np.bincount(np.unique(list(pred.values()), return_inverse=True)[1]).tolist(), reverse=True)


def _peak_from(text: str) -> float:
    for ln in reversed(text.splitlines()):
        if ln.startswith("BENCH_PEAK_KB "):
            return int(ln.split()[1]) / 2**20
    return float("nan")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("BENCH_PEAK_KB")]
    return lines[-1][:200] if lines else "no output"

@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    stopped: str = ""  # why the benchmark stopped it (time limit, memory guard), or ""


def _mem_available_gib() -> float:
    with open("/proc/meminfo") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("MemAvailable:")) / 2**20


def supervise(cmd: list[str], cwd: Path, env: dict, timeout: float | None = None,
              min_free_gib: float = MIN_FREE_GIB) -> Finished:
    """Run `cmd`, timing the whole process; stop it (SIGKILL) past `timeout` seconds or when the
    machine's available memory falls under `min_free_gib` (a guard for a shared machine)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        stopped = ""
        while proc.poll() is None:
            if timeout is not None and time.perf_counter() - t0 > timeout:
                stopped = f"stopped after the time limit of {timeout:.0f} s"
            elif _mem_available_gib() < min_free_gib:
                stopped = (f"stopped when the machine's free memory fell under {min_free_gib:g} GiB "
                           f"(after {time.perf_counter() - t0:.0f} s)")
            if stopped:
                proc.kill()
                break
            time.sleep(0.5)
        proc.wait()
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return Finished(proc.returncode, out.read(), err.read(), seconds, stopped)


def run_zsc(folder: Path, out: Path, home: Path, truth: dict[str, str], extra_args: list[str] | None = None,
            timeout: float | None = None, fresh: bool = True, min_free_gib: float = MIN_FREE_GIB) -> Outcome:
    """`zsc cluster FOLDER -o OUT` with its defaults in a subprocess, from an empty zsc home
    (`fresh`) or from what `home` holds."""
    shutil.rmtree(out, ignore_errors=True)
    if fresh:
        shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ, ZSC_HOME=str(home), PYTHONPATH=str(ROOT))
    for v in ("ZSC_CACHE_DIR", "ZSC_DATA_DIR", "ZSC_RESULTS_DIR"):
        env.pop(v, None)
    cmd = [sys.executable, "-c", ZSC_WRAPPER, "cluster", str(folder), "-o", str(out), "--no-progress",
           *(extra_args or [])]
    proc = supervise(cmd, ROOT, env, timeout, min_free_gib)
    o = Outcome(seconds=proc.seconds, peak_gib=_peak_from(proc.stderr), extra={"load_after": os.getloadavg()[0]})
    if proc.stopped or proc.returncode != 0 or not (out / "assignments.csv").is_file():
        o.error = proc.stopped or f"exit {proc.returncode}: {_last_line(proc.stderr or proc.stdout)}"
        return o
    import pandas as pd

    tab = pd.read_csv(out / "assignments.csv")
    pred = {str(Path(p).resolve()): int(c) for p, c in zip(tab["path"], tab["cluster"], strict=True)}
    o.read, o.k, o.ami = score(pred, truth)
    o.ok = True
    o.extra |= {"sizes": _sizes(pred), "stdout": proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else "",
               "stages": stage_seconds(out / "report.html"),
               "report_mb": round((out / "report.html").stat().st_size / 1e6, 2)}
    return o


def stage_seconds(report: Path) -> dict[str, float]:
    """The per-stage times `zsc cluster` writes in its report's summary (read, embed, reduce...)."""
    import re

    text = report.read_text(errors="replace") if report.is_file() else ""
    m = re.search(r"<th>time</th><td>([^<]*)</td>", text)
    return {k: float(v) for k, v in re.findall(r"(\w+) ([\d.]+) s", m.group(1))} if m else {}


def ensure_peer(venv: Path, log=print) -> str | None:
    """The peer's python (installing clustimage into its own virtualenv when missing), or None
    and the reason in the log."""
    py = venv / "bin" / "python"
    check = [str(py), "-c", "import clustimage; print(clustimage.__version__)"]
    if py.is_file() and subprocess.run(check, capture_output=True).returncode == 0:
        return str(py)
    log(f"installing clustimage into {venv} ...")
    try:
        if not py.is_file():
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "clustimage"], check=True,
                       capture_output=True, text=True, timeout=1800)
    except (subprocess.SubprocessError, OSError) as err:
        tail = getattr(err, "stderr", "") or str(err)
        log(f"clustimage could not be installed: {_last_line(tail)}")
        return None
    return str(py) if subprocess.run(check, capture_output=True).returncode == 0 else None


def peer_version(py: str) -> str:
    r = subprocess.run([py, "-c", "import clustimage; print(clustimage.__version__)"], capture_output=True,
                       text=True)
    return r.stdout.strip()


def run_peer(py: str, folder: Path, work: Path, truth: dict[str, str], timeout: float | None = None,
             min_free_gib: float = MIN_FREE_GIB) -> Outcome:
    """clustimage with its defaults on FOLDER, in a subprocess of its own virtualenv (started
    from a scratch folder: it writes its temporary files under the working directory's tmp)."""
    scratch = Path(tempfile.mkdtemp(prefix="peer-", dir=work))
    driver, res_path = scratch / "driver.py", scratch / "result.json"
    driver.write_text(PEER_DRIVER)
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)
    proc = supervise([py, str(driver), str(folder), str(res_path)], scratch, env, timeout, min_free_gib)
    seconds = proc.seconds
    if proc.stopped or not res_path.is_file():
        shutil.rmtree(scratch, ignore_errors=True)
        return Outcome(seconds=seconds, error=proc.stopped or
                       f"exit {proc.returncode}: {_last_line(proc.stderr or proc.stdout)}")
    res = json.loads(res_path.read_text())
    shutil.rmtree(scratch, ignore_errors=True)
    o = Outcome(seconds=seconds, peak_gib=res.get("peak_kb", float("nan")) / 2**20,
                extra={"load_after": os.getloadavg()[0]})
    if "error" in res:
        o.error = res["error"][:200]
        return o
    pred = {str(Path(p).resolve()): int(c) for p, c in zip(res["pathnames"], res["labels"], strict=True)}
    o.read, o.k, o.ami = score(pred, truth)
    o.ok = True
    o.extra["sizes"] = _sizes(pred)
    return o


# ---------------------------------------------------------------- table


def _cell(o: Outcome | None, what: str) -> str:
    if o is None:
        return "not run"
    if not o.ok:
        return f"failed: {o.error}" if what == "read" else "–"
    return {"read": f"{o.read:,}", "k": str(o.k), "ami": f"{o.ami:.3f}",
            "time": f"{o.seconds:.0f} s", "peak": f"{o.peak_gib:.2f}"}[what]


def markdown(rows: list[dict]) -> str:
    head = ("| folder | images in folder | images read (zsc / clustimage) | k (zsc / clustimage) "
            "| AMI vs hidden labels (zsc / clustimage) | wall time (zsc / clustimage) | time zsc ÷ clustimage "
            "| peak RSS GiB (zsc / clustimage) |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        z, c = r["zsc"], r["peer"]
        ratio = f"{z.seconds / c.seconds:.2f}" if z.ok and c is not None and c.ok else "–"
        cells = [f"{_cell(z, w)} / {_cell(c, w)}" for w in ("read", "k", "ami", "time")]
        lines.append(f"| {r['folder']} | {r['files']:,} ({r['images']:,} images) | " + " | ".join(cells)
                     + f" | {ratio} | {_cell(z, 'peak')} / {_cell(c, 'peak')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folders", nargs="+", default=list(FOLDERS), choices=FOLDERS)
    ap.add_argument("--quick", action="store_true", help="small folders (a smoke run)")
    ap.add_argument("--no-peer", action="store_true", help="run zsc only")
    ap.add_argument("--work", default=str(DEFAULT_WORK), help="exports, hidden labels, outputs")
    ap.add_argument("--peer-venv", default=str(DEFAULT_VENV), help="clustimage's own virtualenv")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per tool and folder")
    ap.add_argument("--min-free-gib", type=float, default=MIN_FREE_GIB,
                    help="stop a tool when the machine's available memory falls under this")
    ap.add_argument("--json", default=None, help="write the numbers here")
    ap.add_argument("--encoder", default=None,
                    help="zsc's encoder (default: zsc's own; another one only for smoke runs)")
    args = ap.parse_args(argv)
    work = Path(args.work).expanduser().resolve()
    work.mkdir(parents=True, exist_ok=True)

    def log(s: str) -> None:
        print(s, file=sys.stderr, flush=True)

    py = None if args.no_peer else ensure_peer(Path(args.peer_venv).expanduser(), log)
    peer_note = ("peer skipped (--no-peer)" if args.no_peer else
                 f"clustimage {peer_version(py)}" if py else "clustimage could not be installed")
    rows = []
    for name in args.folders:
        folder, labels_csv = export(name, work, quick=args.quick)
        truth = hidden_labels(labels_csv, folder)
        files = sum(1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        log(f"{name}: {files} files; zsc ...")
        z = run_zsc(folder, work / "out" / f"{name}-zsc", work / "home" / name, truth, timeout=args.timeout,
                    min_free_gib=args.min_free_gib, extra_args=["--encoder", args.encoder] if args.encoder else None)
        log(f"  zsc: {asdict(z)}")
        c = None
        if not args.no_peer:
            if py is None:
                c = Outcome(error=peer_note)
            else:
                log(f"{name}: clustimage ...")
                c = run_peer(py, folder, work, truth, timeout=args.timeout, min_free_gib=args.min_free_gib)
                log(f"  clustimage: {asdict(c)}")
        rows.append({"folder": name + (" (quick)" if args.quick else ""), "files": files,
                     "images": len(truth), "zsc": z, "peer": c})
        shutil.rmtree(work / "home" / name, ignore_errors=True)  # the cold cache is not kept
    how = f"--encoder {args.encoder}" if args.encoder else "defaults"
    print(f"zsc cluster ({how}) vs {peer_note} (defaults); {os.cpu_count()} CPU core(s); "
          f"{time.strftime('%Y-%m-%d')}")
    print(markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"peer": peer_note, "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
             "rows": [{**r, "zsc": asdict(r["zsc"]), "peer": asdict(r["peer"]) if r["peer"] else None}
                      for r in rows]}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
