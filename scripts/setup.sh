#!/usr/bin/env bash
# Set up zsc on a fresh Debian/Ubuntu machine: the Fashion-MNIST package, a virtual
# environment in .venv with the locked versions of every package, and zsc itself (editable).
# Usage: bash scripts/setup.sh [--unlocked]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Fashion-MNIST (a paper dataset, offline) and Chromium (the book's page test).
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends dataset-fashion-mnist chromium
fi

# The locked environment (requirements.lock.txt, made by scripts/lock.sh): exact versions with
# their hashes, for Linux x86_64 and CPython 3.11, the machines the book and CI are built on.
# Elsewhere, or with --unlocked, the newest versions pyproject.toml allows (what a user of the
# library gets; scripts/drift.sh compares the two).
locked=1
[ "${1:-}" = "--unlocked" ] && locked=0
target=$(python3 -c 'import platform, sys; print(f"{platform.system()}-{platform.machine()}-{sys.version_info[0]}.{sys.version_info[1]}")')
if [ "$locked" = 1 ] && [ "$target" != "Linux-x86_64-3.11" ]; then
  echo "setup: the lock is for Linux-x86_64-3.11, this is $target; run 'bash scripts/setup.sh --unlocked'" >&2
  exit 2
fi

python3 -m venv .venv
source .venv/bin/activate
# --no-compile here, compileall below: pip compiles file by file on one core.
if [ "$locked" = 1 ]; then
  # Every package from the lock, hash-checked, nothing resolved here; then zsc itself, built
  # with the locked setuptools (no build isolation, so nothing unlocked is fetched for it).
  python -m pip install -q --no-compile --require-hashes --no-deps -r requirements.lock.txt
  python -m pip install -q --no-compile --no-deps --no-build-isolation -e .
  python -m pip check
else
  # torch and torchvision first, as a matching pair (a CPU or CUDA build, whichever pip offers).
  python -m pip install -q --no-compile "torch==2.14.1" "torchvision==0.29.1"
  python -m pip install -q --no-compile --upgrade -e ".[dev,book,zoo,dask]"
fi
# Bytecode for every installed module and zsc's, compiled once here on every core. Python caches
# it on first import only where it may write bytecode: with PYTHONDONTWRITEBYTECODE set, as on the
# machines the book and CI are built on, every process (each chapter's kernel, each batch worker)
# would compile each module it imports again, ~7 s a process. Test suites are left out; a few
# files there are not Python 3.11 (never imported), the only thing compileall could complain of.
python -m compileall -qq -j 0 -x '/tests?/|/testing/_internal/' \
  "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" zsc || true
python -c "import zsc, torch; print('zsc', zsc.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
