#!/usr/bin/env python
"""`zsc cluster` at scale: 10,000 images end to end, a killed run resuming, 100,000 images in memory.

    python benchmarks/cluster_scale.py                            # all three parts at full size
    python benchmarks/cluster_scale.py --parts time --n 10000     # the 5-minute target only
    python benchmarks/cluster_scale.py --parts resume --resume-n 2000 --kill-at 0.5
    python benchmarks/cluster_scale.py --parts big --big-n 100000 --big-encoder pixels --json out.json

Why: issue 22's targets for a folder of a person's own images, on 2 CPU cores: 10,000 images of
Fashion-MNIST size end to end in <= 5 min with the default encoder (EfficientNet-Lite0);
100,000 images within 24 GiB of memory with a report <= 25 MB; and a run killed with `kill -9`
resumes (embeddings are cached per file content, written batch by batch). How:

* **Folders** are Fashion-MNIST PNGs (28x28 greyscale), test images first, then train (70,000
  originals); past 70,000 the folder is filled with seeded copies, each flipped left-right and
  shifted by up to 2 px (so every file has distinct bytes and is embedded). Files go in
  sub-folders of 10,000. Exports are deterministic and reused from the work dir.
* **Every run** is `python -m zsc.cli cluster FOLDER -o OUT --no-progress [...]` in a subprocess
  from an empty zsc home (nothing cached), as in `cluster_vs_peer.py`: wall time of the whole
  process, its own peak RSS (VmHWM at exit), the CLI's per-stage times (from the report's
  summary), the report's size, and AMI against the hidden Fashion-MNIST classes.
* **time** (`--n`, default 10,000): one run with every default; verdict against 300 s.
* **resume** (`--resume-n`, default `--n`): a run from an empty home is killed with SIGKILL once
  `--kill-at` of the images have an embedding in the per-file cache; the same command again then
  finishes. Printed: files cached at the kill, the rerun's embedding time against the
  uninterrupted run's, and whether its assignments equal an uninterrupted run's (the `time` run
  when the sizes agree, else one made here).
* **big** (`--big-n`, default 100,000; `--big-encoder`, default `pixels`: EfficientNet-Lite0
  embeds about 18 images/s on 2 cores, 1.5 h for 100,000, so the memory run uses the raw-pixel
  encoder unless told otherwise; `--big-stability` the number of extra UMAP seeds). Verdicts:
  peak RSS <= 24 GiB, report <= 25 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import cluster_vs_peer as V  # noqa: E402

DEFAULT_WORK = Path.home() / ".cache" / "zsc-bench" / "cluster-scale"
PER_FOLDER = 10_000
TARGET_N, TARGET_SECONDS, TARGET_GIB, TARGET_REPORT_MB = 10_000, 300, 24, 25
BIG_N = 100_000


def export_fm(n: int, work: Path, seed: int = 0) -> tuple[Path, dict[str, str]]:
    """`n` Fashion-MNIST-size PNGs (originals, then seeded flipped/shifted copies) and their
    hidden labels (resolved path -> class), written once under work/folders/fm<n>."""
    from zsc.data import load_dataset

    out = work / "folders" / f"fm{n}"
    labels_csv = work / "labels" / f"fm{n}.csv"
    if not ((out / ".complete").is_file() and labels_csv.is_file()):
        import shutil

        shutil.rmtree(out, ignore_errors=True)
        te, tr = load_dataset("fashion_mnist", "test"), load_dataset("fashion_mnist", "train")
        images = np.concatenate([np.asarray(te.images), np.asarray(tr.images)])
        labels = np.concatenate([np.asarray(te.labels), np.asarray(tr.labels)])
        names = te.class_names
        rng = np.random.default_rng(seed)
        rows = []
        for i in range(n):
            j = i % len(images)
            img = images[j]
            if i >= len(images):  # a copy: flipped, shifted by up to 2 px (distinct bytes)
                dy, dx = rng.integers(-2, 3, size=2)
                img = np.roll(img[:, ::-1], (int(dy), int(dx)), axis=(0, 1))
            sub = out / f"part_{i // PER_FOLDER:02d}"
            sub.mkdir(parents=True, exist_ok=True)
            p = V.write_image(img, sub / f"{i:06d}", "png")
            rows.append((str(p.relative_to(out)), names[int(labels[j])]))
        V._write_labels(rows, labels_csv)
        (out / ".complete").write_text("")
    return out, V.hidden_labels(labels_csv, out)


def _cached(home: Path) -> int:
    root = home / "cache" / "files"
    return sum(1 for _ in root.rglob("*.npy")) if root.is_dir() else 0


def killed_run(folder: Path, out: Path, home: Path, n: int, kill_at: float, timeout: float) -> dict:
    """Start `zsc cluster` from an empty home and SIGKILL it once `kill_at` of the n images are
    in the per-file embedding cache; returns what was cached when it died."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ, ZSC_HOME=str(home), PYTHONPATH=str(ROOT))
    for v in ("ZSC_CACHE_DIR", "ZSC_DATA_DIR", "ZSC_RESULTS_DIR"):
        env.pop(v, None)
    cmd = [sys.executable, "-c", V.ZSC_WRAPPER, "cluster", str(folder), "-o", str(out), "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    want = max(1, int(kill_at * n))
    status = "finished before the kill"
    while proc.poll() is None and time.perf_counter() - t0 < timeout:
        if _cached(home) >= want:
            os.kill(proc.pid, signal.SIGKILL)
            status = "killed (SIGKILL)"
            break
        time.sleep(0.25)
    proc.wait()
    return {"status": status, "seconds": round(time.perf_counter() - t0, 1), "returncode": proc.returncode,
            "cached_at_kill": _cached(home), "report_written": (out / "report.html").is_file()}


def same_assignments(a: Path, b: Path) -> dict:
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    x, y = pd.read_csv(a / "assignments.csv"), pd.read_csv(b / "assignments.csv")
    same_paths = list(x["path"]) == list(y["path"])
    if not same_paths:
        return {"same_paths": False, "identical": False, "ari": float("nan")}
    return {"same_paths": True, "identical": bool((x["cluster"].to_numpy() == y["cluster"].to_numpy()).all()),
            "ari": float(adjusted_rand_score(x["cluster"], y["cluster"]))}


def _summary(o: V.Outcome) -> dict:
    return {"ok": o.ok, "error": o.error, "images": o.read, "k": o.k, "ami": round(o.ami, 3),
            "seconds": round(o.seconds, 1), "peak_gib": round(o.peak_gib, 2),
            "stages": o.extra.get("stages", {}), "report_mb": o.extra.get("report_mb")}


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="+", default=["time", "resume", "big"], choices=["time", "resume", "big"])
    ap.add_argument("--n", type=int, default=10_000, help="images of the timed run")
    ap.add_argument("--resume-n", type=int, default=None, help="images of the resume check (default --n)")
    ap.add_argument("--kill-at", type=float, default=0.5, help="fraction embedded when the run is killed")
    ap.add_argument("--big-n", type=int, default=BIG_N)
    ap.add_argument("--big-encoder", default="pixels")
    ap.add_argument("--big-stability", type=int, default=None, help="extra UMAP seeds (default: the CLI's)")
    ap.add_argument("--work", default=str(DEFAULT_WORK))
    ap.add_argument("--timeout", type=float, default=7200, help="seconds per run")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    work = Path(args.work).expanduser().resolve()
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    ref: tuple[int, Path] | None = None

    def log(s: str) -> None:
        print(s, flush=True)

    if "time" in args.parts:
        folder, truth = export_fm(args.n, work)
        out = work / "out" / f"time{args.n}"
        o = V.run_zsc(folder, out, work / "home" / "time", truth, timeout=args.timeout)
        res["time"] = {"n": args.n, "encoder": "efficientnet_lite0 (default)", **_summary(o)}
        ref = (args.n, out) if o.ok else None
        log(f"time: {args.n:,} images, default encoder (efficientnet_lite0), empty cache: "
            + (f"{o.seconds:.0f} s end to end (stages: {o.extra['stages']}); k = {o.k}, AMI {o.ami:.3f}, "
               f"peak RSS {o.peak_gib:.2f} GiB, report {o.extra['report_mb']} MB; target <= {TARGET_SECONDS} s "
               + (f"at {TARGET_N:,} images: {_verdict(o.seconds <= TARGET_SECONDS)}" if args.n == TARGET_N else
                  f"is for {TARGET_N:,} images: no verdict at {args.n:,}") if o.ok else f"failed: {o.error}"))

    if "resume" in args.parts:
        n = args.resume_n or args.n
        folder, truth = export_fm(n, work)
        if ref is None or ref[0] != n:
            out = work / "out" / f"ref{n}"
            o = V.run_zsc(folder, out, work / "home" / "ref", truth, timeout=args.timeout)
            if not o.ok:
                raise SystemExit(f"the uninterrupted run failed: {o.error}")
            ref = (n, out)
            res["resume_reference"] = _summary(o)
        ref_stages = V.stage_seconds(ref[1] / "report.html")
        home, out = work / "home" / "resume", work / "out" / f"resume{n}"
        k = killed_run(folder, out, home, n, args.kill_at, args.timeout)
        before = k["cached_at_kill"]
        o = V.run_zsc(folder, out, home, truth, timeout=args.timeout, fresh=False)
        cmp = same_assignments(ref[1], out) if o.ok else {}
        res["resume"] = {"n": n, "killed": k, "rerun": _summary(o), "embedded_by_rerun": _cached(home) - before,
                         "reference_embed_s": ref_stages.get("embed"), **cmp}
        log(f"resume: {n:,} images; first run {k['status']} after {k['seconds']:.0f} s with {before:,} "
            f"embeddings cached (exit {k['returncode']}, report written: {k['report_written']}); rerun "
            + (f"{o.seconds:.0f} s, embedded {_cached(home) - before:,} more, embedding stage "
               f"{o.extra['stages'].get('embed')} s vs {ref_stages.get('embed')} s uninterrupted; "
               f"assignments identical to the uninterrupted run's: {cmp.get('identical')} "
               f"(ARI {cmp.get('ari', float('nan')):.4f})" if o.ok else f"failed: {o.error}"))

    if "big" in args.parts:
        folder, truth = export_fm(args.big_n, work)
        extra = ["--encoder", args.big_encoder]
        if args.big_stability is not None:
            extra += ["--stability", str(args.big_stability)]
        out = work / "out" / f"big{args.big_n}"
        o = V.run_zsc(folder, out, work / "home" / "big", truth, extra_args=extra, timeout=args.timeout)
        res["big"] = {"n": args.big_n, "encoder": args.big_encoder, "stability": args.big_stability,
                      **_summary(o)}
        log(f"big: {args.big_n:,} images, encoder {args.big_encoder}"
            + (f", --stability {args.big_stability}" if args.big_stability is not None else "") + ": "
            + (f"{o.seconds:.0f} s (stages: {o.extra['stages']}); k = {o.k}, AMI {o.ami:.3f}; peak RSS "
               f"{o.peak_gib:.2f} GiB (target <= {TARGET_GIB}: {_verdict(o.peak_gib <= TARGET_GIB)}); "
               f"report.html {o.extra['report_mb']} MB (target <= {TARGET_REPORT_MB}: "
               f"{_verdict(o.extra['report_mb'] <= TARGET_REPORT_MB)})" if o.ok else f"failed: {o.error}")
            + ("" if args.big_n >= BIG_N else f"; the targets are for {BIG_N:,} images: this run is smaller"))
    for name in ("time", "ref", "resume", "big"):  # the cold caches are not kept
        import shutil

        shutil.rmtree(work / "home" / name, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
