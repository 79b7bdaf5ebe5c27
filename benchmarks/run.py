#!/usr/bin/env python
"""Paper-scale speed and memory of zsc, measured against the naive path.

    python benchmarks/run.py                  # cases ac, knn, sil at paper scale (~20 min, 2 cores)
    python benchmarks/run.py --quick          # the same code paths at small n (~1-2 min)
    python benchmarks/run.py --cases sweep    # the full UMAP + six-clusterer sweep (50,000 x 768)
    python benchmarks/run.py --cases all --json results.json

Every measured call runs in a fresh subprocess; its peak memory is the kernel's peak RSS of
that process (VmHWM, reported by the child at exit — not os.wait4's ru_maxrss, which also
counts the parent image the child was forked from), so it counts the interpreter, the
libraries and the input data too. A naive path whose estimated peak exceeds the memory budget is not attempted: its row
says "not attempted (est. X GiB)". See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import pickle
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import cases as C  # noqa: E402
from benchmarks.data import data_path  # noqa: E402

GiB = 2**30
ALL_CASES = ("ac", "knn", "knn1000", "sil", "sil1000", "spectral", "hdbscan", "sweep")
DEFAULT_CASES = ("ac", "knn", "knn1000", "sil", "sil1000")

# Problem sizes. FULL is the paper scale; QUICK runs every code path in a minute or two;
# TINY is what tests/test_benchmarks_smoke.py runs (in-process, a few seconds).
FULL = {"ac": [20_000, 50_000, 100_000], "ac_d": 50, "knn": (50_000, 10_000, 768),
        "sil": [20_000, 100_000], "sil_d": 50, "sil_sub": 20_000, "sweep": (50_000, 768),
        "spectral": [10_000, 20_000], "spectral_d": 768, "classes": 100, "knn_repeat": 3,
        "hdbscan": [(20_000, ("euclidean", "l1", "chebyshev")), (100_000, ("euclidean",))], "hdbscan_d": 50}
QUICK = {"ac": [3_000, 8_000], "ac_d": 50, "knn": (10_000, 2_000, 768),
         "sil": [3_000, 10_000], "sil_d": 50, "sil_sub": 2_000, "sweep": (3_000, 768),
         "spectral": [3_000], "spectral_d": 768, "classes": 100,
        "hdbscan": [(3_000, ("euclidean", "l1", "chebyshev"))], "hdbscan_d": 50}
TINY = {"ac": [500], "ac_d": 16, "knn": (400, 100, 32), "sil": [500, 800], "sil_d": 16,
        "sil_sub": 300, "sweep": (500, 32), "spectral": [500], "spectral_d": 16,
        "classes": 10, "hdbscan": [(500, ("euclidean",))], "hdbscan_d": 16}
SEPARATION = {50: 1.0}  # class separation by width (default 0.6); see data.py


# --------------------------------------------------------------------------- running a task
@dataclass
class Measured:
    task: str
    status: str = "ok"  # ok | not attempted | killed | error: ... | timeout
    seconds: float | None = None
    peak: int | None = None  # bytes, the process's peak RSS
    baseline: int | None = None  # bytes, RSS just before the timed call
    estimate: int | None = None  # bytes, estimated peak (naive paths only)
    result: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def cpu(self) -> float | None:
        """CPU seconds of the timed call, all threads (less sensitive to a shared machine)."""
        return self.result.get("cpu_seconds")


@dataclass
class Limits:
    naive_budget: int  # bytes: a naive path estimated above this is not attempted
    kill_above: int  # bytes: any task whose RSS passes this is killed (shared machine)
    timeout: float  # seconds per task
    step_timeout: float | None = None  # seconds per sweep clusterer step (default: timeout)
    inprocess: bool = False  # smoke test: no subprocess, no memory numbers


def _proc_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_task(task: str, params: dict, limits: Limits, estimate: int | None = None,
             timeout: float | None = None) -> Measured:
    if estimate is not None and estimate > limits.naive_budget:
        return Measured(task, "not attempted", estimate=estimate)
    if limits.inprocess:
        out = C.TASKS[task](params)
        return Measured(task, seconds=out["seconds"], baseline=out.get("baseline"),
                        estimate=estimate, result=out)
    with tempfile.TemporaryDirectory(prefix="zsc-bench-") as tmp:
        out_path, err_path = Path(tmp) / "out.pkl", Path(tmp) / "stderr.txt"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", task,
               "--params", json.dumps(params), "--out", str(out_path)]
        with open(err_path, "w") as err:
            proc = subprocess.Popen(cmd, stdout=err, stderr=err, cwd=ROOT)
        killed: list[str] = []
        seen = [0]

        def watch() -> None:  # protect the (shared) machine: kill on memory or time limit
            t0 = time.monotonic()
            while proc.returncode is None and not killed:
                now = _proc_rss(proc.pid)
                seen[0] = max(seen[0], now)
                if now > limits.kill_above:
                    killed.append("killed (RSS above limit)")
                elif time.monotonic() - t0 > (timeout or limits.timeout):
                    killed.append(f"did not finish in {timeout or limits.timeout:.0f} s")
                else:
                    time.sleep(0.05)
                    continue
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        watcher.join(timeout=1)
        # ru_maxrss of a child also counts the parent's image it was forked from (the mark
        # survives exec), so the peak is the child's own VmHWM, which it reports at exit;
        # ru_maxrss and the watchdog's highest reading only stand in when it could not.
        fallback = max(usage.ru_maxrss * 1024, seen[0])
        if killed:
            return Measured(task, killed[0], peak=fallback, estimate=estimate)
        if proc.returncode != 0 or not out_path.exists():
            tail = err_path.read_text()[-2000:]
            return Measured(task, f"error: exit {proc.returncode}: {tail.strip()[-400:]}",
                            peak=fallback, estimate=estimate)
        out = pickle.loads(out_path.read_bytes())
        peak = out.get("peak") or fallback
        return Measured(task, seconds=out["seconds"], peak=peak, baseline=out.get("baseline"),
                        estimate=estimate, result=out)


def _worker(task: str, params: str, out: str) -> None:
    res = C.TASKS[task](json.loads(params))
    res["peak"] = C.peak_rss()  # this process's peak RSS (VmHWM)
    Path(out).write_bytes(pickle.dumps(res))


def _cpu_ratio(a: Measured, b: Measured) -> str:
    return "" if not (a.cpu and b.cpu) else f" (cpu time {a.cpu / b.cpu:.2f}x)"


def _best(runs: list[Measured]) -> Measured:
    """The fastest successful run (its own peak), or the first failure."""
    ok = [m for m in runs if m.ok]
    return min(ok, key=lambda m: m.seconds) if ok else runs[0]


# --------------------------------------------------------------------------- cases
@dataclass
class Row:
    case: str
    n: int
    d: int
    zsc: Measured
    label: str  # what zsc is compared with
    other: Measured
    check: str = ""


@dataclass
class Target:
    text: str
    met: bool | None  # None: could not be decided
    measured: str


class Bench:
    def __init__(self, sizes: dict, limits: Limits, data_dir: Path, log: Callable[[str], None]):
        self.sizes, self.limits, self.data_dir, self.log = sizes, limits, data_dir, log
        self.rows: list[Row] = []
        self.targets: list[Target] = []
        self.extra: dict[str, Any] = {}

    def data(self, n: int, d: int, classes: int | None = None) -> str:
        spec = {"n": n, "d": d, "classes": classes or self.sizes["classes"], "seed": 0,
                "separation": SEPARATION.get(d, 0.6)}
        return str(data_path(spec, self.data_dir))

    def run(self, task: str, params: dict, estimate: int | None = None,
            timeout: float | None = None) -> Measured:
        shown = {k: v for k, v in params.items() if k not in ("data", "umap", "out")}
        self.log(f"  {task} {json.dumps(shown)} ...")
        m = run_task(task, params, self.limits, estimate, timeout)
        self.log(f"    -> {m.status}, {_t(m.seconds)}, peak {_gib(m.peak)}")
        return m

    def add(self, row: Row) -> None:
        self.rows.append(row)
        self.log("    " + " | ".join(_cells(row)))

    def same_partition(self, what: str, z: Any, other: Any) -> str:
        """ARI of zsc's labels against the other path's, recorded as a "same partition" target;
        the table's check text ("" when either did not run)."""
        from sklearn.metrics import adjusted_rand_score

        if not (z.ok and other.ok):
            return ""
        ari = adjusted_rand_score(other.result["labels"], z.result["labels"])
        self.targets.append(Target(f"{what}: same partition as scikit-learn", ari == 1.0,
                                   f"ARI {ari:.6f}"))
        return f"ARI(zsc, sklearn) = {ari:.6f}"

    # ---- 1. agglomerative ward
    def case_ac(self) -> None:
        d, k = self.sizes["ac_d"], self.sizes["classes"]
        for n in self.sizes["ac"]:
            self.log(f"[ac] ward, {n} x {d}, {k} clusters")
            p = {"data": self.data(n, d), "k": k}
            z = self.run("ac_zsc", p)
            s = self.run("ac_sklearn", p, estimate=C.ac_sklearn_bytes(n, d))
            check = self.same_partition(f"AC ward {n}x{d}", z, s)
            if check and s.peak:
                check += f"; sklearn est. {_gib(s.estimate)} vs measured {_gib(s.peak)}"
            self.add(Row("AC ward", n, d, z, "sklearn AgglomerativeClustering(ward)", s, check))
            if n == 50_000:
                self.targets.append(Target("AC ward 50,000x50: zsc peak RSS <= 1 GiB",
                                           z.ok and z.peak is not None and z.peak <= GiB, _gib(z.peak)))
            if n == 100_000:
                self.targets.append(Target("AC ward 100,000x50: zsc completes", z.ok,
                                           f"{z.status}, {_t(z.seconds)}, {_gib(z.peak)}"))

    # ---- 2. kNN accuracy
    def _knn(self, classes: int, with_sklearn: bool) -> None:
        n_train, n_test, d = self.sizes["knn"]
        name = f"kNN ({classes} classes)"
        self.log(f"[knn] {n_train} train / {n_test} test x {d}, {classes} classes, ks {C.KNN_KS}")
        p = {"data": self.data(n_train + n_test, d, classes), "n_train": n_train, "ks": list(C.KNN_KS)}
        # zsc and the floor take seconds and their ratio is a target: on a shared machine they
        # are run `knn_repeat` times, interleaved, and the fastest run of each kept
        runs: dict[str, list[Measured]] = {"knn_zsc": [], "knn_matmul": []}
        for _ in range(self.sizes.get("knn_repeat", 1)):
            for task, got in runs.items():
                got.append(self.run(task, p))
        best = {task: _best(got) for task, got in runs.items()}
        z = best["knn_zsc"]
        others = [("bare matmul test @ train.T (torch, the floor)", best["knn_matmul"])]
        if with_sklearn:
            others.append(("sklearn KNeighborsClassifier(brute, cosine, exp(sim/T)), one per k",
                           self.run("knn_sklearn", p)))
        if self.sizes.get("knn_repeat", 1) > 1:
            self.extra.setdefault("knn_repeats", {})[name] = {
                task: [(m.seconds, m.cpu) for m in got] for task, got in runs.items()}
        for label, o in others:
            check = ""
            if z.ok and o.ok and "accuracy" in o.result:
                za, oa = z.result["accuracy"], {int(k): v for k, v in o.result["accuracy"].items()}
                diff = max(abs(za[k] - oa[k]) for k in za)
                check = (f"max |acc diff| {diff:.2g} (= {round(diff * n_test)} of {n_test} test points); "
                         f"zsc acc " + ", ".join(f"k={k}: {za[k]:.4f}" for k in za))
                if label.startswith("sklearn"):
                    self.targets.append(Target(f"{name}: same accuracy as scikit-learn",
                                               diff <= 1.0 / n_test, f"max diff {diff:.2g}"))
            self.add(Row(name, n_train, d, z, label, o, check))
            if not (z.ok and o.ok):
                continue
            if label.startswith("bare"):
                r = z.seconds / o.seconds
                self.targets.append(Target(f"{name}: zsc time <= 1.5x bare matmul", r <= 1.5,
                                           f"{r:.2f}x{_cpu_ratio(z, o)}"))
            elif label.startswith("sklearn"):
                r = o.seconds / z.seconds
                self.targets.append(Target(f"{name}: >= 2x faster than scikit-learn", r >= 2,
                                           f"{r:.2f}x faster{_cpu_ratio(o, z)}"))
                if z.peak and o.peak:
                    m = o.peak / z.peak
                    self.targets.append(Target(
                        f"{name}: <= 1/2 the peak memory of scikit-learn", m >= 2,
                        f"zsc {_gib(z.peak)} vs sklearn {_gib(o.peak)} (ratio {1 / m:.2f}); working "
                        f"memory above baseline zsc {_gib(z.peak - z.baseline)} vs sklearn "
                        f"{_gib(o.peak - o.baseline)}"))

    def case_knn(self) -> None:
        self._knn(self.sizes["classes"], with_sklearn=True)

    def case_knn1000(self) -> None:
        self._knn(10 * self.sizes["classes"], with_sklearn=False)

    # ---- 3. silhouette
    def _sil_value_row(self, n: int, d: int, z: Measured, label: str, o: Measured, target: str) -> None:
        check = ""
        if z.ok and o.ok:
            diff = abs(z.result["value"] - o.result["value"])
            check = f"zsc {z.result['value']:.10f}, other {o.result['value']:.10f}, |diff| {diff:.1e}"
            if target:
                self.targets.append(Target(target, diff < 1e-6, f"|diff| {diff:.1e}"))
        self.add(Row("silhouette exact", n, d, z, label, o, check))

    def _sil_subsample_row(self, n: int, d: int, z: Measured, label: str, o: Measured,
                           se: float | None = None) -> float | None:
        """A subsample estimate `o` against the exact value `z`, its error in units of `se`
        (default: its own reported stderr, and then a target). Returns that stderr."""
        check = ""
        own = se is None
        if z.ok and o.ok:
            se = o.result["stderr"] if own else se
            err = o.result["value"] - z.result["value"]
            check = (f"exact {z.result['value']:.6f}, estimate {o.result['value']:.6f}"
                     + (f" ± {se:.6f} (its stderr)" if own else "")
                     + f": error {err:+.6f} = {err / se:+.1f} stderr" + ("" if own else " (zsc's)"))
            self.extra.setdefault("silhouette_subsample", []).append(
                {"label": label, "exact": z.result["value"], "estimate": o.result["value"],
                 "stderr": se, "error": err})
            if own:
                self.targets.append(Target(f"silhouette {n}x{d}, {label}: error within 3 stderr",
                                           abs(err) <= 3 * se, f"{err / se:+.1f} stderr"))
        self.add(Row("silhouette exact", n, d, z, label, o, check))
        return se

    def case_sil(self) -> None:
        d = self.sizes["sil_d"]
        small, large = self.sizes["sil"]
        self.log(f"[sil] exact blocked vs sklearn, {small} x {d}")
        p = {"data": self.data(small, d)}
        z = self.run("sil_zsc_exact", p)
        self._sil_value_row(small, d, z, "sklearn silhouette_score", self.run("sil_sklearn", p),
                            f"silhouette {small}x{d}: same value as scikit-learn")
        m = self.sizes["sil_sub"]
        self.log(f"[sil] exact blocked vs subsample {m}, {large} x {d}")
        p = {"data": self.data(large, d), "max_samples": m}
        z = self.run("sil_zsc_exact", p)
        if z.ok:
            self.targets.append(Target(f"silhouette {large}x{d}: exact blocked completes", True,
                                       f"{_t(z.seconds)}, {_gib(z.peak)}"))
        se = self._sil_subsample_row(large, d, z, f"zsc silhouette(max_samples={m}): {m} rows vs all points",
                                     self.run("sil_zsc_subsample", p))
        self._sil_subsample_row(large, d, z, f"sklearn silhouette_score(sample_size={m})",
                                self.run("sil_sklearn_subsample", p), se)

    def case_sil1000(self) -> None:
        """The subsample estimates where clusters are many (1000): few points per cluster."""
        d, large, m = self.sizes["sil_d"], self.sizes["sil"][1], self.sizes["sil_sub"]
        k = 10 * self.sizes["classes"]
        self.log(f"[sil1000] exact blocked vs subsample {m}, {large} x {d}, {k} clusters")
        p = {"data": self.data(large, d, k), "max_samples": m}
        z = self.run("sil_zsc_exact", p)
        se = self._sil_subsample_row(large, d, z, f"zsc silhouette(max_samples={m}), {k} clusters",
                                     self.run("sil_zsc_subsample", p))
        self._sil_subsample_row(large, d, z, f"sklearn silhouette_score(sample_size={m}), {k} clusters",
                                self.run("sil_sklearn_subsample", p), se)

    # ---- spectral on the raw embedding
    def case_spectral(self) -> None:
        d, k = self.sizes["spectral_d"], self.sizes["classes"]
        for n in self.sizes["spectral"]:
            self.log(f"[spectral] raw embedding {n} x {d}, {k} clusters")
            p = {"data": self.data(n, d), "k": k}
            z = self.run("spectral_zsc", p, timeout=self.limits.step_timeout)
            o = self.run("spectral_sklearn", p, timeout=self.limits.step_timeout)
            check = self.same_partition(f"spectral {n}x{d}", z, o)
            self.add(Row("Spectral (raw)", n, d, z, "sklearn SpectralClustering (kNN affinity, ARPACK)",
                         o, check))

    # ---- HDBSCAN: scikit-learn's (zsc's, the paper's) vs the hdbscan package
    def case_hdbscan(self) -> None:
        from sklearn.metrics import adjusted_rand_score

        d = self.sizes["hdbscan_d"]
        for n, metrics in self.sizes["hdbscan"]:
            for metric in metrics:
                self.log(f"[hdbscan] {n} x {d}, {metric}, min_cluster_size = min_samples = 5, "
                         f"max cluster size 0.2·N, eom")
                p = {"data": self.data(n, d), "metric": metric}
                z = self.run("hdbscan_zsc", p, timeout=self.limits.step_timeout)
                o = self.run("hdbscan_contrib", p, timeout=self.limits.step_timeout)
                check = ""
                if z.ok and o.ok:
                    zl, ol = z.result["labels"], o.result["labels"]
                    ari = adjusted_rand_score(zl, ol)
                    check = (f"ARI(zsc, hdbscan) = {ari:.6f}; clusters {zl.max() + 1} vs {ol.max() + 1}, "
                             f"noise {(zl < 0).sum()} vs {(ol < 0).sum()}")
                    self.targets.append(Target(f"HDBSCAN {n}x{d} {metric}: the hdbscan package gives "
                                               "the same partition", ari == 1.0, f"ARI {ari:.6f}"))
                self.add(Row(f"HDBSCAN ({metric})", n, d, z,
                             "hdbscan package (min_samples=4, i.e. sklearn's 5)", o, check))

    # ---- 4. sweep
    def case_sweep(self) -> None:
        from sklearn.metrics import adjusted_rand_score

        n, d = self.sizes["sweep"]
        self.log(f"[sweep] UMAP-50 of {n} x {d}, then {', '.join(C.SWEEP)} (+ spectral_sklearn)")
        umap_path = str(Path(self.data(n, d)).with_suffix(".umap50.npz"))
        u = self.run("sweep_umap", {"data": self.data(n, d), "out": umap_path})
        steps = [{"step": "umap50", "m": u}]
        if u.ok:
            for name in (*C.SWEEP, "spectral_sklearn"):
                m = self.run("sweep_step", {"umap": umap_path, "clusterer": name},
                             timeout=self.limits.step_timeout)
                steps.append({"step": name, "m": m})
        ms = {s["step"]: s["m"] for s in steps}
        six = [ms[s] for s in ("umap50", *C.SWEEP) if s in ms]
        done = all(m.ok for m in six) and len(six) == 1 + len(C.SWEEP)
        total = sum(m.seconds for m in six if m.ok)
        peak = max((m.peak or 0) for m in six)
        agree = None
        if ms.get("spectral") and ms.get("spectral_sklearn") and ms["spectral"].ok and ms["spectral_sklearn"].ok:
            agree = adjusted_rand_score(ms["spectral"].result["labels"], ms["spectral_sklearn"].result["labels"])
        self.extra["sweep"] = {
            "n": n, "d": d, "complete": done, "seconds": total, "peak": peak,
            "spectral_ari_zsc_vs_sklearn": agree, "naive_estimates": C.sweep_naive_bytes(n),
            "steps": [{"step": s["step"], "status": s["m"].status, "seconds": s["m"].seconds,
                       "peak": s["m"].peak, "baseline": s["m"].baseline,
                       **{k: v for k, v in s["m"].result.items()
                          if k in ("n_clusters", "ami", "fitted_on", "shape")}} for s in steps],
        }
        self.targets.append(Target(f"sweep {n}x{d}: UMAP + six clusterers complete", done,
                                   f"sum of steps {_t(total)}, max peak {_gib(peak)}"))

# --------------------------------------------------------------------------- reporting
def _gib(b: int | None) -> str:
    return "—" if b is None else f"{b / GiB:.2f} GiB"


def _t(s: float | None) -> str:
    if s is None:
        return "—"
    return f"{s:.2f} s" if s < 100 else f"{s:.0f} s"


def _time(m: Measured) -> str:
    if not m.ok:
        return m.status
    return _t(m.seconds) + ("" if m.cpu is None else f" (cpu {_t(m.cpu)})")


def _peak(m: Measured) -> str:
    if m.status == "not attempted":
        return f"does not fit (est. {_gib(m.estimate)})"
    if not m.ok:
        return m.status if m.peak is None else f"{m.status} at {_gib(m.peak)}"
    if m.peak is None:
        return "—"
    delta = "" if m.baseline is None else f" (+{(m.peak - m.baseline) / GiB:.2f})"
    return _gib(m.peak) + delta


def _cells(r: Row) -> list[str]:
    z, o = r.zsc, r.other
    t_ratio = f"{o.seconds / z.seconds:.2f}" if z.ok and o.ok else "—"
    if z.ok and z.peak and o.ok and o.peak:
        m_ratio = f"{o.peak / z.peak:.2f}"
    elif z.ok and z.peak and o.status == "not attempted":
        m_ratio = f">= {o.estimate / z.peak:.0f} (est.)"
    else:
        m_ratio = "—"
    return [r.case, f"{r.n:,} x {r.d}", _time(z), _peak(z), r.label,
            _time(o) if o.ok or o.status != "not attempted" else "—",
            _peak(o), t_ratio, m_ratio, r.check]


HEADER = ["case", "n x d", "zsc time", "zsc peak RSS (+working)", "compared with", "its time",
          "its peak RSS (+working)", "time ÷ zsc", "peak ÷ zsc", "check"]


def markdown(b: Bench) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in b.rows]
    sw = b.extra.get("sweep")
    if sw:
        lines += ["", f"Sweep, {sw['n']:,} x {sw['d']}: UMAP + six clusterers "
                      f"{'complete' if sw['complete'] else 'INCOMPLETE'}, sum of step times "
                      f"{_t(sw['seconds'])}, highest step peak RSS {_gib(sw['peak'])}", "",
                  "| step | time | peak RSS (+working) | clusters found | AMI vs truth | naive path would need |",
                  "|---|---|---|---|---|---|"]
        for s in sw["steps"]:
            est = sw["naive_estimates"].get(s["step"])
            est_s = "same as zsc (scikit-learn)" if est is None else f"est. {_gib(est)}"
            if s["step"] == "umap50":
                est_s = "same (umap-learn)"
            elif s["step"] == "spectral_sklearn":
                ari = sw.get("spectral_ari_zsc_vs_sklearn")
                est_s = "former zsc path" + ("" if ari is None else f"; ARI vs zsc spectral {ari:.4f}")
            name = s["step"]
            if s.get("fitted_on") and s["fitted_on"] != sw["n"]:
                name += f" (fitted on {s['fitted_on']:,})"
            ok = s["status"] == "ok"
            m = Measured("", s["status"], s["seconds"], s["peak"], s["baseline"])
            lines.append(f"| {name} | {_t(s['seconds']) if ok else s['status']} | {_peak(m)} | "
                         f"{s.get('n_clusters', '—')} | "
                         f"{format(s['ami'], '.3f') if 'ami' in s else '—'} | {est_s} |")
    if b.targets:
        lines += ["", "Targets:"]
        for t in b.targets:
            mark = {True: "MET", False: "MISSED", None: "?"}[t.met]
            lines.append(f"- [{mark}] {t.text}: {t.measured}")
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    import numpy
    import sklearn
    import torch

    mem = 0
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except OSError:
        pass
    return {"date": _dt.date.today().isoformat(), "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "memory": mem,
            "numpy": numpy.__version__, "sklearn": sklearn.__version__, "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "load_average": os.getloadavg()}


def _mem_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 16 * GiB


def run_benchmarks(cases: list[str], sizes: dict, limits: Limits, data_dir: Path,
                   log: Callable[[str], None] = print) -> Bench:
    b = Bench(sizes, limits, data_dir, log)
    for c in cases:
        getattr(b, f"case_{c}")()
    return b


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: every code path in a minute or two")
    ap.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES),
                    help=f"any of {', '.join(ALL_CASES)}, or all (default: {' '.join(DEFAULT_CASES)})")
    ap.add_argument("--naive-budget-gib", type=float, default=None,
                    help="naive paths estimated above this are not attempted "
                         "(default: min(16, 0.7 x MemAvailable))")
    ap.add_argument("--kill-above-gib", type=float, default=None,
                    help="kill any task whose RSS passes this (default: 0.9 x MemAvailable)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per task (default 3600)")
    ap.add_argument("--step-timeout", type=float, default=1800,
                    help="seconds per clusterer of the sweep (default 1800)")
    ap.add_argument("--data-dir", default=None, help="where generated data is kept (default: a temp dir)")
    ap.add_argument("--json", default=None, help="also write all measurements to this JSON file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        _worker(a.worker, a.params, a.out)
        return 0
    cases = list(ALL_CASES) if "all" in a.cases else a.cases
    unknown = sorted(set(cases) - set(ALL_CASES))
    if unknown:
        ap.error(f"unknown case(s) {unknown}; choose from {', '.join(ALL_CASES)} or all")
    avail = _mem_available()
    limits = Limits(
        naive_budget=int((a.naive_budget_gib or min(16.0, 0.7 * avail / GiB)) * GiB),
        kill_above=int((a.kill_above_gib or 0.9 * avail / GiB) * GiB),
        timeout=a.timeout, step_timeout=a.step_timeout,
    )
    env = environment()
    print(f"# zsc benchmarks {env['date']}: {env['cpus']} CPUs, {_gib(env['memory'])} RAM, "
          f"torch {env['torch']} ({env['torch_threads']} threads), sklearn {env['sklearn']}, "
          f"numpy {env['numpy']}; load average {env['load_average'][0]:.1f}; "
          f"naive budget {_gib(limits.naive_budget)}, kill above {_gib(limits.kill_above)}"
          f"{'; QUICK sizes' if a.quick else ''}", flush=True)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="zsc-bench-data-") as tmp:
        data_dir = Path(a.data_dir) if a.data_dir else Path(tmp)
        b = run_benchmarks(cases, QUICK if a.quick else FULL, limits, data_dir,
                           log=lambda s: print(s, flush=True))
    env["load_average_end"] = os.getloadavg()
    env["wall_seconds"] = time.time() - t0
    print()
    print(markdown(b))
    print(f"\n(total {env['wall_seconds'] / 60:.1f} min; load average at end "
          f"{env['load_average_end'][0]:.1f})")
    if a.json:
        def m(x: Measured) -> dict:
            return {"task": x.task, "status": x.status, "seconds": x.seconds, "peak": x.peak,
                    "baseline": x.baseline, "estimate": x.estimate,
                    "result": {k: v for k, v in x.result.items() if k != "labels"}}
        Path(a.json).write_text(json.dumps({
            "environment": env, "quick": a.quick, "cases": cases,
            "rows": [{"case": r.case, "n": r.n, "d": r.d, "label": r.label, "check": r.check,
                      "zsc": m(r.zsc), "other": m(r.other)} for r in b.rows],
            "targets": [t.__dict__ for t in b.targets], "extra": b.extra,
        }, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
