"""One exception family, so the CLI can print one clear line instead of a traceback."""

from __future__ import annotations

from typing import Any


class ZscError(Exception):
    """Base class of every error zsc raises on purpose: the message says what to do."""


class UnknownNameError(ZscError, KeyError):
    """A registry lookup failed; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidParameterError(ZscError, ValueError):
    """A number or option is outside what the method accepts."""


class DataMissingError(ZscError, FileNotFoundError):
    """A dataset's files are absent or damaged; the message names the path and the fix."""


class WeightsUnavailableError(ZscError, FileNotFoundError):
    """Pretrained weights are absent and cannot be downloaded; the message names file and folder."""


class InvalidEmbeddingError(ZscError, ValueError):
    """Embeddings that cannot be clustered (NaN, infinity, wrong shape)."""


class DiskFullError(ZscError, OSError):
    """A file could not be written because its disk (or quota) is full; the previous file is kept."""

    def __str__(self) -> str:  # OSError would print "[Errno 28] None: path" once errno is set
        return str(self.args[0]) if self.args else ""


class UnwritablePathError(ZscError, OSError):
    """A folder or file zsc must write cannot be written (read-only, a file where a folder
    belongs, no permission); found before any work, so nothing is computed in vain."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def exit_quietly_on_interrupt() -> None:
    """Worker-process initializer: Ctrl-C reaches every process of the terminal's group; a
    worker (and what it starts: data loaders, kernels) ignores it, and the main process stops
    the workers (`stop_workers`) and reports it, in one line, with no worker's traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_workers_quietly(executor: Any, n_workers: int) -> Any:
    """Start all `n_workers` processes of a pool with Ctrl-C ignored (inherited through exec, so
    a worker still importing is not interrupted with a traceback). A spawning pool starts one
    process per submit while none is idle, so `n_workers` quick submits start them all now, not
    later with Ctrl-C live. Returns the executor."""
    import signal

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        for _ in range(n_workers):
            executor.submit(int)
    finally:
        signal.signal(signal.SIGINT, before)
    return executor


def stop_workers(executor: Any) -> None:
    """On Ctrl-C: cancel what has not started and end the workers now (they ignore Ctrl-C;
    every file is written atomically, so a job cut short is simply not done)."""
    executor.shutdown(wait=False, cancel_futures=True)
    for proc in list((getattr(executor, "_processes", None) or {}).values()):
        proc.terminate()
