#!/usr/bin/env bash
# The newest versions tried apart: install the newest releases pyproject.toml allows into a
# separate environment (never .venv), run the tests there, and print what differs from the lock.
# Usage: bash scripts/drift.sh [PYTEST ARGS...]   (default: -m "not slow")
# Exit status: the tests' (the drift listing is information). Run by hand before refreshing the
# lock (scripts/lock.sh); CI runs it after its own tests without letting it fail the build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
py="$tmp/venv/bin/python"
"$py" -m pip install -q --no-compile "torch==2.14.1" "torchvision==0.29.1"
"$py" -m pip install -q --no-compile --upgrade -e ".[dev,book,zoo,dask]"
# What changed against the lock: one line a package, locked -> newest.
"$py" - "$root/requirements.lock.txt" <<'PY'
import re, sys
from importlib import metadata

norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
locked = dict(re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ \\]+)", open(sys.argv[1]).read(), re.M))
locked = {norm(k): v for k, v in locked.items()}
have = {norm(d.metadata["Name"]): d.version for d in metadata.distributions()}
changed = sorted((n, locked[n], have[n]) for n in locked.keys() & have.keys() if locked[n] != have[n])
print(f"drift: {len(changed)} of {len(locked)} locked packages have a newer allowed release")
for n, old, new in changed:
    print(f"  {n:32s} {old:>14s} -> {new}")
for n in sorted(have.keys() - locked.keys() - {"zsc", "pip"}):
    print(f"  {n:32s} {'(not locked)':>14s} -> {have[n]}")
for n in sorted(locked.keys() - have.keys()):
    print(f"  {n:32s} {locked[n]:>14s} -> (not installed)")
PY
# This checkout's tests with the newest versions (its own .venv and caches are never touched).
export ZSC_HOME="$tmp/home"
[ $# -gt 0 ] || set -- -m "not slow"
set +e
"$py" -m pytest -q -p no:cacheprovider "$@"
rc=$?
echo "drift: tests against the newest allowed versions exited $rc"
exit $rc
