#!/usr/bin/env bash
# Train (or continue training) the whole offline zoo in the background, one member after
# another, on one CPU thread, resumably:
#
#   scripts/train_zoo.sh [extra `zsc zoo train` options, e.g. --max-minutes 90 --out DIR]
#
# Checkpoints: $ZSC_ZOO_CKPT_DIR (default ~/.cache/zsc/zoo-ckpt); log:
# $ZSC_ZOO_CKPT_DIR/train.log; $PYTHON (default python) runs it. Finished members are released
# into zsc/weights/zoo (or --out DIR). Stop it with `kill $(cat $ZSC_ZOO_CKPT_DIR/train.pid)`
# (SIGTERM: it checkpoints and exits); run the script again to continue where it stopped. It
# refuses to start a second run while one is alive.
set -euo pipefail
cd "$(dirname "$0")/.."
export ZSC_ZOO_CKPT_DIR="${ZSC_ZOO_CKPT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zsc/zoo-ckpt}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
PY="${PYTHON:-python}"
mkdir -p "$ZSC_ZOO_CKPT_DIR"
if [ -f "$ZSC_ZOO_CKPT_DIR/train.pid" ] && kill -0 "$(cat "$ZSC_ZOO_CKPT_DIR/train.pid")" 2>/dev/null; then
    echo "a zoo training run is alive already: pid $(cat "$ZSC_ZOO_CKPT_DIR/train.pid")" >&2
    exit 1
fi
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" nohup "$PY" -m zsc.pretrain train --all --resume \
    --threads 1 --quiet "$@" >>"$ZSC_ZOO_CKPT_DIR/train.log" 2>&1 &
echo "$!" >"$ZSC_ZOO_CKPT_DIR/train.pid"
echo "training the zoo in the background: pid $!, log $ZSC_ZOO_CKPT_DIR/train.log"
