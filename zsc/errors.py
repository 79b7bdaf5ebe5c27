"""One exception family, so the CLI can print one clear line instead of a traceback."""

from __future__ import annotations


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
