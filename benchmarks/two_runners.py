#!/usr/bin/env python
"""Do two `zsc batch` runners on one output folder share a grid's work? Two runners against
one, on the same grid, measured in the same run (issue 23, item 8).

    python benchmarks/two_runners.py                  # the shipped smoke grid (16 jobs here)
    python benchmarks/two_runners.py --grid my.yaml --jobs 1 --json out.json

Each arm starts from an empty zsc home (no cached embedding or UMAP) and an empty output
folder, and runs from a folder outside the checkout, as an installed package does (the smoke
grid's notebook stage, which needs the chapters of a checkout, is left out with a note). The
one-runner arm runs `zsc batch GRID --jobs J`; the two-runner arm starts two such commands at
once on the same output. Printed: wall time of each arm, the jobs each runner executed, and the
ratio one / two (> 1: two runners finish the grid sooner). On a machine with fewer cores than
2 x J the runners compete for them, so the ratio measures sharing more than speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _runner(grid: str, results: Path, jobs: int, home: Path, cwd: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "zsc.cli", "batch", grid, "--jobs", str(jobs), "--no-progress",
           "--results", str(results)]
    env = dict(os.environ, ZSC_HOME=str(home), PYTHONPATH=str(ROOT))
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _executed(out: str) -> int:
    line = next(ln for ln in out.splitlines() if ln.startswith("grid "))
    return int(line.split(" jobs: ")[1].split(" done")[0])


def arm(grid: str, n_runners: int, jobs: int, base: Path) -> dict:
    """One arm: `n_runners` runners on one output folder, from an empty zsc home."""
    home, cwd = base / f"home{n_runners}", base / f"cwd{n_runners}"
    cwd.mkdir(parents=True)
    t0 = time.perf_counter()
    procs = [_runner(grid, base / f"results{n_runners}", jobs, home, cwd) for _ in range(n_runners)]
    outs = [p.communicate() for p in procs]
    seconds = time.perf_counter() - t0
    for p, (out, err) in zip(procs, outs, strict=True):
        if p.returncode != 0:
            raise SystemExit(f"a runner failed ({p.returncode}):\n{out}\n{err}")
    return {"runners": n_runners, "seconds": round(seconds, 1),
            "executed": [_executed(out) for out, _ in outs]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default="smoke")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes per runner")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    grid = str(Path(args.grid).resolve()) if Path(args.grid).is_file() else args.grid
    with tempfile.TemporaryDirectory(prefix="zsc-two-runners-") as tmp:
        one = arm(grid, 1, args.jobs, Path(tmp))
        two = arm(grid, 2, args.jobs, Path(tmp))
    ratio = one["seconds"] / two["seconds"]
    print(f"one runner:  {one['seconds']:.1f} s, executed {one['executed']}")
    print(f"two runners: {two['seconds']:.1f} s, executed {two['executed']} "
          f"(sum {sum(two['executed'])})")
    print(f"ratio one / two: {ratio:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"one": one, "two": two, "ratio": ratio}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
