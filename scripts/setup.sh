#!/usr/bin/env bash
# Set up zsc on a fresh Debian/Ubuntu machine: the Fashion-MNIST package, a virtual
# environment in .venv, torch + torchvision, and zsc itself with its [dev] extras.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Fashion-MNIST (a paper dataset, offline) and Chromium (the book's page test).
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends dataset-fashion-mnist chromium
fi

python3 -m venv .venv
source .venv/bin/activate
# torch and torchvision first, as a matching pair (a CPU or CUDA build, whichever pip offers).
# --no-compile: Python compiles the modules actually imported, on first use (pip would compile
# every file of torch's several thousand: ~7 s of a cold setup).
python -m pip install -q --no-compile "torch==2.14.1" "torchvision==0.29.1"
python -m pip install -q --no-compile -e ".[dev,book,zoo,dask]"
python -c "import zsc, torch; print('zsc', zsc.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
